#include <otpp/behaviour/start.hpp>

#include <otpp/behaviour/server.hpp>

#include "otpp_test.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <chrono>
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

// What the probe server's init does.
enum class how { state, ok_continue, stop, ignore, throws, hang };

struct step {};
struct get_log {};
struct quit {
  exit_reason reason;
};
struct started {
  otpp::pid server;
};
struct terminated {
  exit_reason reason;
};
struct init_failure : std::runtime_error {
  using std::runtime_error::runtime_error;
};

struct probe_state {
  otpp::pid owner;
  std::string log;
};

// A server whose init tells `owner` its pid, then does what `how` says.
auto probe() {
  return otpp::server<probe_state>()
      .init([](otpp::pid owner, how h) -> otpp::init_result<probe_state> {
        otpp::send(owner, started{tp::self()});
        switch (h) {
        case how::state:
          return probe_state{owner, "state"};
        case how::ok_continue:
          return otpp::init_ok(probe_state{owner, "init"}, otpp::act::continue_with(step{}));
        case how::stop:
          return otpp::init_stop(exit_reason::user("no"));
        case how::ignore:
          return otpp::init_ignore();
        case how::throws:
          throw init_failure("bad config");
        case how::hang:
          otpp_test::wait_forever();
          break;
        }
        return probe_state{owner, "unreachable"};
      })
      .on_continue([](probe_state& s, step) { s.log += " continue"; })
      .on_call([](const probe_state& s, get_log) { return s.log; })
      .on_cast([](probe_state&, const quit& q) { return otpp::act::stop(q.reason); })
      .on_terminate(
          [](probe_state& s, const exit_reason& r) { otpp::send(s.owner, terminated{r}); });
}

bool contains(const std::vector<otpp::pid>& v, const otpp::pid& p) {
  return std::find(v.begin(), v.end(), p) != v.end();
}

// A protocol for a user-written loop: calls of `ask` answered with an int.
struct ask {
  int v;
};
struct echo_protocol {
  template <class M> static constexpr bool handles_call = std::is_same_v<M, ask>;
  template <class M> static constexpr bool handles_cast = false;
  template <class M> using call_reply_t = int;
};
struct seen_ctx {
  otpp::pid starter;
  otpp::pid parent;
  otpp::pid registered;
};

// Acknowledge, then answer one `ask` (doubled) and end.
auto echo_once(otpp::pid test, std::string name = {}) {
  return [test, name](otpp::init_context& ctx) {
    otpp::send(test, seen_ctx{ctx.starter(), ctx.parent(),
                              name.empty() ? otpp::pid() : otpp::whereis(name)});
    ctx.ack();
    auto req = tp::receive<otpp::request<ask>>();
    otpp::send_reply(req.from, req.value.v * 2);
  };
}

} // namespace

TEST_CASE("start, start_link and start_monitor and their try_ forms return a handle once init "
          "has run, with the state init returned or its action run first",
          "[behaviour][start]") {
  const unsigned n = GENERATE(1u, 3u);
  const how h = GENERATE(how::state, how::ok_continue);
  const std::string log = h == how::state ? "state" : "init continue";
  OTPP_TEST_RUNTIME({.schedulers = n});
  otpp::pid me = tp::self();
  auto served = [&](const otpp::server_ref<decltype(probe())>& s) {
    CHECK(expect<started>().server == s.pid());
    CHECK(otpp::call(s, get_log{}) == log);
  };

  auto a = otpp::start(probe(), me, h);
  served(a);
  auto ta = otpp::try_start(probe(), me, h);
  REQUIRE(ta.ok());
  CHECK_FALSE(ta.ignored());
  CHECK_FALSE(ta.errc().has_value());
  served(ta.value());
  CHECK_FALSE(contains(otpp::info(a).links, me));

  auto b = otpp::start_link(probe(), me, h);
  served(b);
  CHECK(contains(otpp::info(b).links, me));
  auto tb = otpp::try_start_link(otpp::start_options{.name = "linked"}, probe(), me, h);
  REQUIRE(tb.ok());
  served(tb.value());
  CHECK(otpp::whereis("linked") == tb.value().pid());

  auto c = otpp::start_monitor(probe(), me, h);
  served(c.handle);
  CHECK(contains(otpp::info(c.handle).monitored_by, me));
  auto tc = otpp::try_start_monitor(otpp::start_options{.timeout = 0.5s}, probe(), me, h);
  REQUIRE(tc.ok());
  served(tc.value().handle);
  CHECK(tc.value().monitor != c.monitor);

  for (const auto& s : {a, ta.value(), b, tb.value(), c.handle, tc.value().handle}) {
    otpp::stop(s);
    CHECK(expect<terminated>().reason == exit_reason::normal());
  }
  CHECK(otpp_test::down_reason(c.monitor) == exit_reason::normal());
  CHECK(otpp_test::down_reason(tc.value().monitor) == exit_reason::normal());
  CHECK(tp::mailbox_length() == 0);
}

TEST_CASE("init_stop, init_ignore, a throwing init and an init past the start timeout make every "
          "start form fail or report ignored, with the server ended and nothing left behind",
          "[behaviour][start]") {
  const unsigned n = GENERATE(1u, 3u);
  const how h = GENERATE(how::stop, how::ignore, how::throws, how::hang);
  report_guard g(quiet());
  OTPP_TEST_RUNTIME({.schedulers = n});
  tp::trap_exit(true); // a linked start that fails must not take the test process down
  otpp::pid me = tp::self();
  const otpp::start_options opts{.timeout = 0.05s};
  const otpp::start_errc code = h == how::ignore ? otpp::start_errc::ignored
                                : h == how::hang ? otpp::start_errc::timeout
                                                 : otpp::start_errc::init_failed;
  auto check_reason = [h](const exit_reason& r) {
    switch (h) {
    case how::stop:
      CHECK(r == exit_reason::user("no"));
      break;
    case how::ignore:
      CHECK(r == exit_reason::normal());
      break;
    case how::throws:
      CHECK(r.which() == exit_reason::kind::exception);
      CHECK_THAT(std::string(r.exception_type()), Catch::EndsWith("init_failure"));
      CHECK(r.detail() == "bad config");
      break;
    default:
      CHECK(r == exit_reason::timeout());
    }
  };
  // The server whose init ran has ended by the time start returns.
  auto ended = [] {
    otpp::pid p = expect<started>().server;
    CHECK(otpp::info(p).status == otpp::process_status::exited);
  };

  std::vector<otpp::start_result<otpp::server_ref<decltype(probe())>>> results;
  results.push_back(otpp::try_start(opts, probe(), me, h));
  ended();
  results.push_back(otpp::try_start_link(opts, probe(), me, h));
  ended();
  auto m = otpp::try_start_monitor(opts, probe(), me, h);
  ended();
  CHECK_FALSE(m.ok());
  CHECK(m.ignored() == (h == how::ignore));
  check_reason(m.error());
  for (auto& r : results) {
    CHECK_FALSE(r.ok());
    CHECK_FALSE(r);
    CHECK(r.ignored() == (h == how::ignore));
    CHECK(r.errc() == code);
    check_reason(r.error());
    CHECK_THROWS_AS(r.value(), otpp::start_error);
  }

  // The throwing forms: start_error with the reason, or ignored.
  auto thrown = [&](auto start) {
    try {
      start();
      FAIL("start did not throw");
    } catch (const otpp::start_error& e) {
      CHECK(e.ignored() == (h == how::ignore));
      CHECK(e.code() == code);
      check_reason(e.reason());
      if (h == how::throws)
        CHECK_THAT(std::string(e.what()), Catch::Contains("init_failure"));
    }
    ended();
  };
  thrown([&] { (void)otpp::start(opts, probe(), me, h); });
  thrown([&] { (void)otpp::start_link(opts, probe(), me, h); });
  thrown([&] { (void)otpp::start_monitor(opts, probe(), me, h); });

  // No exit message (linked), no down (monitored), no late ack, no terminate.
  CHECK(otpp_test::nothing<otpp::any_message>());
  CHECK(tp::mailbox_length() == 0);
}

TEST_CASE("a linked start whose init stops or throws takes a caller that does not trap exits "
          "down with the reason, and an ignored one does not",
          "[behaviour][start]") {
  const unsigned n = GENERATE(1u, 3u);
  report_guard g(quiet());
  OTPP_TEST_RUNTIME({.schedulers = n});
  auto linked_start = [](how h) {
    return otpp_test::exit_of([h] {
      (void)otpp::try_start_link(probe(), tp::self(), h);
      tp::exit(exit_reason::user("survived"));
    });
  };
  CHECK(linked_start(how::stop) == exit_reason::user("no"));
  CHECK(linked_start(how::throws).which() == exit_reason::kind::exception);
  CHECK(linked_start(how::ignore) == exit_reason::user("survived"));
}

TEST_CASE("a name already taken fails every start form with already_started carrying the "
          "holder's pid, before init runs",
          "[behaviour][start]") {
  const unsigned n = GENERATE(1u, 3u);
  OTPP_TEST_RUNTIME({.schedulers = n});
  otpp::pid me = tp::self();
  otpp::pid holder = otpp::spawn(otpp_test::wait_forever);
  otpp::register_name("taken", holder);
  const otpp::start_options opts{.name = "taken"};
  auto check = [&](const exit_reason& r) {
    CHECK(r == exit_reason::user("already_started"));
    const auto* p = std::any_cast<otpp::pid>(&r.payload());
    REQUIRE(p != nullptr);
    CHECK(*p == holder);
  };
  check(otpp::try_start(opts, probe(), me, how::state).error());
  // Not trapping exits: the refused server ends normally and the link does no harm.
  check(otpp::try_start_link(opts, probe(), me, how::state).error());
  auto m = otpp::try_start_monitor(opts, probe(), me, how::state);
  REQUIRE_FALSE(m.ok());
  check(m.error());
  CHECK(m.errc() == otpp::start_errc::already_started);
  try {
    (void)otpp::start(opts, probe(), me, how::state);
    FAIL("start did not throw");
  } catch (const otpp::start_error& e) {
    check(e.reason());
    CHECK_FALSE(e.ignored());
    CHECK(e.code() == otpp::start_errc::already_started);
    CHECK(fmt::format("{}", e.code()) == "already_started");
    CHECK_THAT(std::string(e.what()), Catch::Contains("already_started"));
  }
  CHECK(otpp_test::nothing<started>()); // no init ran
  CHECK(otpp::whereis("taken") == holder);
  CHECK(otpp::info(holder).status != otpp::process_status::exited);
  CHECK(tp::mailbox_length() == 0);
}

TEST_CASE("start_monitor's monitor delivers a down when the server is stopped or stops later",
          "[behaviour][start]") {
  const unsigned n = GENERATE(1u, 3u);
  report_guard g(quiet());
  OTPP_TEST_RUNTIME({.schedulers = n});
  otpp::pid me = tp::self();
  auto a = otpp::start_monitor(probe(), me, how::state);
  auto b = otpp::try_start_monitor(probe(), me, how::ok_continue).value();
  expect<started>();
  expect<started>();
  CHECK(otpp_test::nothing<otpp::down>()); // both run
  otpp::stop(a.handle, exit_reason::shutdown());
  CHECK(otpp_test::down_reason(a.monitor) == exit_reason::shutdown());
  otpp::cast(b.handle, quit{exit_reason::user("later")});
  CHECK(otpp_test::down_reason(b.monitor) == exit_reason::user("later"));
  CHECK(expect<terminated>().reason == exit_reason::shutdown());
  CHECK(expect<terminated>().reason == exit_reason::user("later"));
  CHECK(tp::mailbox_length() == 0);
}

TEST_CASE("a user-written loop started with start_process acks, then serves calls through its "
          "handle or pid, and the init context names its starter and parent",
          "[behaviour][start]") {
  const unsigned n = GENERATE(1u, 3u);
  OTPP_TEST_RUNTIME({.schedulers = n});
  otpp::pid me = tp::self();

  SECTION("a typed handle, monitored, registered") {
    auto [r, mon] = otpp::start_process<otpp::handle<echo_protocol>>(
        otpp::start_options{.name = "echo"}, otpp::start_mode::monitor, echo_once(me, "echo"));
    REQUIRE(r.ok());
    otpp::handle<echo_protocol> h = r.value();
    seen_ctx c = expect<seen_ctx>();
    CHECK(c.starter == me);
    CHECK_FALSE(c.parent);
    CHECK(c.registered == h.pid()); // registered before the body ran
    STATIC_REQUIRE(std::is_same_v<decltype(otpp::call(h, ask{1})), int>);
    CHECK(otpp::call(otpp::by_name<echo_protocol>("echo"), ask{21}) == 42);
    CHECK(otpp_test::down_reason(mon) == exit_reason::normal()); // it served one and ended
  }
  SECTION("a pid, linked") {
    auto r = otpp::start_process<otpp::pid>({}, otpp::start_mode::link, echo_once(me)).first;
    REQUIRE(r.ok());
    otpp::pid p = r.value();
    seen_ctx c = expect<seen_ctx>();
    CHECK(c.starter == me);
    CHECK(c.parent == me);
    CHECK(contains(otpp::info(p).links, me));
    otpp::ref m = otpp::monitor(p);
    CHECK(otpp::call<int>(p, ask{5}) == 10);
    CHECK(otpp_test::down_reason(m) == exit_reason::normal());
  }
  SECTION("a pid, not linked") {
    auto r = otpp::start_process<otpp::pid>({}, otpp::start_mode::plain, echo_once(me)).first;
    REQUIRE(r.ok());
    CHECK_FALSE(expect<seen_ctx>().parent);
    CHECK_FALSE(contains(otpp::info(r.value()).links, me));
    CHECK(otpp::try_call<int>(r.value(), ask{-4}).value() == -8);
  }
  CHECK(tp::mailbox_length() == 0);
}

TEST_CASE("a user-written loop that calls ctx.fail, ctx.fail_quietly or ctx.ignore makes "
          "start_process report it, and has ended when it returns",
          "[behaviour][start]") {
  const unsigned n = GENERATE(1u, 3u);
  const auto mode =
      GENERATE(otpp::start_mode::plain, otpp::start_mode::link, otpp::start_mode::monitor);
  OTPP_TEST_RUNTIME({.schedulers = n});
  tp::trap_exit(true); // a linked start that fails must not take the test process down
  otpp::pid me = tp::self();
  auto body = [me](int which) {
    return [me, which](otpp::init_context& ctx) {
      otpp::send(me, started{tp::self()});
      if (which == 0)
        ctx.fail(exit_reason::user("refused"));
      if (which == 1)
        ctx.fail_quietly(exit_reason::user("quietly"));
      ctx.ignore();
    };
  };
  auto ended_with = [](const exit_reason& expected) {
    otpp::pid p = expect<started>().server;
    auto info = otpp::info(p);
    CHECK(info.status == otpp::process_status::exited);
    REQUIRE(info.exit_reason.has_value());
    CHECK(*info.exit_reason == expected);
  };

  auto [failed, m1] = otpp::start_process<otpp::pid>({}, mode, body(0));
  CHECK_FALSE(failed.ok());
  CHECK_FALSE(failed.ignored());
  CHECK(failed.error() == exit_reason::user("refused"));
  CHECK_FALSE(m1);
  ended_with(exit_reason::user("refused"));

  auto [quiet_fail, m2] = otpp::start_process<otpp::pid>({}, mode, body(1));
  CHECK(quiet_fail.error() == exit_reason::user("quietly"));
  CHECK_FALSE(m2);
  ended_with(exit_reason::normal());

  auto [ignored, m3] = otpp::start_process<otpp::pid>({}, mode, body(2));
  CHECK(ignored.ignored());
  CHECK_FALSE(ignored.ok());
  CHECK_FALSE(m3);
  ended_with(exit_reason::normal());

  CHECK(otpp_test::nothing<otpp::any_message>()); // no ack, down or exit message left
}

TEST_CASE("a user-written loop that ends, exits or throws before acknowledging makes "
          "start_process fail with its exit reason, and one that never acks fails with timeout",
          "[behaviour][start]") {
  const unsigned n = GENERATE(1u, 3u);
  const auto mode =
      GENERATE(otpp::start_mode::plain, otpp::start_mode::link, otpp::start_mode::monitor);
  report_guard g(quiet());
  OTPP_TEST_RUNTIME({.schedulers = n});
  tp::trap_exit(true);
  auto error_of = [mode](auto body, otpp::start_options opts = {}) {
    auto [r, m] = otpp::start_process<otpp::pid>(std::move(opts), mode, std::move(body));
    CHECK_FALSE(r.ok());
    CHECK_FALSE(r.ignored());
    CHECK_FALSE(m);
    return r.error();
  };
  CHECK(error_of([](otpp::init_context&) {}) == exit_reason::normal());
  CHECK(error_of([](otpp::init_context&) { tp::exit(exit_reason::user("gone")); }) ==
        exit_reason::user("gone"));
  CHECK(error_of([](otpp::init_context&) { throw std::runtime_error("early"); }) ==
        exit_reason::exception("std::runtime_error", "early"));
  otpp::pid me = tp::self();
  CHECK(error_of(
            [me](otpp::init_context&) {
              otpp::send(me, started{tp::self()});
              otpp_test::wait_forever();
            },
            otpp::start_options{.timeout = 0.02s}) == exit_reason::timeout());
  auto info = otpp::info(expect<started>().server);
  CHECK(info.status == otpp::process_status::exited);
  CHECK(info.exit_reason == exit_reason::killed());
  CHECK(otpp_test::nothing<otpp::any_message>());
}

} // namespace OTPP_TEST_FILE
