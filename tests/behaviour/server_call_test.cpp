#include <otpp/behaviour/server.hpp>

#include "math_server.hpp"
#include "otpp_test.hpp"

#include <otpp/core/monitor.hpp>

#include <catch2/catch.hpp>

#include <chrono>
#include <cstddef>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

namespace OTPP_TEST_FILE {

using namespace std::chrono_literals;
namespace tp = otpp::this_process;
using otpp::exit_reason;
using otpp_test::add;
using otpp_test::expect;
using otpp_test::get_count;
using otpp_test::greet;
using otpp_test::inc;
using otpp_test::math;
using otpp_test::touch;

namespace {

// What servers tell the test process.
struct terminated {
  exit_reason reason;
};
struct note {
  std::string text;
};
struct seen {
  std::string what;
};
struct parked {};
struct released {};

// A server that holds `hold` calls and answers them (v * 10) on `release`.
struct hold {
  int v;
};
struct release {};
struct held_count {};
struct gate_state {
  otpp::pid owner;
  std::vector<std::pair<otpp::call_ref<int>, int>> held;
};
auto gate() {
  return otpp::server<gate_state>()
      .init([](otpp::pid owner) {
        return gate_state{std::move(owner), {}};
      })
      .on_call([](gate_state& s, otpp::call_ref<int> from, hold h) {
        s.held.emplace_back(std::move(from), h.v);
      })
      .on_cast([](gate_state& s, release) {
        for (auto& [from, v] : s.held)
          from.reply(v * 10);
        s.held.clear();
        otpp::send(s.owner, released{});
      })
      .on_call([](const gate_state& s, held_count) { return s.held.size(); });
}

} // namespace

TEST_CASE("reply_and with stop: terminate runs, then the caller gets its reply",
          "[behaviour][server]") {
  const unsigned n = GENERATE(1u, 3u);
  OTPP_TEST_RUNTIME({.schedulers = n});
  struct quit {};
  auto def = otpp::server<otpp::pid>()
                 .on_call([](otpp::pid&, quit) {
                   return otpp::reply_and(std::string("bye"),
                                          otpp::act::stop(exit_reason::shutdown("done")));
                 })
                 .on_terminate([](otpp::pid& owner, const exit_reason& r) {
                   otpp::send(owner, terminated{r});
                 });
  auto srv = otpp::start(def, tp::self());
  otpp::ref m = otpp::monitor(srv);
  CHECK(otpp::call(srv, quit{}) == "bye");
  // terminate's message left the server before the reply: it is here already.
  auto t = tp::receive_for<terminated>(0ms);
  REQUIRE(t.has_value());
  CHECK(t->reason == exit_reason::shutdown("done"));
  CHECK(otpp_test::down_reason(m) == exit_reason::shutdown("done"));
}

TEST_CASE("call_async: several calls in flight, to one or several servers, awaited in any order",
          "[behaviour][server]") {
  const unsigned n = GENERATE(1u, 3u);
  OTPP_TEST_RUNTIME({.schedulers = n});
  SECTION("one server") {
    auto srv = otpp::start(gate(), tp::self());
    auto a = otpp::call_async(srv, hold{1});
    auto b = otpp::call_async(srv, hold{2});
    auto c = otpp::call_async<int>(srv.pid(), hold{3});
    CHECK(otpp::call(srv, held_count{}) == 3u); // all three wait in the server
    CHECK(a.in_flight());
    otpp::cast(srv, release{});
    CHECK(c.wait().value() == 30);
    CHECK(a.wait().value() == 10);
    CHECK(b.wait().value() == 20);
    CHECK_FALSE(a.in_flight());
    expect<released>();
    CHECK(tp::mailbox_length() == 0);
  }
  SECTION("three servers") {
    std::vector<otpp::server_ref<decltype(gate())>> srvs;
    std::vector<otpp::pending_call<int>> calls;
    for (int i = 0; i < 3; ++i) {
      srvs.push_back(otpp::start(gate(), tp::self()));
      calls.push_back(otpp::call_async(srvs.back(), hold{i + 1}));
    }
    for (int i : {2, 0, 1}) {
      CHECK(otpp::call(srvs[static_cast<std::size_t>(i)], held_count{}) == 1u);
      otpp::cast(srvs[static_cast<std::size_t>(i)], release{});
    }
    CHECK(calls[1].wait().value() == 20);
    CHECK(calls[2].wait().value() == 30);
    CHECK(calls[0].wait().value() == 10);
  }
  SECTION("wait_for too short leaves the call in flight; a later wait gets the reply") {
    auto srv = otpp::start(gate(), tp::self());
    auto p = otpp::call_async(srv, hold{4});
    CHECK_FALSE(p.wait_for(20ms).has_value());
    CHECK(p.in_flight());
    otpp::cast(srv, release{});
    auto r = p.wait_for(otpp_test::patience);
    REQUIRE(r.has_value());
    CHECK(r->value() == 40);
    CHECK_FALSE(p.in_flight());
  }
}

TEST_CASE("a deferred call is answered later by a cast, an info message or another call, the "
          "server serves others meanwhile",
          "[behaviour][server]") {
  const unsigned n = GENERATE(1u, 3u);
  OTPP_TEST_RUNTIME({.schedulers = n});
  struct await_value {};
  struct provide {
    int v;
  };
  struct refuse {
    exit_reason why;
  };
  struct waiting {};
  struct st {
    otpp::pid owner;
    std::vector<otpp::call_ref<int>> waiters;
    int served = 0;
  };
  auto answer = [](st& s, int v) {
    for (auto& w : s.waiters)
      w.reply(v);
    std::size_t k = s.waiters.size();
    s.waiters.clear();
    return static_cast<int>(k);
  };
  auto def = otpp::server<st>()
                 .init([](otpp::pid owner) {
                   return st{std::move(owner), {}};
                 })
                 .on_call([](st& s, otpp::call_ref<int> from, await_value) {
                   s.waiters.push_back(std::move(from));
                   otpp::send(s.owner, parked{});
                 })
                 .on_call([](st& s, waiting) {
                   ++s.served;
                   return s.waiters.size();
                 })
                 .on_cast([](st& s, inc) { ++s.served; })
                 .on_cast([answer](st& s, provide p) { answer(s, p.v); })
                 .on_info([answer](st& s, provide p) { answer(s, p.v + 100); })
                 .on_call([answer](st& s, const provide& p) { return answer(s, p.v + 1000); })
                 .on_cast([](st& s, refuse r) {
                   for (auto& w : s.waiters)
                     w.fail(r.why);
                   s.waiters.clear();
                 });
  auto srv = otpp::start(def, tp::self());
  struct got {
    int value;
    exit_reason error;
  };
  otpp::pid me = tp::self();
  auto caller = [srv, me] {
    try {
      otpp::send(me, got{otpp::call(srv, await_value{}, otpp::infinity), {}});
    } catch (const otpp::call_error& e) {
      otpp::send(me, got{-1, e.reason()});
    }
  };
  otpp::spawn(caller);
  expect<parked>();
  // The waiting caller does not block the server.
  otpp::cast(srv, inc{});
  CHECK(otpp::call(srv, waiting{}) == 1u);
  otpp::cast(srv, provide{5});
  CHECK(expect<got>().value == 5);

  otpp::spawn(caller);
  expect<parked>();
  otpp::send(srv, provide{6});
  CHECK(expect<got>().value == 106);

  otpp::spawn(caller);
  otpp::spawn(caller);
  expect<parked>();
  expect<parked>();
  CHECK(otpp::call(srv, provide{7}) == 2);
  CHECK(expect<got>().value == 1007);
  CHECK(expect<got>().value == 1007);

  otpp::spawn(caller);
  expect<parked>();
  otpp::cast(srv, refuse{exit_reason::user("no value")});
  got g = expect<got>();
  CHECK(g.value == -1);
  CHECK(g.error == exit_reason::user("no value"));
  CHECK(otpp::call(srv, waiting{}) == 0u);
}

TEST_CASE("a copied call_ref lets another process answer the call", "[behaviour][server]") {
  const unsigned n = GENERATE(1u, 3u);
  OTPP_TEST_RUNTIME({.schedulers = n});
  struct delegate {
    int v;
  };
  struct answer {
    otpp::pid by;
    int v;
  };
  struct sync {}; // reply type void
  auto def = otpp::server<std::monostate>()
                 .on_call([](std::monostate&, otpp::call_ref<answer> from, delegate d) {
                   otpp::spawn([from, d] { from.reply(answer{tp::self(), d.v * 2}); });
                 })
                 .on_call([](std::monostate&, const otpp::call_ref<void>& from, sync) {
                   otpp::spawn([from] { from.reply(); });
                 });
  auto srv = otpp::start(def);
  answer a = otpp::call(srv, delegate{21});
  CHECK(a.v == 42);
  CHECK(a.by != srv.pid());
  CHECK(a.by);
  STATIC_REQUIRE(std::is_void_v<decltype(otpp::call(srv, sync{}))>);
  CHECK_NOTHROW(otpp::call(srv, sync{}));
}

TEST_CASE("on_info takes down messages and plain sends, on_any takes what no typed handler "
          "takes, the first handler for a type wins",
          "[behaviour][server]") {
  const unsigned n = GENERATE(1u, 3u);
  OTPP_TEST_RUNTIME({.schedulers = n});
  struct watch {
    otpp::pid who;
  };
  auto def =
      otpp::server<otpp::pid>()
          .on_cast([](otpp::pid&, watch w) { otpp::monitor(w.who); })
          .on_info([](otpp::pid& owner, const otpp::down& d) {
            otpp::send(owner, seen{fmt::format("down {}", d.reason)});
          })
          .on_info([](otpp::pid& owner, note m) { otpp::send(owner, seen{"first " + m.text}); })
          .on_info([](otpp::pid& owner, note m) { otpp::send(owner, seen{"second " + m.text}); })
          .on_any([](otpp::pid& owner, otpp::any_message& m) {
            otpp::send(owner, seen{"any " + std::string(m.type_name())});
          })
          .on_call([](otpp::pid&, get_count) { return 1; });
  auto srv = otpp::start(def, tp::self());
  otpp::pid victim = otpp::spawn(otpp_test::wait_forever);
  otpp::cast(srv, watch{victim});
  CHECK(otpp::call(srv, get_count{}) == 1); // the monitor is in place
  otpp::exit(victim, exit_reason::user("bye"));
  CHECK(expect<seen>().what == "down {user, \"bye\"}");
  otpp::send(srv, note{"x"});
  CHECK(expect<seen>().what == "first x");
  otpp::send(srv, 5);
  CHECK(expect<seen>().what == "any " + std::string(otpp::type_name<int>()));
  // A call nobody handles reaches on_any too (it may answer it or not).
  CHECK(otpp::try_call<int>(srv.pid(), note{"q"}, 20ms).error() == exit_reason::timeout());
  CHECK(expect<seen>().what == "any " + std::string(otpp::type_name<otpp::request<note>>()));
}

TEST_CASE("on_any declared before a typed handler still leaves it its messages",
          "[behaviour][server]") {
  OTPP_TEST_RUNTIME({.schedulers = 1});
  auto def =
      otpp::server<otpp::pid>()
          .on_any([](otpp::pid& owner, otpp::any_message&) { otpp::send(owner, seen{"any"}); })
          .on_info([](otpp::pid& owner, note m) { otpp::send(owner, seen{m.text}); })
          .on_call([](otpp::pid&, get_count) { return 3; });
  auto srv = otpp::start(def, tp::self());
  otpp::send(srv, note{"typed"});
  CHECK(expect<seen>().what == "typed");
  CHECK(otpp::call(srv, get_count{}) == 3);
  otpp::send(srv, 1.5);
  CHECK(expect<seen>().what == "any");
}

TEST_CASE("a cast to an ended server or a null pid is silent", "[behaviour][server]") {
  const unsigned n = GENERATE(1u, 3u);
  OTPP_TEST_RUNTIME({.schedulers = n});
  auto srv = otpp::start(math());
  otpp::stop(srv);
  CHECK_NOTHROW(otpp::cast(srv, inc{1}));
  CHECK_NOTHROW(otpp::cast(srv.pid(), inc{1}));
  CHECK_NOTHROW(otpp::cast(otpp::pid(), inc{1}));
  CHECK(otpp_test::nothing<otpp::down>());
  CHECK(tp::mailbox_length() == 0);
}

TEST_CASE("stop runs terminate with the reason and returns once the server has ended, stop of "
          "an ended server fails with noproc",
          "[behaviour][server]") {
  const unsigned n = GENERATE(1u, 3u);
  OTPP_TEST_RUNTIME({.schedulers = n});
  auto def = otpp::server<otpp::pid>().on_terminate(
      [](otpp::pid& owner, const exit_reason& r) { otpp::send(owner, terminated{r}); });
  auto a = otpp::start(def, tp::self());
  otpp::stop(a);
  CHECK(otpp::info(a).status == otpp::process_status::exited);
  CHECK(expect<terminated>().reason == exit_reason::normal());
  auto b = otpp::start(def, tp::self());
  otpp::stop(b, exit_reason::shutdown());
  CHECK(expect<terminated>().reason == exit_reason::shutdown());
  try {
    otpp::stop(b);
    FAIL("stop did not throw");
  } catch (const otpp::call_error& e) {
    CHECK(e.reason() == exit_reason::noproc());
    CHECK(e.server() == b.pid());
  }
  CHECK(otpp_test::nothing<terminated>());
}

TEST_CASE("many concurrent callers each get their own replies and the count is exact",
          "[behaviour][server]") {
  const unsigned n = GENERATE(1u, 3u);
  OTPP_TEST_RUNTIME({.schedulers = n});
  struct bump {
    long token;
  };
  struct total {};
  struct done {
    int client;
    int wrong;
  };
  auto counter = otpp::server<long>()
                     .on_call([](long& c, bump b) {
                       ++c;
                       return b.token * 2;
                     })
                     .on_call([](const long& c, total) { return c; });
  auto srv = otpp::start(counter);
  constexpr int clients = 50;
  constexpr int calls = 200;
  otpp::pid me = tp::self();
  for (int c = 0; c < clients; ++c)
    otpp::spawn([srv, me, c] {
      int wrong = 0;
      for (int i = 0; i < calls; ++i) {
        long token = c * 1000L + i;
        if (otpp::call(srv, bump{token}, otpp_test::patience) != token * 2)
          ++wrong;
      }
      otpp::send(me, done{c, wrong});
    });
  std::vector<bool> reported(static_cast<std::size_t>(clients), false);
  for (int c = 0; c < clients; ++c) {
    done d = expect<done>();
    CHECK(d.wrong == 0);
    CHECK_FALSE(reported[static_cast<std::size_t>(d.client)]);
    reported[static_cast<std::size_t>(d.client)] = true;
  }
  CHECK(otpp::call(srv, total{}) == long{clients} * calls);
}

} // namespace OTPP_TEST_FILE
