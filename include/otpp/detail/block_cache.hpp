// Per-thread caches of small memory blocks for envelopes.
// Distributed under the Boost Software License, Version 1.0.
#pragma once

#include <otpp/config.hpp>

#include <cstddef>
#include <cstdint>
#include <mutex>
#include <new>

namespace otpp::detail::blocks {

// Every message and signal travels in a block allocated by its sender and
// freed by its receiver, often on another thread. The general allocator pays
// for that: a malloc per message, small per-thread caches (7 blocks per size
// in glibc), a lock when a block goes back to another thread's arena, and 16
// bytes of header and rounding on a 32-byte envelope. Here blocks of one size
// class (16-byte steps up to `max_size`) are carved `batch` at a time from one
// allocation; each thread keeps up to `bin_limit` free blocks per class and
// trades the surplus with a global depot in chains of `batch` blocks, one
// lock per chain: a consumer's surplus feeds the producers on other threads.
//
// Blocks are never returned to the system, only reused (as Erlang's
// allocators keep their carriers): the memory of the largest backlog of
// small messages a program had stays with it. Page faults are expensive on
// our machines (DESIGN.md); a mailbox that grows again reuses warm blocks.
//
// Under AddressSanitizer the cache is off: every block is its own allocation,
// freed at once, so a use after free is still caught.
inline constexpr std::size_t granule = 16;
inline constexpr std::size_t max_size = 256;
inline constexpr std::size_t classes = max_size / granule;
inline constexpr std::uint32_t batch = 128;
inline constexpr std::uint32_t bin_limit = 2 * batch;

#if defined(OTPP_DETAIL_ASAN)
inline constexpr bool enabled = false;
#else
inline constexpr bool enabled = true;
#endif

struct free_block {
  free_block* next;
};

constexpr std::size_t class_of(std::size_t size) noexcept {
  return (size - 1) / granule;
}
constexpr std::size_t size_of(std::size_t c) noexcept {
  return (c + 1) * granule;
}

// The free blocks no thread holds, one list per class.
class depot {
public:
  // Takes up to `batch` blocks of class `c` (the list they form, and how
  // many), carving a new batch if there are none.
  free_block* take(std::size_t c, std::uint32_t& n) {
    {
      std::lock_guard lock(mutex_);
      free_block* head = head_[c];
      if (head != nullptr) {
        free_block* last = head;
        n = 1;
        while (n < batch && last->next != nullptr) {
          last = last->next;
          ++n;
        }
        head_[c] = last->next;
        last->next = nullptr;
        return head;
      }
    }
    n = batch;
    return carve(c);
  }
  // Keeps the list `head`..`last` of class `c`.
  void give(std::size_t c, free_block* head, free_block* last) noexcept {
    std::lock_guard lock(mutex_);
    last->next = head_[c];
    head_[c] = head;
  }

  // Never destroyed: threads may free blocks during static destruction.
  static depot& instance() noexcept {
    static depot* d = new depot;
    return *d;
  }

private:
  static free_block* carve(std::size_t c) {
    const std::size_t size = size_of(c);
    char* slab = static_cast<char*>(::operator new(size* batch));
    for (std::uint32_t i = 0; i + 1 < batch; ++i)
      reinterpret_cast<free_block*>(slab + i * size)->next =
          reinterpret_cast<free_block*>(slab + (i + 1) * size);
    reinterpret_cast<free_block*>(slab + (batch - 1) * size)->next = nullptr;
    return reinterpret_cast<free_block*>(slab);
  }

  std::mutex mutex_;
  free_block* head_[classes] = {};
};

// The calling thread's bins. Trivially destructible (no guard on access);
// the `flusher` below hands them to the depot when the thread ends.
struct bins {
  free_block* head[classes];
  std::uint32_t count[classes];
  bool registered; // the flusher exists for this thread
  bool dead;       // the thread is ending: go to the depot directly
};
inline constinit thread_local bins local{};

struct flusher {
  ~flusher() {
    local.dead = true;
    for (std::size_t c = 0; c < classes; ++c) {
      free_block* head = local.head[c];
      if (head == nullptr)
        continue;
      free_block* last = head;
      while (last->next != nullptr)
        last = last->next;
      depot::instance().give(c, head, last);
      local.head[c] = nullptr;
      local.count[c] = 0;
    }
  }
};

[[gnu::noinline]] inline void register_flusher() noexcept {
  static thread_local flusher f;
  static_cast<void>(f);
  local.registered = true;
}

// Hands the older `batch` blocks of a full bin to the depot.
[[gnu::noinline]] inline void spill(bins& b, std::size_t c) noexcept {
  free_block* keep_last = b.head[c];
  for (std::uint32_t i = 1; i < b.count[c] - batch; ++i)
    keep_last = keep_last->next;
  free_block* head = keep_last->next;
  free_block* last = head;
  while (last->next != nullptr)
    last = last->next;
  keep_last->next = nullptr;
  b.count[c] -= batch;
  depot::instance().give(c, head, last);
}

[[gnu::noinline]] inline void* refill(bins& b, std::size_t c) {
  std::uint32_t n = 0;
  free_block* head = depot::instance().take(c, n);
  if (b.dead) { // keep nothing in a thread that is ending
    if (head->next != nullptr) {
      free_block* last = head->next;
      while (last->next != nullptr)
        last = last->next;
      depot::instance().give(c, head->next, last);
    }
    return head;
  }
  if (!b.registered)
    register_flusher();
  b.head[c] = head->next;
  b.count[c] = n - 1;
  return head;
}

inline void* allocate(std::size_t size) {
  if constexpr (!enabled)
    return ::operator new(size);
  if (size > max_size)
    return ::operator new(size);
  const std::size_t c = class_of(size);
  bins& b = local;
  if (free_block* f = b.head[c]) {
    b.head[c] = f->next;
    --b.count[c];
    return f;
  }
  return refill(b, c);
}

inline void deallocate(void* p, std::size_t size) noexcept {
  if constexpr (!enabled) {
    ::operator delete(p);
    return;
  }
  if (size > max_size) {
    ::operator delete(p);
    return;
  }
  const std::size_t c = class_of(size);
  auto* f = static_cast<free_block*>(p);
  bins& b = local;
  if (b.dead) {
    f->next = nullptr;
    depot::instance().give(c, f, f);
    return;
  }
  if (!b.registered)
    register_flusher();
  f->next = b.head[c];
  b.head[c] = f;
  if (++b.count[c] > bin_limit)
    spill(b, c);
}

} // namespace otpp::detail::blocks
