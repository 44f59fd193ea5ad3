#include <otpp/behaviour/server.hpp>

#include "otpp_test.hpp"

#include <otpp/core/monitor.hpp>

#include <catch2/catch.hpp>

#include <chrono>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace OTPP_TEST_FILE {

using namespace std::chrono_literals;
namespace tp = otpp::this_process;
using otpp::exit_reason;
using otpp_test::expect;

namespace {

using otpp_test::quiet;
using otpp_test::report_guard;
using otpp_test::reports_to;

struct add {
  double x, y;
};
struct stray {
  int v;
};
struct query {
  int n;
};
struct parked {
  otpp::pid server;
};
struct answered {};
struct terminated {
  exit_reason reason;
};
struct seen_exit {
  otpp::pid from;
  exit_reason reason;
};
struct started {
  otpp::pid server;
};
struct go {};

// A server that can die in a call, hold calls (`slow`) and answer them late (`answer`).
struct slow {};
struct answer {};
struct die {};
struct boom {};
struct held {};
struct st {
  otpp::pid owner;
  std::vector<otpp::call_ref<int>> waiting;
};
auto fragile() {
  return otpp::server<st>()
      .init([](otpp::pid owner) {
        return st{std::move(owner), {}};
      })
      .on_call([](st&, add a) { return a.x + a.y; })
      .on_call([](st&, die) -> int { tp::exit(exit_reason::user("died")); })
      .on_call([](st&, boom) -> int { throw std::runtime_error("boom"); })
      .on_call([](st& s, otpp::call_ref<int> from, slow) {
        s.waiting.push_back(std::move(from));
        otpp::send(s.owner, parked{tp::self()});
      })
      .on_call([](const st& s, held) { return s.waiting.size(); })
      .on_cast([](st& s, answer) {
        for (auto& w : s.waiting)
          w.reply(1);
        s.waiting.clear();
        otpp::send(s.owner, answered{});
      });
}

// A server that tells the test process about terminate and exit messages.
struct ping {};
struct halt {
  exit_reason why;
};
struct explode {};
auto watched() {
  return otpp::server<otpp::pid>()
      .on_call([](otpp::pid&, ping) { return 1; })
      .on_call([](otpp::pid&, otpp::call_ref<int>, halt h) { return otpp::act::stop(h.why); })
      .on_cast([](otpp::pid&, halt h) { return otpp::act::stop(h.why); })
      .on_info([](otpp::pid&, halt h) { return otpp::act::stop(h.why); })
      .on_cast([](otpp::pid&, explode) { throw std::runtime_error("boom"); })
      .on_info([](otpp::pid&, explode) { throw 42; })
      .on_info([](otpp::pid&, const exit_reason& r) { tp::exit(r); })
      .on_terminate(
          [](otpp::pid& owner, const exit_reason& r) { otpp::send(owner, terminated{r}); });
}
auto trapping() {
  return watched().on_exit([](otpp::pid& owner, const otpp::exit_message& e) {
    otpp::send(owner, seen_exit{e.from, e.reason});
  });
}

// The reason a call to `srv` failed with (the test fails if it did not throw).
template <class F> exit_reason call_failure(F f) {
  try {
    f();
  } catch (const otpp::call_error& e) {
    return e.reason();
  }
  throw std::runtime_error("the call did not fail");
}

} // namespace

TEST_CASE("a call to an ended server fails with noproc", "[behaviour][server]") {
  const unsigned n = GENERATE(1u, 3u);
  OTPP_TEST_RUNTIME({.schedulers = n});
  auto srv = otpp::start(fragile(), tp::self());
  otpp::stop(srv);
  CHECK(call_failure([&] { otpp::call(srv, add{1, 2}); }) == exit_reason::noproc());
  CHECK(otpp::try_call(srv, add{1, 2}).error() == exit_reason::noproc());
  CHECK(otpp::call_async(srv, add{1, 2}).wait().error() == exit_reason::noproc());
  CHECK(otpp::try_call<int>(otpp::pid(), add{1, 2}).error() == exit_reason::noproc());
  CHECK(tp::mailbox_length() == 0);
}

TEST_CASE("a server that ends during a call makes the call fail with the server's reason",
          "[behaviour][server]") {
  report_guard g(quiet());
  const unsigned n = GENERATE(1u, 3u);
  OTPP_TEST_RUNTIME({.schedulers = n});
  auto a = otpp::start(fragile(), tp::self());
  CHECK(call_failure([&] { otpp::call(a, die{}); }) == exit_reason::user("died"));
  auto b = otpp::start(fragile(), tp::self());
  CHECK(call_failure([&] { otpp::call(b, boom{}); }) ==
        exit_reason::exception("std::runtime_error", "boom"));
  // Killed by an exit signal while it holds the call.
  otpp::pid shooter = otpp::spawn([] {
    parked p = tp::receive<parked>();
    otpp::exit(p.server, exit_reason::user("shot"));
  });
  auto c = otpp::start(fragile(), shooter);
  CHECK(call_failure([&] { otpp::call(c, slow{}, otpp::infinity); }) == exit_reason::user("shot"));
  CHECK(tp::mailbox_length() == 0);
}

TEST_CASE("a call that times out fails with timeout, and the late reply never reaches the caller",
          "[behaviour][server]") {
  const unsigned n = GENERATE(1u, 3u);
  OTPP_TEST_RUNTIME({.schedulers = n});
  auto srv = otpp::start(fragile(), tp::self());
  CHECK(call_failure([&] { otpp::call_for(srv, slow{}, 20ms); }) == exit_reason::timeout());
  CHECK(otpp::try_call(srv, slow{}, 20ms).error() == exit_reason::timeout());
  CHECK(otpp::try_call<int>(srv.pid(), slow{}, 20ms).error() == exit_reason::timeout());
  expect<parked>();
  expect<parked>();
  expect<parked>();
  CHECK(otpp::call(srv, held{}) == 3u);
  otpp::cast(srv, answer{}); // replies to the three, then tells us
  expect<answered>();
  CHECK(tp::mailbox_length() == 0);
  CHECK(otpp::call(srv, add{2, 2}) == 4.0);
}

TEST_CASE("a pending call destroyed or cancelled unanswered drops the later reply",
          "[behaviour][server]") {
  const unsigned n = GENERATE(1u, 3u);
  OTPP_TEST_RUNTIME({.schedulers = n});
  auto srv = otpp::start(fragile(), tp::self());
  {
    auto p = otpp::call_async(srv, slow{});
    expect<parked>();
  }
  auto q = otpp::call_async(srv, slow{});
  expect<parked>();
  CHECK(q.cancel());
  CHECK_FALSE(q.in_flight());
  CHECK_FALSE(q.cancel());
  CHECK(q.wait().error() == exit_reason::user("no call in flight"));
  CHECK(otpp::call(srv, held{}) == 2u);
  otpp::cast(srv, answer{});
  expect<answered>();
  CHECK(tp::mailbox_length() == 0);
}

TEST_CASE("calling yourself fails with calling_self instead of deadlocking",
          "[behaviour][server]") {
  const unsigned n = GENERATE(1u, 3u);
  OTPP_TEST_RUNTIME({.schedulers = n});
  CHECK(call_failure([] { otpp::call<int>(tp::self(), query{1}); }) ==
        exit_reason::user("calling_self"));
  CHECK(call_failure([] { otpp::stop(tp::self()); }) == exit_reason::user("calling_self"));
  struct call_myself {};
  auto def =
      otpp::server<int>().on_call([](int&, query q) { return q.n; }).on_call([](int&, call_myself) {
        return otpp::try_call<int>(tp::self(), query{1}).error().to_string();
      });
  auto srv = otpp::start(def);
  CHECK(otpp::call(srv, call_myself{}) == exit_reason::user("calling_self").to_string());
  CHECK(otpp::call(srv, query{5}) == 5);
}

TEST_CASE("a reply of another type than the caller named fails the call", "[behaviour][server]") {
  OTPP_TEST_RUNTIME({.schedulers = 1});
  auto srv = otpp::start(fragile(), tp::self());
  exit_reason why = call_failure([&] { otpp::call<int>(srv.pid(), add{1, 2}); });
  CHECK(why.which() == exit_reason::kind::user);
  CHECK_THAT(std::string(why.detail()), Catch::StartsWith("bad reply type"));
  CHECK(otpp::call(srv, add{1, 2}) == 3.0); // the server is unaffected
}

TEST_CASE("unhandled policy terminate (default): terminate runs and the server ends naming the "
          "message type",
          "[behaviour][server]") {
  report_guard g(quiet());
  const unsigned n = GENERATE(1u, 3u);
  OTPP_TEST_RUNTIME({.schedulers = n});
  auto expected = [](std::string_view type) {
    return exit_reason::user(fmt::format("unhandled message: {}", type));
  };
  SECTION("a plain message") {
    auto srv = otpp::start(watched(), tp::self());
    otpp::ref m = otpp::monitor(srv);
    otpp::send(srv, stray{1});
    CHECK(otpp_test::down_reason(m) == expected(otpp::type_name<stray>()));
    CHECK(expect<terminated>().reason == expected(otpp::type_name<stray>()));
  }
  SECTION("a cast") {
    auto srv = otpp::start(watched(), tp::self());
    otpp::ref m = otpp::monitor(srv);
    otpp::cast(srv.pid(), stray{1});
    auto why = expected(otpp::type_name<otpp::cast_message<stray>>());
    CHECK(otpp_test::down_reason(m) == why);
    CHECK(expect<terminated>().reason == why);
  }
  SECTION("a call: the caller gets the server's reason") {
    auto srv = otpp::start(watched(), tp::self());
    auto why = expected(otpp::type_name<otpp::request<stray>>());
    CHECK(otpp::try_call<int>(srv.pid(), stray{1}).error() == why);
    CHECK(expect<terminated>().reason == why);
  }
}

TEST_CASE("unhandled policies drop and log keep the server running, an unhandled call fails at "
          "once",
          "[behaviour][server]") {
  const unsigned n = GENERATE(1u, 3u);
  OTPP_TEST_RUNTIME({.schedulers = n});
  report_guard g(reports_to(tp::self()));
  const bool log = GENERATE(false, true);
  auto srv = otpp::start(
      watched().unhandled(log ? otpp::unhandled_policy::log : otpp::unhandled_policy::drop),
      tp::self());
  otpp::send(srv, stray{1});
  otpp::cast(srv.pid(), stray{2});
  CHECK(otpp::call(srv, ping{}) == 1);
  auto why =
      exit_reason::user(fmt::format("unhandled call: {}", otpp::type_name<otpp::request<stray>>()));
  CHECK(otpp::try_call<int>(srv.pid(), stray{3}, otpp_test::patience).error() == why);
  CHECK(otpp::call(srv, ping{}) == 1);
  if (log) {
    for (std::string_view type :
         {otpp::type_name<stray>(), otpp::type_name<otpp::cast_message<stray>>(),
          otpp::type_name<otpp::request<stray>>()}) {
      auto r = expect<otpp::report>();
      CHECK(r.kind == otpp::report_kind::unhandled);
      CHECK(r.from == srv.pid());
      CHECK_THAT(r.text, Catch::Contains(std::string(type)));
    }
  }
  CHECK(otpp_test::nothing<otpp::report>());
  CHECK(otpp_test::nothing<terminated>());
}

TEST_CASE("unhandled policy dead_letter forwards the message unchanged, the target may answer a "
          "forwarded call",
          "[behaviour][server]") {
  const unsigned n = GENERATE(1u, 3u);
  OTPP_TEST_RUNTIME({.schedulers = n});
  otpp::pid me = tp::self();
  otpp::pid letters = otpp::spawn([me] {
    for (;;)
      tp::receive([me](otpp::any_message& m) {
        if (auto* r = m.get_if<otpp::request<query>>())
          otpp::send_reply(r->from, r->value.n * 3);
        else
          std::move(m).forward(me);
      });
  });
  auto srv =
      otpp::start(watched().unhandled(otpp::unhandled_policy::dead_letter(letters)), tp::self());
  otpp::send(srv, stray{7});
  CHECK(expect<stray>().v == 7);
  otpp::cast(srv.pid(), stray{8});
  CHECK(expect<otpp::cast_message<stray>>().value.v == 8);
  CHECK(otpp::call<int>(srv.pid(), query{5}) == 15);
  CHECK(otpp::call(srv, ping{}) == 1);
  CHECK(otpp_test::nothing<terminated>());
}

TEST_CASE("terminate runs with the reason of a stop action from a cast, an info or a call handler",
          "[behaviour][server]") {
  report_guard g(quiet());
  const unsigned n = GENERATE(1u, 3u);
  OTPP_TEST_RUNTIME({.schedulers = n});
  auto srv = otpp::start(watched(), tp::self());
  otpp::ref m = otpp::monitor(srv);
  const exit_reason why = exit_reason::user("halted");
  SECTION("cast") {
    otpp::cast(srv, halt{why});
  }
  SECTION("info") {
    otpp::send(srv, halt{why});
  }
  SECTION("call, unanswered: the caller gets the reason") {
    CHECK(call_failure([&] { otpp::call(srv, halt{why}); }) == why);
  }
  CHECK(expect<terminated>().reason == why);
  CHECK(otpp_test::down_reason(m) == why);
}

TEST_CASE("an exception in a handler becomes the exit reason, terminate runs and a crash is "
          "reported",
          "[behaviour][server]") {
  const unsigned n = GENERATE(1u, 3u);
  OTPP_TEST_RUNTIME({.schedulers = n});
  report_guard g(reports_to(tp::self()));
  auto srv = otpp::start(watched(), tp::self());
  otpp::ref m = otpp::monitor(srv);
  const bool std_exception = GENERATE(true, false);
  if (std_exception)
    otpp::cast(srv, explode{});
  else
    otpp::send(srv, explode{}); // the info handler throws an int
  const auto why = std_exception ? exit_reason::exception("std::runtime_error", "boom")
                                 : exit_reason::exception("int", "");
  CHECK(expect<terminated>().reason == why);
  CHECK(otpp_test::down_reason(m) == why);
  auto r = expect<otpp::report>();
  CHECK(r.kind == otpp::report_kind::crash);
  CHECK(r.from == srv.pid());
  CHECK_THAT(r.text, Catch::Contains(why.to_string()));
}

TEST_CASE("an exception in terminate becomes the exit reason, and stop reports it",
          "[behaviour][server]") {
  report_guard g(quiet());
  OTPP_TEST_RUNTIME({.schedulers = 1});
  auto def = otpp::server<int>().on_terminate(
      [](int&, const exit_reason&) { throw std::logic_error("in terminate"); });
  auto srv = otpp::start(def);
  CHECK(call_failure([&] { otpp::stop(srv); }) ==
        exit_reason::exception("std::logic_error", "in terminate"));
}

TEST_CASE("a trapping server whose parent exits, or signals it, runs terminate with the reason",
          "[behaviour][server]") {
  report_guard g(quiet());
  const unsigned n = GENERATE(1u, 3u);
  OTPP_TEST_RUNTIME({.schedulers = n});
  otpp::pid me = tp::self();
  exit_reason why;
  otpp::pid parent;
  SECTION("the parent ends abnormally") {
    why = exit_reason::user("parent died");
    parent = otpp::spawn([me, why] {
      otpp::send(me, started{otpp::start_link(trapping(), me)});
      tp::receive<go>();
      tp::exit(why);
    });
  }
  SECTION("the parent ends normally") {
    why = exit_reason::normal();
    parent = otpp::spawn([me] {
      otpp::send(me, started{otpp::start_link(trapping(), me)});
      tp::receive<go>();
    });
  }
  SECTION("the parent sends an exit signal") {
    why = exit_reason::shutdown("by parent");
    parent = otpp::spawn([me, why] {
      otpp::pid srv = otpp::start_link(trapping(), me);
      otpp::send(me, started{srv});
      tp::receive<go>();
      otpp::exit(srv, why);
      otpp_test::wait_forever();
    });
  }
  otpp::pid srv = expect<started>().server;
  otpp::ref m = otpp::monitor(srv);
  CHECK(otpp::call<int>(srv, ping{}) == 1);
  otpp::send(parent, go{});
  CHECK(otpp_test::down_reason(m) == why);
  CHECK(expect<terminated>().reason == why);
  CHECK(otpp_test::nothing<seen_exit>()); // the exit handler does not see the parent's exit
}

TEST_CASE("this_process::exit inside a handler runs terminate with the reason, then the server "
          "ends with it, reported when abnormal",
          "[behaviour][server]") {
  const unsigned n = GENERATE(1u, 3u);
  OTPP_TEST_RUNTIME({.schedulers = n});
  report_guard g(reports_to(tp::self()));
  const exit_reason why = GENERATE(exit_reason::user("bye"), exit_reason::normal());
  auto srv = otpp::start(watched(), tp::self());
  otpp::ref m = otpp::monitor(srv);
  otpp::send(srv, why); // the info handler calls tp::exit(why)
  CHECK(expect<terminated>().reason == why);
  CHECK(otpp_test::down_reason(m) == why);
  if (why.is_normal()) {
    CHECK(otpp_test::nothing<otpp::report>());
  } else {
    auto r = expect<otpp::report>();
    CHECK(r.kind == otpp::report_kind::crash);
    CHECK_THAT(r.text, Catch::Contains("bye"));
  }
}

TEST_CASE("terminate does not run on kill, on an exit signal while not trapping, or when init "
          "fails",
          "[behaviour][server]") {
  const unsigned n = GENERATE(1u, 3u);
  OTPP_TEST_RUNTIME({.schedulers = n});
  otpp::pid me = tp::self();
  SECTION("kill, even while trapping") {
    auto srv = otpp::start(trapping(), me);
    otpp::ref m = otpp::monitor(srv);
    otpp::kill(srv);
    CHECK(otpp_test::down_reason(m) == exit_reason::killed());
  }
  SECTION("an exit signal while not trapping") {
    auto srv = otpp::start(watched(), me);
    otpp::ref m = otpp::monitor(srv);
    otpp::exit(srv, exit_reason::user("shot"));
    CHECK(otpp_test::down_reason(m) == exit_reason::user("shot"));
  }
  SECTION("the parent's death while not trapping") {
    otpp::pid parent = otpp::spawn([me] {
      otpp::send(me, started{otpp::start_link(watched(), me)});
      tp::receive<go>();
      tp::exit(exit_reason::user("parent died"));
    });
    otpp::pid srv = expect<started>().server;
    otpp::ref m = otpp::monitor(srv);
    otpp::send(parent, go{});
    CHECK(otpp_test::down_reason(m) == exit_reason::user("parent died"));
  }
  SECTION("init fails") {
    auto on_terminate = [me](int&, const exit_reason& r) { otpp::send(me, terminated{r}); };
    auto stops = otpp::server<int>()
                     .init([]() -> otpp::init_result<int> {
                       return otpp::init_stop(exit_reason::user("no"));
                     })
                     .on_terminate(on_terminate);
    CHECK(otpp::try_start(stops).error() == exit_reason::user("no"));
    auto throws = otpp::server<int>()
                      .init([]() -> int { throw std::runtime_error("no"); })
                      .on_terminate(on_terminate);
    CHECK(otpp::try_start(throws).error() == exit_reason::exception("std::runtime_error", "no"));
  }
  CHECK(otpp_test::nothing<terminated>());
}

TEST_CASE("a trapping server gets exit signals from others than its parent as exit messages and "
          "goes on",
          "[behaviour][server]") {
  const unsigned n = GENERATE(1u, 3u);
  OTPP_TEST_RUNTIME({.schedulers = n});
  otpp::pid me = tp::self();
  otpp::spawn([me] { // the parent
    otpp::send(me, started{otpp::start_link(trapping(), me)});
    otpp_test::wait_forever();
  });
  otpp::pid srv = expect<started>().server;
  otpp::exit(srv, exit_reason::user("from a stranger"));
  seen_exit e = expect<seen_exit>();
  CHECK(e.from == me);
  CHECK(e.reason == exit_reason::user("from a stranger"));
  // A linked process that is not the parent ends.
  otpp::pid peer = otpp::spawn([srv] {
    otpp::link(srv);
    tp::exit(exit_reason::user("peer died"));
  });
  e = expect<seen_exit>();
  CHECK(e.from == peer);
  CHECK(e.reason == exit_reason::user("peer died"));
  CHECK(otpp::call<int>(srv, ping{}) == 1);
  CHECK(otpp_test::nothing<terminated>());
}

TEST_CASE("a crashed server's terminate may wait without freeing an exception another process of "
          "its scheduler is handling",
          "[behaviour][server]") {
  report_guard g(quiet());
  const unsigned n = GENERATE(1u, 3u);
  OTPP_TEST_RUNTIME({.schedulers = n});
  otpp::pid me = tp::self();
  struct in_terminate {};
  struct in_catch {};
  struct what {
    std::string text;
  };
  auto def = otpp::server<otpp::pid>()
                 .on_cast([](otpp::pid&, explode) { throw std::runtime_error("boom"); })
                 .on_terminate([](otpp::pid& owner, const exit_reason&) {
                   otpp::send(owner, in_terminate{});
                   tp::receive<go>();
                 });
  // Both on scheduler 0: one thread, so one C++ caught-exception stack.
  auto srv = otpp::start(
      otpp::start_options{.name = {}, .timeout = otpp::infinity, .spawn = {.scheduler = 0u}}, def,
      me);
  otpp::ref m = otpp::monitor(srv);
  otpp::cast(srv, explode{});
  expect<in_terminate>(); // the server waits in terminate
  const std::string text(100, 'x');
  otpp::pid handler = otpp::spawn(
      [me, text] {
        try {
          throw std::runtime_error(text);
        } catch (const std::exception& e) {
          otpp::send(me, in_catch{});
          tp::receive<go>();
          otpp::send(me, what{e.what()});
        }
      },
      {.scheduler = 0u});
  expect<in_catch>();
  otpp::send(srv, go{}); // the server ends while the other process is still in its catch block
  CHECK(otpp_test::down_reason(m) == exit_reason::exception("std::runtime_error", "boom"));
  otpp::send(handler, go{});
  CHECK(expect<what>().text == text); // under ASan: no use after free
}

} // namespace OTPP_TEST_FILE
