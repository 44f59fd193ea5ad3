// spawn-idle: spawn N processes that each wait in receive; report the spawn
// rate (until all are waiting) and the resident bytes per waiting process.
// With parking (OTPP_HIBERNATE_AFTER_MS > 0) it also waits until every
// process is parked and reports the resident bytes then; with `wake` (the
// default when parking) the time it takes to wake every process once (a
// message each).
// Usage: bench_spawn_idle [processes=1000000] [stack_size=0 (runtime default)]
//                         [wake=0|1]
#include <otpp/otpp.hpp>

#include "bench_common.hpp"

#include <atomic>
#include <thread>
#include <vector>

namespace {
struct wake {};
} // namespace

int main(int argc, char** argv) {
  const long n = bench::arg(argc, argv, 1, 1000000);
  const auto park_after = bench::hibernate_after();
  otpp::runtime rt({.schedulers = bench::schedulers(),
                    .stack_size = static_cast<std::size_t>(bench::arg(argc, argv, 2, 0)),
                    .guard_pages = bench::guard_pages(),
                    .hibernate_after = park_after});
  static std::atomic<long> waiting{0};
  static std::atomic<long> woken{0};
  long rss0 = bench::resident_bytes();
  const bool wake_all = bench::arg(argc, argv, 3, park_after.count() > 0 ? 1 : 0) != 0;
  std::vector<otpp::pid> pids;
  if (wake_all)
    pids.reserve(static_cast<std::size_t>(n));
  auto t0 = bench::clock::now();
  for (long i = 0; i < n; ++i) {
    otpp::pid p = rt.spawn([] {
      waiting.fetch_add(1, std::memory_order_relaxed);
      otpp::this_process::receive<wake>();
      woken.fetch_add(1, std::memory_order_relaxed);
      otpp::this_process::receive<wake>();
    });
    if (wake_all)
      pids.push_back(std::move(p));
  }
  while (waiting.load() < n)
    std::this_thread::yield();
  double s = bench::seconds_since(t0);
  long rss1 = bench::resident_bytes();
  fmt::print("spawn-idle: {} waiting processes in {:.3f} s ({:.2f}M spawns/s), {:.0f} resident "
             "bytes each\n",
             n, s, static_cast<double>(n) / s / 1e6,
             static_cast<double>(rss1 - rss0) / static_cast<double>(n));
  if (park_after.count() > 0) {
    // Every process parked (looked at from the last one spawned backwards:
    // the last to wait park last).
    auto t1 = bench::clock::now();
    for (auto it = pids.rbegin(); it != pids.rend(); ++it)
      while (otpp::info(*it).stack_parked == 0)
        std::this_thread::sleep_for(park_after);
    double settle = bench::seconds_since(t1);
    long rss2 = bench::resident_bytes();
    fmt::print("spawn-idle parked (hibernate_after {} ms): all parked {:.3f} s later, {:.0f} "
               "resident bytes each\n",
               park_after.count(), settle,
               static_cast<double>(rss2 - rss0) / static_cast<double>(n));
  }
  if (wake_all) {
    auto t2 = bench::clock::now();
    for (auto& p : pids)
      otpp::send(p, wake{});
    while (woken.load() < n)
      std::this_thread::yield();
    double w = bench::seconds_since(t2);
    fmt::print("spawn-idle wake-up: every {} process woken once in {:.3f} s ({:.2f} us each, "
               "{:.2f}M/s)\n",
               park_after.count() > 0 ? "parked" : "waiting", w, w * 1e6 / static_cast<double>(n),
               static_cast<double>(n) / w / 1e6);
  }
  rt.shutdown();
  return rt.run();
}
