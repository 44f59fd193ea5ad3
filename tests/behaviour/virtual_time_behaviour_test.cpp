// Behaviours in virtual time (runtime_options::virtual_time): their
// timeouts follow the runtime's clock, so tests of minutes run at once and
// land on exact instants.
#include <otpp/behaviour/statem.hpp>

#include "otpp_test.hpp"
#include "supervisor_probe.hpp"

#include <otpp/behaviour/call.hpp>
#include <otpp/behaviour/server.hpp>
#include <otpp/behaviour/supervisor.hpp>
#include <otpp/core/clock.hpp>
#include <otpp/core/monitor.hpp>
#include <otpp/testing.hpp>

#include <catch2/catch.hpp>

#include <chrono>
#include <stdexcept>
#include <string>

namespace OTPP_TEST_FILE {

using namespace std::chrono_literals;
namespace tp = otpp::this_process;
namespace sm = otpp::sm;
using otpp::exit_reason;
using otpp::runtime_clock;
using otpp_test::report_guard;

namespace {

constexpr auto forever = std::chrono::hours(24 * 365);

template <class T> T take() {
  return otpp::testing::expect_message<T>(forever);
}

// A server whose `slow` calls answer after a virtual hour.
struct slow {};
auto napping_server() {
  return otpp::server<>().on_call([](std::monostate&, slow) {
    tp::sleep_for(1h);
    return std::string("done");
  });
}

// A door that, once opened, locks itself after five minutes.
struct locked {};
struct opened {};
struct push {};
struct lock_now {};
struct door_data {
  otpp::pid observer;
  runtime_clock::time_point t0;
};
struct event {
  std::string what;
  runtime_clock::duration at;
};
auto door() {
  return otpp::statem<door_data, locked, opened>()
      .on<locked>(
          [](locked&, door_data&, push) -> sm::next<opened> { return sm::next_state(opened{}); })
      .on<opened>([](opened&, door_data& d, sm::timeout_of<lock_now>) -> sm::next<locked> {
        otpp::send(d.observer, event{"locked", runtime_clock::now() - d.t0});
        return sm::next_state(locked{});
      })
      .on<opened>([](opened&, door_data&, push) { return sm::keep_state(); })
      .on_enter<opened>([](opened&, door_data& d, const auto&) {
        otpp::send(d.observer, event{"opened", runtime_clock::now() - d.t0});
        return sm::state_timeout(5min, lock_now{});
      });
}

// A supervised worker that crashes `every` (virtual) after it starts, and
// says when it started.
struct started {
  runtime_clock::duration at;
};
otpp::child_spec crasher(otpp::pid test, runtime_clock::time_point t0,
                         runtime_clock::duration every) {
  return otpp::worker("w", [=] {
    return otpp::spawn_link([=] {
      otpp::send(test, started{runtime_clock::now() - t0});
      tp::sleep_for(every);
      throw std::runtime_error("scheduled crash");
    });
  });
}

// A one_for_one supervisor of one crasher that allows 3 restarts in 10 s.
otpp::supervisor_ref supervise_crasher(otpp::runtime& rt, runtime_clock::time_point t0,
                                       runtime_clock::duration every) {
  return otpp::start(rt, otpp::supervisor_spec{.strategy = otpp::one_for_one,
                                               .intensity = 3,
                                               .period = 10s,
                                               .children = {crasher(tp::self(), t0, every)}});
}

} // namespace

TEST_CASE("in virtual time a call times out at exactly its timeout, and a longer one gets the "
          "answer an hour later",
          "[behaviour][virtual_time]") {
  OTPP_TEST_RUNTIME({.schedulers = 1, .virtual_time = true});
  const auto t0 = rt.now();
  auto srv = otpp::start(napping_server());
  auto r = otpp::try_call<std::string>(srv, slow{}, 10s);
  REQUIRE_FALSE(r.ok());
  CHECK(r.error() == exit_reason::timeout());
  CHECK(rt.now() - t0 == 10s);
  // The server is still napping on the first call: the second is answered
  // when both naps are over.
  CHECK(otpp::call<std::string>(srv, slow{}, 3h) == "done");
  CHECK(rt.now() - t0 == 2h);
  otpp::stop(srv);
}

TEST_CASE("in virtual time a state machine's five-minute state timeout fires at five minutes, "
          "and is restarted by re-entering the state",
          "[behaviour][virtual_time]") {
  OTPP_TEST_RUNTIME({.schedulers = 1, .virtual_time = true});
  const auto t0 = rt.now();
  auto h = otpp::start(door(), door_data{tp::self(), t0}); // starts locked
  otpp::cast(h, push{});
  event e = take<event>();
  CHECK(e.what == "opened");
  CHECK(e.at == 0s);
  e = take<event>();
  CHECK(e.what == "locked");
  CHECK(e.at == 5min);
  // Open again two minutes later (the test's own wait is virtual too).
  CHECK_FALSE(tp::receive_for<event>(2min).has_value());
  otpp::cast(h, push{});
  CHECK(take<event>().at == 7min);
  e = take<event>();
  CHECK(e.what == "locked");
  CHECK(e.at == 12min);
  otpp::stop(h);
}

TEST_CASE("in virtual time a supervisor's restart intensity counts restarts within its period on "
          "the runtime's clock",
          "[behaviour][virtual_time]") {
  report_guard quiet(otpp_test::quiet());
  SECTION("a crash every 4 s stays within 3 restarts in 10 s: the supervisor keeps going") {
    OTPP_TEST_RUNTIME({.schedulers = 1, .virtual_time = true});
    const auto t0 = rt.now();
    auto sup = supervise_crasher(rt, t0, 4s);
    otpp::ref m = otpp::monitor(sup);
    for (int i = 0; i <= 20; ++i)
      CHECK(take<started>().at == i * 4s);
    CHECK_FALSE(tp::receive_for<otpp::down>(0ms).has_value());
    otpp::stop(sup, exit_reason::shutdown());
    CHECK(otpp_test::down_reason(m) == exit_reason::shutdown());
  }
  SECTION("a crash every 2 s makes a fourth restart within 10 s at 8 s: the supervisor gives up "
          "then") {
    OTPP_TEST_RUNTIME({.schedulers = 1, .virtual_time = true});
    const auto t0 = rt.now();
    auto sup = supervise_crasher(rt, t0, 2s);
    otpp::ref m = otpp::monitor(sup);
    for (int i = 0; i <= 3; ++i)
      CHECK(take<started>().at == i * 2s);
    const auto d = take<otpp::down>();
    CHECK(d.monitor == m);
    CHECK(d.reason == exit_reason::shutdown());
    CHECK(rt.now() - t0 == 8s);
    CHECK_FALSE(tp::receive_for<started>(0ms).has_value());
  }
}

} // namespace OTPP_TEST_FILE
