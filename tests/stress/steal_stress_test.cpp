// Stress: idle schedulers stealing not-yet-started processes while their
// spawners run, with introspection reading where each process lives, and
// runtime::run() waiting for the last of them.
// Distributed under the Boost Software License, Version 1.0.
#include <otpp/core/runtime.hpp>

#include "otpp_test.hpp"

#include <otpp/core/message.hpp>
#include <otpp/core/process.hpp>
#include <otpp/core/receive.hpp>

#include <catch2/catch.hpp>

#include <atomic>
#include <cstdint>
#include <thread>

namespace OTPP_TEST_FILE {

namespace {

#if defined(OTPP_DETAIL_TSAN) || defined(OTPP_DETAIL_ASAN)
constexpr int rounds = 30;
#else
constexpr int rounds = 200;
#endif

struct partial {
  std::int64_t sum;
};

// Skynet's tree: each inner process spawns 10 children and adds up what
// they send back; a leaf sends its number. The spawner reads each child's
// scheduler right away, while an idle scheduler may be taking it.
void tree(otpp::pid parent, std::int64_t num, std::int64_t size, unsigned schedulers,
          std::atomic<int>& bad_scheduler) {
  if (size == 1) {
    otpp::send(parent, partial{num});
    return;
  }
  const otpp::pid self = otpp::this_process::self();
  const std::int64_t child = size / 10;
  for (std::int64_t i = 0; i < 10; ++i) {
    const std::int64_t n = num + i * child;
    const otpp::pid c = otpp::spawn([self, n, child, schedulers, &bad_scheduler] {
      tree(self, n, child, schedulers, bad_scheduler);
    });
    const auto where = otpp::info(c).scheduler;
    if (where && *where >= schedulers)
      ++bad_scheduler;
  }
  std::int64_t total = 0;
  for (int i = 0; i < 10; ++i)
    total += otpp::this_process::receive<partial>().sum;
  otpp::send(parent, partial{total});
}

} // namespace

TEST_CASE("stress: spawn trees on more schedulers than cores, stolen as they grow, add up",
          "[stress][runtime]") {
  const unsigned n = GENERATE(2u, 4u);
  std::atomic<int> bad_scheduler{0};
  int wrong = 0;
  {
    OTPP_TEST_RUNTIME({.schedulers = n, .watchdog_threshold = std::chrono::milliseconds(0)});
    const otpp::pid me = sp.self();
    constexpr std::int64_t leaves = 1000;
    for (int r = 0; r < rounds; ++r) {
      rt.spawn([me, n, &bad_scheduler] { tree(me, 0, leaves, n, bad_scheduler); });
      if (otpp_test::expect<partial>().sum != leaves * (leaves - 1) / 2)
        ++wrong;
    }
    // Every process ends after it sent its sum: run() sees them all gone.
    CHECK(rt.run() == 0);
    CHECK(rt.process_count() == 0);
    CHECK(rt.processes().empty());
  }
  CHECK(wrong == 0);
  CHECK(bad_scheduler.load() == 0);
}

TEST_CASE("stress: run() returns only after the last of many short processes spread over "
          "schedulers ended",
          "[stress][runtime]") {
  for (int r = 0; r < rounds; ++r) {
    std::atomic<int> ended{0};
    otpp::runtime rt({.schedulers = 3});
    // From a thread that is not a process: spawns go round robin, and each
    // spawns 20 short children that idle schedulers may take.
    for (int i = 0; i < 6; ++i)
      rt.spawn([&ended] {
        for (int k = 0; k < 20; ++k)
          otpp::spawn([&ended] { ++ended; });
        ++ended;
      });
    REQUIRE(rt.run() == 0);
    CHECK(ended.load() == 6 * 21);
    CHECK(rt.process_count() == 0);
  }
}

} // namespace OTPP_TEST_FILE
