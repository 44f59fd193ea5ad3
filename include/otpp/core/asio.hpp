// Asio from a process: the use_process and to_mailbox completion tokens.
// Distributed under the Boost Software License, Version 1.0.
#pragma once

#include <otpp/core/pid.hpp>
#include <otpp/core/process.hpp>
#include <otpp/core/runtime.hpp>

#include <boost/asio/async_result.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/system/error_code.hpp>
#include <boost/system/system_error.hpp>

#include <atomic>
#include <exception>
#include <memory>
#include <optional>
#include <tuple>
#include <type_traits>
#include <utility>

namespace otpp {

/// Completion token: the asynchronous operation suspends the calling
/// process (only it) until it completes, then returns its result.
///
/// `std::size_t n = sock.async_read_some(buf, otpp::use_process);`
///
/// An error code first in the completion signature is thrown as
/// `boost::system::system_error` (use `asio::as_tuple(otpp::use_process)`
/// or `asio::redirect_error` to get it instead). Several values come back
/// as a `std::tuple`.
///
/// @par Suspends
/// The calling process; other messages keep arriving in its mailbox, and an
/// exit signal still ends it. If it ends while the operation is pending, the
/// completion later finds it gone and touches nothing of it.
struct use_process_t {
  constexpr use_process_t() noexcept = default;
};
inline constexpr use_process_t use_process{};

/// Completion token: the operation's result arrives as a message,
/// `io_result<Tag, Args...>` (Args as in the completion signature, decayed),
/// so a process can keep serving its mailbox while I/O is pending.
template <class Tag> struct to_mailbox_t {
  Tag tag;
  pid to; ///< the receiver; the calling process when null
};

/// `to_mailbox(tag[, pid])`: see `to_mailbox_t`.
template <class Tag> to_mailbox_t<Tag> to_mailbox(Tag tag, pid to = {}) {
  return {std::move(tag), std::move(to)};
}

/// The message a `to_mailbox` operation delivers.
template <class Tag, class... Args> struct io_result {
  Tag tag;
  std::tuple<Args...> args;
};

namespace this_process {
/// The io_context executor of the calling process's scheduler: I/O objects
/// made with it complete on the process's own thread.
inline boost::asio::io_context::executor_type executor() {
  detail::process& p = detail::self_or_throw("otpp::this_process::executor");
  return p.sched != nullptr ? p.sched->io().get_executor() : p.rt->executor(0);
}
} // namespace this_process

namespace detail {

template <class... Args> struct io_state {
  std::atomic<bool> done{false};
  std::optional<std::tuple<std::decay_t<Args>...>> result;
};

template <class... Args> struct io_handler {
  std::shared_ptr<io_state<Args...>> state;
  process_ref proc;
  template <class... Ts> void operator()(Ts&&... vs) {
    state->result.emplace(std::forward<Ts>(vs)...);
    state->done.store(true, std::memory_order_release);
    send_signal(proc.get(), signal::wake, nullptr); // dropped if the process has ended
  }
};

template <class... Rest> auto unpack_values(std::tuple<Rest...>&& t) {
  if constexpr (sizeof...(Rest) == 0)
    return;
  else if constexpr (sizeof...(Rest) == 1)
    return std::get<0>(std::move(t));
  else
    return std::move(t);
}

template <class First, class... Rest> auto unpack_result(std::tuple<First, Rest...>&& t) {
  if constexpr (std::is_same_v<First, boost::system::error_code>) {
    if (std::get<0>(t))
      throw boost::system::system_error(std::get<0>(t));
    return std::apply(
        [](auto&&, auto&&... rest) {
          return unpack_values(std::tuple<Rest...>(std::move(rest)...));
        },
        std::move(t));
  } else if constexpr (std::is_same_v<First, std::exception_ptr>) {
    if (std::get<0>(t))
      std::rethrow_exception(std::get<0>(t));
    return std::apply(
        [](auto&&, auto&&... rest) {
          return unpack_values(std::tuple<Rest...>(std::move(rest)...));
        },
        std::move(t));
  } else {
    return unpack_values(std::move(t));
  }
}
inline void unpack_result(std::tuple<>&&) {}

template <class... Args>
using io_return_t = decltype(unpack_result(std::declval<std::tuple<std::decay_t<Args>...>>()));

} // namespace detail
} // namespace otpp

template <class... Args> class boost::asio::async_result<otpp::use_process_t, void(Args...)> {
public:
  using return_type = otpp::detail::io_return_t<Args...>;

  template <class Initiation, class... InitArgs>
  static return_type initiate(Initiation&& init, otpp::use_process_t, InitArgs&&... args) {
    namespace d = otpp::detail;
    d::process& p = d::self_or_throw("otpp::use_process");
    auto state = std::make_shared<d::io_state<Args...>>();
    std::forward<Initiation>(init)(d::io_handler<Args...>{state, d::process_ref(&p)},
                                   std::forward<InitArgs>(args)...);
    d::drain(p);
    otpp::this_process::waiting_on note("Asio operation");
    p.wait_timed.store(false, std::memory_order_relaxed);
    while (!state->done.load(std::memory_order_acquire)) {
      d::block(p);
      d::drain(p); // an exit signal ends the process here; the handler then finds it gone
    }
    return d::unpack_result(std::move(*state->result));
  }
};

template <class Tag, class... Args>
class boost::asio::async_result<otpp::to_mailbox_t<Tag>, void(Args...)> {
public:
  using return_type = void;

  template <class Initiation, class... InitArgs>
  static void initiate(Initiation&& init, otpp::to_mailbox_t<Tag> token, InitArgs&&... args) {
    namespace d = otpp::detail;
    otpp::pid to = token.to ? token.to : otpp::this_process::self();
    std::forward<Initiation>(init)(
        [to, tag = std::move(token.tag)](auto&&... vs) mutable {
          otpp::send(to, otpp::io_result<Tag, std::decay_t<Args>...>{
                             std::move(tag),
                             std::tuple<std::decay_t<Args>...>(std::forward<decltype(vs)>(vs)...)});
        },
        std::forward<InitArgs>(args)...);
  }
};
