// async_stream: a function over a range, each item in a task of its own,
// at most N at once, with a timeout per item.
// Distributed under the Boost Software License, Version 1.0.
#pragma once

#include <otpp/behaviour/task.hpp>
#include <otpp/core/clock.hpp>
#include <otpp/core/duration.hpp>
#include <otpp/core/runtime.hpp>

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <functional>
#include <iterator>
#include <optional>
#include <ranges>
#include <type_traits>
#include <utility>
#include <vector>

namespace otpp {

/// Options of `async_stream`.
struct stream_options {
  /// Tasks running at once; 0: as many as the runtime has schedulers.
  std::size_t max_concurrency = 0;
  /// Results in the order of the items (else in the order they finish).
  bool ordered = true;
  /// Per item, from when its task starts: a task still running then is
  /// killed and its result is `timeout`.
  duration timeout = infinity;
  /// How the tasks are spawned (placement, stack size, ...).
  spawn_options spawn{};
};

/// Run `f(item)` for every item of `items`, each in its own task (not
/// linked: a failure is that item's result), at most
/// `opts.max_concurrency` at once; returns every result, in the items'
/// order or as they finished. Items are copied into their tasks. The caller
/// waits (it is the owner of the tasks); if it ends meanwhile, the running
/// tasks are killed with it.
/// @par Elixir
/// `Task.async_stream/3` with `max_concurrency`, `ordered`, `timeout` and
/// `on_timeout: :kill_task`, taken eagerly (each item's result is a
/// `task_result`, where Elixir gives `{:ok, v}` / `{:exit, reason}`).
template <std::ranges::input_range Range, class F>
auto async_stream(Range&& items, F f, stream_options opts = {}) {
  using item = std::ranges::range_value_t<Range>;
  static_assert(std::is_invocable_v<F&, item&>,
                "otpp::async_stream(items, f): f must be callable with an item");
  static_assert(std::is_copy_constructible_v<F>,
                "otpp::async_stream(items, f): f is copied into each task");
  using R = std::invoke_result_t<F&, item&>;
  const std::size_t limit = opts.max_concurrency != 0
                                ? opts.max_concurrency
                                : this_process::get_runtime().scheduler_count();

  std::vector<std::optional<task_result<R>>> ordered; // by item, when ordered
  std::vector<task_result<R>> done;                   // in finishing order, when not
  std::vector<task<R>> running;
  struct slot {
    std::size_t index;
    runtime_clock::time_point deadline;
  };
  std::vector<slot> meta; // parallel to `running`
  auto finish = [&](std::size_t k, task_result<R> r) {
    if (opts.ordered)
      ordered[meta[k].index].emplace(std::move(r));
    else
      done.push_back(std::move(r));
    running.erase(running.begin() + static_cast<std::ptrdiff_t>(k));
    meta.erase(meta.begin() + static_cast<std::ptrdiff_t>(k));
  };

  auto it = std::ranges::begin(items);
  const auto end = std::ranges::end(items);
  std::size_t next = 0;
  for (;;) {
    while (running.size() < limit && it != end) {
      running.push_back(async_nolink([f, x = item(*it)]() mutable { return f(x); }, opts.spawn));
      meta.push_back({next, opts.timeout.is_infinite()
                                ? runtime_clock::time_point::max()
                                : runtime_clock::now() + opts.timeout.get()});
      if (opts.ordered)
        ordered.emplace_back();
      ++it;
      ++next;
    }
    if (running.empty())
      break;
    const auto first = std::min_element(meta.begin(), meta.end(), [](const slot& a, const slot& b) {
                         return a.deadline < b.deadline;
                       })->deadline;
    const auto now = runtime_clock::now();
    const duration wait = first == runtime_clock::time_point::max() ? infinity
                          : first > now                             ? duration(first - now)
                                                                    : duration();
    if (auto r = wait_any_for(std::span<task<R>>(running), wait)) {
      finish(r->first, std::move(r->second));
      continue;
    }
    // Timed out: kill every task past its deadline.
    const auto at = runtime_clock::now();
    for (std::size_t k = running.size(); k-- > 0;) {
      if (meta[k].deadline > at)
        continue;
      running[k].cancel();
      finish(k, task_result<R>::failure(exit_reason::timeout()));
    }
  }
  if (!opts.ordered)
    return done;
  std::vector<task_result<R>> out;
  out.reserve(ordered.size());
  for (auto& r : ordered)
    out.push_back(std::move(*r));
  return out;
}

} // namespace otpp
