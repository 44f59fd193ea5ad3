// Tasks under load on three schedulers: many owners start tasks, cancel
// some while they finish, wait for the rest, drop handles, and are killed
// with tasks in flight; repeated rounds. Every task ends, every result
// reaches its owner exactly once, no process is left over.
// Distributed under the Boost Software License, Version 1.0.
#include <otpp/behaviour/task.hpp>
#include <otpp/behaviour/task_stream.hpp>

#include "otpp_test.hpp"

#include <otpp/core/monitor.hpp>

#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <memory>
#include <numeric>
#include <vector>

namespace OTPP_TEST_FILE {

using namespace std::chrono_literals;
namespace tp = otpp::this_process;

namespace {
struct owner_done {
  long sum;
  long results;
  long cancelled_running;
};
} // namespace

TEST_CASE("task stress: owners cancel, wait and drop tasks while they finish, and die with tasks "
          "in flight",
          "[stress][task]") {
  OTPP_TEST_RUNTIME({.schedulers = 3});
  const otpp::pid test = tp::self();
  constexpr int owners = 6, per_owner = 40, rounds = 30;
  for (int round = 0; round < rounds; ++round) {
    auto ran = std::make_shared<std::atomic<long>>(0);
    for (int o = 0; o < owners; ++o)
      otpp::spawn([test, ran, o] {
        std::vector<otpp::task<long>> ts;
        for (int i = 0; i < per_owner; ++i)
          ts.push_back(otpp::async_nolink([ran, i] {
            if (i % 5 == 0)
              tp::yield();
            ran->fetch_add(1);
            return static_cast<long>(i);
          }));
        owner_done d{0, 0, 0};
        for (int i = 0; i < per_owner; ++i) {
          auto& t = ts[static_cast<std::size_t>(i)];
          if ((i + o) % 4 == 0) {
            d.cancelled_running += t.cancel() ? 1 : 0; // racing with its end
          } else if ((i + o) % 4 == 1) {
            t = otpp::task<long>(); // dropped
          } else {
            auto r = t.wait();
            if (r.ok()) {
              d.sum += r.value();
              ++d.results;
            }
          }
        }
        otpp::send(test, d);
      });
    long results = 0;
    for (int o = 0; o < owners; ++o) {
      auto d = otpp_test::expect<owner_done>();
      results += d.results;
      CHECK(d.cancelled_running <= per_owner);
    }
    CHECK(results == owners * per_owner / 2); // every waited task gave its value
    // An owner killed with tasks in flight: they all end.
    otpp::spawned_monitor victim = otpp::spawn_monitor([] {
      std::vector<otpp::task<void>> ts;
      for (int i = 0; i < 20; ++i)
        ts.push_back(otpp::async([] { otpp_test::wait_forever(); }));
      otpp_test::wait_forever();
    });
    while (rt.process_count() < 21) // the victim and its 20 tasks
      tp::sleep_for(1ms);
    otpp::kill(victim.pid);
    CHECK(otpp_test::down_reason(victim.monitor) == otpp::exit_reason::killed());
    // Nothing is left but the test's own (scoped) process.
    const auto deadline = std::chrono::steady_clock::now() + otpp_test::patience;
    while (rt.process_count() > 0 && std::chrono::steady_clock::now() < deadline)
      tp::sleep_for(1ms);
    CHECK(rt.process_count() == 0);
  }
  // async_stream under load: every item once, the bound kept.
  std::vector<int> items(2000);
  std::iota(items.begin(), items.end(), 1);
  auto results = otpp::async_stream(items, [](int x) { return long{x}; }, {.max_concurrency = 16});
  long sum = 0;
  for (auto& r : results)
    sum += r.value();
  CHECK(sum == 2000L * 2001L / 2);
}

} // namespace OTPP_TEST_FILE
