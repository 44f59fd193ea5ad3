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
  /// Also read each live process's resident stack bytes (one mincore
  /// system call per process): `largest_stacks` and the stack histogram.
  bool stacks = false;
  /// Upper bounds of the stack histogram's buckets, in bytes.
  std::vector<std::size_t> stack_buckets{4096, 8192, 16384, 32768, 65536, 131072, 262144, 1048576};
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

/// A live process and its mailbox length (or resident stack bytes).
struct mailbox_entry {
  otpp::pid pid;
  std::string name; ///< registered name, or its label, or empty
  std::size_t length = 0;
};

/// A histogram over the live processes: how many have a value up to each
/// bound (cumulative, as Prometheus buckets), then all of them (+Inf), and
/// the sum of the values.
struct process_histogram {
  std::vector<std::size_t> bounds;
  std::vector<std::uint64_t> buckets;
  std::uint64_t sum = 0;
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
  /// Processes parked now (`runtime_options::hibernate_after`,
  /// `this_process::hibernate`), and the bytes of their parked stack copies.
  std::size_t parked = 0;
  std::size_t parked_bytes = 0;
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
  /// Mailbox lengths (bounds: `statistics_options::mailbox_buckets`).
  process_histogram mailboxes;
  /// With `statistics_options::stacks`: the `top` largest resident stacks
  /// (`process_info::stack_resident`, the high-water marks), largest first,
  /// and their histogram (bounds: `stack_buckets`).
  std::vector<mailbox_entry> largest_stacks;
  process_histogram stacks;
};

/// The names of the exit classes of `runtime_statistics::exits`.
inline constexpr std::array<const char*, 4> exit_class_names{"normal", "shutdown", "killed",
                                                             "error"};

} // namespace otpp
