// Stress: no timeout ends before its time (receive, sleep, send_after,
// server inactivity timeouts, call timeouts, supervisor shutdown timeouts),
// many short timeouts at once on 1 and 3 schedulers, measured against
// std::chrono::steady_clock.
// Distributed under the Boost Software License, Version 1.0.
#include <otpp/core/receive.hpp>

#include "otpp_test.hpp"

#include <otpp/behaviour/server.hpp>
#include <otpp/behaviour/supervisor.hpp>
#include <otpp/core/process.hpp>
#include <otpp/core/runtime.hpp>
#include <otpp/core/timer.hpp>

#include <catch2/catch.hpp>
#include <fmt/format.h>

#include <chrono>
#include <string>
#include <type_traits>
#include <vector>

namespace OTPP_TEST_FILE {

using namespace std::chrono_literals;
namespace tp = otpp::this_process;
using clk = std::chrono::steady_clock;

namespace {

// The timeouts tried, each by many processes at once.
const std::vector<std::chrono::milliseconds> asked = {1ms,  2ms,  3ms,   5ms,  10ms,
                                                      20ms, 50ms, 100ms, 150ms};
#if defined(OTPP_DETAIL_TSAN) || defined(OTPP_DETAIL_ASAN)
constexpr int copies = 4;
#else
constexpr int copies = 12;
#endif

struct measured {
  std::string api;
  clk::duration asked;
  clk::duration took;
};
struct never_sent {};
struct tick {};

// Run `f(timeout)` in copies x asked processes at once; each reports how
// long it took (what `f` returns, else the whole call). Returns the early
// ones as text (empty when none was early).
template <class F> std::vector<std::string> early_ones(const std::string& api, F f) {
  const otpp::pid me = tp::self();
  int n = 0;
  for (int c = 0; c < copies; ++c)
    for (auto t : asked) {
      otpp::spawn([me, api, t, f] {
        auto t0 = clk::now();
        if constexpr (std::is_void_v<decltype(f(t))>) {
          f(t);
          otpp::send(me, measured{api, t, clk::now() - t0});
        } else {
          otpp::send(me, measured{api, t, f(t)});
        }
      });
      ++n;
    }
  std::vector<std::string> early;
  for (int i = 0; i < n; ++i) {
    auto m = otpp_test::expect<measured>();
    if (m.took < m.asked)
      early.push_back(
          fmt::format("{}: {} ns asked, {} ns taken", m.api, m.asked.count(), m.took.count()));
  }
  return early;
}

using strings = std::vector<std::string>;

} // namespace

TEST_CASE("no receive, sleep or send_after timeout ends before its time", "[stress][timeout]") {
  const unsigned n = GENERATE(1u, 3u);
  OTPP_TEST_RUNTIME({.schedulers = n});
  CHECK(early_ones("receive after", [](auto t) {
          tp::receive([](never_sent) {}, otpp::after(t, [] {}));
        }) == strings{});
  CHECK(early_ones("receive_for", [](auto t) { (void)tp::receive_for<never_sent>(t); }) ==
        strings{});
  CHECK(early_ones("sleep_for", [](auto t) { tp::sleep_for(t); }) == strings{});
  CHECK(early_ones("send_after", [](auto t) {
          otpp::send_after(tp::self(), t, tick{});
          tp::receive<tick>();
        }) == strings{});
}

TEST_CASE("no server inactivity timeout or call timeout ends before its time",
          "[stress][timeout]") {
  const unsigned n = GENERATE(1u, 3u);
  OTPP_TEST_RUNTIME({.schedulers = n});
  struct arm {
    otpp::duration t;
    otpp::pid to;
  };
  struct fired {};
  // A server that, told to, waits `t` for a message and tells `to` when its
  // inactivity timeout fires; it never answers `never_sent` calls.
  auto sleepy = otpp::server<otpp::pid>()
                    .on_cast([](otpp::pid& to, arm a) {
                      to = a.to;
                      return otpp::act::timeout(a.t);
                    })
                    .on_timeout([](otpp::pid& to) { otpp::send(to, fired{}); })
                    .on_call([](otpp::pid&, otpp::call_ref<int>, never_sent) {});
  CHECK(early_ones("server timeout", [sleepy](auto t) {
          auto srv = otpp::start(sleepy, otpp::pid());
          otpp::cast(srv, arm{t, tp::self()});
          tp::receive<fired>();
          otpp::stop(srv);
        }) == strings{});
  CHECK(early_ones("call timeout", [sleepy](auto t) {
          auto srv = otpp::start(sleepy, otpp::pid());
          (void)otpp::try_call(srv, never_sent{}, t);
          otpp::stop(srv);
        }) == strings{});
}

TEST_CASE("no supervisor shutdown timeout ends before its time", "[stress][timeout]") {
  const unsigned n = GENERATE(1u, 3u);
  otpp_test::report_guard g(otpp_test::quiet());
  OTPP_TEST_RUNTIME({.schedulers = n});
  CHECK(early_ones("supervisor shutdown", [](auto t) {
          // A child that ignores its shutdown signal: terminate_child waits
          // the shutdown timeout, then kills it.
          auto child = otpp::worker("stubborn",
                                    [] {
                                      return otpp::spawn_link([] { otpp_test::wait_forever(); },
                                                              {.trap_exit = true});
                                    },
                                    {.shutdown = otpp::shutdown_policy::after(t)});
          auto sup = otpp::start(otpp::supervisor_spec{.children = {child}});
          auto t0 = clk::now();
          (void)otpp::terminate_child(sup, "stubborn");
          auto took = clk::now() - t0;
          otpp::stop(sup);
          return took; // the shutdown alone, not the start above
        }) == strings{});
}

} // namespace OTPP_TEST_FILE
