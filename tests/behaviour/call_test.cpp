#include <otpp/behaviour/call.hpp>

#include <otpp/behaviour/server.hpp>

#include "otpp_test.hpp"

#include <catch2/catch.hpp>

#include <chrono>
#include <map>
#include <stdexcept>
#include <string>
#include <type_traits>
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

// The messages of a key-value server.
struct put {
  std::string key;
  int value;
};
struct get {
  std::string key;
};
struct slow {}; // held until `release`
struct release {};
struct held_count {};
struct die {};
struct note {
  std::string text;
};
struct call_myself {};
struct stop_myself {};

// What the server tells its owner.
struct parked {
  otpp::pid server;
};
struct released {};
struct seen {
  std::string text;
};

struct kv_state {
  otpp::pid owner;
  std::map<std::string, int> values;
  std::vector<otpp::call_ref<int>> held;
};

// A key-value server registered (by the tests) as "kv"; `slow` calls are
// answered (with 1) only on `release`.
auto kv() {
  return otpp::server<kv_state>()
      .init([](otpp::pid owner) {
        return kv_state{std::move(owner), {}, {}};
      })
      .on_cast([](kv_state& s, const put& p) { s.values[p.key] = p.value; })
      .on_call([](const kv_state& s, const get& g) {
        auto it = s.values.find(g.key);
        return it == s.values.end() ? 0 : it->second;
      })
      .on_call([](kv_state& s, otpp::call_ref<int> from, slow) {
        s.held.push_back(std::move(from));
        otpp::send(s.owner, parked{tp::self()});
      })
      .on_cast([](kv_state& s, release) {
        for (auto& h : s.held)
          h.reply(1);
        s.held.clear();
        otpp::send(s.owner, released{});
      })
      .on_call([](const kv_state& s, held_count) { return s.held.size(); })
      .on_call([](kv_state&, die) -> int { tp::exit(exit_reason::user("died")); })
      .on_info([](kv_state& s, const note& n) { otpp::send(s.owner, seen{n.text}); })
      .on_call([](kv_state&, call_myself) {
        return otpp::try_call<int>(otpp::by_name("kv"), get{"a"}).error().to_string();
      })
      .on_call([](kv_state&, stop_myself) {
        std::string out = "no error";
        try {
          otpp::stop(otpp::by_name("kv"));
        } catch (const otpp::call_error& e) {
          out = e.reason().to_string();
        }
        return out;
      });
}
using kv_def = decltype(kv());

// The call_error `f` throws (the test fails if it throws none).
template <class F> otpp::call_error failure_of(F f) {
  try {
    f();
  } catch (const otpp::call_error& e) {
    return e;
  }
  throw std::runtime_error("the call did not fail");
}

} // namespace

TEST_CASE("a call to a server that has ended fails with noproc and names the server",
          "[behaviour][call]") {
  const unsigned n = GENERATE(1u, 3u);
  OTPP_TEST_RUNTIME({.schedulers = n});
  auto srv = otpp::start(kv(), tp::self());
  otpp::stop(srv);
  otpp::call_error e = failure_of([&] { otpp::call(srv, get{"a"}); });
  CHECK(e.reason() == exit_reason::noproc());
  CHECK(e.server() == srv.pid());
  CHECK_THAT(std::string(e.what()), Catch::Contains(fmt::format("{}", srv.pid())));
  CHECK(otpp::try_call(srv, get{"a"}, 1.5s).error() == exit_reason::noproc());
  CHECK(otpp::try_call<int>(srv.pid(), get{"a"}).error() == exit_reason::noproc());
  CHECK(otpp::call_async(srv, get{"a"}).wait().error() == exit_reason::noproc());
  CHECK(failure_of([&] { otpp::call_for(srv, get{"a"}, 250ms); }).reason() ==
        exit_reason::noproc());
  CHECK(tp::mailbox_length() == 0);
}

TEST_CASE("a server that ends during a call makes the call fail with the server's exit reason",
          "[behaviour][call]") {
  report_guard g(quiet());
  const unsigned n = GENERATE(1u, 3u);
  OTPP_TEST_RUNTIME({.schedulers = n});
  auto a = otpp::start(kv(), tp::self());
  otpp::call_error e = failure_of([&] { otpp::call(a, die{}); });
  CHECK(e.reason() == exit_reason::user("died"));
  CHECK(e.server() == a.pid());

  // By name: the same reason.
  auto b = otpp::start(otpp::start_options{.name = "kv"}, kv(), tp::self());
  CHECK(otpp::try_call(otpp::by_name<kv_def>("kv"), die{}).error() == exit_reason::user("died"));
  CHECK(otpp::info(b).status == otpp::process_status::exited);

  // Ended by an exit signal while it holds the call.
  otpp::pid shooter = otpp::spawn([] {
    parked p = tp::receive<parked>();
    otpp::exit(p.server, exit_reason::user("shot"));
  });
  auto c = otpp::start(kv(), shooter);
  CHECK(failure_of([&] { otpp::call(c, slow{}, otpp::infinity); }).reason() ==
        exit_reason::user("shot"));
  CHECK(tp::mailbox_length() == 0);
}

TEST_CASE("a call with a floating-point timeout such as 0.05s fails with timeout no earlier, "
          "and the late reply is not left in the caller's mailbox",
          "[behaviour][call]") {
  const unsigned n = GENERATE(1u, 3u);
  OTPP_TEST_RUNTIME({.schedulers = n});
  auto srv = otpp::start(otpp::start_options{.name = "kv"}, kv(), tp::self());
  auto t0 = std::chrono::steady_clock::now();
  CHECK(failure_of([&] { otpp::call(srv, slow{}, 0.05s); }).reason() == exit_reason::timeout());
  CHECK(std::chrono::steady_clock::now() - t0 >= 50ms);
  CHECK(otpp::try_call(srv, slow{}, std::chrono::duration<double, std::milli>(12.5)).error() ==
        exit_reason::timeout());
  CHECK(failure_of([] { otpp::call_for(otpp::by_name<kv_def>("kv"), slow{}, 0.01s); }).reason() ==
        exit_reason::timeout());
  CHECK(otpp::try_call<int>(otpp::by_name("kv"), slow{}, 0.001s).error() == exit_reason::timeout());
  for (int i = 0; i < 4; ++i)
    expect<parked>();
  CHECK(otpp::call(srv, held_count{}) == 4u);
  otpp::cast(srv, release{}); // the four late replies leave before `released`
  expect<released>();
  CHECK(tp::mailbox_length() == 0);
  CHECK(otpp::call(srv, get{"a"}) == 0); // the server goes on
}

TEST_CASE("a negative timeout makes call, try_call, call_async, stop and start throw "
          "invalid_argument naming the API, and a server's negative act::timeout ends it",
          "[behaviour][call]") {
  const unsigned n = GENERATE(1u, 3u);
  OTPP_TEST_RUNTIME({.schedulers = n});
  otpp_test::report_guard g(otpp_test::quiet());
  using Catch::Contains;
  auto srv = otpp::start(kv(), tp::self());
  CHECK_THROWS_WITH(otpp::call(srv, get{"a"}, -5s), Contains("otpp::call: negative timeout"));
  CHECK_THROWS_AS(otpp::try_call(srv, get{"a"}, -1ms), std::invalid_argument);
  CHECK_THROWS_WITH(otpp::call_for(srv, get{"a"}, -1ms), Contains("negative timeout"));
  auto pending = otpp::call_async(srv, get{"a"});
  CHECK_THROWS_WITH(pending.wait_for(-1ms), Contains("pending_call::wait_for"));
  CHECK(pending.wait().value() == 0); // the call is still in flight and answered
  CHECK_THROWS_WITH(otpp::stop(srv, exit_reason::normal(), -1s), Contains("otpp::stop"));
  CHECK_THROWS_WITH(otpp::start(otpp::start_options{.timeout = -1s}, kv(), tp::self()),
                    Contains("otpp::start: negative timeout"));
  CHECK(otpp::call(srv, get{"a"}) == 0); // nothing of it reached the server
  // A handler that asks for a negative inactivity timeout ends its server
  // with the error (OTP: the callback raised badarg).
  struct arm {};
  auto bad = otpp::server<int>().on_cast([](int&, arm) { return otpp::act::timeout(-1ms); });
  auto b = otpp::start(bad, 0);
  otpp::ref m = otpp::monitor(b);
  otpp::cast(b, arm{});
  auto why = otpp_test::down_reason(m);
  CHECK(why.exception_type() == "std::invalid_argument");
  CHECK_THAT(std::string(why.detail()), Contains("otpp::act::timeout"));
  otpp::stop(srv);
}

TEST_CASE("call, try_call, call_async, cast, send, monitor and stop reach a server by its "
          "registered name, typed or untyped",
          "[behaviour][call]") {
  const unsigned n = GENERATE(1u, 3u);
  OTPP_TEST_RUNTIME({.schedulers = n});
  auto srv = otpp::start(otpp::start_options{.name = "kv"}, kv(), tp::self());
  REQUIRE(otpp::whereis("kv") == srv.pid());

  SECTION("typed: by_name<Def>(name) knows the reply types") {
    auto kvn = otpp::by_name<kv_def>("kv");
    STATIC_REQUIRE(otpp::process_target<decltype(kvn)>);
    STATIC_REQUIRE(std::is_same_v<decltype(otpp::call(kvn, get{"a"})), int>);
    STATIC_REQUIRE(std::is_same_v<decltype(otpp::call(kvn, held_count{})), std::size_t>);
    CHECK(kvn.name() == "kv");
    CHECK(kvn.resolve() == srv.pid());
    otpp::cast(kvn, put{"a", 1});
    CHECK(otpp::call(kvn, get{"a"}) == 1);
    CHECK(otpp::call_for(kvn, get{"a"}, 2.5s) == 1);
    CHECK(otpp::try_call(kvn, get{"a"}, 250ms).value() == 1);
    auto p = otpp::call_async(kvn, get{"a"});
    CHECK(p.server() == srv.pid());
    CHECK(p.wait().value() == 1);
    otpp::send(kvn, note{"typed"});
    CHECK(expect<seen>().text == "typed");
    otpp::ref m = otpp::monitor(kvn);
    otpp::stop(kvn, exit_reason::shutdown());
    CHECK(otpp_test::down_reason(m) == exit_reason::shutdown());
  }
  SECTION("untyped: by_name(name) with the reply type named") {
    auto kvn = otpp::by_name("kv");
    STATIC_REQUIRE(otpp::process_target<decltype(kvn)>);
    otpp::cast(kvn, put{"b", 2});
    CHECK(otpp::call<int>(kvn, get{"b"}) == 2);
    CHECK(otpp::call_for<int>(kvn, get{"b"}, 0.5s) == 2);
    CHECK(otpp::try_call<int>(kvn, get{"b"}).value() == 2);
    CHECK(otpp::call_async<int>(kvn, get{"b"}).wait().value() == 2);
    otpp::send(kvn, note{"untyped"});
    CHECK(expect<seen>().text == "untyped");
    otpp::ref m = otpp::monitor(kvn);
    otpp::stop(kvn);
    CHECK(otpp_test::down_reason(m) == exit_reason::normal());
  }
  CHECK(otpp::info(srv).status == otpp::process_status::exited);
  CHECK_FALSE(otpp::whereis("kv"));

  // The name is looked up on each use: the same named<> reaches a new holder.
  auto kvn = otpp::by_name<kv_def>("kv");
  auto next = otpp::start(otpp::start_options{.name = "kv"}, kv(), tp::self());
  otpp::cast(kvn, put{"c", 3});
  CHECK(otpp::call(next, get{"c"}) == 3);
  CHECK(otpp::call(kvn, get{"a"}) == 0);
  CHECK(tp::mailbox_length() == 0);
}

TEST_CASE("a name nobody holds: calls and stop fail with noproc naming it, casts and sends are "
          "lost, a monitor gets a down with noproc at once",
          "[behaviour][call]") {
  const unsigned n = GENERATE(1u, 3u);
  OTPP_TEST_RUNTIME({.schedulers = n});
  auto missing = otpp::by_name<kv_def>("missing");
  auto untyped = otpp::by_name("missing");
  REQUIRE_FALSE(missing.resolve());

  otpp::call_error e = failure_of([&] { otpp::call(missing, get{"a"}); });
  CHECK(e.reason() == exit_reason::noproc());
  CHECK_THAT(std::string(e.what()), Catch::Contains("\"missing\""));
  CHECK_FALSE(e.server());
  e = failure_of([&] { otpp::call<int>(untyped, get{"a"}, 0.1s); });
  CHECK(e.reason() == exit_reason::noproc());
  CHECK_THAT(std::string(e.what()), Catch::Contains("\"missing\""));

  auto r = otpp::try_call(missing, get{"a"});
  REQUIRE_FALSE(r.ok());
  CHECK(r.error() == exit_reason::noproc());
  CHECK_FALSE(r.server());
  CHECK_THROWS_WITH(r.value(), Catch::Contains("\"missing\""));
  CHECK(otpp::try_call<int>(untyped, get{"a"}).error() == exit_reason::noproc());
  CHECK(otpp::call_async(missing, get{"a"}).wait().error() == exit_reason::noproc());
  CHECK(otpp::call_async<int>(untyped, get{"a"}).wait().error() == exit_reason::noproc());

  CHECK_NOTHROW(otpp::cast(missing, put{"a", 1}));
  CHECK_NOTHROW(otpp::cast(untyped, put{"a", 1}));
  CHECK_NOTHROW(otpp::send(untyped, note{"lost"}));
  CHECK_NOTHROW(otpp::send(missing, note{"lost"}));

  otpp::ref m = otpp::monitor(untyped);
  auto d =
      tp::receive(otpp::when([m](const otpp::down& x) { return x.monitor == m; },
                             [](otpp::down& x) -> std::optional<exit_reason> { return x.reason; }),
                  otpp::after(0ms, []() -> std::optional<exit_reason> { return std::nullopt; }));
  REQUIRE(d.has_value());
  CHECK(*d == exit_reason::noproc());

  e = failure_of([&] { otpp::stop(missing); });
  CHECK(e.reason() == exit_reason::noproc());
  CHECK_THAT(std::string(e.what()), Catch::Contains("\"missing\""));
  e = failure_of([&] { otpp::stop(untyped, exit_reason::shutdown(), 1.5s); });
  CHECK(e.reason() == exit_reason::noproc());
  CHECK(tp::mailbox_length() == 0);
}

TEST_CASE("a process calling or stopping itself, by pid, handle or name, fails with "
          "calling_self instead of deadlocking",
          "[behaviour][call]") {
  const unsigned n = GENERATE(1u, 3u);
  OTPP_TEST_RUNTIME({.schedulers = n});
  auto calling_self = exit_reason::user("calling_self");
  CHECK(failure_of([] { otpp::call<int>(tp::self(), get{"a"}); }).reason() == calling_self);
  CHECK(otpp::try_call(otpp::handle<kv_def>(tp::self()), get{"a"}).error() == calling_self);
  CHECK(failure_of([] { otpp::stop(tp::self()); }).reason() == calling_self);

  auto srv = otpp::start(otpp::start_options{.name = "kv"}, kv(), tp::self());
  CHECK(otpp::call(srv, call_myself{}) == calling_self.to_string());
  CHECK(otpp::call(srv, stop_myself{}) == calling_self.to_string());
  otpp::cast(srv, put{"a", 5});
  CHECK(otpp::call(otpp::by_name<kv_def>("kv"), get{"a"}) == 5); // still serving
  CHECK(tp::mailbox_length() == 0);
}

} // namespace OTPP_TEST_FILE
