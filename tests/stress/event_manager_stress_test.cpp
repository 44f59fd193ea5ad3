// Stress: notifiers on several schedulers racing handlers being added,
// deleted, swapped and crashing, and their supervisors ending.
// Distributed under the Boost Software License, Version 1.0.
#include <otpp/behaviour/event_manager.hpp>

#include "otpp_test.hpp"

#include <otpp/core/link.hpp>
#include <otpp/core/process.hpp>
#include <otpp/core/runtime.hpp>

#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <stdexcept>
#include <string>

namespace OTPP_TEST_FILE {

using namespace std::chrono_literals;
namespace tp = otpp::this_process;
using otpp::handler_action;

namespace {

#if defined(OTPP_DETAIL_TSAN) || defined(OTPP_DETAIL_ASAN)
constexpr int rounds = 6;
constexpr int events_per_notifier = 300;
#else
constexpr int rounds = 20;
constexpr int events_per_notifier = 1000;
#endif
constexpr int notifiers = 6;

struct tick {
  int from;
  int n;
};
struct poison {};
struct total_q {};
struct done {
  int from;
};
struct churned {
  int added;
  int removals_seen;
};

// Counts ticks and checks that each notifier's ticks arrive in order.
struct counter {
  long long total = 0;
  int last[notifiers] = {};
  bool ordered = true;
};
auto counting() {
  return otpp::event_handler<counter>("counter")
      .on_event([](counter& c, const tick& t) {
        ++c.total;
        if (t.n != c.last[t.from] + 1)
          c.ordered = false;
        c.last[t.from] = t.n;
      })
      .on_call([](counter& c, total_q) { return c.ordered ? c.total : -1; });
}
auto fragile() {
  return otpp::event_handler<int>("fragile")
      .on_event([](int& seen, const tick&) { ++seen; })
      .on_event([](int&, const poison&) -> handler_action { throw std::runtime_error("poisoned"); })
      .on_terminate([](int& seen, const otpp::handler_exit&) { return seen; });
}
auto successor() {
  return otpp::event_handler<int>("successor")
      .init([](int seen) { return seen; })
      .on_event([](int& seen, const tick&) { ++seen; });
}

} // namespace

TEST_CASE("event_manager stress: notifiers race handler churn, crashes and supervisor exits",
          "[stress][event_manager]") {
  OTPP_TEST_RUNTIME({.schedulers = 2});
  otpp_test::report_guard quiet(otpp_test::quiet());
  for (int round = 0; round < rounds; ++round) {
    auto mgr = otpp::start(otpp::event_manager("stress"));
    auto count = otpp::add_handler(mgr, counting());
    const otpp::pid test = tp::self();
    for (int i = 0; i < notifiers; ++i)
      otpp::spawn([mgr, i, test] {
        for (int n = 1; n <= events_per_notifier; ++n) {
          otpp::notify(mgr, tick{i, n});
          if (n % 97 == 0)
            otpp::notify(mgr, poison{});
        }
        otpp::sync_notify(mgr, tick{i, events_per_notifier + 1});
        otpp::send(test, done{i});
      });
    // A churner adds supervised handlers, swaps and deletes them, and
    // short-lived owners add handlers then die.
    otpp::spawn([mgr, test] {
      tp::trap_exit(true);
      int added = 0;
      int removals = 0;
      for (int k = 0; k < 40; ++k) {
        try {
          auto h = otpp::add_sup_handler(mgr, fragile());
          ++added;
          if (k % 2 == 0) {
            auto s = otpp::swap_sup_handler(h, successor());
            otpp::delete_handler(s);
          } else {
            otpp::delete_handler(h);
          }
        } catch (const otpp::call_error&) {
          // the poison removed it first
        }
        otpp::pid owner = otpp::spawn([mgr] {
          otpp::add_sup_handler(mgr, fragile());
          otpp::this_process::yield();
        });
        (void)owner;
        while (tp::receive_for<otpp::handler_removed>(0ms))
          ++removals;
      }
      otpp::send(test, churned{added, removals});
    });
    for (int i = 0; i < notifiers; ++i)
      otpp_test::expect<done>();
    auto c = otpp_test::expect<churned>();
    CHECK(c.added == 40);
    CHECK(otpp::call_handler(count, total_q{}) ==
          static_cast<long long>(notifiers) * (events_per_notifier + 1));
    otpp::stop(mgr);
  }
}

} // namespace OTPP_TEST_FILE
