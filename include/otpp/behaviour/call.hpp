// Calls and casts to any behaviour process: by pid, typed handle or name.
// Distributed under the Boost Software License, Version 1.0.
#pragma once

#include <otpp/behaviour/call_ref.hpp>
#include <otpp/behaviour/call_result.hpp>
#include <otpp/behaviour/detail/traits.hpp>
#include <otpp/behaviour/handle.hpp>
#include <otpp/behaviour/pending_call.hpp>
#include <otpp/core/duration.hpp>
#include <otpp/core/exit_reason.hpp>
#include <otpp/core/link.hpp>
#include <otpp/core/message.hpp>
#include <otpp/core/monitor.hpp>
#include <otpp/core/pid.hpp>
#include <otpp/core/process.hpp>
#include <otpp/core/receive.hpp>
#include <otpp/core/remote.hpp>
#include <otpp/core/request.hpp>

#include <fmt/format.h>

#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>

namespace otpp {

/// How a cast travels (so a cast and an info message of the same type go to
/// different handlers). @par OTP `{'$gen_cast', Msg}`.
template <class M> struct cast_message { M value; };

namespace detail {

struct no_reply_type_named {};

inline void check_caller(const char* api) {
  if (!this_process::is_process())
    throw std::logic_error(fmt::format("otpp::{}: the calling thread is not an otpp process (from "
                                       "other threads use otpp::async_call, or a scoped_process)",
                                       api));
}

// The reply type of a call of M to target T: the one named (which goes
// around a typed target's protocol, as a call to its pid does), else the
// protocol's.
template <class Named, class T, class M> constexpr auto reply_type_for() {
  using P = protocol_of<T>;
  if constexpr (!std::is_same_v<Named, no_reply_type_named>) {
    return std::type_identity<Named>{};
  } else if constexpr (is_typed_target<T>) {
    if constexpr (P::template handles_call<M>)
      return std::type_identity<typename P::template call_reply_t<M>>{};
    else
      return std::type_identity<no_reply_type_named>{};
  } else {
    return std::type_identity<Named>{};
  }
}
template <class Named, class T, class M>
using reply_type_t = typename decltype(reply_type_for<Named, T, std::decay_t<M>>())::type;

template <class Named, class T, class M> constexpr bool call_allowed() {
  if constexpr (is_typed_target<T> && std::is_same_v<Named, no_reply_type_named>)
    return protocol_of<T>::template handles_call<std::decay_t<M>>;
  else
    return true;
}
template <class T, class M> constexpr bool cast_allowed() {
  if constexpr (is_typed_target<T>)
    return protocol_of<T>::template handles_cast<std::decay_t<M>>;
  else
    return true;
}

// Send a request to the resolved target; a name nobody holds fails at once.
template <class R, class T, class M>
call_result<R> call_impl(const char* api, const T& target, M&& msg, duration timeout) {
  check_caller(api);
  check_timeout(timeout, api, "otpp::");
  auto&& to = target_of<T>::resolve(target);
  if constexpr (target_of<T>::by_name) {
    if (!to)
      return call_result<R>(exit_reason::noproc(), {}, target_of<T>::describe(target));
  }
  if (to == this_process::self())
    return call_result<R>(exit_reason::user("calling_self"), to);
  mailbox_mark m = this_process::mark();
  const remote::expecting_reply expects(type_name<R>()); // for a pid of another node
  ref tag = send_request(to, std::forward<M>(msg));
  return *await_reply<R>(to, tag, m, timeout, true);
}

} // namespace detail

/// Call a behaviour process: send `msg` and wait up to `timeout` for the
/// reply. Through a typed target (`handle<Def>`, `server_ref<Def>`,
/// `by_name<Def>(name)`) the reply type is the definition's and a message
/// it has no call handler for is a compile error; through a `pid` or an
/// untyped name, name the reply type: `call<Reply>(pid, msg)`.
///
/// @par Suspends
/// The calling process, until the reply, the target's end or the timeout.
/// @par Errors
/// Throws `call_error` if the target is not running (`noproc`; also for a
/// name nobody holds, and the error names it), ends before replying (its exit
/// reason), does not reply within `timeout` (`timeout`; a late reply is
/// dropped), or is the caller (`calling_self`). `std::logic_error` outside
/// a process (use `async_call`).
/// @par OTP
/// `gen_server:call/3`, `gen_statem:call/3`; a name as `gen_server:call(Name, ...)`.
template <class R = detail::no_reply_type_named, process_target T, class M>
auto call(const T& target, M&& msg, duration timeout = default_call_timeout) {
  using Reply = detail::reply_type_t<R, T, M>;
  if constexpr (!detail::call_allowed<R, T, M>()) {
    static_assert(detail::always_false<M>,
                  "otpp::call: the definition has no call handler for this message "
                  "type (a server's on_call, a state machine's call_of<M> handler)");
  } else if constexpr (std::is_same_v<Reply, detail::no_reply_type_named>) {
    static_assert(detail::always_false<M>,
                  "otpp::call(pid, msg): name the reply type, call<Reply>(pid, msg), or call "
                  "through a typed handle (server_ref<Def>, by_name<Def>(name))");
  } else {
    return detail::call_impl<Reply>("call", target, std::forward<M>(msg), timeout).value();
  }
}

/// `call` with an explicit timeout (the same as passing it to `call`).
template <class R = detail::no_reply_type_named, process_target T, class M>
auto call_for(const T& target, M&& msg, duration timeout) {
  return call<R>(target, std::forward<M>(msg), timeout);
}

/// Like `call`, but returns a `call_result` (the reply, or why there is
/// none) instead of throwing.
template <class R = detail::no_reply_type_named, process_target T, class M>
auto try_call(const T& target, M&& msg, duration timeout = default_call_timeout) {
  using Reply = detail::reply_type_t<R, T, M>;
  if constexpr (!detail::call_allowed<R, T, M>()) {
    static_assert(detail::always_false<M>,
                  "otpp::try_call: the definition has no call handler for this message "
                  "type (a server's on_call, a state machine's call_of<M> handler)");
  } else if constexpr (std::is_same_v<Reply, detail::no_reply_type_named>) {
    static_assert(detail::always_false<M>,
                  "otpp::try_call(pid, msg): name the reply type, try_call<Reply>(pid, msg), or "
                  "call through a typed handle");
  } else {
    return detail::call_impl<Reply>("try_call", target, std::forward<M>(msg), timeout);
  }
}

/// Send a call without waiting: several may be in flight; `wait` on each
/// later. A name nobody holds gives a call that fails with `noproc` when
/// waited on.
/// @par OTP
/// `gen_server:send_request/2`.
template <class R = detail::no_reply_type_named, process_target T, class M>
auto call_async(const T& target, M&& msg) {
  using Reply = detail::reply_type_t<R, T, M>;
  if constexpr (!detail::call_allowed<R, T, M>()) {
    static_assert(detail::always_false<M>,
                  "otpp::call_async: the definition has no call handler for this message type "
                  "(a server's on_call, a state machine's call_of<M> handler)");
  } else if constexpr (std::is_same_v<Reply, detail::no_reply_type_named>) {
    static_assert(detail::always_false<M>,
                  "otpp::call_async(pid, msg): name the reply type, call_async<Reply>(pid, msg), "
                  "or call through a typed handle");
  } else {
    detail::check_caller("call_async");
    pid to = detail::target_of<T>::resolve(target);
    mailbox_mark m = this_process::mark();
    const remote::expecting_reply expects(type_name<Reply>()); // for a pid of another node
    ref tag = send_request(to, std::forward<M>(msg)); // a null pid: a down with noproc follows
    return pending_call<Reply>(std::move(to), tag, m);
  }
}

/// Cast: send and go on. Never fails; a cast to an ended process or a name
/// nobody holds is lost silently. Through a typed target a message the
/// definition has no cast handler for is a compile error.
/// @par OTP
/// `gen_server:cast/2`.
template <process_target T, class M> void cast(const T& target, M&& msg) {
  using U = std::decay_t<M>;
  if constexpr (!detail::cast_allowed<T, U>()) {
    static_assert(detail::always_false<U>,
                  "otpp::cast: the definition has no cast handler for this message type (a "
                  "server's on_cast, a state machine's handler taking M)");
  } else {
    send(pid(detail::target_of<T>::resolve(target)), cast_message<U>{std::forward<M>(msg)});
  }
}

/// Send a plain message to the process registered as `n.name()` (an info
/// message for a behaviour). Lost silently if nobody holds the name, as a
/// send to an ended pid is.
template <class P, class M> void send(const named<P>& n, M&& msg) {
  send(n.resolve(), std::forward<M>(msg));
}

/// Monitor the process registered as `n.name()` now; a name nobody holds
/// gives an immediate `down` with `noproc`, as `erlang:monitor(process,
/// Name)` does.
template <class P> ref monitor(const named<P>& n) {
  return monitor(n.resolve());
}

} // namespace otpp
