// Timeouts: one duration type for every otpp API that waits.
// Distributed under the Boost Software License, Version 1.0.
#pragma once

#include <chrono>
#include <compare>
#include <stdexcept>
#include <string>

namespace otpp {

/// A timeout: any `std::chrono::duration` (integral or floating, any
/// period: `5s`, `1.5s`, `250ms`), rounded up to `steady_clock` ticks so it
/// never expires early. Durations too long to represent (over a century,
/// `duration::max()` of any type) become `infinity`. Converts to and from
/// `std::chrono::steady_clock::duration`.
///
/// @par OTP
/// The `Timeout` argument of `receive ... after`, `gen_server:call/3`:
/// milliseconds or `infinity`.
class duration {
public:
  /// The clock's own duration type.
  using clock_duration = std::chrono::steady_clock::duration;

  /// Zero: only what is already there.
  constexpr duration() noexcept = default;
  /// `d`, rounded up to a whole clock tick; very long ones are `infinity`.
  template <class Rep, class Period>
  constexpr duration(std::chrono::duration<Rep, Period> d) noexcept // NOLINT: implicit on purpose
      : value_(from(d)) {}

  /// The value in clock ticks (`clock_duration::max()` for `infinity`).
  constexpr clock_duration get() const noexcept { return value_; }
  constexpr operator clock_duration() const noexcept { return value_; } // NOLINT
  /// True for `infinity`.
  constexpr bool is_infinite() const noexcept { return value_ == clock_duration::max(); }

  friend constexpr bool operator==(duration, duration) noexcept = default;
  friend constexpr auto operator<=>(duration, duration) noexcept = default;

private:
  template <class Rep, class Period>
  static constexpr clock_duration from(std::chrono::duration<Rep, Period> d) noexcept {
    using D = std::chrono::duration<Rep, Period>;
    // A century: longer than any wait, and far from the clock's overflow.
    constexpr auto century = std::chrono::hours(24 * 365 * 100);
    if (d == D::max() || std::chrono::duration<double>(d) >= std::chrono::duration<double>(century))
      return clock_duration::max();
    return std::chrono::ceil<clock_duration>(d);
  }
  clock_duration value_{};
};

/// A timeout that never expires (for `after`, calls, starts and stops).
inline constexpr duration infinity = duration(duration::clock_duration::max());

namespace detail {
// A negative timeout is a mistake, not "at once": the API that got it
// throws std::invalid_argument naming itself (Erlang raises badarg).
// `prefix` + `api` names it ("otpp::" + "call").
inline void check_timeout(duration d, const char* api, const char* prefix = "") {
  if (d.get() < duration::clock_duration::zero()) [[unlikely]]
    throw std::invalid_argument(
        std::string(prefix) + api + ": negative timeout (" +
        std::to_string(std::chrono::duration<double, std::milli>(d.get()).count()) +
        " ms); give a duration >= 0, or otpp::infinity");
}
} // namespace detail

} // namespace otpp
