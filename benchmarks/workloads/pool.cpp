// pool: worker pool round trips, two figures, one line each:
//   1. `rounds` checkout + checkin pairs by one client of a 10-worker pool
//      (a call to the pool, then a message back);
//   2. `rounds` pool_call round trips (checkout, a call to the worker,
//      checkin) shared by 10 clients on a 10-worker pool.
// Usage: bench_pool [rounds=200000]
#include <otpp/behaviour/pool.hpp>
#include <otpp/otpp.hpp>

#include "bench_common.hpp"

#include <utility>

namespace {
struct work {
  long n;
};
auto worker() {
  return otpp::server<>().on_call([](std::monostate&, work w) { return w.n; });
}
} // namespace

int main(int argc, char** argv) {
  const long rounds = bench::arg(argc, argv, 1, 200000);
  otpp::runtime rt({.schedulers = bench::schedulers()});
  otpp::scoped_process main_process(rt);
  const otpp::pid self = otpp::this_process::self();
  auto pool = otpp::start(otpp::start_options{.spawn = {.scheduler = 0}},
                          otpp::pool({.size = 10}, [] { return otpp::start_link(worker()); }));
  bool ok = true;
  rt.spawn(
      [=] {
        auto t0 = bench::clock::now();
        for (long i = 0; i < rounds; ++i) {
          auto lease = otpp::checkout(pool);
        }
        otpp::send(self, bench::seconds_since(t0));
      },
      {.scheduler = 0});
  double s = otpp::this_process::receive<double>();
  ok &= otpp::pool_status(pool).free == 10;
  fmt::print("pool checkout+checkin: {} in {:.3f} s: {:.2f}M/s, {:.0f} ns each\n", rounds, s,
             static_cast<double>(rounds) / s / 1e6, s / static_cast<double>(rounds) * 1e9);

  const int clients = 10;
  auto t0 = bench::clock::now();
  for (int c = 0; c < clients; ++c)
    rt.spawn([=] {
      long sum = 0;
      for (long i = 0; i < rounds / clients; ++i)
        sum += otpp::pool_call(pool, work{1});
      otpp::send(self, sum);
    });
  long total = 0;
  for (int c = 0; c < clients; ++c)
    total += otpp::this_process::receive<long>();
  s = bench::seconds_since(t0);
  const bool right = total == rounds / clients * clients;
  ok &= right;
  fmt::print("pool_call x{} clients: {} in {:.3f} s: {:.2f}M calls/s{}\n", clients, total, s,
             static_cast<double>(total) / s / 1e6, right ? "" : " WRONG");
  otpp::stop(pool);
  return ok ? 0 : 1;
}
