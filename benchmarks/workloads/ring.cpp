// ring: N processes in a ring pass one token for M hops in total.
// Usage: bench_ring [processes=1000] [hops=10000000]
#include <otpp/otpp.hpp>

#include "bench_common.hpp"
#include "bench_trace.hpp"

#include <vector>

namespace {
struct token {
  long remaining;
};
struct next_is {
  otpp::pid next;
};
struct done {};
} // namespace

int main(int argc, char** argv) {
  const long n = bench::arg(argc, argv, 1, 1000);
  const long hops = bench::arg(argc, argv, 2, 10000000);
  otpp::runtime rt(
      {.schedulers = bench::schedulers(), .hibernate_after = bench::hibernate_after()});
  otpp::scoped_process main_process(rt);
  bench::trace_from_env tracing(rt); // OTPP_TRACE: see bench_trace.hpp
  otpp::pid self = main_process.self();
  // A coordinator process builds the ring and starts the token, as an
  // Erlang program would; its children start on its scheduler.
  struct started {
    bench::clock::time_point at;
  };
  rt.spawn([self, n, hops] {
    std::vector<otpp::pid> ring;
    for (long i = 0; i < n; ++i)
      ring.push_back(otpp::spawn([self] {
        otpp::pid next = otpp::this_process::receive<next_is>().next;
        for (;;) {
          token t = otpp::this_process::receive<token>();
          if (t.remaining == 0) {
            otpp::send(self, done{});
            otpp::send(next, token{-1}); // tell the ring to stop
            return;
          }
          if (t.remaining < 0) {
            otpp::send(next, t);
            return;
          }
          otpp::send(next, token{t.remaining - 1});
        }
      }));
    for (long i = 0; i < n; ++i)
      otpp::send(ring[static_cast<std::size_t>(i)],
                 next_is{ring[static_cast<std::size_t>((i + 1) % n)]});
    otpp::send(self, started{bench::clock::now()});
    otpp::send(ring[0], token{hops});
  });
  auto t0 = otpp::this_process::receive<started>().at;
  otpp::this_process::receive<done>();
  double s = bench::seconds_since(t0);
  rt.shutdown();
  fmt::print("ring: {} processes, {} hops in {:.3f} s: {:.2f}M hops/s\n", n, hops, s,
             static_cast<double>(hops) / s / 1e6);
  return 0;
}
