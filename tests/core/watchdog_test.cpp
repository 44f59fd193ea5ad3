// The watchdog (a process that runs without yielding is reported), the
// blocking report (what each live process waits on), and a shutdown that
// ends within its bound even when a process never yields.
// Distributed under the Boost Software License, Version 1.0.
#include <otpp/core/runtime.hpp>

#include "otpp_test.hpp"

#include <otpp/core/process.hpp>
#include <otpp/core/receive.hpp>
#include <otpp/core/registry.hpp>
#include <otpp/core/report.hpp>

#include <catch2/catch.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace OTPP_TEST_FILE {

using namespace std::chrono_literals;
using otpp_test::expect;
using otpp_test::nothing;
using otpp_test::report_guard;
using otpp_test::reports_to;

// The N of "at least N ms" in a watchdog report.
long reported_ms(const std::string& text) {
  auto at = text.find("at least ");
  long ms = -1;
  if (at != std::string::npos)
    std::sscanf(text.c_str() + at, "at least %ld ms", &ms);
  return ms;
}

// Wait until `p` blocks (in a receive of some kind).
void until_waiting(const otpp::pid& p) {
  const auto give_up = std::chrono::steady_clock::now() + otpp_test::patience;
  while (otpp::info(p).status != otpp::process_status::waiting &&
         std::chrono::steady_clock::now() < give_up)
    std::this_thread::sleep_for(1ms);
  REQUIRE(otpp::info(p).status == otpp::process_status::waiting);
}

const otpp::blocking_process* find(const std::vector<otpp::blocking_process>& all,
                                   const otpp::pid& p) {
  auto it = std::find_if(all.begin(), all.end(), [&](const auto& b) { return b.pid == p; });
  return it == all.end() ? nullptr : &*it;
}

TEST_CASE("the watchdog reports a process that runs past its threshold without yielding, once",
          "[watchdog]") {
  OTPP_TEST_RUNTIME({.schedulers = 1, .watchdog_threshold = 50ms});
  report_guard guard(reports_to(otpp::this_process::self()));
  std::atomic<bool> named{false};
  auto busy = rt.spawn([&] {
    while (!named.load())
      std::this_thread::sleep_for(1ms); // blocks the thread: no yield
    std::this_thread::sleep_for(400ms);
  });
  rt.register_name("busy", busy);
  named.store(true);
  auto r = expect<otpp::report>();
  CHECK(r.kind == otpp::report_kind::watchdog);
  CHECK(r.from == busy);
  CHECK_THAT(r.text, Catch::Contains("registered as \"busy\"") &&
                         Catch::Contains("on scheduler 0 without yielding"));
  CHECK(reported_ms(r.text) >= 50); // never before its time
  // One report per stretch, however long it lasts.
  CHECK(nothing<otpp::report>(600ms));
}

TEST_CASE("the watchdog leaves alone processes that yield, however long they work", "[watchdog]") {
  OTPP_TEST_RUNTIME({.schedulers = 1, .watchdog_threshold = 50ms});
  report_guard guard(reports_to(otpp::this_process::self()));
  auto worker = rt.spawn([] {
    const auto end = std::chrono::steady_clock::now() + 300ms;
    while (std::chrono::steady_clock::now() < end) {
      std::this_thread::sleep_for(1ms);
      otpp::this_process::yield();
    }
  });
  CHECK(nothing<otpp::report>(500ms));
  (void)worker;
}

TEST_CASE("blockers lists every live process with what it waits on", "[blockers]") {
  OTPP_TEST_RUNTIME({.schedulers = 2});
  auto receiver = rt.spawn([] { otpp_test::wait_forever(); }, {.scheduler = 0});
  rt.register_name("receiver", receiver);
  auto sleeper = rt.spawn([] { otpp::this_process::sleep_for(1h); }, {.scheduler = 1});
  auto caller = rt.spawn(
      [receiver] {
        otpp::this_process::waiting_on note("call", receiver);
        otpp_test::wait_forever();
      },
      {.scheduler = 1});
  until_waiting(receiver);
  until_waiting(sleeper);
  until_waiting(caller);

  auto all = rt.blockers();
  CHECK(all.size() == 3); // not the test thread's scoped process
  const auto* r = find(all, receiver);
  const auto* s = find(all, sleeper);
  const auto* c = find(all, caller);
  REQUIRE(r != nullptr);
  REQUIRE(s != nullptr);
  REQUIRE(c != nullptr);
  CHECK(r->name == "receiver");
  CHECK(r->state == "waiting");
  CHECK(r->waits_on == "receive");
  CHECK_FALSE(r->with_timeout);
  CHECK(s->scheduler == 1);
  CHECK(s->waits_on == "sleep");
  CHECK(s->with_timeout);
  CHECK(c->waits_on == "call");
  CHECK(c->waits_for == receiver.id());
  CHECK(otpp::info(sleeper).waiting_on == "sleep");
  CHECK(otpp::info(caller).waiting_for == receiver.id());

  const std::string text = rt.blockers_text();
  CHECK_THAT(
      text, Catch::Contains(fmt::format(
                "{} (registered as \"receiver\") on scheduler 0: waiting in receive\n", receiver)));
  CHECK_THAT(text, Catch::Contains(fmt::format(
                       "{} on scheduler 1: waiting in sleep (with a timeout)\n", sleeper)));
  CHECK_THAT(text, Catch::Contains(fmt::format("{} on scheduler 1: waiting in call to {}\n", caller,
                                               receiver)));
}

TEST_CASE("a waiting_on note ends with its scope", "[blockers]") {
  OTPP_TEST_RUNTIME({.schedulers = 1});
  auto p = rt.spawn([] {
    { otpp::this_process::waiting_on note("something else"); }
    otpp_test::wait_forever();
  });
  until_waiting(p);
  CHECK(otpp::info(p).waiting_on == "receive");
}

// A process that never yields again (it blocks its thread in a loop): the
// runtime's destructor reports it and gives up on it after its bound.
// (Its thread stays stopped to the end of the test program.)
TEST_CASE("a shutdown ends within its bound when a process never yields, naming it", "[shutdown]") {
  std::mutex m;
  std::vector<otpp::report> seen;
  report_guard guard([&](const otpp::report& r) {
    std::lock_guard lock(m);
    seen.push_back(r);
  });
  otpp::pid stuck;
  std::chrono::steady_clock::duration waited{};
  std::atomic<int> unwound{0};
  {
    otpp::runtime rt({.schedulers = 2, .shutdown_timeout = 300ms});
    static std::atomic<bool> started{false};
    stuck = rt.spawn(
        [] {
          started.store(true);
          for (;;)
            std::this_thread::sleep_for(1ms);
        },
        {.scheduler = 0});
    rt.register_name("stuck", stuck);
    static std::atomic<bool> waiting{false};
    rt.spawn(
        [&unwound] {
          otpp_test::count_on_destroy c(&unwound);
          waiting.store(true);
          otpp_test::wait_forever();
        },
        {.scheduler = 1});
    // Both running (a process killed before it first ran unwinds nothing).
    while (!started.load() || !waiting.load())
      std::this_thread::sleep_for(1ms);
    const auto t0 = std::chrono::steady_clock::now();
    rt.shutdown();
    CHECK(rt.run() == 1); // bounded: it gives up on what is left
    waited = std::chrono::steady_clock::now() - t0;
  } // the destructor returns too
  CHECK(waited >= 300ms);
  CHECK(unwound.load() == 1); // the other process ended normally

  std::lock_guard lock(m);
  auto it = std::find_if(seen.begin(), seen.end(),
                         [](const otpp::report& r) { return r.kind == otpp::report_kind::error; });
  REQUIRE(it != seen.end());
  CHECK_THAT(it->text, Catch::Contains("shutdown made no progress for 300 ms") &&
                           Catch::Contains("1 process is abandoned") &&
                           Catch::Contains(fmt::format(
                               "{} (registered as \"stuck\") on scheduler 0: running", stuck)));
  CHECK(std::count_if(seen.begin(), seen.end(), [](const otpp::report& r) {
          return r.kind == otpp::report_kind::error;
        }) == 1);
}

// The bound is on progress: a long shutdown in which processes keep ending
// is waited for to its end.
TEST_CASE("a shutdown longer than its bound that keeps making progress is not abandoned",
          "[shutdown]") {
  std::atomic<int> unwound{0};
  std::atomic<int> started{0};
  int result = -1;
  {
    otpp::runtime rt({.schedulers = 1, .shutdown_timeout = 100ms});
    struct slow_unwind {
      std::atomic<int>* n;
      ~slow_unwind() {
        std::this_thread::sleep_for(40ms); // each process takes 40 ms to end
        n->fetch_add(1);
      }
    };
    for (int i = 0; i < 6; ++i)
      rt.spawn([&unwound, &started] {
        slow_unwind s{&unwound};
        started.fetch_add(1);
        otpp_test::wait_forever();
      });
    // Every process has run up to its wait (a process that never started
    // would end without unwinding anything: on a loaded machine 10 ms of
    // sleep was not always enough for all six to start).
    const auto give_up = std::chrono::steady_clock::now() + otpp_test::patience;
    while (started.load() != 6 && std::chrono::steady_clock::now() < give_up)
      std::this_thread::sleep_for(1ms);
    REQUIRE(started.load() == 6);
    std::this_thread::sleep_for(10ms); // all of them waiting
    rt.shutdown();
    result = rt.run(); // 240 ms in all, never 100 ms without an end
  }
  CHECK(result == 0);
  CHECK(unwound.load() == 6);
}

} // namespace OTPP_TEST_FILE
