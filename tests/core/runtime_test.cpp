#include <otpp/core/runtime.hpp>

#include "otpp_test.hpp"

#include <otpp/core/monitor.hpp>

#include <catch2/catch.hpp>

#include <algorithm>
#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace OTPP_TEST_FILE {

using namespace std::chrono_literals;
namespace tp = otpp::this_process;

namespace {

using otpp_test::exit_of;

struct started {};
struct reached {
  int who;
};

// Counts its destructions: proves that a process's stack was unwound.
struct unwind_probe {
  std::atomic<int>& count;
  ~unwind_probe() { ++count; }
};

std::vector<otpp::pid> sorted(std::vector<otpp::pid> v) {
  std::sort(v.begin(), v.end());
  return v;
}

} // namespace

TEST_CASE("run() returns 0 once the last process has ended", "[core][runtime]") {
  const unsigned n = GENERATE(1u, 3u);
  otpp::runtime rt({.schedulers = n});
  std::atomic<int> done{0};
  // A chain: each process spawns the next one and ends after its child has started.
  struct hop {
    static void run(std::atomic<int>& d, int left) {
      if (left > 0)
        otpp::spawn([&d, left] { hop::run(d, left - 1); });
      tp::sleep_for(1ms);
      ++d;
    }
  };
  rt.spawn([&done] { hop::run(done, 9); });
  CHECK(rt.run() == 0);
  CHECK(done == 10);
  CHECK(rt.process_count() == 0);
  CHECK(rt.processes().empty());
}

TEST_CASE("run() without processes returns at once", "[core][runtime]") {
  const unsigned n = GENERATE(1u, 3u);
  otpp::runtime rt({.schedulers = n});
  CHECK(rt.run() == 0);
  CHECK(rt.scheduler_count() == n);
}

TEST_CASE("shutdown() ends every process with reason shutdown and unwinds its stack",
          "[core][runtime]") {
  const unsigned n = GENERATE(1u, 3u);
  std::atomic<int> unwound{0};
  OTPP_TEST_RUNTIME({.schedulers = n});
  otpp::pid me = sp.self();
  std::vector<otpp::pid> ps;
  ps.push_back(rt.spawn([me, &unwound] { // waits for a message that never comes
    unwind_probe probe{unwound};
    otpp::send(me, started{});
    tp::receive<int>();
  }));
  ps.push_back(rt.spawn([me, &unwound] { // a busy loop that yields
    unwind_probe probe{unwound};
    otpp::send(me, started{});
    for (;;)
      tp::yield();
  }));
  ps.push_back(rt.spawn([me, &unwound] { // traps exits: shutdown is not trappable
    unwind_probe probe{unwound};
    tp::trap_exit(true);
    otpp::send(me, started{});
    for (;;)
      tp::receive([](otpp::exit_message&) {}, [](int) {});
  }));
  ps.push_back(rt.spawn([me, &unwound] { // sleeps
    unwind_probe probe{unwound};
    otpp::send(me, started{});
    tp::sleep_for(1h);
  }));
  std::vector<otpp::ref> ms;
  for (auto& p : ps)
    ms.push_back(otpp::monitor(p));
  for (std::size_t i = 0; i < ps.size(); ++i)
    otpp_test::expect<started>();
  rt.shutdown();
  for (std::size_t i = 0; i < ps.size(); ++i) {
    auto d = otpp_test::expect<otpp::down>();
    CHECK(std::find(ms.begin(), ms.end(), d.monitor) != ms.end());
    CHECK(d.reason == otpp::exit_reason::shutdown());
  }
  CHECK(rt.run() == 0);
  CHECK(unwound == 4);
  CHECK(rt.process_count() == 0);
}

TEST_CASE("a process spawned after shutdown() ends with shutdown before it runs",
          "[core][runtime]") {
  const unsigned n = GENERATE(1u, 3u);
  OTPP_TEST_RUNTIME({.schedulers = n});
  rt.shutdown();
  std::atomic<bool> ran{false};
  auto [p, m] = otpp::spawn_monitor([&ran] { ran = true; }); // monitored before it can end
  auto d = otpp_test::expect<otpp::down>();
  CHECK(d.monitor == m);
  CHECK(d.process == p);
  CHECK(d.reason == otpp::exit_reason::shutdown());
  CHECK_FALSE(ran);
}

TEST_CASE("the runtime destructor shuts down, unwinds and joins", "[core][runtime]") {
  const unsigned n = GENERATE(1u, 3u);
  std::atomic<int> unwound{0};
  {
    OTPP_TEST_RUNTIME({.schedulers = n});
    otpp::pid me = sp.self();
    for (int i = 0; i < 4; ++i)
      rt.spawn([me, &unwound] {
        unwind_probe probe{unwound};
        otpp::send(me, started{});
        tp::receive<int>();
      });
    for (int i = 0; i < 4; ++i)
      otpp_test::expect<started>();
  }
  CHECK(unwound == 4);
}

TEST_CASE("spawn places a process on the scheduler it names", "[core][runtime]") {
  const unsigned n = GENERATE(1u, 3u);
  OTPP_TEST_RUNTIME({.schedulers = n});
  otpp::pid me = sp.self();
  for (unsigned i = 0; i < n; ++i) {
    otpp::pid p = rt.spawn(
        [me] {
          otpp::send(me, otpp::info(tp::self()).scheduler.value_or(99));
          tp::receive<int>();
        },
        {.scheduler = i});
    CHECK(otpp_test::expect<unsigned>() == i);
    CHECK(otpp::info(p).scheduler == i);
    otpp::send(p, 0);
  }
  CHECK_THROWS_AS(rt.spawn([] {}, {.scheduler = n}), std::invalid_argument);
  CHECK_FALSE(otpp::info(sp.self()).scheduler.has_value()); // a scoped process has none
}

TEST_CASE("a per-spawn stack size lets a process use a large stack", "[core][runtime]") {
  const unsigned n = GENERATE(1u, 3u);
  OTPP_TEST_RUNTIME({.schedulers = n});
  otpp::pid me = sp.self();
  otpp::exit_reason r = exit_of(
      [me] {
        std::array<unsigned char, 200 * 1024> big;
        std::memset(big.data(), 1, big.size());
        std::uint64_t sum = 0;
        for (unsigned char c : big)
          sum += c;
        otpp::send(me, sum);
      },
      {.stack_size = 1024 * 1024});
  CHECK(r.is_normal());
  CHECK(otpp_test::expect<std::uint64_t>() == 200 * 1024);
}

TEST_CASE("a process spawned with trap_exit traps from its first instruction", "[core][runtime]") {
  const unsigned n = GENERATE(1u, 3u);
  OTPP_TEST_RUNTIME({.schedulers = n});
  otpp::pid me = sp.self();
  otpp::pid p = rt.spawn(
      [me] {
        bool trapping = tp::trapping_exits();
        auto m = tp::receive<otpp::exit_message>();
        otpp::send(me, std::pair{trapping, m.reason});
      },
      {.trap_exit = true});
  otpp::exit(p, otpp::exit_reason::user("early")); // may arrive before it runs
  auto [trapping, reason] = otpp_test::expect<std::pair<bool, otpp::exit_reason>>();
  CHECK(trapping);
  CHECK(reason == otpp::exit_reason::user("early"));
}

TEST_CASE("a runtime with guard pages runs processes", "[core][runtime]") {
  const unsigned n = GENERATE(1u, 3u);
  OTPP_TEST_RUNTIME({.schedulers = n, .guard_pages = true});
  otpp::pid me = sp.self();
  for (int i = 0; i < 20; ++i)
    rt.spawn([me, i] { otpp::send(me, i); });
  int sum = 0;
  for (int i = 0; i < 20; ++i)
    sum += otpp_test::expect<int>();
  CHECK(sum == 190);
  CHECK(exit_of([] {}, {.stack_size = 256 * 1024}).is_normal());
}

TEST_CASE("an uncaught exception ends the process with an exception reason", "[core][runtime]") {
  const unsigned n = GENERATE(1u, 3u);
  OTPP_TEST_RUNTIME({.schedulers = n});
  otpp::exit_reason r = exit_of([] { throw std::runtime_error("boom"); });
  CHECK(r.which() == otpp::exit_reason::kind::exception);
  CHECK(r.exception_type() == "std::runtime_error");
  CHECK(r.detail() == "boom");
  otpp::exit_reason odd = exit_of([] { throw 42; });
  CHECK(odd.which() == otpp::exit_reason::kind::exception);
}

TEST_CASE("processes() lists the live processes, and is empty once they ended", "[core][runtime]") {
  const unsigned n = GENERATE(1u, 3u);
  OTPP_TEST_RUNTIME({.schedulers = n});
  otpp::pid me = sp.self();
  std::vector<otpp::pid> ps;
  for (int i = 0; i < 5; ++i)
    ps.push_back(rt.spawn([me] {
      otpp::send(me, started{});
      tp::receive<int>();
    }));
  for (int i = 0; i < 5; ++i)
    otpp_test::expect<started>();
  CHECK(sorted(rt.processes()) == sorted(ps));
  CHECK(rt.process_count() == 5);
  for (auto& p : ps)
    otpp::send(p, 0);
  CHECK(rt.run() == 0); // scoped processes do not count
  CHECK(rt.processes().empty());
  CHECK(rt.process_count() == 0);
}

TEST_CASE("a scoped process sends, receives and monitors from the test thread", "[core][runtime]") {
  const unsigned n = GENERATE(1u, 3u);
  OTPP_TEST_RUNTIME({.schedulers = n});
  CHECK(tp::is_process());
  CHECK(tp::self() == sp.self());
  otpp::pid p = rt.spawn([] {
    auto from = tp::receive<otpp::pid>();
    otpp::send(from, std::string("hello"));
  });
  otpp::ref m = otpp::monitor(p);
  otpp::send(p, sp.self());
  CHECK(otpp_test::expect<std::string>() == "hello");
  auto d = otpp_test::expect<otpp::down>();
  CHECK(d.monitor == m);
  CHECK(d.process == p);
  CHECK(d.reason.is_normal());
  CHECK_THROWS_AS(otpp::scoped_process(rt), std::logic_error);
  CHECK(tp::self() == sp.self()); // the failed second one changed nothing
}

TEST_CASE("self() outside any process throws std::logic_error", "[core][runtime]") {
  CHECK_FALSE(tp::is_process());
  CHECK_THROWS_AS(tp::self(), std::logic_error);
  CHECK_THROWS_AS(tp::yield(), std::logic_error);
  otpp::runtime rt({.schedulers = 1});
  CHECK_THROWS_AS(rt.spawn([] {}, {.link = true}), std::logic_error);
  CHECK_THROWS_AS(rt.spawn([] {}, {.monitor = true}), std::logic_error);
  { otpp::scoped_process sp(rt); }
  CHECK_THROWS_AS(tp::self(), std::logic_error); // the scoped process is gone
  bool thrown = false;
  std::thread th([&thrown] {
    try {
      tp::self();
    } catch (const std::logic_error&) {
      thrown = true;
    }
  });
  th.join();
  CHECK(thrown);
}

TEST_CASE("two busy processes on one scheduler both progress when they yield", "[core][runtime]") {
  const unsigned n = GENERATE(1u, 3u);
  // A budget no loop here reaches: only the explicit yields switch processes.
  OTPP_TEST_RUNTIME({.schedulers = n, .reductions = std::numeric_limits<std::uint32_t>::max()});
  otpp::pid me = sp.self();
  auto spinner = [me](int who) {
    return [me, who] {
      for (int i = 0;; ++i) {
        if (i == 1000)
          otpp::send(me, reached{who});
        tp::yield();
      }
    };
  };
  // Neither ever blocks: without a working yield the first would starve the second.
  rt.spawn(spinner(1), {.scheduler = 0});
  rt.spawn(spinner(2), {.scheduler = 0});
  int seen = 0;
  for (int i = 0; i < 2; ++i)
    seen |= otpp_test::expect<reached>().who;
  CHECK(seen == 3);
  rt.shutdown();
  CHECK(rt.run() == 0);
}

namespace {
struct tree_done {
  long leaves;
};

// A spawn tree (fan-out 10) that records how many of its processes had
// started and not yet ended at once.
void spawn_tree(otpp::pid parent, long size, std::atomic<long>& live, std::atomic<long>& peak) {
  long now = ++live;
  long seen = peak.load();
  while (now > seen && !peak.compare_exchange_weak(seen, now)) {
  }
  long leaves = 1;
  if (size > 1) {
    otpp::pid self = tp::self();
    for (int i = 0; i < 10; ++i)
      otpp::spawn([self, size, &live, &peak] { spawn_tree(self, size / 10, live, peak); });
    leaves = 0;
    for (int i = 0; i < 10; ++i)
      leaves += tp::receive<tree_done>().leaves;
  }
  --live;
  otpp::send(parent, tree_done{leaves});
}
} // namespace

TEST_CASE("a spawn tree runs depth first: few of its processes are started at once",
          "[core][runtime]") {
  OTPP_TEST_RUNTIME({.schedulers = 1});
  otpp::pid me = sp.self();
  std::atomic<long> live{0};
  std::atomic<long> peak{0};
  rt.spawn([me, &live, &peak] { spawn_tree(me, 10000, live, peak); });
  CHECK(otpp_test::expect<tree_done>().leaves == 10000);
  // 11,111 processes; breadth first, all 1,111 inner ones would wait at once.
  // Depth first, a few per level of the current path (5 here: one per level of the path being run).
  CHECK(peak.load() <= 100);
  CHECK(live.load() == 0);
}

TEST_CASE("a spawning loop does not hold back a process that became ready before",
          "[core][runtime]") {
  OTPP_TEST_RUNTIME({.schedulers = 1});
  otpp::pid me = sp.self();
  std::atomic<int> children_ran{0};
  std::atomic<int> when_woken{-1};
  otpp::pid waiter = rt.spawn([&] {
    tp::receive<started>();
    when_woken.store(children_ran.load());
    otpp::send(me, reached{1});
  });
  rt.spawn([&, waiter] {
    otpp::send(waiter, started{}); // the waiter is ready from here on
    for (int i = 0; i < 10000; ++i)
      otpp::spawn([&] { ++children_ran; });
    otpp::send(me, reached{2});
  });
  int order[2] = {otpp_test::expect<reached>().who, otpp_test::expect<reached>().who};
  // The spawner runs out of reductions before its loop ends; the waiter then
  // runs after at most 64 of the 10,000 children.
  CHECK(order[0] == 1);
  CHECK(when_woken.load() >= 0);
  CHECK(when_woken.load() <= static_cast<int>(otpp::config::fresh_run_limit));
  rt.shutdown();
  CHECK(rt.run() == 0);
}

namespace {
struct ran_on {
  unsigned scheduler;
};
// Spawns `n` children (placed by `opts`) that each report their scheduler,
// then runs without yielding until `enough` of them ran elsewhere or `most`
// passed: its own scheduler cannot run any child meanwhile.
void spawn_then_hog(otpp::pid me, int n, otpp::spawn_options opts, std::atomic<int>& elsewhere,
                    int enough, std::chrono::milliseconds most) {
  for (int i = 0; i < n; ++i)
    otpp::spawn(
        [me, &elsewhere] {
          const unsigned s = otpp::info(tp::self()).scheduler.value_or(99);
          if (s != 0)
            ++elsewhere;
          otpp::send(me, ran_on{s});
        },
        opts);
  const auto until = std::chrono::steady_clock::now() + most;
  while (elsewhere.load() < enough && std::chrono::steady_clock::now() < until) {
  }
}
} // namespace

TEST_CASE("an idle scheduler takes processes that have not started from a busy one",
          "[core][runtime]") {
  OTPP_TEST_RUNTIME({.schedulers = 2, .watchdog_threshold = 0ms});
  otpp::pid me = sp.self();
  std::atomic<int> elsewhere{0};
  rt.spawn([me, &elsewhere] { spawn_then_hog(me, 100, {}, elsewhere, 100, 10s); },
           {.scheduler = 0});
  int on_other = 0;
  for (int i = 0; i < 100; ++i)
    on_other += otpp_test::expect<ran_on>().scheduler == 1 ? 1 : 0;
  // Scheduler 0 was busy the whole time: scheduler 1 took and ran every child.
  CHECK(on_other == 100);
  CHECK(rt.run() == 0);
  CHECK(rt.process_count() == 0);
}

TEST_CASE("a process placed on a scheduler by its spawn options is never taken by another",
          "[core][runtime]") {
  OTPP_TEST_RUNTIME({.schedulers = 2, .watchdog_threshold = 0ms});
  otpp::pid me = sp.self();
  std::atomic<int> elsewhere{0};
  rt.spawn(
      [me, &elsewhere] {
        // Hogs its scheduler for 300 ms (600 times config::steal_age),
        // unless a child runs elsewhere (which it must not).
        spawn_then_hog(me, 20, {.scheduler = 0}, elsewhere, 1, 300ms);
      },
      {.scheduler = 0});
  for (int i = 0; i < 20; ++i)
    CHECK(otpp_test::expect<ran_on>(20s).scheduler == 0);
  CHECK(elsewhere.load() == 0);
}

TEST_CASE("a started process stays on its scheduler while another scheduler idles",
          "[core][runtime]") {
  OTPP_TEST_RUNTIME({.schedulers = 2});
  otpp::pid me = sp.self();
  // A process that has run once (and waits) belongs to its scheduler for good.
  std::vector<otpp::pid> waiting;
  for (int i = 0; i < 20; ++i)
    waiting.push_back(rt.spawn([me] {
      const unsigned before = otpp::info(tp::self()).scheduler.value_or(99);
      tp::receive<started>();
      otpp::send(me, ran_on{before == otpp::info(tp::self()).scheduler.value_or(98) ? 0u : 1u});
    }));
  for (auto& p : waiting)
    otpp_test::wait_until_waiting(p);
  for (auto& p : waiting)
    otpp::send(p, started{});
  for (int i = 0; i < 20; ++i)
    CHECK(otpp_test::expect<ran_on>().scheduler == 0);
}

TEST_CASE("rethrow_if_exit in a catch-all lets this_process::exit end the process with its reason",
          "[core][runtime]") {
  const unsigned n = GENERATE(1u, 3u);
  OTPP_TEST_RUNTIME({.schedulers = n});
  otpp::exit_reason r = exit_of([] {
    try {
      tp::exit(otpp::exit_reason::user("chosen"));
    } catch (...) {
      otpp::rethrow_if_exit();
    }
    tp::exit(otpp::exit_reason::user("swallowed"));
  });
  CHECK(r == otpp::exit_reason::user("chosen"));
}

TEST_CASE("a killed process unwinds through a catch-all that calls rethrow_if_exit",
          "[core][runtime]") {
  const unsigned n = GENERATE(1u, 3u);
  OTPP_TEST_RUNTIME({.schedulers = n});
  const otpp::pid test = sp.self();
  struct swallowed {};
  std::atomic<int> destroyed{0};
  otpp::spawned_monitor s = otpp::spawn_monitor([test, &destroyed] {
    unwind_probe probe{destroyed};
    try {
      otpp::send(test, started{});
      otpp_test::wait_forever();
    } catch (...) {
      otpp::rethrow_if_exit();
      otpp::send(test, swallowed{});
    }
  });
  otpp_test::expect<started>();
  otpp::kill(s.pid);
  CHECK(otpp_test::down_reason(s.monitor) == otpp::exit_reason::killed());
  CHECK(destroyed.load() == 1);
  CHECK(otpp_test::nothing<swallowed>(0ms));
}

TEST_CASE("rethrow_if_exit returns for an ordinary exception such as std::runtime_error",
          "[core][runtime]") {
  const unsigned n = GENERATE(1u, 3u);
  OTPP_TEST_RUNTIME({.schedulers = n});
  std::string what = otpp_test::in_process([] {
    try {
      throw std::runtime_error("ordinary");
    } catch (...) {
      otpp::rethrow_if_exit();
      try {
        throw;
      } catch (const std::runtime_error& e) {
        return std::string(e.what());
      }
    }
    return std::string("not thrown");
  });
  CHECK(what == "ordinary");
}

} // namespace OTPP_TEST_FILE
