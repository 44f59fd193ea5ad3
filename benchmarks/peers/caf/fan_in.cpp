// fan-in: P producers each send M messages to one consumer.
// CAF peer of benchmarks/workloads/fan_in.cpp.
// Usage: fan_in [producers=1000] [messages=1000]
#include "bench_caf.hpp"

using namespace caf;

namespace {

using done_atom = atom_constant<atom("done")>;

struct consumer_state {
  std::int64_t count = 0;
  std::int64_t sum = 0;
};

// Sums `total` items, then reports (done, count, sum) to `main`.
behavior consumer(stateful_actor<consumer_state>* self, actor main, std::int64_t total) {
  return {
      [=](std::int64_t value) {
        self->state.sum += value;
        if (++self->state.count == total) {
          self->send(main, done_atom::value, self->state.count, self->state.sum);
          self->quit();
        }
      },
  };
}

// Sends `messages` items of value 1, then terminates.
void producer(event_based_actor* self, actor consumer, std::int64_t messages) {
  for (std::int64_t i = 0; i < messages; ++i)
    self->send(consumer, std::int64_t{1});
}

} // namespace

int main(int argc, char** argv) {
  const long producers = bench::arg(argc, argv, 1, 1000);
  const long messages = bench::arg(argc, argv, 2, 1000);
  const std::int64_t total = static_cast<std::int64_t>(producers) * messages;
  std::int64_t sum = -1;
  double s = 0;
  {
    bench::config cfg;
    actor_system sys{cfg};
    scoped_actor self{sys};
    auto sink = sys.spawn(consumer, actor{self}, total);
    auto t0 = bench::clock::now();
    for (long p = 0; p < producers; ++p)
      sys.spawn(producer, sink, std::int64_t{messages});
    self->receive([&](done_atom, std::int64_t, std::int64_t value) { sum = value; });
    s = bench::seconds_since(t0);
  }
  std::printf("fan-in: %ld producers x %ld messages in %.3f s: %.2fM messages/s%s\n", producers,
              messages, s, static_cast<double>(total) / s / 1e6,
              sum == total ? "" : " WRONG COUNT");
  return sum == total ? 0 : 1;
}
