// A task supervisor: tasks started as its (temporary) children, so that a
// task never takes its caller down and a shutdown of the supervisor ends
// them all.
// Distributed under the Boost Software License, Version 1.0.
#pragma once

#include <otpp/behaviour/call.hpp>
#include <otpp/behaviour/supervisor.hpp>
#include <otpp/behaviour/supervisor_spec.hpp>
#include <otpp/behaviour/task.hpp>
#include <otpp/core/monitor.hpp>
#include <otpp/core/process.hpp>

#include <fmt/format.h>

#include <memory>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>

namespace otpp {

/// The spec of a task supervisor named `name` (put it in a tree with
/// `otpp::supervisor(id, [] { return start_link(task_supervisor_spec()); })`).
/// @par Elixir
/// `Task.Supervisor`.
inline supervisor_spec task_supervisor_spec(std::string name = "task_supervisor") {
  return supervisor_spec{.strategy = one_for_one, .children = {}, .name = std::move(name)};
}

/// Start `f()` as a temporary child of the task supervisor `sup`, not
/// linked to the caller (a crash is only the result), owned and monitored
/// by the caller as any task: dropping the handle kills it. The
/// supervisor's shutdown ends it (reason `shutdown`).
/// @par Errors
/// `task_error` if the supervisor could not start it (it is not running...).
/// @par Elixir
/// `Task.Supervisor.async_nolink/2`.
template <process_target S, class F> task<detail::task_value_t<F>> async_nolink(const S& sup, F f) {
  using R = detail::task_value_t<F>;
  static_assert(std::is_invocable_v<F&>, "otpp::async_nolink(sup, f): f must be callable with no "
                                         "arguments");
  const pid owner = this_process::self();
  auto sh = std::make_shared<detail::task_shared>();
  const std::uint64_t tag = make_ref().value();
  auto started = start_child(sup, worker(fmt::format("task {}", tag),
                                         [fn = std::move(f), owner, tag, sh]() mutable {
                                           return spawn_link([fn, owner, tag, sh]() mutable {
                                             detail::run_task<R>(fn, owner, tag, sh);
                                           });
                                         },
                                         {.restart = temporary}));
  if (!started)
    throw task_error(started.error());
  // (A task that has already ended gives a noproc down, after its result.)
  return task<R>(started.value(), monitor(started.value()), tag, std::move(sh), false);
}

} // namespace otpp
