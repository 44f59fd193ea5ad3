// System messages: what every behaviour process answers besides its own
// protocol (state, status, tracing, suspend/resume, stop), and the one hook
// a behaviour loop calls to answer them.
// Distributed under the Boost Software License, Version 1.0.
#pragma once

#include <otpp/behaviour/call.hpp>
#include <otpp/behaviour/call_ref.hpp>
#include <otpp/behaviour/call_result.hpp>
#include <otpp/behaviour/handle.hpp>
#include <otpp/core/any_message.hpp>
#include <otpp/core/duration.hpp>
#include <otpp/core/exit_reason.hpp>
#include <otpp/core/link.hpp>
#include <otpp/core/monitor.hpp>
#include <otpp/core/pid.hpp>
#include <otpp/core/process.hpp>
#include <otpp/core/receive.hpp>
#include <otpp/core/request.hpp>

#include <fmt/format.h>

#include <concepts>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <typeinfo>
#include <utility>

namespace otpp {

/// What `status` reports about a behaviour process.
/// @par OTP
/// `sys:get_status/1`.
struct sys_status {
  otpp::pid pid;
  std::string behaviour;      ///< "server", "supervisor", ...
  std::string name;           ///< the definition's name
  std::string state;          ///< the state, formatted with fmt if it can be
  std::size_t mailbox_length; ///< messages waiting in its mailbox
  std::uint64_t handled;      ///< messages handled so far
  bool tracing;               ///< see `trace`
  bool suspended;             ///< see `suspend`
  std::string state_name{};   ///< a state machine's current state; empty for others
};

namespace detail {

struct sys_get_state {};
struct sys_replace_state {
  const std::type_info* type;
  std::function<void(void*)> fn; // runs on the state, in the behaviour process
};
struct sys_get_status {};
struct sys_trace {
  bool on;
};
struct sys_suspend {};
struct sys_resume {};
struct sys_stop {
  exit_reason reason;
};

// Fail a call no handler of a behaviour takes, so that its caller is not
// left waiting (a plain message: nothing to do).
inline void fail_unhandled_call(const any_message& m) {
  if (const reply_to* from = m.requester())
    send_reply(*from,
               call_failure{exit_reason::user(fmt::format("unhandled call: {}", m.type_name()))});
}

inline bool is_system_message(const any_message& m) noexcept {
  return m.is<request<sys_get_state>>() || m.is<request<sys_replace_state>>() ||
         m.is<request<sys_get_status>>() || m.is<request<sys_trace>>() ||
         m.is<request<sys_suspend>>() || m.is<request<sys_resume>>() || m.is<sys_stop>();
}

// A behaviour's state as text for status and crash reports.
// A state machine's current state by name (its snapshot says), else "".
template <class S> std::string state_name_of(const S* s) {
  if constexpr (requires(const S& x) {
                  { x.state_name() } -> std::convertible_to<std::string>;
                })
    return s != nullptr ? s->state_name() : std::string();
  else
    return std::string();
}

template <class S> std::string format_state(const S* s) {
  if constexpr (fmt::is_formattable<S>::value)
    return s != nullptr ? fmt::format("{}", *s) : std::string("(none)");
  else
    return fmt::format("<{}>", otpp::type_name<S>());
}

// A system call: any behaviour answers it, whatever its own protocol.
template <class R, process_target T, class M>
R sys_call(const char* api, const T& target, M msg, duration timeout) {
  return call_impl<R>(api, target, std::move(msg), timeout).value();
}

template <class S> S state_of(process_target auto const& target, duration timeout) {
  static_assert(std::is_copy_constructible_v<S>,
                "otpp::get_state: the state type must be copy-constructible");
  return sys_call<S>("get_state", target, sys_get_state{}, timeout);
}

} // namespace detail

/// What a behaviour loop keeps for the system messages: tracing and
/// suspension flags and the count of messages handled. A loop calls
/// `handle` on every message before its own dispatch.
///
/// @par OTP
/// `sys:handle_system_msg/6` and the `Debug` list a loop carries.
class sys_handler {
public:
  /// What `handle` did with a message.
  enum class outcome : std::uint8_t { not_system, handled, stop };

  /// The name and behaviour shown by `status`.
  /// Inside the process, it also becomes the process's label
  /// ("server math", see `this_process::set_label`).
  sys_handler(std::string behaviour, std::string name)
      : behaviour_(std::move(behaviour)), name_(std::move(name)) {
    if (this_process::is_process())
      this_process::set_label(name_.empty() ? behaviour_ : fmt::format("{} {}", behaviour_, name_));
  }

  bool tracing() const noexcept { return tracing_; }
  bool suspended() const noexcept { return suspended_; }
  std::uint64_t handled() const noexcept { return handled_; }
  const std::string& name() const noexcept { return name_; }
  /// Count a message handled by the loop's own dispatch.
  void count() noexcept { ++handled_; }
  /// Messages the loop has taken from its mailbox but not handled yet (a
  /// queue of its own, as a prioritised server's): `status` counts them
  /// in `mailbox_length`.
  void held(std::size_t n) noexcept { held_ = n; }

  /// Answer `m` if it is a system message. `state` is the loop's state
  /// (null before init); `parent` its linked starter. On `stop` (a `stop`
  /// request, or, while suspended, an exit signal from the parent) the
  /// reason is in `reason` and the loop must terminate with it. While
  /// suspended this waits here, answering only system messages; other
  /// messages stay queued in order.
  template <class State>
  outcome handle(any_message& m, State* state, const pid& parent, exit_reason& reason) {
    if (!detail::is_system_message(m))
      return outcome::not_system;
    if (answer(m, state, reason))
      return outcome::stop;
    while (suspended_) {
      bool traps = this_process::trapping_exits();
      any_message next = this_process::receive(when(
          [&](const any_message& a) {
            if (detail::is_system_message(a))
              return true;
            const auto* e = traps ? a.get_if<exit_message>() : nullptr;
            return e != nullptr && parent && e->from == parent;
          },
          [](any_message& a) { return std::move(a); }));
      if (auto* e = next.get_if<exit_message>()) {
        reason = e->reason;
        return outcome::stop;
      }
      if (answer(next, state, reason))
        return outcome::stop;
    }
    return outcome::handled;
  }

private:
  // Answer one system message; true if the loop must stop.
  template <class State> bool answer(any_message& m, State* state, exit_reason& reason) {
    using namespace detail;
    if (auto* r = m.get_if<request<sys_get_state>>()) {
      if constexpr (std::is_copy_constructible_v<State>) {
        if (state != nullptr)
          send_reply(r->from, State(*state));
        else
          send_reply(r->from, call_failure{exit_reason::user("the state is not initialised")});
      } else {
        send_reply(r->from, call_failure{exit_reason::user("the state is not copyable")});
      }
    } else if (auto* rs = m.get_if<request<sys_replace_state>>()) {
      if (state == nullptr || *rs->value.type != typeid(State)) {
        send_reply(rs->from, call_failure{exit_reason::user(
                                 fmt::format("replace_state: the state is a {}, not the type asked",
                                             otpp::type_name<State>()))});
      } else {
        rs->value.fn(state);
        send_reply(rs->from, std::monostate{});
      }
    } else if (auto* st = m.get_if<request<sys_get_status>>()) {
      send_reply(st->from,
                 sys_status{this_process::self(), behaviour_, name_, format_state<State>(state),
                            this_process::mailbox_length() + held_, handled_, tracing_, suspended_,
                            state_name_of<State>(state)});
    } else if (auto* t = m.get_if<request<sys_trace>>()) {
      tracing_ = t->value.on;
      send_reply(t->from, std::monostate{});
    } else if (auto* s = m.get_if<request<sys_suspend>>()) {
      suspended_ = true;
      send_reply(s->from, std::monostate{});
    } else if (auto* rr = m.get_if<request<sys_resume>>()) {
      suspended_ = false;
      send_reply(rr->from, std::monostate{});
    } else if (auto* stop = m.get_if<sys_stop>()) {
      reason = std::move(stop->reason);
      return true;
    }
    return false;
  }

  std::string behaviour_;
  std::string name_;
  std::uint64_t handled_ = 0;
  std::size_t held_ = 0;
  bool tracing_ = false;
  bool suspended_ = false;
};

/// The state of a behaviour process (a copy). Through a typed handle the
/// type is the definition's (`get_state(srv)`); otherwise name it
/// (`get_state<State>(pid)`). Throws `call_error` as `call` does, also when
/// the state type differs or is not copyable.
/// @par OTP
/// `sys:get_state/1,2`.
template <class S = void, process_target T>
auto get_state(const T& target, duration timeout = default_call_timeout) {
  if constexpr (std::is_void_v<S>) {
    static_assert(detail::is_typed_target<T>,
                  "otpp::get_state(pid): name the state type, get_state<State>(pid), or pass a "
                  "typed handle");
    return detail::state_of<typename detail::protocol_of<T>::state_type>(target, timeout);
  } else {
    return detail::state_of<S>(target, timeout);
  }
}

/// Change the state of a behaviour process in place: `fn(State&)` runs
/// inside it, between two messages. Throws `call_error` as `call` does, also
/// when its state is not a `State`.
/// @par OTP
/// `sys:replace_state/2,3`.
template <class State, process_target T, class F>
void replace_state(const T& target, F fn, duration timeout = default_call_timeout) {
  static_assert(std::is_invocable_v<F&, State&>,
                "otpp::replace_state<State>(target, fn): fn must be callable as fn(State&)");
  detail::sys_replace_state msg{
      &typeid(State), [f = std::move(fn)](void* s) mutable { f(*static_cast<State*>(s)); }};
  detail::sys_call<void>("replace_state", target, std::move(msg), timeout);
}

/// A status report of a behaviour process. Throws `call_error` as `call` does.
/// @par OTP
/// `sys:get_status/1,2`.
template <process_target T>
sys_status status(const T& target, duration timeout = default_call_timeout) {
  return detail::sys_call<sys_status>("status", target, detail::sys_get_status{}, timeout);
}

/// Turn tracing of handled messages on or off: each one is reported (kind
/// `report_kind::trace`) with its kind, type and what the handler decided.
/// @par OTP
/// `sys:trace/2`.
template <process_target T>
void trace(const T& target, bool on, duration timeout = default_call_timeout) {
  detail::sys_call<void>("trace", target, detail::sys_trace{on}, timeout);
}

/// Suspend a behaviour process: until `resume`, it answers only system
/// messages (and still stops for `stop` or an exit signal from its parent);
/// its other messages wait in order.
/// @par OTP
/// `sys:suspend/1,2`.
template <process_target T> void suspend(const T& target, duration timeout = default_call_timeout) {
  detail::sys_call<void>("suspend", target, detail::sys_suspend{}, timeout);
}
/// Resume a suspended behaviour process. @par OTP `sys:resume/1,2`.
template <process_target T> void resume(const T& target, duration timeout = default_call_timeout) {
  detail::sys_call<void>("resume", target, detail::sys_resume{}, timeout);
}

/// Stop a behaviour process: it runs its terminate callback with `reason`
/// and ends with it; returns once it has ended.
///
/// @par Errors
/// `call_error` with `noproc` if it is not running (or no process holds the
/// name), with `timeout` if it has not ended within `timeout` (it is not
/// killed), or with the reason it ended with if that differs from `reason`.
/// @par OTP
/// `gen_server:stop/3`, `gen_statem:stop/3`, `proc_lib:stop/3`.
template <process_target T>
void stop(const T& target, exit_reason reason = exit_reason::normal(),
          duration timeout = infinity) {
  detail::check_caller("stop");
  detail::check_timeout(timeout, "otpp::stop");
  pid server = detail::target_of<T>::resolve(target);
  std::string what = detail::target_of<T>::describe(target);
  if (!server && detail::target_of<T>::by_name)
    throw call_error(exit_reason::noproc(), server, "stop of", what);
  if (server == this_process::self())
    throw call_error(exit_reason::user("calling_self"), server, "stop of", what);
  ref m = monitor(server);
  send(server, detail::sys_stop{reason});
  std::optional<exit_reason> ended = this_process::receive(
      when([m](const down& d) { return d.monitor == m; },
           [](down& d) -> std::optional<exit_reason> { return std::move(d.reason); }),
      after(timeout, [m]() -> std::optional<exit_reason> {
        demonitor(m, {.flush = true});
        return std::nullopt;
      }));
  if (!ended)
    throw call_error(exit_reason::timeout(), server, "stop of", what);
  if (*ended != reason)
    throw call_error(*ended, server, "stop of", what);
}

} // namespace otpp
