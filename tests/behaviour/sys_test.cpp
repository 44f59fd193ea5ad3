#include <otpp/behaviour/sys.hpp>

#include <otpp/behaviour/server.hpp>
#include <otpp/behaviour/supervisor.hpp>

#include "otpp_test.hpp"

#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <stdexcept>
#include <string>
#include <utility>

namespace OTPP_TEST_FILE {

using namespace std::chrono_literals;
namespace tp = otpp::this_process;
using otpp::exit_reason;
using otpp_test::expect;

namespace {

using otpp_test::quiet;
using otpp_test::report_guard;

struct inc {
  int by;
};
struct get_count {};
struct terminated {
  exit_reason reason;
};
struct got {
  int value;
  exit_reason error;
};

// A counter that tells `owner` its terminate reason.
auto counter(otpp::pid owner) {
  return otpp::server<int>()
      .on_cast([](int& n, inc i) { n += i.by; })
      .on_call([](const int& n, get_count) { return n; })
      .on_terminate([owner](int&, const exit_reason& r) { otpp::send(owner, terminated{r}); })
      .name("counter");
}

// The call_error `f` throws (the test fails if it throws none).
template <class F> otpp::call_error failure_of(F f) {
  try {
    f();
  } catch (const otpp::call_error& e) {
    return e;
  }
  throw std::runtime_error("the call did not fail");
}

// Poll `srv`'s status until `k` messages wait in its mailbox (it answers
// status even while suspended).
void wait_queued(const otpp::pid& srv, std::size_t k) {
  const auto deadline = std::chrono::steady_clock::now() + otpp_test::patience;
  while (otpp::status(srv).mailbox_length != k) {
    if (std::chrono::steady_clock::now() > deadline)
      throw std::runtime_error("the messages never reached the server's mailbox");
    tp::sleep_for(1ms);
  }
}

// A process that calls get_count on `srv` and sends the outcome to `to`.
void spawn_caller(otpp::pid srv, otpp::pid to) {
  otpp::spawn([srv, to] {
    auto r = otpp::try_call<int>(srv, get_count{}, otpp::infinity);
    otpp::send(to, r.ok() ? got{r.value(), {}} : got{-1, r.error()});
  });
}

} // namespace

TEST_CASE("replace_state changes the state inside the server, by handle, pid or name, and "
          "get_state shows the change",
          "[behaviour][sys]") {
  const unsigned n = GENERATE(1u, 3u);
  OTPP_TEST_RUNTIME({.schedulers = n});
  auto srv = otpp::start(otpp::start_options{.name = "counter"}, counter(tp::self()), 1);
  otpp::replace_state<int>(srv, [](int& v) { v *= 10; });
  CHECK(otpp::get_state(srv) == 10);
  otpp::replace_state<int>(
      srv.pid(), [](int& v) { v += 1; }, 1.5s);
  otpp::replace_state<int>(otpp::by_name("counter"), [](int& v) { v += 1; });
  CHECK(otpp::get_state<int>(otpp::by_name("counter")) == 12);
  CHECK(otpp::get_state(otpp::by_name<decltype(counter(tp::self()))>("counter"), 0.5s) == 12);
  CHECK(otpp::call(srv, get_count{}) == 12);
  otpp::pid ran_in;
  otpp::replace_state<int>(srv, [&ran_in](int&) { ran_in = tp::self(); });
  CHECK(ran_in == srv.pid());
  CHECK(otpp::status(srv).handled == 1); // only the call: system messages do not count
  otpp::stop(srv);
  CHECK(expect<terminated>().reason == exit_reason::normal());
}

TEST_CASE("replace_state naming another state type fails with call_error, does not run, and "
          "leaves the server and its state as they were",
          "[behaviour][sys]") {
  const unsigned n = GENERATE(1u, 3u);
  OTPP_TEST_RUNTIME({.schedulers = n});
  auto srv = otpp::start(otpp::start_options{.name = "counter"}, counter(tp::self()), 7);
  std::atomic<bool> ran{false};
  otpp::call_error e = failure_of(
      [&] { otpp::replace_state<std::string>(srv, [&ran](std::string&) { ran = true; }); });
  CHECK(e.reason().which() == exit_reason::kind::user);
  CHECK_THAT(std::string(e.reason().detail()), Catch::Contains("replace_state"));
  CHECK(e.server() == srv.pid());
  CHECK_FALSE(ran);
  CHECK(otpp::get_state(srv) == 7);
  otpp::cast(srv, inc{1});
  CHECK(otpp::call(srv, get_count{}) == 8);

  // No such process: noproc, naming the name if it was one.
  e = failure_of([] { otpp::replace_state<int>(otpp::by_name("missing"), [](int&) {}); });
  CHECK(e.reason() == exit_reason::noproc());
  CHECK_THAT(std::string(e.what()), Catch::Contains("\"missing\""));
  otpp::stop(srv);
  expect<terminated>();
  CHECK(failure_of([&] { otpp::replace_state<int>(srv, [](int&) {}); }).reason() ==
        exit_reason::noproc());
  CHECK(failure_of([] { (void)otpp::status(otpp::by_name("missing")); }).reason() ==
        exit_reason::noproc());
  CHECK(failure_of([] { otpp::suspend(otpp::by_name("missing")); }).reason() ==
        exit_reason::noproc());
  CHECK(failure_of([] { otpp::trace(otpp::by_name("missing"), true); }).reason() ==
        exit_reason::noproc());
}

TEST_CASE("a suspended server answers only system messages, and a call made meanwhile is answered "
          "after resume, before what was queued behind it",
          "[behaviour][sys]") {
  const unsigned n = GENERATE(1u, 3u);
  OTPP_TEST_RUNTIME({.schedulers = n});
  otpp::pid me = tp::self();
  auto srv = otpp::start(otpp::start_options{.name = "counter"}, counter(me), 0);
  otpp::suspend(srv);
  otpp::sys_status s = otpp::status(srv);
  CHECK(s.suspended);
  CHECK(s.mailbox_length == 0);

  spawn_caller(srv, me);
  wait_queued(srv, 1);
  otpp::cast(srv, inc{5});
  CHECK(otpp_test::nothing<got>());        // no answer while suspended
  CHECK(otpp::get_state(srv) == 0);        // system messages are answered; the cast waits
  otpp::suspend(otpp::by_name("counter")); // suspending again is harmless
  s = otpp::status(otpp::by_name("counter"));
  CHECK(s.suspended);
  CHECK(s.mailbox_length == 2);
  CHECK(s.handled == 0);

  otpp::resume(otpp::by_name("counter"));
  CHECK(expect<got>().value == 0); // the call first, then the cast, in order
  CHECK(otpp::call(srv, get_count{}) == 5);
  s = otpp::status(srv);
  CHECK_FALSE(s.suspended);
  CHECK(s.handled == 3);
  otpp::resume(srv); // resuming a running server is harmless
  CHECK(otpp::call(srv, get_count{}) == 5);
  otpp::stop(srv);
  expect<terminated>();
  CHECK(tp::mailbox_length() == 0);
}

TEST_CASE("stop while suspended ends the server with the reason after terminate, and a call "
          "queued meanwhile fails with that reason",
          "[behaviour][sys]") {
  const unsigned n = GENERATE(1u, 3u);
  OTPP_TEST_RUNTIME({.schedulers = n});
  otpp::pid me = tp::self();
  auto srv = otpp::start(otpp::start_options{.name = "counter"}, counter(me), 3);
  otpp::suspend(otpp::by_name("counter"));
  spawn_caller(srv, me);
  wait_queued(srv, 1);
  otpp::stop(otpp::by_name("counter"), exit_reason::shutdown("bye"), 5s);
  CHECK(otpp::info(srv).status == otpp::process_status::exited);
  CHECK(expect<terminated>().reason == exit_reason::shutdown("bye"));
  got g = expect<got>();
  CHECK(g.value == -1);
  CHECK(g.error == exit_reason::shutdown("bye"));
  CHECK_FALSE(otpp::whereis("counter"));
  CHECK(tp::mailbox_length() == 0);
}

TEST_CASE("status names a supervisor's behaviour and its spec's name, and suspend and resume "
          "work on it too",
          "[behaviour][sys][supervisor]") {
  const unsigned n = GENERATE(1u, 3u);
  report_guard g(quiet());
  OTPP_TEST_RUNTIME({.schedulers = n});
  otpp::supervisor_spec spec{
      .children = {otpp::worker("w", [] { return otpp::start_link(otpp::server<int>()); })},
      .name = "top"};
  auto sup = otpp::start(rt, spec);
  otpp::sys_status s = otpp::status(sup);
  CHECK(s.pid == sup.pid());
  CHECK(s.behaviour == "supervisor");
  CHECK(s.name == "top");
  CHECK(otpp::info(sup.pid()).label == "supervisor top"); // as shown by blocking reports
  CHECK_THAT(s.state, Catch::StartsWith("<") && Catch::Contains("supervisor_state"));
  CHECK(s.mailbox_length == 0);
  CHECK_FALSE(s.suspended);
  CHECK_FALSE(s.tracing);
  CHECK(otpp::status(otpp::by_name("top")).pid == sup.pid());
  // A plain server reports "server".
  CHECK(otpp::status(otpp::start(counter(tp::self()), 0)).behaviour == "server");

  otpp::suspend(sup);
  CHECK(otpp::status(otpp::by_name("top")).suspended);
  struct counted {
    std::size_t active;
  };
  otpp::pid me = tp::self();
  otpp::spawn([sup, me] { otpp::send(me, counted{otpp::count_children(sup).active}); });
  wait_queued(sup, 1);
  CHECK(otpp_test::nothing<counted>()); // the dynamic API waits for resume
  otpp::resume(sup);
  CHECK(expect<counted>().active == 1);
  CHECK_FALSE(otpp::status(sup).suspended);
  otpp::stop(sup, exit_reason::shutdown());
}

} // namespace OTPP_TEST_FILE
