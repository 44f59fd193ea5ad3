// parallel_map: async_stream over 10,000 items with at most 8 tasks at once.
//
// Shows:    otpp::async_stream(items, f, {.max_concurrency = 8}): each item
//           in a task of its own (a process: a crash is that item's result,
//           not the caller's), at most 8 running at any moment, results in
//           the items' order; the same unordered (as they finish); a
//           per-item timeout that kills the slow items. The bound is
//           checked with a counter of running tasks.
// OTP idea: Elixir's Task.async_stream/3 (max_concurrency, ordered,
//           timeout with on_timeout: :kill_task).
// Run:      cmake --preset dev && cmake --build --preset dev --target parallel_map
//           && ./build/dev/examples/parallel_map
// Expected output:
//   ordered: 10000 results, sum of squares 333283335000, at most 8 at once
//   (the peak printed can be lower on a busy machine; never higher)
//   failures: 3 (item 1000: {exception, std::domain_error, "unlucky 1000"})
//   unordered: 10000 results, same sum: yes
//   with a 50 ms timeout: 2 timed out (items 7 and 13), 18 done
//   ok
#include <otpp/otpp.hpp>

#include <fmt/format.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <numeric>
#include <stdexcept>
#include <vector>

using namespace std::chrono_literals;
namespace tp = otpp::this_process;

int main() {
  otpp::runtime rt;
  otpp::scoped_process main_process(rt);
  otpp::set_report_handler([](const otpp::report&) {}); // the failures are results here

  std::vector<long> items(10000);
  std::iota(items.begin(), items.end(), 0L);
  std::atomic<int> running{0};
  std::atomic<int> peak{0};
  auto square = [&](long x) {
    int now = ++running;
    int p = peak.load();
    while (now > p && !peak.compare_exchange_weak(p, now)) {
    }
    tp::yield(); // let the others run meanwhile
    --running;
    if (x != 0 && x % 1000 == 0 && x <= 3000)
      throw std::domain_error(fmt::format("unlucky {}", x));
    return x * x;
  };

  auto results = otpp::async_stream(items, square, {.max_concurrency = 8});
  long sum = 0;
  int failures = 0;
  std::string first_failure;
  for (std::size_t i = 0; i < results.size(); ++i) {
    if (results[i].ok()) {
      sum += results[i].value();
    } else {
      if (failures++ == 0)
        first_failure = fmt::format("item {}: {}", i, results[i].error());
      sum += static_cast<long>(i) * static_cast<long>(i); // what it would have been
    }
  }
  fmt::print("ordered: {} results, sum of squares {}, at most {} at once\n", results.size(), sum,
             peak.load());
  fmt::print("failures: {} ({})\n", failures, first_failure);

  auto unordered = otpp::async_stream(items, square, {.max_concurrency = 8, .ordered = false});
  long sum2 = 0;
  for (auto& r : unordered)
    if (r.ok())
      sum2 += r.value();
  sum2 += 1000L * 1000 + 2000L * 2000 + 3000L * 3000;
  fmt::print("unordered: {} results, same sum: {}\n", unordered.size(), sum2 == sum ? "yes" : "no");

  std::vector<long> few(20);
  std::iota(few.begin(), few.end(), 0L);
  auto slow = otpp::async_stream(few,
                                 [](long x) {
                                   if (x == 7 || x == 13)
                                     tp::sleep_for(10s); // killed at the timeout
                                   return x;
                                 },
                                 {.max_concurrency = 8, .timeout = 50ms});
  std::vector<std::size_t> timed_out;
  for (std::size_t i = 0; i < slow.size(); ++i)
    if (!slow[i].ok() && slow[i].error() == otpp::exit_reason::timeout())
      timed_out.push_back(i);
  const std::size_t done = slow.size() - timed_out.size();
  fmt::print("with a 50 ms timeout: {} timed out (items {} and {}), {} done\n", timed_out.size(),
             timed_out.size() > 0 ? timed_out[0] : 0, timed_out.size() > 1 ? timed_out[1] : 0,
             done);

  const bool ok = sum == 333283335000L && peak.load() <= 8 && peak.load() >= 1 && failures == 3 &&
                  sum2 == sum && timed_out == std::vector<std::size_t>{7, 13} && done == 18;
  fmt::print("{}\n", ok ? "ok" : "FAILED");
  return ok ? 0 : 1;
}
