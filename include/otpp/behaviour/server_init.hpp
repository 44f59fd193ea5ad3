// What a server's init returns: the first state and action, stop, or ignore.
// Distributed under the Boost Software License, Version 1.0.
#pragma once

#include <otpp/behaviour/server_action.hpp>
#include <otpp/core/exit_reason.hpp>

#include <optional>
#include <type_traits>
#include <utility>

namespace otpp {

struct init_stop_t {
  exit_reason reason;
};
struct init_ignore_t {};

/// What `init` returns: the first state (and an action), stop, or ignore.
///
/// @par OTP
/// `{ok, S}`, `{ok, S, Timeout | hibernate | {continue, C}}`, `{stop, Reason}`, `ignore`.
template <class S> class init_result {
public:
  enum class kind { ok, stop, ignore };
  init_result(S state, action then = act::next())
      : kind_(kind::ok), state_(std::move(state)), then_(std::move(then)) {}
  init_result(init_stop_t s) : kind_(kind::stop), reason_(std::move(s.reason)) {}
  init_result(init_ignore_t) : kind_(kind::ignore) {}

  kind which() const noexcept { return kind_; }
  std::optional<S>& state() noexcept { return state_; }
  action& then() noexcept { return then_; }
  const exit_reason& reason() const noexcept { return reason_; }

private:
  kind kind_;
  std::optional<S> state_;
  action then_;
  exit_reason reason_;
};

/// `init` succeeded: start with `state`, then `then` (a timeout, hibernate or continue).
template <class S> init_result<std::decay_t<S>> init_ok(S&& state, action then = act::next()) {
  return init_result<std::decay_t<S>>(std::forward<S>(state), std::move(then));
}
/// `init` failed: the server ends with `reason` without entering its loop;
/// start returns an error with `reason`.
inline init_stop_t init_stop(exit_reason reason) {
  return {std::move(reason)};
}
/// `init` decided not to run: the server ends with `normal`; start reports `ignored`.
inline init_ignore_t init_ignore() {
  return {};
}

} // namespace otpp
