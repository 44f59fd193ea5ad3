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
// class (16-byte steps up to `max_size`) are cut from slabs of one or two
// batches of `batch` blocks (a whole number of pages).
//
// Each thread keeps, per class, a current chain of free blocks (allocations
// pop, frees push; at most `chain_limit`) and at most one full chain set
// aside (Bonwick's magazines). A free into a full current chain sets it
// aside and hands the chain set aside before to the depot; an allocation
// from an empty one takes the chain set aside, else blocks from the depot.
// Nothing is walked on the thread's side: cutting chains by walking them
// touched cold blocks (4 % of all to all).
//
// The depot gives every block back to its slab (a descriptor in the header
// of the slab's region, found by masking the block's address). A slab with
// half its blocks back is available, and a thread that needs blocks takes
// all of one available slab's at once: what it allocates next lies on one
// or two pages, and a slab all of whose blocks came back is handed out in
// address order again. A depot that kept free blocks as a LIFO of chains
// scattered a thread's next allocations over all the memory a burst had
// used: all to all, run four times in one program on one scheduler, fell
// from 22M to 3.3M messages/s by the fourth run; with slabs its later runs
// hold 10-17M. (The depot does about 20 instructions per block given
// back, under its lock; cold first runs measured from 9 % slower to 13 %
// faster than with the LIFO, depending on the set of runs.)
//
// Free blocks are reused first (page faults are expensive on our machines,
// DESIGN.md: a mailbox that grows again reuses warm blocks); the depot keeps
// up to `high_water` bytes of them. Past that, a scheduler that has slept
// idle for `idle_release` calls release_surplus(): each slab all of whose
// blocks are back gives its pages to the system (madvise), so the memory of
// a backlog that is gone (a million unread messages of a killed process)
// does not stay with the program.
//
// Regions of `region_bytes` (aligned to their size) are mapped directly,
// not taken from malloc: a program whose mailboxes grow on two threads at
// once made glibc grow each thread's heap with an mprotect per 128 KiB,
// every one taking the address-space lock that the other thread's page
// faults wait on (7-9 % of all to all). Regions stay mapped; a released
// slab keeps its addresses and is carved again first.
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
// surplus back (a pass reads every slab's descriptor under the depot's
// lock): a scheduler that only waits for another's messages is never idle
// that long (all to all: 6 % of the run went to such passes when a
// scheduler about to sleep made one).
inline constexpr std::chrono::milliseconds idle_release{10};

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
// The most blocks a thread's current chain holds (and a chain set aside).
inline constexpr std::uint32_t chain_limit = 2 * batch;
static_assert(slab_blocks(0) <= chain_limit && slab_blocks(classes - 1) <= chain_limit);

// A slab's free blocks in the depot, kept with the slab (its descriptor is
// in the header of the region that holds it).
struct slab {
  free_block* free = nullptr;     // given back, last first
  slab* next_available = nullptr; // on its class's available stack
  std::uint32_t free_count = 0;   // blocks on `free`
};
inline constexpr std::size_t region_pages = region_bytes / page_bytes;
// At the start of each region: which slab each page belongs to (the index of
// its first page) and the slabs' descriptors, by first page.
struct region_header {
  std::uint16_t first_page[region_pages] = {};
  slab slabs[region_pages] = {};
};
static_assert(region_pages <= 65536);
inline constexpr std::size_t header_pages = (sizeof(region_header) + page_bytes - 1) / page_bytes;

// The free blocks no thread holds, each with the slab it was cut from (see
// the top of this file).
class depot {
public:
  // Takes the free blocks of one slab of class `c` (the null-terminated
  // list they form, and how many: at least half a slab), or a new slab's.
  free_block* take(std::size_t c, std::uint32_t& n) {
    slab* s = nullptr;
    free_block* list = nullptr;
    {
      std::lock_guard lock(mutex_);
      s = available_[c];
      if (s != nullptr) {
        available_[c] = s->next_available;
        n = s->free_count;
        list = s->free;
        s->free = nullptr;
        s->free_count = 0;
        count_[c] -= n;
        free_bytes_.fetch_sub(n * size_of(c), std::memory_order_relaxed);
      }
    }
    if (s == nullptr) {
      n = static_cast<std::uint32_t>(slab_blocks(c));
      return chain(c, carve(c));
    }
    // All of it came back: in address order again (nothing else holds it).
    return n == slab_blocks(c) ? chain(c, base_of(s)) : list;
  }

  // Keeps the `n` blocks of class `c` on the null-terminated list from
  // `head`, each with its slab.
  void give(std::size_t c, free_block* head, std::uint32_t n) noexcept {
    std::lock_guard lock(mutex_);
    count_[c] += n;
    free_bytes_.fetch_add(n * size_of(c), std::memory_order_relaxed);
    to_slabs(c, head);
  }

  // Bytes of free blocks the depot holds (cheap: for the idle check).
  std::size_t free_bytes() const noexcept { return free_bytes_.load(std::memory_order_relaxed); }

  // When release_due() says yes again after a pass: once the free bytes
  // have doubled, or a second later. Slabs that still have blocks in
  // flight cannot go: without this, every idle moment of a busy program
  // would look at the same slabs again.
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

  // Give the pages of every slab whose blocks are all back here to the
  // system, keeping about `keep` bytes of free blocks over all classes.
  // Looks at slab descriptors only (no block is read). Returns the bytes
  // freed.
  std::size_t release_surplus(std::size_t keep = high_water) {
    std::size_t released = 0;
    std::vector<slab*> freed;
    for (std::size_t c = 0; c < classes; ++c) {
      const std::size_t size = size_of(c);
      const std::size_t bytes = slab_bytes(c);
      const std::size_t kept = keep / classes;
      if (bytes % page_size() != 0) // the system's pages do not fit in its slabs
        continue;
      freed.clear();
      {
        std::lock_guard lock(mutex_);
        std::vector<slab*>& mine = slabs_[c];
        if (count_[c] * size <= kept)
          continue;
        freed.reserve(mine.size()); // (may throw: nothing changed yet)
        mine.erase(
            std::remove_if(mine.begin(), mine.end(),
                           [&](slab* s) {
                             if (s->free_count != slab_blocks(c) || count_[c] * size <= kept ||
                                 reinterpret_cast<std::uintptr_t>(base_of(s)) % page_size() != 0)
                               return false;
                             count_[c] -= s->free_count;
                             s->free = nullptr;
                             s->free_count = 0;
                             freed.push_back(s);
                             return true;
                           }),
            mine.end());
        if (freed.empty())
          continue;
        free_bytes_.fetch_sub(freed.size() * bytes, std::memory_order_relaxed);
        // The available stack without them (it holds every released slab:
        // a slab is on it while half its blocks or more are back).
        for (slab** link = &available_[c]; *link != nullptr;) {
          if ((*link)->free_count == 0)
            *link = (*link)->next_available;
          else
            link = &(*link)->next_available;
        }
      }
      // Out of every list, so nothing refers to their blocks; madvised
      // before carve() may hand them out again.
      for (slab* s : freed)
        ::madvise(base_of(s), bytes, MADV_DONTNEED);
      try {
        std::lock_guard lock(mutex_);
        empty_[c].insert(empty_[c].end(), freed.begin(), freed.end());
      } catch (...) { // NOLINT(bugprone-empty-catch): out of memory: their addresses are not reused
      }
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
  // Each block of the list from `head` back to its slab; a slab becomes
  // available when half its blocks are back (it leaves the stack when
  // take() empties it, so it crosses that mark once per stay). Under mutex_.
  void to_slabs(std::size_t c, free_block* head) noexcept {
    const auto threshold = static_cast<std::uint32_t>(slab_blocks(c) / 2);
    while (head != nullptr) {
      free_block* next = head->next;
      slab& s = slab_of(head);
      head->next = s.free;
      s.free = head;
      if (++s.free_count == threshold) {
        s.next_available = available_[c];
        available_[c] = &s;
      }
      head = next;
    }
  }

  static std::size_t page_size() noexcept {
    static const auto size = static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
    return size;
  }
  // A new region asks for transparent huge pages (config::
  // message_huge_pages; where the system gives them on request), so it is
  // made resident in two faults instead of a thousand. On the VM measured
  // a 4 KiB page cost 9 us to fault in and a 2 MiB one 0.2 us per 4 KiB
  // (benchmarks/README.md), and a burst of messages faulted in its
  // envelopes' pages inside the run (16-22 % of all to all's first run).
  // A slab released later (MADV_DONTNEED) splits its huge page and leaves
  // the resident set on its own. Advice the system refuses (no THP)
  // changes nothing, so its error is ignored.
  static void advise_huge_pages([[maybe_unused]] char* region) noexcept {
#ifdef MADV_HUGEPAGE
    if constexpr (config::message_huge_pages)
      static_cast<void>(::madvise(region, region_bytes, MADV_HUGEPAGE));
#endif
  }
  static region_header& header_of(const void* p) noexcept {
    return *reinterpret_cast<region_header*>(reinterpret_cast<std::uintptr_t>(p) &
                                             ~(std::uintptr_t{region_bytes} - 1));
  }
  // The page of its region that `p` lies on.
  static std::uint16_t page_of(const void* p) noexcept {
    return static_cast<std::uint16_t>(
        (reinterpret_cast<std::uintptr_t>(p) & (std::uintptr_t{region_bytes} - 1)) / page_bytes);
  }
  static slab& slab_of(const void* p) noexcept {
    region_header& h = header_of(p);
    return h.slabs[h.first_page[page_of(p)]];
  }
  static char* base_of(slab* s) noexcept {
    region_header& h = header_of(s);
    return reinterpret_cast<char*>(&h) + static_cast<std::size_t>(s - h.slabs) * page_bytes;
  }
  // The blocks of the slab at `first` as one list, in address order.
  static free_block* chain(std::size_t c, char* first) noexcept {
    const std::size_t size = size_of(c);
    const std::size_t n = slab_blocks(c);
    for (std::size_t i = 0; i + 1 < n; ++i)
      reinterpret_cast<free_block*>(first + i * size)->next =
          reinterpret_cast<free_block*>(first + (i + 1) * size);
    reinterpret_cast<free_block*>(first + (n - 1) * size)->next = nullptr;
    return reinterpret_cast<free_block*>(first);
  }

  // A slab of class `c` for the caller, all of whose blocks it takes: one
  // released before (its pages come back zeroed on first touch), else cut
  // from the current region, else from a new one.
  char* carve(std::size_t c) {
    const std::size_t bytes = slab_bytes(c);
    std::lock_guard lock(mutex_);
    std::vector<slab*>& mine = slabs_[c];
    if (mine.size() == mine.capacity()) // first: then only the mapping may throw
      mine.reserve(2 * mine.size() + 64);
    if (!empty_[c].empty()) {
      slab* s = empty_[c].back();
      empty_[c].pop_back();
      mine.push_back(s);
      return base_of(s);
    }
    if (region_left_ < bytes) {
      // Aligned to its size, so a block finds its region's header by masking.
      void* m = ::mmap(nullptr, 2 * region_bytes, PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
      if (m == MAP_FAILED)
        throw std::bad_alloc();
      auto* raw = static_cast<char*>(m);
      auto* base =
          reinterpret_cast<char*>((reinterpret_cast<std::uintptr_t>(raw) + region_bytes - 1) &
                                  ~(std::uintptr_t{region_bytes} - 1));
      if (base != raw)
        ::munmap(raw, static_cast<std::size_t>(base - raw));
      if (base + region_bytes != raw + 2 * region_bytes)
        ::munmap(base + region_bytes, static_cast<std::size_t>(raw + region_bytes - base));
      advise_huge_pages(base);
      new (base) region_header;
      region_next_ = base + header_pages * page_bytes;
      region_left_ = region_bytes - header_pages * page_bytes;
    }
    char* first = region_next_;
    region_next_ += bytes;
    region_left_ -= bytes;
    region_header& h = header_of(first);
    const std::uint16_t page = page_of(first);
    for (std::size_t i = 0; i < bytes / page_bytes; ++i)
      h.first_page[page + i] = page;
    slab* s = &h.slabs[page];
    mine.push_back(s);
    return first;
  }

  std::mutex mutex_;
  slab* available_[classes] = {};     // slabs with half their blocks back or more
  std::size_t count_[classes] = {};   // free blocks here, per class
  std::vector<slab*> slabs_[classes]; // every slab in use, per class
  std::vector<slab*> empty_[classes]; // released slabs (pages given back), per class
  char* region_next_ = nullptr;       // where the next new slab starts
  std::size_t region_left_ = 0;       // and the bytes left in its region
  std::atomic<std::size_t> free_bytes_{0};
};

// The calling thread's bins. Trivially destructible (no guard on access);
// the `flusher` below hands them to the depot when the thread ends.
struct bins {
  free_block* head[classes];    // the current chain (allocations pop, frees push)
  std::uint32_t count[classes]; // its length, at most `chain_limit`
  free_block* full[classes];    // a full chain set aside, or null
  bool registered;              // the flusher exists for this thread
  bool dead;                    // the thread is ending: go to the depot directly
};
inline constinit thread_local bins local{};

struct flusher {
  ~flusher() {
    local.dead = true;
    for (std::size_t c = 0; c < classes; ++c) {
      if (free_block* full = std::exchange(local.full[c], nullptr))
        depot::instance().give(c, full, chain_limit);
      if (free_block* head = std::exchange(local.head[c], nullptr))
        depot::instance().give(c, head, local.count[c]);
      local.count[c] = 0;
    }
  }
};

[[gnu::noinline]] inline void register_flusher() noexcept {
  static thread_local flusher f;
  static_cast<void>(f);
  local.registered = true;
}

// A block is freed into a full current chain (`chain_limit` blocks): the
// chain is set aside whole, and the chain set aside before (older) goes to
// the depot. Only a full chain moves, and only when one more block comes
// (Bonwick's magazines): a thread that frees and allocates in turn at the
// boundary does neither this nor refill() each time (ping-pong did both,
// +120 instructions per round trip, when the chain moved as it filled up).
[[gnu::noinline]] inline void spill(bins& b, std::size_t c) noexcept {
  if (b.full[c] != nullptr)
    depot::instance().give(c, b.full[c], chain_limit);
  b.full[c] = b.head[c];
  b.head[c] = nullptr;
  b.count[c] = 0;
}

// The current chain is empty: the chain set aside, else blocks from the depot.
[[gnu::noinline]] inline void* refill(bins& b, std::size_t c) {
  std::uint32_t n = chain_limit;
  free_block* head = std::exchange(b.full[c], nullptr);
  if (head == nullptr)
    head = depot::instance().take(c, n);
  if (b.dead) { // keep nothing in a thread that is ending
    if (head->next != nullptr)
      depot::instance().give(c, head->next, n - 1);
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
    depot::instance().give(c, f, 1);
    return;
  }
  if (!b.registered)
    register_flusher();
  if (b.count[c] == chain_limit) [[unlikely]]
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
