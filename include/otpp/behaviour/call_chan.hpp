// Calls answered on a typed channel the caller passes with the request.
// Distributed under the Boost Software License, Version 1.0.
#pragma once

#include <otpp/behaviour/call.hpp>
#include <otpp/behaviour/detail/traits.hpp>
#include <otpp/behaviour/handle.hpp>
#include <otpp/core/channel.hpp>
#include <otpp/core/process.hpp>

#include <type_traits>
#include <utility>

namespace otpp {

/// A request whose reply goes to `reply`, a typed channel of the caller's
/// (see `call_chan`, `server_definition::on_call_chan`).
template <class M, class R> struct chan_request {
  M value;
  send_port<R> reply;
};

namespace detail {
template <class T> struct is_chan_request : std::false_type {};
template <class M, class R> struct is_chan_request<chan_request<M, R>> : std::true_type {
  using message = M;
  using reply = R;
};

template <class Named, class T, class M> constexpr auto chan_reply_for() {
  using P = protocol_of<T>;
  if constexpr (!std::is_same_v<Named, no_reply_type_named>) {
    return std::type_identity<Named>{};
  } else if constexpr (is_typed_target<T>) {
    if constexpr (requires { P::template handles_call_chan<M>; }) {
      if constexpr (P::template handles_call_chan<M>)
        return std::type_identity<typename P::template call_chan_reply_t<M>>{};
      else
        return std::type_identity<no_reply_type_named>{};
    } else {
      return std::type_identity<no_reply_type_named>{};
    }
  } else {
    return std::type_identity<no_reply_type_named>{};
  }
}
} // namespace detail

/// Send `msg` with a new typed channel for its reply and return the
/// channel's receive port: `call_chan(srv, m).receive()` waits for the
/// reply, `receive_for(t)` at most `t`, and `port.handler(f)` waits for it
/// together with other messages. Through a typed handle the reply type is
/// the one of the definition's `on_call_chan` handler for `M` (a message it
/// has none for is a compile error); through a pid name it:
/// `call_chan<R>(pid, m)`.
///
/// There is no monitor: a server that dies leaves the port silent (use
/// `receive_for`). A name nobody holds loses the request, as `send` does.
/// @par Cloud Haskell
/// `callChan`, answered by `handleRpcChan`.
template <class R = detail::no_reply_type_named, process_target T, class M>
auto call_chan(const T& target, M&& msg) {
  using Msg = std::decay_t<M>;
  using Reply = typename decltype(detail::chan_reply_for<R, T, Msg>())::type;
  if constexpr (std::is_same_v<Reply, detail::no_reply_type_named>) {
    static_assert(detail::always_false<M>,
                  "otpp::call_chan: the server definition has no channel call handler "
                  "(on_call_chan) for this message type; through a pid, name the reply type: "
                  "call_chan<Reply>(pid, msg)");
  } else {
    detail::check_caller("call_chan");
    auto [sp, rp] = make_channel<Reply>();
    send(pid(detail::target_of<T>::resolve(target)),
         chan_request<Msg, Reply>{Msg(std::forward<M>(msg)), std::move(sp)});
    return rp;
  }
}

} // namespace otpp
