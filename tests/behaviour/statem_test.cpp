// State machines (gen_statem): OTP's rules, each its own test, on one and
// on several schedulers.
// Distributed under the Boost Software License, Version 1.0.
#include <otpp/behaviour/statem.hpp>

#include "otpp_test.hpp"

#include <otpp/behaviour/call.hpp>
#include <otpp/behaviour/supervision_tree.hpp>
#include <otpp/behaviour/supervisor.hpp>
#include <otpp/behaviour/sys.hpp>
#include <otpp/core/monitor.hpp>

#include <catch2/catch.hpp>

#include <chrono>
#include <string>
#include <variant>
#include <vector>

namespace OTPP_TEST_FILE {

using namespace std::chrono_literals;
namespace tp = otpp::this_process;
namespace sm = otpp::sm;
using otpp::exit_reason;
using otpp_test::expect;
using otpp_test::nothing;

namespace {

// ---- the door code lock (OTP's gen_statem guide) --------------------------
struct locked {};
struct open {};
struct button {
  char digit;
};
struct lock_now {};
struct status_query {
  using reply_type = std::string;
};
struct door_data {
  std::string code;
  std::string entered;
  otpp::pid observer;
};
struct opened {};
struct relocked {
  std::string entered;
};

auto door(std::chrono::milliseconds open_for) {
  return otpp::statem<door_data, locked, open>()
      .on<locked>([](locked&, door_data& d, button b) -> sm::next<locked, open> {
        d.entered += b.digit;
        if (d.entered == d.code) {
          d.entered.clear();
          return sm::next_state(open{});
        }
        if (d.entered.size() >= d.code.size())
          d.entered.clear();
        return sm::keep_state();
      })
      .on<locked>([](locked&, door_data&, sm::call_of<status_query> q) {
        return sm::reply(q, std::string("locked"));
      })
      .on<open>([](open&, door_data&, sm::call_of<status_query> q) {
        return sm::reply(q, std::string("open"));
      })
      .on<open>([](open&, door_data& d, sm::timeout_of<lock_now>) {
        otpp::send(d.observer, relocked{d.entered});
        return sm::next_state(locked{});
      })
      .on_enter<open>([open_for](open&, door_data& d, const auto&) {
        otpp::send(d.observer, opened{});
        return sm::state_timeout(open_for, lock_now{});
      })
      .postpone<open, button>()
      .exhaustive<button, sm::call_of<status_query>>() // (a compile-time check)
      .named("door");
}

// ---- recorders ------------------------------------------------------------
struct a_state {};
struct b_state {};
struct go_b {};
struct go_a {};
struct stay {};
struct again {};
struct seen {
  std::vector<std::string> what;
};
struct rec_data {
  otpp::pid test;
  std::vector<std::string> log;
};
struct dump {
  using reply_type = std::vector<std::string>;
};

std::string name_of(const std::variant<a_state, b_state>& s) {
  return s.index() == 0 ? "A" : "B";
}

} // namespace

TEST_CASE("statem: the code lock opens, relocks on its state timeout, and postpones buttons "
          "while open",
          "[statem]") {
  const unsigned n = GENERATE(1u, 3u);
  OTPP_TEST_RUNTIME({.schedulers = n});
  auto h = otpp::start(door(150ms), door_data{"1234", "", tp::self()});
  CHECK(otpp::call(h, status_query{}) == "locked");
  for (char c : std::string("1234"))
    otpp::cast(h, button{c});
  expect<opened>();
  CHECK(otpp::call(h, status_query{}) == "open");
  otpp::cast(h, button{'9'}); // postponed while open
  const auto t0 = std::chrono::steady_clock::now();
  auto r = expect<relocked>();
  CHECK(std::chrono::steady_clock::now() - t0 >= 100ms);
  CHECK(r.entered.empty()); // the button waited
  CHECK(otpp::call(h, status_query{}) == "locked");
  // Retried in locked after the change of state:
  CHECK(otpp::get_state(h).data.entered == "9");
  CHECK(otpp::get_state(h).state.index() == 0);
  CHECK_THAT(otpp::status(h).state, Catch::Contains("locked"));
  otpp::stop(h);
}

TEST_CASE("statem: supervision_tree exports show a state machine child's current state",
          "[statem][supervisor]") {
  OTPP_TEST_RUNTIME({.schedulers = 2});
  const otpp::pid test = tp::self();
  auto sup = otpp::start(otpp::supervisor_spec{
      .strategy = otpp::one_for_one,
      .children = {otpp::worker("door",
                                [test] {
                                  return otpp::start_link(door(10s), door_data{"12", "", test});
                                }),
                   otpp::worker("plain", [] { return otpp::spawn_link(otpp_test::wait_forever); })},
      .name = "doors"});
  auto tree = otpp::supervision_tree(sup);
  REQUIRE(tree.children.size() == 2);
  CHECK_THAT(tree.children[0].state_name, Catch::EndsWith("locked"));
  CHECK(tree.children[1].state_name.empty()); // not a state machine
  auto h = otpp::statem_ref<decltype(door(10s))>(tree.children[0].pid);
  otpp::cast(h, button{'1'});
  otpp::cast(h, button{'2'});
  expect<opened>();
  tree = otpp::supervision_tree(sup);
  CHECK_THAT(tree.children[0].state_name, Catch::EndsWith("open"));
  CHECK_THAT(otpp::to_json(tree), Catch::Contains("\"state\": \"") && Catch::Contains("open\""));
  CHECK_THAT(otpp::to_text(tree), Catch::Contains(" state="));
  CHECK_THAT(otpp::to_dot(tree), Catch::Contains("state: "));
  otpp::stop(sup);
}

TEST_CASE("statem: postponed events are retried oldest first, only when the state changes",
          "[statem]") {
  const unsigned n = GENERATE(1u, 2u);
  OTPP_TEST_RUNTIME({.schedulers = n});
  auto def =
      otpp::statem<rec_data, a_state, b_state>()
          .postpone<a_state, int>()
          .on<a_state>([](a_state&, rec_data& d, stay) {
            d.log.push_back("stay");
            return sm::keep_state();
          })
          .on<a_state>([](a_state&, rec_data& d, again) {
            d.log.push_back("repeat");
            return sm::repeat_state();
          })
          .on<a_state>([](a_state&, rec_data&, go_b) { return sm::next_state(b_state{}); })
          .on<b_state>([](b_state&, rec_data& d, int i) { d.log.push_back(std::to_string(i)); })
          .on_any_state([](std::variant<a_state, b_state>&, rec_data& d, sm::call_of<dump> q) {
            return sm::reply(q, d.log);
          });
  auto h = otpp::start(def, rec_data{tp::self(), {}});
  otpp::cast(h, 1);
  otpp::cast(h, 2);
  otpp::cast(h, stay{});
  otpp::cast(h, again{});
  otpp::cast(h, 3);
  otpp::cast(h, go_b{});
  otpp::cast(h, 4);
  CHECK(otpp::call(h, dump{}) == std::vector<std::string>{"stay", "repeat", "1", "2", "3", "4"});
}

TEST_CASE("statem: inserted events run before queued ones, in order", "[statem]") {
  OTPP_TEST_RUNTIME({.schedulers = 1});
  struct first {};
  auto def = otpp::statem<rec_data, a_state>()
                 .on<a_state>([](a_state&, rec_data& d, first) {
                   d.log.push_back("first");
                   tp::sleep_for(20ms); // the next casts are queued meanwhile
                   return sm::keep_state(sm::next_event(1), sm::next_event(2));
                 })
                 .on<a_state>([](a_state&, rec_data& d, sm::internal_of<int> i) {
                   d.log.push_back("internal " + std::to_string(i.value));
                 })
                 .on<a_state>([](a_state&, rec_data& d, int i) {
                   d.log.push_back("cast " + std::to_string(i));
                 })
                 .on<a_state>([](a_state&, rec_data& d, sm::call_of<dump> q) {
                   return sm::reply(q, d.log);
                 });
  auto h = otpp::start(def, rec_data{tp::self(), {}});
  otpp::cast(h, first{});
  otpp::cast(h, 7);
  CHECK(otpp::call(h, dump{}) ==
        std::vector<std::string>{"first", "internal 1", "internal 2", "cast 7"});
}

TEST_CASE("statem: enter calls run on the initial state, on a change and on repeat, with the "
          "old state",
          "[statem]") {
  const unsigned n = GENERATE(1u, 2u);
  OTPP_TEST_RUNTIME({.schedulers = n});
  auto enter_log = [](auto& s, rec_data& d, const std::variant<a_state, b_state>& old) {
    std::variant<a_state, b_state> now = s;
    d.log.push_back(name_of(old) + "->" + name_of(now));
  };
  auto def = otpp::statem<rec_data, a_state, b_state>()
                 .on_enter<a_state>(enter_log)
                 .on_enter<b_state>(enter_log)
                 .on_any_state([](std::variant<a_state, b_state>&, rec_data&, go_b) {
                   return sm::next_state(b_state{});
                 })
                 .on_any_state([](std::variant<a_state, b_state>&, rec_data&, go_a) {
                   return sm::next_state(a_state{});
                 })
                 .on_any_state([](std::variant<a_state, b_state>&, rec_data&, stay) {
                   return sm::keep_state();
                 })
                 .on_any_state([](std::variant<a_state, b_state>&, rec_data&, again) {
                   return sm::repeat_state();
                 })
                 .on_any_state([](std::variant<a_state, b_state>&, rec_data& d,
                                  sm::call_of<dump> q) { return sm::reply(q, d.log); });
  auto h = otpp::start(def, rec_data{tp::self(), {}});
  otpp::cast(h, stay{});  // no enter
  otpp::cast(h, go_b{});  // A->B
  otpp::cast(h, go_b{});  // the same state: no change, no enter
  otpp::cast(h, again{}); // repeat: B->B
  otpp::cast(h, go_a{});  // B->A
  CHECK(otpp::call(h, dump{}) == std::vector<std::string>{"A->A", "A->B", "B->B", "B->A"});
}

namespace {
struct ping_t {};
struct tmo {
  int id;
};
struct fired {
  int id;
  sm::timeout_kind kind;
  std::string name;
  std::string state;
};
struct set_state_t {
  std::chrono::milliseconds t;
};
struct set_event_t {
  std::chrono::milliseconds t;
};
struct set_generic_t {
  std::string name;
  std::chrono::milliseconds t;
  int id;
};
struct cancel_generic_t {
  std::string name;
};
struct update_generic_t {
  std::string name;
  int id;
};

auto timer_machine() {
  using V = std::variant<a_state, b_state>;
  auto report = [](V& s, rec_data& d, sm::timeout_of<tmo> t) {
    otpp::send(d.test, fired{t.value.id, t.kind, t.name, name_of(s)});
  };
  return otpp::statem<rec_data, a_state, b_state>()
      .on_any_state(report)
      .on_any_state([](V&, rec_data&, set_state_t s) {
        return sm::keep_state(sm::state_timeout(s.t, tmo{1}));
      })
      .on_any_state([](V&, rec_data&, set_event_t s) {
        return sm::keep_state(sm::event_timeout(s.t, tmo{2}));
      })
      .on_any_state([](V&, rec_data&, set_generic_t s) {
        return sm::keep_state(sm::generic_timeout(s.name, s.t, tmo{s.id}));
      })
      .on_any_state([](V&, rec_data&, cancel_generic_t c) {
        return sm::keep_state(sm::cancel_timeout(c.name));
      })
      .on_any_state([](V&, rec_data&, update_generic_t u) {
        return sm::keep_state(sm::update_timeout(u.name, tmo{u.id}));
      })
      .on_any_state([](V&, rec_data&, go_b) { return sm::next_state(b_state{}); })
      .on_any_state([](V&, rec_data&, go_a) { return sm::next_state(a_state{}); })
      .on_any_state([](V&, rec_data&, ping_t) {});
}
} // namespace

TEST_CASE("statem: a state timeout fires in its state, never early, and a change of state "
          "cancels it",
          "[statem][timeout]") {
  const unsigned n = GENERATE(1u, 2u);
  OTPP_TEST_RUNTIME({.schedulers = n});
  auto h = otpp::start(timer_machine(), rec_data{tp::self(), {}});
  auto t0 = std::chrono::steady_clock::now();
  otpp::cast(h, set_state_t{60ms});
  otpp::cast(h, ping_t{}); // other events do not cancel it
  auto f = expect<fired>();
  CHECK(std::chrono::steady_clock::now() - t0 >= 60ms);
  CHECK(f.id == 1);
  CHECK(f.kind == sm::timeout_kind::state);
  CHECK(f.state == "A");
  otpp::cast(h, set_state_t{60ms});
  otpp::cast(h, go_b{});
  CHECK(nothing<fired>(150ms));
}

TEST_CASE("statem: an event timeout is cancelled by any event", "[statem][timeout]") {
  OTPP_TEST_RUNTIME({.schedulers = 1});
  auto h = otpp::start(timer_machine(), rec_data{tp::self(), {}});
  otpp::cast(h, set_event_t{80ms});
  otpp::cast(h, ping_t{});
  CHECK(nothing<fired>(200ms));
  auto t0 = std::chrono::steady_clock::now();
  otpp::cast(h, set_event_t{50ms});
  auto f = expect<fired>();
  CHECK(std::chrono::steady_clock::now() - t0 >= 50ms);
  CHECK(f.kind == sm::timeout_kind::event);
}

TEST_CASE("statem: a generic timeout survives a change of state, restarts, updates and cancels",
          "[statem][timeout]") {
  const unsigned n = GENERATE(1u, 2u);
  OTPP_TEST_RUNTIME({.schedulers = n});
  auto h = otpp::start(timer_machine(), rec_data{tp::self(), {}});
  otpp::cast(h, set_generic_t{"g", 60ms, 10});
  otpp::cast(h, go_b{});
  auto f = expect<fired>();
  CHECK(f.id == 10);
  CHECK(f.kind == sm::timeout_kind::generic);
  CHECK(f.name == "g");
  CHECK(f.state == "B");
  // Restarted with a new time and message: only the second fires.
  otpp::cast(h, set_generic_t{"g", 40ms, 11});
  otpp::cast(h, set_generic_t{"g", 120ms, 12});
  auto t0 = std::chrono::steady_clock::now();
  f = expect<fired>();
  CHECK(f.id == 12);
  CHECK(std::chrono::steady_clock::now() - t0 >= 100ms);
  // Updated: its time stays, its message changes.
  otpp::cast(h, set_generic_t{"g", 60ms, 13});
  otpp::cast(h, update_generic_t{"g", 14});
  CHECK(expect<fired>().id == 14);
  // Cancelled.
  otpp::cast(h, set_generic_t{"g", 50ms, 15});
  otpp::cast(h, cancel_generic_t{"g"});
  CHECK(nothing<fired>(150ms));
  // Two names run side by side.
  otpp::cast(h, set_generic_t{"x", 30ms, 16});
  otpp::cast(h, set_generic_t{"y", 60ms, 17});
  CHECK(expect<fired>().id == 16);
  CHECK(expect<fired>().id == 17);
}

TEST_CASE("statem: a zero timeout comes after the queued events, before new messages",
          "[statem][timeout]") {
  OTPP_TEST_RUNTIME({.schedulers = 1});
  struct go {};
  auto def = otpp::statem<rec_data, a_state>()
                 .on<a_state>([](a_state&, rec_data&, go) {
                   tp::sleep_for(20ms); // a cast arrives meanwhile
                   return sm::keep_state(sm::next_event(1), sm::state_timeout(0ms, tmo{0}));
                 })
                 .on<a_state>([](a_state&, rec_data& d, sm::internal_of<int>) {
                   d.log.push_back("internal");
                 })
                 .on<a_state>(
                     [](a_state&, rec_data& d, sm::timeout_of<tmo>) { d.log.push_back("timeout"); })
                 .on<a_state>([](a_state&, rec_data& d, int) { d.log.push_back("cast"); })
                 .on<a_state>([](a_state&, rec_data& d, sm::call_of<dump> q) {
                   return sm::reply(q, d.log);
                 });
  auto h = otpp::start(def, rec_data{tp::self(), {}});
  otpp::cast(h, go{});
  otpp::cast(h, 5);
  CHECK(otpp::call(h, dump{}) == std::vector<std::string>{"internal", "timeout", "cast"});
}

TEST_CASE("statem: a state timeout set in init is cancelled by a transition from an inserted "
          "event (erlang/otp#4384)",
          "[statem][timeout]") {
  OTPP_TEST_RUNTIME({.schedulers = 1});
  struct move_on {};
  auto def =
      otpp::statem<rec_data, a_state, b_state>()
          .on_init([](rec_data&) {
            return sm::init_ok(a_state{}, sm::state_timeout(50ms, tmo{1}),
                               sm::next_event(move_on{}));
          })
          .on<a_state>([](a_state&, rec_data&, sm::internal_of<move_on>) {
            return sm::next_state(b_state{});
          })
          .on_any_state([](std::variant<a_state, b_state>&, rec_data& d, sm::timeout_of<tmo> t) {
            otpp::send(d.test, fired{t.value.id, t.kind, "", ""});
          });
  auto h = otpp::start(def, rec_data{tp::self(), {}});
  CHECK(nothing<fired>(200ms));
  CHECK(otpp::get_state(h).state.index() == 1);
}

TEST_CASE("statem: a call is answered from a later state", "[statem]") {
  const unsigned n = GENERATE(1u, 2u);
  OTPP_TEST_RUNTIME({.schedulers = n});
  struct ask {
    using reply_type = int;
  };
  struct answer_now {};
  struct data {
    otpp::call_ref<int> pending;
  };
  auto def = otpp::statem<data, a_state, b_state>()
                 .on<a_state>([](a_state&, data& d, sm::call_of<ask> q) {
                   d.pending = q.from; // answered later
                   return sm::next_state(b_state{});
                 })
                 .on<b_state>([](b_state&, data& d, answer_now) {
                   return sm::next_state(a_state{}, sm::reply(d.pending, 42));
                 });
  auto h = otpp::start(def, data{});
  auto pending = otpp::call_async(h, ask{});
  otpp::cast(h, answer_now{});
  CHECK(pending.wait().value() == 42);
}

TEST_CASE("statem: stop with a reply: the caller gets it, terminate runs, the machine ends",
          "[statem]") {
  OTPP_TEST_RUNTIME({.schedulers = 1});
  struct quit {
    using reply_type = int;
  };
  struct terminated {
    exit_reason reason;
  };
  auto def = otpp::statem<rec_data, a_state>()
                 .on<a_state>([](a_state&, rec_data&, sm::call_of<quit> q) {
                   return sm::stop(exit_reason::shutdown("done"), sm::reply(q, 7));
                 })
                 .on_terminate([](std::variant<a_state>&, rec_data& d, const exit_reason& r) {
                   otpp::send(d.test, terminated{r});
                 });
  auto [h, mon] = otpp::start_monitor(def, rec_data{tp::self(), {}});
  CHECK(otpp::call(h, quit{}) == 7);
  CHECK(expect<terminated>().reason == exit_reason::shutdown("done"));
  auto d = expect<otpp::down>();
  CHECK(d.monitor == mon);
  CHECK(d.reason == exit_reason::shutdown("done"));
}

TEST_CASE("statem: an exception in a handler becomes the exit reason, after terminate",
          "[statem]") {
  OTPP_TEST_RUNTIME({.schedulers = 1});
  otpp_test::report_guard quiet(otpp_test::quiet());
  struct boom {};
  struct terminated {
    exit_reason reason;
  };
  auto def = otpp::statem<rec_data, a_state>()
                 .on<a_state>([](a_state&, rec_data&, boom) -> sm::next<a_state> {
                   throw std::runtime_error("bad event");
                 })
                 .on_terminate([](std::variant<a_state>&, rec_data& d, const exit_reason& r) {
                   otpp::send(d.test, terminated{r});
                 });
  auto [h, mon] = otpp::start_monitor(def, rec_data{tp::self(), {}});
  otpp::cast(h, boom{});
  auto r = expect<terminated>().reason;
  CHECK(r.exception_type() == "std::runtime_error");
  CHECK(r.detail() == "bad event");
  CHECK(expect<otpp::down>().reason == r);
}

TEST_CASE("statem: an unhandled call fails in its caller, and the machine goes on", "[statem]") {
  OTPP_TEST_RUNTIME({.schedulers = 1});
  struct q {
    using reply_type = int;
  };
  auto def = otpp::statem<rec_data, a_state, b_state>()
                 .on<b_state>([](b_state&, rec_data&, sm::call_of<q> c) { return sm::reply(c, 1); })
                 .on<a_state>([](a_state&, rec_data&, go_b) { return sm::next_state(b_state{}); });
  auto h = otpp::start(def, rec_data{tp::self(), {}});
  auto r = otpp::try_call(h, q{});
  REQUIRE_FALSE(r.ok());
  CHECK_THAT(std::string(r.error().detail()), Catch::Contains("unhandled call event"));
  otpp::cast(h, go_b{});
  CHECK(otpp::call(h, q{}) == 1);
}

TEST_CASE("statem: info messages, init_stop and init_ignore", "[statem]") {
  OTPP_TEST_RUNTIME({.schedulers = 1});
  auto def = otpp::statem<rec_data, a_state>().on<a_state>(
      [](a_state&, rec_data& d, sm::info_of<std::string> s) { otpp::send(d.test, s.value); });
  auto h = otpp::start(def, rec_data{tp::self(), {}});
  otpp::send(h.pid(), std::string("hello"));
  CHECK(expect<std::string>() == "hello");

  auto failing = otpp::statem<rec_data, a_state>().on_init(
      [](rec_data&) { return sm::init_stop(exit_reason::user("no")); });
  auto r = otpp::try_start(failing, rec_data{});
  REQUIRE_FALSE(r.ok());
  CHECK(r.error() == exit_reason::user("no"));
  auto ignoring =
      otpp::statem<rec_data, a_state>().on_init([](rec_data&) { return sm::init_ignore(); });
  CHECK(otpp::try_start(ignoring, rec_data{}).errc() == otpp::start_errc::ignored);
}

} // namespace OTPP_TEST_FILE
