// What a runtime counts: processes, spawns, exits by class, messages,
// reductions, mailboxes and scheduler time (runtime::statistics()).
// Distributed under the Boost Software License, Version 1.0.
#pragma once

#include <otpp/core/pid.hpp>

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace otpp {

/// What `runtime::statistics` looks at beyond the counters.
struct statistics_options {
  /// How many processes to list by mailbox length (`longest_mailboxes`).
  std::size_t top = 10;
  /// Upper bounds of the mailbox length histogram's buckets (a last
  /// bucket, +Inf, is implied).
  std::vector<std::size_t> mailbox_buckets{0, 1, 10, 100, 1000, 10000};
};

/// One scheduler's share.
struct scheduler_statistics {
  unsigned index = 0;
  std::size_t processes = 0; ///< live processes placed on it
  std::size_t run_queue = 0; ///< ready ones waiting for their turn (as last published)
  /// Time it ran processes (or looked for them) and time since wall time
  /// was turned on (`runtime::enable_scheduler_wall_time`); empty while off.
  /// active / wall is its utilisation.
  std::optional<std::chrono::nanoseconds> active, wall;
};

/// A live process and its mailbox length.
struct mailbox_entry {
  otpp::pid pid;
  std::string name; ///< registered name, or its label, or empty
  std::size_t length = 0;
};

/// Counts since the runtime started, and a snapshot of what lives now.
///
/// Counters (`spawned`, `exits`, `messages_*`, `reductions`) only grow:
/// each process's own counts are kept in it while it lives and added to its
/// scheduler's totals when it ends, and a snapshot reads both under the
/// same lock, so each process is counted exactly once. Scoped processes
/// (`scoped_process`) are not counted.
struct runtime_statistics {
  std::size_t processes = 0; ///< alive now
  std::uint64_t spawned = 0;
  /// Exits by class, as `exit_class` names them: normal, shutdown (with a
  /// detail too), killed, error (every other reason).
  std::array<std::uint64_t, 4> exits{};
  std::uint64_t messages_sent = 0;     ///< sends, requests and replies from processes
  std::uint64_t messages_received = 0; ///< messages that entered a mailbox
  std::uint64_t messages_dropped = 0;  ///< dropped or refused by full bounded mailboxes
  std::uint64_t reductions = 0;
  std::vector<scheduler_statistics> schedulers;
  /// The `top` longest mailboxes, longest first (only non-empty ones).
  std::vector<mailbox_entry> longest_mailboxes;
  /// How many live processes have a mailbox length up to each bound of
  /// `statistics_options::mailbox_buckets` (cumulative, as Prometheus
  /// buckets), then all of them (+Inf); and the sum of the lengths.
  std::vector<std::size_t> mailbox_bounds;
  std::vector<std::uint64_t> mailbox_buckets;
  std::uint64_t mailbox_sum = 0;
};

/// The names of the exit classes of `runtime_statistics::exits`.
inline constexpr std::array<const char*, 4> exit_class_names{"normal", "shutdown", "killed",
                                                             "error"};

} // namespace otpp
