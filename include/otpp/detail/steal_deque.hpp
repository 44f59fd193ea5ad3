// A bounded work-stealing deque (Chase-Lev) of not-yet-started processes.
// Distributed under the Boost Software License, Version 1.0.
#pragma once

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>

namespace otpp::detail {

// One owner pushes and pops at the bottom (newest first: a spawn tree runs
// depth first); any other thread steals from the top (oldest first: the
// biggest pending subtree). After Chase and Lev (2005), with the memory
// orders of Le, Pop, Cohen and Zappa Nardelli (2013), written with
// seq_cst operations where the paper uses seq_cst fences (ThreadSanitizer
// does not model fences). Fixed capacity: a push to a full deque fails and
// the owner keeps the item somewhere else, so no array is ever replaced
// under a thief. Each item carries a stamp (when it was queued) that a
// thief reads before it commits, to take only items that waited long
// enough.
template <class T, std::size_t Capacity> class steal_deque {
  static_assert((Capacity & (Capacity - 1)) == 0, "steal_deque: capacity is a power of two");

public:
  // Owner. False if full.
  bool push(T* item, std::int64_t stamp) noexcept {
    const std::int64_t b = bottom_.load(std::memory_order_relaxed);
    const std::int64_t t = top_.load(std::memory_order_acquire);
    if (b - t >= static_cast<std::int64_t>(Capacity))
      return false;
    slot(b).store(item, std::memory_order_relaxed);
    stamps_[index(b)].store(stamp, std::memory_order_relaxed);
    // Release: a thief that sees the new bottom sees the item's fields.
    bottom_.store(b + 1, std::memory_order_release);
    return true;
  }

  // Owner: the newest item, or null.
  T* pop() noexcept {
    const std::int64_t b = bottom_.load(std::memory_order_relaxed) - 1;
    if (b < top_.load(std::memory_order_relaxed))
      return nullptr; // empty (only the owner adds, so no item can be missed)
    bottom_.store(b, std::memory_order_seq_cst);
    std::int64_t t = top_.load(std::memory_order_seq_cst);
    if (t > b) { // a thief took the last one
      bottom_.store(b + 1, std::memory_order_release);
      return nullptr;
    }
    T* item = slot(b).load(std::memory_order_relaxed);
    if (t == b) { // the last one: the owner races the thieves for it
      if (!top_.compare_exchange_strong(t, t + 1, std::memory_order_seq_cst,
                                        std::memory_order_relaxed))
        item = nullptr;
      bottom_.store(b + 1, std::memory_order_release);
    }
    return item;
  }

  // Any thread: the oldest item if its stamp is at most `stamped_by`, or
  // null (empty, too recent, or another thread won it). The stamp read
  // may be stale only if the item was taken meanwhile, and then the
  // compare-and-swap fails.
  T* steal(std::int64_t stamped_by = INT64_MAX) noexcept {
    std::int64_t t = top_.load(std::memory_order_seq_cst);
    const std::int64_t b = bottom_.load(std::memory_order_seq_cst);
    if (t >= b)
      return nullptr;
    if (stamps_[index(t)].load(std::memory_order_relaxed) > stamped_by)
      return nullptr;
    T* item = slot(t).load(std::memory_order_relaxed);
    if (!top_.compare_exchange_strong(t, t + 1, std::memory_order_seq_cst,
                                      std::memory_order_relaxed))
      return nullptr; // the owner or another thief took it first
    return item;
  }

  // Items queued (a snapshot: exact on the owner thread while no thief runs).
  std::size_t size() const noexcept {
    const std::int64_t n =
        bottom_.load(std::memory_order_relaxed) - top_.load(std::memory_order_relaxed);
    return n > 0 ? static_cast<std::size_t>(n) : 0;
  }
  // Any thread: the stamp of the oldest item, INT64_MAX if there is none
  // (a hint: it may change at once).
  std::int64_t oldest_stamp() const noexcept {
    const std::int64_t t = top_.load(std::memory_order_seq_cst);
    if (t >= bottom_.load(std::memory_order_seq_cst))
      return INT64_MAX;
    return stamps_[index(t)].load(std::memory_order_relaxed);
  }

private:
  static std::size_t index(std::int64_t i) noexcept {
    return static_cast<std::size_t>(i) & (Capacity - 1);
  }
  std::atomic<T*>& slot(std::int64_t i) noexcept { return slots_[index(i)]; }

  alignas(64) std::atomic<std::int64_t> top_{0};    // thieves' end
  alignas(64) std::atomic<std::int64_t> bottom_{0}; // owner's end
  std::array<std::atomic<T*>, Capacity> slots_{};
  std::array<std::atomic<std::int64_t>, Capacity> stamps_{};
};

} // namespace otpp::detail
