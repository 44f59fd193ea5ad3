// Parking: a process that waits long enough in a receive
// (runtime_options::hibernate_after), or hibernates, has the used part of
// its stack copied into a compact buffer and its stack pages given back;
// the bytes return to the same addresses before it runs again.
// Distributed under the Boost Software License, Version 1.0.
#include <otpp/core/runtime.hpp>

#include "death_test.hpp"
#include "otpp_test.hpp"

#include <otpp/core/asio.hpp>
#include <otpp/core/blocking.hpp>
#include <otpp/core/metrics.hpp>
#include <otpp/core/monitor.hpp>
#include <otpp/core/process.hpp>

#include <boost/asio/steady_timer.hpp>

#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdint>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <vector>

namespace OTPP_TEST_FILE {

using namespace std::chrono_literals;
namespace tp = otpp::this_process;
using otpp_test::patience;

namespace {

struct wake {};
struct stop {};
struct checked {
  int id;
  bool intact;
};
struct never {};

// Wait (bounded) until `p` is parked; true if it is.
bool wait_parked(const otpp::pid& p) {
  const auto until = std::chrono::steady_clock::now() + patience;
  while (otpp::info(p).stack_parked == 0) {
    if (std::chrono::steady_clock::now() > until)
      return false;
    std::this_thread::sleep_for(1ms);
  }
  return true;
}

// A value that depends on the process and on the place: what a stack holds.
char pattern(int id, int k) {
  return static_cast<char>(k * 7 + id * 13 + 1);
}

// Fill a local array `depth` frames deep, keep a pointer to it, and wait
// for `wake` `rounds` times; after each, report whether the array (read
// through the pointer taken before) and a string local are intact.
[[gnu::noinline]] void hold_and_wait(otpp::pid to, int id, int depth, int rounds) {
  volatile char local[200];
  for (int k = 0; k < 200; ++k)
    local[k] = pattern(id, k + depth);
  if (depth > 0) {
    hold_and_wait(to, id, depth - 1, rounds);
  } else {
    const std::string text = "a string of process " + std::to_string(id);
    volatile char* through = local;
    for (int r = 0; r < rounds; ++r) {
      tp::receive<wake>();
      bool intact = text == "a string of process " + std::to_string(id);
      for (int k = 0; k < 200; ++k)
        intact = intact && through[k] == pattern(id, k);
      otpp::send(to, checked{id, intact});
    }
  }
  for (int k = 0; k < 200; ++k)
    if (local[k] != pattern(id, k + depth))
      otpp::send(to, checked{id, false}); // a frame further up was damaged
}

} // namespace

TEST_CASE("a process that waited hibernate_after in a receive is parked: its stack pages are "
          "given back, and it wakes with every local where it was",
          "[core][park]") {
  OTPP_TEST_RUNTIME({.schedulers = 2, .hibernate_after = 5ms});
  const otpp::pid p = rt.spawn([to = sp.self()] { hold_and_wait(to, 1, 8, 3); });
  for (int round = 0; round < 3; ++round) {
    REQUIRE(wait_parked(p));
    const otpp::process_info i = otpp::info(p);
    CHECK(i.stack_resident == 0);
    CHECK(i.stack_parked > 8 * 200);          // the eight frames of arrays at least
    CHECK(i.stack_parked < i.stack_size / 2); // the part in use only
    CHECK(i.memory == sizeof(otpp::detail::process) + i.stack_parked);
    CHECK(i.waiting_on == "receive");
    otpp::send(p, wake{});
    const auto c = otpp::testing::expect_message<checked>(patience);
    CHECK(c.intact);
    // Running again: no longer parked.
    CHECK(otpp::info(p).stack_parked == 0);
  }
  const otpp::exit_reason r = otpp::testing::expect_exit(p, patience);
  CHECK((r == otpp::exit_reason::normal() || r == otpp::exit_reason::noproc()));
  CHECK_FALSE(tp::receive_for<checked>(0ms).has_value()); // no frame was damaged
}

TEST_CASE("without hibernate_after a waiting process is never parked", "[core][park]") {
  OTPP_TEST_RUNTIME({.schedulers = 1});
  const otpp::pid p = rt.spawn([to = sp.self()] { hold_and_wait(to, 2, 2, 1); });
  otpp::testing::wait_until_waiting(p);
  std::this_thread::sleep_for(50ms);
  CHECK(otpp::info(p).stack_parked == 0);
  CHECK(otpp::info(p).stack_resident > 0);
  otpp::send(p, wake{});
  CHECK(otpp::testing::expect_message<checked>(patience).intact);
}

TEST_CASE("spawn_options::hibernate_after sets one process's threshold, or keeps it from parking",
          "[core][park]") {
  OTPP_TEST_RUNTIME({.schedulers = 1, .hibernate_after = 2ms});
  const otpp::pid me = sp.self();
  const otpp::pid by_runtime = rt.spawn([me] { hold_and_wait(me, 6, 1, 1); });
  const otpp::pid never_parks =
      rt.spawn([me] { hold_and_wait(me, 7, 1, 1); }, {.hibernate_after = 0ms});
  const auto t0 = std::chrono::steady_clock::now();
  const otpp::pid later =
      rt.spawn([me] { hold_and_wait(me, 8, 1, 1); }, {.hibernate_after = 400ms});
  REQUIRE(wait_parked(by_runtime));
  REQUIRE(wait_parked(later));
  // Not before its own threshold (its wait began after t0).
  CHECK(std::chrono::steady_clock::now() - t0 >= 400ms);
  CHECK(otpp::info(never_parks).stack_parked == 0);
  CHECK(otpp::info(never_parks).stack_resident > 0);
  for (const auto& p : {by_runtime, never_parks, later})
    otpp::send(p, wake{});
  for (int i = 0; i < 3; ++i)
    CHECK(otpp::testing::expect_message<checked>(patience).intact);
}

TEST_CASE("spawn_options::hibernate_after parks a process of a runtime that parks nothing else",
          "[core][park]") {
  OTPP_TEST_RUNTIME({.schedulers = 2});
  const otpp::pid me = sp.self();
  const otpp::pid parks = rt.spawn([me] { hold_and_wait(me, 9, 3, 2); }, {.hibernate_after = 3ms});
  const otpp::pid stays = rt.spawn([me] { hold_and_wait(me, 10, 3, 1); });
  for (int r = 0; r < 2; ++r) {
    REQUIRE(wait_parked(parks));
    otpp::send(parks, wake{});
    CHECK(otpp::testing::expect_message<checked>(patience).intact);
  }
  CHECK(otpp::info(stays).stack_parked == 0);
  otpp::send(stays, wake{});
  CHECK(otpp::testing::expect_message<checked>(patience).intact);
}

TEST_CASE("hibernate parks the process at once, and a message wakes it with its stack intact",
          "[core][park]") {
  OTPP_TEST_RUNTIME({.schedulers = 1});
  const otpp::pid p = rt.spawn([to = sp.self()] {
    volatile char local[500];
    for (int k = 0; k < 500; ++k)
      local[k] = pattern(3, k);
    for (int r = 0; r < 2; ++r) {
      tp::hibernate();
      tp::receive<wake>();
      bool intact = true;
      for (int k = 0; k < 500; ++k)
        intact = intact && local[k] == pattern(3, k);
      otpp::send(to, checked{3, intact});
    }
  });
  for (int r = 0; r < 2; ++r) {
    REQUIRE(wait_parked(p));
    CHECK(otpp::info(p).waiting_on == "hibernate");
    CHECK(otpp::info(p).stack_resident == 0);
    const otpp::runtime_statistics st = rt.statistics();
    CHECK(st.parked == 1);
    CHECK(st.parked_bytes == otpp::info(p).stack_parked);
    CHECK_THAT(rt.metrics().render(), Catch::Contains("otpp_processes_parked 1\n"));
    otpp::send(p, wake{});
    CHECK(otpp::testing::expect_message<checked>(patience).intact);
  }
}

TEST_CASE("a parked receive with a timeout still times out, then runs on", "[core][park]") {
  OTPP_TEST_RUNTIME({.schedulers = 1, .hibernate_after = 2ms});
  const otpp::pid p = rt.spawn([to = sp.self()] {
    volatile char local[100];
    for (int k = 0; k < 100; ++k)
      local[k] = pattern(4, k);
    const bool timed_out = !tp::receive_for<never>(300ms).has_value();
    bool intact = timed_out;
    for (int k = 0; k < 100; ++k)
      intact = intact && local[k] == pattern(4, k);
    otpp::send(to, checked{4, intact});
  });
  REQUIRE(wait_parked(p));
  CHECK(otpp::testing::expect_message<checked>(patience).intact);
}

TEST_CASE("an exit signal to a parked process unwinds it on its own stack: its destructors run",
          "[core][park]") {
  OTPP_TEST_RUNTIME({.schedulers = 2, .hibernate_after = 2ms});
  struct on_exit {
    otpp::pid to;
    ~on_exit() { otpp::send(to, checked{5, true}); }
  };
  const otpp::pid p = rt.spawn([to = sp.self()] {
    on_exit guard{to};
    tp::receive<never>();
  });
  const otpp::ref m = otpp::monitor(p);
  REQUIRE(wait_parked(p));
  otpp::exit(p, otpp::exit_reason::kill());
  CHECK(otpp::testing::expect_message<checked>(patience).id == 5);
  const std::optional<otpp::exit_reason> reason = tp::receive(
      otpp::when([m](const otpp::down& d) { return d.monitor == m; },
                 [](otpp::down& d) -> std::optional<otpp::exit_reason> { return d.reason; }),
      otpp::after(patience, []() -> std::optional<otpp::exit_reason> { return std::nullopt; }));
  REQUIRE(reason.has_value());
  CHECK(*reason == otpp::exit_reason::killed());
}

TEST_CASE("a runtime that shuts down with parked processes unwinds each of them", "[core][park]") {
  static std::atomic<int> unwound{0};
  unwound = 0;
  struct on_exit {
    ~on_exit() { unwound.fetch_add(1); }
  };
  {
    otpp::runtime rt({.schedulers = 2, .hibernate_after = 1ms});
    std::vector<otpp::pid> ps;
    for (int i = 0; i < 50; ++i)
      ps.push_back(rt.spawn([] {
        on_exit guard;
        tp::receive<never>();
      }));
    for (const auto& p : ps)
      REQUIRE(wait_parked(p));
    rt.shutdown();
    CHECK(rt.run() == 0);
  }
  CHECK(unwound.load() == 50);
}

TEST_CASE("a process waiting on a blocking call or an Asio operation is never parked: what they "
          "write into its stack arrives",
          "[core][park]") {
  OTPP_TEST_RUNTIME({.schedulers = 1, .blocking_threads = 1, .hibernate_after = 1ms});
  std::atomic<bool> release{false};
  const otpp::pid p = rt.spawn([to = sp.self(), &release] {
    volatile int out = 0; // on the process's stack, written by the pool thread
    otpp::blocking_call([&] {
      while (!release.load())
        std::this_thread::sleep_for(1ms);
      out = 42;
    });
    boost::asio::steady_timer t(tp::executor(), 30ms);
    t.async_wait(otpp::use_process);
    otpp::send(to, checked{out, otpp::info(tp::self()).stack_parked == 0});
  });
  const auto until = std::chrono::steady_clock::now() + patience;
  while (otpp::info(p).waiting_on != "blocking call" && std::chrono::steady_clock::now() < until)
    std::this_thread::sleep_for(1ms);
  for (int i = 0; i < 30; ++i) {
    std::this_thread::sleep_for(1ms);
    CHECK(otpp::info(p).stack_parked == 0);
  }
  release = true;
  const auto c = otpp::testing::expect_message<checked>(patience);
  CHECK(c.id == 42);
  CHECK(c.intact);
}

TEST_CASE("stacks without guard pages: canaries stay right while neighbours park and wake",
          "[core][park]") {
  // Stacks next to each other in a slab, each with a canary in the top
  // bytes of the one below: a parked stack gives that page back, a stack
  // spawned above a parked one finds no canary there, and a wake-up puts
  // the canaries back. A canary taken for broken would abort the program.
  OTPP_TEST_RUNTIME({.schedulers = 1, .guard_pages = false, .hibernate_after = 1ms});
  const otpp::pid me = sp.self();
  std::vector<otpp::pid> first;
  for (int i = 0; i < 64; ++i)
    first.push_back(rt.spawn([me, i] { hold_and_wait(me, i, 1, 2); }, {.stack_size = 64 * 1024}));
  for (const auto& p : first)
    REQUIRE(wait_parked(p));
  // Above the parked ones: run switch after switch (a canary check each).
  std::vector<otpp::pid> second;
  for (int i = 64; i < 128; ++i)
    second.push_back(rt.spawn(
        [me, i] {
          for (int r = 0; r < 20; ++r)
            tp::yield();
          hold_and_wait(me, i, 1, 1);
        },
        {.stack_size = 64 * 1024}));
  for (const auto& p : first)
    otpp::send(p, wake{});
  for (const auto& p : second)
    otpp::send(p, wake{});
  int intact = 0;
  for (int i = 0; i < 128; ++i)
    intact += otpp::testing::expect_message<checked>(patience).intact ? 1 : 0;
  CHECK(intact == 128);
  for (const auto& p : first) // parked again, then the last round
    REQUIRE(wait_parked(p));
  for (const auto& p : first)
    otpp::send(p, wake{});
  for (int i = 0; i < 64; ++i)
    intact += otpp::testing::expect_message<checked>(patience).intact ? 1 : 0;
  CHECK(intact == 192);
}

TEST_CASE("stress: processes park and wake while messages race with the sweeps, on two "
          "schedulers, their stacks intact each time",
          "[core][park][stress]") {
  for (int run = 0; run < 5; ++run) {
    OTPP_TEST_RUNTIME({.schedulers = 2,
                       .guard_pages = run % 2 == 0,
                       .hibernate_after = std::chrono::milliseconds(1 + run % 2)});
    constexpr int n = 200;
    constexpr int rounds = 6;
    const otpp::pid me = sp.self();
    std::vector<otpp::pid> ps;
    for (int i = 0; i < n; ++i)
      ps.push_back(rt.spawn([me, i] { hold_and_wait(me, i, i % 5, rounds); }));
    std::mt19937 rng(static_cast<unsigned>(run));
    int intact = 0;
    for (int r = 0; r < rounds; ++r) {
      // Wake each after a random pause of 0-3 ms: some parked, some not
      // yet, some being swept as the message comes.
      for (const auto& p : ps) {
        if (rng() % 8 == 0)
          std::this_thread::sleep_for(std::chrono::microseconds(rng() % 3000));
        otpp::send(p, wake{});
      }
      for (int i = 0; i < n; ++i)
        intact += otpp::testing::expect_message<checked>(patience).intact ? 1 : 0;
    }
    CHECK(intact == n * rounds);
  }
}

// Death tests (plain builds: the sanitizers watch stacks and SIGSEGV
// themselves, and TSan does not follow a fork of this kind).
#if !defined(OTPP_DETAIL_ASAN) && !defined(OTPP_DETAIL_TSAN)

using otpp_test::big_frame;
using otpp_test::in_child;

TEST_CASE("an overflow into the parked stack below (no guard pages) is still found by the "
          "canary",
          "[core][park][overflow]") {
  const otpp_test::death d = in_child([] {
    otpp::runtime rt({.schedulers = 1, .guard_pages = false, .hibernate_after = 1ms});
    rt.spawn(
        [] {
          // The child's stack is the next one up: this one is below it.
          otpp::spawn(
              [] {
                tp::sleep_for(50ms); // the parent parks meanwhile
                (void)big_frame(64 * 1024);
                tp::yield();
              },
              {.stack_size = 64 * 1024});
          tp::receive<never>();
        },
        {.stack_size = 64 * 1024});
    rt.run();
  });
  CHECK(d.signal == SIGABRT);
  CHECK_THAT(d.err, Catch::Contains("otpp: stack overflow in process <0."));
  CHECK_THAT(d.err, Catch::Contains("canary"));
}

TEST_CASE("a write into a parked process's stack is found when it wakes and stops the program "
          "with a message",
          "[core][park][overflow]") {
  const otpp_test::death d = in_child([] {
    otpp::runtime rt({.schedulers = 1, .hibernate_after = 1ms});
    otpp::scoped_process sp(rt);
    struct where {
      volatile char* at;
    };
    const otpp::pid p = rt.spawn([to = sp.self()] {
      volatile char local[64] = {};
      otpp::send(to, where{local});
      tp::receive<wake>();
      local[0] = 1;
    });
    const where w = otpp::testing::expect_message<where>(patience);
    while (otpp::info(p).stack_parked == 0)
      std::this_thread::sleep_for(1ms);
    w.at[5] = 9; // another thread writes into the parked stack
    otpp::send(p, wake{});
    std::this_thread::sleep_for(10s); // the wake-up aborts first
  });
  CHECK(d.signal == SIGABRT);
  CHECK_THAT(d.err, Catch::Contains("was written while it was parked"));
}

#endif

} // namespace OTPP_TEST_FILE
