// The per-thread envelope block caches (detail/block_cache.hpp) and the
// envelopes that use them.
#include <otpp/core/runtime.hpp>
#include <otpp/detail/block_cache.hpp>

#include "otpp_test.hpp"

#include <catch2/catch.hpp>

#include <unistd.h>

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <mutex>
#include <optional>
#include <set>
#include <thread>
#include <vector>

namespace OTPP_TEST_FILE {

namespace blocks = otpp::detail::blocks;
namespace tp = otpp::this_process;

namespace {

std::vector<void*> allocate_many(std::size_t size, std::size_t n) {
  std::vector<void*> out;
  out.reserve(n);
  for (std::size_t i = 0; i < n; ++i) {
    void* p = blocks::allocate(size);
    std::memset(p, static_cast<int>(i & 0xff), size); // the whole block is usable
    out.push_back(p);
  }
  return out;
}

void free_all(const std::vector<void*>& v, std::size_t size) {
  for (void* p : v)
    blocks::deallocate(p, size);
}

// The resident set of the program, in bytes (/proc/self/statm).
std::size_t resident_bytes() {
  std::ifstream statm("/proc/self/statm");
  std::size_t size = 0, resident = 0;
  statm >> size >> resident;
  return resident * static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
}

struct alignas(64) wide {
  std::array<std::uint64_t, 8> words;
};
struct big {
  std::array<std::uint64_t, 64> words; // 512 bytes: above the cached sizes
};

} // namespace

TEST_CASE("blocks of every size are distinct, usable and keep their contents", "[core][blocks]") {
  for (std::size_t size = 1; size <= blocks::max_size + 64; size += 7) {
    auto v = allocate_many(size, 600); // more than a batch and a bin hold
    std::set<void*> distinct(v.begin(), v.end());
    CHECK(distinct.size() == v.size());
    for (std::size_t i = 0; i < v.size(); ++i) {
      auto* bytes = static_cast<unsigned char*>(v[i]);
      CHECK(bytes[0] == (i & 0xff));
      CHECK(bytes[size - 1] == (i & 0xff));
    }
    free_all(v, size);
  }
}

TEST_CASE("blocks freed on one thread are reused by another, also after the freeing thread ended",
          "[core][blocks]") {
  constexpr std::size_t size = 32;
  constexpr std::size_t n = 20000;
  std::vector<void*> made;
  std::thread([&] { made = allocate_many(size, n); }).join();
  std::thread([&] { free_all(made, size); }).join(); // its cache is handed over at exit
  std::vector<void*> again;
  std::thread([&] {
    again = allocate_many(size, n);
    free_all(again, size);
  }).join();
  if constexpr (blocks::enabled) {
    std::set<void*> freed(made.begin(), made.end());
    auto reused = static_cast<std::size_t>(
        std::count_if(again.begin(), again.end(), [&](void* p) { return freed.count(p) != 0; }));
    // All of them are in the depot; the new thread takes them before it
    // carves new ones.
    CHECK(reused == n);
  }
}

namespace {
// Frees a block from a thread_local destructor that runs after the thread's
// cache was handed over (it was constructed before the cache was first used).
struct late_free {
  void* block = nullptr;
  ~late_free() {
    if (block != nullptr)
      blocks::deallocate(block, 48);
  }
};
} // namespace

TEST_CASE("a block freed while its thread ends goes to the depot", "[core][blocks]") {
  void* late = nullptr;
  std::thread([&] {
    static thread_local late_free holder;
    holder.block = blocks::allocate(48);
    late = holder.block;
    free_all(allocate_many(48, 10), 48);
  }).join();
  std::vector<void*> again;
  std::thread([&] {
    again = allocate_many(48, 1000);
    free_all(again, 48);
  }).join();
  if constexpr (blocks::enabled)
    CHECK(std::find(again.begin(), again.end(), late) != again.end());
}

TEST_CASE("over-aligned and large messages travel intact", "[core][blocks]") {
  const unsigned n = GENERATE(1u, 3u);
  OTPP_TEST_RUNTIME({.schedulers = n});
  otpp::pid me = sp.self();
  otpp::pid echo = rt.spawn([me] {
    for (int i = 0; i < 200; ++i) {
      wide w = tp::receive<wide>();
      big b = tp::receive<big>();
      otpp::send(me, w);
      otpp::send(me, b);
    }
  });
  for (std::uint64_t i = 0; i < 200; ++i) {
    wide w{};
    big b{};
    w.words.fill(i);
    b.words.fill(i * 3);
    otpp::send(echo, w);
    otpp::send(echo, b);
    CHECK(otpp_test::expect<wide>().words[7] == i);
    CHECK(otpp_test::expect<big>().words[63] == i * 3);
  }
  // The receive handler sees the envelope's own copy: it must be aligned.
  otpp::send(me, wide{});
  tp::receive([](wide& w) { CHECK(reinterpret_cast<std::uintptr_t>(&w) % alignof(wide) == 0); });
}

} // namespace OTPP_TEST_FILE

namespace OTPP_TEST_FILE {

TEST_CASE("batches all of whose blocks are free go back to the system", "[core][blocks]") {
  if constexpr (!blocks::enabled)
    return; // AddressSanitizer: every block is its own allocation, freed at once
  constexpr std::size_t size = 48;
  const std::size_t c = blocks::class_of(size);
  auto& depot = blocks::depot::instance();
  std::thread([] { free_all(allocate_many(size, 200'000), size); }).join();
  const std::size_t slabs_full = depot.slabs(c);
  CHECK(slabs_full >= 200'000 / blocks::slab_blocks(c)); // (free blocks from before are reused)
  CHECK(depot.free_blocks(c) >= 200'000 - blocks::batch);
  const std::size_t resident = resident_bytes();
  const std::size_t released = depot.release_surplus(0);
  CHECK(released >= 190'000 * size);
  // The pages leave the resident set, also where a region was given huge
  // pages (a released slab splits its huge page).
  const std::size_t after = resident_bytes();
  CHECK(after + released / 2 <= resident);
  CHECK(depot.slabs(c) + 190'000 / blocks::slab_blocks(c) <= slabs_full);
  // Allocation goes on (new batches are carved), and blocks stay intact.
  auto again = allocate_many(size, 10'000);
  CHECK(std::set<void*>(again.begin(), again.end()).size() == again.size());
  free_all(again, size);
}

TEST_CASE("the messages of a killed process's backlog go back to the system when idle",
          "[core][blocks]") {
  if constexpr (!blocks::enabled)
    return;
  OTPP_TEST_RUNTIME({.schedulers = 1});
  auto& depot = blocks::depot::instance();
  auto p = rt.spawn([] { otpp_test::wait_forever(); });
  for (int i = 0; i < 300'000; ++i)
    otpp::send(p, i);
  otpp::ref m = otpp::monitor(p);
  otpp::kill(p); // its mailbox is freed on its scheduler thread, which then goes idle
  auto d = otpp_test::expect<otpp::down>();
  CHECK(d.monitor == m);
  const auto give_up = std::chrono::steady_clock::now() + otpp_test::patience;
  while (depot.free_bytes() > blocks::high_water && std::chrono::steady_clock::now() < give_up)
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  CHECK(depot.free_bytes() <= blocks::high_water);
}

} // namespace OTPP_TEST_FILE

namespace OTPP_TEST_FILE {

TEST_CASE("blocks travel between threads intact while the depot gives slabs back",
          "[core][blocks][stress]") {
  // Four threads allocate blocks of three sizes, stamp them, and hand them
  // to each other through a shared queue; whoever takes a set checks every
  // stamp and frees it. A fifth thread meanwhile releases every slab whose
  // blocks are all back: a block still in use that lost its page would read
  // zero, one handed out twice would carry another stamp.
  constexpr int threads = 4;
  constexpr int rounds = 300;
  constexpr std::size_t sizes[] = {32, 48, 240};
  struct parcel {
    std::size_t size;
    std::vector<void*> blocks;
    std::uint64_t stamp;
  };
  std::mutex m;
  std::vector<parcel> queue;
  std::atomic<int> producing{threads};
  std::atomic<std::uint64_t> checked{0};
  std::atomic<bool> bad{false};
  auto stamp_of = [](std::uint64_t s, std::size_t i) { return s * 1'000'003u + i; };
  auto check_and_free = [&](parcel& p) {
    for (std::size_t i = 0; i < p.blocks.size(); ++i) {
      std::uint64_t v = 0;
      std::memcpy(&v, p.blocks[i], sizeof v);
      std::uint64_t w = 0;
      std::memcpy(&w, static_cast<char*>(p.blocks[i]) + p.size - sizeof w, sizeof w);
      if (v != stamp_of(p.stamp, i) || w != ~v)
        bad = true;
      blocks::deallocate(p.blocks[i], p.size);
    }
    checked.fetch_add(p.blocks.size());
  };
  std::vector<std::thread> workers;
  for (int t = 0; t < threads; ++t)
    workers.emplace_back([&, t] {
      for (int r = 0; r < rounds; ++r) {
        parcel p{sizes[static_cast<std::size_t>(r + t) % 3],
                 {},
                 std::uint64_t(t) * rounds + std::uint64_t(r)};
        const std::size_t n = 50 + static_cast<std::size_t>((r * 37 + t * 11) % 700);
        for (std::size_t i = 0; i < n; ++i) {
          void* b = blocks::allocate(p.size);
          const std::uint64_t v = stamp_of(p.stamp, i);
          const std::uint64_t w = ~v;
          std::memcpy(b, &v, sizeof v);
          std::memcpy(static_cast<char*>(b) + p.size - sizeof w, &w, sizeof w);
          p.blocks.push_back(b);
        }
        std::optional<parcel> theirs;
        {
          std::lock_guard lock(m);
          queue.push_back(std::move(p));
          if (queue.size() > 3) {
            theirs = std::move(queue.front());
            queue.erase(queue.begin());
          }
        }
        if (theirs)
          check_and_free(*theirs);
      }
      --producing;
    });
  std::thread releaser([&] {
    while (producing.load() != 0)
      blocks::depot::instance().release_surplus(0);
  });
  for (auto& w : workers)
    w.join();
  releaser.join();
  for (parcel& p : queue)
    check_and_free(p);
  CHECK_FALSE(bad.load());
  CHECK(checked.load() > std::uint64_t(threads) * rounds * 50);
}

} // namespace OTPP_TEST_FILE
