// The receive engine: draining the inbox, yielding, blocking, deadlines, selective receive.
// Distributed under the Boost Software License, Version 1.0.

// Part of the runtime's definitions (see detail/runtime_impl.hpp). The
// runtime include comes before the guard so that this header also compiles
// on its own: core/runtime.hpp then includes it, in its place, through
// detail/runtime_impl.hpp.
#include <otpp/core/runtime.hpp>

#ifndef OTPP_DETAIL_WAIT_HPP
#define OTPP_DETAIL_WAIT_HPP

#include <otpp/detail/causal_hooks.hpp>
#include <otpp/detail/process.hpp>
#include <otpp/detail/scheduler.hpp>
#include <otpp/detail/signals.hpp>

#include <boost/asio/steady_timer.hpp>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <exception>
#include <mutex>
#include <optional>
#include <utility>

namespace otpp::detail {

// Move everything from the inbox into the mailbox, applying signals.
// Throws process_exit if a signal ends the process.
inline void drain(process& p) {
  envelope* chain = p.inbox.take_all();
  if (chain == nullptr)
    return;
  std::optional<exit_reason> dying;
  while (chain != nullptr) {
    envelope* next = chain->next;
    handle(p, chain, dying);
    chain = next;
  }
  if (p.mailbox_limit != 0 &&
      p.overflow == static_cast<std::uint8_t>(overflow_policy::drop_oldest) &&
      p.queued.load(std::memory_order_relaxed) > p.mailbox_limit) [[unlikely]]
    trim_oldest(p);
  if (dying && !p.exiting)
    die(p, std::move(*dying));
}

// A process that swallowed its process_exit is made to exit again.
inline void check_exiting(process& p) {
  if (p.exiting && std::uncaught_exceptions() == 0)
    throw process_exit(p.reason, true);
}

// ---------------------------------------------------------------------------
// Waiting
// ---------------------------------------------------------------------------

// Let the other ready processes of this scheduler run first.
inline void reschedule(process& p) noexcept {
  p.budget = p.rt->options().reductions;
  if (p.is_foreign())
    return;
  p.status.store(process_status::ready, std::memory_order_relaxed);
  p.sched->push_local(&p);
  p.sched->suspend(p);
}

// this_process::yield(): reschedule, then apply signals (may end the process).
inline void yield_now(process& p) {
  check_exiting(p);
  reschedule(p);
  drain(p);
}

// One reduction; reschedules when the budget is spent. Never throws, so
// `send` is safe in destructors: exit signals wait for the next receive or
// yield().
[[gnu::always_inline]] inline void count_reduction(process& p) noexcept {
  p.reductions.store(p.reductions.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
  if (--p.budget == 0)
    reschedule(p);
}

// A message sent: counted (statistics), then one reduction.
[[gnu::always_inline]] inline void count_send(process& p) noexcept {
  p.sent.store(p.sent.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
  count_reduction(p);
}

// Sleep until the inbox is not empty. Precondition: it was drained.
// Returns false only for a foreign process whose deadline passed.
inline bool block(process& p, const std::chrono::steady_clock::time_point* deadline = nullptr) {
  p.status.store(process_status::waiting, std::memory_order_relaxed);
  if (!p.inbox.try_block()) {
    p.status.store(process_status::running, std::memory_order_relaxed);
    return true;
  }
  if (traced(p, causal_bit)) [[unlikely]]
    causal_idle(p); // the span it works in went idle here
  if (p.is_foreign()) {
    foreign_waiter& w = *p.waiter;
    // In virtual time the thread lets go of the clock while it waits; the
    // one that wakes it takes it back for it (wake()).
    if (w.vclock != nullptr) [[unlikely]]
      w.vclock->release();
    std::unique_lock lock(w.mutex);
    auto woken = [&] { return w.woken; };
    if (deadline != nullptr) {
      if (!w.cv.wait_until(lock, *deadline, woken) && p.inbox.try_unblock()) {
        p.status.store(process_status::running, std::memory_order_relaxed);
        return false;
      }
    }
    w.cv.wait(lock, woken); // a producer replaced the tag: its wake-up is coming
    w.woken = false;
    p.status.store(process_status::running, std::memory_order_relaxed);
    return true;
  }
  p.sched->suspend(p);
  return true;
}

// ---------------------------------------------------------------------------
// Receive deadlines (a heap per scheduler; see scheduler::add_deadline)
// ---------------------------------------------------------------------------

inline void scheduler::add_deadline(process& p, std::chrono::steady_clock::time_point at) {
  p.deadline = at;
  if (at >= p.deadline_entry)
    return;
  insert_deadline(p, at);
}

// `timeout` after `now`, or the end of time if that is past it.
inline std::chrono::steady_clock::time_point
deadline_from(std::chrono::steady_clock::time_point now,
              std::chrono::steady_clock::duration timeout) noexcept {
  if (timeout >= std::chrono::steady_clock::time_point::max() - now)
    return std::chrono::steady_clock::time_point::max();
  return now + timeout;
}

inline void scheduler::stamp_timeouts() {
  if (pending_head_ == nullptr)
    return;
  const auto t = timeout_now();
  while (process* p = pending_head_) {
    drop_timeout(*p);
    add_deadline(*p, deadline_from(t, p->pending_timeout));
  }
}

inline void scheduler::insert_deadline(process& p, std::chrono::steady_clock::time_point at) {
  p.deadline_entry = at;
  deadlines_.push_back({at, process_ref(&p)});
  std::push_heap(deadlines_.begin(), deadlines_.end(), later);
  if (at < armed_)
    arm(at);
}
inline void scheduler::arm(std::chrono::steady_clock::time_point at) {
  armed_ = at;
  if (vclock_ != nullptr)
    return; // virtual time: the loop looks at the heap when it is idle
  deadline_timer_.expires_at(at);
  deadline_timer_.async_wait([this](const boost::system::error_code& ec) {
    if (!ec)
      expire_deadlines();
  });
}

inline void scheduler::expire_deadlines() {
  using clock = std::chrono::steady_clock;
  armed_ = clock::time_point::max();
  const auto now = timeout_now();
  while (!deadlines_.empty() && deadlines_.front().at <= now) {
    std::pop_heap(deadlines_.begin(), deadlines_.end(), later);
    deadline_entry e = std::move(deadlines_.back());
    deadlines_.pop_back();
    process& p = *e.p;
    if (p.deadline_entry == e.at)
      p.deadline_entry = clock::time_point::max();
    if (p.deadline == clock::time_point::max())
      continue; // not waiting with a deadline (any more)
    if (p.deadline <= now) {
      p.deadline = clock::time_point::max();
      send_signal(&p, signal::timeout, nullptr, {}, p.recv_gen);
    } else if (p.deadline < p.deadline_entry) {
      insert_deadline(p, p.deadline); // waits again, with a later deadline
    }
  }
  if (!deadlines_.empty() && deadlines_.front().at < armed_)
    arm(deadlines_.front().at);
}

// Virtual time: drop the heap entries at its top that no longer end a wait
// (their receive returned, or waits until later and is re-inserted), so
// that the clock moves only to instants where something happens.
inline void scheduler::prune_deadlines() {
  using clock = std::chrono::steady_clock;
  while (!deadlines_.empty()) {
    const deadline_entry& top = deadlines_.front();
    process& p = *top.p;
    if (p.deadline != clock::time_point::max() && p.deadline <= top.at)
      break; // live: p's wait ends there
    std::pop_heap(deadlines_.begin(), deadlines_.end(), later);
    deadline_entry e = std::move(deadlines_.back());
    deadlines_.pop_back();
    if (p.deadline_entry == e.at)
      p.deadline_entry = clock::time_point::max();
    if (p.deadline != clock::time_point::max() && p.deadline < p.deadline_entry)
      insert_deadline(p, p.deadline);
  }
  while (!vtimers_.empty() && vtimers_.front().timer->cancelled()) {
    std::pop_heap(vtimers_.begin(), vtimers_.end(), later_timer);
    vtimers_.pop_back();
  }
}

// Virtual time, nothing ready: run what the io_context has; if nothing
// came of it and nothing holds the clock (a scoped_process at work, a
// blocking call), move the clock to the earliest deadline or timer and
// fire what is due then. Returns false when nothing is pending at all (the
// loop then sleeps until a wake-up from elsewhere).
inline bool scheduler::advance_virtual() {
  if (vclock_->held()) {
    // Another thread may still make work (a scoped_process, a pool job):
    // look again in a millisecond, or sooner if it sends something.
    io_.run_one_for(std::chrono::milliseconds(1));
    return true;
  }
  // What a thread posted or sent before it let go of the clock is seen now.
  if (io_.poll() != 0 || !remote_.empty())
    return true;
  prune_deadlines();
  using clock = std::chrono::steady_clock;
  clock::time_point next = clock::time_point::max();
  if (!deadlines_.empty())
    next = deadlines_.front().at;
  if (!vtimers_.empty())
    next = std::min(next, vtimers_.front().at);
  if (next == clock::time_point::max())
    return false;
  vclock_->advance_to(next);
  const auto t = vclock_->now();
  expire_deadlines();
  while (!vtimers_.empty() && vtimers_.front().at <= t) {
    std::pop_heap(vtimers_.begin(), vtimers_.end(), later_timer);
    std::unique_ptr<virtual_timer> due = std::move(vtimers_.back().timer);
    vtimers_.pop_back();
    if (!due->cancelled())
      due->fire();
  }
  return true;
}

// Decides whether a mailbox entry matches a receive: the index of the
// handler that takes it, or -1. Type-erased so the wait loop is not a template.
struct matcher {
  void* ctx;
  int (*fn)(void* ctx, envelope& e);
};

using clock = std::chrono::steady_clock;

// The deadline `timeout` from now, read on steady_clock itself: a timeout
// never ends before its time. (A coarse clock is cheaper to read but lags
// the precise one by more than its resolution on VMs: up to 5.7 ms was seen,
// and timeouts fired early.)
inline clock::time_point deadline_after(clock::duration timeout) noexcept {
  return deadline_from(clock::now(), timeout);
}

// A scoped_process of a virtual-time runtime waits `timeout` (virtual):
// a timer of the runtime's scheduler sends it a timeout signal for this
// receive (a stale one, for a receive that ended, is ignored).
inline void add_virtual_timeout(process& p, clock::duration timeout, std::uint64_t gen) {
  struct timeout_timer final : scheduler::virtual_timer {
    process_ref p;
    std::uint64_t gen;
    timeout_timer(process_ref x, std::uint64_t g) : p(std::move(x)), gen(g) {}
    void fire() override { send_signal(p.get(), signal::timeout, nullptr, {}, gen); }
  };
  p.rt->scheduler_at(0).set_virtual_timer(deadline_from(p.waiter->vclock->now(), timeout),
                                          std::make_unique<timeout_timer>(process_ref(&p), gen));
}

// The selective receive: find, unlink and return the first envelope after
// `start` that `m` accepts (with the handler index), or {nullptr, -1} when
// the deadline passes. Unmatched envelopes stay in order. While waiting only
// new arrivals are examined.
// `timeout`: duration::max() waits for ever, zero only looks.
inline std::pair<envelope*, int> receive_raw(process& p, matcher m, clock::duration timeout,
                                             envelope* start) {
  check_exiting(p);
  count_reduction(p);
  drain(p);
  envelope* prev = start != nullptr ? start : &p.box.head;
  // A drop_oldest mailbox may drop what the scan passed (trim_oldest): the
  // scan then starts again (from the mark, which moves back past a dropped
  // message, or from the head).
  std::uint64_t trims = p.trims;
  auto rescan_if_trimmed = [&] {
    if (p.trims != trims) {
      trims = p.trims;
      prev = start != nullptr ? p.mark_node : &p.box.head;
    }
  };
  auto scan = [&]() -> std::pair<envelope*, int> {
    while (envelope* e = prev->next) {
      if (e->kind == signal::message) {
        int i = m.fn(m.ctx, *e);
        if (i >= 0) {
          unlink_message(p, prev);
          return {e, i};
        }
      }
      prev = e;
    }
    return {nullptr, -1};
  };
  // Causal traces: a message with a context, or a process in a span. (At
  // the return, where nothing else is live: in the scan loop the test
  // cost the loop registers.)
  auto took = [&p](std::pair<envelope*, int> r) {
    if ((r.first->flags & causal_flag) != 0 || traced(p, causal_bit)) [[unlikely]]
      causal_take(p, *r.first);
    return r;
  };
  if (auto r = scan(); r.first != nullptr)
    return took(r);
  if (timeout <= clock::duration::zero())
    return {nullptr, -1};
  // A process on a scheduler leaves taking its deadline to the scheduler
  // (see scheduler::add_timeout); a scoped_process waits on a condition
  // variable until a deadline of its own, or, in virtual time, for a
  // timeout signal from a timer of the runtime's scheduler.
  std::optional<clock::time_point> deadline;
  if (timeout != clock::duration::max() && p.is_foreign()) {
    if (p.waiter->vclock != nullptr) [[unlikely]]
      add_virtual_timeout(p, timeout, p.recv_gen + 1); // this receive's generation
    else
      deadline = deadline_after(timeout);
  }

  ++p.recv_gen;
  p.timed_out = false;
  struct deadline_guard {
    process* p;
    ~deadline_guard() {
      if (p != nullptr) {
        p->deadline = clock::time_point::max();
        p->sched->drop_timeout(*p);
      }
    }
  } guard{nullptr};
  p.wait_timed.store(timeout != clock::duration::max(), std::memory_order_relaxed);
  if (timeout != clock::duration::max() && !p.is_foreign()) {
    p.sched->add_timeout(p, timeout);
    guard.p = &p;
  }
  auto timed_out = [&]() -> std::pair<envelope*, int> {
    if (traced(p, causal_bit)) [[unlikely]]
      causal_resume(p); // back at work in its span
    return {nullptr, -1};
  };
  for (;;) {
    // Only the process touches its stack while it waits here: it may be
    // parked (runtime_options::hibernate_after; see process::park_flags).
    if (!block(p, deadline ? &*deadline : nullptr))
      return timed_out();
    drain(p);
    rescan_if_trimmed();
    if (auto r = scan(); r.first != nullptr)
      return took(r);
    if (p.timed_out)
      return timed_out();
  }
}

} // namespace otpp::detail

#endif // OTPP_DETAIL_WAIT_HPP
