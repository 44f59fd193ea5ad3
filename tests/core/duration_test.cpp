#include <otpp/core/duration.hpp>

#include "otpp_test.hpp"

#include <otpp/core/channel.hpp>
#include <otpp/core/process.hpp>
#include <otpp/core/receive.hpp>
#include <otpp/core/timer.hpp>

#include <catch2/catch.hpp>

#include <chrono>
#include <cstdint>
#include <ratio>
#include <stdexcept>
#include <string>
#include <utility>

namespace OTPP_TEST_FILE {

using namespace std::chrono_literals;
namespace tp = otpp::this_process;
using clock_duration = otpp::duration::clock_duration;

TEST_CASE("a fractional duration converts rounding up to a whole clock tick", "[core][duration]") {
  CHECK(otpp::duration(1.5s).get() == 1500ms);
  CHECK(otpp::duration(1.5s).get() >= 1.5s);
  CHECK(otpp::duration(std::chrono::duration<double, std::nano>(1.5)).get() == 2ns);
  CHECK(otpp::duration(std::chrono::duration<double>(1e-12)).get() == 1ns);
  // A third of a second is not a whole number of nanoseconds: the next tick.
  CHECK(otpp::duration(std::chrono::duration<std::int64_t, std::ratio<1, 3>>(1)).get() ==
        333'333'334ns);
}

TEST_CASE("whole durations of any period convert exactly", "[core][duration]") {
  CHECK(otpp::duration(250ms).get() == 250ms);
  CHECK(otpp::duration(1us).get() == 1us);
  CHECK(otpp::duration(5s).get() == 5s);
  CHECK(otpp::duration(std::chrono::minutes(2)).get() == 120s);
  CHECK(otpp::duration().get() == clock_duration::zero());
  CHECK_FALSE(otpp::duration(5s).is_infinite());
}

TEST_CASE("duration::max() of any type and 200 years are infinity", "[core][duration]") {
  CHECK(otpp::duration(std::chrono::nanoseconds::max()) == otpp::infinity);
  CHECK(otpp::duration(std::chrono::milliseconds::max()) == otpp::infinity);
  CHECK(otpp::duration(std::chrono::seconds::max()) == otpp::infinity);
  CHECK(otpp::duration(std::chrono::hours::max()) == otpp::infinity);
  CHECK(otpp::duration(std::chrono::duration<double>::max()) == otpp::infinity);
  CHECK(otpp::duration(clock_duration::max()) == otpp::infinity);
  CHECK(otpp::duration(std::chrono::hours(24 * 365 * 200)) == otpp::infinity);
  CHECK(otpp::duration(std::chrono::hours(24 * 365 * 200)).is_infinite());
  CHECK(otpp::infinity.get() == clock_duration::max());
}

TEST_CASE("infinity compares equal to itself and greater than an hour", "[core][duration]") {
  CHECK(otpp::infinity == otpp::infinity);
  CHECK_FALSE(otpp::infinity != otpp::infinity);
  CHECK(otpp::infinity > otpp::duration(1h));
  CHECK(otpp::duration(1h) < otpp::infinity);
  CHECK(otpp::infinity.is_infinite());
  CHECK_FALSE(otpp::duration(1h).is_infinite());
}

TEST_CASE("after(1.5ms) in a receive waits at least 1.5 ms measured on steady_clock",
          "[core][duration]") {
  const unsigned n = GENERATE(1u, 3u);
  OTPP_TEST_RUNTIME({.schedulers = n});
  auto waited = [] {
    const auto start = std::chrono::steady_clock::now();
    bool timed_out = tp::receive([](otpp_test::never&) { return false; },
                                 otpp::after(1.5ms, [] { return true; }));
    return std::pair(timed_out, std::chrono::steady_clock::now() - start);
  };
  for (int i = 0; i < 20; ++i) {
    auto [in_process_timed_out, in_process] = otpp_test::in_process(waited);
    CHECK(in_process_timed_out);
    CHECK(in_process >= 1500us);
    auto [on_thread_timed_out, on_thread] = waited(); // the scoped process
    CHECK(on_thread_timed_out);
    CHECK(on_thread >= 1500us);
  }
}

TEST_CASE("a negative timeout is rejected with an error naming the API", "[core][duration]") {
  const unsigned n = GENERATE(1u, 3u);
  OTPP_TEST_RUNTIME({.schedulers = n});
  struct never {};
  using Catch::Contains;
  CHECK_THROWS_WITH(tp::receive([](never) {}, otpp::after(-1ms, [] {})),
                    Contains("otpp::after: negative timeout (-1.0"));
  CHECK_THROWS_AS(tp::receive_for<never>(-1ms), std::invalid_argument);
  CHECK_THROWS_WITH(tp::receive_for<never>(-1ms), Contains("receive_for: negative timeout"));
  CHECK_THROWS_WITH(tp::sleep_for(-0.5s), Contains("sleep_for: negative timeout (-500.0"));
  CHECK_THROWS_WITH(otpp::send_after(sp.self(), -1ms, never{}), Contains("otpp::send_after"));
  auto [port, rx] = otpp::make_channel<int>();
  CHECK_THROWS_WITH(rx.receive_for(-1ns), Contains("receive_for: negative timeout"));
  // Zero and infinity are fine.
  CHECK_FALSE(tp::receive_for<never>(0ms).has_value());
  CHECK_NOTHROW(otpp::after(otpp::infinity, [] {}));
  // In a process that does not catch it, the error is its exit reason.
  auto r = otpp_test::exit_of([] { tp::sleep_for(-1ms); });
  CHECK(r.which() == otpp::exit_reason::kind::exception);
  CHECK(r.exception_type() == "std::invalid_argument");
  CHECK_THAT(std::string(r.detail()), Contains("otpp::this_process::sleep_for"));
}

} // namespace OTPP_TEST_FILE
