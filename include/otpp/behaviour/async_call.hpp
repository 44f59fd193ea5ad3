// Calls from outside any process: an Asio asynchronous operation that
// takes any completion token (callbacks, asio::use_awaitable, futures).
// Distributed under the Boost Software License, Version 1.0.
#pragma once

#include <otpp/behaviour/call.hpp>
#include <otpp/behaviour/call_result.hpp>
#include <otpp/behaviour/handle.hpp>
#include <otpp/core/duration.hpp>
#include <otpp/core/runtime.hpp>

#include <boost/asio/associated_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/post.hpp>

#include <type_traits>
#include <utility>

namespace otpp {

/// Call a behaviour process from code that is not a process (an Asio
/// coroutine, a callback, another thread): a process of `rt` makes the call
/// (as `try_call`), and the completion handler receives the
/// `call_result<Reply>` on its associated executor. The reply type and the
/// compile-time check follow `call`: typed through a handle or
/// `by_name<Def>`, named with `async_call<Reply>(rt, pid, ...)` otherwise.
///
/// ```cpp
/// otpp::call_result<int> r =
///     co_await otpp::async_call(rt, srv, add{1, 2}, boost::asio::use_awaitable);
/// ```
///
/// @par Completion signature
/// `void(otpp::call_result<Reply>)`: a failed call (`noproc`, `timeout`, the
/// server's exit reason) completes with the error, it never throws.
/// @par Thread safety
/// May be called from any thread; the handler's executor keeps work
/// outstanding until it has run.
/// @par OTP
/// `gen_server:send_request/2` + `receive_response/2` from a non-process.
template <class R = detail::no_reply_type_named, process_target T, class M, class Token>
auto async_call(runtime& rt, const T& target, M&& msg, duration timeout, Token&& token) {
  detail::check_timeout(timeout, "otpp::async_call");
  using Reply = detail::reply_type_t<R, T, M>;
  using Msg = std::decay_t<M>;
  using Target = std::remove_cvref_t<T>;
  if constexpr (!detail::call_allowed<R, T, M>()) {
    static_assert(detail::always_false<M>,
                  "otpp::async_call: the server definition has no call handler (on_call) for "
                  "this message type");
  } else if constexpr (std::is_same_v<Reply, detail::no_reply_type_named>) {
    static_assert(detail::always_false<M>,
                  "otpp::async_call(rt, pid, msg, token): name the reply type, "
                  "async_call<Reply>(rt, pid, ...), or call through a typed handle");
  } else {
    return boost::asio::async_initiate<Token, void(call_result<Reply>)>(
        [&rt](auto handler, Target to, Msg m, duration t) {
          auto work = boost::asio::make_work_guard(handler);
          rt.spawn([h = std::move(handler), w = std::move(work), to = std::move(to),
                    m = std::move(m), t]() mutable {
            call_result<Reply> r = detail::call_impl<Reply>("async_call", to, std::move(m), t);
            auto ex = w.get_executor();
            boost::asio::post(
                ex, [h = std::move(h), r = std::move(r)]() mutable { std::move(h)(std::move(r)); });
            w.reset();
          });
        },
        token, Target(target), Msg(std::forward<M>(msg)), timeout);
  }
}

/// `async_call` with the default timeout (5 s).
template <class R = detail::no_reply_type_named, process_target T, class M, class Token>
requires(!std::is_convertible_v<Token, duration>) auto async_call(runtime& rt, const T& target,
                                                                  M&& msg, Token&& token) {
  return async_call<R>(rt, target, std::forward<M>(msg), default_call_timeout,
                       std::forward<Token>(token));
}

} // namespace otpp
