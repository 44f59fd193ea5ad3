// links_and_monitors: a supervisor-like process restarts a crashing worker.
//
// Shows:    spawn_link + trap_exit (a linked worker's exit arrives as an
//           exit_message), an uncaught exception becoming the exit reason,
//           monitors (a `down` message for every exit), exit(pid, shutdown)
//           trapped as a message, and exit(pid, kill), which cannot be trapped
//           and ends the target with reason `killed`.
// OTP idea: process_flag(trap_exit, true), spawn_link/1, {'EXIT', Pid, Reason},
//           monitor/2 and {'DOWN', Ref, process, Pid, Reason}, exit/2 with kill.
//           (otpp's supervisor behaviour does this properly; this is the idea.)
// Run:      cmake --preset dev && cmake --build --preset dev --target links_and_monitors
//           && ./build/dev/examples/links_and_monitors
// Expected output (pid numbers vary):
//   worker 1 <0.65537.0> exited: {exception, std::runtime_error, "generation 1 failed"} -> restart
//   worker 2 <0.65538.0> traps exits
//     exit(<0.65538.0>, shutdown) arrived as a message: shutdown
//     exit(<0.65538.0>, kill) cannot be trapped; down: killed
//   worker 2 <0.65538.0> exited: killed -> restart
//   worker 3 <0.65539.0> exited: normal -> no restart
//   supervisor <0.2.0> down: normal
//   ok
#include <otpp/otpp.hpp>

#include <fmt/format.h>

#include <chrono>
#include <stdexcept>
#include <vector>

using namespace std::chrono_literals;
namespace tp = otpp::this_process;

namespace {

struct worker_exited { // supervisor -> observer
  int generation;
  otpp::pid worker;
  otpp::exit_reason reason;
};
struct trapping { // worker 2 -> observer: "I trap exits now"
  otpp::pid worker;
};
struct trapped { // worker 2 -> observer: "this exit signal became a message"
  otpp::exit_reason reason;
};

void worker(int generation, otpp::pid observer) {
  if (generation == 1)
    throw std::runtime_error("generation 1 failed"); // a crash
  if (generation == 2) {
    tp::trap_exit(true);
    otpp::send(observer, trapping{tp::self()});
    for (;;)
      tp::receive([&](otpp::exit_message& m) { otpp::send(observer, trapped{m.reason}); });
  }
  // generation 3 finishes its work: reason normal
}

void supervisor(otpp::pid observer) {
  tp::trap_exit(true); // exit signals from linked processes become exit_messages
  for (int generation = 1; generation <= 5; ++generation) {
    const otpp::pid w = otpp::spawn_link([generation, observer] { worker(generation, observer); });
    auto reason = tp::receive(otpp::when([&](const otpp::exit_message& m) { return m.from == w; },
                                         [](otpp::exit_message& m) { return m.reason; }));
    otpp::send(observer, worker_exited{generation, w, reason});
    if (reason.is_normal())
      return; // restart only what crashed
  }
  tp::exit(otpp::exit_reason::user("too many restarts"));
}

} // namespace

int main() {
  otpp::runtime rt({.schedulers = 2});
  std::vector<otpp::exit_reason> seen; // what the observer learned, in order
  {
    otpp::scoped_process observer(rt); // main thread = the observing process
    const auto sup = otpp::spawn_monitor([me = observer.self()] { supervisor(me); });
    auto give_up = [] { return otpp::exit_reason::user("observer: timed out"); };
    for (bool running = true; running;) {
      running = tp::receive(
          [&](worker_exited& e) {
            fmt::print("worker {} {} exited: {} -> {}\n", e.generation, e.worker, e.reason,
                       e.reason.is_normal() ? "no restart" : "restart");
            seen.push_back(e.reason);
            return true;
          },
          [&](trapping& t) {
            fmt::print("worker 2 {} traps exits\n", t.worker);
            const otpp::ref mon = otpp::monitor(t.worker);
            otpp::exit(t.worker, otpp::exit_reason::shutdown()); // trappable
            auto r1 = tp::receive([](trapped& m) { return m.reason; }, otpp::after(10s, give_up));
            fmt::print("  exit({}, shutdown) arrived as a message: {}\n", t.worker, r1);
            otpp::exit(t.worker, otpp::exit_reason::kill()); // not trappable
            auto r2 = tp::receive(otpp::when([&](const otpp::down& d) { return d.monitor == mon; },
                                             [](otpp::down& d) { return d.reason; }),
                                  otpp::after(10s, give_up));
            fmt::print("  exit({}, kill) cannot be trapped; down: {}\n", t.worker, r2);
            seen.push_back(r1);
            seen.push_back(r2);
            return true;
          },
          otpp::when([&](const otpp::down& d) { return d.monitor == sup.monitor; },
                     [&](otpp::down& d) {
                       fmt::print("supervisor {} down: {}\n", d.process, d.reason);
                       seen.push_back(d.reason);
                       return false;
                     }),
          otpp::after(10s, [&] {
            seen.push_back(give_up());
            return false;
          }));
    }
  }
  rt.run();

  using R = otpp::exit_reason;
  const std::vector<R> expected = {R::exception("std::runtime_error", "generation 1 failed"),
                                   R::shutdown(),
                                   R::killed(),
                                   R::killed(),
                                   R::normal(),
                                   R::normal()};
  const bool ok = seen == expected;
  fmt::print("{}\n", ok ? "ok" : "FAILED");
  return ok ? 0 : 1;
}
