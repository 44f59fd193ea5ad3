// Stress: tracers replaced and trace flags flipped from another thread while
// processes on several schedulers exchange messages, spawn, link and end.
// Distributed under the Boost Software License, Version 1.0.
#include <otpp/core/trace.hpp>

#include "otpp_test.hpp"

#include <otpp/core/link.hpp>
#include <otpp/core/monitor.hpp>
#include <otpp/core/process.hpp>
#include <otpp/core/runtime.hpp>

#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <set>
#include <thread>
#include <vector>

namespace OTPP_TEST_FILE {

using namespace std::chrono_literals;
namespace tp = otpp::this_process;
using otpp::trace_flags;
using otpp::trace_kind;

namespace {

#if defined(OTPP_DETAIL_TSAN) || defined(OTPP_DETAIL_ASAN)
constexpr int rounds = 4;
constexpr int exchanges = 300;
#else
constexpr int rounds = 15;
constexpr int exchanges = 2000;
#endif
constexpr int pairs = 8;

struct ball {
  int n;
};
struct done {
  int pair;
};

// Counts events by kind; holds no pid, so it may die on any thread.
struct counting_tracer final : otpp::tracer {
  explicit counting_tracer(std::atomic<std::uint64_t>* total) : total_(total) {}
  void on_event(const otpp::trace_event& ev) override {
    if (!ev.subject || static_cast<int>(ev.kind) > static_cast<int>(trace_kind::annotation))
      bad.store(true);
    counts[static_cast<int>(ev.kind)].fetch_add(1, std::memory_order_relaxed);
    total_->fetch_add(1, std::memory_order_relaxed);
  }
  std::atomic<std::uint64_t> counts[16]{};
  std::atomic<bool> bad{false};
  std::atomic<std::uint64_t>* total_;
};

// Pair `i`: `a` throws `exchanges` balls at `b`, which throws each back; each
// ball also spawns a short-lived linked and monitored helper now and then.
void run_pairs(const otpp::pid& test) {
  for (int i = 0; i < pairs; ++i) {
    otpp::pid b = otpp::spawn([] {
      for (;;) {
        auto m = tp::receive<std::pair<otpp::pid, ball>>();
        otpp::send(m.first, ball{m.second.n + 1});
      }
    });
    otpp::spawn([test, b, i] {
      tp::trap_exit(true);
      const otpp::pid me = tp::self();
      for (int k = 0; k < exchanges; ++k) {
        otpp::send(b, std::pair<otpp::pid, ball>{me, ball{k}});
        if (tp::receive<ball>().n != k + 1)
          return;
        if (k % 64 == 0) {
          otpp::pid h = otpp::spawn_link([] {});
          otpp::ref m = otpp::monitor(h);
          tp::receive(
              otpp::when([m](const otpp::down& d) { return d.monitor == m; }, [](otpp::down&) {}));
          tp::receive<otpp::exit_message>();
        }
      }
      otpp::kill(b);
      otpp::send(test, done{i});
    });
  }
}

} // namespace

TEST_CASE("stress: tracers replaced and flags flipped while processes on several schedulers "
          "message, spawn, link and end lose no message",
          "[stress][trace]") {
  OTPP_TEST_RUNTIME({.schedulers = 3});
  std::atomic<std::uint64_t> total{0};
  for (int round = 0; round < rounds; ++round) {
    std::atomic<bool> stop{false};
    // Another thread churns: tracer on, off, replaced; flags on, off.
    std::thread churn([&] {
      unsigned k = 0;
      while (!stop.load()) {
        switch (k++ % 4) {
        case 0:
          rt.set_tracer(std::make_shared<counting_tracer>(&total));
          break;
        case 1:
          rt.trace_all(trace_flags::all | trace_flags::set_on_spawn);
          break;
        case 2:
          rt.trace_all(trace_flags::receive | trace_flags::monitors, false);
          break;
        default:
          if (k % 8 == 3)
            rt.set_tracer(nullptr);
          else
            rt.trace_all(trace_flags::all, false);
          break;
        }
        std::this_thread::yield();
      }
    });
    run_pairs(tp::self());
    std::set<int> finished;
    for (int i = 0; i < pairs; ++i)
      finished.insert(otpp_test::expect<done>().pair);
    stop.store(true);
    churn.join();
    CHECK(finished.size() == static_cast<std::size_t>(pairs));
  }
  rt.trace_all(trace_flags::all, false);
  rt.set_tracer(nullptr);
  CHECK(total.load() > 0);

  // Then a steady run, traced from the start: exact counts.
  auto steady = std::make_shared<counting_tracer>(&total);
  rt.set_tracer(steady);
  rt.trace_new_processes(trace_flags::send | trace_flags::receive);
  run_pairs(tp::self());
  for (int i = 0; i < pairs; ++i)
    otpp_test::expect<done>();
  rt.trace_new_processes(trace_flags::none);
  rt.set_tracer(nullptr);
  CHECK_FALSE(steady->bad.load());
  // Each pair: the balls both ways, and the done.
  const auto sends = steady->counts[static_cast<int>(trace_kind::send)].load();
  CHECK(sends == static_cast<std::uint64_t>(pairs) * (2 * exchanges + 1));
  // Received: the balls both ways, and a's helpers' downs and exit messages.
  const auto helpers = static_cast<std::uint64_t>((exchanges + 63) / 64);
  const auto receives = steady->counts[static_cast<int>(trace_kind::receive)].load();
  CHECK(receives == static_cast<std::uint64_t>(pairs) * (2 * exchanges + 2 * helpers));
  CHECK(steady->counts[static_cast<int>(trace_kind::exit)].load() == 0); // procs not on
}

} // namespace OTPP_TEST_FILE
