// spawn-idle: spawn N processes that each wait in receive; report the spawn
// rate (until all are waiting) and the resident bytes per waiting process.
// Usage: bench_spawn_idle [processes=1000000] [stack_size=0 (runtime default)]
#include <otpp/otpp.hpp>

#include "bench_common.hpp"

#include <atomic>

namespace {
struct wake {};
} // namespace

int main(int argc, char** argv) {
  const long n = bench::arg(argc, argv, 1, 1000000);
  otpp::runtime rt({.schedulers = bench::schedulers(),
                    .stack_size = static_cast<std::size_t>(bench::arg(argc, argv, 2, 0)),
                    .guard_pages = bench::guard_pages()});
  static std::atomic<long> waiting{0};
  long rss0 = bench::resident_bytes();
  auto t0 = bench::clock::now();
  for (long i = 0; i < n; ++i)
    rt.spawn([] {
      waiting.fetch_add(1, std::memory_order_relaxed);
      otpp::this_process::receive<wake>();
    });
  while (waiting.load() < n)
    std::this_thread::yield();
  double s = bench::seconds_since(t0);
  long rss1 = bench::resident_bytes();
  fmt::print("spawn-idle: {} waiting processes in {:.3f} s ({:.2f}M spawns/s), {:.0f} resident "
             "bytes each\n",
             n, s, static_cast<double>(n) / s / 1e6,
             static_cast<double>(rss1 - rss0) / static_cast<double>(n));
  rt.shutdown();
  return rt.run();
}
