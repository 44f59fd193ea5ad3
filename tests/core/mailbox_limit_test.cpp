// Bounded mailboxes: each overflow policy, the control lane (signals,
// timer messages and replies to the process's own calls never count and are
// never dropped), calls refused by a full mailbox, the report and
// process_info.
// Distributed under the Boost Software License, Version 1.0.
#include <otpp/core/runtime.hpp>

#include "otpp_test.hpp"

#include <otpp/core/link.hpp>
#include <otpp/core/monitor.hpp>
#include <otpp/core/process.hpp>
#include <otpp/core/receive.hpp>
#include <otpp/core/registry.hpp>
#include <otpp/core/report.hpp>
#include <otpp/core/request.hpp>
#include <otpp/core/timer.hpp>

#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <memory>
#include <vector>

namespace OTPP_TEST_FILE {

using namespace std::chrono_literals;
namespace tp = otpp::this_process;
using otpp::exit_reason;
using otpp::overflow_policy;
using otpp_test::expect;
using otpp_test::nothing;

namespace {

struct got {
  std::vector<int> values;
};
struct tick {};
struct all_arrived {};

// A receiver that waits (not receiving) until `go`, then takes every int in
// its mailbox and sends them to `to`.
auto collector(std::shared_ptr<std::atomic<bool>> go, otpp::pid to) {
  return [go, to] {
    while (!go->load())
      tp::sleep_for(1ms); // a receive with a timeout: it takes no message
    got g;
    while (auto v = tp::receive_for<int>(0ms))
      g.values.push_back(*v);
    otpp::send(to, g);
  };
}

} // namespace

TEST_CASE("a full mailbox applies its policy to new messages", "[mailbox_limit]") {
  OTPP_TEST_RUNTIME({.schedulers = 1});
  otpp_test::report_guard quiet(otpp_test::quiet());
  struct expected {
    overflow_policy policy;
    std::vector<int> kept;
    std::vector<otpp::send_result> results;
  };
  using R = otpp::send_result;
  const auto e = GENERATE(
      expected{overflow_policy::drop_new, {0, 1, 2}, {R::ok, R::ok, R::ok, R::ok, R::ok}},
      expected{overflow_policy::drop_oldest, {2, 3, 4}, {R::ok, R::ok, R::ok, R::ok, R::ok}},
      expected{overflow_policy::reject, {0, 1, 2}, {R::ok, R::ok, R::ok, R::refused, R::refused}});
  auto go = std::make_shared<std::atomic<bool>>(false);
  auto p = rt.spawn(collector(go, tp::self()), {.mailbox_limit = 3, .on_overflow = e.policy});
  std::vector<R> results;
  for (int i = 0; i < 5; ++i)
    results.push_back(otpp::send(p, i));
  CHECK(results == e.results);
  CHECK(otpp::info(p).mailbox_limit == 3);
  go->store(true);
  CHECK(expect<got>().values == e.kept);
  CHECK(otpp::info(p).dropped == 2);
}

TEST_CASE("overflow_policy::exit ends the receiver with mailbox_full, whatever it traps",
          "[mailbox_limit]") {
  OTPP_TEST_RUNTIME({.schedulers = 1});
  otpp_test::report_guard quiet(otpp_test::quiet());
  auto go = std::make_shared<std::atomic<bool>>(false);
  auto [p, mon] =
      rt.spawn_and_monitor(collector(go, tp::self()), {.monitor = false,
                                                       .trap_exit = true,
                                                       .mailbox_limit = 2,
                                                       .on_overflow = overflow_policy::exit});
  (void)mon;
  otpp::ref m = otpp::monitor(p);
  for (int i = 0; i < 4; ++i)
    CHECK(otpp::send(p, i) == otpp::send_result::ok);
  go->store(true);
  auto d = expect<otpp::down>();
  CHECK(d.monitor == m);
  CHECK(d.reason == exit_reason::mailbox_full());
  CHECK(nothing<got>());
  CHECK(otpp::info(p).dropped >= 2);
}

TEST_CASE("a call to a full mailbox fails at once with mailbox_full", "[mailbox_limit]") {
  OTPP_TEST_RUNTIME({.schedulers = 1});
  otpp_test::report_guard quiet(otpp_test::quiet());
  const auto policy =
      GENERATE(overflow_policy::drop_new, overflow_policy::reject, overflow_policy::exit);
  auto p = rt.spawn([] { otpp_test::wait_forever(); }, {.mailbox_limit = 1, .on_overflow = policy});
  otpp::send(p, 1);
  auto tag = otpp::send_request(p, 2);
  auto d = expect<otpp::down>();
  CHECK(d.monitor == tag);
  CHECK(d.reason == exit_reason::mailbox_full());
}

TEST_CASE("overflow_policy::drop_oldest drops the oldest request and tells its requester",
          "[mailbox_limit]") {
  OTPP_TEST_RUNTIME({.schedulers = 1});
  otpp_test::report_guard quiet(otpp_test::quiet());
  auto go = std::make_shared<std::atomic<bool>>(false);
  auto p = rt.spawn(collector(go, tp::self()),
                    {.mailbox_limit = 1, .on_overflow = overflow_policy::drop_oldest});
  auto tag = otpp::send_request(p, 7);
  otpp::send(p, 8); // the request is older: it goes
  go->store(true);
  auto d = expect<otpp::down>();
  CHECK(d.monitor == tag);
  CHECK(d.reason == exit_reason::mailbox_full());
  CHECK(expect<got>().values == std::vector<int>{8});
}

TEST_CASE("signals, timer messages and replies reach a full mailbox, and count for nothing",
          "[mailbox_limit]") {
  OTPP_TEST_RUNTIME({.schedulers = 2});
  otpp_test::report_guard quiet(otpp_test::quiet());
  auto echo = rt.spawn([] {
    for (;;)
      tp::receive([](otpp::request<int>& r) { otpp::send_reply(r.from, r.value); });
  });
  const auto policy =
      GENERATE(overflow_policy::drop_new, overflow_policy::drop_oldest, overflow_policy::reject);
  auto go = std::make_shared<std::atomic<bool>>(false);
  const otpp::pid test = tp::self();
  auto p = rt.spawn(
      [go, test, echo] {
        tp::trap_exit(true);
        auto linked = otpp::spawn_link([] { otpp_test::wait_forever(); });
        auto watched = otpp::spawn([] { otpp_test::wait_forever(); });
        otpp::ref m = otpp::monitor(watched);
        while (!go->load())
          tp::sleep_for(1ms);
        // The mailbox holds one counted message (its limit) from here on.
        otpp::exit(linked, exit_reason::user("bye"));
        otpp::kill(watched);
        otpp::send_after(tp::self(), 1ms, tick{});
        auto mark = tp::mark();
        auto tag = otpp::send_request(echo, 42);
        auto e = otpp_test::expect<otpp::exit_message>();
        auto d = otpp_test::expect<otpp::down>();
        otpp_test::expect<tick>();
        int answer =
            tp::receive(mark, otpp::when([tag](const otpp::reply<int>& r) { return r.tag == tag; },
                                         [](otpp::reply<int>& r) { return r.value; }));
        if (e.from == linked && d.monitor == m && d.reason == exit_reason::killed() &&
            answer == 42 && tp::mailbox_length() == 1)
          otpp::send(test, all_arrived{});
      },
      {.mailbox_limit = 1, .on_overflow = policy});
  CHECK(otpp::send(p, 1) == otpp::send_result::ok);
  otpp::send(p, 2); // over the limit: dropped, refused, or (drop_oldest) the 1 goes
  go->store(true);
  expect<all_arrived>();
  CHECK(otpp::info(p).dropped == 1);
}

TEST_CASE("the first overflow of a mailbox is reported once, naming the process",
          "[mailbox_limit]") {
  OTPP_TEST_RUNTIME({.schedulers = 1});
  otpp_test::report_guard guard(otpp_test::reports_to(tp::self()));
  auto p = rt.spawn([] { otpp_test::wait_forever(); },
                    {.mailbox_limit = 2, .on_overflow = overflow_policy::drop_new});
  rt.register_name("bounded", p);
  for (int i = 0; i < 10; ++i)
    otpp::send(p, i);
  auto r = expect<otpp::report>();
  CHECK(r.kind == otpp::report_kind::mailbox_full);
  CHECK(r.from == p);
  CHECK_THAT(r.text, Catch::Contains("registered as \"bounded\"") &&
                         Catch::Contains("2 messages, its limit") && Catch::Contains("drop_new"));
  CHECK(nothing<otpp::report>());
  CHECK(otpp::info(p).dropped == 8);
}

TEST_CASE("received messages free their place in a bounded mailbox", "[mailbox_limit]") {
  OTPP_TEST_RUNTIME({.schedulers = 1});
  otpp_test::report_guard quiet(otpp_test::quiet());
  auto p = rt.spawn(
      [test = tp::self()] {
        int sum = 0;
        for (int i = 0; i < 100; ++i)
          sum += tp::receive<int>();
        otpp::send(test, sum);
      },
      {.mailbox_limit = 1, .on_overflow = overflow_policy::reject});
  int refused = 0;
  for (int i = 1; i <= 100;) {
    if (otpp::send(p, i) == otpp::send_result::ok)
      ++i;
    else {
      ++refused;
      tp::sleep_for(0ms);
      std::this_thread::yield();
    }
  }
  CHECK(expect<int>() == 5050);
  CHECK(otpp::info(p).dropped == static_cast<std::uint64_t>(refused));
}

} // namespace OTPP_TEST_FILE
