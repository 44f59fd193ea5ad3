// The runtime's members: scheduler threads, run(), shutdown(), placement.
// Distributed under the Boost Software License, Version 1.0.

// Part of the runtime's definitions (see detail/runtime_impl.hpp). The
// runtime include comes before the guard so that this header also compiles
// on its own: core/runtime.hpp then includes it, in its place, through
// detail/runtime_impl.hpp.
#include <otpp/core/runtime.hpp>

#ifndef OTPP_DETAIL_RUNTIME_MEMBERS_HPP
#define OTPP_DETAIL_RUNTIME_MEMBERS_HPP

#include <otpp/core/report.hpp>
#include <otpp/detail/process.hpp>
#include <otpp/detail/runtime_statistics.hpp>
#include <otpp/detail/scheduler.hpp>
#include <otpp/detail/signals.hpp>
#include <otpp/detail/watchdog.hpp>

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <thread>
#include <vector>

namespace otpp {

inline runtime::runtime(runtime_options options) : options_(options) {
  if (options_.virtual_time) {
    if (options_.schedulers > 1)
      throw std::invalid_argument(
          fmt::format("otpp::runtime: virtual_time needs one scheduler (schedulers = {}); give "
                      "schedulers = 1 or 0",
                      options_.schedulers));
    options_.schedulers = 1;
    vclock_ = std::make_shared<detail::virtual_clock>(std::chrono::steady_clock::now());
    blocking_.set_virtual_clock(vclock_);
  }
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
  for (auto& s : schedulers_) {
    std::vector<detail::scheduler*> peers;
    for (auto& other : schedulers_)
      if (other != s)
        peers.push_back(other.get());
    s->set_peers(std::move(peers));
    s->set_virtual_clock(vclock_.get());
  }
  for (auto& s : schedulers_)
    s->start();
  metrics_.add_collector([this](metric_writer& w) { detail::write_runtime_metrics(*this, w); });
  if (options_.watchdog_threshold > std::chrono::milliseconds::zero()) {
    watches_.resize(schedulers_.size());
    watchdog_ = std::thread([this] { watchdog_loop(); });
  }
}

inline runtime::~runtime() {
  shutdown();
  run();
  if (watchdog_.joinable()) {
    {
      std::lock_guard lock(watch_mutex_);
      watch_stop_ = true;
    }
    watch_cv_.notify_all();
    watchdog_.join();
  }
  // Blocking calls still running belong to processes that have ended (their
  // results are dropped); wait for them as for a shutdown, then leave them.
  const auto patience = options_.shutdown_timeout > std::chrono::milliseconds::zero()
                            ? options_.shutdown_timeout
                            : std::chrono::milliseconds::zero();
  if (const std::size_t left = blocking_.close(patience); left != 0)
    send_report(report_kind::error, pid{},
                fmt::format("otpp::runtime: {} blocking call(s) still running after {} ms; their "
                            "threads are left to finish on their own",
                            left, patience.count()));
  // Schedulers whose processes were abandoned (see abandon()) are left as
  // they are, their threads stopped for good; the others end normally.
  for (auto& s : schedulers_)
    if (!s->abandoned())
      s->stop();
  for (auto& s : schedulers_) {
    if (s->abandoned()) {
      s->thread().detach();
      detail::keep_abandoned(std::move(s));
    } else {
      s->join();
    }
  }
}

inline int runtime::run() {
  // Virtual time: a scoped_process of this runtime waiting here lets go of
  // the clock (as in a receive), so that the processes it waits for can
  // sleep and time out.
  struct let_go {
    detail::virtual_clock* c = nullptr;
    ~let_go() {
      if (c != nullptr)
        c->hold();
    }
  } let;
  if (detail::process* me = detail::current_process;
      me != nullptr && me->rt == this && me->waiter && me->waiter->vclock != nullptr) {
    let.c = me->waiter->vclock;
    let.c->release();
  }
  std::unique_lock lock(run_mutex_);
  run_cv_.wait(lock, [&] { return none_left() || shutting_down_.load(); });
  if (none_left())
    return 0;
  if (abandoned_)
    return 1;
  if (options_.shutdown_timeout <= std::chrono::milliseconds::zero()) {
    run_cv_.wait(lock, [&] { return none_left(); });
    return 0;
  }
  // The bound is on a shutdown that makes no progress: as long as some
  // process ended within the last shutdown_timeout, it goes on waiting (a
  // big runtime may take long to unwind, and that is no hang).
  auto deadline = shutdown_at_ + options_.shutdown_timeout;
  std::size_t seen = process_count();
  for (;;) {
    if (run_cv_.wait_until(lock, deadline, [&] { return none_left(); }))
      return 0;
    const std::size_t now_live = process_count();
    if (now_live >= seen)
      break;
    seen = now_live;
    deadline = std::chrono::steady_clock::now() + options_.shutdown_timeout;
  }
  lock.unlock();
  abandon();
  return none_left() ? 0 : 1;
}

inline void runtime::shutdown() {
  {
    std::lock_guard lock(run_mutex_);
    if (!shutting_down_.exchange(true))
      shutdown_at_ = std::chrono::steady_clock::now();
  }
  run_cv_.notify_all();
  for (auto& s : schedulers_)
    if (!s->abandoned())
      s->for_each_process([](detail::process* p) {
        detail::send_signal(p, detail::signal::forced_exit, nullptr, exit_reason::shutdown());
      });
}

inline std::vector<pid> runtime::processes() {
  std::vector<pid> out;
  for (auto& s : schedulers_)
    if (!s->abandoned())
      s->for_each_process([&](detail::process* p) { out.emplace_back(detail::process_ref(p)); });
  return out;
}

inline std::size_t runtime::trace_all(trace_flags::type flags, bool on) {
  const auto bits = static_cast<std::uint16_t>(flags & detail::user_flags);
  if (on)
    new_trace_flags_.fetch_or(bits, std::memory_order_relaxed);
  else
    new_trace_flags_.fetch_and(static_cast<std::uint16_t>(~bits), std::memory_order_relaxed);
  std::size_t n = 0;
  for (auto& s : schedulers_)
    if (!s->abandoned())
      s->for_each_process([&](detail::process* p) {
        if (on)
          p->trace_flags.fetch_or(bits, std::memory_order_relaxed);
        else
          p->trace_flags.fetch_and(static_cast<std::uint16_t>(~bits), std::memory_order_relaxed);
        ++n;
      });
  return n;
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

// The last process of a scheduler's list ended: if every other list looks
// empty too, run() is told (it checks every list under its lock). The
// counts are written and read seq_cst, so of two schedulers whose last
// processes end at once, at least one sees both lists empty. A process
// being stolen is counted in both lists for a moment, never in neither.
inline void runtime::process_ended(detail::process& p) {
  if (!p.sched->remove(&p) || process_count() != 0)
    return;
  std::lock_guard lock(run_mutex_); // run() checks the lists under it
  run_cv_.notify_all();
}

inline bool runtime::none_left() {
  std::vector<std::unique_lock<std::mutex>> locks;
  locks.reserve(schedulers_.size());
  for (auto& s : schedulers_)
    if (!s->abandoned()) // its thread may be stopped holding the lock
      locks.emplace_back(s->list_mutex());
  return process_count() == 0;
}

} // namespace otpp

#endif // OTPP_DETAIL_RUNTIME_MEMBERS_HPP
