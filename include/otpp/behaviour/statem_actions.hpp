// What a state machine's handlers return: a transition (keep, repeat, next
// state, stop) with actions (replies, postpone, inserted events, timeouts,
// hibernate). The types say what each handler may do: the states a handler
// may go to are in its result type, and enter calls cannot change state,
// postpone or insert events.
// Distributed under the Boost Software License, Version 1.0.
#pragma once

#include <otpp/behaviour/call_ref.hpp>
#include <otpp/behaviour/statem_events.hpp>
#include <otpp/core/duration.hpp>
#include <otpp/core/exit_reason.hpp>
#include <otpp/core/message.hpp>
#include <otpp/core/pid.hpp>

#include <boost/container/small_vector.hpp>

#include <any>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

namespace otpp::sm {

namespace detail {
// One action, type-erased (what the loop applies).
struct action_data {
  enum class kind : std::uint8_t {
    reply,
    postpone,
    next_event,
    set_timeout,
    cancel_timeout,
    update_timeout,
    hibernate
  };
  kind k = kind::reply;
  reply_to to;                                        // reply: where
  void (*send)(const reply_to&, std::any&) = nullptr; // reply: sends `value` to `to`
  std::any value;                                     // reply / next_event / timeout message
  std::string_view type_name;
  timeout_kind tk = timeout_kind::event;
  std::string name;
  duration after{};
  std::optional<std::chrono::steady_clock::time_point> at;
};
// The actions of one result: two fit without an allocation.
using action_list = boost::container::small_vector<action_data, 2>;

inline void run_reply(action_data& a) {
  a.send(a.to, a.value);
}

template <class M> action_data timer(timeout_kind k, std::string name, duration t, M m) {
  otpp::detail::check_timeout(t, k == timeout_kind::state   ? "otpp::sm::state_timeout"
                                 : k == timeout_kind::event ? "otpp::sm::event_timeout"
                                                            : "otpp::sm::generic_timeout");
  action_data a;
  a.k = action_data::kind::set_timeout;
  a.tk = k;
  a.name = std::move(name);
  a.after = t;
  a.value = std::any(std::move(m));
  a.type_name = otpp::detail::type_name<M>();
  return a;
}
template <class M>
action_data timer_at(timeout_kind k, std::string name, std::chrono::steady_clock::time_point at,
                     M m) {
  action_data a = timer(k, std::move(name), duration(), std::move(m));
  a.at = at;
  return a;
}
} // namespace detail

/// An action an enter call may take too: a reply, a timer, hibernate.
class enter_action {
public:
  /// @cond internal
  explicit enter_action(detail::action_data d) : d_(std::move(d)) {}
  detail::action_data& data() noexcept { return d_; }
  /// @endcond
private:
  detail::action_data d_;
};

/// Any action of an event handler: an `enter_action`, `postpone()` or
/// `next_event(m)`.
class action {
public:
  action(enter_action a) : d_(std::move(a.data())) {} // NOLINT: every enter action is an action
  /// @cond internal
  explicit action(detail::action_data d) : d_(std::move(d)) {}
  detail::action_data& data() noexcept { return d_; }
  /// @endcond
private:
  detail::action_data d_;
};

/// Reply `v` to the call `to` (a `call_ref` kept from an earlier event).
template <class R, class V> enter_action reply(const call_ref<R>& to, V&& v) {
  detail::action_data a;
  a.k = detail::action_data::kind::reply;
  a.to = to.address();
  a.value = std::any(R(std::forward<V>(v)));
  a.send = [](const reply_to& t, std::any& value) {
    call_ref<R>(t).reply(std::move(*std::any_cast<R>(&value)));
  };
  return enter_action(std::move(a));
}
/// Reply `v` to call `q` (also several replies in one result).
/// @par OTP
/// `{reply, From, Reply}`.
template <class Q, class R, class V> enter_action reply(const call_of<Q, R>& q, V&& v) {
  return reply(q.from, std::forward<V>(v));
}
/// Reply to a call whose reply type is `void`.
template <class Q> enter_action reply(const call_of<Q, void>& q) {
  detail::action_data a;
  a.k = detail::action_data::kind::reply;
  a.to = q.from.address();
  a.send = [](const reply_to& t, std::any&) { call_ref<void>(t).reply(); };
  return enter_action(std::move(a));
}

/// Keep this event until the state changes; it is then retried (the
/// oldest postponed first) before anything queued later.
/// @par OTP
/// `postpone`.
inline action postpone() {
  detail::action_data a;
  a.k = detail::action_data::kind::postpone;
  return action(std::move(a));
}
/// Insert an event (`internal_of<M>`): handled before any queued event,
/// several in the order given.
/// @par OTP
/// `{next_event, internal, M}`.
template <class M> action next_event(M m) {
  detail::action_data a;
  a.k = detail::action_data::kind::next_event;
  a.value = std::any(std::move(m));
  a.type_name = otpp::detail::type_name<M>();
  return action(std::move(a));
}

/// An event timeout: `timeout_of<M>` (kind `event`) arrives if no event
/// comes within `t` (any event cancels it; zero fires at once unless an
/// event is queued).
/// @par OTP
/// `{timeout, T, M}`.
template <class M> enter_action event_timeout(duration t, M m) {
  return enter_action(detail::timer(timeout_kind::event, {}, t, std::move(m)));
}
/// A state timeout: `timeout_of<M>` (kind `state`) after `t`, unless the
/// state changes first. Setting it again restarts it.
/// @par OTP
/// `{state_timeout, T, M}`.
template <class M> enter_action state_timeout(duration t, M m) {
  return enter_action(detail::timer(timeout_kind::state, {}, t, std::move(m)));
}
/// A state timeout at an absolute time.
/// @par OTP
/// `{state_timeout, T, M, [{abs, true}]}`.
template <class M> enter_action state_timeout_at(std::chrono::steady_clock::time_point at, M m) {
  return enter_action(detail::timer_at(timeout_kind::state, {}, at, std::move(m)));
}
/// A named generic timeout: `timeout_of<M>` (kind `generic`, `name`) after
/// `t`, across state changes; setting it again restarts it with the new
/// time and message.
/// @par OTP
/// `{{timeout, Name}, T, M}`.
template <class M> enter_action generic_timeout(std::string name, duration t, M m) {
  return enter_action(detail::timer(timeout_kind::generic, std::move(name), t, std::move(m)));
}
/// A named generic timeout at an absolute time.
template <class M>
enter_action generic_timeout_at(std::string name, std::chrono::steady_clock::time_point at, M m) {
  return enter_action(detail::timer_at(timeout_kind::generic, std::move(name), at, std::move(m)));
}
/// Cancel the state timeout.
/// @par OTP
/// `{state_timeout, cancel}`.
inline enter_action cancel_state_timeout() {
  detail::action_data a;
  a.k = detail::action_data::kind::cancel_timeout;
  a.tk = timeout_kind::state;
  return enter_action(std::move(a));
}
/// Cancel the generic timeout `name` (nothing if it is not running).
/// @par OTP
/// `{{timeout, Name}, cancel}`.
inline enter_action cancel_timeout(std::string name) {
  detail::action_data a;
  a.k = detail::action_data::kind::cancel_timeout;
  a.tk = timeout_kind::generic;
  a.name = std::move(name);
  return enter_action(std::move(a));
}
/// Change the message of the running generic timeout `name` (its time stays;
/// if it is not running, a timeout event with `m` is delivered at once, as
/// OTP does).
/// @par OTP
/// `{{timeout, Name}, update, M}`.
template <class M> enter_action update_timeout(std::string name, M m) {
  detail::action_data a =
      detail::timer(timeout_kind::generic, std::move(name), duration(), std::move(m));
  a.k = detail::action_data::kind::update_timeout;
  return enter_action(std::move(a));
}
/// Change the message of the running state timeout.
template <class M> enter_action update_state_timeout(M m) {
  detail::action_data a = detail::timer(timeout_kind::state, {}, duration(), std::move(m));
  a.k = detail::action_data::kind::update_timeout;
  return enter_action(std::move(a));
}
/// Hibernate before waiting for the next event.
/// @par OTP
/// `hibernate`.
inline enter_action hibernate() {
  detail::action_data a;
  a.k = detail::action_data::kind::hibernate;
  return enter_action(std::move(a));
}

// ---------------------------------------------------------------------------
// Transitions
// ---------------------------------------------------------------------------

namespace detail {
enum class step : std::uint8_t { keep, repeat, next, stop };
template <class... A> action_list collect(A&&... a) {
  action_list out;
  out.reserve(sizeof...(A));
  (out.push_back(std::move(action(std::forward<A>(a)).data())), ...);
  return out;
}
} // namespace detail

/// Stay in the current state (no enter call); then apply the actions.
struct keep_state_t {
  detail::action_list actions;
};
/// Stay in the current state, run its enter call again and retry postponed
/// events as after a change; then apply the actions.
struct repeat_state_t {
  detail::action_list actions;
};
/// Go to state `S` (a value of one of the machine's state types).
template <class S> struct next_state_t {
  S state;
  detail::action_list actions;
};
/// Stop: the replies among the actions are sent, terminate runs, the machine
/// ends with `reason`.
struct stop_t {
  exit_reason reason;
  detail::action_list actions;
};

/// @par OTP `{keep_state_and_data, Actions}`.
template <class... A> keep_state_t keep_state(A&&... a) {
  return {detail::collect(std::forward<A>(a)...)};
}
/// @par OTP `{repeat_state_and_data, Actions}`.
template <class... A> repeat_state_t repeat_state(A&&... a) {
  return {detail::collect(std::forward<A>(a)...)};
}
/// @par OTP `{next_state, S, Data, Actions}`.
template <class S, class... A> next_state_t<std::decay_t<S>> next_state(S&& s, A&&... a) {
  return {std::forward<S>(s), detail::collect(std::forward<A>(a)...)};
}
/// @par OTP `{stop, Reason}`, `{stop_and_reply, Reason, Replies}`.
template <class... A> stop_t stop(exit_reason reason = exit_reason::normal(), A&&... replies) {
  static_assert((std::is_convertible_v<A, enter_action> && ...),
                "otpp::sm::stop: only replies (sm::reply) go with a stop");
  return {std::move(reason), detail::collect(std::forward<A>(replies)...)};
}

/// The result of a handler that may go to one of `Targets` (each one of the
/// machine's states), keep or repeat its state, or stop. A `next_state` to
/// any other state does not compile.
template <class... Targets> class next {
public:
  next(keep_state_t k) : step_(detail::step::keep), actions_(std::move(k.actions)) {}     // NOLINT
  next(repeat_state_t r) : step_(detail::step::repeat), actions_(std::move(r.actions)) {} // NOLINT
  next(stop_t s)                                                                          // NOLINT
      : step_(detail::step::stop), actions_(std::move(s.actions)), reason_(std::move(s.reason)) {}
  next(action a) : step_(detail::step::keep) { actions_.push_back(std::move(a.data())); } // NOLINT
  next(enter_action a) : step_(detail::step::keep) {                                      // NOLINT
    actions_.push_back(std::move(a.data()));
  }
  template <class S>
  next(next_state_t<S> n) // NOLINT
      : step_(detail::step::next), actions_(std::move(n.actions)), target_(std::move(n.state)) {
    static_assert((std::is_same_v<S, Targets> || ...),
                  "otpp::sm::next<...>: next_state to a state that is not among this handler's "
                  "targets (add it to the handler's next<...> result type)");
  }

  /// @cond internal
  detail::step which() const noexcept { return step_; }
  detail::action_list& actions() noexcept { return actions_; }
  std::any& target() noexcept { return target_; }
  exit_reason& reason() noexcept { return reason_; }
  /// @endcond

private:
  detail::step step_;
  detail::action_list actions_;
  std::any target_;
  exit_reason reason_;
};

/// What an enter call returns (or `void`, or one `enter_action`): actions
/// that neither change the state, postpone nor insert events.
/// @par OTP
/// `{keep_state_and_data, Actions}` from a state enter call.
class enter_result {
public:
  enter_result() = default;
  enter_result(enter_action a) { actions_.push_back(std::move(a.data())); } // NOLINT
  template <class... A>
  requires(sizeof...(A) > 1 &&
           (std::is_convertible_v<A, enter_action> && ...)) explicit enter_result(A&&... a) {
    (actions_.push_back(std::move(enter_action(std::forward<A>(a)).data())), ...);
  }
  /// @cond internal
  detail::action_list& actions() noexcept { return actions_; }
  /// @endcond
private:
  detail::action_list actions_;
};

} // namespace otpp::sm
