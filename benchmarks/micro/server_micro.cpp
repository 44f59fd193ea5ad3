// Micro-benchmarks of managed processes (Google Benchmark): a call round
// trip to a server on the caller's scheduler and on another one, and cast
// throughput.
// Distributed under the Boost Software License, Version 1.0.
//
// Each iteration runs a batch of operations inside an otpp process, which
// times itself (UseManualTime): the benchmark thread only waits.
#include <otpp/otpp.hpp>

#include <benchmark/benchmark.h>

#include <chrono>
#include <cstdlib>

namespace {

using clock_type = std::chrono::steady_clock;
namespace tp = otpp::this_process;

constexpr long batch = 100000;

struct increment {}; // call -> the new count
struct add {         // cast
  long n;
};
struct get_count {}; // call -> the count

auto counter() {
  return otpp::server<long>()
      .on_call([](long& n, increment) { return ++n; })
      .on_cast([](long& n, add a) { n += a.n; })
      .on_call([](const long& n, get_count) { return n; });
}
using counter_ref = otpp::server_ref<decltype(counter())>;

struct elapsed {
  double seconds;
};

double since(clock_type::time_point t0) {
  return std::chrono::duration<double>(clock_type::now() - t0).count();
}

// Run `body` (which returns its own measured seconds) in a process on
// scheduler `sched` and wait for the figure.
template <class F> double timed_in_process(otpp::runtime& rt, F body, unsigned sched) {
  otpp::pid me = tp::self();
  rt.spawn([me, body]() mutable { otpp::send(me, elapsed{body()}); }, {.scheduler = sched});
  return tp::receive<elapsed>().seconds;
}

// The counter, on scheduler 0.
counter_ref start_counter() {
  return otpp::start(otpp::start_options{.spawn = {.scheduler = 0}}, counter());
}

// otpp::call round trips (monitor, tagged reply, 5 s timeout); Arg(0): the
// caller is on the server's scheduler, Arg(1): on the other one of two.
void BM_call(benchmark::State& state) {
  const unsigned sched = state.range(0) != 0 ? 1u : 0u;
  otpp::runtime rt({.schedulers = 2});
  otpp::scoped_process sp(rt);
  const counter_ref srv = start_counter();
  for (auto _ : state)
    state.SetIterationTime(timed_in_process(
        rt,
        [srv] {
          auto t0 = clock_type::now();
          for (long i = 0; i < batch; ++i)
            benchmark::DoNotOptimize(otpp::call(srv, increment{}));
          return since(t0);
        },
        sched));
  otpp::stop(srv);
  state.SetItemsProcessed(state.iterations() * batch);
}
BENCHMARK(BM_call)->Arg(0)->Arg(1)->ArgName("cross")->UseManualTime();

// A batch of casts, then one call, whose reply means every cast was handled;
// Arg as for BM_call.
void BM_cast(benchmark::State& state) {
  const unsigned sched = state.range(0) != 0 ? 1u : 0u;
  otpp::runtime rt({.schedulers = 2});
  otpp::scoped_process sp(rt);
  const counter_ref srv = start_counter();
  for (auto _ : state)
    state.SetIterationTime(timed_in_process(
        rt,
        [srv] {
          auto t0 = clock_type::now();
          const long before = otpp::call(srv, get_count{});
          for (long i = 0; i < batch; ++i)
            otpp::cast(srv, add{1});
          const long after = otpp::call(srv, get_count{});
          if (after - before != batch)
            std::abort();
          return since(t0);
        },
        sched));
  otpp::stop(srv);
  state.SetItemsProcessed(state.iterations() * batch);
}
BENCHMARK(BM_cast)->Arg(0)->Arg(1)->ArgName("cross")->UseManualTime();

} // namespace
