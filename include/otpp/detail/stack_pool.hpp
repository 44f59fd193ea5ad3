// A per-scheduler pool of fiber stacks carved from large mappings.
// Distributed under the Boost Software License, Version 1.0.
#pragma once

#include <otpp/detail/overflow.hpp>
#include <otpp/detail/sanitizer.hpp>

#include <boost/context/stack_context.hpp>

#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <iterator>
#include <memory>
#include <new>
#include <utility>
#include <vector>

namespace otpp::detail {

// Stacks of one size. Owned by one scheduler thread: not thread-safe.
//
// Stacks are carved from slabs of several megabytes mapped with
// MAP_NORESERVE, so a million stacks need a few thousand mappings (Linux
// allows about 65k) and only touched pages are resident. A released stack goes
// back to the free list, not to the kernel: page faults are slow here, and a
// reused stack has its top pages resident already. With guard pages each
// stack's lowest page is PROT_NONE (one extra mapping per stack), as long
// as the OS process's mapping budget lasts (guard_budget); stacks without
// one get a canary instead, checked at every switch. The canary sits in the
// top bytes of the stack below (kept free for it), the first an overflow
// runs over, and a page the neighbour's own use keeps resident: a canary at
// a stack's own lowest bytes would cost a resident page per process.
class stack_pool {
public:
  stack_pool(std::size_t stack_size, bool guard_page)
      : page_(static_cast<std::size_t>(::sysconf(_SC_PAGESIZE))),
        size_(round_up(stack_size < 16 * 1024 ? 16 * 1024 : stack_size, page_)),
        guard_(guard_page) {}
  stack_pool(const stack_pool&) = delete;
  stack_pool& operator=(const stack_pool&) = delete;
  ~stack_pool() {
    for (auto& s : slabs_) {
      ::munmap(s.base, s.bytes);
      if (s.guarded)
        guard_budget::get().give_back(s.bytes / size_);
    }
  }

  std::size_t stack_size() const noexcept { return size_; }

  // A stack; `entry` is what deallocate needs back, `guarded` whether its
  // lowest page is a guard page; if not, `canary` is where its canary is.
  // `record`: the size of the Boost.Context fiber record the stack will
  // hold at its top (0: unknown). Boost puts the record at (top - record)
  // rounded down to 256 bytes; a top just `record` bytes above such a
  // boundary leaves no dead gap above it, which a parked copy would carry.
  boost::context::stack_context allocate(std::uintptr_t& entry, bool& guarded, const void*& canary,
                                         std::size_t record = 0) {
    if (free_.empty())
      grow();
    entry = free_.back();
    free_.pop_back();
    guarded = (entry & unguarded_bit) == 0;
    const bool slab_base = (entry & slab_base_bit) != 0;
    char* low = reinterpret_cast<char*>(entry & ~(unguarded_bit | slab_base_bit));
    canary = nullptr;
    if (!guarded) {
      // Just below this stack, in the reserved top of the one below; the
      // lowest stack of a slab has no neighbour there: its own lowest bytes.
      // If the stack below is parked, its pages were given back: the write
      // would take a page again. The canary is written when it is unparked.
      char* at = slab_base ? low : low - sizeof stack_canary;
      if (slab_base || !slot_parked(low - size_))
        std::memcpy(at, &stack_canary, sizeof stack_canary);
      canary = at;
    }
    boost::context::stack_context sc;
    char* top = low + size_ - top_reserve; // the top bytes hold the next stack's canary
    if (record != 0 && record < 256)
      top = reinterpret_cast<char*>(
          ((reinterpret_cast<std::uintptr_t>(top) - record) & ~std::uintptr_t{0xff}) + record);
    sc.sp = top;
    sc.size = static_cast<std::size_t>(top - low);
    return sc;
  }

  void deallocate(boost::context::stack_context& sc, std::uintptr_t entry) noexcept {
    char* low = static_cast<char*>(sc.sp) - sc.size;
    sanitizer::unpoison(low, size_);
    free_.push_back(entry); // capacity reserved in grow(): never throws
  }

  // Parking (scheduler::park): the stack whose lowest byte is `low` is
  // parked (its pages given back; a canary in its reserved top bytes reads
  // as zero until it is unparked).
  void set_parked(const char* low, bool on) noexcept {
    std::uint64_t bit = 0;
    std::uint64_t* w = parked_word(low, bit);
    if (w == nullptr || ((*w & bit) != 0) == on)
      return;
    *w ^= bit;
    if (on)
      ++parked_count_;
    else
      --parked_count_;
  }
  bool slot_parked(const char* low) const noexcept {
    if (parked_count_ == 0)
      return false;
    std::uint64_t bit = 0;
    const std::uint64_t* w = parked_word(low, bit);
    return w != nullptr && (*w & bit) != 0;
  }

private:
  struct slab {
    char* base;
    std::size_t bytes;
    bool guarded;
    std::unique_ptr<std::uint64_t[]> parked; // a bit per stack
  };
  static bool below(const char* a, const slab& s) noexcept { return a < s.base; }
  // The word of the parked bits that holds the stack at `low`, and its bit
  // in `bit`; null if `low` is in no slab (slabs_ is sorted by address).
  std::uint64_t* parked_word(const char* low, std::uint64_t& bit) const noexcept {
    auto it = std::upper_bound(slabs_.begin(), slabs_.end(), low, below);
    if (it == slabs_.begin() || low >= std::prev(it)->base + std::prev(it)->bytes)
      return nullptr;
    const slab& s = *std::prev(it);
    const auto i = static_cast<std::size_t>(low - s.base) / size_;
    bit = std::uint64_t{1} << (i % 64);
    return &s.parked[i / 64];
  }

  static std::size_t round_up(std::size_t n, std::size_t to) { return (n + to - 1) / to * to; }

  void grow() {
    constexpr std::size_t slab_target = 16u * 1024 * 1024;
    std::size_t count = slab_target / size_;
    if (count < 4)
      count = 4;
    std::size_t bytes = count * size_;
    void* base = ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE,
                        MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_STACK, -1, 0);
    if (base == MAP_FAILED)
      throw std::bad_alloc();
    const bool guarded = guard_ && guard_budget::get().take(count);
    slab added{static_cast<char*>(base), bytes, guarded,
               std::make_unique<std::uint64_t[]>((count + 63) / 64)};
    slabs_.insert(std::upper_bound(slabs_.begin(), slabs_.end(), added.base, below),
                  std::move(added));
    total_ += count;
    free_.reserve(total_);
    char* p = static_cast<char*>(base);
    for (std::size_t i = count; i-- > 0;) {
      char* low = p + i * size_;
      if (guarded)
        ::mprotect(low, page_, PROT_NONE);
      free_.push_back(reinterpret_cast<std::uintptr_t>(low) | (guarded ? 0 : unguarded_bit) |
                      (i == 0 ? slab_base_bit : 0));
    }
  }

  // Free stacks: their low address (page-aligned), the lowest bit set for
  // one without a guard page, the next for the lowest stack of a slab.
  static constexpr std::uintptr_t unguarded_bit = 1;
  static constexpr std::uintptr_t slab_base_bit = 2;
  static constexpr std::size_t top_reserve = 64;
  std::size_t page_;
  std::size_t size_;
  bool guard_;
  std::size_t total_ = 0;
  std::vector<std::uintptr_t> free_;
  std::vector<slab> slabs_;      // sorted by base address
  std::size_t parked_count_ = 0; // parked stacks (see set_parked)
};

// The Boost.Context StackAllocator that draws from a pool.
// It records the stack's bounds for the sanitizer hooks.
struct pooled_stack {
  stack_pool* pool;
  sanitizer::fiber_info* info;
  // Set by allocate, which Boost.Context calls before it moves this
  // allocator into the fiber's record: deallocate needs no process.
  std::uintptr_t entry = 0;
  std::size_t record = 0; // the fiber record's size (see stack_pool::allocate)
  boost::context::stack_context allocate() {
    boost::context::stack_context sc = pool->allocate(entry, info->guarded, info->canary, record);
    info->stack_bottom = static_cast<char*>(sc.sp) - sc.size;
    info->stack_size = sc.size;
    return sc;
  }
  void deallocate(boost::context::stack_context& sc) noexcept { pool->deallocate(sc, entry); }
};

} // namespace otpp::detail
