#include <otpp/core/monitor.hpp>

#include "otpp_test.hpp"

#include <catch2/catch.hpp>

#include <chrono>
#include <functional>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace OTPP_TEST_FILE {

using namespace std::chrono_literals;
namespace tp = otpp::this_process;
using otpp::exit_reason;

namespace {
using otpp_test::never;
using otpp_test::ping;
using otpp_test::pong;
using otpp_test::serve_pings;

struct go {};
struct spawned {
  otpp::spawned_monitor s;
};
struct seen {
  otpp::down d;
};

// The down message of monitor `m`.
otpp::down down_of(otpp::ref m) {
  return tp::receive(otpp::when([m](const otpp::down& d) { return d.monitor == m; },
                                [](otpp::down& d) { return std::move(d); }),
                     otpp::after(otpp_test::patience, []() -> otpp::down {
                       throw std::runtime_error("the down message did not arrive");
                     }));
}

} // namespace

TEST_CASE(
    "a monitor delivers one down with the monitor, the pid and the exit reason, normal included",
    "[core][monitor]") {
  const unsigned n = GENERATE(1u, 3u);
  OTPP_TEST_RUNTIME({.schedulers = n});

  struct ending {
    std::function<void()> body;
    exit_reason expected;
  };
  const std::vector<ending> endings{
      {[] {}, exit_reason::normal()},
      {[] { tp::exit(exit_reason::shutdown("done")); }, exit_reason::shutdown("done")},
      {[] { tp::exit(exit_reason::user("failed")); }, exit_reason::user("failed")},
      {[] { throw std::out_of_range("index 9"); },
       exit_reason::exception("std::out_of_range", "index 9")},
      {[] { tp::receive<never>(); }, exit_reason::killed()}, // killed below
  };
  for (const ending& e : endings) {
    otpp::pid p = rt.spawn([body = e.body] {
      tp::receive<go>();
      body();
    });
    otpp::ref m = otpp::monitor(p);
    if (e.expected == exit_reason::killed())
      otpp::kill(p);
    else
      otpp::send(p, go{});
    otpp::down d = down_of(m);
    CHECK(d.monitor == m);
    CHECK(d.process == p);
    CHECK(d.reason == e.expected);
    CHECK(otpp_test::nothing<otpp::down>(20ms)); // exactly one
  }
}

TEST_CASE("monitoring a process that has ended gives down noproc at once", "[core][monitor]") {
  const unsigned n = GENERATE(1u, 3u);
  OTPP_TEST_RUNTIME({.schedulers = n});

  otpp::spawned_monitor first = otpp::spawn_monitor([] {});
  REQUIRE(down_of(first.monitor).reason == exit_reason::normal());
  otpp::ref m = otpp::monitor(first.pid);
  auto d = tp::receive_for<otpp::down>(0ms); // already in the mailbox: no waiting
  REQUIRE(d.has_value());
  CHECK(d->monitor == m);
  CHECK(d->process == first.pid);
  CHECK(d->reason == exit_reason::noproc());
  CHECK_FALSE(otpp::demonitor(m)); // delivered: no longer active
}

TEST_CASE("two monitors on one process give two downs", "[core][monitor]") {
  const unsigned n = GENERATE(1u, 3u);
  OTPP_TEST_RUNTIME({.schedulers = n});

  otpp::pid p = rt.spawn([] {
    tp::receive<go>();
    tp::exit(exit_reason::user("twice"));
  });
  otpp::ref m1 = otpp::monitor(p);
  otpp::ref m2 = otpp::monitor(p);
  CHECK(m1 != m2);
  otpp::send(p, go{});
  otpp::down d2 = down_of(m2);
  otpp::down d1 = down_of(m1);
  CHECK(d1.process == p);
  CHECK(d2.process == p);
  CHECK(d1.reason == exit_reason::user("twice"));
  CHECK(d2.reason == exit_reason::user("twice"));
  CHECK(otpp_test::nothing<otpp::down>(20ms));
}

TEST_CASE("after demonitor no down arrives for that monitor", "[core][monitor]") {
  const unsigned n = GENERATE(1u, 3u);
  OTPP_TEST_RUNTIME({.schedulers = n});

  otpp::pid p = rt.spawn([] {
    tp::receive<go>();
    tp::exit(exit_reason::user("gone"));
  });
  otpp::ref dropped = otpp::monitor(p);
  otpp::ref kept = otpp::monitor(p);
  CHECK(otpp::demonitor(dropped));
  otpp::send(p, go{});
  CHECK(down_of(kept).reason == exit_reason::user("gone")); // p has ended
  CHECK(otpp_test::nothing<otpp::down>(50ms));
  CHECK(otpp::info(tp::self()).monitors.empty());

  // Also when the process has ended and its down is already on the way.
  otpp::pid q = rt.spawn([] { tp::receive<go>(); });
  otpp::ref late = otpp::monitor(q);
  otpp::send(q, go{});
  const auto deadline = std::chrono::steady_clock::now() + otpp_test::patience;
  while (otpp::info(q).status != otpp::process_status::exited) {
    REQUIRE(std::chrono::steady_clock::now() < deadline);
    std::this_thread::sleep_for(1ms);
  }
  std::this_thread::sleep_for(10ms); // let the down reach the inbox
  CHECK(otpp::demonitor(late));      // not delivered yet: still active
  CHECK(otpp_test::nothing<otpp::down>(50ms));
}

TEST_CASE("demonitor with flush removes a down already in the mailbox", "[core][monitor]") {
  const unsigned n = GENERATE(1u, 3u);
  OTPP_TEST_RUNTIME({.schedulers = n});
  const otpp::pid test = sp.self();

  otpp::pid p = rt.spawn([] { tp::receive<go>(); });
  otpp::ref first = otpp::monitor(p);
  otpp::ref second = otpp::monitor(p);
  otpp::send(p, go{});
  // p sends the downs in monitor order: once the second is here, the first
  // is in the mailbox. The flush removes it and nothing else.
  otpp::send(test, std::string("keep me"));
  CHECK(down_of(second).reason == exit_reason::normal());
  CHECK_FALSE(otpp::demonitor(first, {.flush = true})); // a down had to be flushed
  CHECK(otpp_test::nothing<otpp::down>(50ms));
  CHECK(otpp_test::expect<std::string>(0ms) == "keep me");
}

TEST_CASE("demonitor returns true for an active monitor and false otherwise", "[core][monitor]") {
  const unsigned n = GENERATE(1u, 3u);
  OTPP_TEST_RUNTIME({.schedulers = n});

  otpp::pid p = rt.spawn(serve_pings);
  otpp::ref m = otpp::monitor(p);
  CHECK(otpp::demonitor(m));
  CHECK_FALSE(otpp::demonitor(m));
  CHECK_FALSE(otpp::demonitor(otpp::make_ref()));
  CHECK_FALSE(otpp::demonitor(otpp::ref()));

  otpp::ref m2 = otpp::monitor(p);
  otpp::kill(p);
  CHECK(down_of(m2).reason == exit_reason::killed());
  CHECK_FALSE(otpp::demonitor(m2)); // its down was delivered
}

TEST_CASE("spawn_monitor returns the pid and the monitor its down message names",
          "[core][monitor]") {
  const unsigned n = GENERATE(1u, 3u);

  SECTION("from the test thread") {
    OTPP_TEST_RUNTIME({.schedulers = n});
    for (int i = 0; i < 20; ++i) {
      otpp::spawned_monitor s = otpp::spawn_monitor([] { tp::exit(exit_reason::user("quick")); });
      REQUIRE(s.pid);
      REQUIRE(s.monitor);
      otpp::down d = down_of(s.monitor);
      CHECK(d.process == s.pid);
      CHECK(d.reason == exit_reason::user("quick"));
    }
  }
  SECTION("from a process that yields in spawn, so the child ends first") {
    // One reduction per slice: the spawn itself makes the parent yield.
    OTPP_TEST_RUNTIME({.schedulers = n, .reductions = 1});
    const otpp::pid test = sp.self();
    rt.spawn([test] {
      otpp::spawned_monitor s = otpp::spawn_monitor([] {});
      otpp::send(test, spawned{s});
      otpp::send(test, seen{tp::receive<otpp::down>()});
    });
    otpp::spawned_monitor s = otpp_test::expect<spawned>().s;
    otpp::down d = otpp_test::expect<seen>().d;
    CHECK(s.monitor);
    CHECK(d.monitor == s.monitor);
    CHECK(d.process == s.pid);
    CHECK(d.reason == exit_reason::normal());
  }
}

TEST_CASE("a monitor does not link: the watcher survives the crash it observes",
          "[core][monitor]") {
  const unsigned n = GENERATE(1u, 3u);
  OTPP_TEST_RUNTIME({.schedulers = n});
  const otpp::pid test = sp.self();

  otpp::spawned_monitor watcher = otpp::spawn_monitor([test] {
    otpp::spawned_monitor s = otpp::spawn_monitor([] { throw std::runtime_error("crash"); });
    otpp::send(test, seen{down_of(s.monitor)});
    ping p = tp::receive<ping>();
    otpp::send(p.from, pong{tp::self()});
  });
  otpp::down d = otpp_test::expect<seen>().d;
  CHECK(d.reason == exit_reason::exception("std::runtime_error", "crash"));
  CHECK(otpp::info(watcher.pid).links.empty());
  otpp::send(watcher.pid, ping{test});
  CHECK(otpp_test::expect<pong>().from == watcher.pid);
  CHECK(down_of(watcher.monitor).reason == exit_reason::normal());
}

TEST_CASE("the scoped test thread can monitor and be monitored", "[core][monitor]") {
  const unsigned n = GENERATE(1u, 3u);
  OTPP_TEST_RUNTIME({.schedulers = n});
  const otpp::pid test = sp.self();

  // The test thread watches a process...
  otpp::pid p = rt.spawn([] {
    tp::receive<go>();
    tp::exit(exit_reason::user("watched"));
  });
  otpp::ref m = otpp::monitor(p);
  CHECK(otpp::info(test).monitors == std::vector<otpp::pid>{p});
  otpp::send(p, go{});
  otpp::down d = down_of(m);
  CHECK(d.process == p);
  CHECK(d.reason == exit_reason::user("watched"));

  // ...and another thread's scoped process is watched: its end is normal.
  std::thread t([&rt, test] {
    otpp::scoped_process other(rt);
    otpp::send(test, other.self());
    tp::receive<go>();
  });
  otpp::pid other = otpp_test::expect<otpp::pid>();
  otpp::ref mo = otpp::monitor(other);
  otpp::send(other, go{});
  t.join();
  otpp::down od = down_of(mo);
  CHECK(od.process == other);
  CHECK(od.reason == exit_reason::normal());
}

} // namespace OTPP_TEST_FILE
