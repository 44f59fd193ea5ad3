// Stress: names racing process exit; send_after racing cancel_timer.
// Distributed under the Boost Software License, Version 1.0.
#include <otpp/core/registry.hpp>

#include "otpp_test.hpp"

#include <otpp/core/message.hpp>
#include <otpp/core/monitor.hpp>
#include <otpp/core/process.hpp>
#include <otpp/core/receive.hpp>
#include <otpp/core/runtime.hpp>
#include <otpp/core/timer.hpp>

#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <future>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace OTPP_TEST_FILE {

using namespace std::chrono_literals;

namespace {

// Sanitizer builds repeat each scenario fewer times.
#if defined(OTPP_DETAIL_TSAN) || defined(OTPP_DETAIL_ASAN)
constexpr std::uint32_t rounds = 2000;
#else
constexpr std::uint32_t rounds = 3000;
#endif

using otpp_test::run_or_abort;
using otpp_test::yield_n;

// ---------------------------------------------------------------------------
// Names
// ---------------------------------------------------------------------------

// Few names shared by every worker, so registrations contend.
std::string name_of(std::uint32_t i) {
  return "stress_" + std::to_string(i % 4);
}

struct ping {};

struct name_report {
  std::uint32_t registered = 0; // registrations that succeeded
  std::uint32_t outlived = 0;   // whereis(name) still gave a process after its down
  std::uint32_t missing = 0;    // a down that did not come
};

template <class F> void ignore_badarg(F&& f) {
  try {
    f();
  } catch (const std::invalid_argument&) {
    // taken, not registered, or the process is gone: all expected in a race
  }
}

// One worker's rounds: a short-lived child gets a name in one of several
// racy ways; once its down arrives the name must no longer lead to it.
// Runs in a process or in a thread holding a scoped_process.
name_report name_worker(std::uint32_t worker, std::atomic<std::uint32_t>& registered) {
  name_report rep;
  for (std::uint32_t i = 0; i < rounds; ++i) {
    const std::string name = name_of(i + worker);
    const std::uint32_t mode = i % 4;
    const std::uint32_t yields = (i / 4) % 3;
    auto child = otpp::spawn_monitor([name, mode, yields, &registered] {
      if (mode == 0 || mode == 2 || mode == 3) {
        ignore_badarg([&] {
          otpp::register_name(name, otpp::this_process::self());
          ++registered;
        });
      }
      yield_n(yields);
      if (mode == 2)
        ignore_badarg([&] { otpp::unregister_name(name); });
    });
    if (mode == 1) {
      // Register the child while it may be exiting.
      ignore_badarg([&] {
        otpp::register_name(name, child.pid);
        ++registered;
      });
    } else if (mode == 3) {
      // Unregister and send by name while the owner may be exiting.
      ignore_badarg([&] { otpp::send(name, ping{}); });
      ignore_badarg([&] { otpp::unregister_name(name); });
    }
    bool down = otpp::this_process::receive(
        otpp::when([m = child.monitor](const otpp::down& d) { return d.monitor == m; },
                   [](const otpp::down&) { return true; }),
        otpp::after(otpp_test::patience, [] { return false; }));
    if (!down)
      ++rep.missing;
    else if (otpp::whereis(name) == child.pid)
      ++rep.outlived;
  }
  return rep;
}

// ---------------------------------------------------------------------------
// Timers
// ---------------------------------------------------------------------------

struct tick {
  std::uint32_t id;
};
struct cancel_request {
  otpp::timer_ref timer;
  std::uint32_t id;
  otpp::pid reply_to;
};
struct cancel_result {
  std::uint32_t id;
  bool cancelled;
};
struct timer_report {
  std::uint32_t cancelled = 0;    // cancel_timer returned true
  std::uint32_t fired = 0;        // ticks that had to arrive
  std::uint32_t missing = 0;      // a tick that had to arrive did not
  std::uint32_t extra = 0;        // a tick of a cancelled timer, or a second tick
  std::uint32_t bad_pending = 0;  // pending() true after cancel_timer
  std::uint32_t lost_replies = 0; // the canceller did not answer
};

// Cancels the timers it is sent (from another process, on another scheduler)
// and answers with what cancel_timer returned. A second cancel must fail.
void canceller() {
  for (;;)
    otpp::this_process::receive([](cancel_request& r) {
      bool first = otpp::cancel_timer(r.timer);
      bool second = otpp::cancel_timer(r.timer);
      otpp::send(r.reply_to, cancel_result{r.id, first && !second});
    });
}

// One worker's timers, all to itself: some cancelled at once, some after a
// yield, some by the canceller, some never; short delays so that many cancels
// race the firing. A tick arrives exactly once iff its cancel returned false.
timer_report timer_worker(const otpp::pid& cancel_proc) {
  timer_report rep;
  otpp::pid self = otpp::this_process::self();
  std::vector<bool> cancelled(rounds, false);
  std::uint32_t asked = 0;
  for (std::uint32_t i = 0; i < rounds; ++i) {
    auto delay = std::chrono::microseconds((i * 37) % 1500);
    otpp::timer_ref t = otpp::send_after(self, delay, tick{i});
    switch (i % 4) {
    case 0:
    case 1:
      if (i % 4 == 1)
        yield_n(i % 3);
      cancelled[i] = otpp::cancel_timer(t);
      if (t.pending())
        ++rep.bad_pending;
      if (otpp::cancel_timer(t))
        ++rep.extra; // a second cancel never succeeds
      break;
    case 2:
      otpp::send(cancel_proc, cancel_request{t, i, self});
      ++asked;
      break;
    default:
      break; // never cancelled
    }
    if (i % 16 == 15)
      otpp::this_process::sleep_for(1ms); // let some fire first
  }
  for (std::uint32_t k = 0; k < asked; ++k) {
    auto r = otpp::this_process::receive_for<cancel_result>(otpp_test::patience);
    if (!r)
      ++rep.lost_replies;
    else
      cancelled[r->id] = r->cancelled;
  }
  for (std::uint32_t i = 0; i < rounds; ++i) {
    if (cancelled[i]) {
      ++rep.cancelled;
      continue;
    }
    ++rep.fired;
    bool got = otpp::this_process::receive(
        otpp::when([i](const tick& t) { return t.id == i; }, [](const tick&) { return true; }),
        otpp::after(otpp_test::patience, [] { return false; }));
    if (!got)
      ++rep.missing;
  }
  // Whatever tick is left or still comes is a cancelled one or a duplicate.
  while (otpp::this_process::receive_for<tick>(100ms))
    ++rep.extra;
  return rep;
}

} // namespace

TEST_CASE("a registered name never outlives its process, whatever races its exit",
          "[stress][registry]") {
  const unsigned n = GENERATE(1u, 2u, 3u);
  OTPP_TEST_RUNTIME({.schedulers = n});
  otpp::pid me = sp.self();
  std::atomic<std::uint32_t> registered{0};
  constexpr std::uint32_t workers = 3;
  for (std::uint32_t w = 0; w < workers; ++w)
    rt.spawn([me, w, &registered] { otpp::send(me, name_worker(w, registered)); },
             {.scheduler = w % n});
  // The test thread is one more worker, on no scheduler.
  std::vector<name_report> reports{name_worker(workers, registered)};
  for (std::uint32_t w = 0; w < workers; ++w)
    reports.push_back(otpp_test::expect<name_report>());
  for (const auto& r : reports) {
    CHECK(r.outlived == 0);
    CHECK(r.missing == 0);
  }
  CHECK(registered.load() > 0);
  CHECK(run_or_abort(rt) == 0);
  // Every process has ended: no name is left.
  CHECK(rt.registered().empty());
}

TEST_CASE("a cancelled timer's message never arrives, an uncancellable one arrives exactly once",
          "[stress][timer]") {
  const unsigned n = GENERATE(1u, 2u, 3u);
  OTPP_TEST_RUNTIME({.schedulers = n});
  otpp::pid me = sp.self();
  otpp::pid cancel_proc = rt.spawn(canceller, {.scheduler = (n - 1)});
  constexpr std::uint32_t workers = 3;
  for (std::uint32_t w = 0; w < workers; ++w)
    rt.spawn([me, cancel_proc] { otpp::send(me, timer_worker(cancel_proc)); },
             {.scheduler = w % n});
  // The test thread is one more worker: its timers are armed from outside.
  std::vector<timer_report> reports{timer_worker(cancel_proc)};
  for (std::uint32_t w = 0; w < workers; ++w)
    reports.push_back(otpp_test::expect<timer_report>());
  std::uint32_t cancelled = 0;
  for (const auto& r : reports) {
    CHECK(r.missing == 0);
    CHECK(r.extra == 0);
    CHECK(r.bad_pending == 0);
    CHECK(r.lost_replies == 0);
    CHECK(r.cancelled + r.fired == rounds);
    cancelled += r.cancelled;
  }
  CHECK(cancelled > 0);
  otpp::kill(cancel_proc);
  CHECK(run_or_abort(rt) == 0);
}

} // namespace OTPP_TEST_FILE
