// The blocking pool: OS threads that run blocking calls for processes
// (otpp::blocking_call), so that only the calling process waits.
// Distributed under the Boost Software License, Version 1.0.
#pragma once

#include <otpp/core/clock.hpp>

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

namespace otpp::detail {

// One call to run. `run` is called on a pool thread, at most once; a job
// that is never run (the pool closed first) is only destroyed.
struct blocking_job {
  blocking_job() = default;
  blocking_job(const blocking_job&) = delete;
  blocking_job& operator=(const blocking_job&) = delete;
  virtual ~blocking_job() = default;
  virtual void run() noexcept = 0;
};

template <class F> struct blocking_job_of final : blocking_job {
  explicit blocking_job_of(F f) : fn(std::move(f)) {}
  void run() noexcept override { fn(); }
  F fn;
};

// Threads start on demand, up to `max_threads`, and stay until close().
// The state is shared with the threads: a thread still inside a call when
// close() gives up on it is detached and ends on its own later, touching
// only this state and what its job holds.
class blocking_pool {
public:
  explicit blocking_pool(unsigned max_threads) : s_(std::make_shared<state>()) {
    s_->max_threads = max_threads;
  }
  blocking_pool(const blocking_pool&) = delete;
  blocking_pool& operator=(const blocking_pool&) = delete;
  ~blocking_pool() { close(std::chrono::milliseconds::zero()); }

  unsigned max_threads() const noexcept { return s_->max_threads; }

  // Virtual time: a job holds the clock from post() until it has run (and
  // so has delivered its result). Set before the first post.
  void set_virtual_clock(std::shared_ptr<virtual_clock> c) noexcept { s_->vclock = std::move(c); }

  // Queue a job; false if the pool is closed or has no threads (the job is
  // not run).
  bool post(std::unique_ptr<blocking_job> job) {
    std::unique_lock lock(s_->mutex);
    if (s_->closed || s_->max_threads == 0)
      return false;
    s_->jobs.push_back(std::move(job));
    if (s_->vclock)
      s_->vclock->hold();
    if (s_->idle == 0 && s_->threads.size() < s_->max_threads) {
      ++s_->alive;
      s_->threads.emplace_back([s = s_] { work(*s); });
    } else {
      lock.unlock();
      s_->cv.notify_one();
    }
    return true;
  }

  // Calls running now and calls queued.
  std::size_t busy() const {
    std::lock_guard lock(s_->mutex);
    return s_->running + s_->jobs.size();
  }

  // Stop taking jobs, drop the queued ones, wait up to `patience` for the
  // running calls (zero: for ever), then join the threads that ended and
  // detach the others. Returns the number of threads detached.
  std::size_t close(std::chrono::milliseconds patience) {
    std::deque<std::unique_ptr<blocking_job>> dropped;
    std::vector<std::thread> threads;
    {
      std::unique_lock lock(s_->mutex);
      if (s_->closed && s_->threads.empty())
        return 0;
      s_->closed = true;
      dropped.swap(s_->jobs);
      if (s_->vclock)
        for (std::size_t i = 0; i < dropped.size(); ++i)
          s_->vclock->release();
      s_->cv.notify_all();
      auto none_alive = [&] { return s_->alive == 0; };
      if (patience > std::chrono::milliseconds::zero())
        s_->ended_cv.wait_for(lock, patience, none_alive);
      else
        s_->ended_cv.wait(lock, none_alive);
      threads.swap(s_->threads);
    }
    std::size_t detached = 0;
    const bool all_ended = [&] {
      std::lock_guard lock(s_->mutex);
      return s_->alive == 0;
    }();
    for (auto& t : threads) {
      if (all_ended) {
        t.join();
      } else {
        t.detach(); // (which thread is stuck is not known: each keeps the state alive)
        ++detached;
      }
    }
    return all_ended ? 0 : detached;
  }

private:
  struct state {
    mutable std::mutex mutex;
    std::condition_variable cv;       // a job or close
    std::condition_variable ended_cv; // a thread ended
    std::deque<std::unique_ptr<blocking_job>> jobs;
    std::vector<std::thread> threads;
    unsigned max_threads = 0;
    unsigned idle = 0;
    std::size_t running = 0;
    unsigned alive = 0;
    bool closed = false;
    std::shared_ptr<virtual_clock> vclock; // virtual time, or null
  };

  static void work(state& s) {
    std::unique_lock lock(s.mutex);
    for (;;) {
      ++s.idle;
      s.cv.wait(lock, [&] { return s.closed || !s.jobs.empty(); });
      --s.idle;
      if (s.jobs.empty())
        break; // closed
      std::unique_ptr<blocking_job> job = std::move(s.jobs.front());
      s.jobs.pop_front();
      ++s.running;
      lock.unlock();
      job->run();
      job.reset();
      if (s.vclock)
        s.vclock->release(); // after the job delivered its result
      lock.lock();
      --s.running;
    }
    --s.alive;
    s.ended_cv.notify_all();
  }

  std::shared_ptr<state> s_;
};

} // namespace otpp::detail
