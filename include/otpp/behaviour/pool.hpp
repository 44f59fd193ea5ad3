// Worker pools (poolboy's model): a pool of N supervised workers with
// optional overflow, blocking checkout with a timeout (first come first
// served), checkin, a lease that checks in on every path, and calls and
// casts to whichever worker is free.
// Distributed under the Boost Software License, Version 1.0.
#pragma once

#include <otpp/behaviour/call.hpp>
#include <otpp/behaviour/call_result.hpp>
#include <otpp/behaviour/detail/pool_loop.hpp>
#include <otpp/behaviour/detail/traits.hpp>
#include <otpp/behaviour/handle.hpp>
#include <otpp/behaviour/pending_call.hpp>
#include <otpp/behaviour/start.hpp>
#include <otpp/behaviour/start_family.hpp>
#include <otpp/core/duration.hpp>
#include <otpp/core/pid.hpp>
#include <otpp/core/process.hpp>
#include <otpp/core/request.hpp>

#include <fmt/format.h>

#include <cstddef>
#include <functional>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>

namespace otpp {

/// How big a pool is and how it lends.
struct pool_options {
  /// Workers started with the pool and kept running (a worker that ends
  /// is replaced).
  std::size_t size = 10;
  /// Extra workers started when all are busy, ended when checked in while
  /// nobody waits (poolboy's overflow).
  std::size_t max_overflow = 0;
  pool_strategy strategy = pool_strategy::lifo;
  /// The name in status reports and the process label.
  std::string name = "pool";
};

/// A pool definition: start it with any start function
/// (`start_link(pool(opts, start_worker))`). `start_worker()` runs in the
/// pool process and returns the new worker: a `pid`, a handle, or a
/// `start_result` (e.g. `[] { return start_link(worker_def); }`). A worker
/// whose start fails makes the pool's start (or the pool) fail.
template <class Worker = untyped> class pool_definition {
public:
  using worker_type = Worker;
  pool_definition(pool_options opts, std::function<pid()> start)
      : opts_(std::move(opts)), start_(std::move(start)) {}
  template <class M> static constexpr bool handles_call = false;
  template <class M> static constexpr bool handles_cast = false;
  /// `get_state` of a pool: its counts.
  using state_type = pool_stats;

  /// @cond internal
  detail::pool_config loop_config() const {
    return {opts_.size, opts_.max_overflow, opts_.strategy, opts_.name, start_};
  }
  /// @endcond

private:
  pool_options opts_;
  std::function<pid()> start_;
};

namespace detail {
template <class R> pid worker_pid(R&& r) {
  using T = std::remove_cvref_t<R>;
  if constexpr (std::is_convertible_v<const T&, const pid&>)
    return pid(static_cast<const pid&>(r));
  else
    return pid(r.value()); // a start_result: throws start_error if it failed
}
template <class T> struct worker_of { using type = untyped; };
template <otpp::protocol D> struct worker_of<otpp::handle<D>> { using type = D; };
template <class H> struct worker_of<start_result<H>> : worker_of<H> {};
} // namespace detail

/// A pool whose workers `start_worker()` starts. The workers' definition
/// (for typed `pool_call`) is deduced from what it returns.
template <class F> auto pool(pool_options opts, F start_worker) {
  static_assert(std::is_invocable_v<F&>, "otpp::pool(opts, start_worker): start_worker() takes "
                                         "no arguments");
  using R = std::invoke_result_t<F&>;
  using W = typename detail::worker_of<std::remove_cvref_t<R>>::type;
  return pool_definition<W>(
      std::move(opts), [f = std::move(start_worker)]() mutable { return detail::worker_pid(f()); });
}

namespace detail {
template <class W> struct loop_of<pool_definition<W>> { using type = argless_loop<pool_loop>; };
} // namespace detail

/// A checked-out worker, returned to its pool when the lease is destroyed
/// (or `release()`d), whatever the path: an exception, an exit. Move-only.
/// @par poolboy
/// What `poolboy:transaction/2` guarantees, as a value.
template <class W = untyped> class pool_lease {
public:
  pool_lease() = default;
  pool_lease(pid pool, pid worker) : pool_(std::move(pool)), worker_(std::move(worker)) {}
  pool_lease(pool_lease&& o) noexcept
      : pool_(std::move(o.pool_)), worker_(std::exchange(o.worker_, pid())) {}
  pool_lease& operator=(pool_lease&& o) noexcept {
    if (this != &o) {
      release();
      pool_ = std::move(o.pool_);
      worker_ = std::exchange(o.worker_, pid());
    }
    return *this;
  }
  pool_lease(const pool_lease&) = delete;
  pool_lease& operator=(const pool_lease&) = delete;
  ~pool_lease() { release(); }

  /// The worker (a null pid once released).
  const pid& worker() const noexcept { return worker_; }
  /// The worker as a typed handle on its definition.
  template <class X = W>
  requires(!std::is_same_v<X, untyped>) handle<X> worker_handle()
  const { return handle<X>(worker_); }
  explicit operator bool() const noexcept { return static_cast<bool>(worker_); }
  /// Check the worker in now (no-op if released already).
  void release() noexcept {
    if (worker_)
      send(pool_, detail::pool_checkin{std::exchange(worker_, pid())});
  }

private:
  pid pool_;
  pid worker_;
};

namespace detail {
template <class P> struct pool_worker_of { using type = untyped; };
template <class P>
requires requires {
  typename P::worker_type;
}
struct pool_worker_of<P> {
  using type = typename P::worker_type;
};
template <class T> using pool_worker_t = typename pool_worker_of<protocol_of<T>>::type;

template <process_target T>
std::optional<pid> checkout_impl(const char* op, const T& pool, bool block, duration timeout) {
  check_caller(op);
  check_timeout(timeout, op, "otpp::");
  pid to = target_of<T>::resolve(pool);
  std::string what = target_of<T>::describe(pool);
  if (!to && target_of<T>::by_name)
    throw call_error(exit_reason::noproc(), to, fmt::format("{} from", op), what);
  mailbox_mark m = this_process::mark();
  ref tag = send_request(to, pool_checkout{block});
  auto r = await_reply<pid>(to, tag, m, timeout, true);
  if (!r->ok()) {
    if (r->error() == exit_reason::timeout()) // a worker lent meanwhile comes back
      send(to, pool_cancel{tag});
    throw call_error(r->error(), to, fmt::format("{} from", op), what);
  }
  pid w = std::move(*r).value();
  if (!w)
    return std::nullopt;
  return w;
}
} // namespace detail

/// Borrow a worker: at once if one is free (or an extra one may start),
/// else wait up to `timeout`, behind the borrowers that came first. The
/// pool monitors the borrower: its end returns the worker. If the worker
/// ends while lent, the pool replaces it and sends the borrower a
/// `pool_worker_exit`.
/// @par Errors
/// `call_error` with `timeout` (nothing is lent then, even if a worker was
/// freed at that moment), `noproc` if the pool is not running.
/// @par poolboy
/// `poolboy:checkout(Pool, true, Timeout)`.
template <process_target T> auto checkout(const T& pool, duration timeout = default_call_timeout) {
  using W = detail::pool_worker_t<T>;
  pid w = *detail::checkout_impl("checkout", pool, true, timeout);
  return pool_lease<W>(pid(detail::target_of<T>::resolve(pool)), std::move(w));
}
/// Borrow a worker only if one is free now (or an extra one may start).
/// @par poolboy
/// `poolboy:checkout(Pool, false)` (`full`: no lease).
template <process_target T> auto try_checkout(const T& pool) {
  using W = detail::pool_worker_t<T>;
  auto w = detail::checkout_impl("try_checkout", pool, false, default_call_timeout);
  return w ? std::optional<pool_lease<W>>(
                 pool_lease<W>(pid(detail::target_of<T>::resolve(pool)), std::move(*w)))
           : std::nullopt;
}
/// Return a worker checked out without a lease (`lease.release()` does it).
/// @par poolboy
/// `poolboy:checkin/2`.
template <process_target T> void checkin(const T& pool, const pid& worker) {
  send(pid(detail::target_of<T>::resolve(pool)), detail::pool_checkin{worker});
}

/// Run `f(worker)` with a worker checked out, and check it in afterwards
/// on every path; returns what `f` returns.
/// @par poolboy
/// `poolboy:transaction/3`.
template <process_target T, class F>
decltype(auto) transaction(const T& pool, F&& f, duration timeout = default_call_timeout) {
  auto lease = checkout(pool, timeout);
  return std::forward<F>(f)(lease.worker());
}

/// The pool's counts now. @par poolboy `poolboy:status/1`.
template <process_target T> pool_stats pool_status(const T& pool) {
  return detail::call_impl<pool_stats>("pool_status", pool, detail::pool_get_stats{},
                                       default_call_timeout)
      .value();
}

/// Call whichever worker is free: check one out (waiting up to
/// `timeout`), call it (up to `timeout` again), check it in. Through a typed
/// pool (its workers' definition known) the reply type is the workers';
/// else name it: `pool_call<R>(pool, msg)`.
/// @par Errors
/// `call_error` from the checkout or the call.
template <class R = detail::no_reply_type_named, process_target T, class M>
auto pool_call(const T& pool, M&& msg, duration timeout = default_call_timeout) {
  using W = detail::pool_worker_t<T>;
  auto lease = checkout(pool, timeout);
  if constexpr (std::is_same_v<W, untyped>)
    return call<R>(lease.worker(), std::forward<M>(msg), timeout);
  else
    return call<R>(handle<W>(lease.worker()), std::forward<M>(msg), timeout);
}
/// Cast to whichever worker is free (checked out and in around the cast;
/// waits for one as `checkout` does).
template <process_target T, class M>
void pool_cast(const T& pool, M&& msg, duration timeout = default_call_timeout) {
  using W = detail::pool_worker_t<T>;
  auto lease = checkout(pool, timeout);
  if constexpr (std::is_same_v<W, untyped>)
    cast(lease.worker(), std::forward<M>(msg));
  else
    cast(handle<W>(lease.worker()), std::forward<M>(msg));
}

} // namespace otpp
