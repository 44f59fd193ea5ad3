// otpp::runtime_clock: the clock of timeouts and timers, virtual in a test runtime.
// Distributed under the Boost Software License, Version 1.0.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>

namespace otpp {

namespace detail {

// The time of a runtime with `runtime_options::virtual_time`: it moves only
// when its scheduler has nothing to do (see scheduler::advance_virtual).
// `holds` counts what may still make work without the scheduler seeing it:
// a scoped_process running (not waiting in a receive), a blocking-pool job.
// While it is not zero the time stands still.
struct virtual_clock {
  std::atomic<std::int64_t> ticks; // steady_clock::duration ticks since its epoch
  std::atomic<std::int64_t> holds{0};

  explicit virtual_clock(std::chrono::steady_clock::time_point start) noexcept
      : ticks(start.time_since_epoch().count()) {}

  std::chrono::steady_clock::time_point now() const noexcept {
    return std::chrono::steady_clock::time_point(
        std::chrono::steady_clock::duration(ticks.load(std::memory_order_acquire)));
  }
  // The scheduler's thread only; the time never goes back.
  void advance_to(std::chrono::steady_clock::time_point t) noexcept {
    if (t > now())
      ticks.store(t.time_since_epoch().count(), std::memory_order_release);
  }
  void hold() noexcept { holds.fetch_add(1, std::memory_order_acq_rel); }
  void release() noexcept { holds.fetch_sub(1, std::memory_order_acq_rel); }
  bool held() const noexcept { return holds.load(std::memory_order_acquire) != 0; }
};

// The virtual clock of the calling thread's runtime: set on the scheduler
// thread of a virtual-time runtime and on a thread holding a scoped_process
// of one; null everywhere else.
inline thread_local const virtual_clock* current_virtual_clock = nullptr;

} // namespace detail

/// The clock of every timeout and timer of otpp (receive timeouts,
/// `this_process::sleep_for`, `send_after`, calls, state machine timeouts,
/// supervisor restart intensity): `std::chrono::steady_clock`, except in a
/// process (or on a scoped_process's thread) of a runtime made with
/// `runtime_options::virtual_time`, where it reads that runtime's virtual
/// time. Its `time_point` is `steady_clock`'s, so the two mix in
/// arithmetic. Code of a process that measures its own timeouts should read
/// this clock, not `steady_clock`, to be testable in virtual time.
struct runtime_clock {
  using duration = std::chrono::steady_clock::duration;
  using rep = duration::rep;
  using period = duration::period;
  using time_point = std::chrono::steady_clock::time_point;
  static constexpr bool is_steady = true;

  static time_point now() noexcept {
    if (const detail::virtual_clock* v = detail::current_virtual_clock) [[unlikely]]
      return v->now();
    return std::chrono::steady_clock::now();
  }
};

} // namespace otpp
