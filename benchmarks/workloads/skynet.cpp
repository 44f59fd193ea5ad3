// skynet: 1,111,111 processes in a tree of fan-out 10; leaves send their
// number, each parent sums its 10 children. Expected sum 499999500000.
// Usage: bench_skynet [leaves=1000000]   (OTPP_SCHEDULERS=n to set threads)
#include <otpp/otpp.hpp>

#include "bench_common.hpp"

#include <cstdint>

namespace {
struct sum {
  std::int64_t value;
};

void skynet(otpp::pid parent, std::int64_t num, std::int64_t size) {
  if (size == 1) {
    otpp::send(parent, sum{num});
    return;
  }
  otpp::pid self = otpp::this_process::self();
  std::int64_t child = size / 10;
  for (std::int64_t i = 0; i < 10; ++i) {
    std::int64_t n = num + i * child;
    otpp::spawn([self, n, child] { skynet(self, n, child); });
  }
  std::int64_t total = 0;
  for (int i = 0; i < 10; ++i)
    total += otpp::this_process::receive<sum>().value;
  otpp::send(parent, sum{total});
}
} // namespace

int main(int argc, char** argv) {
  const std::int64_t leaves = bench::arg(argc, argv, 1, 1000000);
  otpp::runtime rt({.schedulers = bench::schedulers(),
                    .guard_pages = bench::guard_pages(),
                    .hibernate_after = bench::hibernate_after()});
  otpp::scoped_process main_process(rt);
  otpp::pid self = main_process.self();
  auto t0 = bench::clock::now();
  rt.spawn([self, leaves] { skynet(self, 0, leaves); });
  std::int64_t result = otpp::this_process::receive<sum>().value;
  double s = bench::seconds_since(t0);
  std::int64_t expected = leaves * (leaves - 1) / 2;
  fmt::print("skynet: {} processes, sum {} in {:.3f} s ({:.2f}M processes/s), peak RSS {} MiB{}\n",
             leaves + leaves / 9, result, s, static_cast<double>(leaves + leaves / 9) / s / 1e6,
             bench::peak_resident_bytes() >> 20, result == expected ? "" : " WRONG SUM");
  return result == expected ? 0 : 1;
}
