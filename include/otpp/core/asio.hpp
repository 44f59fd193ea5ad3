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
/// completion later finds it gone and touches nothing of it. The operation
/// itself may: a composed operation that holds a buffer object (Asio's
/// `async_read_until` on a `dynamic_buffer` over a local string) resizes it
/// even when it is aborted, after the process's stack is gone. Keep such
/// objects out of the process's stack, or read with `async_read_some`.
struct use_process_t {
  constexpr use_process_t() noexcept = default;
};
inline constexpr use_process_t use_process{};

/// Completion token: as `use_process`, but an exit signal that comes while
/// the operation is pending waits until the operation is done; the process
/// then exits. For operations that write into the process's memory and
/// cannot be cancelled (file reads on io_uring, calls on the blocking
/// pool): its buffers stay alive until the kernel or the pool is done.
struct use_process_until_done_t {
  constexpr use_process_until_done_t() noexcept = default;
};
inline constexpr use_process_until_done_t use_process_until_done{};

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

// Wait in `p` until `done` is true. An exit signal ends the wait at once,
// unless `until_done`: the exit is then raised once `done` is true.
template <class Done> void wait_until_done(process& p, Done done, bool until_done) {
  drain(p);
  p.wait_timed.store(false, std::memory_order_relaxed);
  std::exception_ptr exit;
  while (!done()) {
    // The operation may write into the stack: never parked here.
    p.park_flags = static_cast<std::uint8_t>(p.park_flags | park_not_now);
    block(p);
    p.park_flags = static_cast<std::uint8_t>(p.park_flags & ~park_not_now);
    try {
      drain(p); // an exit signal ends the process here; the handler then finds it gone
    } catch (const process_exit&) {
      if (!until_done)
        throw;
      exit = std::current_exception(); // (drain does not throw again once exiting)
    }
  }
  if (exit)
    std::rethrow_exception(exit);
}

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

namespace otpp::detail {
template <class... Args> struct use_process_result {
  using return_type = io_return_t<Args...>;

  template <class Initiation, class... InitArgs>
  static return_type run(const char* api, bool until_done, Initiation&& init, InitArgs&&... args) {
    process& p = self_or_throw(api);
    auto state = std::make_shared<io_state<Args...>>();
    std::forward<Initiation>(init)(io_handler<Args...>{state, process_ref(&p)},
                                   std::forward<InitArgs>(args)...);
    otpp::this_process::waiting_on note("Asio operation");
    wait_until_done(
        p, [&] { return state->done.load(std::memory_order_acquire); }, until_done);
    return unpack_result(std::move(*state->result));
  }
};
} // namespace otpp::detail

template <class... Args> class boost::asio::async_result<otpp::use_process_t, void(Args...)> {
public:
  using return_type = otpp::detail::io_return_t<Args...>;

  template <class Initiation, class... InitArgs>
  static return_type initiate(Initiation&& init, otpp::use_process_t, InitArgs&&... args) {
    return otpp::detail::use_process_result<Args...>::run("otpp::use_process", false,
                                                          std::forward<Initiation>(init),
                                                          std::forward<InitArgs>(args)...);
  }
};

template <class... Args>
class boost::asio::async_result<otpp::use_process_until_done_t, void(Args...)> {
public:
  using return_type = otpp::detail::io_return_t<Args...>;

  template <class Initiation, class... InitArgs>
  static return_type initiate(Initiation&& init, otpp::use_process_until_done_t,
                              InitArgs&&... args) {
    return otpp::detail::use_process_result<Args...>::run("otpp::use_process_until_done", true,
                                                          std::forward<Initiation>(init),
                                                          std::forward<InitArgs>(args)...);
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
