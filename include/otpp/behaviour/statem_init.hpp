// What a state machine's init function returns: init_ok, init_stop,
// init_ignore.
// Distributed under the Boost Software License, Version 1.0.
#pragma once

#include <otpp/behaviour/detail/statem_event.hpp>
#include <otpp/behaviour/statem_actions.hpp>
#include <otpp/core/exit_reason.hpp>

#include <cstdint>
#include <optional>
#include <type_traits>
#include <utility>
#include <variant>

namespace otpp::sm {

/// The result of an init function.
template <class Data, class... States> class init_result {
public:
  enum class kind : std::uint8_t { ok, stop, ignore };
  template <class S>
  init_result(next_state_t<S> n) // NOLINT
      : kind_(kind::ok), state_(std::move(n.state)), actions_(std::move(n.actions)) {
    static_assert(detail::one_of<S, States...>,
                  "otpp::sm::init_ok: the initial state is not one of the machine's states");
  }
  init_result(stop_t s)
      : kind_(s.reason.is_normal() ? kind::ignore : kind::stop), reason_(std::move(s.reason)) {
  } // NOLINT

  kind which() const noexcept { return kind_; }
  std::optional<std::variant<States...>>& state() noexcept { return state_; }
  detail::action_list& actions() noexcept { return actions_; }
  const exit_reason& reason() const noexcept { return reason_; }

private:
  kind kind_;
  std::optional<std::variant<States...>> state_;
  detail::action_list actions_;
  exit_reason reason_;
};

/// Init succeeded: start in `s`, then apply the actions (timeouts,
/// inserted events, ...). @par OTP `{ok, State, Data, Actions}`.
template <class S, class... A> next_state_t<std::decay_t<S>> init_ok(S&& s, A&&... a) {
  return next_state(std::forward<S>(s), std::forward<A>(a)...);
}
/// Init failed with `reason`. @par OTP `{stop, Reason}`.
inline stop_t init_stop(exit_reason reason) {
  if (reason.is_normal())
    reason = exit_reason::user("init_stop with reason normal");
  return stop_t{std::move(reason), {}};
}
/// Init chose not to run. @par OTP `ignore`.
inline stop_t init_ignore() {
  return stop_t{exit_reason::normal(), {}};
}

} // namespace otpp::sm
