// State machines under concurrent callers on three schedulers: postponed
// casts are each handled exactly once, calls are answered in order, timers
// run alongside; repeated rounds.
// Distributed under the Boost Software License, Version 1.0.
#include <otpp/behaviour/statem.hpp>

#include "otpp_test.hpp"

#include <otpp/behaviour/call.hpp>
#include <otpp/behaviour/sys.hpp>

#include <catch2/catch.hpp>

#include <chrono>
#include <variant>
#include <vector>

namespace OTPP_TEST_FILE {

using namespace std::chrono_literals;
namespace sm = otpp::sm;
namespace tp = otpp::this_process;

namespace {
struct idle {};
struct busy {};
struct job {
  int n;
};
struct toggle {
  using reply_type = long;
};
struct tick {};
struct totals {
  using reply_type = long;
};
struct counts {
  long jobs = 0;
  long toggles = 0;
  long ticks = 0;
};

auto machine() {
  using V = std::variant<idle, busy>;
  return otpp::statem<counts, idle, busy>()
      .on_init(
          [](counts&) { return sm::init_ok(idle{}, sm::generic_timeout("tick", 1ms, tick{})); })
      .postpone<busy, job>() // jobs wait while busy
      .on<idle>([](idle&, counts& c, job) { ++c.jobs; })
      .on_any_state([](V& s, counts& c, sm::call_of<toggle> q) -> sm::next<idle, busy> {
        ++c.toggles;
        if (s.index() == 0)
          return sm::next_state(busy{}, sm::reply(q, c.toggles));
        return sm::next_state(idle{}, sm::reply(q, c.toggles));
      })
      .on_any_state([](V&, counts& c, sm::timeout_of<tick>) {
        ++c.ticks;
        return sm::keep_state(sm::generic_timeout("tick", 1ms, tick{}));
      })
      .on_any_state([](V&, counts& c, sm::call_of<totals> q) { return sm::reply(q, c.jobs); });
}
struct client_done {
  bool ordered;
};
} // namespace

TEST_CASE("statem: concurrent callers and postponed casts on three schedulers",
          "[stress][statem]") {
  for (int round = 0; round < 8; ++round) {
    OTPP_TEST_RUNTIME({.schedulers = 3});
    auto m = otpp::start(otpp::start_options{.spawn = {.scheduler = 0}}, machine());
    constexpr int clients = 4;
    constexpr int jobs_each = 300;
    constexpr int toggles_each = 50;
    for (int c = 0; c < clients; ++c)
      rt.spawn(
          [m, test = tp::self()] {
            bool ordered = true;
            long last = 0;
            for (int i = 0; i < jobs_each; ++i) {
              otpp::cast(m, job{i});
              if (i % (jobs_each / toggles_each) == 0) {
                long t = otpp::call(m, toggle{});
                ordered &= t > last; // answers increase
                last = t;
              }
            }
            otpp::send(test, client_done{ordered});
          },
          {.scheduler = static_cast<unsigned>(c % 3)});
    bool ordered = true;
    for (int c = 0; c < clients; ++c)
      ordered &= otpp_test::expect<client_done>().ordered;
    CHECK(ordered);
    // Leave it idle (toggles are even in total: 4 x 50), so postponed jobs run.
    auto snap = otpp::get_state(m);
    if (snap.state.index() == 1)
      (void)otpp::call(m, toggle{});
    CHECK(otpp::call(m, totals{}) == clients * jobs_each);
    tp::sleep_for(5ms);
    CHECK(otpp::get_state(m).data.ticks > 0); // the generic timer ran alongside
    otpp::stop(m);
  }
}

} // namespace OTPP_TEST_FILE
