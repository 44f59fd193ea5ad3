// The runtime's members: scheduler threads, run(), shutdown(), placement.
// Distributed under the Boost Software License, Version 1.0.

// Part of the runtime's definitions (see detail/runtime_impl.hpp). The
// runtime include comes before the guard so that this header also compiles
// on its own: core/runtime.hpp then includes it, in its place, through
// detail/runtime_impl.hpp.
#include <otpp/core/runtime.hpp>

#ifndef OTPP_DETAIL_RUNTIME_MEMBERS_HPP
#define OTPP_DETAIL_RUNTIME_MEMBERS_HPP

#include <otpp/detail/process.hpp>
#include <otpp/detail/scheduler.hpp>
#include <otpp/detail/signals.hpp>

#include <fmt/format.h>

#include <algorithm>
#include <cstddef>
#include <memory>
#include <stdexcept>
#include <thread>
#include <vector>

namespace otpp {

inline runtime::runtime(runtime_options options) : options_(options) {
  if (options_.schedulers == 0)
    options_.schedulers = std::max(1u, std::thread::hardware_concurrency());
  if (options_.reductions == 0)
    options_.reductions = 1;
  if (options_.stack_size == 0)
    options_.stack_size = config::default_stack_size;
  schedulers_.reserve(options_.schedulers);
  for (unsigned i = 0; i < options_.schedulers; ++i)
    schedulers_.push_back(
        std::make_unique<detail::scheduler>(i, options_.stack_size, options_.guard_pages));
  for (auto& s : schedulers_)
    s->start();
}

inline runtime::~runtime() {
  shutdown();
  run();
  for (auto& s : schedulers_)
    s->stop();
  for (auto& s : schedulers_)
    s->join();
}

inline int runtime::run() {
  for (std::size_t n = live_.load(); n != 0; n = live_.load())
    live_.wait(n);
  return 0;
}

inline void runtime::shutdown() {
  shutting_down_.store(true);
  for (auto& s : schedulers_)
    s->for_each_process([](detail::process* p) {
      detail::send_signal(p, detail::signal::forced_exit, nullptr, exit_reason::shutdown());
    });
}

inline std::vector<pid> runtime::processes() {
  std::vector<pid> out;
  for (auto& s : schedulers_)
    s->for_each_process([&](detail::process* p) { out.emplace_back(detail::process_ref(p)); });
  return out;
}

inline detail::scheduler& runtime::pick(const spawn_options& opts) {
  if (opts.scheduler) {
    if (*opts.scheduler >= schedulers_.size())
      throw std::invalid_argument(
          fmt::format("otpp::spawn: scheduler {} does not exist (the runtime has {})",
                      *opts.scheduler, schedulers_.size()));
    return *schedulers_[*opts.scheduler];
  }
  // From a process: stay on its scheduler (messages between parent and
  // child stay on one thread), unless that one has a backlog and another
  // sleeps idle. From any other thread: round robin.
  detail::process* parent = detail::current_process;
  if (parent != nullptr && parent->sched != nullptr) {
    detail::scheduler& local = *parent->sched;
    if (local.ready_count() >= config::share_threshold)
      for (auto& s : schedulers_)
        if (s.get() != &local && s->sleeping())
          return *s;
    return local;
  }
  thread_local std::size_t next = 0;
  return *schedulers_[next++ % schedulers_.size()];
}

inline void runtime::process_ended(detail::process& p) {
  p.sched->remove(&p);
  if (live_.fetch_sub(1) == 1)
    live_.notify_all();
}

} // namespace otpp

#endif // OTPP_DETAIL_RUNTIME_MEMBERS_HPP
