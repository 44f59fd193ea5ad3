// Stress: clients on several schedulers checking workers out and in,
// giving up at their timeouts just as workers come back, dying with
// workers lent, and workers crashing; at the end the pool has all its
// workers back and no extra ones.
// Distributed under the Boost Software License, Version 1.0.
#include <otpp/behaviour/pool.hpp>
#include <otpp/behaviour/server.hpp>

#include "otpp_test.hpp"

#include <otpp/core/process.hpp>
#include <otpp/core/runtime.hpp>

#include <catch2/catch.hpp>

#include <chrono>
#include <stdexcept>

namespace OTPP_TEST_FILE {

using namespace std::chrono_literals;
namespace tp = otpp::this_process;

namespace {
#if defined(OTPP_DETAIL_TSAN) || defined(OTPP_DETAIL_ASAN)
constexpr int rounds = 4;
constexpr int clients = 30;
#else
constexpr int rounds = 12;
constexpr int clients = 100;
#endif
constexpr int checkouts = 20;

struct work {
  int n;
};
struct die {};

auto worker() {
  return otpp::server<>()
      .on_call([](std::monostate&, work w) {
        if (w.n % 4 == 0)
          tp::yield();
        return w.n;
      })
      .on_call([](std::monostate&, die) -> int { throw std::runtime_error("worker died"); });
}
} // namespace

TEST_CASE("pool stress: checkouts, timeouts, crashes and dying borrowers leave the pool whole",
          "[stress][pool]") {
  OTPP_TEST_RUNTIME({.schedulers = 2});
  otpp_test::report_guard quiet(otpp_test::quiet());
  for (int round = 0; round < rounds; ++round) {
    auto pool = otpp::start(otpp::pool({.size = 4, .max_overflow = 3, .name = "stress"},
                                       [] { return otpp::start_link(worker()); }));
    std::vector<otpp::ref> mons;
    for (int c = 0; c < clients; ++c)
      mons.push_back(otpp::spawn_monitor([pool, c] {
                       int timeouts = 0;
                       for (int k = 0; k < checkouts; ++k) {
                         try {
                           auto lease = otpp::checkout(
                               pool, std::chrono::microseconds(50 + (c * 37 + k) % 400));
                           const int n = c * checkouts + k;
                           if (n % 53 == 0) {
                             (void)otpp::try_call(lease.worker_handle(), die{});
                           } else {
                             (void)otpp::try_call(lease.worker_handle(), work{n});
                           }
                           if (n % 97 == 0 && c % 2 == 1) // die holding the worker
                             tp::exit(otpp::exit_reason::user("borrower_gone"));
                         } catch (const otpp::call_error&) {
                           ++timeouts;
                         }
                         while (tp::receive_for<otpp::pool_worker_exit>(0ms)) {
                         }
                       }
                       (void)timeouts;
                     }).monitor);
    for (auto m : mons) // every client ended (some holding a worker)
      otpp_test::down_reason(m);
    // The pool learns of the ends by its monitors: let it settle.
    const auto until = std::chrono::steady_clock::now() + otpp_test::patience;
    otpp::pool_stats st{};
    while (std::chrono::steady_clock::now() < until) {
      st = otpp::pool_status(pool);
      if (st.busy == 0 && st.waiting == 0 && st.overflow == 0 && st.free == 4)
        break;
      tp::sleep_for(2ms);
    }
    CHECK(st.free == 4);
    CHECK(st.busy == 0);
    CHECK(st.overflow == 0);
    CHECK(st.waiting == 0);
    // And every worker it hands out answers.
    std::vector<otpp::pool_lease<decltype(worker())>> all;
    for (int i = 0; i < 4; ++i)
      all.push_back(otpp::checkout(pool));
    for (auto& l : all)
      CHECK(otpp::call(l.worker_handle(), work{1}) == 1);
    all.clear();
    otpp::stop(pool);
  }
}

} // namespace OTPP_TEST_FILE
