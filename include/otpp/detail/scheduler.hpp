// A scheduler thread: an io_context loop that runs ready process fibers.
// Distributed under the Boost Software License, Version 1.0.
#pragma once

#include <otpp/config.hpp>
#include <otpp/core/clock.hpp>
#include <otpp/detail/block_cache.hpp>
#include <otpp/detail/intrusive_stack.hpp>
#include <otpp/detail/overflow.hpp>
#include <otpp/detail/process.hpp>
#include <otpp/detail/sanitizer.hpp>
#include <otpp/detail/scheduler_stats.hpp>
#include <otpp/detail/stack_pool.hpp>
#include <otpp/detail/steal_deque.hpp>

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
#include <utility>
#include <vector>

namespace otpp::detail {

// One scheduler thread. Processes that started here live here until they
// end: their fibers, stacks and private state are touched by this thread
// only. A process that has not started yet may be stolen by another
// scheduler (it owns no stack yet, so nothing of it is bound to a thread).
//
// The loop (see loop() below), one turn at a time:
// - Remote queue: other threads make a process ready by pushing it on
//   `remote_`, a lock-free LIFO (mpsc_stack). Each turn first takes the
//   whole of it and appends it to the ready FIFO.
// - Ready FIFO: processes that became ready (woken, or yielding) run oldest
//   first, from `ready_head_` to `ready_tail_`.
// - Fresh processes: a process spawned on this thread goes on the
//   stealable deque `stealable_` (or, if it was placed here by name or the
//   deque is full, on the private LIFO `fresh_head_`), newest first (see
//   schedule_new). pop_local() takes up to `config::fresh_run_limit` fresh
//   ones in a row, then the oldest ready one, so spawning cannot starve the
//   ready FIFO.
// - Stealing: with nothing of its own to run, a scheduler takes the oldest
//   stealable process of another (steal()) once it has waited
//   `config::steal_age`, before it spins, while it spins, and before it
//   sleeps; one its own scheduler is about to run stays there. A
//   scheduler that spawns while it has two or more stealable processes
//   wakes one peer that sleeps with nothing to steal; that peer then
//   sleeps only until the oldest may be taken, so work left waiting on a
//   busy core spreads to an idle one.
// - I/O: every `config::io_poll_interval` resumptions the loop reads the
//   clock (the stamps of receive timeouts and of fresh processes) and, if
//   `config::io_poll_period` has passed since its last poll, polls its
//   io_context (timers, I/O completions, receive deadlines, handlers posted
//   from other threads). A poll is a system call even when nothing is
//   ready: paced by time, a busy loop of short resumptions pays one per
//   50 us rather than one per 64 resumptions.
// - Idle spin: with nothing ready it spins `config::idle_spins` rounds on
//   the remote queue (polling the io_context every
//   `config::idle_io_poll_spins` = 64 rounds, sched_yield every
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
    wake_if_sleeping();
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
  // `pinned`: placed here by the spawn options; never stolen.
  void schedule_new(process* p, bool pinned) noexcept {
    if (current_scheduler() != this) {
      schedule(p);
      return;
    }
    if (!pinned && !peers_.empty()) {
      if (coarse_stale_) { // first spawn after an idle stretch: the stamp needs a clock read
        coarse_stale_ = false;
        coarse_now_ = clock_ticks();
      }
      if (stealable_.push(p, coarse_now_)) {
        if (stealable_.size() >= 2)
          wake_a_sleeping_peer();
        return;
      }
    }
    p->next = fresh_head_;
    fresh_head_ = p;
    ++fresh_count_;
  }
  // The other schedulers of the runtime, to steal from. Set once, before
  // any scheduler starts.
  void set_peers(std::vector<scheduler*> peers) { peers_ = std::move(peers); }

  // Virtual time (runtime_options::virtual_time, one scheduler): set once,
  // before the scheduler starts. Receive deadlines and timers then wait on
  // `c` instead of Asio's steady timer, and when nothing can run the loop
  // moves `c` to the earliest of them (see advance_virtual).
  void set_virtual_clock(virtual_clock* c) noexcept { vclock_ = c; }
  virtual_clock* virtual_time() const noexcept { return vclock_; }
  // The time of timeouts here: the virtual clock's, or steady_clock's.
  std::chrono::steady_clock::time_point timeout_now() const noexcept {
    if (vclock_ != nullptr) [[unlikely]]
      return vclock_->now();
    return std::chrono::steady_clock::now();
  }
  // A timer in virtual time: `fire` runs on this thread when the clock
  // reaches `at`; timers due at one instant fire in the order they were
  // set (set_virtual_timer, on any thread). Virtual time only.
  struct virtual_timer {
    virtual_timer() = default;
    virtual_timer(const virtual_timer&) = delete;
    virtual_timer& operator=(const virtual_timer&) = delete;
    virtual ~virtual_timer() = default;
    virtual void fire() = 0;
    // Cancelled: the clock need not stop at it.
    virtual bool cancelled() const noexcept { return false; }
  };
  // Any thread: its place among timers due at the same instant is taken
  // now; it is added here at once on this thread, else through the
  // io_context.
  void set_virtual_timer(std::chrono::steady_clock::time_point at,
                         std::unique_ptr<virtual_timer> t) {
    const std::uint64_t seq = vtimer_seq_.fetch_add(1, std::memory_order_relaxed);
    if (current_scheduler() == this) {
      add_virtual_timer(at, seq, std::move(t));
      return;
    }
    boost::asio::post(io_, [this, at, seq, t = std::move(t)]() mutable {
      add_virtual_timer(at, seq, std::move(t));
    });
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
  // it spins or sleeps, and every 64 resumptions while it is busy. That read
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
  std::size_t ready_count() const noexcept {
    return ready_count_ + fresh_count_ + stealable_.size();
  }
  // True while the thread sleeps in its io_context (not while it spins).
  bool sleeping() const noexcept { return sleeping_.load(std::memory_order_relaxed) != awake; }

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

  // The live processes that run here, or will (introspection, shutdown,
  // runtime::run), and how many there are. The counts are what tells
  // runtime::run that every process ended: a count of the whole runtime
  // would be one cache line that every spawn and exit on every core writes.
  void add(process* p) {
    std::lock_guard lock(list_mutex_);
    link(p);
  }
  // True if the list is empty now.
  bool remove(process* p) {
    std::lock_guard lock(list_mutex_);
    counts_.count_exit(*p);
    return unlink(p);
  }
  // Move `p` from `from`'s list to this one, both locked: a reader that
  // holds every list's lock sees it in exactly one.
  void adopt(scheduler& from, process* p) {
    std::scoped_lock lock(from.list_mutex_, list_mutex_);
    // Counted here before it leaves there: the sum of the counts never drops.
    live_.store(live_.load(std::memory_order_relaxed) + 1);
    from.unlink(p);
    link(p, false);
  }
  // Processes in the list (seq_cst: see runtime::process_ended).
  std::size_t live() const noexcept { return live_.load(); }
  std::mutex& list_mutex() noexcept { return list_mutex_; }
  template <class F> void for_each_process(F&& f) {
    std::lock_guard lock(list_mutex_);
    for (process* p = list_head_; p != nullptr; p = p->list_next)
      f(p);
  }
  // The same, with the counts of spawns, exits and ended processes, read
  // under the same lock: every process is either walked or counted ended.
  template <class F> scheduler_counts for_each_process_counted(F&& f) {
    std::lock_guard lock(list_mutex_);
    for (process* p = list_head_; p != nullptr; p = p->list_next)
      f(p);
    return counts_;
  }
  // Ready processes waiting for their turn here, as the owner last
  // published it (every config::io_poll_interval resumptions, and 0 when
  // it runs out of work). Any thread.
  std::size_t run_queue() const noexcept {
    return published_ready_.load(std::memory_order_relaxed);
  }
  scheduler_wall_time& wall_time() noexcept { return wall_; }

  static scheduler*& current_scheduler() noexcept {
    thread_local scheduler* s = nullptr;
    return s;
  }

  // steady_clock now, in nanoseconds: the unit of every tick count here
  // (wall time, steal ages, the coarse clock).
  static std::int64_t clock_ticks() noexcept {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(
               std::chrono::steady_clock::now().time_since_epoch())
        .count();
  }

private:
  inline void loop();
  // Parking (scheduler_park.hpp): an idle process's stack is copied into a
  // buffer of the size it uses and its pages go back to the kernel; the
  // bytes return to the same addresses before it runs again.
  // The rare paths are defined never inlined, to keep them out of the
  // switch path's code (declared without `inline`: GCC refuses noinline
  // after an inline declaration).
  void after_wait(process& p);
  void idle_join(process& p);
  inline void idle_append(process& p) noexcept;
  inline void idle_unlink(process& p) noexcept;
  void sweep_idle(std::int64_t now) noexcept;
  bool park(process& p) noexcept;
  void release_parked() noexcept;
  void unpark(process& p) noexcept;
  void check_canary(process& p) noexcept;
  inline void wait_for_work();
  inline void resume(process* p);

  // Any thread: end this scheduler's sleep, if it sleeps (coalesced: one
  // empty handler per sleep).
  void wake_if_sleeping() noexcept {
    if (sleeping_.load() != awake && sleeping_.exchange(awake) != awake)
      boost::asio::post(io_, [] {});
  }
  // A peer that sleeps with nothing to steal anywhere is woken to come and
  // look (it then sleeps until this scheduler's oldest fresh process may be
  // taken); one already on such a timed sleep is left alone.
  void wake_a_sleeping_peer() noexcept {
    for (scheduler* s : peers_)
      if (s->sleeping_.load(std::memory_order_relaxed) == asleep) {
        s->wake_if_sleeping();
        return;
      }
  }
  void link(process* p, bool count = true) noexcept {
    p->list_prev = nullptr;
    p->list_next = list_head_;
    if (list_head_ != nullptr)
      list_head_->list_prev = p;
    list_head_ = p;
    if (count) {
      live_.store(live_.load(std::memory_order_relaxed) + 1);
      ++counts_.spawned;
    }
  }
  bool unlink(process* p) noexcept {
    if (p->list_prev != nullptr)
      p->list_prev->list_next = p->list_next;
    else
      list_head_ = p->list_next;
    if (p->list_next != nullptr)
      p->list_next->list_prev = p->list_prev;
    p->list_prev = p->list_next = nullptr;
    const std::size_t n = live_.load(std::memory_order_relaxed) - 1;
    live_.store(n);
    return n == 0;
  }

  static constexpr std::int64_t io_poll_period_ticks =
      std::chrono::duration_cast<std::chrono::nanoseconds>(config::io_poll_period).count();
  static constexpr std::int64_t steal_age_ticks =
      std::chrono::duration_cast<std::chrono::nanoseconds>(config::steal_age).count();
  // The queue time of the oldest fresh process of any peer (INT64_MAX: none).
  std::int64_t peers_oldest() const noexcept {
    std::int64_t oldest = INT64_MAX;
    for (scheduler* s : peers_)
      oldest = std::min(oldest, s->stealable_.oldest_stamp());
    return oldest;
  }
  // Whether some peer has a process old enough to steal at `now` (a hint).
  bool peers_have_work(std::int64_t now) const noexcept {
    return peers_oldest() <= now - steal_age_ticks;
  }
  // The same, reading the clock only if some peer has a fresh process at
  // all (the common case, nothing to steal, costs no clock read).
  bool peers_have_work() const noexcept {
    const std::int64_t oldest = peers_oldest();
    return oldest != INT64_MAX && oldest <= clock_ticks() - steal_age_ticks;
  }
  // Take the oldest not-yet-started process of a peer (null: none) and
  // make it this scheduler's: it moves to this live list, and its `sched`
  // changes under its `meta` lock (introspection reads it there). Nothing
  // else of it is tied to a thread before its first run.
  inline process* steal() noexcept;

  bool spin_for_work() {
    for (unsigned i = 0; i < config::idle_spins; ++i) {
      if (!remote_.empty())
        return true;
      if ((i & 15) == 15 && !peers_.empty() && peers_have_work())
        return true;
      if (i % config::idle_io_poll_spins == config::idle_io_poll_spins - 1 && io_.poll() != 0)
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
  inline void prune_deadlines();
  // Not declared inline (the loop calls it): see stamp_timeouts.
  bool advance_virtual();

  void add_virtual_timer(std::chrono::steady_clock::time_point at, std::uint64_t seq,
                         std::unique_ptr<virtual_timer> t) {
    vtimers_.push_back({at, seq, std::move(t)});
    std::push_heap(vtimers_.begin(), vtimers_.end(), later_timer);
  }
  struct virtual_timer_entry {
    std::chrono::steady_clock::time_point at;
    std::uint64_t seq;
    std::unique_ptr<virtual_timer> timer;
  };
  static bool later_timer(const virtual_timer_entry& a, const virtual_timer_entry& b) noexcept {
    return a.at != b.at ? a.at > b.at : a.seq > b.seq;
  }

  process* pop_fresh() noexcept {
    if (process* p = stealable_.pop())
      return p;
    process* p = fresh_head_;
    if (p != nullptr) {
      --fresh_count_;
      fresh_head_ = p->next;
    }
    return p;
  }
  process* pop_local() noexcept {
    if (ready_head_ == nullptr || fresh_streak_ < config::fresh_run_limit) {
      if (process* p = pop_fresh()) {
        ++fresh_streak_;
        return p;
      }
    }
    fresh_streak_ = 0;
    process* p = ready_head_;
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
  std::atomic<bool> abandoned_{false};
  // What other threads touch to make a process ready here and wake this
  // scheduler (one line: a remote schedule() reads both), away from what
  // the owner writes at every switch.
  enum : std::uint8_t { awake, asleep, asleep_timed };
  alignas(64) std::atomic<std::uint8_t> sleeping_{awake};
  mpsc_stack<process> remote_;
  alignas(64) std::atomic<process*> running_{nullptr};
  std::atomic<std::uint64_t> resumes_{0};
  std::atomic<std::size_t> published_ready_{0};  // see run_queue()
  alignas(64) std::atomic<std::size_t> live_{0}; // processes in the live list
  process* ready_head_ = nullptr;
  process* ready_tail_ = nullptr;
  std::size_t ready_count_ = 0;
  process* fresh_head_ = nullptr; // spawned here, not yet run, not stealable: LIFO
  steal_deque<process, config::stealable_capacity> stealable_; // spawned here, not yet run
  std::vector<scheduler*> peers_;                              // the others, to steal from
  std::size_t next_victim_ = 0;
  // steady_clock in ns, read every 64 resumptions, when idle with a peer
  // that has fresh processes, and by the first spawn after an idle stretch:
  // the queue time of the fresh processes spawned meanwhile (no clock read
  // per spawn).
  std::int64_t coarse_now_ = 0;
  // coarse_now_ is from before an idle stretch: the next spawn reads the clock.
  bool coarse_stale_ = false;
  // steady_clock in ns at the last poll of the io_context by the busy loop.
  std::int64_t last_io_poll_ = 0;
  std::size_t fresh_count_ = 0;
  std::size_t fresh_streak_ = 0; // fresh processes run since the last ready one
  sanitizer::fiber_info stack_;  // this thread's own stack, for switches back
  std::map<std::size_t, std::unique_ptr<stack_pool>> pools_;
  std::mutex list_mutex_;
  process* list_head_ = nullptr;
  scheduler_counts counts_; // under list_mutex_
  alignas(64) scheduler_wall_time wall_;
  std::vector<deadline_entry> deadlines_; // min-heap by `at`
  process* pending_head_ = nullptr;       // receives whose deadline is not taken yet
  std::chrono::steady_clock::time_point armed_ = std::chrono::steady_clock::time_point::max();
  boost::asio::steady_timer deadline_timer_{io_};
  virtual_clock* vclock_ = nullptr;          // virtual time, or null
  std::vector<virtual_timer_entry> vtimers_; // min-heap by (at, seq); virtual time only
  std::atomic<std::uint64_t> vtimer_seq_{0};
  // Parking: processes that may park once they waited long enough, a list
  // per threshold (oldest queued first), how many are listed, the sweep
  // epoch, its period in ns (0: no sweeps yet), the next sweep, and the
  // slots parked since their pages were last released.
  struct idle_list {
    std::int64_t after; // ns
    process* head = nullptr;
    process* tail = nullptr;
  };
  std::vector<idle_list> idle_lists_;
  std::size_t idle_count_ = 0;
  std::uint32_t park_epoch_ = 1; // wraps: epochs are compared by their difference
  std::int64_t park_period_ = 0;
  std::int64_t next_sweep_ = INT64_MAX;
  struct parked_slot {
    char* low;
    char* high;
    process* p;
    std::uint32_t bytes; // its copy
  };
  std::vector<parked_slot> park_ranges_;
};

} // namespace otpp::detail

// The loop, its idle wait, stealing and switching to a process.
#include <otpp/detail/scheduler_loop.hpp>
// Parking idle processes' stacks.
#include <otpp/detail/scheduler_park.hpp>
