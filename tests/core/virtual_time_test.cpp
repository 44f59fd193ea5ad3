#include <otpp/core/clock.hpp>

#include "otpp_test.hpp"

#include <otpp/core/blocking.hpp>
#include <otpp/core/timer.hpp>

#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <random>
#include <stdexcept>
#include <thread>
#include <vector>

namespace OTPP_TEST_FILE {

using namespace std::chrono_literals;
namespace tp = otpp::this_process;
using otpp::runtime_clock;

namespace {

// In virtual time a wait for what is due later only ends when it is due:
// the test thread waits "for ever" (a year of virtual time); ctest's own
// timeout catches a test whose time does not move.
constexpr auto forever = std::chrono::hours(24 * 365);

template <class T> T take() {
  return otpp::testing::expect_message<T>(forever);
}

struct woke {
  int id;
  runtime_clock::duration at; // since the test's start, in virtual time
};
struct tick {
  int n;
};
struct never {};

// A process that waits `d` (sleep_for, or a receive that times out) and
// tells `to` when, in virtual time, it woke.
otpp::pid sleeper(otpp::runtime& rt, otpp::pid to, int id, runtime_clock::time_point t0,
                  runtime_clock::duration d, bool by_receive = false) {
  return rt.spawn([=] {
    if (by_receive)
      (void)tp::receive_for<never>(d);
    else
      tp::sleep_for(d);
    otpp::send(to, woke{id, runtime_clock::now() - t0});
  });
}

} // namespace

TEST_CASE("in virtual time a process sleeps a day at once, and its clock moved by exactly a day",
          "[core][virtual_time]") {
  OTPP_TEST_RUNTIME({.schedulers = 1, .virtual_time = true});
  REQUIRE(rt.virtual_time());
  const auto t0 = rt.now();
  CHECK(runtime_clock::now() == t0); // the test thread's clock is the runtime's
  sleeper(rt, tp::self(), 1, t0, 24h);
  const woke w = take<woke>();
  CHECK(w.at == 24h);
  CHECK(rt.now() - t0 == 24h);
  CHECK(runtime_clock::now() - t0 == 24h);
}

TEST_CASE("in virtual time timeouts and timers fire in deadline order, each at its exact time",
          "[core][virtual_time]") {
  OTPP_TEST_RUNTIME({.schedulers = 1, .virtual_time = true});
  const auto t0 = rt.now();
  const otpp::pid me = tp::self();
  sleeper(rt, me, 1, t0, 3s);
  sleeper(rt, me, 2, t0, 1s);
  sleeper(rt, me, 3, t0, 2s, true);
  sleeper(rt, me, 5, t0, 2500ms, true);
  otpp::send_after(me, 1500ms, tick{4});
  // The test thread's own receive timeout is virtual too (and, at 2.2 s,
  // between the others).
  CHECK(take<woke>().id == 2);
  CHECK(rt.now() - t0 == 1s);
  CHECK(take<tick>().n == 4);
  CHECK(rt.now() - t0 == 1500ms);
  CHECK_FALSE(tp::receive_for<woke>(0ms).has_value()); // nothing else yet
  const woke third = take<woke>();
  CHECK(third.id == 3);
  CHECK(third.at == 2s);
  CHECK_FALSE(tp::receive_for<never>(200ms).has_value());
  CHECK(rt.now() - t0 == 2200ms);
  const woke fifth = take<woke>();
  CHECK(fifth.id == 5);
  CHECK(fifth.at == 2500ms);
  const woke first = take<woke>();
  CHECK(first.id == 1);
  CHECK(first.at == 3s);
  CHECK(rt.now() - t0 == 3s);
}

TEST_CASE("in virtual time timers due at one instant fire in the order they were set",
          "[core][virtual_time]") {
  OTPP_TEST_RUNTIME({.schedulers = 1, .virtual_time = true});
  const auto t0 = rt.now();
  // From the test thread and from a process, interleaved.
  otpp::pid me = tp::self();
  for (int i = 0; i < 10; i += 2) {
    otpp::send_after(me, 1s, tick{i});
    otpp_test::in_process([me, i] { return otpp::send_after(me, 1s, tick{i + 1}).pending(); });
  }
  for (int i = 0; i < 10; ++i)
    CHECK(take<tick>().n == i);
  CHECK(rt.now() - t0 == 1s);
}

TEST_CASE("in virtual time a cancelled timer never fires and the clock does not stop at it",
          "[core][virtual_time]") {
  OTPP_TEST_RUNTIME({.schedulers = 1, .virtual_time = true});
  const auto t0 = rt.now();
  otpp::pid me = tp::self();
  auto t = otpp::send_after(me, 10s, tick{1});
  otpp::send_after(me, 20s, tick{2});
  CHECK(t.pending());
  CHECK(otpp::cancel_timer(t));
  CHECK_FALSE(t.pending());
  CHECK(take<tick>().n == 2);
  CHECK(rt.now() - t0 == 20s);
  CHECK_FALSE(tp::receive_for<tick>(0ms).has_value());
  // A timer cancelled by another process, and one to a process that has
  // ended: neither fires.
  auto doomed = otpp::send_after(me, 5s, tick{3});
  const otpp::pid gone = rt.spawn([] {});
  (void)otpp::testing::expect_exit(gone); // ended (normal, or noproc if before the monitor)
  otpp::send_after(gone, 1s, tick{4});
  CHECK(otpp_test::in_process([doomed] { return otpp::cancel_timer(doomed); }));
  CHECK_FALSE(tp::receive_for<tick>(1min).has_value());
  CHECK(rt.now() - t0 == 20s + 1min);
}

TEST_CASE("in virtual time the clock stands still while the test thread works",
          "[core][virtual_time]") {
  OTPP_TEST_RUNTIME({.schedulers = 1, .virtual_time = true});
  const auto t0 = rt.now();
  sleeper(rt, tp::self(), 1, t0, 1ms);
  // Real time passes on this thread; the runtime's does not, although its
  // only process waits for a millisecond.
  std::this_thread::sleep_for(50ms);
  CHECK(rt.now() == t0);
  CHECK_FALSE(tp::receive_for<woke>(0ms).has_value()); // zero: only looks
  CHECK(rt.now() == t0);
  const woke w = take<woke>(); // now the test thread waits: the time moves
  CHECK(w.at == 1ms);
  // A message sent before a cancel that follows it at once: the timer
  // cannot fire in between, however long the thread takes.
  auto t = otpp::send_after(tp::self(), 1ns, tick{1});
  std::this_thread::sleep_for(20ms);
  CHECK(otpp::cancel_timer(t));
  CHECK_FALSE(tp::receive_for<tick>(1s).has_value());
}

TEST_CASE("in virtual time a blocking call holds the clock until its result is delivered",
          "[core][virtual_time]") {
  OTPP_TEST_RUNTIME({.schedulers = 1, .virtual_time = true});
  const auto t0 = rt.now();
  const otpp::pid me = tp::self();
  rt.spawn([me, t0] {
    const int v = otpp::blocking_call([] {
      std::this_thread::sleep_for(30ms); // real time, on a pool thread
      return 7;
    });
    otpp::send(me, woke{v, runtime_clock::now() - t0});
  });
  sleeper(rt, me, 2, t0, 1ms);
  const woke a = take<woke>();
  CHECK(a.id == 7);
  CHECK(a.at == 0ms); // the 1 ms sleep did not end while the call ran
  const woke b = take<woke>();
  CHECK(b.id == 2);
  CHECK(b.at == 1ms);
}

TEST_CASE("in virtual time run() waits for sleeping processes without holding the clock",
          "[core][virtual_time]") {
  OTPP_TEST_RUNTIME({.schedulers = 1, .virtual_time = true});
  const auto t0 = rt.now();
  std::atomic<int> done{0};
  for (int i = 1; i <= 3; ++i)
    rt.spawn([&done, i] {
      tp::sleep_for(i * 1h);
      done.fetch_add(1);
    });
  CHECK(rt.run() == 0); // the test thread's process is not waited for
  CHECK(done.load() == 3);
  CHECK(rt.now() - t0 == 3h);
  // And it holds the clock again: a timer set now waits for its receive.
  otpp::send_after(tp::self(), 1ms, tick{1});
  std::this_thread::sleep_for(10ms);
  CHECK(rt.now() - t0 == 3h);
  CHECK(take<tick>().n == 1);
}

TEST_CASE("virtual time needs one scheduler", "[core][virtual_time]") {
  CHECK_THROWS_WITH(otpp::runtime({.schedulers = 2, .virtual_time = true}),
                    Catch::Contains("virtual_time needs one scheduler"));
  otpp::runtime one({.schedulers = 0, .virtual_time = true});
  CHECK(one.scheduler_count() == 1);
  CHECK(one.virtual_time());
  otpp::runtime real({.schedulers = 1});
  CHECK_FALSE(real.virtual_time());
  // Outside a virtual-time runtime's threads the clock is steady_clock.
  const auto before = std::chrono::steady_clock::now();
  const auto now = runtime_clock::now();
  CHECK(now >= before);
  CHECK(now <= std::chrono::steady_clock::now());
}

TEST_CASE("stress: in virtual time many processes with random timeouts wake in deadline order at "
          "their exact times, run after run",
          "[core][virtual_time][stress]") {
  std::mt19937 rng(20261206);
  for (int round = 0; round < 30; ++round) {
    OTPP_TEST_RUNTIME({.schedulers = 1, .virtual_time = true});
    const auto t0 = rt.now();
    const otpp::pid me = tp::self();
    std::uniform_int_distribution<int> ms(0, 400);
    const int n = 48;
    std::vector<runtime_clock::duration> due(n);
    for (int i = 0; i < n; ++i) {
      due[static_cast<std::size_t>(i)] = std::chrono::milliseconds(ms(rng));
      if (i % 3 == 0)
        otpp::send_after(me, due[static_cast<std::size_t>(i)], tick{i});
      else
        sleeper(rt, me, i, t0, due[static_cast<std::size_t>(i)], i % 3 == 1);
    }
    runtime_clock::duration last{0};
    for (int k = 0; k < n; ++k) {
      int id = 0;
      runtime_clock::duration at{};
      tp::receive(
          [&](const woke& w) {
            id = w.id;
            at = w.at;
          },
          [&](const tick& t) {
            id = t.n;
            at = rt.now() - t0;
          },
          otpp::after(forever, [] { throw std::runtime_error("nothing came"); }));
      REQUIRE(at == due[static_cast<std::size_t>(id)]);
      REQUIRE(at >= last);
      last = at;
    }
  }
}

} // namespace OTPP_TEST_FILE
