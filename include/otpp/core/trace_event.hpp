// Tracing hooks, the types: what a tracer sees (trace_event), which events
// a process is traced for (trace_flags), and the tracer interface. Setting
// flags and installing a tracer: core/trace.hpp and runtime::set_tracer.
// Distributed under the Boost Software License, Version 1.0.
#pragma once

#include <otpp/core/exit_reason.hpp>
#include <otpp/core/pid.hpp>
#include <otpp/core/span_context.hpp>
#include <otpp/detail/process.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <iterator>
#include <string_view>

namespace otpp {

/// What happened. Each kind belongs to one of the `trace_flags`.
enum class trace_kind : std::uint8_t {
  // trace_flags::procs
  spawn,            ///< the traced process spawned `other`
  exit,             ///< the traced process ended with `reason`
  link,             ///< the traced process linked to `other` (link, spawn_link)
  unlink,           ///< the traced process unlinked from `other`
  getting_linked,   ///< `other` linked to the traced process
  getting_unlinked, ///< `other` unlinked from the traced process
  register_name,    ///< the traced process took the name `what`
  unregister_name,  ///< the traced process lost the name `what` (unregistered, or it ended)
  // trace_flags::monitors
  monitor,   ///< the traced process monitors `other` under `ref`
  demonitor, ///< the traced process dropped its monitor `ref`
  down,      ///< the monitor `ref` on `other` fired with `reason`
  // trace_flags::send
  send, ///< the traced process sent `message` to `other` (any send, requests and replies too)
  // trace_flags::receive
  receive, ///< `message` entered the traced process's mailbox
  // trace_flags::calls
  call,  ///< the traced process sent a request (`message`) to `other`; `ref` is its tag
  reply, ///< the traced process answered the request `ref` of `other`
  // trace_flags::behaviour (from behaviours, through otpp::trace_behaviour)
  restart,      ///< a supervisor restarted its child `what` as `other` after it ended with `reason`
  state_change, ///< a state machine went from state `detail` to state `what`
  annotation,   ///< a process's own event (`what`, `detail`)
  // Causal traces (no flag: every process in a trace; see otpp/core/causal.hpp)
  /// the traced process ended span `span` (child of `parent`), begun at `since`: named
  /// `what` (a trace_span's name, or the type of the message it began with, which
  /// `message` names then, without a value); `detail` is the process's label or name
  span,
  /// the traced process took `message` from `other`, sent at `since` in span `parent`,
  /// and works on it in span `span` (`ref` is the message's flow id)
  flow,
};

/// The name of a kind ("spawn", "getting_linked", ...).
constexpr std::string_view to_string(trace_kind k) noexcept {
  constexpr std::string_view names[] = {
      "spawn",    "exit",       "link",    "unlink",    "getting_linked", "getting_unlinked",
      "register", "unregister", "monitor", "demonitor", "down",           "send",
      "receive",  "call",       "reply",   "restart",   "state_change",   "annotation",
      "span",     "flow"};
  static_assert(std::size(names) == static_cast<std::size_t>(trace_kind::flow) + 1);
  return names[static_cast<std::uint8_t>(k)];
}

/// Which events of a process are traced: a bit set (`trace_flags::send |
/// trace_flags::receive`).
///
/// @par OTP
/// The flags of `erlang:trace/3`: `send`, `'receive'`, `procs`,
/// `set_on_spawn`. `monitors`, `calls` and `behaviour` are otpp's own (OTP
/// sees monitors and calls only as messages, and behaviour events through
/// `sys:trace`).
struct trace_flags {
  using type = std::uint32_t;
  static constexpr type none = 0;
  static constexpr type send = 1u << 0;    ///< trace_kind::send
  static constexpr type receive = 1u << 1; ///< trace_kind::receive
  static constexpr type procs = 1u
                                << 2; ///< spawn, exit, (un)link, getting_(un)linked, (un)register
  static constexpr type monitors = 1u << 3;  ///< monitor, demonitor, down
  static constexpr type calls = 1u << 4;     ///< call, reply
  static constexpr type behaviour = 1u << 5; ///< restart, state_change, annotation
  /// Processes this one spawns get its flags (set_on_spawn included).
  static constexpr type set_on_spawn = 1u << 6;
  /// Every kind of event (not set_on_spawn).
  static constexpr type all = send | receive | procs | monitors | calls | behaviour;
};

namespace detail {
// Not a flag users set: a process has it while it has open spans (causal
// traces), so that the tests sends and receives make anyway find it.
inline constexpr trace_flags::type causal_bit = 1u << 15;
inline constexpr trace_flags::type user_flags = trace_flags::all | trace_flags::set_on_spawn;
} // namespace detail

/// The flag that selects events of kind `k`.
constexpr trace_flags::type flag_of(trace_kind k) noexcept {
  switch (k) {
  case trace_kind::spawn:
  case trace_kind::exit:
  case trace_kind::link:
  case trace_kind::unlink:
  case trace_kind::getting_linked:
  case trace_kind::getting_unlinked:
  case trace_kind::register_name:
  case trace_kind::unregister_name:
    return trace_flags::procs;
  case trace_kind::monitor:
  case trace_kind::demonitor:
  case trace_kind::down:
    return trace_flags::monitors;
  case trace_kind::send:
    return trace_flags::send;
  case trace_kind::receive:
    return trace_flags::receive;
  case trace_kind::call:
  case trace_kind::reply:
    return trace_flags::calls;
  case trace_kind::restart:
  case trace_kind::state_change:
  case trace_kind::annotation:
    return trace_flags::behaviour;
  case trace_kind::span:
  case trace_kind::flow:
    return detail::causal_bit;
  }
  return trace_flags::none;
}

/// A message seen by a tracer: its type, and the value while the event is
/// being delivered (never keep the pointer).
class traced_message {
public:
  traced_message() noexcept = default;
  /// @cond internal
  traced_message(const detail::type_descriptor* type, const void* value) noexcept
      : type_(type), value_(value) {}
  /// @endcond

  /// False for events that carry no message.
  explicit operator bool() const noexcept { return type_ != nullptr; }
  /// The type's name as the compiler spells it; empty if there is none.
  std::string_view type_name() const noexcept {
    return type_ != nullptr ? type_->name : std::string_view();
  }
  /// True if the message's type is exactly `T`.
  template <class T> bool is() const noexcept { return type_ == detail::type_tag<T>(); }
  /// The value if its type is exactly `T`, else null. Valid only during the
  /// tracer's call.
  template <class T> const T* get_if() const noexcept {
    return is<T>() ? static_cast<const T*>(value_) : nullptr;
  }

private:
  const detail::type_descriptor* type_ = nullptr;
  const void* value_ = nullptr;
};

/// One traced event. References (`reason`, `message`, `what`, `detail`)
/// are valid only during the tracer's call: copy what you keep.
struct trace_event {
  trace_kind kind{};
  pid subject;                         ///< the traced process
  pid other;                           ///< the other process, if the event has one
  std::uint64_t ref = 0;               ///< a monitor's reference or a request's tag, else 0
  const exit_reason* reason = nullptr; ///< exit, down, restart
  traced_message message;              ///< send, receive, call, reply
  std::string_view what;               ///< restart: the child id; state_change: the new state
  std::string_view detail;             ///< state_change: the old state; annotation: free text
  std::chrono::steady_clock::time_point at{}; ///< when
  int scheduler = -1; ///< the scheduler thread it happened on (-1: not a scheduler thread)
  /// span: the span that ended; flow: the span the message is worked on in.
  span_context span{};
  std::uint64_t parent = 0; ///< span: its parent span's id (0: a root); flow: the sender's span
  std::chrono::steady_clock::time_point since{}; ///< span: when it began; flow: when sent
};

/// Receives the events of traced processes (see `runtime::set_tracer`).
///
/// `on_event` runs synchronously on the thread where the event happens,
/// often a scheduler thread in the middle of a send or a receive, and may
/// run on several threads at once: keep it short and thread-safe, and do
/// not block or wait in it. Events caused by the tracer itself (a tracer
/// that sends a message) are not traced. An exception from `on_event` is
/// dropped.
///
/// @par OTP
/// A tracer process of `erlang:trace/3`; `otpp::trace_to(pid)` gives one
/// that forwards every event to a process as a `trace_record` message.
class tracer {
public:
  virtual ~tracer() = default;
  virtual void on_event(const trace_event& event) = 0;
};

} // namespace otpp
