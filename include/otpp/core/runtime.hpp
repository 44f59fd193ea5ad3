// The runtime: scheduler threads, spawning, run() and shutdown().
// Distributed under the Boost Software License, Version 1.0.
#pragma once

#include <otpp/config.hpp>
#include <otpp/core/clock.hpp>
#include <otpp/core/exit_reason.hpp>
#include <otpp/core/metrics.hpp>
#include <otpp/core/pid.hpp>
#include <otpp/core/statistics.hpp>
#include <otpp/core/trace_event.hpp>
#include <otpp/detail/blocking_pool.hpp>
#include <otpp/detail/process.hpp>
#include <otpp/detail/scheduler.hpp>
#include <otpp/detail/unwind.hpp>

#include <boost/asio/io_context.hpp>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <type_traits>
#include <unordered_map>
#include <utility>
#include <vector>

namespace otpp {

/// Options of a runtime.
struct runtime_options {
  /// Scheduler threads; 0 means one per hardware thread.
  unsigned schedulers = 0;
  /// Default stack size of a process, in bytes (rounded up to pages, at least 16 KiB).
  std::size_t stack_size = config::default_stack_size;
  /// Make the lowest page of each stack a PROT_NONE guard page: a stack
  /// overflow then stops the program with a message naming the process,
  /// never corrupting another. Each guard costs a kernel mapping; past what
  /// `vm.max_map_count` allows (about 32k guarded stacks by default),
  /// further stacks get a canary checked at every switch instead, with one
  /// warning. Off: canaries only (an overflow is found later, maybe after it
  /// hurt a neighbour).
  bool guard_pages = true;
  /// Reductions (sends, receives, spawns) before a process yields to others.
  std::uint32_t reductions = config::default_reductions;
  /// Report every process that ends by an uncaught exception through the
  /// report handler (`report_kind::error`, Erlang's wording: "Error in
  /// process <0.5.0> with exit value: ..."). Behaviours catch their
  /// handlers' exceptions and report them themselves; exits by
  /// `this_process::exit` and by exit signals are not reported (as Erlang).
  bool report_crashes = true;
  /// Watchdog: a process that runs this long without yielding (no send,
  /// receive, spawn or `this_process::yield`: a long computation, a
  /// blocking system call) holds its scheduler thread, and every process
  /// queued there waits; it is reported once per stretch through the report
  /// handler (`report_kind::watchdog`, with its pid, name, scheduler and
  /// how long). Zero turns the watchdog off. (Erlang: `erlang:system_monitor`
  /// with `long_schedule`.)
  std::chrono::milliseconds watchdog_threshold{100};
  /// How long `run()` and the destructor wait, after `shutdown()`, with no
  /// process ending (a shutdown that makes progress is waited for). Past
  /// it, what is left is reported (each process, what it runs or waits on;
  /// `report_kind::error`) and abandoned: the
  /// scheduler threads hosting it are stopped where they are and left, with
  /// their processes, never to run again, and the destructor returns. Zero
  /// waits for ever.
  std::chrono::milliseconds shutdown_timeout{10000};
  /// Threads of the blocking pool, which runs `otpp::blocking_call`s (and
  /// file I/O where io_uring is not used) so that only the calling process
  /// waits. They start on first use, up to this many; zero: no pool (a
  /// blocking call then fails with a clear error). Like Erlang's dirty I/O
  /// schedulers (10 by default there).
  unsigned blocking_threads = 8;
  /// Virtual time, for tests: every timeout and timer of the runtime
  /// (receive timeouts, `this_process::sleep_for`, `send_after`, calls,
  /// state machine timeouts, supervisor restart intensity; `otpp::runtime_clock`)
  /// follows a clock that starts at the real time and moves only when
  /// nothing can run: no process is ready, no scoped_process of the runtime
  /// is outside a receive, no blocking call is in progress. It then jumps
  /// to the earliest pending deadline, and what is due then fires (receive
  /// timeouts first, then timers in the order they were set). A test of a
  /// 5 s timeout runs at once, and the same way every time. Asio I/O is
  /// not waited for: while processes wait only for I/O and a timer is
  /// pending, the timer fires. Needs one scheduler (`schedulers` 0 or 1).
  bool virtual_time = false;
  /// Park a process that has waited this long in a receive (zero: never):
  /// the part of its stack in use (usually under 1 KiB) is copied into a
  /// buffer of that size and its stack pages go back to the kernel; the
  /// bytes return to the same addresses when it runs again (pointers into
  /// its stack stay valid). A waiting process then costs its control block
  /// and that copy instead of a resident stack page or more; a wake-up from
  /// parking costs a page fault and the copy back (a few microseconds). A
  /// process is parked between once and about twice this after its wait
  /// began. While it is parked nothing else may read or write memory on its
  /// stack (an I/O buffer of a `to_mailbox` operation, a pointer to a local
  /// handed to another thread); a write is found when it wakes and stops
  /// the program with a message. Waits on Asio operations and blocking
  /// calls are never parked. Like Erlang's `hibernate_after` start option
  /// of gen_server, for every process (`spawn_options::hibernate_after`
  /// sets it for one); `this_process::hibernate()` parks at once.
  std::chrono::milliseconds hibernate_after{0};
};

/// One live process in a blocking report (`runtime::blockers()`): what
/// keeps it alive right now.
struct blocking_process {
  otpp::pid pid;
  std::string name;  ///< its registered name, or empty
  std::string label; ///< its label (`this_process::set_label`), or empty
  unsigned scheduler = 0;
  /// "running" (its scheduler thread is in it now), "ready" (queued to run,
  /// or a scoped_process's thread) or "waiting" (blocked in a receive).
  std::string_view state;
  /// While waiting: on what (see `this_process::waiting_on`): "receive",
  /// "call", "sleep", "hibernate", "Asio operation", ...
  std::string_view waits_on;
  std::uint64_t waits_for = 0; ///< the number of the pid it waits for (a call's server), 0: none
  bool with_timeout = false;   ///< the wait ends by a timeout if nothing comes
  /// While running: how long at least since it last yielded (measured by the
  /// watchdog; zero when it is off or the stretch is short).
  std::chrono::milliseconds running_for{0};
};

/// What a full bounded mailbox does with one more message (see
/// `spawn_options::mailbox_limit`). Signals (exits, downs, links, monitors),
/// timer messages (`send_after`) and replies to the process's own calls
/// never count against the limit and are never dropped.
enum class overflow_policy : std::uint8_t {
  /// The new message is dropped (and counted in `process_info::dropped`).
  drop_new,
  /// The oldest counted message in the mailbox is dropped when the receiver
  /// next takes in its messages (the mailbox may go past the limit until then).
  drop_oldest,
  /// The message is refused: `send` returns `send_result::refused`, and a
  /// call (a request) fails at once with reason `mailbox_full`.
  reject,
  /// The receiver exits with reason `mailbox_full` (untrappable; its
  /// links and supervisor see that reason); messages after the overflow are dropped.
  exit,
};

/// Options of one spawn.
struct spawn_options {
  /// Scheduler index to place the process on (for good: it is never taken
  /// by another). By default a process spawned by a process is queued on
  /// its parent's scheduler, unless that one has a backlog of ready
  /// processes while another scheduler sleeps idle, and an idle scheduler
  /// may take it if it is still waiting to start after
  /// `config::steal_age`; one spawned from another thread goes round robin.
  /// A process that has started stays on its scheduler.
  std::optional<unsigned> scheduler{};
  /// Stack size in bytes; 0 uses the runtime's.
  std::size_t stack_size = 0;
  /// Link to the calling process before the new one runs (spawn_link).
  bool link = false;
  /// Monitor the new process from the calling one (spawn_monitor).
  bool monitor = false;
  /// The new process traps exits from its first instruction.
  bool trap_exit = false;
  /// At most this many messages wait in the process's mailbox (sent, not
  /// yet received); 0: no limit. What happens to more is `on_overflow`'s
  /// choice. The first overflow of a process is reported
  /// (`report_kind::mailbox_full`).
  std::size_t mailbox_limit = 0;
  overflow_policy on_overflow = overflow_policy::drop_new;
  /// Park this process once it has waited this long in a receive (see
  /// `runtime_options::hibernate_after`); zero: never park it (it keeps
  /// buffers that others write on its stack); empty: the runtime's. Erlang:
  /// gen_server's `hibernate_after` start option (behaviours take it in
  /// `start_options::spawn`).
  std::optional<std::chrono::milliseconds> hibernate_after{};
};

/// Thrown inside a process to end it: by `this_process::exit`, or by a
/// receive that found an exit signal the process must die of. The process
/// ends with `reason()`.
///
/// Deliberately not a `std::exception`: a `catch (const std::exception&)`
/// in user code does not stop an exit. Code that catches `(...)` must
/// rethrow; if it does not, the next receive throws again.
class process_exit {
public:
  explicit process_exit(exit_reason r, bool by_signal = false)
      : reason_(std::move(r)), by_signal_(by_signal) {}
  const exit_reason& reason() const noexcept { return reason_; }
  /// True when an exit signal ends the process (or an exit the process
  /// swallowed is raised again at its next receive); false for
  /// `this_process::exit`, which `this_process::catch_exit` can take over.
  bool by_signal() const noexcept { return by_signal_; }

private:
  exit_reason reason_;
  bool by_signal_;
};

/// Inside a `catch (...)` block: rethrow the exception being handled if it
/// ends the process (a `process_exit`, or the unwinding of a killed
/// process's stack), and return for any other exception. Code that catches
/// everything calls it first, so it never swallows an exit:
///
/// ```cpp
/// try { work(); } catch (...) {
///   otpp::rethrow_if_exit();
///   reason = otpp::exit_reason::from_exception(std::current_exception());
/// }
/// ```
/// Precondition: an exception is being handled.
inline void rethrow_if_exit() {
  try {
    throw;
  } catch (const process_exit&) {
    throw;
  } catch (const detail::fiber_unwind&) {
    throw;
  } catch (...) { // NOLINT(bugprone-empty-catch): any other exception is the caller's to handle
  }
}

/// The result of `spawn_monitor`.
struct spawned_monitor {
  otpp::pid pid;
  otpp::ref monitor;
};

/// An otpp runtime: N scheduler threads running processes.
///
/// Threads start in the constructor, so processes run as soon as they are
/// spawned. `run()` waits until no process is left (or `shutdown()` ended
/// them all). The destructor shuts down, waits and joins.
///
/// @par Thread safety
/// All members may be called from any thread, including from processes.
class runtime {
public:
  explicit runtime(runtime_options options = {});
  runtime(const runtime&) = delete;
  runtime& operator=(const runtime&) = delete;
  ~runtime();

  /// Start a process running `f()`.
  ///
  /// @par Errors
  /// `std::logic_error` if `opts.link` or `opts.monitor` is set and the
  /// calling thread is not a process (nor holds a scoped_process).
  template <class F> pid spawn(F&& f, spawn_options opts = {}) {
    return spawn_and_monitor(std::forward<F>(f), opts).pid;
  }

  /// Wait until every process has ended; returns 0. After `shutdown()` it
  /// waits at most `runtime_options::shutdown_timeout`, then reports and
  /// abandons what is left and returns 1. Blocks the calling OS thread;
  /// call it from outside the runtime's processes.
  int run();

  /// Send every process an untrappable exit signal with reason `shutdown`
  /// (stacks unwind), including those spawned from now on. Returns at once;
  /// `run()` returns once they are gone, or once
  /// `runtime_options::shutdown_timeout` has passed (it then reports and
  /// abandons what is left, and returns 1).
  void shutdown();

  /// Every live process with what it runs or waits on: what would keep a
  /// shutdown (or `run()`) from ending now. Any thread, any time.
  std::vector<blocking_process> blockers();
  /// The same as text, one line per process (empty when none is alive).
  std::string blockers_text();

  /// Number of scheduler threads.
  unsigned scheduler_count() const noexcept { return static_cast<unsigned>(schedulers_.size()); }
  /// Executor of scheduler `index`'s io_context (for I/O objects used outside processes).
  boost::asio::io_context::executor_type executor(unsigned index = 0) noexcept {
    return schedulers_.at(index)->io().get_executor();
  }
  /// Live processes spawned by this runtime (not scoped processes).
  std::vector<pid> processes();
  /// How many processes are alive now (a snapshot: exact once no process
  /// spawns or ends).
  std::size_t process_count() const noexcept {
    std::size_t n = 0;
    for (const auto& s : schedulers_)
      n += s->live();
    return n;
  }

  /// Counters and a snapshot of the runtime: processes, spawns, exits by
  /// class, messages, reductions, schedulers, mailbox lengths (the walk
  /// over live processes holds each scheduler's list lock while it reads
  /// its processes: 10-50 ns each; resident stacks, when asked for, are
  /// read after it, about 2 us each).
  /// (`erlang:statistics/1`, `erlang:system_info/1`.)
  runtime_statistics statistics(const statistics_options& opts = {});
  /// The runtime's metrics: its own (see `statistics`, written as
  /// `otpp_*` families) and whatever behaviours and users register.
  metric_registry& metrics() noexcept { return metrics_; }
  /// Turn on the schedulers' wall time (active vs idle time, as
  /// `erlang:system_flag(scheduler_wall_time, true)`) and the behaviours'
  /// timings (call latency per server). Each costs two clock reads per
  /// idle stretch or per call; once on, they stay on.
  void enable_timing_metrics();

  /// Register `name` for `p`. Throws `std::invalid_argument` if the name is
  /// taken or empty, `p` is not alive, or `p` has a name already.
  void register_name(const std::string& name, const pid& p);
  /// Remove a registration; throws `std::invalid_argument` if there is none.
  void unregister_name(const std::string& name);
  /// The process registered under `name`, or a null pid.
  pid whereis(const std::string& name);
  /// All registered names.
  std::vector<std::string> registered();

  const runtime_options& options() const noexcept { return options_; }

  /// The time of this runtime's timeouts: its virtual time
  /// (`runtime_options::virtual_time`), or `steady_clock::now()`. Any thread.
  std::chrono::steady_clock::time_point now() const noexcept {
    return vclock_ ? vclock_->now() : std::chrono::steady_clock::now();
  }
  /// True for a runtime made with `runtime_options::virtual_time`.
  bool virtual_time() const noexcept { return vclock_ != nullptr; }

  /// Install the tracer that receives the events of traced processes (see
  /// `trace_process`); null removes it. Returns the previous one. Events
  /// being delivered when it is replaced still reach the previous one.
  /// @par OTP
  /// The `{tracer, Tracer}` option of `erlang:trace/3`, one per runtime.
  std::shared_ptr<tracer> set_tracer(std::shared_ptr<tracer> t) {
    std::lock_guard lock(tracer_lock_);
    tracer_version_.store(detail::next_unique(), std::memory_order_release);
    return std::exchange(tracer_, std::move(t));
  }
  /// The installed tracer, or null.
  std::shared_ptr<tracer> current_tracer() const {
    std::lock_guard lock(tracer_lock_);
    return tracer_;
  }
  /// @cond internal
  // Changes (to a number no runtime had before) each time a tracer is set:
  // threads keep the tracer they last used while this stays the same.
  std::uint64_t tracer_version() const noexcept {
    return tracer_version_.load(std::memory_order_acquire);
  }
  /// @endcond
  /// The trace flags processes spawned from now on start with (a process
  /// spawned by one traced with `trace_flags::set_on_spawn` takes its
  /// parent's flags instead).
  /// @par OTP
  /// `erlang:trace(new, true, Flags)`.
  void trace_new_processes(trace_flags::type flags) noexcept {
    new_trace_flags_.store(static_cast<std::uint16_t>(flags & detail::user_flags),
                           std::memory_order_relaxed);
  }
  trace_flags::type new_process_trace_flags() const noexcept {
    return new_trace_flags_.load(std::memory_order_relaxed);
  }
  /// Set (`on`) or clear `flags` on every live process and on processes
  /// spawned from now on; returns how many live processes it changed.
  /// Scoped processes (threads) are not in the list: trace one with
  /// `trace_process`.
  /// @par OTP
  /// `erlang:trace(all, How, Flags)`.
  std::size_t trace_all(trace_flags::type flags, bool on = true);

  /// @cond internal
  detail::virtual_clock* virtual_clock() const noexcept { return vclock_.get(); }
  // spawn, also returning the monitor reference when `opts.monitor` is set.
  template <class F> spawned_monitor spawn_and_monitor(F&& f, spawn_options opts);
  detail::scheduler& scheduler_at(unsigned i) noexcept { return *schedulers_[i]; }
  void process_ended(detail::process& p);
  void unregister_dead(detail::process* p);
  detail::blocking_pool& blocking_pool() noexcept { return blocking_; }
  /// @endcond

private:
  detail::scheduler& pick(const spawn_options& opts);
  spawned_monitor start(detail::process* p, const spawn_options& opts);
  void watchdog_loop();
  void abandon();

  // What the watchdog saw of one scheduler at its last look.
  struct watch_state {
    std::uint64_t resumes = 0;
    detail::process* running = nullptr;
    std::chrono::steady_clock::time_point since{};
    bool reported = false;
  };

  runtime_options options_;
  // Virtual time, or null; shared with the blocking pool's threads.
  std::shared_ptr<detail::virtual_clock> vclock_;
  metric_registry metrics_;
  std::once_flag timing_once_;
  mutable detail::spinlock tracer_lock_;
  std::shared_ptr<tracer> tracer_;
  std::atomic<std::uint64_t> tracer_version_{detail::next_unique()};
  std::atomic<std::uint16_t> new_trace_flags_{0};
  detail::blocking_pool blocking_{options_.blocking_threads};
  std::vector<std::unique_ptr<detail::scheduler>> schedulers_;
  std::atomic<bool> shutting_down_{false};
  bool none_left();      // every scheduler's live list empty, read under their locks
  std::mutex run_mutex_; // run()'s waits: the end of the last process, a shutdown
  std::condition_variable run_cv_;
  std::chrono::steady_clock::time_point shutdown_at_{};
  bool abandoned_ = false;
  std::mutex watch_mutex_;
  std::condition_variable watch_cv_;
  bool watch_stop_ = false;
  std::vector<watch_state> watches_; // one per scheduler, under watch_mutex_
  std::thread watchdog_;
  std::mutex names_mutex_;
  std::unordered_map<std::string, detail::process_ref> names_;
};

} // namespace otpp

#include <otpp/detail/runtime_impl.hpp>
