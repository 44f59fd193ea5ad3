// hello_process: spawn a process, send it a greeting, get a reply.
//
// Shows:    otpp::runtime, spawning a process from a process, sending a message
//           that carries the sender's pid, a receive with a timeout, and
//           runtime::run() returning once every process has ended.
// OTP idea: Pid = spawn(fun greeter/0), Pid ! {greeting, self(), "hello"},
//           receive {reply, From, Text} -> ... after 5000 -> ... end.
// Run:      cmake --preset dev && cmake --build --preset dev --target hello_process
//           && ./build/dev/examples/hello_process
// Expected output (pid numbers vary from run to run):
//   greeter <0.65537.0> got "hello" from <0.1.0>
//   client <0.1.0> got "hello to you too" from <0.65537.0>
//   done
#include <otpp/otpp.hpp>

#include <fmt/format.h>

#include <atomic>
#include <chrono>
#include <string>

namespace {

// Messages are plain C++ values; a pid inside one says where to answer.
struct greeting {
  otpp::pid from;
  std::string text;
};
struct reply {
  otpp::pid from;
  std::string text;
};

// The greeter waits for one greeting, answers its sender and ends (normally).
void greeter() {
  otpp::this_process::receive([](greeting& g) {
    fmt::print("greeter {} got \"{}\" from {}\n", otpp::this_process::self(), g.text, g.from);
    otpp::send(g.from, reply{otpp::this_process::self(), g.text + " to you too"});
  });
}

} // namespace

int main() {
  otpp::runtime rt({.schedulers = 2});
  std::atomic<bool> ok{false};

  rt.spawn([&ok] {
    const otpp::pid me = otpp::this_process::self();
    const otpp::pid g = otpp::spawn(greeter);
    otpp::send(g, greeting{me, "hello"});
    // The reply, or give up after 5 s (then `ok` stays false).
    otpp::this_process::receive(
        [&](reply& r) {
          fmt::print("client {} got \"{}\" from {}\n", me, r.text, r.from);
          ok = r.from == g && r.text == "hello to you too";
        },
        otpp::after(std::chrono::seconds(5), [] { fmt::print("client: no reply within 5 s\n"); }));
  });

  rt.run(); // returns when both processes have ended
  fmt::print("{}\n", ok ? "done" : "FAILED");
  return ok ? 0 : 1;
}
