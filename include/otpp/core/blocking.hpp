// Blocking calls from a process: run on the runtime's blocking pool, so
// that only the calling process waits (Erlang's dirty I/O schedulers).
// Distributed under the Boost Software License, Version 1.0.
#pragma once

#include <otpp/core/asio.hpp>
#include <otpp/core/process.hpp>
#include <otpp/core/runtime.hpp>

#include <boost/asio/associated_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/dispatch.hpp>

#include <atomic>
#include <exception>
#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <type_traits>
#include <utility>

namespace otpp {

/// Thrown by `blocking_call` when the runtime has no blocking pool
/// (`runtime_options::blocking_threads` is 0) or the pool is closed.
class blocking_unavailable : public std::runtime_error {
public:
  using std::runtime_error::runtime_error;
};

namespace detail {

template <class R> struct blocking_state {
  enum phase : int { queued, running, done, cancelled };
  std::atomic<int> at{queued};
  std::optional<std::conditional_t<std::is_void_v<R>, char, R>> value;
  std::exception_ptr error;
};

[[noreturn]] inline void throw_no_pool(const char* api, const runtime& rt) {
  throw blocking_unavailable(
      rt.options().blocking_threads == 0
          ? std::string(api) +
                ": the runtime has no blocking pool (runtime_options::blocking_threads is 0)"
          : std::string(api) + ": the runtime's blocking pool is closed (shutting down)");
}

} // namespace detail

/// Run `f()` on the runtime's blocking pool and return its result (or
/// rethrow its exception) in the calling process, which alone waits: the
/// other processes of its scheduler keep running. For any call that blocks
/// its thread: a file or DNS call, a blocking C library, a long computation.
///
/// ```cpp
/// auto addr = otpp::blocking_call([&] { return resolve(host); });
/// ```
///
/// @par Exits
/// An exit signal that comes while `f` is still queued ends the process at
/// once, and `f` never runs. One that comes while `f` runs waits until it
/// returns (so what `f` refers to in the caller's frame stays alive), then
/// ends the process; the result is dropped.
/// @par Errors
/// `blocking_unavailable` when the runtime has no pool; `std::logic_error`
/// outside a process.
template <class F> std::invoke_result_t<std::decay_t<F>&> blocking_call(F&& f) {
  using R = std::invoke_result_t<std::decay_t<F>&>;
  detail::process& p = detail::self_or_throw("otpp::blocking_call");
  using st = detail::blocking_state<R>;
  auto s = std::make_shared<st>();
  auto job = [s, proc = detail::process_ref(&p), fn = std::forward<F>(f)]() mutable {
    int expect = st::queued;
    if (!s->at.compare_exchange_strong(expect, st::running, std::memory_order_acq_rel))
      return; // the caller left before it started
    try {
      if constexpr (std::is_void_v<R>) {
        fn();
        s->value.emplace('\0');
      } else {
        s->value.emplace(fn());
      }
    } catch (...) {
      s->error = std::current_exception();
    }
    s->at.store(st::done, std::memory_order_release);
    detail::send_signal(proc.get(), detail::signal::wake, nullptr); // dropped if it has ended
  };
  if (!p.rt->blocking_pool().post(
          std::make_unique<detail::blocking_job_of<decltype(job)>>(std::move(job))))
    detail::throw_no_pool("otpp::blocking_call", *p.rt);
  this_process::waiting_on note("blocking call");
  try {
    detail::wait_until_done(
        p, [&] { return s->at.load(std::memory_order_acquire) == st::done; }, false);
  } catch (const process_exit&) {
    int expect = st::queued;
    if (s->at.compare_exchange_strong(expect, st::cancelled, std::memory_order_acq_rel))
      throw; // never started: nothing refers to this frame
    // Running: wait for it, then exit.
    detail::wait_until_done(
        p, [&] { return s->at.load(std::memory_order_acquire) == st::done; }, true);
    throw;
  }
  if (s->error)
    std::rethrow_exception(s->error);
  if constexpr (!std::is_void_v<R>)
    return std::move(*s->value);
}

/// Run `f()` on the blocking pool of `rt`; the completion handler of
/// `token` gets `(std::exception_ptr, R)` (`(std::exception_ptr)` when `f`
/// returns void): `otpp::use_process` returns the value, `otpp::to_mailbox(tag)`
/// delivers `io_result<Tag, std::exception_ptr, R>` so that the process
/// keeps serving its mailbox meanwhile. `f` is moved into the pool and must
/// not refer to the caller's frame when the token does not wait
/// (to_mailbox, a callback): it may still run after the caller ended.
template <class F, class Token> auto async_blocking_call(runtime& rt, F&& f, Token&& token) {
  using R = std::invoke_result_t<std::decay_t<F>&>;
  using sig =
      std::conditional_t<std::is_void_v<R>, void(std::exception_ptr), void(std::exception_ptr, R)>;
  return boost::asio::async_initiate<Token, sig>(
      [&rt](auto handler, auto fn) {
        auto job = [h = std::move(handler), fn = std::move(fn)]() mutable {
          auto ex = boost::asio::get_associated_executor(h);
          std::exception_ptr error;
          if constexpr (std::is_void_v<R>) {
            try {
              fn();
            } catch (...) {
              error = std::current_exception();
            }
            // The exception_ptr is moved, never copied: the receiver then
            // holds its only reference, so the exception is freed where it
            // is read (libstdc++'s count is invisible to ThreadSanitizer).
            boost::asio::dispatch(ex, [h = std::move(h), error = std::move(error)]() mutable {
              h(std::move(error));
            });
          } else {
            std::optional<R> value;
            try {
              value.emplace(fn());
            } catch (...) {
              error = std::current_exception();
            }
            boost::asio::dispatch(
                ex, [h = std::move(h), error = std::move(error), v = std::move(value)]() mutable {
                  h(std::move(error), v ? std::move(*v) : R{});
                });
          }
        };
        if (!rt.blocking_pool().post(
                std::make_unique<detail::blocking_job_of<decltype(job)>>(std::move(job))))
          detail::throw_no_pool("otpp::async_blocking_call", rt);
      },
      token, std::forward<F>(f));
}

/// The same on the calling process's runtime.
template <class F, class Token> auto async_blocking_call(F&& f, Token&& token) {
  return async_blocking_call(*detail::self_or_throw("otpp::async_blocking_call").rt,
                             std::forward<F>(f), std::forward<Token>(token));
}

} // namespace otpp
