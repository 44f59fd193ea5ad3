// Parking: an idle process's stack copied into a compact buffer and its
// pages given back, then copied back to the same addresses when it runs
// again. Members of detail::scheduler defined out of its class.
// Distributed under the Boost Software License, Version 1.0.
#pragma once

#include <otpp/detail/scheduler.hpp>

#include <sys/mman.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <iterator>

namespace otpp::detail {

// Where a suspended fiber's saved context is: the lowest live byte of its
// stack (Boost.Context's fcontext fiber is that one pointer; everything
// below it on the stack is dead while the fiber is suspended).
inline char* saved_stack_pointer(const boost::context::fiber& f) noexcept {
  static_assert(sizeof(boost::context::fiber) == sizeof(void*),
                "otpp parks a fiber's stack from its saved context pointer: Boost.Context's "
                "fcontext fiber is expected to be exactly that pointer");
  char* sp = nullptr;
  std::memcpy(&sp, static_cast<const void*>(&f), sizeof sp);
  return sp;
}

// Copies to and from a suspended stack, and the test that a parked one was
// left alone. AddressSanitizer keeps its frames' redzones poisoned while
// it is suspended: these must not be checked (nor turned into a call of
// the intercepted memcpy).
#if defined(OTPP_DETAIL_ASAN)
[[gnu::no_sanitize_address, gnu::noinline]] inline void copy_stack_bytes(char* to, const char* from,
                                                                         std::size_t n) noexcept {
  volatile char* t = to;
  for (std::size_t i = 0; i < n; ++i)
    t[i] = from[i];
}
[[gnu::no_sanitize_address, gnu::noinline]] inline bool stack_bytes_zero(const char* p,
                                                                         std::size_t n) noexcept {
  const volatile char* q = p;
  for (std::size_t i = 0; i < n; ++i)
    if (q[i] != 0)
      return false;
  return true;
}
#else
inline void copy_stack_bytes(char* to, const char* from, std::size_t n) noexcept {
  std::memcpy(to, from, n);
}
inline bool stack_bytes_zero(const char* p, std::size_t n) noexcept {
  std::uint64_t any = 0;
  std::size_t i = 0;
  for (; i + sizeof any <= n; i += sizeof any) {
    std::uint64_t w;
    std::memcpy(&w, p + i, sizeof w);
    any |= w;
  }
  for (; i < n; ++i)
    any |= static_cast<unsigned char>(p[i]);
  return any == 0;
}
#endif

[[noreturn]] inline void report_parked_write(const process& p) noexcept {
  crash_text t;
  t.add("otpp: the stack of process <0.");
  t.add(p.id);
  t.add(".0> was written while it was parked (hibernate_after, hibernate): "
        "either the process whose stack lies just above it overflowed its stack, or "
        "something wrote into memory on this process's stack while it waited (an I/O "
        "operation into a buffer on its stack, another thread through a pointer). Keep "
        "buffers that others write out of a process's stack. Aborting.\n");
  t.flush();
  std::abort();
}

// After `p` suspended in a wait that allows parking (owner thread).
[[gnu::noinline]] inline void scheduler::after_wait(process& p) {
  // Suspended `ready` (yield), or woken already: nothing to park.
  if (p.status.load(std::memory_order_relaxed) != process_status::waiting ||
      (p.park_flags & park_not_now) != 0)
    return;
  if ((p.park_flags & park_at_once) != 0) { // hibernate()
    if (park(p))
      release_parked();
    return;
  }
  if ((p.park_flags & park_when_idle) == 0)
    return;
  p.idle_epoch = park_epoch_;
  if (!p.idle_listed)
    idle_join(p);
}

// Queue `p` in the idle list of its threshold (made on first use: a few
// distinct thresholds at most in practice). Sweeps come every half of the
// smallest threshold (at least every 100 us apart); a shorter period only
// makes the epoch count of a wait undercount it, so nothing parks early.
[[gnu::noinline]] inline void scheduler::idle_join(process& p) {
  if (p.idle_list >= idle_lists_.size() || idle_lists_[p.idle_list].after != p.park_after) {
    auto it = std::find_if(idle_lists_.begin(), idle_lists_.end(),
                           [&](const idle_list& l) { return l.after == p.park_after; });
    if (it == idle_lists_.end()) {
      idle_lists_.push_back({p.park_after});
      it = std::prev(idle_lists_.end());
      const std::int64_t period = std::max<std::int64_t>(p.park_after / 2, 100'000);
      if (park_period_ == 0 || period < park_period_)
        park_period_ = period;
      if (next_sweep_ == INT64_MAX)
        next_sweep_ = 0; // the first sweep opens epoch 2
    }
    p.idle_list = static_cast<std::uint32_t>(it - idle_lists_.begin());
  }
  idle_append(p);
}

inline void scheduler::idle_append(process& p) noexcept {
  idle_list& l = idle_lists_[p.idle_list];
  p.idle_listed = true;
  p.idle_queued = park_epoch_;
  p.idle_next = nullptr;
  p.idle_prev = l.tail;
  if (l.tail != nullptr)
    l.tail->idle_next = &p;
  else
    l.head = &p;
  l.tail = &p;
  ++idle_count_;
}

inline void scheduler::idle_unlink(process& p) noexcept {
  idle_list& l = idle_lists_[p.idle_list];
  if (p.idle_prev != nullptr)
    p.idle_prev->idle_next = p.idle_next;
  else
    l.head = p.idle_next;
  if (p.idle_next != nullptr)
    p.idle_next->idle_prev = p.idle_prev;
  else
    l.tail = p.idle_prev;
  p.idle_prev = p.idle_next = nullptr;
  p.idle_listed = false;
  --idle_count_;
}

// A new sweep epoch: park every listed process that has waited in one
// receive for its threshold. Epochs are at least park_period_ long, so a
// wait stamped with epoch e has lasted at least (epoch - e - 1) periods.
// Each list is in the order its processes were queued, and an entry is
// looked at once per `gap` epochs (two, or a quarter of its threshold's
// epochs if more): a busy process costs a look every few sweeps and an
// idle one a few in all, with no work per message.
[[gnu::noinline]] inline void scheduler::sweep_idle(std::int64_t now) noexcept {
  next_sweep_ = now + park_period_;
  const std::uint32_t epoch = ++park_epoch_;
  for (idle_list& l : idle_lists_) {
    const std::int64_t epochs = l.after / park_period_;
    const auto gap = static_cast<std::uint32_t>(std::clamp<std::int64_t>(epochs / 4, 2, 1 << 20));
    while (process* p = l.head) {
      if (static_cast<std::uint32_t>(epoch - p->idle_queued) < gap)
        break;
      idle_unlink(*p);
      if (p->parked)
        continue;
      if ((p->park_flags & park_not_now) != 0 ||
          p->status.load(std::memory_order_relaxed) != process_status::waiting)
        continue; // running, ready, or in another wait: listed again at its next receive
      if (static_cast<std::int64_t>(static_cast<std::uint32_t>(epoch - p->idle_epoch - 1)) *
              park_period_ >=
          l.after)
        park(*p);
      else
        idle_append(*p);
    }
  }
  release_parked();
}

// Copy the live part of `p`'s stack (from its saved context to the top of
// its stack) into a buffer of that size and queue its pages for release.
// False (and nothing done) if there is no memory for the copy.
[[gnu::noinline]] inline bool scheduler::park(process& p) noexcept {
  char* low = const_cast<char*>(static_cast<const char*>(p.self_stack.stack_bottom));
  char* sp = saved_stack_pointer(p.ctx);
  char* top = low + p.self_stack.stack_size;
  if (low == nullptr || sp == nullptr || sp < low || sp >= top)
    return false;
  const auto n = static_cast<std::size_t>(top - sp);
  auto* copy = static_cast<char*>(std::malloc(n));
  if (copy == nullptr)
    return false;
  copy_stack_bytes(copy, sp, n);
  p.parked_copy = copy;
  p.parked = true;
  stack_pool& pool = pool_for(p.stack_size);
  pool.set_parked(low, true);
  // The whole slot: its pages from earlier, deeper use go too. Its size is
  // published (parked_bytes) once they are gone.
  park_ranges_.push_back({low, low + pool.stack_size(), &p, static_cast<std::uint32_t>(n)});
  return true;
}

// Give back the pages of the stacks parked since the last call, adjacent
// stacks (spawned one after the other) in one madvise.
[[gnu::noinline]] inline void scheduler::release_parked() noexcept {
  if (park_ranges_.empty())
    return;
  std::sort(park_ranges_.begin(), park_ranges_.end(),
            [](const parked_slot& a, const parked_slot& b) { return a.low < b.low; });
  char* low = park_ranges_.front().low;
  char* high = park_ranges_.front().high;
  for (std::size_t i = 1; i <= park_ranges_.size(); ++i) {
    if (i < park_ranges_.size() && park_ranges_[i].low == high) {
      high = park_ranges_[i].high;
      continue;
    }
    ::madvise(low, static_cast<std::size_t>(high - low), MADV_DONTNEED);
    if (i < park_ranges_.size()) {
      low = park_ranges_[i].low;
      high = park_ranges_[i].high;
    }
  }
  for (const parked_slot& s : park_ranges_)
    s.p->parked_bytes.store(s.bytes, std::memory_order_relaxed);
  park_ranges_.clear();
}

// True if no page of [from, to) is mapped: nothing read or wrote there
// since the pages were given back (one system call; reading them instead
// would take a page fault more, for the zero page, before the copy's own).
inline bool pages_untouched(const char* from, const char* to) noexcept {
  const std::uintptr_t page = page_size();
  const std::uintptr_t low = reinterpret_cast<std::uintptr_t>(from) & ~(page - 1);
  const std::uintptr_t high = reinterpret_cast<std::uintptr_t>(to);
  unsigned char in[16];
  if (high - low > sizeof in * page)
    return false;
  if (::mincore(reinterpret_cast<void*>(low), high - low, in) != 0)
    return false;
  for (std::uintptr_t i = 0; i < (high - low + page - 1) / page; ++i)
    if ((in[i] & 1u) != 0)
      return false;
  return true;
}

// Before `p` runs again: its bytes back to the same addresses (pointers
// into its stack stay valid), after checking that nothing wrote there
// meanwhile; then the canaries the release wiped.
[[gnu::noinline]] inline void scheduler::unpark(process& p) noexcept {
  char* low = const_cast<char*>(static_cast<const char*>(p.self_stack.stack_bottom));
  stack_pool& pool = pool_for(p.stack_size);
  char* slot_end = low + pool.stack_size();
  char* sp = saved_stack_pointer(p.ctx);
  const auto n = static_cast<std::size_t>(low + p.self_stack.stack_size - sp); // as parked
  if (!pages_untouched(sp, slot_end) &&
      !stack_bytes_zero(sp, static_cast<std::size_t>(slot_end - sp)))
    report_parked_write(p);
  copy_stack_bytes(sp, p.parked_copy, n);
  std::free(p.parked_copy);
  p.parked_copy = nullptr;
  p.parked_bytes.store(0, std::memory_order_relaxed);
  p.parked = false;
  pool.set_parked(low, false);
  // The canary of the stack above, if it has one, is in this slot's
  // reserved top bytes; the lowest stack of a slab has its own in its
  // lowest bytes.
  std::memcpy(slot_end - sizeof stack_canary, &stack_canary, sizeof stack_canary);
  if (p.self_stack.canary == low)
    std::memcpy(low, &stack_canary, sizeof stack_canary);
}

// A process's canary reads zero: intact if the stack below it, which
// holds it, is parked; else it was overwritten.
[[gnu::noinline]] inline void scheduler::check_canary(process& p) noexcept {
  const char* canary = static_cast<const char*>(p.self_stack.canary);
  const char* low = static_cast<const char*>(p.self_stack.stack_bottom);
  if (canary != low && !canary_clobbered(p)) {
    stack_pool& pool = pool_for(p.stack_size);
    if (pool.slot_parked(low - pool.stack_size()))
      return;
  }
  report_overflow(p, "(its stack canary was overwritten)");
}

} // namespace otpp::detail
