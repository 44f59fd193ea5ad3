// A scheduler thread: an io_context loop that runs ready process fibers.
// Distributed under the Boost Software License, Version 1.0.
#pragma once

#include <otpp/config.hpp>
#include <otpp/detail/block_cache.hpp>
#include <otpp/detail/intrusive_stack.hpp>
#include <otpp/detail/overflow.hpp>
#include <otpp/detail/process.hpp>
#include <otpp/detail/sanitizer.hpp>
#include <otpp/detail/stack_pool.hpp>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <sched.h>
#include <thread>
#include <vector>

namespace otpp::detail {

// One scheduler thread. Processes placed here live here until they end:
// their fibers, stacks and private state are touched by this thread only.
//
// The loop (see loop() below), one turn at a time:
// - Remote queue: other threads make a process ready by pushing it on
//   `remote_`, a lock-free LIFO (mpsc_stack). Each turn first takes the
//   whole of it and appends it to the ready FIFO.
// - Ready FIFO: processes that became ready (woken, or yielding) run oldest
//   first, from `ready_head_` to `ready_tail_`.
// - Fresh LIFO: a process spawned on this thread goes on `fresh_head_`,
//   newest first (see schedule_new). pop_local() takes up to
//   `config::fresh_run_limit` fresh ones in a row, then the oldest ready one,
//   so spawning cannot starve the ready FIFO.
// - I/O: every `config::io_poll_interval` resumptions the loop polls its
//   io_context (timers, I/O completions, receive deadlines).
// - Idle spin: with nothing ready it spins `config::idle_spins` rounds on
//   the remote queue (polling the io_context every 64, sched_yield every
//   256 so that an oversubscribed core still runs the thread it waits
//   for: two otpp programs talking over loopback), because a wake-up
//   through the kernel costs tens of microseconds and a message from another
//   scheduler often comes right back.
// - Sleep and wake-ups: then it sets `sleeping_` and blocks in
//   io_context::run_one(). schedule() from another thread posts one empty
//   handler, only if it finds `sleeping_` set and is the one to clear it, so
//   wake-ups are coalesced and a busy scheduler gets no syscall.
class scheduler {
public:
  scheduler(unsigned index, std::size_t default_stack_size, bool guard_pages)
      : index_(index), default_stack_size_(default_stack_size), guard_pages_(guard_pages),
        work_(boost::asio::make_work_guard(io_)) {}
  scheduler(const scheduler&) = delete;
  scheduler& operator=(const scheduler&) = delete;
  ~scheduler() { join(); }

  unsigned index() const noexcept { return index_; }
  boost::asio::io_context& io() noexcept { return io_; }

  void start() {
    thread_ = std::thread([this] { loop(); });
  }
  // Ends the loop once nothing is ready; the caller made sure no process lives.
  void stop() {
    stop_.store(true);
    boost::asio::post(io_, [] {});
  }
  void join() {
    if (thread_.joinable())
      thread_.join();
  }

  // Make `p` ready (its status already says so). Any thread.
  void schedule(process* p) noexcept {
    if (current_scheduler() == this) {
      push_local(p);
      return;
    }
    remote_.push(p);
    if (sleeping_.load() && sleeping_.exchange(false))
      boost::asio::post(io_, [] {});
  }
  // Requeue the running process behind the others (yield). Owner thread.
  void push_local(process* p) noexcept {
    p->next = nullptr;
    if (ready_tail_ != nullptr)
      ready_tail_->next = p;
    else
      ready_head_ = p;
    ready_tail_ = p;
    ++ready_count_;
  }
  // Queue a newly spawned process. On the owner thread it goes on a LIFO of
  // fresh processes (newest first, like Go's runnext, but for every spawn)
  // next to the FIFO of ready ones; the loop takes from the two in turn
  // (config::fresh_run_limit fresh ones, then the oldest ready one). A tree
  // of spawns then runs depth first, so few started processes hold a stack
  // at once, and a spawning loop does not hold back processes that became
  // ready before.
  void schedule_new(process* p) noexcept {
    if (current_scheduler() != this) {
      schedule(p);
      return;
    }
    p->next = fresh_head_;
    fresh_head_ = p;
    ++fresh_count_;
  }
  // Process `p` (placed here) waits until `at` at the latest: when `at`
  // passes while it still waits in that receive, it gets a timeout signal.
  // Owner thread. A waiting process keeps at most one live heap entry: a
  // later deadline reuses an earlier entry (it re-inserts itself when that
  // entry expires), so a loop of calls with the same timeout costs no timer
  // operation per call. The receive resets `p.deadline` when it returns.
  inline void add_deadline(process& p, std::chrono::steady_clock::time_point at);
  // Process `p` (placed here) blocks in a receive with `timeout` from now.
  // Its deadline is taken when the scheduler next reads the clock: before
  // it spins or sleeps, and at every I/O poll while it is busy. That read
  // comes after the receive began, so the timeout never ends early, and
  // one read of steady_clock (tens of ns here) serves every receive of a
  // busy stretch: a call answered before then reads no clock at all.
  // Owner thread; the receive drops the entry when it returns.
  void add_timeout(process& p, std::chrono::steady_clock::duration timeout) noexcept {
    p.pending_timeout = timeout;
    p.timeout_pending = true;
    p.pending_prev = nullptr;
    p.pending_next = pending_head_;
    if (pending_head_ != nullptr)
      pending_head_->pending_prev = &p;
    pending_head_ = &p;
  }
  void drop_timeout(process& p) noexcept {
    if (!p.timeout_pending)
      return;
    p.timeout_pending = false;
    if (p.pending_prev != nullptr)
      p.pending_prev->pending_next = p.pending_next;
    else
      pending_head_ = p.pending_next;
    if (p.pending_next != nullptr)
      p.pending_next->pending_prev = p.pending_prev;
    p.pending_prev = p.pending_next = nullptr;
  }
  // Give every pending timeout its deadline, from one read of the clock.
  // Defined (inline) in detail/wait.hpp, which every user of the scheduler
  // includes; not declared inline here, so that this header compiles alone.
  void stamp_timeouts();

  // Ready processes queued here (fresh ones included). Owner thread.
  std::size_t ready_count() const noexcept { return ready_count_ + fresh_count_; }
  // True while the thread sleeps in its io_context (not while it spins).
  bool sleeping() const noexcept { return sleeping_.load(std::memory_order_relaxed); }

  // For the watchdog (any thread): the process running now (null: none; a
  // pointer to compare only, the process may end at any moment) and how
  // many times a process was resumed here (changes at every switch).
  process* running() const noexcept { return running_.load(std::memory_order_relaxed); }
  std::uint64_t resumes() const noexcept { return resumes_.load(std::memory_order_relaxed); }
  // `p` if it is still one of the live processes placed here, with a
  // reference taken while the list lock proves it alive; else null.
  process_ref find_live(process* p) {
    std::lock_guard lock(list_mutex_);
    for (process* q = list_head_; q != nullptr; q = q->list_next)
      if (q == p)
        return process_ref(q);
    return nullptr;
  }
  std::thread& thread() noexcept { return thread_; }
  // Set when a shutdown that did not end gives up on this scheduler's
  // processes (runtime::abandon): its thread is stopped where it is, and
  // nothing touches the scheduler again.
  bool abandoned() const noexcept { return abandoned_.load(); }
  void mark_abandoned() noexcept { abandoned_.store(true); }

  // Switch from the running process back to this scheduler. Owner thread.
  void suspend(process& p) noexcept {
    sanitizer::start_switch(&p.asan_fake_stack, stack_);
    p.sched_ctx = std::move(p.sched_ctx).resume();
    sanitizer::finish_switch(p.asan_fake_stack, &stack_.stack_bottom, &stack_.stack_size);
  }
  // Final switch of a process that ends: its stack is released after it.
  boost::context::fiber finish(process& p) noexcept {
    p.finished = true;
    sanitizer::start_switch(nullptr, stack_);
    return std::move(p.sched_ctx);
  }
  // First thing a new fiber does: learn the scheduler stack's bounds.
  void entered(process&) noexcept {
    sanitizer::finish_switch(nullptr, &stack_.stack_bottom, &stack_.stack_size);
  }

  // The live processes placed here (introspection, shutdown).
  void add(process* p) {
    std::lock_guard lock(list_mutex_);
    p->list_prev = nullptr;
    p->list_next = list_head_;
    if (list_head_ != nullptr)
      list_head_->list_prev = p;
    list_head_ = p;
  }
  void remove(process* p) {
    std::lock_guard lock(list_mutex_);
    if (p->list_prev != nullptr)
      p->list_prev->list_next = p->list_next;
    else
      list_head_ = p->list_next;
    if (p->list_next != nullptr)
      p->list_next->list_prev = p->list_prev;
    p->list_prev = p->list_next = nullptr;
  }
  template <class F> void for_each_process(F&& f) {
    std::lock_guard lock(list_mutex_);
    for (process* p = list_head_; p != nullptr; p = p->list_next)
      f(p);
  }

  static scheduler*& current_scheduler() noexcept {
    thread_local scheduler* s = nullptr;
    return s;
  }

private:
  inline void loop();
  inline void resume(process* p);

  bool spin_for_work() {
    for (unsigned i = 0; i < config::idle_spins; ++i) {
      if (!remote_.empty())
        return true;
      if ((i & 63) == 63 && io_.poll() != 0)
        return true;
      // Now and then let the kernel run another thread on this core: on an
      // oversubscribed machine (two runtimes, a busy neighbour) the thread
      // we wait for may need it.
      if ((i & 255) == 255)
        sched_yield();
#if defined(__x86_64__) || defined(__i386__)
      __builtin_ia32_pause();
#endif
    }
    return false;
  }

  struct deadline_entry {
    std::chrono::steady_clock::time_point at;
    process_ref p;
  };
  static bool later(const deadline_entry& a, const deadline_entry& b) noexcept {
    return a.at > b.at;
  }
  // Defined in detail/wait.hpp (they send signals).
  inline void insert_deadline(process& p, std::chrono::steady_clock::time_point at);
  inline void arm(std::chrono::steady_clock::time_point at);
  inline void expire_deadlines();

  process* pop_local() noexcept {
    process* p = fresh_head_;
    if (p != nullptr && (ready_head_ == nullptr || fresh_streak_ < config::fresh_run_limit)) {
      ++fresh_streak_;
      --fresh_count_;
      fresh_head_ = p->next;
      return p;
    }
    fresh_streak_ = 0;
    p = ready_head_;
    if (p != nullptr) {
      --ready_count_;
      ready_head_ = p->next;
      if (ready_head_ == nullptr)
        ready_tail_ = nullptr;
    }
    return p;
  }
  stack_pool& pool_for(std::size_t size) {
    if (size == 0)
      size = default_stack_size_;
    auto it = pools_.find(size);
    if (it == pools_.end())
      it = pools_.emplace(size, std::make_unique<stack_pool>(size, guard_pages_)).first;
    return *it->second;
  }

  unsigned index_;
  std::size_t default_stack_size_;
  bool guard_pages_;
  boost::asio::io_context io_{1};
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work_;
  std::thread thread_;
  std::atomic<bool> stop_{false};
  std::atomic<bool> sleeping_{false};
  std::atomic<process*> running_{nullptr};
  std::atomic<bool> abandoned_{false};
  std::atomic<std::uint64_t> resumes_{0};
  mpsc_stack<process> remote_;
  process* ready_head_ = nullptr;
  process* ready_tail_ = nullptr;
  std::size_t ready_count_ = 0;
  process* fresh_head_ = nullptr; // spawned here, not yet run: LIFO
  std::size_t fresh_count_ = 0;
  std::size_t fresh_streak_ = 0; // fresh processes run since the last ready one
  sanitizer::fiber_info stack_;  // this thread's own stack, for switches back
  std::map<std::size_t, std::unique_ptr<stack_pool>> pools_;
  std::mutex list_mutex_;
  process* list_head_ = nullptr;
  std::vector<deadline_entry> deadlines_; // min-heap by `at`
  process* pending_head_ = nullptr;       // receives whose deadline is not taken yet
  std::chrono::steady_clock::time_point armed_ = std::chrono::steady_clock::time_point::max();
  boost::asio::steady_timer deadline_timer_{io_};
};

inline void scheduler::loop() {
  install_overflow_handler();
  alt_signal_stack signal_stack; // the overflow handler runs on it
  current_scheduler() = this;
  stack_.tsan_fiber = sanitizer::tsan_current_fiber();
  unsigned since_poll = 0;
  for (;;) {
    // Remote queue -> ready FIFO (the LIFO's order within one batch does not
    // matter: each was made ready by a different event).
    if (process* chain = remote_.take_all()) {
      while (chain != nullptr) {
        process* next = chain->next;
        push_local(chain);
        chain = next;
      }
    }
    // Run one process (fresh LIFO or ready FIFO, see pop_local) until it
    // suspends; poll for I/O now and then so a busy loop still sees timers.
    if (process* p = pop_local()) {
      resume(p);
      if (++since_poll >= config::io_poll_interval) {
        since_poll = 0;
        stamp_timeouts();
        io_.poll();
      }
      continue;
    }
    // Nothing ready.
    since_poll = 0;
    stamp_timeouts();
    if (stop_.load())
      break;
    // Before sleeping, spin a little: a wake-up through the kernel costs
    // tens of microseconds on these machines, and a message from another
    // scheduler often comes right back.
    if (spin_for_work())
      continue;
    // Memory of a backlog that is gone goes back to the system (past a
    // high-water mark), while there is nothing else to do.
    blocks::release_if_idle();
    // Announce the sleep, then look once more: a schedule() that pushed
    // before it could see `sleeping_` is caught here, one that pushed after
    // posts a wake-up, so no ready process is missed.
    sleeping_.store(true);
    if (!remote_.empty() || stop_.load()) {
      sleeping_.store(false);
      continue;
    }
    io_.run_one(); // a wake-up, a timer or an I/O completion
    sleeping_.store(false);
    io_.poll();
  }
  work_.reset();
  current_scheduler() = nullptr;
}

// Switch to `p` until it suspends or ends. Its fiber (and stack) is made on
// its first run; the C++ exception state is swapped with the process's own
// around the switch (see eh_state.hpp), and the sanitizers are told.
inline void scheduler::resume(process* p) {
  process* previous = current_process;
  current_process = p;
  p->status.store(process_status::running, std::memory_order_relaxed);
  running_.store(p, std::memory_order_relaxed);
  resumes_.store(resumes_.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
  if (!p->ctx) {
    p->self_stack.tsan_fiber = sanitizer::tsan_create_fiber();
    p->ctx = boost::context::fiber(
        std::allocator_arg, pooled_stack{&pool_for(p->stack_size), &p->self_stack},
        [p](boost::context::fiber&& s) { return p->entry(p, std::move(s)); });
  }
  void* fake_stack = nullptr;
  eh_state own = swap_eh_state(p->eh);
  sanitizer::start_switch(&fake_stack, p->self_stack);
  p->ctx = std::move(p->ctx).resume();
  sanitizer::finish_switch(fake_stack);
  p->eh = swap_eh_state(own);
  if (!canary_intact(*p)) [[unlikely]] // stacks without a guard page only
    report_overflow(*p, "(its stack canary was overwritten)");
  current_process = previous;
  running_.store(nullptr, std::memory_order_relaxed);
  if (p->finished) {
    sanitizer::tsan_destroy_fiber(p->self_stack.tsan_fiber);
    intrusive_ptr_release(p); // the reference the process held on itself while alive
  }
}

} // namespace otpp::detail
