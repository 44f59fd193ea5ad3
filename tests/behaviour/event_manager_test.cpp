// Event managers (gen_event): handlers added, notified in order, called,
// deleted and swapped; a failing handler removed alone; supervised
// handlers both ways; the manager stopped and supervised; on one and on
// several schedulers.
// Distributed under the Boost Software License, Version 1.0.
#include <otpp/behaviour/event_manager.hpp>
#include <otpp/behaviour/supervisor.hpp>

#include "otpp_test.hpp"

#include <otpp/core/monitor.hpp>

#include <catch2/catch.hpp>

#include <chrono>
#include <stdexcept>
#include <string>
#include <vector>

namespace OTPP_TEST_FILE {

using namespace std::chrono_literals;
namespace tp = otpp::this_process;
using otpp::exit_reason;
using otpp::handler_action;
using otpp::handler_exit;
using otpp_test::expect;

namespace {
struct login {
  std::string user;
};
struct logout {
  std::string user;
};
struct boom {};
struct bye {};
struct count_q {};
struct fail_q {};
struct last_q {};

// What the recording handler tells the test.
struct seen {
  std::string handler;
  std::string what;
};
struct terminated {
  std::string handler;
  handler_exit why;
};

// Counts logins, forwards every event to `test`, throws on boom, asks to
// be removed on bye, and reports its terminate; its terminate returns the count.
struct recorder {
  otpp::pid test;
  std::string tag;
  int logins = 0;
};
auto recording(std::string name = "recorder") {
  return otpp::event_handler<recorder>(std::move(name))
      .on_event([](recorder& s, const login& e) {
        ++s.logins;
        otpp::send(s.test, seen{s.tag, "login " + e.user});
      })
      .on_event([](recorder& s, const logout& e) {
        otpp::send(s.test, seen{s.tag, "logout " + e.user});
      })
      .on_event([](recorder&, const boom&) -> handler_action {
        throw std::runtime_error("handler blew up");
      })
      .on_event([](recorder&, const bye&) { return handler_action::remove(); })
      .on_call([](recorder& s, count_q) { return s.logins; })
      .on_call([](recorder&, fail_q) -> int { throw std::logic_error("bad query"); })
      .on_call([](recorder& s, last_q) {
        return otpp::handler_reply(s.logins, handler_action::remove());
      })
      .on_info([](recorder& s, const otpp::exit_message& e) {
        otpp::send(s.test, seen{s.tag, "exit " + e.reason.to_string()});
      })
      .on_terminate([](recorder& s, const handler_exit& why) {
        otpp::send(s.test, terminated{s.tag, why});
        return s.logins;
      });
}

// The handler a recorder is swapped to: its state starts from the old count.
struct tally {
  int total;
  otpp::pid test;
};
auto tallying() {
  return otpp::event_handler<tally>("tally")
      .init([](int from_old, otpp::pid test) {
        return tally{from_old, test};
      })
      .on_event([](tally& s, const login&) { ++s.total; })
      .on_call([](tally& s, count_q) { return s.total; });
}

std::vector<std::string> drain_seen(const std::string& tag) {
  std::vector<std::string> out;
  while (auto s = tp::receive_for<seen>(0ms)) {
    if (s->handler == tag)
      out.push_back(s->what);
  }
  return out;
}
} // namespace

TEST_CASE("event_manager: sync_notify returns after every handler ran, in the order added",
          "[event_manager]") {
  const unsigned n = GENERATE(1u, 3u);
  OTPP_TEST_RUNTIME({.schedulers = n});
  auto mgr = otpp::start(otpp::event_manager("log"));
  auto a = otpp::add_handler(mgr, recording("a"), recorder{tp::self(), "a"});
  auto b = otpp::add_handler(mgr, recording("b"), recorder{tp::self(), "b"});
  CHECK(a.id().name == "a");
  CHECK(a.id().serial != b.id().serial);
  CHECK(otpp::which_handlers(mgr) == std::vector<otpp::handler_id>{a.id(), b.id()});
  otpp::sync_notify(mgr, login{"ann"});
  // Both ran before sync_notify returned: their messages are already here, a first.
  auto first = tp::receive_for<seen>(0ms);
  auto second = tp::receive_for<seen>(0ms);
  REQUIRE(first);
  REQUIRE(second);
  CHECK(first->handler == "a");
  CHECK(second->handler == "b");
  CHECK(second->what == "login ann");
  otpp::stop(mgr);
}

TEST_CASE("event_manager: notify reaches each handler in the order sent", "[event_manager]") {
  const unsigned n = GENERATE(1u, 3u);
  OTPP_TEST_RUNTIME({.schedulers = n});
  auto mgr = otpp::start(otpp::event_manager());
  otpp::add_handler(mgr, recording("a"), recorder{tp::self(), "a"});
  otpp::add_handler(mgr, recording("b"), recorder{tp::self(), "b"});
  std::vector<std::string> sent;
  for (int i = 0; i < 200; ++i) {
    std::string u = std::to_string(i);
    if (i % 3 == 0) {
      otpp::notify(mgr, logout{u});
      sent.push_back("logout " + u);
    } else {
      otpp::notify(mgr, login{u});
      sent.push_back("login " + u);
    }
  }
  otpp::sync_notify(mgr, count_q{}); // an event no handler takes: still a barrier
  std::vector<std::string> a, b;
  while (auto s = tp::receive_for<seen>(0ms))
    (s->handler == "a" ? a : b).push_back(s->what);
  CHECK(a == sent);
  CHECK(b == sent);
  otpp::stop(mgr);
}

TEST_CASE("event_manager: a handler that throws is removed alone, with the reason",
          "[event_manager]") {
  const unsigned n = GENERATE(1u, 2u);
  OTPP_TEST_RUNTIME({.schedulers = n});
  otpp_test::report_guard quiet(otpp_test::quiet());
  auto mgr = otpp::start(otpp::event_manager());
  auto a = otpp::add_handler(mgr, recording("a"), recorder{tp::self(), "a"});
  auto b = otpp::add_handler(mgr, recording("b"), recorder{tp::self(), "b"});
  // Only "a" takes boom: give "b" a fresh definition without it.
  otpp::delete_handler(b);
  CHECK(expect<terminated>().why.why == handler_exit::kind::deleted);
  auto c = otpp::add_handler(
      mgr, otpp::event_handler<recorder>("c").on_event([](recorder& s, const login& e) {
        otpp::send(s.test, seen{s.tag, "login " + e.user});
      }),
      recorder{tp::self(), "c"});
  otpp::sync_notify(mgr, boom{});
  auto t = expect<terminated>();
  CHECK(t.handler == "a");
  CHECK(t.why.why == handler_exit::kind::crashed);
  CHECK(t.why.reason.which() == exit_reason::kind::exception);
  CHECK(t.why.reason.to_string().find("std::runtime_error") != std::string::npos);
  CHECK(t.why.reason.to_string().find("handler blew up") != std::string::npos);
  CHECK(otpp::which_handlers(mgr) == std::vector<otpp::handler_id>{c.id()});
  otpp::sync_notify(mgr, login{"bob"}); // the manager and the other handler go on
  CHECK(drain_seen("c") == std::vector<std::string>{"login bob"});
  CHECK_THROWS_AS(otpp::call_handler(a, count_q{}), otpp::call_error);
  otpp::stop(mgr);
}

TEST_CASE("event_manager: a supervised handler's removal is told to its supervisor",
          "[event_manager]") {
  const unsigned n = GENERATE(1u, 2u);
  OTPP_TEST_RUNTIME({.schedulers = n});
  otpp_test::report_guard quiet(otpp_test::quiet());
  auto mgr = otpp::start(otpp::event_manager());

  SECTION("a crash: the error") {
    auto h = otpp::add_sup_handler(mgr, recording(), recorder{tp::self(), "r"});
    otpp::notify(mgr, boom{});
    auto r = expect<otpp::handler_removed>();
    CHECK(r.manager == mgr.pid());
    CHECK(r.handler == h.id());
    CHECK(r.why == handler_exit::kind::crashed);
    CHECK(r.reason.to_string().find("handler blew up") != std::string::npos);
  }
  SECTION("delete_handler: normal, and delete returns terminate's result") {
    auto h = otpp::add_sup_handler(mgr, recording(), recorder{tp::self(), "r"});
    otpp::sync_notify(mgr, login{"x"});
    otpp::sync_notify(mgr, login{"y"});
    int logins = otpp::delete_handler(h);
    CHECK(logins == 2);
    auto r = expect<otpp::handler_removed>();
    CHECK(r.why == handler_exit::kind::deleted);
    CHECK(r.reason == exit_reason::normal());
    CHECK_THROWS_AS(otpp::delete_handler(h), otpp::call_error);
  }
  SECTION("a callback asking to go: normal") {
    auto h = otpp::add_sup_handler(mgr, recording(), recorder{tp::self(), "r"});
    otpp::notify(mgr, bye{});
    auto r = expect<otpp::handler_removed>();
    CHECK(r.handler == h.id());
    CHECK(r.why == handler_exit::kind::removed);
    CHECK(r.reason == exit_reason::normal());
    CHECK(expect<terminated>().why.why == handler_exit::kind::removed);
  }
  SECTION("the manager stops: shutdown") {
    otpp::add_sup_handler(mgr, recording(), recorder{tp::self(), "r"});
    otpp::stop(mgr);
    auto t = expect<terminated>();
    CHECK(t.why.why == handler_exit::kind::stopped);
    CHECK(t.why.reason == exit_reason::normal());
    auto r = expect<otpp::handler_removed>();
    CHECK(r.reason == exit_reason::shutdown());
    return;
  }
  SECTION("a swap: swapped, naming the new handler, which keeps the supervisor") {
    auto h = otpp::add_sup_handler(mgr, recording(), recorder{tp::self(), "r"});
    auto t = otpp::swap_handler(h, tallying(), tp::self());
    auto r = expect<otpp::handler_removed>();
    CHECK(r.why == handler_exit::kind::swapped);
    CHECK(r.swapped_to == t.id());
    otpp::delete_handler(t);
    CHECK(expect<otpp::handler_removed>().handler == t.id());
  }
  otpp::stop(mgr);
}

TEST_CASE("event_manager: the supervisor's end removes its handlers, and others see the exit",
          "[event_manager]") {
  const unsigned n = GENERATE(1u, 2u);
  OTPP_TEST_RUNTIME({.schedulers = n});
  auto mgr = otpp::start(otpp::event_manager());
  otpp::add_handler(mgr, recording("watcher"), recorder{tp::self(), "watcher"});
  otpp::pid test = tp::self();
  otpp::pid owner = otpp::spawn([mgr, test] {
    otpp::add_sup_handler(mgr, recording("owned"), recorder{test, "owned"});
    otpp::send(test, otpp_test::ping{tp::self()});
    tp::receive([](otpp_test::never) {});
  });
  expect<otpp_test::ping>();
  CHECK(otpp::which_handlers(mgr).size() == 2);
  otpp::exit(owner, exit_reason::user("owner_gone"));
  auto t = expect<terminated>();
  CHECK(t.handler == "owned");
  CHECK(t.why.why == handler_exit::kind::supervisor_exited);
  CHECK(t.why.reason == exit_reason::user("owner_gone"));
  auto s = expect<seen>(); // the remaining handler's on_info got the exit message
  CHECK(s.handler == "watcher");
  CHECK(s.what.find("owner_gone") != std::string::npos);
  CHECK(otpp::which_handlers(mgr).size() == 1);
  otpp::stop(mgr);
}

TEST_CASE("event_manager: the supervisor is told nothing more once its handler is gone, and "
          "the manager unlinks from it",
          "[event_manager]") {
  OTPP_TEST_RUNTIME({.schedulers = 2});
  otpp_test::report_guard quiet(otpp_test::quiet());
  auto mgr = otpp::start(otpp::event_manager());
  auto h = otpp::add_sup_handler(mgr, recording(), recorder{tp::self(), "r"});
  CHECK(otpp::info(mgr.pid()).links.size() == 1);
  otpp::delete_handler(h);
  expect<otpp::handler_removed>();
  CHECK(otpp::info(mgr.pid()).links.empty());
  // The manager's end no longer concerns this process.
  tp::trap_exit(true);
  otpp::exit(mgr.pid(), otpp::exit_reason::kill());
  CHECK(otpp_test::nothing<otpp::exit_message>());
  CHECK(otpp_test::nothing<otpp::handler_removed>());
  tp::trap_exit(false);
}

TEST_CASE("event_manager: swap_handler hands the old terminate result to the new init",
          "[event_manager]") {
  const unsigned n = GENERATE(1u, 2u);
  OTPP_TEST_RUNTIME({.schedulers = n});
  auto mgr = otpp::start(otpp::event_manager());
  auto h = otpp::add_handler(mgr, recording(), recorder{tp::self(), "r"});
  auto other = otpp::add_handler(mgr, recording("other"), recorder{tp::self(), "other"});
  for (int i = 0; i < 3; ++i)
    otpp::notify(mgr, login{"u"});
  auto t = otpp::swap_handler(h, tallying(), tp::self());
  CHECK(expect<terminated>().why.why == handler_exit::kind::swapped);
  CHECK(otpp::call_handler(t, count_q{}) == 3);
  otpp::sync_notify(mgr, login{"v"});
  CHECK(otpp::call_handler(t, count_q{}) == 4);
  // The new one took the old one's place.
  CHECK(otpp::which_handlers(mgr) == std::vector<otpp::handler_id>{t.id(), other.id()});
  CHECK(t.id().name == "tally");
  // The old one is gone.
  try {
    otpp::call_handler(h, count_q{});
    FAIL("call to a swapped-out handler");
  } catch (const otpp::call_error& e) {
    CHECK(e.reason().detail() == "no_such_handler");
  }
  otpp::stop(mgr);
}

TEST_CASE("event_manager: call_handler replies, and a call that throws removes the handler",
          "[event_manager]") {
  const unsigned n = GENERATE(1u, 2u);
  OTPP_TEST_RUNTIME({.schedulers = n});
  otpp_test::report_guard quiet(otpp_test::quiet());
  auto mgr = otpp::start(otpp::event_manager());
  auto h = otpp::add_handler(mgr, recording(), recorder{tp::self(), "r"});
  otpp::notify(mgr, login{"a"});
  CHECK(otpp::call_handler(h, count_q{}) == 1);
  try {
    otpp::call_handler(h, fail_q{});
    FAIL("call_handler should have thrown");
  } catch (const otpp::call_error& e) {
    CHECK(e.reason().to_string().find("bad query") != std::string::npos);
    CHECK(std::string(e.what()).find("call_handler") != std::string::npos);
  }
  CHECK(expect<terminated>().why.why == handler_exit::kind::crashed);
  CHECK(otpp::which_handlers(mgr).empty());

  auto h2 = otpp::add_handler(mgr, recording(), recorder{tp::self(), "r"});
  CHECK(otpp::call_handler(h2, last_q{}) == 0); // replies, then goes
  CHECK(expect<terminated>().why.why == handler_exit::kind::removed);
  CHECK(otpp::which_handlers(mgr).empty());
  otpp::stop(mgr);
}

TEST_CASE("event_manager: a handler that exits is removed with its reason, hibernate keeps it",
          "[event_manager]") {
  OTPP_TEST_RUNTIME({.schedulers = 2});
  otpp_test::report_guard quiet(otpp_test::quiet());
  struct quit {};
  struct nap {};
  auto mgr = otpp::start(otpp::event_manager());
  auto h = otpp::add_handler(
      mgr,
      recording("quitter")
          .on_event([](recorder&, const quit&) { tp::exit(exit_reason::user("had_enough")); })
          .on_event([](recorder&, const nap&) { return handler_action::hibernate(); }),
      recorder{tp::self(), "q"});
  otpp::sync_notify(mgr, nap{});
  CHECK(otpp::call_handler(h, count_q{}) == 0);
  otpp::sync_notify(mgr, quit{});
  auto t = expect<terminated>();
  CHECK(t.why.why == handler_exit::kind::crashed);
  CHECK(t.why.reason == exit_reason::user("had_enough"));
  CHECK(otpp::info(mgr.pid()).status != otpp::process_status::exited);
  try {
    otpp::call_handler(h, count_q{});
    FAIL("call to a removed handler");
  } catch (const otpp::call_error& e) {
    CHECK(e.reason().detail() == "no_such_handler");
    CHECK(std::string(e.what()) ==
          fmt::format("otpp::call_handler to {} failed: {}", mgr.pid(), e.reason()));
  }
  otpp::stop(mgr);
}

TEST_CASE("event_manager: an init that throws fails the add and installs nothing",
          "[event_manager]") {
  OTPP_TEST_RUNTIME({.schedulers = 1});
  auto mgr = otpp::start(otpp::event_manager());
  auto failing = otpp::event_handler<int>("failing").init([](int x) -> int {
    if (x < 0)
      throw std::invalid_argument("negative");
    return x;
  });
  try {
    otpp::add_handler(mgr, failing, -1);
    FAIL("add_handler should have thrown");
  } catch (const otpp::call_error& e) {
    CHECK(e.reason().to_string().find("std::invalid_argument") != std::string::npos);
    CHECK(std::string(e.what()).find("add_handler") != std::string::npos);
  }
  CHECK(otpp::which_handlers(mgr).empty());
  auto ok = otpp::add_handler(mgr, failing, 5);
  CHECK(otpp::which_handlers(mgr) == std::vector<otpp::handler_id>{ok.id()});
  otpp::stop(mgr);
  // A manager that is not running.
  CHECK_THROWS_AS(otpp::add_handler(mgr, failing, 1), otpp::call_error);
  CHECK_THROWS_AS(otpp::sync_notify(mgr, login{"x"}), otpp::call_error);
  otpp::notify(mgr, login{"lost"}); // lost silently
  try {
    otpp::sync_notify(otpp::by_name("nobody"), login{"x"});
    FAIL("sync_notify to a name nobody holds");
  } catch (const otpp::call_error& e) {
    CHECK(e.reason() == exit_reason::noproc());
    CHECK(std::string(e.what()).find("\"nobody\"") != std::string::npos);
  }
}

TEST_CASE("event_manager: named, supervised, and shown by get_state and status",
          "[event_manager]") {
  OTPP_TEST_RUNTIME({.schedulers = 2});
  using mgr_def = decltype(otpp::event_manager<login, logout>());
  otpp::supervisor_spec spec{
      .strategy = otpp::one_for_one,
      .children = {otpp::worker("events", [] {
        return otpp::start_link({.name = "events"}, otpp::event_manager<login, logout>("events"));
      })}};
  auto sup = otpp::start(spec);
  auto named = otpp::by_name<mgr_def>("events");
  otpp::add_handler(named, recording(), recorder{tp::self(), "r"});
  otpp::notify(named, login{"n"});
  CHECK(expect<seen>().what == "login n");
  auto handlers = otpp::get_state(named);
  REQUIRE(handlers.size() == 1);
  CHECK(handlers[0].id.name == "recorder");
  CHECK(handlers[0].state.find("recorder") != std::string::npos);
  auto st = otpp::status(named);
  CHECK(st.behaviour == "event_manager");
  CHECK(st.name == "events");
  // Stopping the supervisor stops the manager: its handlers terminate.
  otpp::stop(sup);
  auto t = expect<terminated>();
  CHECK(t.why.why == handler_exit::kind::stopped);
  CHECK(t.why.reason == exit_reason::shutdown());
}

} // namespace OTPP_TEST_FILE
