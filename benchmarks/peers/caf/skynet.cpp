// skynet: 1,111,111 actors in a tree of fan-out 10; leaves send their number,
// each parent sums its 10 children. Expected sum 499999500000.
// CAF peer of benchmarks/workloads/skynet.cpp.
// Usage: skynet [leaves=1000000]
#include "bench_caf.hpp"

using namespace caf;

namespace {

struct skynet_state {
  std::int64_t sum = 0;
  int pending = 10;
};

behavior skynet(stateful_actor<skynet_state>* self, actor parent, std::int64_t num,
                std::int64_t size) {
  if (size == 1) {
    self->send(parent, num);
    return {}; // a leaf is done once it has sent its number
  }
  const std::int64_t child = size / 10;
  for (std::int64_t i = 0; i < 10; ++i)
    self->spawn(skynet, actor_cast<actor>(self), num + i * child, child);
  return {
      [=](std::int64_t value) {
        self->state.sum += value;
        if (--self->state.pending == 0) {
          self->send(parent, self->state.sum);
          self->quit();
        }
      },
  };
}

} // namespace

int main(int argc, char** argv) {
  const std::int64_t leaves = bench::arg(argc, argv, 1, 1000000);
  std::int64_t result = 0;
  double s = 0;
  {
    bench::config cfg;
    actor_system sys{cfg};
    scoped_actor self{sys};
    auto t0 = bench::clock::now();
    self->spawn(skynet, actor{self}, std::int64_t{0}, leaves);
    self->receive([&](std::int64_t value) { result = value; });
    s = bench::seconds_since(t0);
  }
  const std::int64_t expected = leaves * (leaves - 1) / 2;
  const std::int64_t processes = leaves + leaves / 9;
  std::printf("skynet: %lld processes, sum %lld in %.3f s (%.2fM processes/s), peak RSS %ld "
              "MiB%s\n",
              static_cast<long long>(processes), static_cast<long long>(result), s,
              static_cast<double>(processes) / s / 1e6, bench::peak_resident_bytes() >> 20,
              result == expected ? "" : " WRONG SUM");
  return result == expected ? 0 : 1;
}
