// What a server handler tells the server to do next: actions, and a
// call reply followed by an action.
// Distributed under the Boost Software License, Version 1.0.
#pragma once

#include <otpp/core/duration.hpp>
#include <otpp/core/exit_reason.hpp>

#include <any>
#include <cstdint>
#include <type_traits>
#include <utility>

namespace otpp {

/// What the server does after a handler: go on, go on with an inactivity
/// timeout, hibernate, run a continue handler first, or stop.
///
/// @par OTP
/// The tail of a callback's return tuple: `{noreply, S}`, `{noreply, S,
/// Timeout}`, `{noreply, S, hibernate}`, `{noreply, S, {continue, C}}`,
/// `{stop, Reason, S}`.
class action {
public:
  enum class kind : std::uint8_t { next, timeout, hibernate, continue_with, stop };

  action() noexcept = default;
  kind which() const noexcept { return kind_; }
  duration timeout() const noexcept { return timeout_; }
  const exit_reason& reason() const noexcept { return reason_; }
  /// The value given to `act::continue_with`.
  std::any& continuation() noexcept { return continue_; }

  /// @cond internal
  static action make(kind k, duration t = {}, exit_reason r = {}, std::any c = {}) {
    action a;
    a.kind_ = k;
    a.timeout_ = t;
    a.reason_ = std::move(r);
    a.continue_ = std::move(c);
    return a;
  }
  /// @endcond

private:
  kind kind_ = kind::next;
  duration timeout_{};
  exit_reason reason_;
  std::any continue_;
};

/// The actions a handler can return.
namespace act {
/// Wait for the next message.
inline action next() {
  return {};
}
/// Wait for the next message; if none arrives within `t`, the timeout
/// handler runs (a `server_timeout` info message).
inline action timeout(duration t) {
  detail::check_timeout(t, "otpp::act::timeout");
  return action::make(action::kind::timeout, t);
}
/// Release what can be released (the `on_hibernate` hook, unused stack
/// pages) and sleep until the next message.
inline action hibernate() {
  return action::make(action::kind::hibernate);
}
/// Run the continue handler for `value`'s type before any other message.
template <class T> action continue_with(T value) {
  return action::make(action::kind::continue_with, {}, {}, std::any(std::move(value)));
}
/// Stop: `on_terminate` runs, then the server ends with `reason`.
inline action stop(exit_reason reason = exit_reason::normal()) {
  return action::make(action::kind::stop, {}, std::move(reason));
}
} // namespace act

/// A call handler's result that replies and then acts (OTP's `{reply, R, S,
/// Action}` and `{stop, Reason, Reply, S}`). Make it with `reply_and`.
template <class R> struct reply_with_action {
  R value;
  action then;
};

/// Reply `value`, then do `then` (for `act::stop`, OTP's order: terminate
/// runs first, then the reply is sent).
template <class R> reply_with_action<std::decay_t<R>> reply_and(R&& value, action then) {
  return {std::forward<R>(value), std::move(then)};
}

/// Delivered to the timeout handler when an inactivity timeout expires.
struct server_timeout {};

namespace detail {
template <class T> struct is_reply_with_action : std::false_type {};
template <class R> struct is_reply_with_action<reply_with_action<R>> : std::true_type {
  using reply = R;
};
template <class R> struct reply_type_of { using type = R; };
template <class R> struct reply_type_of<reply_with_action<R>> { using type = R; };
} // namespace detail

} // namespace otpp
