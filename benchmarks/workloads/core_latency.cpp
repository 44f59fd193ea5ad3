// core-latency: the machine's floor for a round trip between two threads,
// without otpp. Two threads hand a counter back and forth through two
// cache lines, each spinning on the other's; a round trip is two cache
// line transfers between cores (when the system puts the threads on two
// cores), and no message passing between schedulers can be cheaper. It
// puts cross-scheduler ping-pong in proportion: on a VM whose cores are
// far apart it is the bound, not the runtime.
// Usage: bench_core_latency [round_trips=2000000]
#include "bench_common.hpp"

#include <atomic>
#include <thread>

namespace {
struct alignas(64) line {
  std::atomic<long> value{0};
};
line ping, pong;
} // namespace

int main(int argc, char** argv) {
  const long n = bench::arg(argc, argv, 1, 2'000'000);
  std::thread other([n] {
    for (long i = 1; i <= n; ++i) {
      while (ping.value.load(std::memory_order_acquire) != i) {
      }
      pong.value.store(i, std::memory_order_release);
    }
  });
  const auto t0 = bench::clock::now();
  for (long i = 1; i <= n; ++i) {
    ping.value.store(i, std::memory_order_release);
    while (pong.value.load(std::memory_order_acquire) != i) {
    }
  }
  const double s = bench::seconds_since(t0);
  other.join();
  fmt::print("core-latency: {} round trips between two threads in {:.3f} s: {:.2f}M round trips/s, "
             "{:.0f} ns per round trip\n",
             n, s, static_cast<double>(n) / s / 1e6, s / static_cast<double>(n) * 1e9);
  return 0;
}
