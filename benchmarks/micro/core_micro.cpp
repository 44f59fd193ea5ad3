// Micro-benchmarks of the core primitives (Google Benchmark).
// Distributed under the Boost Software License, Version 1.0.
//
// Each iteration runs a batch of operations inside otpp processes, which
// time themselves (UseManualTime): the benchmark thread only waits.
#include <otpp/otpp.hpp>

#include <benchmark/benchmark.h>

#include <chrono>
#include <cstdint>

namespace {

using clock_type = std::chrono::steady_clock;
namespace tp = otpp::this_process;

constexpr long batch = 100000;

struct msg {
  long n;
};
struct ping {
  otpp::pid from;
  long n;
};
struct pong {
  long n;
};
struct stop {};
struct elapsed {
  double seconds;
};
struct request {
  otpp::pid from;
  otpp::ref tag;
};
struct reply {
  otpp::ref tag;
};
struct junk {};

double since(clock_type::time_point t0) {
  return std::chrono::duration<double>(clock_type::now() - t0).count();
}

// Run `body` (which returns its own measured seconds) in a process on `rt`
// and wait for the figure.
template <class F> double timed_in_process(otpp::runtime& rt, F body, unsigned sched = 0) {
  otpp::pid me = tp::self();
  rt.spawn([me, body]() mutable { otpp::send(me, elapsed{body()}); }, {.scheduler = sched});
  return tp::receive<elapsed>().seconds;
}

void BM_send_receive_self(benchmark::State& state) {
  otpp::runtime rt({.schedulers = 1});
  otpp::scoped_process sp(rt);
  for (auto _ : state)
    state.SetIterationTime(timed_in_process(rt, [] {
      otpp::pid self = tp::self();
      auto t0 = clock_type::now();
      for (long i = 0; i < batch; ++i) {
        otpp::send(self, msg{i});
        benchmark::DoNotOptimize(tp::receive<msg>().n);
      }
      return since(t0);
    }));
  state.SetItemsProcessed(state.iterations() * batch);
}
BENCHMARK(BM_send_receive_self)->UseManualTime();

// Round trips between two processes; Arg(0): same scheduler, Arg(1): across two.
void BM_round_trip(benchmark::State& state) {
  const bool cross = state.range(0) != 0;
  otpp::runtime rt({.schedulers = 2});
  otpp::scoped_process sp(rt);
  otpp::pid echo = rt.spawn(
      [] {
        for (bool running = true; running;)
          tp::receive([](ping& p) { otpp::send(p.from, pong{p.n}); },
                      [&](stop) { running = false; });
      },
      {.scheduler = 0});
  for (auto _ : state)
    state.SetIterationTime(timed_in_process(
        rt,
        [echo] {
          otpp::pid self = tp::self();
          auto t0 = clock_type::now();
          for (long i = 0; i < batch; ++i) {
            otpp::send(echo, ping{self, i});
            benchmark::DoNotOptimize(tp::receive<pong>().n);
          }
          return since(t0);
        },
        cross ? 1u : 0u));
  otpp::send(echo, stop{});
  state.SetItemsProcessed(state.iterations() * batch);
}
BENCHMARK(BM_round_trip)->Arg(0)->Arg(1)->UseManualTime();

// Spawn a process that exits at once, batch times; the parent waits for all.
void BM_spawn_exit(benchmark::State& state) {
  otpp::runtime rt({.schedulers = 1});
  otpp::scoped_process sp(rt);
  for (auto _ : state)
    state.SetIterationTime(timed_in_process(rt, [] {
      otpp::pid self = tp::self();
      auto t0 = clock_type::now();
      for (long i = 0; i < batch; ++i)
        otpp::spawn([self] { otpp::send(self, msg{1}); });
      for (long i = 0; i < batch; ++i)
        tp::receive<msg>();
      return since(t0);
    }));
  state.SetItemsProcessed(state.iterations() * batch);
}
BENCHMARK(BM_spawn_exit)->UseManualTime();

// Request/reply with state.range(0) unrelated messages queued in the
// caller; Arg 1 of the pair: 1 uses the receive mark, 0 scans from the head.
void BM_selective_receive(benchmark::State& state) {
  const long backlog = state.range(0);
  const bool use_mark = state.range(1) != 0;
  const long trips = use_mark || backlog < 10000 ? 10000 : 200;
  otpp::runtime rt({.schedulers = 1});
  otpp::scoped_process sp(rt);
  otpp::pid server = rt.spawn([] {
    for (bool running = true; running;)
      tp::receive([](request& r) { otpp::send(r.from, reply{r.tag}); },
                  [&](stop) { running = false; });
  });
  for (auto _ : state)
    state.SetIterationTime(timed_in_process(rt, [=] {
      otpp::pid self = tp::self();
      for (long i = 0; i < backlog; ++i)
        otpp::send(self, junk{});
      tp::mailbox_length(); // move the backlog into the mailbox before timing
      auto t0 = clock_type::now();
      for (long i = 0; i < trips; ++i) {
        otpp::ref tag = otpp::make_ref();
        auto is_ours = otpp::when([tag](const reply& r) { return r.tag == tag; }, [](reply&) {});
        if (use_mark) {
          auto m = tp::mark();
          otpp::send(server, request{self, tag});
          tp::receive(m, is_ours);
        } else {
          otpp::send(server, request{self, tag});
          tp::receive(is_ours);
        }
      }
      return since(t0) / static_cast<double>(trips) * static_cast<double>(batch);
    }));
  otpp::send(server, stop{});
  state.SetItemsProcessed(state.iterations() * batch);
}
BENCHMARK(BM_selective_receive)
    ->ArgsProduct({{0, 1000, 10000, 100000}, {0, 1}})
    ->ArgNames({"backlog", "mark"})
    ->UseManualTime();

} // namespace
