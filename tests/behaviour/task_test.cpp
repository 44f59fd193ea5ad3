// Tasks (Cloud Haskell's Async, Elixir's Task): results, exceptions,
// cancel, timeouts, owner death, wait_any / wait_all, async_stream, the
// task supervisor; on one and on several schedulers.
// Distributed under the Boost Software License, Version 1.0.
#include <otpp/behaviour/task.hpp>
#include <otpp/behaviour/task_stream.hpp>
#include <otpp/behaviour/task_supervisor.hpp>

#include "otpp_test.hpp"

#include <otpp/core/monitor.hpp>

#include <catch2/catch.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <future>
#include <memory>
#include <numeric>
#include <stdexcept>
#include <string>
#include <vector>

namespace OTPP_TEST_FILE {

using namespace std::chrono_literals;
namespace tp = otpp::this_process;
using otpp::exit_reason;
using otpp_test::expect;

namespace {
struct disk_full : std::runtime_error {
  using std::runtime_error::runtime_error;
};
struct started {
  otpp::pid who;
};
struct survived {};
struct owner_is {
  otpp::pid who;
};
// A task body that tells `test` its pid, then waits until it is killed.
auto report_then_wait(otpp::pid test) {
  return [test] {
    otpp::send(test, started{tp::self()});
    otpp_test::wait_forever();
  };
}
} // namespace

TEST_CASE("task: async runs f in its own process and wait returns its value", "[task]") {
  const unsigned n = GENERATE(1u, 3u);
  OTPP_TEST_RUNTIME({.schedulers = n});
  auto t = otpp::async([] { return std::string("forty-two"); });
  CHECK(t.pid() != tp::self());
  CHECK(t.pending());
  CHECK(t.get() == "forty-two");
  CHECK_FALSE(t.pending());
  CHECK_THROWS_AS(t.wait(), std::logic_error);
  auto v = otpp::async([] {}); // void tasks
  CHECK(v.wait().ok());
  // Only the owner may wait: the result arrives in its mailbox.
  auto mine = std::make_shared<otpp::task<int>>(otpp::async([] { return 1; }));
  const bool refused = otpp_test::in_process([mine] {
    try {
      mine->wait();
      return false;
    } catch (const std::logic_error& e) {
      return std::string(e.what()).find("only the process that started") != std::string::npos;
    }
  });
  CHECK(refused);
  CHECK(mine->get() == 1);
}

TEST_CASE("task: an exception in a nolink task reaches the waiter with its type and message",
          "[task]") {
  const unsigned n = GENERATE(1u, 2u);
  OTPP_TEST_RUNTIME({.schedulers = n});
  auto t = otpp::async_nolink([]() -> int { throw disk_full("no space left"); });
  auto r = t.wait();
  REQUIRE_FALSE(r.ok());
  CHECK_THAT(r.error().to_string(), Catch::Contains("disk_full") && Catch::Contains("no space"));
  CHECK_THROWS_AS(r.value(), disk_full); // the same exception, by its type
  try {
    (void)r.value();
  } catch (const disk_full& e) {
    CHECK(std::string(e.what()) == "no space left");
  }
}

TEST_CASE("task: a crash in a linked task takes the owner down with the task's reason", "[task]") {
  OTPP_TEST_RUNTIME({.schedulers = 2});
  otpp::spawned_monitor owner = otpp::spawn_monitor([] {
    auto t = otpp::async([]() -> int { throw disk_full("boom"); });
    t.wait();
  });
  exit_reason r = otpp_test::down_reason(owner.monitor);
  CHECK_THAT(r.to_string(), Catch::Contains("disk_full"));
}

TEST_CASE("task: cancel kills the task and its result never arrives", "[task]") {
  const unsigned n = GENERATE(1u, 2u);
  OTPP_TEST_RUNTIME({.schedulers = n});
  const otpp::pid test = tp::self();
  auto t = otpp::async([test] {
    otpp::send(test, started{tp::self()});
    otpp_test::wait_forever();
    return 1;
  });
  const otpp::pid worker = expect<started>().who;
  otpp::ref m = otpp::monitor(worker);
  CHECK(t.cancel()); // it was running; the owner (linked) survives the kill
  CHECK(otpp_test::down_reason(m) == exit_reason::killed());
  CHECK_FALSE(t.pending());
  // A task that finished before the cancel: its result is dropped too.
  auto quick = otpp::async([] { return 7; });
  while (otpp::info(quick.pid()).status != otpp::process_status::exited)
    tp::sleep_for(1ms);
  CHECK_FALSE(quick.cancel());
  CHECK(otpp_test::nothing<otpp::task_done<int>>(20ms));
}

TEST_CASE("task: wait_for times out and the task goes on, poll", "[task]") {
  OTPP_TEST_RUNTIME({.schedulers = 2});
  auto gate = std::make_shared<std::promise<void>>();
  std::shared_future<void> opened = gate->get_future().share();
  auto t = otpp::async_nolink([opened] {
    while (opened.wait_for(0s) != std::future_status::ready)
      tp::sleep_for(1ms);
    return 5;
  });
  CHECK_FALSE(t.wait_for(20ms).has_value());
  CHECK_FALSE(t.poll().has_value());
  CHECK(t.pending());
  gate->set_value();
  CHECK(t.get() == 5);
}

TEST_CASE("task: a dropped handle kills its task, the owner's end kills its tasks, detach keeps "
          "one",
          "[task]") {
  const unsigned n = GENERATE(1u, 2u);
  OTPP_TEST_RUNTIME({.schedulers = n});
  const otpp::pid test = tp::self();
  {
    auto t = otpp::async_nolink(report_then_wait(test));
    otpp::pid w = expect<started>().who;
    otpp::ref m = otpp::monitor(w);
    t = otpp::task<void>(); // dropped
    CHECK(otpp_test::down_reason(m) == exit_reason::killed());
  }
  // An owner that ends (normally) leaves no task running.
  otpp::spawn([test] {
    otpp::send(test, owner_is{tp::self()});
    auto a = otpp::async(report_then_wait(test));
    auto b = otpp::async_nolink(report_then_wait(test));
    tp::receive<survived>(); // until told
  });
  otpp::pid a = expect<started>().who, b = expect<started>().who;
  otpp::ref ma = otpp::monitor(a), mb = otpp::monitor(b);
  otpp::send(expect<owner_is>().who, survived{}); // the owner returns
  CHECK_FALSE(otpp_test::down_reason(ma).is_normal());
  CHECK_FALSE(otpp_test::down_reason(mb).is_normal());
  // detach: the task runs on after its handle.
  {
    auto d = otpp::async_nolink([test] {
      tp::sleep_for(20ms);
      otpp::send(test, survived{});
    });
    d.detach();
  }
  expect<survived>();
}

TEST_CASE("task: wait_any returns the first to finish, wait_all every result in order", "[task]") {
  const unsigned n = GENERATE(1u, 3u);
  OTPP_TEST_RUNTIME({.schedulers = n});
  std::vector<otpp::task<int>> ts;
  for (int ms : {60, 5, 30})
    ts.push_back(otpp::async_nolink([ms] {
      tp::sleep_for(std::chrono::milliseconds(ms));
      return ms;
    }));
  auto [i, r] = otpp::wait_any(ts);
  CHECK(i == 1);
  CHECK(r.value() == 5);
  auto all = otpp::wait_all(ts);
  REQUIRE(all.size() == 3);
  CHECK(all[0].value() == 60);
  CHECK(all[1].error() == exit_reason::noproc()); // taken by wait_any already
  CHECK(all[2].value() == 30);
}

TEST_CASE("task: async_stream runs at most N at once, results in order or as they finish",
          "[task][async_stream]") {
  const unsigned n = GENERATE(1u, 3u);
  OTPP_TEST_RUNTIME({.schedulers = n});
  auto running = std::make_shared<std::atomic<int>>(0);
  auto peak = std::make_shared<std::atomic<int>>(0);
  std::vector<int> items(200);
  std::iota(items.begin(), items.end(), 0);
  auto square = [running, peak](int x) {
    const int now = ++*running;
    int seen = peak->load();
    while (now > seen && !peak->compare_exchange_weak(seen, now)) {
    }
    tp::sleep_for(std::chrono::milliseconds(x % 3));
    --*running;
    if (x == 13)
      throw std::runtime_error("unlucky");
    return x * x;
  };
  auto results = otpp::async_stream(items, square, {.max_concurrency = 8});
  REQUIRE(results.size() == 200);
  CHECK(peak->load() <= 8);
  CHECK(peak->load() >= 2);
  for (int x = 0; x < 200; ++x) {
    const auto& r = results[static_cast<std::size_t>(x)];
    if (x == 13)
      CHECK_THAT(r.error().to_string(), Catch::Contains("unlucky"));
    else
      CHECK(r.ok());
  }
  CHECK(results[12].exception() == nullptr);
  CHECK(otpp::task_result<int>(results[199]).ok());
  // Unordered: as they finish (a slow first item comes last).
  std::vector<int> two{40, 1};
  auto fin = otpp::async_stream(two,
                                [](int ms) {
                                  tp::sleep_for(std::chrono::milliseconds(ms));
                                  return ms;
                                },
                                {.max_concurrency = 2, .ordered = false});
  REQUIRE(fin.size() == 2);
  CHECK(fin[0].value() == 1);
  CHECK(fin[1].value() == 40);
}

TEST_CASE("task: async_stream kills an item past its timeout, the others finish",
          "[task][async_stream]") {
  OTPP_TEST_RUNTIME({.schedulers = 2});
  std::vector<int> items{1, 500, 2, 3};
  auto results = otpp::async_stream(items,
                                    [](int ms) {
                                      tp::sleep_for(std::chrono::milliseconds(ms));
                                      return ms;
                                    },
                                    {.max_concurrency = 2, .timeout = 100ms});
  REQUIRE(results.size() == 4);
  CHECK(results[0].value() == 1);
  CHECK(results[1].error() == exit_reason::timeout());
  CHECK(results[2].value() == 2);
  CHECK(results[3].value() == 3);
}

TEST_CASE("task: tasks under a task supervisor never take their caller down, its shutdown ends "
          "them",
          "[task][supervisor]") {
  const unsigned n = GENERATE(1u, 2u);
  OTPP_TEST_RUNTIME({.schedulers = n});
  const otpp::pid test = tp::self();
  otpp_test::report_guard quiet([](const otpp::report&) {}); // (the supervisor reports the crash)
  auto sup = otpp::start(otpp::task_supervisor_spec("tasks"));
  auto bad = otpp::async_nolink(sup, []() -> int { throw disk_full("sector"); });
  CHECK_THROWS_AS(bad.get(), disk_full);
  auto good = otpp::async_nolink(sup, [] { return 3; });
  CHECK(good.get() == 3);
  auto waiting = otpp::async_nolink(sup, report_then_wait(test));
  expect<started>();
  CHECK(otpp::which_children(sup).size() == 1); // finished tasks are not kept
  otpp::stop(sup, exit_reason::shutdown());
  auto r = waiting.wait();
  CHECK(r.error() == exit_reason::shutdown());
}

} // namespace OTPP_TEST_FILE
