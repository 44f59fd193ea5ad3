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

using otpp_test::report_guard;

struct inc {
  int by;
};
struct get_count {};
struct get_log {};
struct hold {
  otpp::pid tell; // told `held` once the server is inside the handler
};
struct go {};
struct held {};

// A named counter; `hold` blocks it until a `go` arrives (its mailbox fills meanwhile).
auto counter() {
  return otpp::server<int>()
      .on_cast([](int& n, inc i) { n += i.by; })
      .on_call([](const int& n, get_count) { return n; })
      .on_cast([](int&, const hold& h) {
        otpp::send(h.tell, held{});
        tp::receive<go>();
      })
      .name("counter");
}

struct timed_out {};
struct hibernating {};
struct poked {};
struct log_state {
  otpp::pid owner;
  std::vector<std::string> log;
};

} // namespace

TEST_CASE("get_state returns a copy of the state", "[behaviour][server][sys]") {
  const unsigned n = GENERATE(1u, 3u);
  OTPP_TEST_RUNTIME({.schedulers = n});
  struct push {
    int v;
  };
  auto def = otpp::server<std::vector<int>>().on_cast(
      [](std::vector<int>& s, push p) { s.push_back(p.v); });
  auto srv = otpp::start(def, std::vector<int>{1});
  otpp::cast(srv, push{2});
  std::vector<int> copy = otpp::get_state(srv);
  CHECK(copy == std::vector<int>{1, 2});
  copy.push_back(99);
  CHECK(otpp::get_state<std::vector<int>>(srv.pid()) == std::vector<int>{1, 2});
  // Naming the wrong state type fails the call; the server goes on.
  CHECK_THROWS_AS(otpp::get_state<int>(srv.pid()), otpp::call_error);
  CHECK(otpp::get_state(srv).size() == 2);
  otpp::stop(srv);
  try {
    (void)otpp::get_state(srv);
    FAIL("get_state did not throw");
  } catch (const otpp::call_error& e) {
    CHECK(e.reason() == exit_reason::noproc());
  }
}

TEST_CASE("status reports the name, the formatted state, the mailbox length and the handled "
          "count",
          "[behaviour][server][sys]") {
  const unsigned n = GENERATE(1u, 3u);
  OTPP_TEST_RUNTIME({.schedulers = n});
  auto srv = otpp::start(counter(), 40);
  otpp::cast(srv, inc{2});
  otpp::sys_status s = otpp::status(srv);
  CHECK(s.pid == srv.pid());
  CHECK(s.name == "counter");
  CHECK(s.state == "42");
  CHECK(s.mailbox_length == 0);
  CHECK(s.handled == 1); // the cast (sys requests do not count)
  CHECK_FALSE(s.tracing);

  // Three casts queued behind a status request while the server is blocked.
  otpp::pid me = tp::self();
  otpp::cast(srv, hold{me});
  expect<held>(); // hold has left the mailbox: what waits there now is ours
  otpp::spawn([srv, me] { otpp::send(me, otpp::status(srv)); });
  otpp_test::wait_mailbox(srv, 1);
  for (int i = 0; i < 3; ++i)
    otpp::cast(srv, inc{1});
  otpp::send(srv, go{});
  s = expect<otpp::sys_status>();
  CHECK(s.mailbox_length == 3);
  CHECK(s.state == "42");
  CHECK(s.handled == 2); // inc, hold
  CHECK(otpp::call(srv, get_count{}) == 45);

  // Default name: the state's type; a state fmt cannot format shows its type.
  struct opaque {};
  auto plain = otpp::start(otpp::server<opaque>());
  s = otpp::status(plain);
  CHECK(s.name == otpp::type_name<opaque>());
  CHECK(s.state == fmt::format("<{}>", otpp::type_name<opaque>()));
  CHECK(otpp::status(otpp::start(otpp::server<int>(), 7)).name == "int");
}

TEST_CASE("trace reports each handled message with its kind, type and action until turned off",
          "[behaviour][server][sys]") {
  const unsigned n = GENERATE(1u, 3u);
  OTPP_TEST_RUNTIME({.schedulers = n});
  report_guard g([me = tp::self()](const otpp::report& r) { otpp::send(me, r); });
  struct quit {};
  auto srv = otpp::start(counter().on_cast([](int&, quit) { return otpp::act::stop(); }));
  otpp::cast(srv, inc{1});
  CHECK(otpp::call(srv, get_count{}) == 1);
  CHECK(otpp_test::nothing<otpp::report>());

  otpp::trace(srv, true);
  CHECK(otpp::status(srv).tracing);
  otpp::cast(srv, inc{1});
  CHECK(otpp::call(srv, get_count{}) == 2);
  auto r = expect<otpp::report>();
  CHECK(r.kind == otpp::report_kind::trace);
  CHECK(r.from == srv.pid());
  CHECK(r.text == fmt::format("server counter: cast {} -> next", otpp::type_name<inc>()));
  r = expect<otpp::report>();
  CHECK(r.text == fmt::format("server counter: call {} -> next", otpp::type_name<get_count>()));
  CHECK(otpp_test::nothing<otpp::report>()); // sys requests are not traced

  otpp::trace(srv, false);
  otpp::cast(srv, inc{1});
  CHECK(otpp::call(srv, get_count{}) == 3);
  CHECK(otpp_test::nothing<otpp::report>());

  otpp::trace(srv, true);
  otpp::ref m = otpp::monitor(srv);
  otpp::cast(srv, quit{});
  CHECK(otpp_test::down_reason(m) == exit_reason::normal());
  r = expect<otpp::report>();
  CHECK(r.text == fmt::format("server counter: cast {} -> stop normal", otpp::type_name<quit>()));
}

TEST_CASE("hibernate runs the hook and the server resumes on the next message with its state",
          "[behaviour][server][sys]") {
  const unsigned n = GENERATE(1u, 3u);
  OTPP_TEST_RUNTIME({.schedulers = n});
  struct sleep {};
  auto def = otpp::server<log_state>()
                 .init([](otpp::pid owner) {
                   return log_state{std::move(owner), {"init"}};
                 })
                 .on_cast([](log_state& s, sleep) {
                   s.log.emplace_back("sleep");
                   return otpp::act::hibernate();
                 })
                 .on_hibernate([](log_state& s) {
                   s.log.emplace_back("hibernate");
                   otpp::send(s.owner, hibernating{});
                 })
                 .on_call([](const log_state& s, get_log) { return s.log; });
  auto srv = otpp::start(def, tp::self());
  for (int i = 0; i < 2; ++i) {
    otpp::cast(srv, sleep{});
    expect<hibernating>();
    otpp_test::wait_until_waiting(srv);
  }
  CHECK(otpp::call(srv, get_log{}) ==
        std::vector<std::string>{"init", "sleep", "hibernate", "sleep", "hibernate"});
}

TEST_CASE("an inactivity timeout runs the timeout handler, a message before it cancels it",
          "[behaviour][server][sys]") {
  const unsigned n = GENERATE(1u, 3u);
  OTPP_TEST_RUNTIME({.schedulers = n});
  struct arm {
    bool poke; // send a message to self before waiting
  };
  struct arm_call {};
  struct poke {};
  auto def = otpp::server<otpp::pid>()
                 .on_cast([](otpp::pid&, arm a) {
                   if (a.poke)
                     otpp::send(tp::self(), poke{});
                   return otpp::act::timeout(10ms);
                 })
                 .on_call([](otpp::pid&, arm_call) {
                   return otpp::reply_and(1, otpp::act::timeout(10ms));
                 })
                 .on_info([](otpp::pid& owner, poke) { otpp::send(owner, poked{}); })
                 .on_timeout([](otpp::pid& owner) { otpp::send(owner, timed_out{}); });
  auto srv = otpp::start(def, tp::self());
  otpp::cast(srv, arm{false});
  expect<timed_out>();
  CHECK(otpp::call(srv, arm_call{}) == 1);
  expect<timed_out>();
  CHECK(otpp_test::nothing<timed_out>()); // once per action
  otpp::cast(srv, arm{true});
  expect<poked>();
  CHECK(otpp_test::nothing<timed_out>(100ms));
}

TEST_CASE("continue_with runs its handlers, chained, before the next message",
          "[behaviour][server][sys]") {
  const unsigned n = GENERATE(1u, 3u);
  OTPP_TEST_RUNTIME({.schedulers = n});
  struct begin {};
  struct step {
    int i;
  };
  struct note {
    std::string text;
  };
  struct unknown {};
  auto def = otpp::server<std::vector<std::string>>()
                 .on_cast([](std::vector<std::string>& log, begin) {
                   log.emplace_back("cast");
                   otpp::send(tp::self(), note{"info"}); // queued before the continues run
                   return otpp::act::continue_with(step{1});
                 })
                 .on_continue([](std::vector<std::string>& log, step s) {
                   log.push_back(fmt::format("continue {}", s.i));
                   return s.i < 3 ? otpp::act::continue_with(step{s.i + 1}) : otpp::act::next();
                 })
                 .on_info([](std::vector<std::string>& log, note m) { log.push_back(m.text); })
                 .on_call([](const std::vector<std::string>& log, get_log) { return log; })
                 .on_cast([](std::vector<std::string>&, unknown) {
                   return otpp::act::continue_with(unknown{});
                 });
  auto srv = otpp::start(def);
  otpp::cast(srv, begin{});
  (void)otpp::call(srv, get_log{}); // the note was queued before this call was answered
  CHECK(otpp::call(srv, get_log{}) ==
        std::vector<std::string>{"cast", "continue 1", "continue 2", "continue 3", "info"});
  // A continue value no handler takes stops the server.
  report_guard g([](const otpp::report&) {});
  otpp::ref m = otpp::monitor(srv);
  otpp::cast(srv, unknown{});
  exit_reason why = otpp_test::down_reason(m);
  CHECK(why.which() == exit_reason::kind::user);
  CHECK_THAT(std::string(why.detail()), Catch::StartsWith("no continue handler for a "));
}

} // namespace OTPP_TEST_FILE
