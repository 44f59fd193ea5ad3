#include <otpp/behaviour/server_definition.hpp>

#include <otpp/behaviour/server.hpp>

#include "otpp_test.hpp"

#include <catch2/catch.hpp>

#include <chrono>
#include <string>
#include <vector>

namespace OTPP_TEST_FILE {

using namespace std::chrono_literals;
namespace tp = otpp::this_process;
using otpp_test::expect;

namespace {

using otpp_test::quiet;
using otpp_test::report_guard;

struct classify {
  int x;
};
struct set_mode {
  int mode;
};
struct bump {
  int by;
};

// What a prioritised server handled, in order, told to its owner.
struct handled {
  std::string what;
};
struct block {}; // the server waits for `go` inside its handler
struct go {};
struct blocked {};
struct low {};
struct mid {};
struct high {
  int n;
};
struct last {};

struct mode_state {
  int mode = 0;
  int total = 0;
};

auto conditional() {
  return otpp::server<mode_state>()
      .on_call_if(
          [](const mode_state& s, const classify&) { return s.mode == 1; },
          [](mode_state&, classify c) { return std::string("mode 1: ") + std::to_string(c.x); })
      .on_call_if([](const mode_state&, const classify& c) { return c.x < 0; },
                  [](mode_state&, classify) { return std::string("negative"); })
      .on_call([](mode_state&, classify) { return std::string("other"); })
      .on_cast([](mode_state& s, set_mode m) { s.mode = m.mode; })
      .on_cast_if([](const mode_state&, const bump& b) { return b.by > 0; },
                  [](mode_state& s, bump b) { s.total += b.by; })
      .on_call([](mode_state& s, int) { return s.total; });
}

} // namespace

TEST_CASE("a conditional call handler is taken only while its predicate holds, else the next one "
          "for the type",
          "[behaviour][server][dispatch]") {
  const unsigned n = GENERATE(1u, 3u);
  OTPP_TEST_RUNTIME({.schedulers = n});
  auto srv = otpp::start(conditional());
  CHECK(otpp::call(srv, classify{5}) == "other");
  CHECK(otpp::call(srv, classify{-5}) == "negative");
  otpp::cast(srv, set_mode{1});
  CHECK(otpp::call(srv, classify{5}) == "mode 1: 5");
  CHECK(otpp::call(srv, classify{-5}) == "mode 1: -5"); // the first handler whose predicate holds
  otpp::cast(srv, set_mode{2});
  CHECK(otpp::call(srv, classify{-1}) == "negative");
  otpp::stop(srv);
}

TEST_CASE("a conditional cast whose predicate is false goes to the unhandled policy",
          "[behaviour][server][dispatch]") {
  const unsigned n = GENERATE(1u, 3u);
  OTPP_TEST_RUNTIME({.schedulers = n});
  auto srv = otpp::start(conditional().unhandled(otpp::unhandled_policy::dead_letter(tp::self())));
  otpp::cast(srv, bump{2});
  otpp::cast(srv, bump{-7}); // not taken: forwarded unchanged to the dead-letter process
  otpp::cast(srv, bump{3});
  CHECK(otpp::call(srv, 0) == 5);
  auto dead = expect<otpp::cast_message<bump>>();
  CHECK(dead.value.by == -7);
  otpp::stop(srv);
}

TEST_CASE("a prioritised server handles queued messages by priority, arrival order within one, "
          "signals and system messages first",
          "[behaviour][server][dispatch]") {
  const unsigned n = GENERATE(1u, 3u);
  report_guard g(quiet());
  OTPP_TEST_RUNTIME({.schedulers = n});
  otpp::pid me = tp::self();
  auto tell = [me](std::string s) { otpp::send(me, handled{std::move(s)}); };
  auto def = otpp::server<int>()
                 .on_cast([me](int&, block) {
                   otpp::send(me, blocked{});
                   tp::receive([](go) {});
                 })
                 .on_cast([tell](int&, low) { tell("low"); })
                 .on_info([tell](int&, mid) { tell("mid"); })
                 .on_call([tell](int&, high h) {
                   tell("high " + std::to_string(h.n));
                   return h.n;
                 })
                 .on_cast([tell](int&, last) { tell("last"); })
                 .on_info([tell](int&, const otpp::down&) { tell("down"); })
                 .prioritise<high>(10)
                 .prioritise<mid>(5)
                 .prioritise<last>(-1);
  auto srv = otpp::start(def, 0);
  otpp::cast(srv, block{});
  expect<blocked>();
  // Queued while the server is busy, in this order:
  otpp::cast(srv, last{});
  otpp::cast(srv, low{});
  otpp::send(srv, mid{});
  auto c1 = otpp::call_async(srv, high{1});
  otpp::cast(srv, low{});
  auto c2 = otpp::call_async(srv, high{2});
  otpp::send(srv, otpp::down{otpp::make_ref(), otpp::pid(), otpp::exit_reason::normal()});
  otpp::send(srv, go{});
  std::vector<std::string> order;
  for (int i = 0; i < 7; ++i)
    order.push_back(expect<handled>().what);
  CHECK(order == std::vector<std::string>{"down", "high 1", "high 2", "mid", "low", "low", "last"});
  CHECK(c1.wait().value() == 1);
  CHECK(c2.wait().value() == 2);
  otpp::stop(srv);
}

TEST_CASE("a predicate priority rule applies only when it holds, and a system call overtakes "
          "queued work, which its status counts as waiting",
          "[behaviour][server][dispatch]") {
  const unsigned n = GENERATE(1u, 3u);
  OTPP_TEST_RUNTIME({.schedulers = n});
  otpp::pid me = tp::self();
  auto def = otpp::server<int>()
                 .on_cast([me](int&, block) {
                   otpp::send(me, blocked{});
                   tp::receive([](go) {});
                 })
                 .on_cast([me](int& s, high h) {
                   s += h.n;
                   otpp::send(me, handled{std::to_string(h.n)});
                 })
                 .prioritise_if<high>([](const int&, const high& h) { return h.n % 2 == 0; }, 1);
  auto srv = otpp::start(def, 0);
  otpp::cast(srv, block{});
  expect<blocked>();
  for (int i = 1; i <= 4; ++i)
    otpp::cast(srv, high{i});
  otpp::pid asker = otpp::spawn([me, p = srv.pid()] { otpp::send(me, otpp::status(p)); });
  otpp_test::wait_until_waiting(asker); // its status request is queued behind the casts
  otpp::send(srv, go{});
  // The status request came last but is answered before the queued casts
  // ran; the four casts the server moved into its own queue still count as
  // waiting.
  auto st = expect<otpp::sys_status>();
  CHECK(st.handled == 1);
  CHECK(st.mailbox_length == 4);
  std::vector<std::string> order;
  for (int i = 0; i < 4; ++i)
    order.push_back(expect<handled>().what);
  CHECK(order == std::vector<std::string>{"2", "4", "1", "3"});
  CHECK(otpp::get_state(srv) == 10);
  otpp::stop(srv);
}

namespace {
struct ask {
  int x;
};
struct park {
  int x;
};
struct answer_parked {};
struct ctl {
  int value;
};
struct chan_state {
  int base = 0;
  std::vector<otpp::send_port<int>> parked;
};
} // namespace

TEST_CASE("a channel call is answered on the typed channel the caller passed, also later and by "
          "another process",
          "[behaviour][server][dispatch]") {
  const unsigned n = GENERATE(1u, 3u);
  OTPP_TEST_RUNTIME({.schedulers = n});
  auto def = otpp::server<chan_state>()
                 .on_call_chan([](chan_state& s, otpp::send_port<int> reply, ask a) {
                   reply.send(s.base + a.x);
                 })
                 .on_call_chan([](chan_state& s, otpp::send_port<int> reply, park) {
                   s.parked.push_back(std::move(reply));
                 })
                 .on_cast([](chan_state& s, answer_parked) {
                   // Another process answers on the parked ports.
                   otpp::spawn([ports = s.parked] {
                     int k = 100;
                     for (auto& p : ports)
                       p.send(k++);
                   });
                   s.parked.clear();
                 });
  static_assert(decltype(def)::handles_call_chan<ask>);
  auto srv = otpp::start(def, chan_state{40, {}});
  CHECK(otpp::call_chan(srv, ask{2}).receive() == 42);
  auto p1 = otpp::call_chan(srv, park{1});
  auto p2 = otpp::call_chan<int>(srv.pid(), park{2}); // untyped: the reply type named
  CHECK_FALSE(p1.receive_for(20ms).has_value());
  otpp::send(tp::self(), std::string("unrelated"));
  otpp::cast(srv, answer_parked{});
  CHECK(p2.receive() == 101); // each port gets its own reply, whatever the order of arrival
  CHECK(p1.receive() == 100);
  CHECK(tp::receive([](const std::string& s) { return s; }) == "unrelated");
  otpp::stop(srv);
}

TEST_CASE("a control channel is served before the mailbox, and follows the server it is bound to",
          "[behaviour][server][dispatch]") {
  const unsigned n = GENERATE(1u, 3u);
  OTPP_TEST_RUNTIME({.schedulers = n});
  otpp::pid me = tp::self();
  otpp::control_channel<ctl> control;
  CHECK_FALSE(control.server());
  auto def =
      otpp::server<int>()
          .on_cast([me](int&, block) {
            otpp::send(me, blocked{});
            tp::receive([](go) {});
          })
          .on_cast([me](int& s, low) { otpp::send(me, handled{"low " + std::to_string(s)}); })
          .on_control(control, [me](int& s, ctl c) {
            s = c.value;
            otpp::send(me, handled{"control " + std::to_string(c.value)});
          });
  static_assert(decltype(def)::has_control);
  auto srv = otpp::start(def, 0);
  CHECK(control.server() == srv.pid());
  otpp::control_port<ctl> port = control.port();
  otpp::cast(srv, block{});
  expect<blocked>();
  otpp::cast(srv, low{});
  otpp::cast(srv, low{});
  // Sent last, from another process holding the port: handled first.
  auto sender = otpp::spawn_monitor([port] { port.send(ctl{7}); });
  CHECK(otpp_test::down_reason(sender.monitor) == otpp::exit_reason::normal());
  otpp::send(srv, go{});
  CHECK(expect<handled>().what == "control 7");
  CHECK(expect<handled>().what == "low 7");
  CHECK(expect<handled>().what == "low 7");
  otpp::stop(srv);
  // Started again from the same definition (as a supervisor restarts it):
  // the port now reaches the new server.
  auto again = otpp::start(def, 1);
  CHECK(control.server() == again.pid());
  port.send(ctl{9});
  CHECK(expect<handled>().what == "control 9");
  otpp::stop(again);
}

} // namespace OTPP_TEST_FILE
