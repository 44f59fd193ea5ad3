// Processes: spawn, self, send, exit, scoped processes and introspection.
// Distributed under the Boost Software License, Version 1.0.
#pragma once

#include <otpp/core/exit_reason.hpp>
#include <otpp/core/message.hpp>
#include <otpp/core/pid.hpp>
#include <otpp/core/runtime.hpp>
#include <otpp/core/trace_event.hpp>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

namespace otpp {

namespace detail {
// The calling process, or std::logic_error naming `api`.
inline process& self_or_throw(const char* api) {
  if (current_process == nullptr)
    throw std::logic_error(
        fmt::format("{}: the calling thread is not an otpp process (spawn one, or hold a "
                    "scoped_process)",
                    api));
  return *current_process;
}
} // namespace detail

/// Spawn a process on the calling process's runtime.
/// @par Errors
/// `std::logic_error` when called outside a process.
template <class F> pid spawn(F&& f, spawn_options opts = {}) {
  return detail::self_or_throw("otpp::spawn").rt->spawn(std::forward<F>(f), opts);
}

/// Spawn a process linked to the caller; the link exists before it runs.
/// @par OTP
/// `spawn_link/1`.
template <class F> pid spawn_link(F&& f, spawn_options opts = {}) {
  opts.link = true;
  return detail::self_or_throw("otpp::spawn_link").rt->spawn(std::forward<F>(f), opts);
}

/// Spawn a process monitored by the caller.
/// @par OTP
/// `spawn_monitor/1`: returns the pid and the monitor reference.
template <class F> spawned_monitor spawn_monitor(F&& f, spawn_options opts = {}) {
  opts.monitor = true;
  return detail::self_or_throw("otpp::spawn_monitor")
      .rt->spawn_and_monitor(std::forward<F>(f), opts);
}

/// What `send` did with a message.
enum class send_result : std::uint8_t {
  ok,      ///< queued, or dropped as Erlang does (the receiver has ended; its
           ///< full mailbox drops new messages, overflow_policy::drop_new)
  refused, ///< the receiver's full mailbox refused it (overflow_policy::reject)
};

/// Send `msg` to `to`. Sending to an ended process (or a null pid) does
/// nothing, as in Erlang; a receiver with a bounded mailbox
/// (`spawn_options::mailbox_limit`) applies its policy, and only
/// `overflow_policy::reject` makes the result `send_result::refused`. The
/// message is moved into one allocation.
///
/// @par Thread safety
/// Any thread may send, process or not.
/// @par Suspends
/// A process that used up its reductions yields to the other ready ones;
/// `send` never throws `process_exit` (exit signals wait for the next receive).
template <class T> send_result send(const pid& to, T&& msg) {
  static_assert(std::is_move_constructible_v<std::decay_t<T>>,
                "otpp::send: a message must be a move-constructible type");
  send_result r = send_result::ok;
  if (to) {
    auto* e = new detail::message_envelope<std::decay_t<T>>(std::forward<T>(msg));
    // Traced: the event comes before the push, while the message is still
    // the sender's to show. (Tested after the envelope is made, and the
    // process read again below: a test before it, or `me` kept across the
    // push, costs the fast path registers and stores.)
    // In a span (causal traces), the message carries its context.
    if (detail::process* me = detail::current_process;
        me != nullptr && detail::traced(*me, trace_flags::send | detail::causal_bit)) [[unlikely]]
      detail::traced_send(*me, to.get(), *e);
    if (!detail::post_envelope_counted(to.get(), e))
      r = send_result::refused;
  }
  if (detail::process* me = detail::current_process)
    detail::count_send(*me);
  return r;
}

/// Send `to` an exit signal with `reason` from the calling process.
///
/// @par OTP
/// `exit/2`: `kill` cannot be trapped and ends the target with `killed`; a
/// target that traps exits gets an `exit_message` otherwise; `normal` is
/// ignored by a non-trapping target other than the caller itself.
inline void exit(const pid& to, exit_reason reason) {
  if (!to)
    return;
  detail::process* me = detail::current_process;
  detail::send_signal(to.get(), detail::signal::exit, detail::process_ref(me), std::move(reason));
}

/// `exit(to, exit_reason::kill())`.
inline void kill(const pid& to) {
  exit(to, exit_reason::kill());
}

/// The state of a process as `process_info` reports it.
enum class process_status { ready, running, waiting, exited };

/// A snapshot of a process (Erlang's `process_info/1`).
struct process_info {
  pid self;
  process_status status = process_status::exited;
  std::size_t mailbox_length = 0; ///< messages moved into its mailbox and not yet received
  std::vector<pid> links;
  std::vector<pid> monitors;     ///< processes it monitors
  std::vector<pid> monitored_by; ///< processes monitoring it
  std::string registered_name;
  std::string label; ///< see `this_process::set_label`
  std::uint64_t reductions = 0;
  std::optional<unsigned> scheduler; ///< empty for a scoped_process
  bool trap_exit = false;
  std::optional<otpp::exit_reason> exit_reason; ///< set once it has ended
  /// While waiting: on what ("receive", "call", "sleep", ...; see
  /// `this_process::waiting_on`), and the pid number it waits for (0: none).
  std::string waiting_on;
  std::uint64_t waiting_for = 0;
  /// Its mailbox limit (0: none; see `spawn_options::mailbox_limit`) and how
  /// many messages its full mailbox dropped or refused so far.
  std::size_t mailbox_limit = 0;
  std::uint64_t dropped = 0;
  /// Its stack: bytes reserved, and bytes resident in memory, the most it
  /// (or an earlier process that had the same pooled stack: stacks are
  /// reused, not cleared) has touched: its high-water mark. 0 before its
  /// first run and for a scoped_process.
  std::size_t stack_size = 0;
  std::size_t stack_resident = 0;
  /// While it is parked (`runtime_options::hibernate_after`,
  /// `this_process::hibernate`): the bytes of its stack kept in a compact
  /// copy, its stack pages having gone back to the kernel; else 0.
  std::size_t stack_parked = 0;
  /// Bytes it holds: its process record, its resident stack and its parked
  /// copy (messages not included).
  std::size_t memory = 0;
};

/// A snapshot of `p`. Works on ended processes too (status `exited`). For a
/// pid of another node only `self` is set (its node is not asked).
///
/// @par Thread safety
/// Any thread. The mailbox length counts what the process has moved from
/// its inbox (exact while it waits).
inline process_info info(const pid& p) {
  process_info out;
  out.self = p;
  if (!p)
    return out;
  detail::process& proc = *p.get();
  if (proc.remote) // a process of another node: nothing known here
    return out;
  auto st = proc.status.load();
  out.status = static_cast<process_status>(static_cast<int>(st));
  out.mailbox_limit = proc.mailbox_limit;
  out.dropped = proc.dropped.load(std::memory_order_relaxed);
  if (st == detail::process_status::exited) {
    out.exit_reason = proc.reason;
    out.reductions = proc.reductions.load(std::memory_order_relaxed);
    std::lock_guard lock(proc.meta); // a process not yet started may move (stolen)
    if (proc.sched != nullptr)
      out.scheduler = proc.sched->index();
    return out;
  }
  out.mailbox_length = proc.box.size.load(std::memory_order_relaxed);
  out.reductions = proc.reductions.load(std::memory_order_relaxed);
  out.stack_size = proc.stack_bytes.load(std::memory_order_relaxed);
  out.stack_resident = detail::stack_resident(proc);
  out.stack_parked = proc.parked_bytes.load(std::memory_order_relaxed);
  out.memory = sizeof(detail::process) + out.stack_resident + out.stack_parked;
  out.trap_exit = proc.trap_exit.load(std::memory_order_relaxed);
  if (st == detail::process_status::waiting) {
    const char* what = proc.wait_what.load(std::memory_order_relaxed);
    out.waiting_on = what != nullptr ? what : "receive";
    out.waiting_for = proc.wait_whom.load(std::memory_order_relaxed);
  }
  std::lock_guard lock(proc.meta);
  if (proc.sched != nullptr)
    out.scheduler = proc.sched->index();
  for (auto& l : proc.links)
    out.links.emplace_back(l.other);
  for (auto& m : proc.monitors)
    out.monitors.emplace_back(m.other);
  for (auto& m : proc.monitored_by)
    out.monitored_by.emplace_back(m.other);
  out.registered_name = proc.name;
  out.label = proc.label;
  return out;
}

/// Makes the calling OS thread an otpp process for the object's lifetime,
/// so code outside the runtime (main, tests) can send, receive, link,
/// monitor and call, blocking only this thread.
///
/// Ends with reason `normal` when destroyed (or with the reason of an exit
/// signal it received: receive then throws `process_exit`). Must not
/// outlive its runtime. One per thread at a time.
class scoped_process {
public:
  explicit scoped_process(runtime& rt) {
    if (detail::current_process != nullptr)
      throw std::logic_error("otpp::scoped_process: this thread is already an otpp process");
    auto* p = new detail::process;
    p->id = detail::next_unique();
    p->rt = &rt;
    p->waiter = std::make_unique<detail::foreign_waiter>();
    p->budget = rt.options().reductions;
    p->status.store(detail::process_status::running);
    p_ = detail::process_ref(p, false);
    detail::current_process = p;
    // Virtual time: while this thread runs (outside a receive) the clock
    // stands still, and the thread's otpp::runtime_clock reads it.
    if (detail::virtual_clock* c = rt.virtual_clock()) {
      c->hold();
      p->waiter->vclock = c;
      detail::current_virtual_clock = c;
    }
  }
  scoped_process(const scoped_process&) = delete;
  scoped_process& operator=(const scoped_process&) = delete;
  ~scoped_process() {
    detail::finish_process(*p_, p_->exiting ? p_->reason : exit_reason::normal());
    detail::current_process = nullptr;
    if (detail::virtual_clock* c = p_->waiter->vclock) {
      detail::current_virtual_clock = nullptr;
      c->release();
    }
  }

  /// This process's pid.
  pid self() const noexcept { return pid(p_); }

private:
  detail::process_ref p_;
};

/// Operations on the calling process.
namespace this_process {

/// The calling process's pid.
/// @par Errors
/// `std::logic_error` outside a process.
inline pid self() {
  return pid(detail::process_ref(&detail::self_or_throw("otpp::this_process::self")));
}

/// The runtime the calling process belongs to.
inline runtime& get_runtime() {
  return *detail::self_or_throw("otpp::this_process::get_runtime").rt;
}

/// True if the calling thread is an otpp process (or holds a scoped_process).
inline bool is_process() noexcept {
  return detail::current_process != nullptr;
}

/// Let the other ready processes of this scheduler run; then apply exit
/// signals that arrived (so a busy loop can be killed).
/// @par Suspends
/// The calling process only.
inline void yield() {
  detail::yield_now(detail::self_or_throw("otpp::this_process::yield"));
}

/// End the calling process with `reason` (throws `process_exit`, which
/// unwinds its stack; code that swallows it exits again at its next
/// receive, unless it takes the exit over with `catch_exit`).
/// @par OTP
/// `exit/1`.
[[noreturn]] inline void exit(exit_reason reason = exit_reason::normal()) {
  detail::die(detail::self_or_throw("otpp::this_process::exit"), std::move(reason), false);
}

/// Inside `catch (const process_exit& e)`: take over an exit the calling
/// process raised itself with `this_process::exit`, so the code that caught
/// it goes on running (a behaviour does, to run its terminate callback with
/// `e.reason()` before it ends). Returns false, and changes nothing, for an
/// exit signal: the process still exits at its next receive.
/// @par OTP
/// `try ... catch exit:Reason -> ... end` in a behaviour's callback wrapper.
inline bool catch_exit(const process_exit& e) {
  detail::process& p = detail::self_or_throw("otpp::this_process::catch_exit");
  if (e.by_signal())
    return false;
  p.exiting = false;
  return true;
}

/// Turn exit signals into `exit_message`s (except `kill`); returns the old setting.
/// @par OTP
/// `process_flag(trap_exit, Flag)`.
inline bool trap_exit(bool on) {
  return detail::self_or_throw("otpp::this_process::trap_exit")
      .trap_exit.exchange(on, std::memory_order_relaxed);
}

/// Give the calling process a label: what it is, for people ("server
/// math_server", "pool worker 3"). Stack-overflow messages, watchdog and
/// blocking reports and `info().label` show it; behaviours set theirs
/// ("server <name>", "supervisor <name>"). Not a registered name: it need
/// not be unique and nothing finds the process by it.
/// @par OTP
/// `proc_lib:set_label/1` (OTP 27).
inline void set_label(std::string label) {
  detail::process& p = detail::self_or_throw("otpp::this_process::set_label");
  std::lock_guard lock(p.meta);
  p.label = std::move(label);
}

/// Whether the calling process traps exits.
inline bool trapping_exits() {
  return detail::self_or_throw("otpp::this_process::trapping_exits")
      .trap_exit.load(std::memory_order_relaxed);
}

/// Says, while it lives, what the calling process waits on: the blocking
/// report (`runtime::blockers()`, and a shutdown that does not end) shows
/// `what` (and `whom`) for the process while it is blocked in a receive.
/// Without one a blocked process shows "receive". `what` must outlive the
/// wait (a string literal). Nests: the previous note comes back at the end
/// of the scope. Outside a process it does nothing.
///
/// ```cpp
/// otpp::this_process::waiting_on note("call", server);
/// auto reply = otpp::this_process::receive(...);
/// ```
class waiting_on {
public:
  explicit waiting_on(const char* what, const pid& whom = {}) noexcept
      : p_(detail::current_process) {
    if (p_ == nullptr)
      return;
    what_ = p_->wait_what.exchange(what, std::memory_order_relaxed);
    whom_ = p_->wait_whom.exchange(whom.id(), std::memory_order_relaxed);
  }
  waiting_on(const waiting_on&) = delete;
  waiting_on& operator=(const waiting_on&) = delete;
  ~waiting_on() {
    if (p_ == nullptr)
      return;
    p_->wait_what.store(what_, std::memory_order_relaxed);
    p_->wait_whom.store(whom_, std::memory_order_relaxed);
  }

private:
  detail::process* p_;
  const char* what_ = nullptr;
  std::uint64_t whom_ = 0;
};

} // namespace this_process

} // namespace otpp

template <> struct fmt::formatter<otpp::process_status> : fmt::formatter<std::string_view> {
  template <class FormatContext> auto format(otpp::process_status s, FormatContext& ctx) const {
    constexpr std::string_view names[] = {"ready", "running", "waiting", "exited"};
    return fmt::formatter<std::string_view>::format(names[static_cast<int>(s)], ctx);
  }
};
