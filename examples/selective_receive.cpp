// selective_receive: take messages out of the mailbox in the order *you* choose.
//
// Shows:    a receive names the message types it wants; the others stay in the
//           mailbox, in arrival order, for a later receive. Priorities with
//           after(0ms) ("only look at what is already there"), guards with
//           otpp::when, and a timeout with otpp::after.
// OTP idea: Erlang's selective receive, priority receive and `when` guards:
//             receive {urgent, X} -> ... after 0 -> receive Msg -> ... end end
// Run:      cmake --preset dev && cmake --build --preset dev --target selective_receive
//           && ./build/dev/examples/selective_receive
// Expected output:
//   mailbox after `go`: 8 messages
//   urgent 1
//   urgent 2
//   job 1
//   job 2
//   job 3
//   negative reading -7 (taken first by a guard)
//   small reading 3
//   big reading 5
//   timeout: nothing more within 50 ms
//   ok
#include <otpp/otpp.hpp>

#include <fmt/format.h>

#include <chrono>
#include <string>
#include <vector>

using namespace std::chrono_literals;
namespace tp = otpp::this_process;

namespace {

struct job {
  int id;
};
struct urgent {
  int id;
};
struct reading {
  int value;
};
struct go {};
struct report {
  std::vector<std::string> lines;
};

void worker(otpp::pid parent) {
  std::vector<std::string> log;
  // Wait for `go` only: everything sent before it waits in the mailbox.
  tp::receive([](go) {});
  log.push_back(fmt::format("mailbox after `go`: {} messages", tp::mailbox_length()));

  // 1. Urgent messages first, whatever their position: after(0ms) returns at
  //    once when no urgent message is left.
  auto take_urgent = [&](urgent& u) {
    log.push_back(fmt::format("urgent {}", u.id));
    return true;
  };
  while (tp::receive(take_urgent, otpp::after(0ms, [] { return false; }))) {
  }
  // 2. Then the ordinary jobs, in the order they were sent.
  auto take_job = [&](job& j) {
    log.push_back(fmt::format("job {}", j.id));
    return true;
  };
  while (tp::receive(take_job, otpp::after(0ms, [] { return false; }))) {
  }
  // 3. A guard picks a later message over earlier ones of the same type.
  auto negative = [](const reading& r) { return r.value < 0; };
  tp::receive(otpp::when(negative,
                         [&](reading& r) {
                           log.push_back(fmt::format("negative reading {} (taken first by a guard)",
                                                     r.value));
                         }),
              otpp::after(0ms, [&] { log.push_back("no negative reading"); }));
  // 4. Clauses are tried in order for each message, oldest message first.
  for (int i = 0; i < 2; ++i)
    tp::receive(
        otpp::when([](const reading& r) { return r.value > 4; },
                   [&](reading& r) { log.push_back(fmt::format("big reading {}", r.value)); }),
        [&](reading& r) { log.push_back(fmt::format("small reading {}", r.value)); },
        otpp::after(0ms, [&] { log.push_back("no reading"); }));
  // 5. A real timeout: nothing else is coming.
  tp::receive([&](reading& r) { log.push_back(fmt::format("unexpected reading {}", r.value)); },
              otpp::after(50ms, [&] { log.push_back("timeout: nothing more within 50 ms"); }));

  otpp::send(parent, report{std::move(log)});
}

} // namespace

int main() {
  otpp::runtime rt({.schedulers = 2});
  bool ok = false;
  {
    // The main thread becomes a process so it can send and receive.
    otpp::scoped_process main_process(rt);
    const otpp::pid w = rt.spawn([me = main_process.self()] { worker(me); });
    // Mixed traffic; one sender, so it arrives in this order.
    otpp::send(w, job{1});
    otpp::send(w, reading{3});
    otpp::send(w, urgent{1});
    otpp::send(w, job{2});
    otpp::send(w, reading{-7});
    otpp::send(w, urgent{2});
    otpp::send(w, job{3});
    otpp::send(w, reading{5});
    otpp::send(w, go{});

    const std::vector<std::string> expected = {"mailbox after `go`: 8 messages",
                                               "urgent 1",
                                               "urgent 2",
                                               "job 1",
                                               "job 2",
                                               "job 3",
                                               "negative reading -7 (taken first by a guard)",
                                               "small reading 3",
                                               "big reading 5",
                                               "timeout: nothing more within 50 ms"};
    tp::receive(
        [&](report& r) {
          for (const auto& line : r.lines)
            fmt::print("{}\n", line);
          ok = r.lines == expected;
        },
        otpp::after(10s, [] { fmt::print("no report within 10 s\n"); }));
  }
  rt.run();
  fmt::print("{}\n", ok ? "ok" : "FAILED");
  return ok ? 0 : 1;
}
