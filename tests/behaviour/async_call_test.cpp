#include <otpp/behaviour/async_call.hpp>

#include <otpp/behaviour/server.hpp>

#include "math_server.hpp"
#include "otpp_test.hpp"

// clang++ 14 cannot emit coroutine frames under AddressSanitizer or
// ThreadSanitizer ("Cannot represent a difference across sections", a
// compiler bug fixed in clang 15): those builds run the callback and future
// forms only; g++ and plain clang++ run the coroutine cases too.
#if defined(__clang__) && __clang_major__ < 15 &&                                                  \
    (defined(OTPP_DETAIL_ASAN) || defined(OTPP_DETAIL_TSAN))
#define OTPP_TEST_COROUTINES 0
#else
#define OTPP_TEST_COROUTINES 1
#endif

#if OTPP_TEST_COROUTINES
#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/use_awaitable.hpp>
#endif
#include <boost/asio/bind_executor.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>
#include <catch2/catch.hpp>

#include <chrono>
#include <exception>
#include <future>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace OTPP_TEST_FILE {

using namespace std::chrono_literals;
namespace asio = boost::asio;
namespace tp = otpp::this_process;
using otpp::exit_reason;
using otpp_test::add;
using otpp_test::get_count;
using otpp_test::greet;
using otpp_test::math;
using otpp_test::touch;

namespace {

using math_def = decltype(math());

// A server that never answers `hold` calls.
struct hold {};
[[maybe_unused]] auto holder() {
  return otpp::server<std::vector<otpp::call_ref<int>>>().on_call(
      [](std::vector<otpp::call_ref<int>>& held, otpp::call_ref<int> from, hold) {
        held.push_back(std::move(from));
      });
}

#if OTPP_TEST_COROUTINES
// In the coroutines below, arguments with non-trivial destructors (a
// `greet`, a `named<>`) are named locals, never temporaries: g++ 12 destroys
// a temporary in a full-expression that contains `co_await` twice (a
// compiler bug; clang++ 14 is fine).

// Run the coroutine `f()` on an io_context on the calling (test) thread
// until it completes; rethrow what it threw. A hang fails after `patience`.
template <class F> void run_coroutine(F f) {
  asio::io_context io;
  std::exception_ptr failed;
  bool finished = false;
  asio::co_spawn(io, std::move(f), [&](std::exception_ptr e) {
    failed = std::move(e);
    finished = true;
  });
  io.run_for(otpp_test::patience);
  if (failed)
    std::rethrow_exception(failed);
  REQUIRE(finished);
}
#endif

} // namespace

#if OTPP_TEST_COROUTINES
TEST_CASE("async_call from an Asio coroutine outside any process completes with the server's "
          "reply on the coroutine's executor",
          "[behaviour][call][asio]") {
  const unsigned n = GENERATE(1u, 3u);
  otpp::runtime rt({.schedulers = n});
  auto srv = otpp::start(rt, math());
  REQUIRE_FALSE(tp::is_process());
  const auto test_thread = std::this_thread::get_id();
  std::vector<double> sums;
  std::string greeting;
  bool touched = false;
  int count = -1;
  double untyped = 0;
  bool on_test_thread = true;
  run_coroutine([&]() -> asio::awaitable<void> {
    for (int i = 0; i < 10; ++i) {
      otpp::call_result<double> r =
          co_await otpp::async_call(rt, srv, add{static_cast<double>(i), 0.5}, asio::use_awaitable);
      on_test_thread = on_test_thread && std::this_thread::get_id() == test_thread;
      sums.push_back(r.value());
    }
    const greet hello{"asio"};
    greeting = (co_await otpp::async_call(rt, srv, hello, asio::use_awaitable)).value();
    otpp::call_result<void> t =
        co_await otpp::async_call(rt, srv, touch{}, 1.5s, asio::use_awaitable);
    touched = t.ok();
    count = (co_await otpp::async_call(rt, srv, get_count{}, asio::use_awaitable)).value();
    untyped =
        (co_await otpp::async_call<double>(rt, srv.pid(), add{1, 1}, 250ms, asio::use_awaitable))
            .value();
  });
  CHECK(sums == std::vector<double>{0.5, 1.5, 2.5, 3.5, 4.5, 5.5, 6.5, 7.5, 8.5, 9.5});
  CHECK(on_test_thread);
  CHECK(greeting == "hello asio");
  CHECK(touched);
  CHECK(count == 1);
  CHECK(untyped == 2.0);
}

TEST_CASE("async_call to an ended server or a null pid completes with noproc, to a server that "
          "does not answer with timeout, and never throws",
          "[behaviour][call][asio]") {
  const unsigned n = GENERATE(1u, 3u);
  otpp::runtime rt({.schedulers = n});
  auto srv = otpp::start(rt, math());
  auto silent = otpp::start(rt, holder());
  {
    otpp::scoped_process sp(rt);
    otpp::stop(srv);
  }
  std::optional<otpp::call_result<double>> ended;
  std::optional<otpp::call_result<int>> null_pid;
  std::optional<otpp::call_result<int>> slow;
  std::chrono::steady_clock::duration waited{};
  run_coroutine([&]() -> asio::awaitable<void> {
    ended = co_await otpp::async_call(rt, srv, add{1, 2}, asio::use_awaitable);
    const otpp::pid nobody;
    null_pid = co_await otpp::async_call<int>(rt, nobody, get_count{}, asio::use_awaitable);
    auto t0 = std::chrono::steady_clock::now();
    slow = co_await otpp::async_call(rt, silent, hold{}, 0.05s, asio::use_awaitable);
    waited = std::chrono::steady_clock::now() - t0;
  });
  REQUIRE(ended.has_value());
  CHECK(ended->error() == exit_reason::noproc());
  CHECK(ended->server() == srv.pid());
  CHECK_THROWS_AS(ended->value(), otpp::call_error);
  REQUIRE(null_pid.has_value());
  CHECK(null_pid->error() == exit_reason::noproc());
  REQUIRE(slow.has_value());
  CHECK(slow->error() == exit_reason::timeout());
  CHECK(waited >= 50ms);
}

#endif

TEST_CASE("async_call takes other completion tokens: a plain callback, a callback bound to an "
          "io_context, use_future from several threads",
          "[behaviour][call][asio]") {
  const unsigned n = GENERATE(1u, 3u);
  otpp::runtime rt({.schedulers = n});
  auto srv = otpp::start(rt, math());

  SECTION("a plain lambda runs once, with the result") {
    auto got = std::make_shared<std::promise<double>>();
    otpp::async_call(rt, srv, add{2, 3},
                     [got](otpp::call_result<double> r) { got->set_value(r.value()); });
    auto f = got->get_future();
    REQUIRE(f.wait_for(otpp_test::patience) == std::future_status::ready);
    CHECK(f.get() == 5.0);
  }
  SECTION("a lambda bound to an io_context runs on the thread that runs it") {
    asio::io_context io;
    std::optional<std::string> reply;
    std::thread::id ran_on;
    otpp::async_call(rt, srv, greet{"cb"}, 2s,
                     asio::bind_executor(io, [&](otpp::call_result<std::string> r) {
                       ran_on = std::this_thread::get_id();
                       reply = std::move(r).value();
                     }));
    io.run_for(otpp_test::patience); // returns once the handler has run (the work is done)
    REQUIRE(reply.has_value());
    CHECK(*reply == "hello cb");
    CHECK(ran_on == std::this_thread::get_id());
  }
  SECTION("use_future, from four threads at once") {
    std::vector<double> results(4, -1.0);
    {
      std::vector<std::jthread> threads;
      for (std::size_t t = 0; t < results.size(); ++t)
        threads.emplace_back([&rt, &srv, &results, t] {
          std::future<otpp::call_result<double>> f =
              otpp::async_call(rt, srv, add{static_cast<double>(t), 10}, asio::use_future);
          if (f.wait_for(otpp_test::patience) != std::future_status::ready)
            return;
          otpp::call_result<double> r = f.get();
          results[t] = r.ok() ? r.value() : -2.0;
        });
    }
    CHECK(results == std::vector<double>{10, 11, 12, 13});
  }
}

#if OTPP_TEST_COROUTINES
TEST_CASE("async_call by registered name, typed or untyped, and a name nobody holds completes with "
          "noproc naming it",
          "[behaviour][call][asio]") {
  const unsigned n = GENERATE(1u, 3u);
  otpp::runtime rt({.schedulers = n});
  auto srv = otpp::start(rt, otpp::start_options{.name = "calc"}, math());
  std::optional<double> typed;
  std::optional<std::string> untyped;
  std::optional<otpp::call_result<double>> missing;
  run_coroutine([&]() -> asio::awaitable<void> {
    const auto calc = otpp::by_name<math_def>("calc");
    const auto calc_untyped = otpp::by_name("calc");
    const auto nobody = otpp::by_name<math_def>("missing");
    const greet hello{"name"};
    typed = (co_await otpp::async_call(rt, calc, add{1, 2}, asio::use_awaitable)).value();
    untyped =
        (co_await otpp::async_call<std::string>(rt, calc_untyped, hello, 1.5s, asio::use_awaitable))
            .value();
    missing = co_await otpp::async_call(rt, nobody, add{}, asio::use_awaitable);
  });
  CHECK(typed == 3.0);
  CHECK(untyped == "hello name");
  REQUIRE(missing.has_value());
  CHECK(missing->error() == exit_reason::noproc());
  CHECK_FALSE(missing->server());
  CHECK_THROWS_WITH(missing->value(), Catch::Contains("\"missing\""));
  CHECK(srv);
}
#endif

} // namespace OTPP_TEST_FILE
