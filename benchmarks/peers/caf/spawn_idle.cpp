// spawn-idle: spawn N actors that each wait for a message; report the spawn
// rate (until all have run their initialization and wait in their behavior)
// and the resident bytes per waiting actor.
// CAF peer of benchmarks/workloads/spawn_idle.cpp.
// Usage: spawn_idle [processes=1000000]
// (otpp's optional second argument, the stack size, has no CAF counterpart:
// event-based actors have no stacks of their own.)
#include "bench_caf.hpp"

#include <atomic>
#include <thread>
#include <vector>

using namespace caf;

namespace {

using wake_atom = atom_constant<atom("wake")>;

std::atomic<long> waiting{0};

behavior idle(event_based_actor* self) {
  waiting.fetch_add(1, std::memory_order_relaxed);
  return {
      [=](wake_atom) { self->quit(); },
  };
}

} // namespace

int main(int argc, char** argv) {
  const long n = bench::arg(argc, argv, 1, 1000000);
  bench::config cfg;
  actor_system sys{cfg};
  // An actor without any handle left is terminated, so main keeps them all
  // (8 bytes each, counted in the resident bytes like everything else).
  std::vector<actor> actors;
  actors.reserve(static_cast<std::size_t>(n));
  const long rss0 = bench::resident_bytes();
  auto t0 = bench::clock::now();
  for (long i = 0; i < n; ++i)
    actors.push_back(sys.spawn(idle));
  while (waiting.load() < n)
    std::this_thread::yield();
  const double s = bench::seconds_since(t0);
  const long rss1 = bench::resident_bytes();
  std::printf("spawn-idle: %ld waiting processes in %.3f s (%.2fM spawns/s), %.0f resident "
              "bytes each\n",
              n, s, static_cast<double>(n) / s / 1e6,
              static_cast<double>(rss1 - rss0) / static_cast<double>(n));
  std::fflush(stdout);
  for (auto& a : actors)
    anon_send(a, wake_atom::value);
  actors.clear();
  return 0;
}
