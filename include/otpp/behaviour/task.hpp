// Tasks (Cloud Haskell's Async, Elixir's Task): run a function in a
// process of its own and get its typed result, or how it failed.
// Distributed under the Boost Software License, Version 1.0.
#pragma once

#include <otpp/core/duration.hpp>
#include <otpp/core/exit_reason.hpp>
#include <otpp/core/link.hpp>
#include <otpp/core/monitor.hpp>
#include <otpp/core/pid.hpp>
#include <otpp/core/process.hpp>
#include <otpp/core/receive.hpp>
#include <otpp/core/runtime.hpp>

#include <fmt/format.h>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <memory>
#include <optional>
#include <span>
#include <stdexcept>
#include <type_traits>
#include <unordered_map>
#include <utility>
#include <vector>

namespace otpp {

/// What `task_result::value()` throws when the task did not return a value
/// and threw no exception (it was killed, exited, or timed out).
class task_error : public std::runtime_error {
public:
  explicit task_error(exit_reason why)
      : std::runtime_error(fmt::format("otpp::task: the task ended with {}", why)),
        reason_(std::move(why)) {}
  const exit_reason& reason() const noexcept { return reason_; }

private:
  exit_reason reason_;
};

/// The outcome of a task: its value, or why there is none.
template <class R> class task_result {
  using stored = std::conditional_t<std::is_void_v<R>, char, R>;

public:
  /// @cond internal
  static task_result success(std::optional<stored> v) {
    task_result r;
    r.value_ = std::move(v);
    return r;
  }
  static task_result failure(exit_reason why, std::exception_ptr ex = nullptr) {
    task_result r;
    r.reason_ = std::move(why);
    r.ex_ = std::move(ex);
    return r;
  }
  /// @endcond

  bool ok() const noexcept { return value_.has_value(); }
  explicit operator bool() const noexcept { return ok(); }
  /// The value. If the task threw, its exception is rethrown here (the
  /// same object: catch it by its type); otherwise `task_error`.
  decltype(auto) value() & {
    check();
    if constexpr (!std::is_void_v<R>)
      return (*value_);
  }
  decltype(auto) value() && {
    check();
    if constexpr (!std::is_void_v<R>)
      return R(std::move(*value_));
  }
  /// Why there is no value (precondition: `!ok()`): the exception's type and
  /// message, `killed`, `timeout`, the task's exit reason.
  const exit_reason& error() const noexcept { return reason_; }
  /// The task's exception, if it threw one.
  std::exception_ptr exception() const noexcept { return ex_; }

private:
  task_result() = default;
  void check() const {
    if (ok())
      return;
    if (ex_)
      std::rethrow_exception(ex_);
    throw task_error(reason_);
  }
  std::optional<stored> value_;
  exit_reason reason_;
  std::exception_ptr ex_;
};

/// The message a task sends its owner when it returns or throws. A
/// process that does not wait on its tasks (a server owning them) gets it
/// as an info message: `task::owns(m)` tells whose it is, `task::take(m)`
/// makes it the result. A task that is killed sends none: its owner gets a
/// `down` (`owns` / `take` take that too).
/// @par Elixir
/// The `{ref, result}` message of `Task.Supervisor.async_nolink`.
template <class R> struct task_done {
  /// @cond internal
  std::uint64_t tag = 0;
  std::optional<std::conditional_t<std::is_void_v<R>, char, R>> value;
  exit_reason reason;
  std::exception_ptr ex;
  /// @endcond
};

namespace detail {

// What a task and its owner share: whether the result is still wanted.
struct task_shared {
  enum : int { running, sending, abandoned };
  std::atomic<int> state{running};
  // The task calls it once, before sending its result: false if nobody wants it.
  bool claim_send() noexcept {
    int expect = running;
    return state.compare_exchange_strong(expect, sending, std::memory_order_acq_rel);
  }
  // The owner gives up; false if the result is already on its way.
  bool abandon() noexcept {
    int expect = running;
    return state.compare_exchange_strong(expect, abandoned, std::memory_order_acq_rel);
  }
};

template <class R, class F>
void run_task(F& fn, const pid& owner, std::uint64_t tag, const std::shared_ptr<task_shared>& sh) {
  this_process::set_label("task");
  task_done<R> out;
  out.tag = tag;
  try {
    if constexpr (std::is_void_v<R>) {
      fn();
      out.value.emplace('\0');
    } else {
      out.value.emplace(fn());
    }
  } catch (...) {
    rethrow_if_exit();
    out.ex = std::current_exception();
    out.reason = exit_reason::from_exception(out.ex);
  }
  exit_reason why = out.reason;
  if (sh->claim_send())
    send(owner, std::move(out));
  if (!why.is_normal())
    this_process::exit(std::move(why)); // linked: the owner gets the exit, as in Elixir
}

} // namespace detail

/// A running task: its result arrives in the process that started it (the
/// owner), which alone may wait on it. Move-only.
///
/// A task whose handle is dropped without a result (destroyed, or its owner
/// ended) is killed: a task never outlives the interest in it, unless
/// `detach()`ed.
template <class R> class task {
public:
  using result_type = R;

  task() = default;
  task(task&& o) noexcept
      : pid_(std::move(o.pid_)), owner_(std::move(o.owner_)), monitor_(o.monitor_), tag_(o.tag_),
        shared_(std::move(o.shared_)), linked_(o.linked_) {
    o.shared_.reset();
  }
  task& operator=(task&& o) noexcept {
    if (this != &o) {
      drop();
      pid_ = std::move(o.pid_);
      owner_ = std::move(o.owner_);
      monitor_ = o.monitor_;
      tag_ = o.tag_;
      shared_ = std::move(o.shared_);
      linked_ = o.linked_;
      o.shared_.reset();
    }
    return *this;
  }
  task(const task&) = delete;
  task& operator=(const task&) = delete;
  ~task() { drop(); }

  /// The task's process.
  const otpp::pid& pid() const noexcept { return pid_; }
  /// True until its result has been taken, or it was cancelled or detached.
  bool pending() const noexcept { return shared_ != nullptr; }

  /// Wait for the result. Throws `std::logic_error` if not pending.
  /// @par Cloud Haskell
  /// `waitCatch`; `wait` is `wait().value()`.
  task_result<R> wait() { return *await(infinity, "wait"); }
  /// `wait().value()`: the value, or the task's exception rethrown, or `task_error`.
  decltype(auto) get() { return wait().value(); }
  /// Wait at most `timeout`; nothing if the task is still running (it goes
  /// on, and can be waited for again).
  std::optional<task_result<R>> wait_for(duration timeout) { return await(timeout, "wait_for"); }
  /// The result if it is there already.
  std::optional<task_result<R>> poll() { return await(duration(), "poll"); }

  /// Kill the task; its result will never arrive (also not later in the
  /// mailbox). Returns true if it had not finished. No-op if not pending.
  /// @par Elixir
  /// `Task.shutdown(task, :brutal_kill)`.
  bool cancel() {
    if (!pending())
      return false;
    check_owner("cancel");
    const bool running = shared_->abandon();
    if (linked_)
      unlink(pid_);
    kill(pid_);
    // After its down, nothing more of it can arrive: drop a result it sent.
    this_process::receive(
        when([m = monitor_](const down& d) { return d.monitor == m; }, [](down&) {}));
    this_process::receive(
        when([t = tag_](const task_done<R>& d) { return d.tag == t; }, [](task_done<R>&) {}),
        after(duration(), [] {}));
    shared_.reset();
    return running;
  }

  /// Let the task run on without this handle: its result goes nowhere and
  /// it is not killed with the handle. No-op if not pending.
  void detach() {
    if (!pending())
      return;
    check_owner("detach");
    if (!shared_->abandon()) {
      // Its result is on its way: take it, so that it does not linger.
      this_process::receive(
          when([t = tag_](const task_done<R>& d) { return d.tag == t; }, [](task_done<R>&) {}),
          when([m = monitor_](const down& d) { return d.monitor == m; }, [](down&) {}));
    }
    if (linked_)
      unlink(pid_);
    demonitor(monitor_, {.flush = true});
    shared_.reset();
  }

  /// Whether `m` is this pending task's result message, or its `down`.
  bool owns(const task_done<R>& m) const noexcept { return pending() && m.tag == tag_; }
  bool owns(const down& m) const noexcept { return pending() && m.monitor == monitor_; }
  /// The result in `m` (precondition: `owns(m)`); the task is no longer pending.
  task_result<R> take(task_done<R>& d) {
    demonitor(monitor_, {.flush = true});
    shared_.reset();
    if (d.value)
      return task_result<R>::success(std::move(d.value));
    return task_result<R>::failure(std::move(d.reason), std::move(d.ex));
  }
  task_result<R> take(down& d) {
    shared_.reset();
    return task_result<R>::failure(std::move(d.reason));
  }

  /// @cond internal
  task(otpp::pid p, ref mon, std::uint64_t tag, std::shared_ptr<detail::task_shared> sh,
       bool linked)
      : pid_(std::move(p)), owner_(this_process::self()), monitor_(mon), tag_(tag),
        shared_(std::move(sh)), linked_(linked) {}
  std::uint64_t tag() const noexcept { return tag_; }
  ref monitor() const noexcept { return monitor_; }
  /// @endcond

private:
  std::optional<task_result<R>> await(duration timeout, const char* api) {
    if (!pending())
      throw std::logic_error(fmt::format("otpp::task::{}: the task is not pending (its result "
                                         "was taken, or it was cancelled or detached)",
                                         api));
    check_owner(api);
    this_process::waiting_on note("task", pid_);
    return this_process::receive(
        when([t = tag_](const task_done<R>& d) { return d.tag == t; },
             [this](task_done<R>& d) -> std::optional<task_result<R>> { return take(d); }),
        when([m = monitor_](const down& d) { return d.monitor == m; },
             [this](down& d) -> std::optional<task_result<R>> { return take(d); }),
        after(timeout, []() -> std::optional<task_result<R>> { return std::nullopt; }));
  }
  // The handle goes away: a task nobody waits for is killed.
  void drop() noexcept {
    if (!pending())
      return;
    if (std::uncaught_exceptions() > 0 || !this_process::is_process() ||
        this_process::self() != owner_) {
      // The owner is unwinding (it is ending): kill, without waiting.
      shared_->abandon();
      kill(pid_);
      shared_.reset();
      return;
    }
    try {
      cancel();
    } catch (...) { // NOLINT(bugprone-empty-catch): an exit while cancelling ends the owner anyway
      shared_.reset();
    }
  }

  // Its result arrives in the owner's mailbox: only the owner waits.
  void check_owner(const char* api) const {
    if (this_process::self() != owner_)
      throw std::logic_error(fmt::format(
          "otpp::task::{}: only the process that started the task ({}) can do this: its result "
          "arrives in that process's mailbox",
          api, owner_));
  }

  otpp::pid pid_;
  otpp::pid owner_;
  ref monitor_;
  std::uint64_t tag_ = 0;
  std::shared_ptr<detail::task_shared> shared_;
  bool linked_ = false;
};

namespace detail {
template <class F> using task_value_t = std::invoke_result_t<std::decay_t<F>&>;

template <class F>
task<task_value_t<F>> start_task(F&& f, bool linked, spawn_options opts, const char* api) {
  using R = task_value_t<F>;
  static_assert(std::is_invocable_v<std::decay_t<F>&>,
                "otpp::async(f): f must be callable with no arguments");
  const pid owner = pid(detail::process_ref(&detail::self_or_throw(api)));
  auto sh = std::make_shared<task_shared>();
  const std::uint64_t tag = make_ref().value();
  opts.link = linked;
  opts.monitor = true;
  spawned_monitor sm = spawn_monitor(
      [fn = std::forward<F>(f), owner, tag, sh]() mutable { run_task<R>(fn, owner, tag, sh); },
      opts);
  return task<R>(sm.pid, sm.monitor, tag, std::move(sh), linked);
}
} // namespace detail

/// Run `f()` in a new process linked to the caller (a crash in the task
/// takes the caller down, unless it traps exits; the caller ending kills
/// the task). Wait for its result with `wait` / `get`.
/// @par Elixir
/// `Task.async/1`. Cloud Haskell: `async` (with `link`).
template <class F> task<detail::task_value_t<F>> async(F&& f, spawn_options opts = {}) {
  return detail::start_task(std::forward<F>(f), true, opts, "otpp::async");
}
/// Run `f()` in a new process not linked to the caller: a crash is only its
/// result (`task_result::error()`, the exception rethrown by `value()`).
/// The task is still killed when its handle is dropped.
/// @par Elixir
/// `Task.Supervisor.async_nolink`. Cloud Haskell: `async`.
template <class F> task<detail::task_value_t<F>> async_nolink(F&& f, spawn_options opts = {}) {
  return detail::start_task(std::forward<F>(f), false, opts, "otpp::async_nolink");
}

/// Wait at most `timeout` for the first of `tasks` to finish: its index and
/// result, or nothing (they all go on). Only pending tasks count; throws
/// `std::logic_error` if none is.
template <class R>
std::optional<std::pair<std::size_t, task_result<R>>> wait_any_for(std::span<task<R>> tasks,
                                                                   duration timeout) {
  bool any = false;
  for (auto& t : tasks)
    any = any || t.pending();
  if (!any)
    throw std::logic_error("otpp::wait_any: no pending task");
  auto by_tag = [&](std::uint64_t tag) -> std::size_t {
    for (std::size_t i = 0; i < tasks.size(); ++i)
      if (tasks[i].pending() && tasks[i].tag() == tag)
        return i;
    return tasks.size();
  };
  auto by_monitor = [&](ref m) -> std::size_t {
    for (std::size_t i = 0; i < tasks.size(); ++i)
      if (tasks[i].pending() && tasks[i].monitor() == m)
        return i;
    return tasks.size();
  };
  using out = std::optional<std::pair<std::size_t, task_result<R>>>;
  this_process::waiting_on note("tasks");
  return this_process::receive(
      when([&](const task_done<R>& d) { return by_tag(d.tag) != tasks.size(); },
           [&](task_done<R>& d) -> out {
             const std::size_t i = by_tag(d.tag);
             return std::pair<std::size_t, task_result<R>>(i, tasks[i].take(d));
           }),
      when([&](const down& d) { return by_monitor(d.monitor) != tasks.size(); },
           [&](down& d) -> out {
             const std::size_t i = by_monitor(d.monitor);
             return std::pair<std::size_t, task_result<R>>(i, tasks[i].take(d));
           }),
      after(timeout, []() -> out { return std::nullopt; }));
}
/// Wait for the first of `tasks` to finish: its index and result (the
/// others go on).
/// @par Cloud Haskell
/// `waitAny`.
template <class R> std::pair<std::size_t, task_result<R>> wait_any(std::span<task<R>> tasks) {
  return *wait_any_for(tasks, infinity);
}
template <class R> std::pair<std::size_t, task_result<R>> wait_any(std::vector<task<R>>& tasks) {
  return wait_any(std::span<task<R>>(tasks));
}

/// Wait for every task; results in the order of `tasks` (one that was not
/// pending has the result `noproc`). Results are taken as they arrive
/// (each in constant time), whatever the order of the tasks.
/// @par Elixir
/// `Task.await_many/2` without its timeout.
template <class R> std::vector<task_result<R>> wait_all(std::span<task<R>> tasks) {
  std::vector<std::optional<task_result<R>>> got(tasks.size());
  std::unordered_map<std::uint64_t, std::size_t> by_tag, by_monitor;
  for (std::size_t i = 0; i < tasks.size(); ++i) {
    if (tasks[i].pending()) {
      by_tag.emplace(tasks[i].tag(), i);
      by_monitor.emplace(tasks[i].monitor().value(), i);
    } else {
      got[i].emplace(task_result<R>::failure(exit_reason::noproc()));
    }
  }
  this_process::waiting_on note("tasks");
  auto settle = [&](std::size_t i, auto& m) {
    by_tag.erase(tasks[i].tag());
    by_monitor.erase(tasks[i].monitor().value());
    got[i].emplace(tasks[i].take(m));
  };
  while (!by_tag.empty())
    this_process::receive(
        when([&](const task_done<R>& d) { return by_tag.contains(d.tag); },
             [&](task_done<R>& d) { settle(by_tag.at(d.tag), d); }),
        when([&](const down& d) { return by_monitor.contains(d.monitor.value()); },
             [&](down& d) { settle(by_monitor.at(d.monitor.value()), d); }));
  std::vector<task_result<R>> out;
  out.reserve(tasks.size());
  for (auto& r : got)
    out.push_back(std::move(*r));
  return out;
}
template <class R> std::vector<task_result<R>> wait_all(std::vector<task<R>>& tasks) {
  return wait_all(std::span<task<R>>(tasks));
}

} // namespace otpp
