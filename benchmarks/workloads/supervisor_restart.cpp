// supervisor restarts: (1) restart latency, from a child's crash to its
// replacement answering a call; (2) restart throughput of a
// simple_one_for_one supervisor whose 10,000 children all crash at once.
// Usage: bench_supervisor_restart [latency_rounds=2000] [children=10000]
#include <otpp/otpp.hpp>

#include "bench_common.hpp"

#include <algorithm>
#include <vector>

namespace {
struct ping {};
struct started {};
auto child_def = otpp::server<int>().on_call([](int& s, ping) { return ++s; });
// A pool child tells `observer` when it has started.
auto pool_child_def = otpp::server<int>()
                          .init([](int n, otpp::pid observer) {
                            otpp::send(observer, started{});
                            return n;
                          })
                          .on_call([](int& s, ping) { return ++s; });

// The pid of the only child of `sup` once it is running and differs from `old`.
otpp::pid running_child_other_than(const otpp::pid& sup, const otpp::pid& old) {
  for (;;) {
    auto kids = otpp::which_children(sup);
    if (!kids.empty() && kids.front().pid && kids.front().pid != old)
      return kids.front().pid;
    otpp::this_process::yield();
  }
}
} // namespace

int main(int argc, char** argv) {
  const long rounds = bench::arg(argc, argv, 1, 2000);
  const long children = bench::arg(argc, argv, 2, 10000);
  otpp::set_report_handler([](const otpp::report&) {}); // no report lines in the timing
  otpp::runtime rt({.schedulers = bench::schedulers(0)});
  // Everything runs inside a process: a thread outside the runtime would add
  // an OS-level wake-up to every step.
  rt.spawn([&] {
    // (1) Latency: crash the child, wait until its replacement answers.
    auto sup = otpp::start(rt, otpp::supervisor_spec{.strategy = otpp::one_for_one,
                                                     .intensity = static_cast<int>(rounds) + 10,
                                                     .period = std::chrono::hours(1),
                                                     .children = {otpp::worker("child", [] {
                                                       return otpp::start_link(child_def, 0);
                                                     })}});
    std::vector<double> micros;
    micros.reserve(static_cast<std::size_t>(rounds));
    otpp::pid child = otpp::which_children(sup).front().pid;
    for (long i = 0; i < rounds; ++i) {
      auto t0 = bench::clock::now();
      otpp::exit(child, otpp::exit_reason::user("crash"));
      for (;;) {
        otpp::pid next = running_child_other_than(sup, child);
        if (otpp::try_call<int>(next, ping{})) {
          child = next;
          break;
        }
      }
      micros.push_back(bench::seconds_since(t0) * 1e6);
    }
    std::sort(micros.begin(), micros.end());
    auto pct = [&](double p) {
      return micros[static_cast<std::size_t>(p * static_cast<double>(micros.size() - 1))];
    };
    fmt::print("supervisor restart latency: {} crashes, median {:.1f} us, p99 {:.1f} us\n", rounds,
               pct(0.5), pct(0.99));
    otpp::stop(sup, otpp::exit_reason::shutdown());

    // (2) Throughput: all simple_one_for_one children crash at once; done
    // when every replacement has run its init.
    otpp::pid me = otpp::this_process::self();
    auto pool = otpp::start(
        rt, otpp::supervisor_spec{.strategy = otpp::simple_one_for_one,
                                  .intensity = static_cast<int>(children) * 2,
                                  .period = std::chrono::hours(1),
                                  .children = {otpp::worker("child", [](int n, otpp::pid o) {
                                    return otpp::start_link(pool_child_def, n, o);
                                  })}});
    std::vector<otpp::pid> before;
    for (long i = 0; i < children; ++i)
      before.push_back(otpp::start_child(pool, static_cast<int>(i), me).value());
    for (long i = 0; i < children; ++i)
      otpp::this_process::receive<started>();
    auto t0 = bench::clock::now();
    for (auto& p : before)
      otpp::exit(p, otpp::exit_reason::user("crash"));
    for (long i = 0; i < children; ++i)
      otpp::this_process::receive<started>();
    double s = bench::seconds_since(t0);
    auto counts = otpp::count_children(pool);
    if (static_cast<long>(counts.active) != children)
      std::abort();
    fmt::print("supervisor restart throughput: {} simple_one_for_one children restarted in "
               "{:.3f} s: {:.0f} restarts/s\n",
               children, s, static_cast<double>(children) / s);
    otpp::stop(pool, otpp::exit_reason::shutdown());
  });
  rt.run();
  otpp::set_report_handler({});
  return 0;
}
