// Process groups (OTP pg): several joins, leave once per join, removal on
// exit, reads without a round trip, scope and group monitors in order; on
// one and on several schedulers.
// Distributed under the Boost Software License, Version 1.0.
#include <otpp/behaviour/pg.hpp>
#include <otpp/behaviour/supervisor.hpp>

#include "otpp_test.hpp"

#include <otpp/core/monitor.hpp>

#include <catch2/catch.hpp>

#include <algorithm>
#include <chrono>
#include <map>
#include <string>
#include <thread>
#include <vector>

namespace OTPP_TEST_FILE {

using namespace std::chrono_literals;
namespace tp = otpp::this_process;
namespace pg = otpp::pg;
using otpp::pid;
using otpp_test::expect;
using pids = std::vector<pid>;

namespace {
// A process that waits until it is told to go (or killed).
pid idle() {
  return otpp::spawn([] { tp::receive([](otpp_test::never) {}); });
}
} // namespace

TEST_CASE("pg: a process joins several times and leaves once per join", "[pg]") {
  const unsigned n = GENERATE(1u, 3u);
  OTPP_TEST_RUNTIME({.schedulers = n});
  auto scope = otpp::start(pg::scope_def("s"));
  pid a = idle(), b = idle();
  pg::join("s", "g", a);
  pg::join("s", "g", pids{b, a});
  CHECK(pg::get_members("s", "g") == pids{a, b, a});
  CHECK(pg::get_local_members("s", "g") == pids{a, b, a});
  CHECK(pg::which_groups("s") == std::vector<std::string>{"g"});
  // A snapshot stays as it was; a new one sees the change.
  auto found = pg::scope::find("s");
  auto snap = found.members("g");
  pg::join("s", "g", b);
  CHECK(*snap == pids{a, b, a});
  CHECK(*found.members("g") == pids{a, b, a, b});
  CHECK(*found.local_members("g") == pids{a, b, a, b});
  CHECK(found.members("nobody")->empty());
  CHECK(pg::leave("s", "g", b));
  CHECK(pg::leave("s", "g", a));
  CHECK(pg::get_members("s", "g") == pids{a, b}); // the latest join went
  CHECK(pg::leave("s", "g", a));
  CHECK_FALSE(pg::leave("s", "g", a)); // not_joined
  CHECK(pg::get_members("s", "g") == pids{b});
  CHECK(pg::leave("s", "g", b));
  CHECK(pg::get_members("s", "g").empty());
  CHECK(pg::which_groups("s").empty()); // an empty group is gone
  CHECK_FALSE(pg::leave("s", "other", b));
  otpp::kill(a);
  otpp::kill(b);
  otpp::stop(scope);
}

TEST_CASE("pg: members are removed when they end, from every group", "[pg]") {
  const unsigned n = GENERATE(1u, 3u);
  OTPP_TEST_RUNTIME({.schedulers = n});
  auto scope = otpp::start(pg::scope_def("s"));
  pid a = idle(), b = idle();
  pg::join("s", "x", pids{a, a, b});
  pg::join("s", "y", a);
  auto mon = pg::monitor_scope("s");
  CHECK(mon.groups == std::map<std::string, pids>{{"x", {a, a, b}}, {"y", {a}}});
  otpp::kill(a);
  // Two leaves (one per group), a listed once per join it had.
  std::map<std::string, pids> left;
  for (int i = 0; i < 2; ++i) {
    auto note = expect<pg::notification>();
    CHECK(note.monitor == mon.monitor);
    CHECK(note.what == pg::notification::kind::leave);
    left[note.group] = note.pids;
  }
  CHECK(left == std::map<std::string, pids>{{"x", {a, a}}, {"y", {a}}});
  CHECK(pg::get_members("s", "x") == pids{b});
  CHECK(pg::which_groups("s") == std::vector<std::string>{"x"});
  // A process that is already dead when it joins is removed at once.
  pid dead = otpp::spawn([] {});
  otpp_test::down_reason(otpp::monitor(dead));
  pg::join("s", "x", dead);
  auto j = expect<pg::notification>();
  CHECK(j.what == pg::notification::kind::join);
  auto l = expect<pg::notification>();
  CHECK(l.what == pg::notification::kind::leave);
  CHECK(l.pids == pids{dead});
  CHECK(pg::get_members("s", "x") == pids{b});
  otpp::kill(b);
  otpp::stop(scope);
}

TEST_CASE("pg: reads need no round trip to the scope", "[pg]") {
  OTPP_TEST_RUNTIME({.schedulers = 2});
  auto scope = otpp::start(pg::scope_def());
  pid a = idle();
  pg::join("workers", a); // the default scope
  otpp::suspend(scope);   // the scope answers nothing but system messages now
  CHECK(pg::get_members("workers") == pids{a});
  CHECK(pg::get_local_members("workers") == pids{a});
  CHECK(pg::which_groups() == std::vector<std::string>{"workers"});
  // A scope found once reads from any thread.
  auto s = pg::scope::find();
  pids seen;
  std::thread reader([&] { seen = s.get_members("workers"); });
  reader.join();
  CHECK(seen == pids{a});
  otpp::resume(scope);
  otpp::kill(a);
  otpp::stop(scope);
  CHECK_THROWS_AS(pg::get_members("workers"), pg::scope_not_running);
  CHECK_THROWS_AS(pg::join("workers", tp::self()), otpp::call_error);
}

TEST_CASE("pg: a group monitor gets the members, then joins and leaves in order", "[pg]") {
  const unsigned n = GENERATE(1u, 2u);
  OTPP_TEST_RUNTIME({.schedulers = n});
  auto scope = otpp::start(pg::scope_def("s"));
  pid a = idle(), b = idle(), c = idle();
  pg::join("s", "g", a);
  pg::join("s", "other", c);
  auto mon = pg::monitor("s", "g");
  CHECK(mon.members == pids{a});
  // Another process changes the group: its changes arrive in its order.
  otpp::spawn([=] {
    pg::join("s", "g", b);
    pg::join("s", "other", b); // not watched
    pg::leave("s", "g", a);
    pg::join("s", "g", pids{c, c});
  });
  auto n1 = expect<pg::notification>();
  auto n2 = expect<pg::notification>();
  auto n3 = expect<pg::notification>();
  CHECK((n1.what == pg::notification::kind::join && n1.pids == pids{b}));
  CHECK((n2.what == pg::notification::kind::leave && n2.pids == pids{a}));
  CHECK((n3.what == pg::notification::kind::join && n3.pids == pids{c, c}));
  CHECK(n1.group == "g");
  CHECK(n3.monitor == mon.monitor);
  CHECK(otpp_test::nothing<pg::notification>());
  // After demonitor, nothing more arrives.
  CHECK(pg::demonitor("s", mon.monitor));
  CHECK_FALSE(pg::demonitor("s", mon.monitor));
  pg::join("s", "g", a);
  CHECK(otpp_test::nothing<pg::notification>());
  for (pid p : {a, b, c})
    otpp::kill(p);
  otpp::stop(scope);
}

TEST_CASE("pg: a monitoring process's end drops its monitors", "[pg]") {
  OTPP_TEST_RUNTIME({.schedulers = 2});
  auto scope = otpp::start(pg::scope_def("s"));
  pid test = tp::self();
  pid watcher = otpp::spawn([test] {
    pg::monitor_scope("s");
    otpp::send(test, otpp_test::ping{tp::self()});
    tp::receive([](otpp_test::never) {});
  });
  expect<otpp_test::ping>();
  auto before = otpp::info(scope.pid()).monitors.size();
  CHECK(before == 1);
  auto m = otpp::monitor(watcher);
  otpp::kill(watcher);
  otpp_test::down_reason(m);
  // The scope's down was sent when the watcher ended: a call after it is
  // handled after that down.
  CHECK_FALSE(pg::leave("s", "none", test));
  CHECK(otpp::info(scope.pid()).monitors.empty());
  pg::join("s", "g", test); // no watcher left: nothing to send
  CHECK(pg::get_members("s", "g") == pids{test});
  pg::leave("s", "g", test);
  otpp::stop(scope);
}

TEST_CASE("pg: a scope in a supervision tree, and a second one with the name fails", "[pg]") {
  OTPP_TEST_RUNTIME({.schedulers = 2});
  otpp::supervisor_spec spec{
      .strategy = otpp::one_for_one,
      .children = {otpp::worker("pg", [] { return otpp::start_link(pg::scope_def()); })}};
  auto sup = otpp::start(spec);
  pid a = idle();
  pg::join("g", a);
  auto st = otpp::status(otpp::by_name("pg"));
  CHECK(st.behaviour == "pg");
  auto groups = otpp::get_state<pg::scope_definition::state_type>(otpp::by_name("pg"));
  CHECK(groups == std::map<std::string, pids>{{"g", {a}}});
  auto again = otpp::try_start(pg::scope_def());
  CHECK(again.errc() == otpp::start_errc::already_started);
  otpp::stop(sup);
  otpp::kill(a);
}

} // namespace OTPP_TEST_FILE
