#include <otpp/core/process.hpp>

#include "otpp_test.hpp"

#include <otpp/core/monitor.hpp>
#include <otpp/core/registry.hpp>
#include <otpp/core/report.hpp>

#include <catch2/catch.hpp>
#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace OTPP_TEST_FILE {

using namespace std::chrono_literals;
namespace tp = otpp::this_process;
using otpp::exit_reason;
using otpp::process_status;

namespace {
using otpp_test::never;
using otpp_test::ping;
using otpp_test::pong;
using otpp_test::serve_pings;
using otpp_test::wait_forever;

struct go {};
struct done {};
struct pids {
  std::vector<otpp::pid> v;
};
struct own_info {
  otpp::process_info info;
};

// Ping `p` and wait for its answer.
void round_trip(const otpp::pid& p) {
  otpp::send(p, ping{tp::self()});
  CHECK(otpp_test::expect<pong>().from == p);
}

// Poll until `p` is blocked in a receive (there is no message to wait for:
// a process cannot report that it is about to block).
otpp::process_info info_once_waiting(const otpp::pid& p) {
  const auto deadline = std::chrono::steady_clock::now() + otpp_test::patience;
  for (;;) {
    otpp::process_info i = otpp::info(p);
    if (i.status == process_status::waiting)
      return i;
    if (std::chrono::steady_clock::now() > deadline)
      throw std::runtime_error(fmt::format("{} never waited (status {})", p, i.status));
    std::this_thread::sleep_for(1ms);
  }
}

} // namespace

TEST_CASE("info reports a process blocked in receive as waiting, with the messages it left queued",
          "[core][process]") {
  const unsigned n = GENERATE(1u, 3u);
  OTPP_TEST_RUNTIME({.schedulers = n});
  const otpp::pid test = sp.self();

  otpp::pid p = rt.spawn([test] {
    tp::receive<go>();
    otpp::send(test, done{});
    wait_forever();
  });
  otpp::send(p, 1);
  otpp::send(p, 2);
  otpp::send(p, std::string("three"));
  otpp::send(p, go{});
  otpp_test::expect<done>(); // it has taken `go` and left the three others
  otpp::process_info i = info_once_waiting(p);
  CHECK(i.self == p);
  CHECK(i.mailbox_length == 3);
  CHECK_FALSE(i.exit_reason.has_value());
  otpp::send(p, 4);
  i = info_once_waiting(p);
  CHECK(i.mailbox_length == 4);
}

TEST_CASE("info of a process that ended reports exited and its exit reason", "[core][process]") {
  const unsigned n = GENERATE(1u, 3u);
  OTPP_TEST_RUNTIME({.schedulers = n});

  otpp::spawned_monitor s = otpp::spawn_monitor([] {
    otpp::send(tp::self(), 1); // left unreceived
    tp::exit(exit_reason::user("finished"));
  });
  CHECK(otpp_test::expect<otpp::down>().reason == exit_reason::user("finished"));
  otpp::process_info i = otpp::info(s.pid);
  CHECK(i.self == s.pid);
  CHECK(i.status == process_status::exited);
  REQUIRE(i.exit_reason.has_value());
  CHECK(*i.exit_reason == exit_reason::user("finished"));
  CHECK(i.mailbox_length == 0);
  CHECK(i.links.empty());
  CHECK(i.monitors.empty());
  CHECK(i.monitored_by.empty());
  CHECK(i.registered_name.empty());
}

TEST_CASE("info of the calling process reports it running", "[core][process]") {
  const unsigned n = GENERATE(1u, 3u);
  OTPP_TEST_RUNTIME({.schedulers = n});
  const otpp::pid test = sp.self();

  rt.spawn([test] { otpp::send(test, own_info{otpp::info(tp::self())}); });
  otpp::process_info i = otpp_test::expect<own_info>().info;
  CHECK(i.status == process_status::running);
  CHECK(otpp::info(test).status == process_status::running);
}

TEST_CASE("info lists links, monitors and the processes monitoring", "[core][process]") {
  const unsigned n = GENERATE(1u, 3u);
  OTPP_TEST_RUNTIME({.schedulers = n});
  const otpp::pid test = sp.self();

  otpp::pid c = rt.spawn(serve_pings);
  otpp::pid a = rt.spawn([test, c] {
    otpp::pid b = otpp::spawn_link(wait_forever);
    otpp::monitor(c);
    round_trip(c); // c has handled the monitor request before the ping
    otpp::send(test, pids{{b}});
    wait_forever();
  });
  otpp::pid b = otpp_test::expect<pids>().v.at(0);
  otpp::process_info ia = otpp::info(a);
  CHECK(ia.links == std::vector<otpp::pid>{b});
  CHECK(ia.monitors == std::vector<otpp::pid>{c});
  CHECK(ia.monitored_by.empty());
  CHECK(otpp::info(b).links == std::vector<otpp::pid>{a});
  otpp::process_info ic = otpp::info(c);
  CHECK(ic.monitored_by == std::vector<otpp::pid>{a});
  CHECK(ic.links.empty());
  CHECK(ic.monitors.empty());
}

TEST_CASE("info reports the registered name", "[core][process]") {
  const unsigned n = GENERATE(1u, 3u);
  OTPP_TEST_RUNTIME({.schedulers = n});

  otpp::pid p = rt.spawn(wait_forever);
  CHECK(otpp::info(p).registered_name.empty());
  rt.register_name("process_test_worker", p);
  CHECK(otpp::info(p).registered_name == "process_test_worker");
  rt.unregister_name("process_test_worker");
  CHECK(otpp::info(p).registered_name.empty());
}

TEST_CASE("info reports reductions that grow as a process works", "[core][process]") {
  const unsigned n = GENERATE(1u, 3u);
  OTPP_TEST_RUNTIME({.schedulers = n});

  otpp::pid p = rt.spawn(serve_pings);
  round_trip(p);
  const std::uint64_t before = otpp::info(p).reductions;
  CHECK(before >= 1);
  for (int i = 0; i < 10; ++i)
    round_trip(p);
  const std::uint64_t after = otpp::info(p).reductions;
  CHECK(after >= before + 10); // at least one receive per ping
}

TEST_CASE("info reports the scheduler a process runs on, none for a scoped process",
          "[core][process]") {
  const unsigned n = GENERATE(1u, 3u);
  OTPP_TEST_RUNTIME({.schedulers = n});

  for (unsigned s = 0; s < n; ++s) {
    otpp::pid p = rt.spawn(wait_forever, {.scheduler = s});
    CHECK(otpp::info(p).scheduler == std::optional<unsigned>(s));
  }
  CHECK_FALSE(otpp::info(sp.self()).scheduler.has_value());
  CHECK_THROWS_AS(rt.spawn(wait_forever, {.scheduler = n}), std::invalid_argument);
}

TEST_CASE("info reports whether a process traps exits", "[core][process]") {
  const unsigned n = GENERATE(1u, 3u);
  OTPP_TEST_RUNTIME({.schedulers = n});
  const otpp::pid test = sp.self();

  otpp::pid plain = rt.spawn(wait_forever);
  otpp::pid from_spawn = rt.spawn(wait_forever, {.trap_exit = true});
  otpp::pid by_flag = rt.spawn([test] {
    tp::trap_exit(true);
    otpp::send(test, done{});
    wait_forever();
  });
  otpp_test::expect<done>();
  CHECK_FALSE(otpp::info(plain).trap_exit);
  CHECK(otpp::info(from_spawn).trap_exit);
  CHECK(otpp::info(by_flag).trap_exit);
  CHECK_FALSE(otpp::info(test).trap_exit);
}

TEST_CASE("send to a null pid or to an ended process is a silent no-op", "[core][process]") {
  const unsigned n = GENERATE(1u, 3u);
  OTPP_TEST_RUNTIME({.schedulers = n});

  otpp::spawned_monitor dead = otpp::spawn_monitor([] {});
  CHECK(otpp_test::expect<otpp::down>().process == dead.pid);
  CHECK_NOTHROW(otpp::send(otpp::pid(), 1));
  CHECK_NOTHROW(otpp::send(dead.pid, 2));
  CHECK(otpp::info(dead.pid).mailbox_length == 0);

  // From a process too: the sender carries on and ends normally.
  const otpp::pid target = dead.pid;
  otpp::spawned_monitor sender = otpp::spawn_monitor([target] {
    otpp::send(otpp::pid(), std::string("nobody"));
    for (int i = 0; i < 100; ++i)
      otpp::send(target, i);
  });
  otpp::down d = otpp_test::expect<otpp::down>();
  CHECK(d.monitor == sender.monitor);
  CHECK(d.reason == exit_reason::normal());
}

TEST_CASE("this_process::is_process tells a process or scoped thread from a plain thread",
          "[core][process]") {
  const unsigned n = GENERATE(1u, 3u);
  CHECK_FALSE(tp::is_process());
  CHECK_THROWS_AS(tp::self(), std::logic_error);
  {
    OTPP_TEST_RUNTIME({.schedulers = n});
    const otpp::pid test = sp.self();
    CHECK(tp::is_process());
    CHECK(tp::self() == test);
    rt.spawn([test] { otpp::send(test, tp::is_process()); });
    CHECK(otpp_test::expect<bool>());
    bool plain_thread = true;
    std::thread t([&plain_thread, test] {
      plain_thread = tp::is_process();
      otpp::send(test, done{}); // any thread may send
    });
    t.join();
    CHECK_FALSE(plain_thread);
    otpp_test::expect<done>();
  }
  CHECK_FALSE(tp::is_process());
}

TEST_CASE("a process suspended inside a catch block keeps its own exception", "[core][process]") {
  // The C++ runtime's caught-exception stack is per thread; processes of one
  // scheduler share the thread, so each switch must carry its own.
  const unsigned n = GENERATE(1u, 3u);
  OTPP_TEST_RUNTIME({.schedulers = n});
  otpp::pid me = tp::self();
  auto body = [me](std::string name, std::chrono::milliseconds pause) {
    return [me, name, pause] {
      try {
        throw std::runtime_error(name + ": a message long enough to live on the heap");
      } catch (const std::exception& e) {
        tp::sleep_for(pause); // the other process throws and catches meanwhile
        std::string seen = e.what();
        try {
          throw; // rethrows this process's exception, not the other's
        } catch (const std::runtime_error& again) {
          seen += std::string(" | ") + again.what();
        }
        otpp::send(me, seen);
      }
    };
  };
  for (int round = 0; round < 20; ++round) {
    otpp::spawn(body("A", 2ms), {.scheduler = 0});
    otpp::spawn(body("B", 1ms), {.scheduler = 0});
    std::vector<std::string> got{otpp_test::expect<std::string>(),
                                 otpp_test::expect<std::string>()};
    std::sort(got.begin(), got.end());
    CHECK(got == std::vector<std::string>{
                     "A: a message long enough to live on the heap | A: a message long enough "
                     "to live on the heap",
                     "B: a message long enough to live on the heap | B: a message long enough "
                     "to live on the heap"});
  }
}

TEST_CASE("a process that dies of an uncaught exception is reported once, in Erlang's words, "
          "and one that exits or is killed is not",
          "[core][process]") {
  const unsigned n = GENERATE(1u, 3u);
  const bool on = GENERATE(true, false);
  OTPP_TEST_RUNTIME({.schedulers = n, .report_crashes = on});
  otpp_test::report_guard g(otpp_test::reports_to(sp.self()));
  otpp::pid crashed;
  auto r = otpp_test::exit_of([] { throw std::runtime_error("boom"); }, {}, &crashed);
  CHECK(r == otpp::exit_reason::exception("std::runtime_error", "boom"));
  if (on) {
    auto rep = otpp_test::expect<otpp::report>();
    CHECK(rep.kind == otpp::report_kind::error);
    CHECK(rep.from == crashed);
    CHECK(rep.text == fmt::format("Error in process {} with exit value: {}", crashed, r));
  }
  // Deliberate ends are not errors.
  (void)otpp_test::exit_of([] { otpp::this_process::exit(otpp::exit_reason::user("done")); });
  otpp::pid victim = otpp::spawn(otpp_test::wait_forever);
  otpp::ref m = otpp::monitor(victim);
  otpp::exit(victim, otpp::exit_reason::user("shot"));
  CHECK(otpp_test::down_reason(m) == otpp::exit_reason::user("shot"));
  CHECK(otpp_test::nothing<otpp::report>());
}

} // namespace OTPP_TEST_FILE
