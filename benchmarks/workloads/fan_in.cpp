// fan-in: P producers each send M messages to one consumer.
// Usage: bench_fan_in [producers=1000] [messages=1000]
#include <otpp/otpp.hpp>

#include "bench_common.hpp"

namespace {
struct item {
  long value;
};
struct done {
  long count;
  long sum;
};
} // namespace

int main(int argc, char** argv) {
  const long producers = bench::arg(argc, argv, 1, 1000);
  const long messages = bench::arg(argc, argv, 2, 1000);
  otpp::runtime rt(
      {.schedulers = bench::schedulers(), .hibernate_after = bench::hibernate_after()});
  otpp::scoped_process main_process(rt);
  otpp::pid self = main_process.self();
  const long total = producers * messages;
  otpp::pid consumer = rt.spawn([=] {
    long sum = 0;
    for (long i = 0; i < total; ++i)
      sum += otpp::this_process::receive<item>().value;
    otpp::send(self, done{total, sum});
  });
  auto t0 = bench::clock::now();
  for (long p = 0; p < producers; ++p)
    rt.spawn([=] {
      for (long i = 0; i < messages; ++i)
        otpp::send(consumer, item{1});
    });
  done d = otpp::this_process::receive<done>();
  double s = bench::seconds_since(t0);
  fmt::print("fan-in: {} producers x {} messages in {:.3f} s: {:.2f}M messages/s{}\n", producers,
             messages, s, static_cast<double>(total) / s / 1e6,
             d.sum == total ? "" : " WRONG COUNT");
  return d.sum == total ? 0 : 1;
}
