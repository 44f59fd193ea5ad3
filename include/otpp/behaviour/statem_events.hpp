// The events a state machine's handlers take: calls, casts, info
// messages, inserted (internal) events and timeouts, each a type.
// Distributed under the Boost Software License, Version 1.0.
#pragma once

#include <otpp/behaviour/call_ref.hpp>

#include <cstdint>
#include <string>
#include <type_traits>

namespace otpp::sm {

namespace detail {
template <class Q, class = void> struct default_reply { using type = void; };
template <class Q> struct default_reply<Q, std::void_t<typename Q::reply_type>> {
  using type = typename Q::reply_type;
};
} // namespace detail

/// A call event: `value`, and where the reply goes. A handler replies with
/// the action `sm::reply(q, v)`, or keeps `q.from` (a `call_ref<R>`) and
/// answers later, from any handler or process. `R` is the reply type (by
/// default `Q::reply_type`, else `void`); callers through a typed handle get
/// an `R`.
/// @par OTP
/// `{call, From}` events.
template <class Q, class R = typename detail::default_reply<Q>::type> struct call_of {
  using message_type = Q;
  using reply_type = R;
  Q value;
  call_ref<R> from;
};

/// An info event: a plain message of type `M` (sent with `send`, not
/// `cast`), a `down` or an `exit_message`.
/// @par OTP
/// `info` events.
template <class M> struct info_of { M value; };

/// An inserted event (`sm::next_event(m)`): handled before anything queued.
/// @par OTP
/// `internal` events.
template <class M> struct internal_of { M value; };

/// Which timer a timeout event comes from.
enum class timeout_kind : std::uint8_t {
  event,   ///< `sm::event_timeout`: cancelled by any event
  state,   ///< `sm::state_timeout`: cancelled by a change of state
  generic, ///< `sm::generic_timeout(name, ...)`: lives until it fires or is cancelled
};

/// A timeout event carrying the message its timer was set with.
/// @par OTP
/// `timeout`, `state_timeout` and `{timeout, Name}` events.
template <class M> struct timeout_of {
  M value;
  timeout_kind kind = timeout_kind::event;
  std::string name; ///< a generic timeout's name
};

/// A cast event is the message itself: a handler taking `M` handles
/// `cast(machine, M{...})`.

} // namespace otpp::sm
