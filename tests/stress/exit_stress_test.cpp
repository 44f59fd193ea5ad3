// Stress: exit signals racing link, monitor, demonitor, unlink, kill and sends.
// Distributed under the Boost Software License, Version 1.0.
#include <otpp/core/link.hpp>

#include "otpp_test.hpp"

#include <otpp/core/message.hpp>
#include <otpp/core/monitor.hpp>
#include <otpp/core/process.hpp>
#include <otpp/core/receive.hpp>
#include <otpp/core/runtime.hpp>

#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <future>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <thread>
#include <vector>

namespace OTPP_TEST_FILE {

using namespace std::chrono_literals;
using otpp::exit_reason;

namespace {

// Sanitizer builds repeat each scenario fewer times.
#if defined(OTPP_DETAIL_TSAN) || defined(OTPP_DETAIL_ASAN)
constexpr int rounds = 800;
#else
constexpr int rounds = 2000;
#endif

exit_reason child_reason() {
  return exit_reason::user("child_done");
}

using otpp_test::run_or_abort;
using otpp_test::yield_n;

// A child that ends with child_reason() after `yields` yields.
auto short_lived(unsigned yields) {
  return [yields] {
    yield_n(yields);
    otpp::this_process::exit(child_reason());
  };
}

// The timing of round i: the parent's yields, the child's yields, the child's scheduler.
struct shape {
  unsigned parent;
  unsigned child;
  unsigned sched;
};
shape shape_of(int i, unsigned schedulers) {
  auto u = static_cast<unsigned>(i);
  return {u % 3, (u / 3) % 3, (u / 9) % schedulers};
}

// The reason in the down of monitor `m`; `timeout` if none came in time.
exit_reason wait_down(otpp::ref m) {
  return otpp::this_process::receive(
      otpp::when([m](const otpp::down& d) { return d.monitor == m; },
                 [](otpp::down& d) { return d.reason; }),
      otpp::after(otpp_test::patience, [] { return exit_reason::timeout(); }));
}

// Spawn `f` monitored (the monitor exists before it runs) and wait for its reason.
template <class F> exit_reason spawn_and_wait(F&& f, otpp::spawn_options opts = {}) {
  return wait_down(otpp::spawn_monitor(std::forward<F>(f), opts).monitor);
}

// How a batch of races ended, counted by the racing process itself.
struct outcome {
  int real = 0;    // the child's own reason
  int noproc = 0;  // the child was gone first
  int other = 0;   // anything else: a bug
  int missing = 0; // nothing arrived in otpp_test::patience: a hang
  int extra = 0;   // more than one notification for one child
  void count(const exit_reason& r) {
    if (r == child_reason())
      ++real;
    else if (r == exit_reason::noproc())
      ++noproc;
    else
      ++other;
  }
};

void check(const outcome& o) {
  CHECK(o.real + o.noproc == rounds);
  CHECK(o.other == 0);
  CHECK(o.missing == 0);
  CHECK(o.extra == 0);
}

// A message that counts its live instances: leaked or doubly freed messages show.
std::atomic<long> live_payloads{0};
struct payload {
  std::unique_ptr<std::uint32_t> value;
  explicit payload(std::uint32_t v) : value(std::make_unique<std::uint32_t>(v)) { ++live_payloads; }
  payload(payload&& o) noexcept : value(std::move(o.value)) { ++live_payloads; }
  payload& operator=(payload&&) = delete;
  ~payload() { --live_payloads; }
};

// Counts its destruction: proves a killed process's stack was unwound.
struct counted {
  std::atomic<int>& n;
  explicit counted(std::atomic<int>& c) : n(c) {}
  counted(const counted&) = delete;
  counted& operator=(const counted&) = delete;
  ~counted() { ++n; }
};

struct ready {};

} // namespace

TEST_CASE("a non-trapping process linking to an exiting one dies of its reason or of noproc",
          "[stress][exit][link]") {
  const unsigned n = GENERATE(1u, 2u, 3u);
  OTPP_TEST_RUNTIME({.schedulers = n});
  for (int i = 0; i < rounds; ++i) {
    const shape s = shape_of(i, n);
    exit_reason r = spawn_and_wait([s] {
      otpp::pid b = otpp::spawn(short_lived(s.child), {.scheduler = s.sched});
      yield_n(s.parent);
      otpp::link(b);
      otpp::this_process::receive(otpp::after(otpp_test::patience, [] {}));
      otpp::this_process::exit(exit_reason::user("linker survived"));
    });
    INFO("round " << i << ": " << r.to_string());
    REQUIRE((r == child_reason() || r == exit_reason::noproc()));
  }
}

TEST_CASE("a trapping process linking to an exiting one gets exactly one exit_message",
          "[stress][exit][link]") {
  const unsigned n = GENERATE(1u, 2u, 3u);
  OTPP_TEST_RUNTIME({.schedulers = n});

  SECTION("the linker is a process") {
    otpp::pid me = sp.self();
    rt.spawn(
        [me, n] {
          outcome o;
          for (int i = 0; i < rounds; ++i) {
            const shape s = shape_of(i, n);
            otpp::pid b = otpp::spawn(short_lived(s.child), {.scheduler = s.sched});
            yield_n(s.parent);
            otpp::link(b);
            otpp::this_process::receive(
                otpp::when([b](const otpp::exit_message& e) { return e.from == b; },
                           [&](otpp::exit_message& e) { o.count(e.reason); }),
                otpp::after(otpp_test::patience, [&] { ++o.missing; }));
          }
          // A second exit_message would come within this window.
          while (otpp::this_process::receive_for<otpp::exit_message>(100ms))
            ++o.extra;
          otpp::send(me, o);
        },
        {.trap_exit = true});
    check(otpp_test::expect<outcome>());
  }

  SECTION("the linker is a thread") {
    otpp::this_process::trap_exit(true);
    outcome o;
    for (int i = 0; i < rounds; ++i) {
      const shape s = shape_of(i, n);
      otpp::pid b = rt.spawn(short_lived(s.child), {.scheduler = s.sched});
      for (unsigned k = 0; k < s.parent; ++k)
        std::this_thread::yield();
      otpp::link(b);
      otpp::this_process::receive(
          otpp::when([b](const otpp::exit_message& e) { return e.from == b; },
                     [&](otpp::exit_message& e) { o.count(e.reason); }),
          otpp::after(otpp_test::patience, [&] { ++o.missing; }));
    }
    run_or_abort(rt); // every child has ended: all it will ever send is in our inbox
    while (otpp::this_process::receive_for<otpp::exit_message>(0ms))
      ++o.extra;
    check(o);
  }
}

TEST_CASE("monitoring an exiting process delivers exactly one down, with its reason or noproc",
          "[stress][exit][monitor]") {
  const unsigned n = GENERATE(1u, 2u, 3u);
  OTPP_TEST_RUNTIME({.schedulers = n});
  auto take_down = [](outcome& o, const otpp::pid& b, otpp::ref m) {
    otpp::this_process::receive(otpp::when([m](const otpp::down& d) { return d.monitor == m; },
                                           [&](otpp::down& d) {
                                             if (d.process == b)
                                               o.count(d.reason);
                                             else
                                               ++o.other;
                                           }),
                                otpp::after(otpp_test::patience, [&] { ++o.missing; }));
  };

  SECTION("the monitor is a process") {
    otpp::pid me = sp.self();
    rt.spawn([me, n, take_down] {
      outcome o;
      for (int i = 0; i < rounds; ++i) {
        const shape s = shape_of(i, n);
        otpp::pid b = otpp::spawn(short_lived(s.child), {.scheduler = s.sched});
        yield_n(s.parent);
        take_down(o, b, otpp::monitor(b));
      }
      while (otpp::this_process::receive_for<otpp::down>(100ms))
        ++o.extra;
      otpp::send(me, o);
    });
    check(otpp_test::expect<outcome>());
  }

  SECTION("the monitor is a thread") {
    outcome o;
    for (int i = 0; i < rounds; ++i) {
      const shape s = shape_of(i, n);
      otpp::pid b = rt.spawn(short_lived(s.child), {.scheduler = s.sched});
      for (unsigned k = 0; k < s.parent; ++k)
        std::this_thread::yield();
      take_down(o, b, otpp::monitor(b));
    }
    run_or_abort(rt);
    while (otpp::this_process::receive_for<otpp::down>(0ms))
      ++o.extra;
    check(o);
  }

  SECTION("many processes monitor the same exiting process") {
    constexpr int watchers = 8;
    otpp::pid me = sp.self();
    outcome all;
    for (int i = 0; i < rounds / watchers; ++i) {
      const shape s = shape_of(i, n);
      otpp::pid b = rt.spawn(short_lived(s.child), {.scheduler = s.sched});
      for (int w = 0; w < watchers; ++w)
        rt.spawn(
            [me, b, take_down] {
              outcome o;
              take_down(o, b, otpp::monitor(b));
              while (otpp::this_process::receive_for<otpp::down>(1ms))
                ++o.extra;
              otpp::send(me, o);
            },
            {.scheduler = static_cast<unsigned>(w) % n});
      for (int w = 0; w < watchers; ++w) {
        outcome o = otpp_test::expect<outcome>();
        all.real += o.real;
        all.noproc += o.noproc;
        all.other += o.other;
        all.missing += o.missing;
        all.extra += o.extra;
      }
    }
    CHECK(all.real + all.noproc == rounds / watchers * watchers);
    CHECK(all.other == 0);
    CHECK(all.missing == 0);
    CHECK(all.extra == 0);
  }

  SECTION("the exiting process is a thread's scoped_process") {
    constexpr int threads = rounds / 4;
    otpp::pid me = sp.self();
    otpp::pid watcher = rt.spawn([me, take_down] {
      outcome o;
      for (int i = 0; i < threads; ++i) {
        auto b = otpp::this_process::receive_for<otpp::pid>(otpp_test::patience);
        if (!b) {
          ++o.missing;
          break;
        }
        take_down(o, *b, otpp::monitor(*b));
      }
      while (otpp::this_process::receive_for<otpp::down>(100ms))
        ++o.extra;
      otpp::send(me, o);
    });
    for (int i = 0; i < threads; ++i) {
      std::thread t([&rt, watcher] {
        otpp::scoped_process b(rt);
        otpp::send(watcher, b.self());
        try {
          otpp::this_process::exit(child_reason()); // b ends with this reason
        } catch (const otpp::process_exit&) {
        }
      });
      t.join();
    }
    outcome o = otpp_test::expect<outcome>();
    CHECK(o.real + o.noproc == threads);
    CHECK(o.other == 0);
    CHECK(o.missing == 0);
    CHECK(o.extra == 0);
  }
}

// Several senders whose monitor signals race the target's exit on other
// schedulers: each signal is applied, answered by the target as it ends
// (left in its inbox), or refused by the closed inbox and answered by the
// sender; whichever, one down each.
TEST_CASE("three processes monitoring one exiting process at once each get exactly one down",
          "[stress][exit][monitor]") {
  const unsigned n = GENERATE(2u, 3u);
  OTPP_TEST_RUNTIME({.schedulers = n});
  struct target {
    otpp::pid who;
  };
  struct finish {};
  struct round_done {};
  constexpr int racers = 3;
  const otpp::pid me = sp.self();
  std::vector<otpp::pid> racer;
  for (unsigned k = 0; k < racers; ++k)
    racer.push_back(rt.spawn(
        [me] {
          outcome o;
          for (;;) {
            auto t = otpp::this_process::receive([](target& m) { return std::optional(m.who); },
                                                 [](finish) { return std::optional<otpp::pid>(); });
            if (!t)
              break;
            const otpp::ref m = otpp::monitor(*t);
            otpp::this_process::receive(
                otpp::when([m](const otpp::down& d) { return d.monitor == m; },
                           [&](otpp::down& d) { o.count(d.reason); }),
                otpp::after(otpp_test::patience, [&] { ++o.missing; }));
            otpp::send(me, round_done{});
          }
          while (otpp::this_process::receive_for<otpp::down>(100ms))
            ++o.extra;
          otpp::send(me, o);
        },
        {.scheduler = k % n}));
  int real = 0, noproc = 0;
  for (int i = 0; i < rounds; ++i) {
    const shape s = shape_of(i, n);
    // The child ends as the monitors arrive: it starts its last yields
    // when the racers are told.
    otpp::pid b = rt.spawn(
        [y = s.child] {
          otpp::this_process::receive<ready>();
          short_lived(25 * y)();
        },
        {.scheduler = s.sched});
    for (const otpp::pid& r : racer)
      otpp::send(r, target{b});
    otpp::send(b, ready{});
    for (int k = 0; k < racers; ++k)
      otpp_test::expect<round_done>();
  }
  for (const otpp::pid& r : racer)
    otpp::send(r, finish{});
  for (int k = 0; k < racers; ++k) {
    const outcome o = otpp_test::expect<outcome>();
    check(o);
    real += o.real;
    noproc += o.noproc;
  }
  // Both sides of the race happened.
  CHECK(real > 0);
  CHECK(noproc > 0);
}

TEST_CASE("killing a process blocked in receive ends it with killed and unwinds its stack",
          "[stress][exit][kill]") {
  const unsigned n = GENERATE(1u, 3u);
  OTPP_TEST_RUNTIME({.schedulers = n});
  otpp::pid me = sp.self();
  std::atomic<int> made{0};
  std::atomic<int> unwound{0};
  // Every other waiter has a receive timer pending when it is killed.
  auto waiter = [me, &made, &unwound] {
    const bool timed = ++made % 2 == 0;
    counted local{unwound};
    otpp::send(me, ready{});
    if (timed)
      otpp::this_process::receive(otpp::after(otpp_test::patience, [] {}));
    else
      otpp::this_process::receive([](const exit_reason&) {}); // never sent
    otpp::this_process::exit(exit_reason::user("not killed"));
  };

  SECTION("one at a time, each waiting") {
    for (int i = 0; i < rounds; ++i) {
      auto sm = otpp::spawn_monitor(waiter, {.scheduler = static_cast<unsigned>(i) % n});
      otpp_test::expect<ready>();
      otpp::kill(sm.pid);
      exit_reason r = wait_down(sm.monitor);
      INFO("round " << i << ": " << r.to_string());
      REQUIRE(r == exit_reason::killed());
      REQUIRE(unwound.load() == i + 1);
    }
  }

  SECTION("a batch, killed as soon as spawned (some never ran)") {
    std::vector<otpp::ref> monitors;
    for (int i = 0; i < rounds; ++i) {
      auto sm = otpp::spawn_monitor(waiter);
      otpp::kill(sm.pid);
      monitors.push_back(sm.monitor);
    }
    for (auto m : monitors)
      REQUIRE(wait_down(m) == exit_reason::killed());
    CHECK(made.load() == unwound.load());
  }
}

TEST_CASE("a kill racing a burst of sends ends the process with killed and frees every message",
          "[stress][exit][kill][send]") {
  const unsigned n = GENERATE(1u, 3u);
  static constexpr std::uint32_t burst = 2000;
  const int bursts = rounds / 20;
  {
    OTPP_TEST_RUNTIME({.schedulers = n});

    SECTION("the killed process is receiving the burst") {
      for (int i = 0; i < bursts; ++i) {
        auto victim = otpp::spawn_monitor([] {
          for (;;)
            otpp::this_process::receive([](payload&) {});
        });
        std::vector<otpp::ref> senders;
        for (unsigned s = 0; s < 3; ++s)
          senders.push_back(otpp::spawn_monitor(
                                [to = victim.pid] {
                                  for (std::uint32_t k = 0; k < burst; ++k)
                                    otpp::send(to, payload(k));
                                },
                                {.scheduler = s % n})
                                .monitor);
        // ... and a plain thread.
        std::jthread from_thread([to = victim.pid] {
          for (std::uint32_t k = 0; k < burst; ++k)
            otpp::send(to, payload(k));
        });
        for (int k = 0; k < i % 4; ++k)
          std::this_thread::yield();
        otpp::kill(victim.pid);
        REQUIRE(wait_down(victim.monitor) == exit_reason::killed());
        for (auto m : senders)
          REQUIRE(wait_down(m).is_normal());
      }
    }

    SECTION("the killed process is sending the burst") {
      for (int i = 0; i < bursts; ++i) {
        auto sink = otpp::spawn_monitor([] {
          for (;;)
            otpp::this_process::receive([](payload&) {});
        });
        auto victim = otpp::spawn_monitor(
            [to = sink.pid] {
              // send applies no exit signal: a loop that only sends yields now and then.
              for (std::uint32_t k = 0;; ++k) {
                otpp::send(to, payload(k));
                if (k % 64 == 63)
                  otpp::this_process::yield();
              }
            },
            {.scheduler = static_cast<unsigned>(i + 1) % n});
        for (int k = 0; k < i % 4; ++k)
          std::this_thread::yield();
        otpp::kill(victim.pid);
        REQUIRE(wait_down(victim.monitor) == exit_reason::killed());
        otpp::kill(sink.pid);
        REQUIRE(wait_down(sink.monitor) == exit_reason::killed());
      }
    }
    run_or_abort(rt);
  }
  CHECK(live_payloads.load() == 0);
}

TEST_CASE("no down arrives after demonitor returns, even racing the exit",
          "[stress][exit][monitor]") {
  const unsigned n = GENERATE(1u, 2u, 3u);
  OTPP_TEST_RUNTIME({.schedulers = n});
  // Erlang's rule: after demonitor no down of that monitor is placed in the
  // mailbox; one placed before stays there unless flushed. Here a down was
  // placed before exactly when demonitor reports the monitor inactive.
  struct attempt {
    otpp::ref monitor;
    bool active;
    bool flush;
  };
  struct report {
    std::vector<attempt> attempts;
    std::map<otpp::ref, int> downs;
  };
  auto verify = [](const report& r) {
    for (const attempt& a : r.attempts) {
      auto it = r.downs.find(a.monitor);
      int got = it == r.downs.end() ? 0 : it->second;
      INFO("active " << a.active << ", flush " << a.flush);
      REQUIRE(got == (!a.active && !a.flush ? 1 : 0));
    }
  };
  auto attempt_once = [](int i, otpp::pid b, bool in_process) {
    otpp::ref m = otpp::monitor(b);
    // Sometimes move what has arrived into the mailbox first.
    if (i % 4 >= 2) {
      if (in_process)
        otpp::this_process::yield();
      else
        otpp::this_process::mailbox_length();
    }
    bool flush = i % 2 == 1;
    bool active = otpp::demonitor(m, {.flush = flush});
    return attempt{m, active, flush};
  };

  SECTION("the monitor is a process") {
    otpp::pid me = sp.self();
    rt.spawn([me, n, attempt_once] {
      report r;
      for (int i = 0; i < rounds; ++i) {
        const shape s = shape_of(i, n);
        otpp::pid b = otpp::spawn(short_lived(s.child), {.scheduler = s.sched});
        yield_n(s.parent);
        r.attempts.push_back(attempt_once(i, b, true));
      }
      while (auto d = otpp::this_process::receive_for<otpp::down>(100ms))
        ++r.downs[d->monitor];
      otpp::send(me, std::move(r));
    });
    verify(otpp_test::expect<report>());
  }

  SECTION("the monitor is a thread") {
    report r;
    for (int i = 0; i < rounds; ++i) {
      const shape s = shape_of(i, n);
      otpp::pid b = rt.spawn(short_lived(s.child), {.scheduler = s.sched});
      for (unsigned k = 0; k < s.parent; ++k)
        std::this_thread::yield();
      r.attempts.push_back(attempt_once(i, b, false));
    }
    run_or_abort(rt); // every child has ended: all it will ever send is in our inbox
    while (auto d = otpp::this_process::receive_for<otpp::down>(0ms))
      ++r.downs[d->monitor];
    CHECK(otpp_test::nothing<otpp::down>(50ms));
    verify(r);
  }
}

TEST_CASE("after unlink returns, the exit of the formerly linked process has no effect",
          "[stress][exit][link]") {
  const unsigned n = GENERATE(1u, 2u, 3u);
  OTPP_TEST_RUNTIME({.schedulers = n});
  otpp::pid me = sp.self();

  SECTION("a non-trapping process survives") {
    struct unlinked {
      int round;
    };
    for (int i = 0; i < rounds; ++i) {
      const shape s = shape_of(i, n);
      exit_reason r = spawn_and_wait([me, s, i] {
        otpp::pid b = otpp::spawn(short_lived(s.child), {.scheduler = s.sched});
        otpp::link(b);     // noproc kills us here if b is gone already
        yield_n(s.parent); // b's exit may kill us here
        otpp::unlink(b);
        otpp::send(me, unlinked{i});
        // Let b's exit signal arrive, then apply it.
        if (wait_down(otpp::monitor(b)) == exit_reason::noproc())
          otpp::this_process::receive(otpp::after(1ms, [] {}));
        yield_n(2);
        otpp::this_process::exit(exit_reason::user("survived"));
      });
      bool did_unlink =
          otpp::this_process::receive(otpp::when([i](const unlinked& u) { return u.round == i; },
                                                 [](const unlinked&) { return true; }),
                                      otpp::after(0ms, [] { return false; }));
      INFO("round " << i << ": " << r.to_string() << ", unlinked " << did_unlink);
      if (did_unlink)
        REQUIRE(r == exit_reason::user("survived"));
      else
        REQUIRE((r == child_reason() || r == exit_reason::noproc()));
    }
  }

  SECTION("a trapping process gets no exit_message placed after unlink") {
    rt.spawn(
        [me, n] {
          outcome o;
          std::set<otpp::pid> children;
          for (int i = 0; i < rounds; ++i) {
            const shape s = shape_of(i, n);
            otpp::pid b = otpp::spawn(short_lived(s.child), {.scheduler = s.sched});
            children.insert(b);
            otpp::link(b);
            yield_n(s.parent);
            // Take an exit_message placed before unlink (this drains the inbox).
            otpp::this_process::receive(
                otpp::when([b](const otpp::exit_message& e) { return e.from == b; },
                           [&](otpp::exit_message& e) { o.count(e.reason); }),
                otpp::after(0ms, [] {}));
            otpp::unlink(b);
          }
          while (auto e = otpp::this_process::receive_for<otpp::exit_message>(100ms))
            if (children.count(e->from) != 0)
              ++o.extra;
          otpp::send(me, o);
        },
        {.trap_exit = true});
    outcome o = otpp_test::expect<outcome>();
    CHECK(o.other == 0);
    CHECK(o.extra == 0);
  }
}

} // namespace OTPP_TEST_FILE
