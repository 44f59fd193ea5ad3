#include <otpp/core/blocking.hpp>

#include "otpp_test.hpp"

#include <catch2/catch.hpp>
#include <fmt/format.h>

#include <atomic>
#include <chrono>
#include <exception>
#include <future>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>

namespace OTPP_TEST_FILE {

using namespace std::chrono_literals;
namespace tp = otpp::this_process;
using otpp::exit_reason;

namespace {
struct got {
  int value;
};
struct failed {
  std::string what;
};
struct started {};
struct tick {};
struct tag {
  int n;
};
struct bad_disk : std::runtime_error {
  using std::runtime_error::runtime_error;
};
} // namespace

TEST_CASE("blocking_call suspends only its caller: another process on the scheduler runs meanwhile",
          "[core][blocking]") {
  const unsigned n = GENERATE(1u, 2u);
  OTPP_TEST_RUNTIME({.schedulers = n});
  const otpp::pid test = sp.self();
  // The call waits for a promise that only a process of the same scheduler
  // keeps: it returns only if that process ran while the call blocked.
  auto gate = std::make_shared<std::promise<void>>();
  std::shared_future<void> opened = gate->get_future().share();
  rt.spawn(
      [test, opened] {
        const int v = otpp::blocking_call(
            [opened] { return opened.wait_for(30s) == std::future_status::ready ? 42 : -1; });
        otpp::send(test, got{v});
      },
      {.scheduler = 0});
  rt.spawn(
      [gate] {
        tp::sleep_for(5ms);
        gate->set_value();
      },
      {.scheduler = 0});
  CHECK(otpp_test::expect<got>().value == 42);
}

TEST_CASE("blocking_call rethrows the call's exception in the caller", "[core][blocking]") {
  OTPP_TEST_RUNTIME({.schedulers = 1});
  const otpp::pid test = sp.self();
  rt.spawn([test] {
    try {
      otpp::blocking_call([]() -> int { throw bad_disk("sector 7"); });
    } catch (const bad_disk& e) {
      otpp::send(test, failed{e.what()});
    }
  });
  CHECK(otpp_test::expect<failed>().what == "sector 7");
  // A void call from the test's own (scoped) process works too.
  std::atomic<int> ran{0};
  otpp::blocking_call([&] { ran = 1; });
  CHECK(ran == 1);
}

TEST_CASE("blocking_call: a caller killed while its call is queued leaves, and the call never runs",
          "[core][blocking]") {
  OTPP_TEST_RUNTIME({.schedulers = 1, .blocking_threads = 1});
  const otpp::pid test = sp.self();
  auto release = std::make_shared<std::promise<void>>();
  std::shared_future<void> released = release->get_future().share();
  auto second_ran = std::make_shared<std::atomic<bool>>(false);
  // The only pool thread is held by the first call.
  rt.spawn([test, released] {
    otpp::send(test, started{});
    otpp::blocking_call([released] { released.wait_for(30s); });
    otpp::send(test, got{1});
  });
  otpp_test::expect<started>();
  otpp::pid queued;
  otpp::spawned_monitor m = otpp::spawn_monitor(
      [second_ran] { otpp::blocking_call([second_ran] { second_ran->store(true); }); });
  otpp_test::wait_until_waiting(m.pid);
  otpp::exit(m.pid, exit_reason::kill());
  CHECK(otpp_test::down_reason(m.monitor) == exit_reason::killed());
  release->set_value();
  CHECK(otpp_test::expect<got>().value == 1);
  // The pool's one thread is free and took nothing else: a new call runs now.
  CHECK(otpp::blocking_call([] { return 7; }) == 7);
  CHECK_FALSE(second_ran->load());
}

TEST_CASE("blocking_call: a caller killed while its call runs ends only after the call returned",
          "[core][blocking]") {
  const unsigned n = GENERATE(1u, 2u);
  OTPP_TEST_RUNTIME({.schedulers = n});
  auto returned = std::make_shared<std::atomic<bool>>(false);
  auto running = std::make_shared<std::promise<void>>();
  std::future<void> is_running = running->get_future();
  otpp::spawned_monitor m = otpp::spawn_monitor([returned, running] {
    char frame[64] = "the caller's frame"; // what the call refers to
    otpp::blocking_call([&frame, returned, running] {
      running->set_value();
      std::this_thread::sleep_for(100ms);
      frame[0] = 'T'; // still alive: the caller waits for the call
      returned->store(true);
    });
  });
  REQUIRE(is_running.wait_for(30s) == std::future_status::ready);
  otpp::exit(m.pid, exit_reason::kill());
  CHECK(otpp_test::down_reason(m.monitor) == exit_reason::killed());
  CHECK(returned->load()); // the down came after the call returned
}

TEST_CASE("blocking_call without a pool fails with a clear error", "[core][blocking]") {
  OTPP_TEST_RUNTIME({.schedulers = 1, .blocking_threads = 0});
  try {
    otpp::blocking_call([] { return 1; });
    FAIL("no error");
  } catch (const otpp::blocking_unavailable& e) {
    CHECK(std::string(e.what()).find("blocking_threads is 0") != std::string::npos);
  }
}

TEST_CASE("async_blocking_call delivers its result as a message while the process serves others",
          "[core][blocking]") {
  OTPP_TEST_RUNTIME({.schedulers = 1});
  const otpp::pid test = sp.self();
  auto gate = std::make_shared<std::promise<void>>();
  std::shared_future<void> opened = gate->get_future().share();
  otpp::pid worker = rt.spawn([test, opened] {
    otpp::async_blocking_call(
        [opened] {
          opened.wait_for(30s);
          return 5;
        },
        otpp::to_mailbox(tag{1}));
    otpp::async_blocking_call([]() -> int { throw bad_disk("gone"); }, otpp::to_mailbox(tag{2}));
    int results = 0;
    while (results < 2)
      tp::receive([&](tick&) { otpp::send(test, tick{}); },
                  [&](otpp::io_result<tag, std::exception_ptr, int>& r) {
                    ++results;
                    if (r.tag.n == 1)
                      otpp::send(test, got{std::get<1>(r.args)});
                    else
                      try {
                        std::rethrow_exception(std::get<0>(r.args));
                      } catch (const bad_disk& e) {
                        otpp::send(test, failed{e.what()});
                      }
                  });
  });
  // The worker answers while its first call is still blocked.
  otpp::send(worker, tick{});
  otpp_test::expect<tick>();
  CHECK(otpp_test::expect<failed>().what == "gone");
  gate->set_value();
  CHECK(otpp_test::expect<got>().value == 5);
}

} // namespace OTPP_TEST_FILE
