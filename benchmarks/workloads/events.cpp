// events: an event manager (gen_event), three figures, one line each:
//   1. `events` notifies from one process to a manager with 1 counting
//      handler, then a sync_notify; the handler's count is checked;
//   2. the same with 10 handlers (each counts every event);
//   3. `syncs` sync_notify calls (each returns once the handler ran): the
//      latency of one.
// The manager and the notifier share scheduler 0 (as Erlang's run).
// Usage: bench_events [events=1000000] [syncs=200000]
#include <otpp/behaviour/event_manager.hpp>
#include <otpp/otpp.hpp>

#include "bench_common.hpp"

#include <utility>
#include <vector>

namespace {

struct tick {
  long n;
};
struct count_q {};

auto counter() {
  return otpp::event_handler<long>("counter")
      .on_event([](long& c, const tick&) { ++c; })
      .on_call([](long& c, count_q) { return c; });
}
using counter_ref = otpp::handler_ref<decltype(counter())>;

// Run `body(mgr, handlers)` in a process on scheduler 0 against a fresh
// manager with `handlers` counters; returns (seconds, total count).
template <class Body> std::pair<double, long> run(otpp::runtime& rt, int handlers, Body body) {
  const otpp::pid self = otpp::this_process::self();
  rt.spawn(
      [=] {
        auto mgr = otpp::start(otpp::start_options{.spawn = {.scheduler = 0}},
                               otpp::event_manager("bench"));
        std::vector<counter_ref> hs;
        for (int i = 0; i < handlers; ++i)
          hs.push_back(otpp::add_handler(mgr, counter(), 0L));
        auto t0 = bench::clock::now();
        body(mgr);
        const double s = bench::seconds_since(t0);
        long total = 0;
        for (auto& h : hs)
          total += otpp::call_handler(h, count_q{});
        otpp::stop(mgr);
        otpp::send(self, std::pair<double, long>(s, total));
      },
      {.scheduler = 0});
  return otpp::this_process::receive<std::pair<double, long>>();
}

} // namespace

int main(int argc, char** argv) {
  const long events = bench::arg(argc, argv, 1, 1000000);
  const long syncs = bench::arg(argc, argv, 2, 200000);
  otpp::runtime rt({.schedulers = bench::schedulers()});
  otpp::scoped_process main_process(rt);
  bool ok = true;

  for (int handlers : {1, 10}) {
    auto [s, n] = run(rt, handlers, [events](const auto& mgr) {
      for (long i = 0; i < events; ++i)
        otpp::notify(mgr, tick{i});
      otpp::sync_notify(mgr, tick{events});
    });
    const bool right = n == (events + 1) * handlers;
    ok &= right;
    fmt::print("events notify x{}: {} events in {:.3f} s: {:.2f}M events/s, {:.2f}M handler "
               "runs/s{}\n",
               handlers, events, s, static_cast<double>(events) / s / 1e6,
               static_cast<double>(events) * handlers / s / 1e6, right ? "" : " WRONG COUNT");
  }
  {
    auto [s, n] = run(rt, 1, [syncs](const auto& mgr) {
      for (long i = 0; i < syncs; ++i)
        otpp::sync_notify(mgr, tick{i});
    });
    const bool right = n == syncs;
    ok &= right;
    fmt::print("events sync_notify: {} in {:.3f} s: {:.2f}M/s, {:.0f} ns each{}\n", syncs, s,
               static_cast<double>(syncs) / s / 1e6, s / static_cast<double>(syncs) * 1e9,
               right ? "" : " WRONG COUNT");
  }
  return ok ? 0 : 1;
}
