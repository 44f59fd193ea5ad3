// ping-pong: two processes exchange a message back and forth.
// Usage: bench_ping_pong [round_trips=1000000] [same_scheduler=1]
#include <otpp/otpp.hpp>

#include "bench_common.hpp"
#include "bench_trace.hpp"

namespace {
struct ping {
  otpp::pid from;
  long n;
};
struct pong {
  long n;
};
struct stop {};
struct done {};
} // namespace

int main(int argc, char** argv) {
  const long trips = bench::arg(argc, argv, 1, 1000000);
  const bool same = bench::arg(argc, argv, 2, 1) != 0;
  otpp::runtime rt({.schedulers = bench::schedulers(2),
                    .guard_pages = bench::guard_pages(),
                    .hibernate_after = bench::hibernate_after()});
  otpp::scoped_process main_process(rt);
  bench::trace_from_env tracing(rt); // OTPP_TRACE: see bench_trace.hpp
  otpp::pid self = main_process.self();
  otpp::pid ponger = rt.spawn(
      [] {
        bool running = true;
        while (running)
          otpp::this_process::receive([](ping& p) { otpp::send(p.from, pong{p.n}); },
                                      [&](stop) { running = false; });
      },
      {.scheduler = 0});
  auto t0 = bench::clock::now();
  rt.spawn(
      [=] {
        otpp::pid me = otpp::this_process::self();
        auto span = bench::causal_span("ping"); // OTPP_CAUSAL: see bench_trace.hpp
        for (long i = 0; i < trips; ++i) {
          otpp::send(ponger, ping{me, i});
          if (otpp::this_process::receive<pong>().n != i)
            std::abort();
        }
        otpp::send(ponger, stop{});
        otpp::send(self, done{});
      },
      {.scheduler = same ? 0u : 1u % rt.scheduler_count()});
  otpp::this_process::receive<done>();
  double s = bench::seconds_since(t0);
  fmt::print("ping-pong: {} round trips ({} scheduler) in {:.3f} s: {:.2f}M round trips/s\n", trips,
             same ? "same" : "cross", s, static_cast<double>(trips) / s / 1e6);
  return 0;
}
