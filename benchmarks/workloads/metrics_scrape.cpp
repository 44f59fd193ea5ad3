// What a metrics scrape costs: runtime::statistics() (with and without the
// resident stack of each process) and metrics().render() with N waiting
// processes. Usage: bench_metrics_scrape [processes=100000] [rounds=5]
#include <otpp/otpp.hpp>

#include "bench_common.hpp"

#include <algorithm>
#include <vector>

namespace tp = otpp::this_process;

namespace {
struct never {};
template <class F> double median_ms(long rounds, F f) {
  std::vector<double> ms;
  for (long i = 0; i < rounds; ++i) {
    const auto t0 = bench::clock::now();
    f();
    ms.push_back(bench::seconds_since(t0) * 1000);
  }
  std::sort(ms.begin(), ms.end());
  return ms[ms.size() / 2];
}
} // namespace

int main(int argc, char** argv) {
  const long n = bench::arg(argc, argv, 1, 100000);
  const long rounds = bench::arg(argc, argv, 2, 5);
  otpp::runtime rt({.schedulers = bench::schedulers(0), .guard_pages = bench::guard_pages()});
  for (long i = 0; i < n; ++i)
    rt.spawn([] { tp::receive<never>(); });
  while (rt.statistics({.top = 0}).processes < static_cast<std::size_t>(n))
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  std::this_thread::sleep_for(std::chrono::milliseconds(200)); // all started and waiting
  const double plain = median_ms(rounds, [&] { (void)rt.statistics(); });
  const double stacks = median_ms(rounds, [&] { (void)rt.statistics({.stacks = true}); });
  std::size_t bytes = 0;
  const double render = median_ms(rounds, [&] { bytes = rt.metrics().render().size(); });
  fmt::print("metrics scrape: {} processes: statistics {:.2f} ms ({:.0f} ns/process), with stacks "
             "{:.2f} ms ({:.0f} ns/process), render {:.2f} ms ({} bytes)\n",
             n, plain, plain * 1e6 / static_cast<double>(n), stacks,
             stacks * 1e6 / static_cast<double>(n), render, bytes);
  rt.shutdown();
  return 0;
}
