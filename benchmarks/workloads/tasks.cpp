// tasks: `tasks` tasks (otpp::async_nolink) spawned and awaited by one owner,
// `batch` in flight at a time (wait_all per batch), then async_stream over
// `items` items with at most 8 at once; one line each. Each checks the sum of
// the results.
// The owner is a process on scheduler 0; the tasks go where spawn puts them.
// Usage: bench_tasks [tasks=1000000] [batch=1000] [items=100000]
#include <otpp/otpp.hpp>

#include "bench_common.hpp"

#include <numeric>
#include <vector>

int main(int argc, char** argv) {
  const long tasks = bench::arg(argc, argv, 1, 1000000);
  const long batch = bench::arg(argc, argv, 2, 1000);
  const long items = bench::arg(argc, argv, 3, 100000);
  otpp::runtime rt({.schedulers = bench::schedulers()});
  otpp::scoped_process main_process(rt);
  const otpp::pid self = otpp::this_process::self();
  // The owner is a process of the runtime (on scheduler 0), as users' are.
  rt.spawn(
      [=] {
        bool ok = true;
        { // 1. spawn and await
          long sum = 0;
          auto t0 = bench::clock::now();
          std::vector<otpp::task<long>> ts;
          ts.reserve(static_cast<std::size_t>(batch));
          for (long done = 0; done < tasks;) {
            const long n = std::min(batch, tasks - done);
            for (long i = 0; i < n; ++i)
              ts.push_back(otpp::async_nolink([v = done + i] { return v; }));
            for (auto& r : otpp::wait_all(ts))
              sum += r.value();
            ts.clear();
            done += n;
          }
          const double s = bench::seconds_since(t0);
          const bool valid = sum == tasks * (tasks - 1) / 2;
          ok &= valid;
          fmt::print(
              "tasks: {} tasks spawned and awaited ({} in flight) in {:.3f} s: {:.2f}M tasks/s, "
              "{:.0f} ns per task{}\n",
              tasks, batch, s, static_cast<double>(tasks) / s / 1e6,
              s / static_cast<double>(tasks) * 1e9, valid ? "" : " WRONG");
        }
        { // 2. async_stream
          std::vector<long> xs(static_cast<std::size_t>(items));
          std::iota(xs.begin(), xs.end(), 0L);
          auto t0 = bench::clock::now();
          auto results =
              otpp::async_stream(xs, [](long x) { return x * 2; }, {.max_concurrency = 8});
          const double s = bench::seconds_since(t0);
          long sum = 0;
          for (auto& r : results)
            sum += r.value();
          const bool valid = sum == items * (items - 1);
          ok &= valid;
          fmt::print("async_stream: {} items, at most 8 at once, in {:.3f} s: {:.2f}M items/s{}\n",
                     items, s, static_cast<double>(items) / s / 1e6, valid ? "" : " WRONG");
        }
        otpp::send(self, ok);
      },
      {.scheduler = 0});
  return otpp::this_process::receive<bool>() ? 0 : 1;
}
