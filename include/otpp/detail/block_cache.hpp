// Per-thread caches of small memory blocks for envelopes.
// Distributed under the Boost Software License, Version 1.0.
#pragma once

#include <otpp/config.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <new>
#include <utility>
#include <vector>

#include <sys/mman.h>
#include <unistd.h>

namespace otpp::detail::blocks {

// Every message and signal travels in a block allocated by its sender and
// freed by its receiver, often on another thread. The general allocator pays
// for that: a malloc per message, small per-thread caches (7 blocks per size
// in glibc), a lock when a block goes back to another thread's arena, and 16
// bytes of header and rounding on a 32-byte envelope. Here blocks of one size
// class (16-byte steps up to `max_size`) are carved a slab (one or two
// batches of `batch`) at a time; each thread keeps up to 2 `batch` free blocks per class and
// trades the surplus with a global depot in whole batches (chains of `batch`
// blocks), one lock and O(1) work per batch: a consumer's surplus feeds the
// producers on other threads. A thread's blocks of a class are its current
// chain (at most `batch`) and at most one full batch set aside; a full chain
// that gets one more block becomes that batch and the older one goes to the depot. No
// chain is ever walked to be cut or joined (the blocks of the older part
// are cold: walking them was 4 % of all to all).
//
// Free blocks are reused first (page faults are expensive on our machines,
// DESIGN.md: a mailbox that grows again reuses warm blocks); the depot keeps
// up to `high_water` bytes of them. Past that, a scheduler that has slept
// idle for `idle_release` calls release_surplus(): each slab whose blocks
// are all free in the depot gives its pages back to the system, so the
// memory of a backlog that is gone (a million unread messages of a killed
// process) does not stay with the program.
//
// Slabs (one or two batches, a whole number of pages) are cut from regions
// mapped `region_bytes` at a time, not from malloc: a program whose mailboxes
// grow on two threads at once made glibc grow each thread's heap with an
// mprotect per 128 KiB, every one taking the address-space lock that the
// other thread's page faults need (10 % of all to all). Regions stay mapped;
// a released slab keeps its addresses and is carved again first.
//
// Under AddressSanitizer the cache is off: every block is its own allocation,
// freed at once, so a use after free is still caught.
inline constexpr std::size_t granule = 16;
inline constexpr std::size_t max_size = 256;
inline constexpr std::size_t classes = max_size / granule;
inline constexpr std::uint32_t batch = 128;
inline constexpr std::size_t high_water = std::size_t(4) << 20;   // bytes of free blocks kept
inline constexpr std::size_t region_bytes = std::size_t(4) << 20; // address space mapped at once
inline constexpr std::size_t page_bytes = 4096;                   // a slab is a multiple of it
// How long a scheduler sleeps with nothing to do before it gives the
// surplus back. A pass over a million free blocks takes tens of
// milliseconds; a scheduler that only waits for another's messages (all
// to all: 6 % of the run went to these passes) is never idle that long.
inline constexpr std::chrono::milliseconds idle_release{10};

#if defined(OTPP_DETAIL_ASAN)
inline constexpr bool enabled = false;
#else
inline constexpr bool enabled = true;
#endif

struct free_block {
  free_block* next;
  // In the depot, the first block of each whole batch links the batches
  // (blocks are at least `granule` = two words).
  free_block* next_batch;
};
static_assert(sizeof(free_block) <= granule);

constexpr std::size_t class_of(std::size_t size) noexcept {
  return (size - 1) / granule;
}
constexpr std::size_t size_of(std::size_t c) noexcept {
  return (c + 1) * granule;
}
// Batches per slab of class `c`: two where one is not a whole number of pages.
constexpr std::size_t slab_batches(std::size_t c) noexcept {
  return size_of(c) * batch % page_bytes == 0 ? 1 : 2;
}
constexpr std::size_t slab_blocks(std::size_t c) noexcept {
  return batch * slab_batches(c);
}
constexpr std::size_t slab_bytes(std::size_t c) noexcept {
  return size_of(c) * slab_blocks(c);
}
static_assert(slab_bytes(0) % page_bytes == 0 && slab_bytes(classes - 1) % page_bytes == 0);

// The free blocks no thread holds, one list per class.
class depot {
public:
  // Takes up to `batch` blocks of class `c` (the null-terminated list they
  // form, and how many): a whole batch if there is one, else loose blocks,
  // else a newly carved batch.
  free_block* take(std::size_t c, std::uint32_t& n) {
    {
      std::lock_guard lock(mutex_);
      if (free_block* head = batches_[c]) {
        batches_[c] = head->next_batch;
        n = batch;
        count_[c] -= batch;
        free_bytes_.fetch_sub(batch * size_of(c), std::memory_order_relaxed);
        return head;
      }
      if (free_block* head = loose_[c]) {
        free_block* last = head;
        n = 1;
        while (n < batch && last->next != nullptr) {
          last = last->next;
          ++n;
        }
        loose_[c] = last->next;
        last->next = nullptr;
        count_[c] -= n;
        free_bytes_.fetch_sub(n * size_of(c), std::memory_order_relaxed);
        return head;
      }
    }
    n = batch;
    return carve(c);
  }
  // Keeps a whole batch: the null-terminated list of `batch` blocks from `head`.
  void give_batch(std::size_t c, free_block* head) noexcept {
    std::lock_guard lock(mutex_);
    head->next_batch = batches_[c];
    batches_[c] = head;
    count_[c] += batch;
    free_bytes_.fetch_add(batch * size_of(c), std::memory_order_relaxed);
  }
  // Keeps the list `head`..`last` of `n` blocks of class `c` (any number:
  // a thread's blocks when it ends, what a release pass keeps).
  void give(std::size_t c, free_block* head, free_block* last, std::size_t n) noexcept {
    std::lock_guard lock(mutex_);
    last->next = loose_[c];
    loose_[c] = head;
    count_[c] += n;
    free_bytes_.fetch_add(n * size_of(c), std::memory_order_relaxed);
  }

  // Bytes of free blocks the depot holds (cheap: for the idle check).
  std::size_t free_bytes() const noexcept { return free_bytes_.load(std::memory_order_relaxed); }

  // When release_due() says yes again after a pass: once the free bytes
  // have doubled, or a second later. A pass sorts every free block of a
  // class, and blocks that share their batch with blocks still in flight
  // cannot go: without this, every idle moment of a busy program would sort
  // the same blocks again.
  std::atomic<std::size_t> retry_bytes{high_water};
  std::atomic<std::int64_t> retry_at{0}; // steady_clock ticks
  // Free blocks and slabs in use of class `c` (for tests).
  std::size_t free_blocks(std::size_t c) {
    std::lock_guard lock(mutex_);
    return count_[c];
  }
  std::size_t slabs(std::size_t c) {
    std::lock_guard lock(mutex_);
    return slabs_[c].size();
  }

  // Give every slab whose blocks are all free here back to the system,
  // keeping about `keep` bytes of free blocks over all classes. The lists
  // are taken out under the lock in O(1) and sorted outside it; another
  // thread meanwhile carves new batches instead. Returns the bytes freed.
  std::size_t release_surplus(std::size_t keep = high_water) {
    std::size_t released = 0;
    for (std::size_t c = 0; c < classes; ++c) {
      const std::size_t size = size_of(c);
      free_block* head = nullptr;
      free_block* batches = nullptr;
      std::size_t n = 0;
      std::vector<char*> slabs;
      {
        std::lock_guard lock(mutex_);
        if (count_[c] * size <= keep / classes || count_[c] < batch)
          continue;
        head = std::exchange(loose_[c], nullptr);
        batches = std::exchange(batches_[c], nullptr);
        n = std::exchange(count_[c], 0);
        free_bytes_.fetch_sub(n * size, std::memory_order_relaxed);
        slabs = slabs_[c];
      }
      std::vector<free_block*> all;
      all.reserve(n);
      for (free_block* f = head; f != nullptr; f = f->next)
        all.push_back(f);
      for (free_block* b = batches; b != nullptr; b = b->next_batch)
        for (free_block* f = b; f != nullptr; f = f->next)
          all.push_back(f);
      std::sort(all.begin(), all.end());
      std::sort(slabs.begin(), slabs.end());
      const std::size_t bytes = slab_bytes(c);
      const std::size_t keep_blocks = keep / classes / size;
      std::vector<char*> freed;
      free_block* kept = nullptr;
      free_block* kept_last = nullptr;
      std::size_t kept_n = 0;
      auto keep_block = [&](free_block* f) {
        f->next = kept;
        kept = f;
        if (kept_last == nullptr)
          kept_last = f;
        ++kept_n;
      };
      // Walk the sorted blocks slab by slab: a slab all of whose blocks
      // are here is freed (after the first `keep_blocks` blocks), if the
      // system's pages fit in it (4 KiB pages always do). `freed` comes out
      // sorted, for the binary search below.
      for (std::size_t i = 0; i < all.size();) {
        auto* p = reinterpret_cast<char*>(all[i]);
        auto it = std::upper_bound(slabs.begin(), slabs.end(), p);
        char* base = it == slabs.begin() ? nullptr : *(it - 1);
        std::size_t j = i;
        while (j < all.size() && base != nullptr && reinterpret_cast<char*>(all[j]) < base + bytes)
          ++j;
        if (j == i) { // not in a known slab (cannot happen): keep it
          keep_block(all[i++]);
          continue;
        }
        if (j - i == slab_blocks(c) && kept_n >= keep_blocks &&
            reinterpret_cast<std::uintptr_t>(base) % page_size() == 0 && bytes % page_size() == 0) {
          freed.push_back(base);
        } else {
          for (std::size_t k = i; k < j; ++k)
            keep_block(all[k]);
        }
        i = j;
      }
      if (kept != nullptr)
        give(c, kept, kept_last, kept_n);
      if (freed.empty())
        continue;
      for (char* s : freed)
        ::madvise(s, bytes, MADV_DONTNEED); // cannot fail on a mapped, aligned range
      std::lock_guard lock(mutex_);
      auto& mine = slabs_[c];
      mine.erase(std::remove_if(
                     mine.begin(), mine.end(),
                     [&](char* s) { return std::binary_search(freed.begin(), freed.end(), s); }),
                 mine.end());
      empty_[c].insert(empty_[c].end(), freed.begin(), freed.end()); // (may throw: lost to reuse)
      released += freed.size() * bytes;
    }
    return released;
  }

  // Never destroyed: threads may free blocks during static destruction.
  static depot& instance() noexcept {
    static depot* d = new depot;
    return *d;
  }

private:
  static std::size_t page_size() noexcept {
    static const auto size = static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
    return size;
  }

  // A new slab of class `c`: its first batch is returned, a second one
  // (if the slab holds two) goes to the depot.
  free_block* carve(std::size_t c) {
    const std::size_t size = size_of(c);
    const std::size_t bytes = slab_bytes(c);
    char* slab = nullptr;
    {
      std::lock_guard lock(mutex_);
      std::vector<char*>& mine = slabs_[c];
      if (mine.size() == mine.capacity()) // first: then only the mapping may throw
        mine.reserve(2 * mine.size() + 64);
      if (!empty_[c].empty()) {
        slab = empty_[c].back();
        empty_[c].pop_back();
      } else {
        if (region_left_ < bytes) {
          void* region = ::mmap(nullptr, region_bytes, PROT_READ | PROT_WRITE,
                                MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
          if (region == MAP_FAILED)
            throw std::bad_alloc();
          region_next_ = static_cast<char*>(region);
          region_left_ = region_bytes;
        }
        slab = region_next_;
        region_next_ += bytes;
        region_left_ -= bytes;
      }
      mine.push_back(slab);
    }
    auto chain = [size](char* first) {
      for (std::uint32_t i = 0; i + 1 < batch; ++i)
        reinterpret_cast<free_block*>(first + i * size)->next =
            reinterpret_cast<free_block*>(first + (i + 1) * size);
      reinterpret_cast<free_block*>(first + (batch - 1) * size)->next = nullptr;
      return reinterpret_cast<free_block*>(first);
    };
    if (slab_batches(c) == 2)
      give_batch(c, chain(slab + batch * size));
    return chain(slab);
  }

  std::mutex mutex_;
  free_block* batches_[classes] = {}; // whole batches, linked by next_batch
  free_block* loose_[classes] = {};   // other free blocks, one list
  std::size_t count_[classes] = {};   // free blocks of both kinds
  std::vector<char*> slabs_[classes]; // every slab in use, per class
  std::vector<char*> empty_[classes]; // released slabs (pages given back), per class
  char* region_next_ = nullptr;       // where the next new slab starts
  std::size_t region_left_ = 0;       // and the bytes left in its region
  std::atomic<std::size_t> free_bytes_{0};
};

// The calling thread's bins. Trivially destructible (no guard on access);
// the `flusher` below hands them to the depot when the thread ends.
struct bins {
  free_block* head[classes];    // the current chain (allocations pop, frees push)
  std::uint32_t count[classes]; // its length, at most `batch`
  free_block* full[classes];    // a whole batch set aside, or null
  bool registered;              // the flusher exists for this thread
  bool dead;                    // the thread is ending: go to the depot directly
};
inline constinit thread_local bins local{};

struct flusher {
  ~flusher() {
    local.dead = true;
    for (std::size_t c = 0; c < classes; ++c) {
      if (free_block* full = std::exchange(local.full[c], nullptr))
        depot::instance().give_batch(c, full);
      free_block* head = local.head[c];
      if (head == nullptr)
        continue;
      free_block* last = head;
      while (last->next != nullptr)
        last = last->next;
      depot::instance().give(c, head, last, local.count[c]);
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

// A block is freed into a full current chain (`batch` blocks): the chain is
// set aside whole, and the batch set aside before (older, colder) goes to
// the depot. Only a full chain moves, and only when one more block comes
// (Bonwick's magazines): a thread that frees and allocates in turn at the
// boundary does neither this nor refill() each time (ping-pong did both,
// +120 instructions per round trip, when the chain moved as it filled up).
[[gnu::noinline]] inline void spill(bins& b, std::size_t c) noexcept {
  if (b.full[c] != nullptr)
    depot::instance().give_batch(c, b.full[c]);
  b.full[c] = b.head[c];
  b.head[c] = nullptr;
  b.count[c] = 0;
}

// The current chain is empty: the batch set aside, else blocks from the depot.
[[gnu::noinline]] inline void* refill(bins& b, std::size_t c) {
  std::uint32_t n = batch;
  free_block* head = std::exchange(b.full[c], nullptr);
  if (head == nullptr)
    head = depot::instance().take(c, n);
  if (b.dead) { // keep nothing in a thread that is ending
    if (head->next != nullptr) {
      free_block* last = head->next;
      while (last->next != nullptr)
        last = last->next;
      depot::instance().give(c, head->next, last, n - 1);
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
    depot::instance().give(c, f, f, 1);
    return;
  }
  if (!b.registered)
    register_flusher();
  if (b.count[c] == batch) [[unlikely]]
    spill(b, c);
  f->next = b.head[c];
  b.head[c] = f;
  ++b.count[c];
}

// Whether the depot's surplus should go back to the system: past the
// high-water mark, and (after a pass) once the free bytes doubled or a
// second later. One relaxed load while under the mark.
inline bool release_due() noexcept {
  if constexpr (enabled) {
    depot& d = depot::instance();
    const std::size_t free = d.free_bytes();
    if (free <= high_water) [[likely]] {
      if (d.retry_bytes.load(std::memory_order_relaxed) != high_water)
        d.retry_bytes.store(high_water, std::memory_order_relaxed);
      return false;
    }
    return free > d.retry_bytes.load(std::memory_order_relaxed) ||
           std::chrono::steady_clock::now().time_since_epoch().count() >=
               d.retry_at.load(std::memory_order_relaxed);
  } else {
    return false;
  }
}

// Called by a scheduler that has been idle a while (see scheduler::loop)
// when release_due(): the depot's surplus goes back to the system.
inline void release_surplus_now() noexcept {
  if constexpr (enabled) {
    depot& d = depot::instance();
    try {
      d.release_surplus(high_water);
    } catch (...) { // NOLINT(bugprone-empty-catch): out of memory: keep the blocks, try later
    }
    const auto now = std::chrono::steady_clock::now().time_since_epoch();
    d.retry_bytes.store(std::max(high_water, 2 * d.free_bytes()), std::memory_order_relaxed);
    d.retry_at.store((now + std::chrono::seconds(1)).count(), std::memory_order_relaxed);
  }
}

} // namespace otpp::detail::blocks
