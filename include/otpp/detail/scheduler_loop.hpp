// The scheduler's loop (see the comment at the top of scheduler.hpp), its
// wait when idle, stealing and the switch to a process: the members of
// detail::scheduler defined out of its class.
// Distributed under the Boost Software License, Version 1.0.
#pragma once

#include <otpp/detail/scheduler.hpp>

namespace otpp::detail {

inline void scheduler::loop() {
  install_overflow_handler();
  alt_signal_stack signal_stack; // the overflow handler runs on it
  current_scheduler() = this;
  current_virtual_clock = vclock_;
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
        const std::int64_t now = clock_ticks();
        coarse_now_ = now;
        coarse_stale_ = false;
        stamp_timeouts();
        if (now >= next_sweep_) [[unlikely]]
          sweep_idle(now);
        published_ready_.store(ready_count(), std::memory_order_relaxed);
        if (now - last_io_poll_ >= io_poll_period_ticks) {
          last_io_poll_ = now;
          io_.poll();
        }
      }
      continue;
    }
    // Nothing ready here: take a fresh process of another scheduler (the
    // clock is read only if some peer has one).
    coarse_stale_ = true;
    if (!peers_.empty() && peers_oldest() != INT64_MAX) {
      coarse_now_ = clock_ticks();
      coarse_stale_ = false;
      if (process* p = steal()) {
        resume(p);
        continue;
      }
    }
    since_poll = 0;
    stamp_timeouts();
    if (stop_.load())
      break;
    // Virtual time moves only here, when nothing is ready.
    if (vclock_ != nullptr && advance_virtual()) [[unlikely]]
      continue;
    if (published_ready_.load(std::memory_order_relaxed) != 0)
      published_ready_.store(0, std::memory_order_relaxed);
    if (wall_.on.load(std::memory_order_relaxed)) [[unlikely]] {
      wall_.idle_begin(clock_ticks());
      wait_for_work();
      wall_.idle_end(clock_ticks());
    } else {
      wait_for_work();
    }
  }
  work_.reset();
  current_scheduler() = nullptr;
  current_virtual_clock = nullptr;
}

// Nothing to run: spin a little, then sleep until a wake-up, a timer or an
// I/O completion (or until a peer's fresh process may be stolen).
inline void scheduler::wait_for_work() {
  // Before sleeping, spin a little: a wake-up through the kernel costs
  // tens of microseconds on these machines, and a message from another
  // scheduler often comes right back.
  if (spin_for_work())
    return;
  // Idle processes that waited long enough are parked before it sleeps;
  // while some may still park, it sleeps until the next sweep at most.
  if (idle_count_ != 0) {
    if (const std::int64_t t = clock_ticks(); t >= next_sweep_)
      sweep_idle(t);
  }
  // Memory of a backlog that is gone goes back to the system (past a
  // high-water mark), once this scheduler has slept idle a while.
  const bool tidy = blocks::release_due();
  // Announce the sleep, then look once more: a schedule() that pushed
  // before it could see `sleeping_` is caught here, one that pushed after
  // posts a wake-up, so no ready process is missed.
  // While a peer holds fresh processes too recent to take, sleep only
  // until the oldest of them may be taken.
  const std::int64_t oldest = peers_oldest();
  sleeping_.store(oldest == INT64_MAX ? asleep : asleep_timed);
  const std::int64_t now = clock_ticks();
  if (!remote_.empty() || stop_.load() || peers_have_work(now)) {
    sleeping_.store(awake);
    return;
  }
  const std::chrono::nanoseconds sweep_in(
      idle_count_ == 0 ? INT64_MAX : std::max<std::int64_t>(next_sweep_ - now, 0) + 1000);
  if (oldest == INT64_MAX && !tidy) {
    if (idle_count_ == 0)
      io_.run_one(); // a wake-up, a timer or an I/O completion
    else
      io_.run_one_for(sweep_in);
  } else if (oldest == INT64_MAX) {
    if (sweep_in < blocks::idle_release)
      io_.run_one_for(sweep_in); // the tidying waits for a longer sleep
    else if (io_.run_one_for(blocks::idle_release) == 0)
      blocks::release_surplus_now();
  } else {
    io_.run_one_for(
        std::min(sweep_in, std::chrono::nanoseconds(oldest + steal_age_ticks - now + 1000)));
  }
  sleeping_.store(awake);
  io_.poll();
}

inline process* scheduler::steal() noexcept {
  if (peers_.empty() || abandoned())
    return nullptr;
  for (std::size_t k = 0; k < peers_.size(); ++k) {
    scheduler& victim = *peers_[(next_victim_ + k) % peers_.size()];
    if (victim.abandoned())
      continue; // its thread may be stopped holding its list's lock
    process* p = victim.stealable_.steal(coarse_now_ - steal_age_ticks);
    if (p == nullptr)
      continue;
    next_victim_ = (next_victim_ + k + 1) % peers_.size();
    adopt(victim, p);
    {
      std::lock_guard lock(p->meta);
      p->sched = this;
    }
    return p;
  }
  return nullptr;
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
    auto main = [p](boost::context::fiber&& s) { return p->entry(p, std::move(s)); };
    // What Boost.Context keeps at the stack's top (a detail type of its
    // fcontext fiber): its size places the stack's top (stack_pool::allocate).
    using record =
        boost::context::detail::fiber_record<boost::context::fiber, pooled_stack, decltype(main)>;
    p->ctx = boost::context::fiber(
        std::allocator_arg,
        pooled_stack{&pool_for(p->stack_size), &p->self_stack, 0, sizeof(record)}, std::move(main));
    p->stack_bytes.store(p->self_stack.stack_size, std::memory_order_relaxed);
    p->stack_low.store(static_cast<const char*>(p->self_stack.stack_bottom),
                       std::memory_order_release);
  }
  if (p->parked) [[unlikely]]
    unpark(*p);
  void* fake_stack = nullptr;
  eh_state own = swap_eh_state(p->eh);
  sanitizer::start_switch(&fake_stack, p->self_stack);
  p->ctx = std::move(p->ctx).resume();
  sanitizer::finish_switch(fake_stack);
  p->eh = swap_eh_state(own);
  if (!canary_intact(*p)) [[unlikely]] // stacks without a guard page only
    check_canary(*p);
  current_process = previous;
  running_.store(nullptr, std::memory_order_relaxed);
  if (p->finished) {
    if (p->idle_listed)
      idle_unlink(*p);
    sanitizer::tsan_destroy_fiber(p->self_stack.tsan_fiber);
    intrusive_ptr_release(p); // the reference the process held on itself while alive
  } else if (p->park_flags != 0) {
    after_wait(*p); // it waits in a receive, or hibernates
  }
}

} // namespace otpp::detail
