#include <otpp/core/link.hpp>

#include "otpp_test.hpp"

#include <otpp/core/monitor.hpp>

#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
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
using otpp_test::count_on_destroy;
using otpp_test::never;
using otpp_test::ping;
using otpp_test::pong;
using otpp_test::serve_pings;
using otpp_test::wait_forever;

using otpp_test::down_reason;
using otpp_test::wait_until_waiting;

struct go {};
struct linked {};
struct ready {};
struct caught {};
struct trapped {
  otpp::exit_message msg;
};
struct pids {
  std::vector<otpp::pid> v;
};
struct survived {
  exit_reason seen;
};
struct child_traps {
  bool on;
};
struct trap_flags {
  bool before;
  bool after;
};

// Run `f` in a new process monitored from its spawn; its exit reason.
template <class F> exit_reason run_to_end(F f, otpp::spawn_options opts = {}) {
  return down_reason(otpp::spawn_monitor(std::move(f), opts).monitor);
}

// True if `p` (running serve_pings) answers a ping, false if it ends first.
bool answers(const otpp::pid& p) {
  otpp::ref m = otpp::monitor(p);
  otpp::send(p, ping{tp::self()});
  bool alive = tp::receive(
      otpp::when([p](const pong& r) { return r.from == p; }, [](pong&) { return true; }),
      otpp::when([m](const otpp::down& d) { return d.monitor == m; },
                 [](otpp::down&) { return false; }),
      otpp::after(otpp_test::patience, []() -> bool { throw std::runtime_error("no answer"); }));
  otpp::demonitor(m, {.flush = true});
  return alive;
}

} // namespace

TEST_CASE(
    "an abnormal exit travels over a link both ways and ends the partner with the same reason",
    "[core][link]") {
  const unsigned n = GENERATE(1u, 3u);
  const bool linker_fails = GENERATE(false, true);
  OTPP_TEST_RUNTIME({.schedulers = n});
  const otpp::pid test = sp.self();
  const exit_reason broken = exit_reason::user("broken");

  // B is linked to by A; the one told `go` fails, the other only waits.
  otpp::pid b = rt.spawn([linker_fails, broken] {
    if (linker_fails)
      wait_forever();
    tp::receive<go>();
    tp::exit(broken);
  });
  otpp::pid a = rt.spawn([b, test, linker_fails, broken] {
    otpp::link(b);
    otpp::send(test, linked{});
    if (!linker_fails)
      wait_forever();
    tp::receive<go>();
    tp::exit(broken);
  });
  otpp_test::expect<linked>();
  otpp::ref ma = otpp::monitor(a);
  otpp::ref mb = otpp::monitor(b);
  otpp::send(linker_fails ? a : b, go{});
  CHECK(down_reason(ma) == broken);
  CHECK(down_reason(mb) == broken);
}

TEST_CASE("a normal exit of a linked process does not end a partner that does not trap exits",
          "[core][link]") {
  const unsigned n = GENERATE(1u, 3u);
  OTPP_TEST_RUNTIME({.schedulers = n});
  const otpp::pid test = sp.self();

  otpp::pid a = rt.spawn([test] {
    otpp::pid b = otpp::spawn_link([] { tp::receive<go>(); });
    otpp::ref m = otpp::monitor(b);
    otpp::send(b, go{});
    // B sends its link exit signal before its down message.
    exit_reason r = down_reason(m);
    otpp::send(test, survived{r});
    serve_pings();
  });
  otpp::ref ma = otpp::monitor(a);
  CHECK(otpp_test::expect<survived>().seen == exit_reason::normal());
  CHECK(answers(a));
  CHECK(otpp::info(a).links.empty());
  otpp::kill(a);
  CHECK(down_reason(ma) == exit_reason::killed());
}

TEST_CASE("a normal exit of a linked process reaches a trapping partner as exit_message normal",
          "[core][link]") {
  const unsigned n = GENERATE(1u, 3u);
  OTPP_TEST_RUNTIME({.schedulers = n});
  const otpp::pid test = sp.self();

  otpp::pid a = rt.spawn([test] {
    tp::trap_exit(true);
    otpp::pid b = otpp::spawn_link([] { tp::receive<go>(); });
    otpp::send(test, pids{{b}});
    otpp::send(b, go{});
    otpp::send(test, trapped{tp::receive<otpp::exit_message>()});
    serve_pings();
  });
  otpp::pid b = otpp_test::expect<pids>().v.at(0);
  otpp::exit_message em = otpp_test::expect<trapped>().msg;
  CHECK(em.from == b);
  CHECK(em.reason == exit_reason::normal());
  CHECK(answers(a));
}

TEST_CASE("trap_exit turns exit signals from links and from exit() into exit messages",
          "[core][link]") {
  const unsigned n = GENERATE(1u, 3u);
  OTPP_TEST_RUNTIME({.schedulers = n});
  const otpp::pid test = sp.self();

  otpp::pid a = rt.spawn([test] {
    const bool before = tp::trap_exit(true);
    otpp::send(test, trap_flags{before, tp::trapping_exits()});
    otpp::pid b = otpp::spawn_link([] {
      tp::receive<go>();
      throw std::runtime_error("linked crash");
    });
    otpp::send(test, pids{{b}});
    otpp::send(b, go{});
    otpp::send(test, trapped{tp::receive<otpp::exit_message>()});
    otpp::send(test, trapped{tp::receive<otpp::exit_message>()}); // the one the test sends
    serve_pings();
  });
  otpp::ref ma = otpp::monitor(a);
  trap_flags flags = otpp_test::expect<trap_flags>();
  CHECK_FALSE(flags.before);
  CHECK(flags.after);
  otpp::pid b = otpp_test::expect<pids>().v.at(0);
  otpp::exit_message from_link = otpp_test::expect<trapped>().msg;
  CHECK(from_link.from == b);
  CHECK(from_link.reason == exit_reason::exception("std::runtime_error", "linked crash"));

  otpp::exit(a, exit_reason::user("please stop"));
  otpp::exit_message from_exit = otpp_test::expect<trapped>().msg;
  CHECK(from_exit.from == test);
  CHECK(from_exit.reason == exit_reason::user("please stop"));
  CHECK(answers(a));
  CHECK(otpp_test::nothing<otpp::down>(0ms));
  otpp::kill(a);
  CHECK(down_reason(ma) == exit_reason::killed());
}

TEST_CASE("exit(P, kill) ends P even when it traps exits, and its links see killed",
          "[core][link]") {
  const unsigned n = GENERATE(1u, 3u);
  OTPP_TEST_RUNTIME({.schedulers = n});
  const otpp::pid test = sp.self();

  otpp::pid p = rt.spawn(
      [test] {
        otpp::pid trapping = otpp::spawn_link(
            [test] {
              otpp::send(test, trapped{tp::receive<otpp::exit_message>()});
              serve_pings();
            },
            {.trap_exit = true});
        otpp::pid plain = otpp::spawn_link(wait_forever);
        otpp::send(test, pids{{trapping, plain}});
        wait_forever();
      },
      {.trap_exit = true});
  auto family = otpp_test::expect<pids>().v;
  otpp::ref mp = otpp::monitor(p);
  otpp::ref mt = otpp::monitor(family.at(0));
  otpp::ref mplain = otpp::monitor(family.at(1));
  otpp::kill(p);
  CHECK(down_reason(mp) == exit_reason::killed());
  CHECK(down_reason(mplain) == exit_reason::killed());
  otpp::exit_message em = otpp_test::expect<trapped>().msg;
  CHECK(em.from == p);
  CHECK(em.reason == exit_reason::killed());
  CHECK(answers(family.at(0)));
  CHECK(otpp_test::nothing<otpp::down>(0ms));
  otpp::kill(family.at(0));
  CHECK(down_reason(mt) == exit_reason::killed());
}

TEST_CASE("exit(P, normal) is ignored unless P traps exits or is the caller", "[core][link]") {
  const unsigned n = GENERATE(1u, 3u);
  OTPP_TEST_RUNTIME({.schedulers = n});
  const otpp::pid test = sp.self();

  SECTION("a process that does not trap exits keeps running") {
    otpp::pid p = rt.spawn(serve_pings);
    otpp::ref m = otpp::monitor(p);
    otpp::exit(p, exit_reason::normal());
    CHECK(answers(p)); // the ping is handled after the exit signal (same sender)
    CHECK(otpp_test::nothing<otpp::down>(0ms));
    otpp::kill(p);
    CHECK(down_reason(m) == exit_reason::killed());
  }
  SECTION("a trapping process receives exit_message normal") {
    otpp::pid p = rt.spawn([test] { otpp::send(test, trapped{tp::receive<otpp::exit_message>()}); },
                           {.trap_exit = true});
    otpp::exit(p, exit_reason::normal());
    otpp::exit_message em = otpp_test::expect<trapped>().msg;
    CHECK(em.from == test);
    CHECK(em.reason == exit_reason::normal());
  }
  SECTION("a process sending it to itself ends with normal") {
    exit_reason r = run_to_end([] {
      otpp::exit(tp::self(), exit_reason::normal());
      (void)tp::receive_for<never>(otpp_test::patience);
      tp::exit(exit_reason::user("survived its own exit signal"));
    });
    CHECK(r == exit_reason::normal());
  }
}

TEST_CASE("exit(P, reason) ends a process that does not trap exits with that reason",
          "[core][link]") {
  const unsigned n = GENERATE(1u, 3u);
  OTPP_TEST_RUNTIME({.schedulers = n});

  otpp::pid p = rt.spawn(serve_pings);
  otpp::ref m = otpp::monitor(p);
  otpp::exit(p, exit_reason::shutdown("maintenance"));
  CHECK(down_reason(m) == exit_reason::shutdown("maintenance"));
  otpp::pid q = rt.spawn(serve_pings);
  otpp::ref mq = otpp::monitor(q);
  otpp::exit(q, exit_reason::user("other"));
  CHECK(down_reason(mq) == exit_reason::user("other"));
}

TEST_CASE("link to a dead process ends a non-trapping caller with noproc and warns a trapping one",
          "[core][link]") {
  const unsigned n = GENERATE(1u, 3u);
  OTPP_TEST_RUNTIME({.schedulers = n});
  const otpp::pid test = sp.self();
  otpp::pid dead = rt.spawn([] {});
  (void)otpp_test::wait_exit(dead); // normal, or noproc if it ended before the monitor

  SECTION("not trapping: the caller exits with noproc") {
    exit_reason r = run_to_end([dead, test] {
      otpp::link(dead);
      otpp::send(test, survived{});
    });
    CHECK(r == exit_reason::noproc());
    CHECK(otpp_test::nothing<survived>(0ms));
  }
  SECTION("trapping: the caller receives exit_message noproc") {
    exit_reason r = run_to_end(
        [dead, test] {
          otpp::link(dead);
          otpp::send(test, trapped{tp::receive<otpp::exit_message>()});
          otpp::send(test, pids{otpp::info(tp::self()).links});
        },
        {.trap_exit = true});
    CHECK(r == exit_reason::normal());
    otpp::exit_message em = otpp_test::expect<trapped>().msg;
    CHECK(em.from == dead);
    CHECK(em.reason == exit_reason::noproc());
    CHECK(otpp_test::expect<pids>().v.empty());
  }
}

TEST_CASE("after unlink an abnormal exit of the former partner has no effect", "[core][link]") {
  const unsigned n = GENERATE(1u, 3u);
  OTPP_TEST_RUNTIME({.schedulers = n});
  const otpp::pid test = sp.self();

  otpp::pid a = rt.spawn([test] {
    otpp::pid b = otpp::spawn_link([] {
      tp::receive<go>();
      tp::exit(exit_reason::user("b failed"));
    });
    otpp::ref m = otpp::monitor(b);
    otpp::unlink(b);
    otpp::send(b, go{});
    exit_reason r = down_reason(m);
    otpp::send(test, survived{r});
    otpp::send(test, pids{otpp::info(tp::self()).links});
    serve_pings();
  });
  CHECK(otpp_test::expect<survived>().seen == exit_reason::user("b failed"));
  CHECK(otpp_test::expect<pids>().v.empty());
  CHECK(answers(a));
}

TEST_CASE("unlink also discards an exit signal the partner sent before the unlink",
          "[core][link]") {
  const unsigned n = GENERATE(1u, 3u);
  OTPP_TEST_RUNTIME({.schedulers = n});

  // The test thread is the partner: it does not apply signals until it receives.
  otpp::pid b = otpp::spawn_link([] {
    tp::receive<go>();
    tp::exit(exit_reason::user("b failed"));
  });
  otpp::send(b, go{});
  const auto deadline = std::chrono::steady_clock::now() + otpp_test::patience;
  while (otpp::info(b).status != otpp::process_status::exited) {
    REQUIRE(std::chrono::steady_clock::now() < deadline);
    std::this_thread::sleep_for(1ms);
  }
  std::this_thread::sleep_for(10ms); // let its exit signal reach the inbox
  otpp::unlink(b);
  CHECK(otpp_test::nothing<never>(10ms)); // applies the pending signals: no exit
  CHECK(otpp::info(sp.self()).links.empty());
}

TEST_CASE("linking twice makes one link and linking to oneself does nothing", "[core][link]") {
  const unsigned n = GENERATE(1u, 3u);
  OTPP_TEST_RUNTIME({.schedulers = n});
  const otpp::pid test = sp.self();

  otpp::pid b = rt.spawn([] {
    tp::receive<go>(); // the link requests arrive before `go` (same sender)
    tp::exit(exit_reason::user("b failed"));
  });
  otpp::ref mb = otpp::monitor(b);
  otpp::pid a = rt.spawn([b, test] {
    otpp::link(tp::self());
    otpp::link(b);
    otpp::link(b);
    otpp::send(test, pids{otpp::info(tp::self()).links});
    otpp::unlink(b); // one unlink removes the link however often it was made
    otpp::ref m = otpp::monitor(b);
    otpp::send(b, go{});
    otpp::send(test, survived{down_reason(m)});
    serve_pings();
  });
  CHECK(otpp_test::expect<pids>().v == std::vector<otpp::pid>{b});
  CHECK(otpp_test::expect<survived>().seen == exit_reason::user("b failed"));
  CHECK(down_reason(mb) == exit_reason::user("b failed"));
  CHECK(answers(a));
  CHECK(otpp::info(a).links.empty());
}

TEST_CASE(
    "spawn_link links before the child runs, so a child crashing at once takes the parent down",
    "[core][link]") {
  const unsigned n = GENERATE(1u, 3u);
  OTPP_TEST_RUNTIME({.schedulers = n});
  for (int i = 0; i < 20; ++i) {
    exit_reason r = run_to_end([] {
      otpp::spawn_link([] { throw std::runtime_error("crash at once"); });
      wait_forever();
    });
    REQUIRE(r == exit_reason::exception("std::runtime_error", "crash at once"));
  }
}

TEST_CASE("spawn_options trap_exit makes the child trap exits from its first instruction",
          "[core][link]") {
  const unsigned n = GENERATE(1u, 3u);
  OTPP_TEST_RUNTIME({.schedulers = n});
  const otpp::pid test = sp.self();

  otpp::pid parent = rt.spawn([test] {
    otpp::pid child = otpp::spawn_link(
        [test] {
          otpp::send(test, child_traps{tp::trapping_exits()});
          otpp::send(test, trapped{tp::receive<otpp::exit_message>()});
        },
        {.trap_exit = true});
    otpp::send(test, pids{{child}});
    tp::exit(exit_reason::user("parent failed")); // maybe before the child runs
  });
  otpp::pid child = otpp_test::expect<pids>().v.at(0);
  CHECK(child != parent);
  CHECK(otpp_test::expect<child_traps>().on);
  otpp::exit_message em = otpp_test::expect<trapped>().msg;
  CHECK(em.from == parent);
  CHECK(em.reason == exit_reason::user("parent failed"));
}

TEST_CASE("an exit signal ends a process waiting in receive and one looping with yield",
          "[core][link]") {
  const unsigned n = GENERATE(1u, 3u);
  OTPP_TEST_RUNTIME({.schedulers = n});
  const otpp::pid test = sp.self();
  std::atomic<int> destroyed{0};

  SECTION("waiting in receive") {
    otpp::pid p = rt.spawn([test, &destroyed] {
      count_on_destroy local{&destroyed};
      otpp::send(test, ready{});
      wait_forever();
    });
    otpp::ref m = otpp::monitor(p);
    otpp_test::expect<ready>();
    wait_until_waiting(p);
    otpp::exit(p, exit_reason::user("wake up"));
    CHECK(down_reason(m) == exit_reason::user("wake up"));
    CHECK(destroyed.load() == 1);
  }
  SECTION("busy, yielding") {
    otpp::pid p = rt.spawn([test, &destroyed] {
      count_on_destroy local{&destroyed};
      otpp::send(test, ready{});
      for (;;)
        tp::yield();
    });
    otpp::ref m = otpp::monitor(p);
    otpp_test::expect<ready>();
    otpp::exit(p, exit_reason::user("stop looping"));
    CHECK(down_reason(m) == exit_reason::user("stop looping"));
    CHECK(destroyed.load() == 1);
  }
  SECTION("killed while waiting: the stack is unwound") {
    otpp::pid p = rt.spawn(
        [test, &destroyed] {
          count_on_destroy local{&destroyed};
          otpp::send(test, ready{});
          wait_forever();
        },
        {.trap_exit = true});
    otpp::ref m = otpp::monitor(p);
    otpp_test::expect<ready>();
    wait_until_waiting(p);
    otpp::kill(p);
    CHECK(down_reason(m) == exit_reason::killed());
    CHECK(destroyed.load() == 1);
  }
}

TEST_CASE(
    "this_process::exit ends the process with its reason even through catch (std::exception&)",
    "[core][link]") {
  const unsigned n = GENERATE(1u, 3u);
  OTPP_TEST_RUNTIME({.schedulers = n});
  const otpp::pid test = sp.self();

  exit_reason r = run_to_end([test] {
    try {
      tp::exit(exit_reason::user("bye"));
    } catch (const std::exception&) {
      otpp::send(test, caught{});
    }
    otpp::send(test, survived{});
  });
  CHECK(r == exit_reason::user("bye"));
  CHECK(otpp_test::nothing<caught>(0ms));
  CHECK(otpp_test::nothing<survived>(0ms));

  // Swallowing it with catch (...) only delays the exit to the next receive.
  exit_reason swallowed = run_to_end([test] {
    try {
      tp::exit(exit_reason::user("bye again"));
    } catch (...) {
      otpp::send(test, caught{});
    }
    (void)tp::receive_for<never>(0ms);
    otpp::send(test, survived{});
  });
  CHECK(swallowed == exit_reason::user("bye again"));
  CHECK_FALSE(otpp_test::nothing<caught>(0ms));
  CHECK(otpp_test::nothing<survived>(0ms));
}

TEST_CASE("an uncaught exception in a linked process ends its partner with the exception as reason",
          "[core][link]") {
  const unsigned n = GENERATE(1u, 3u);
  OTPP_TEST_RUNTIME({.schedulers = n});
  const otpp::pid test = sp.self();

  otpp::pid b = rt.spawn([] {
    tp::receive<go>();
    throw std::logic_error("broken invariant");
  });
  otpp::pid a = rt.spawn([b, test] {
    otpp::link(b);
    otpp::send(test, linked{});
    wait_forever();
  });
  otpp_test::expect<linked>();
  otpp::ref ma = otpp::monitor(a);
  otpp::ref mb = otpp::monitor(b);
  otpp::send(b, go{});
  const exit_reason crash = exit_reason::exception("std::logic_error", "broken invariant");
  CHECK(down_reason(mb) == crash);
  CHECK(down_reason(ma) == crash);
}

} // namespace OTPP_TEST_FILE
