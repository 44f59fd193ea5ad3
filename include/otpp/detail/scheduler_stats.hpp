// What a scheduler counts of its processes and of its own time, for
// runtime::statistics() (and the metrics built on it).
// Distributed under the Boost Software License, Version 1.0.
#pragma once

#include <otpp/core/exit_reason.hpp>
#include <otpp/detail/process.hpp>

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>

namespace otpp::detail {

// The exit classes counted: normal, shutdown ({shutdown, _} too), killed,
// and every other reason (an error: an exception, a user reason, ...).
inline std::size_t exit_class(const exit_reason& r) noexcept {
  switch (r.which()) {
  case exit_reason::kind::normal:
    return 0;
  case exit_reason::kind::shutdown:
    return 1;
  case exit_reason::kind::killed:
  case exit_reason::kind::kill:
    return 2;
  default:
    return 3;
  }
}

// Per-process counts that live in the process while it lives and are
// added to its scheduler's totals when it ends.
struct process_counts {
  std::uint64_t sent = 0;
  std::uint64_t received = 0;
  std::uint64_t dropped = 0;
  std::uint64_t reductions = 0;

  static process_counts of(const process& p) noexcept {
    return {p.sent.load(std::memory_order_relaxed), p.box.total.load(std::memory_order_relaxed),
            p.dropped.load(std::memory_order_relaxed),
            p.reductions.load(std::memory_order_relaxed)};
  }
  process_counts& operator+=(const process_counts& o) noexcept {
    sent += o.sent;
    received += o.received;
    dropped += o.dropped;
    reductions += o.reductions;
    return *this;
  }
};

// Spawns, exits by class and the counts of ended processes: written and
// read under the scheduler's list lock (taken at every spawn and exit
// anyway), so that a reader that also walks the live list under it counts
// every process exactly once.
struct scheduler_counts {
  std::uint64_t spawned = 0;
  std::array<std::uint64_t, 4> exits{}; // by exit_class
  process_counts ended;

  void count_exit(const process& p) noexcept {
    ++exits[exit_class(p.reason)];
    ended += process_counts::of(p);
  }
};

// The scheduler's wall time split into idle and active, while it is on
// (erlang:system_flag(scheduler_wall_time, true)): the owner reads the
// clock when it runs out of work and when it finds some again; off, it
// costs one load per idle stretch. Times in steady_clock nanoseconds.
// `seq` is odd while the owner updates the pair (a reader retries).
struct scheduler_wall_time {
  std::atomic<bool> on{false};
  std::atomic<std::int64_t> since{0};      // when it was turned on
  std::atomic<std::uint64_t> seq{0};       // odd while idle_ns / idle_since change
  std::atomic<std::int64_t> idle_ns{0};    // idle stretches that ended
  std::atomic<std::int64_t> idle_since{0}; // the idle stretch going on (0: none)

  // Owner thread.
  void idle_begin(std::int64_t now) noexcept { idle_since.store(now); }
  void idle_end(std::int64_t now) noexcept {
    const std::int64_t began = idle_since.load(std::memory_order_relaxed);
    if (began == 0)
      return;
    seq.fetch_add(1);
    idle_ns.store(idle_ns.load(std::memory_order_relaxed) + (now - began));
    idle_since.store(0);
    seq.fetch_add(1);
  }
  // Any thread: {active, wall} nanoseconds since it was turned on; {0, 0}
  // while off.
  std::array<std::int64_t, 2> read(std::int64_t now) const noexcept {
    if (!on.load())
      return {0, 0};
    const std::int64_t wall = now - since.load();
    for (;;) {
      const std::uint64_t s = seq.load();
      if ((s & 1) != 0)
        continue;
      const std::int64_t open = idle_since.load();
      const std::int64_t idle = idle_ns.load();
      if (seq.load() != s)
        continue;
      std::int64_t active = wall - idle - (open != 0 && open < now ? now - open : 0);
      return {active < 0 ? 0 : active, wall};
    }
  }
};

} // namespace otpp::detail
