// all-to-all: N processes; each sends a ping to every other and answers
// every ping it gets with a pong: 2 N (N - 1) messages, from every
// scheduler to every other.
// Usage: bench_all_to_all [processes=1000] [rounds=1]   (OTPP_SCHEDULERS=n picks the schedulers)
// With rounds > 1 the whole exchange runs again with new processes, one
// line per round: later rounds reuse the message memory of earlier ones
// (steady state), the first takes it fresh from the system.
#include <otpp/otpp.hpp>

#include "bench_common.hpp"

#include <memory>
#include <vector>

namespace {
struct peers {
  std::shared_ptr<const std::vector<otpp::pid>> all;
};
struct ping {
  otpp::pid from;
};
struct pong {};
struct done {};
} // namespace

int main(int argc, char** argv) {
  const long n = bench::arg(argc, argv, 1, 1000);
  const long rounds = bench::arg(argc, argv, 2, 1);
  otpp::runtime rt(
      {.schedulers = bench::schedulers(), .hibernate_after = bench::hibernate_after()});
  otpp::scoped_process main_process(rt);
  const otpp::pid self = main_process.self();
  for (long round = 0; round < rounds; ++round) {
    auto all = std::make_shared<std::vector<otpp::pid>>();
    all->reserve(static_cast<std::size_t>(n));
    for (long i = 0; i < n; ++i)
      all->push_back(rt.spawn([self, n] {
        namespace tp = otpp::this_process;
        const peers p = tp::receive<peers>();
        const otpp::pid me = tp::self();
        for (const otpp::pid& other : *p.all)
          if (other != me)
            otpp::send(other, ping{me});
        long pings = 0, pongs = 0;
        while (pings < n - 1 || pongs < n - 1)
          tp::receive(
              [&](const ping& m) {
                otpp::send(m.from, pong{});
                ++pings;
              },
              [&](pong) { ++pongs; });
        otpp::send(self, done{});
      }));
    const auto t0 = bench::clock::now();
    const peers list{std::move(all)};
    for (const otpp::pid& p : *list.all)
      otpp::send(p, list);
    for (long i = 0; i < n; ++i)
      otpp::this_process::receive<done>();
    const double s = bench::seconds_since(t0);
    const double messages = 2.0 * static_cast<double>(n) * static_cast<double>(n - 1);
    fmt::print("all-to-all: {} processes, {:.0f} messages in {:.3f} s: {:.2f}M messages/s\n", n,
               messages, s, messages / s / 1e6);
  }
  return 0;
}
