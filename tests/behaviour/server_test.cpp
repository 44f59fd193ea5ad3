#include <otpp/behaviour/server.hpp>

#include "math_server.hpp"
#include "otpp_test.hpp"

#include <catch2/catch.hpp>

#include <chrono>
#include <cstddef>
#include <stdexcept>
#include <string>
#include <thread>
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
struct started {
  otpp::pid server;
};
struct note {
  std::string text;
};
struct timed_out {};
struct hibernating {};

// A server whose init fails with `user("no config")` after telling `owner` its pid.
auto failing_init() {
  return otpp::server<int>().init([](otpp::pid owner) -> otpp::init_result<int> {
    otpp::send(owner, started{tp::self()});
    return otpp::init_stop(exit_reason::user("no config"));
  });
}

} // namespace

TEST_CASE("a call returns the handler's result, its type deduced from the definition",
          "[behaviour][server]") {
  const unsigned n = GENERATE(1u, 3u);
  OTPP_TEST_RUNTIME({.schedulers = n});
  auto srv = otpp::start(math());
  STATIC_REQUIRE(std::is_same_v<decltype(otpp::call(srv, add{})), double>);
  STATIC_REQUIRE(std::is_same_v<decltype(otpp::call(srv, greet{})), std::string>);
  STATIC_REQUIRE(std::is_void_v<decltype(otpp::call(srv, touch{}))>);
  STATIC_REQUIRE(std::is_same_v<decltype(otpp::call(srv, get_count{})), int>);
  CHECK(otpp::call(srv, add{1, 2}) == 3.0);
  CHECK(otpp::call(srv, greet{"joe"}) == "hello joe");
  otpp::call(srv, touch{});
  otpp::call(srv, touch{});
  otpp::cast(srv, inc{10});
  CHECK(otpp::call(srv, get_count{}) == 12);
  // The untyped path: any pid, the reply type named by the caller.
  CHECK(otpp::call<double>(srv.pid(), add{2, 3}) == 5.0);
  otpp::call<void>(srv.pid(), touch{});
  otpp::cast(srv.pid(), inc{100});
  CHECK(otpp::call_for<int>(srv.pid(), get_count{}, otpp_test::patience) == 113);
  auto r = otpp::try_call(srv, get_count{});
  REQUIRE(r.ok());
  CHECK(r.value() == 113);
}

TEST_CASE("handler signatures: generic state, message by lvalue reference, reply by reference "
          "(the caller gets a value)",
          "[behaviour][server]") {
  OTPP_TEST_RUNTIME({.schedulers = 1});
  struct get_name {};
  auto def = otpp::server<std::string>()
                 .on_call([](auto& s, greet& g) {
                   s = std::move(g.who);
                   return s.size();
                 })
                 .on_call([](const std::string& s, get_name) -> const std::string& { return s; });
  auto srv = otpp::start(def, std::string("x"));
  STATIC_REQUIRE(std::is_same_v<decltype(otpp::call(srv, get_name{})), std::string>);
  CHECK(otpp::call(srv, greet{"joe"}) == 3u);
  CHECK(otpp::call(srv, get_name{}) == "joe");
}

TEST_CASE("start(runtime&) starts a server from a thread that is not a process",
          "[behaviour][server]") {
  otpp::runtime rt({.schedulers = 1});
  auto srv = otpp::start(rt, math(), 41);
  otpp::scoped_process sp(rt);
  otpp::call(srv, touch{});
  CHECK(otpp::call(srv, get_count{}) == 42);
}

TEST_CASE("init_ok with continue_with runs the continue handler before any message",
          "[behaviour][server]") {
  const unsigned n = GENERATE(1u, 3u);
  OTPP_TEST_RUNTIME({.schedulers = n});
  struct warm_up {};
  struct get_log {};
  auto def =
      otpp::server<std::vector<std::string>>()
          .init([] {
            // Already queued when the continue handler runs.
            otpp::send(tp::self(), note{"info"});
            return otpp::init_ok(std::vector<std::string>{}, otpp::act::continue_with(warm_up{}));
          })
          .on_continue([](std::vector<std::string>& log, warm_up) { log.push_back("continue"); })
          .on_info([](std::vector<std::string>& log, note m) { log.push_back(m.text); })
          .on_call([](const std::vector<std::string>& log, get_log) { return log; });
  auto srv = otpp::start(def);
  CHECK(otpp::call(srv, get_log{}) == std::vector<std::string>{"continue", "info"});
}

TEST_CASE("init_ok with a timeout or hibernate starts the server with that action",
          "[behaviour][server]") {
  const unsigned n = GENERATE(1u, 3u);
  OTPP_TEST_RUNTIME({.schedulers = n});
  SECTION("timeout: the timeout handler runs when no message comes") {
    auto def =
        otpp::server<otpp::pid>()
            .init([](otpp::pid owner) { return otpp::init_ok(owner, otpp::act::timeout(10ms)); })
            .on_timeout([](otpp::pid& owner) { otpp::send(owner, timed_out{}); });
    auto srv = otpp::start(def, tp::self());
    expect<timed_out>();
    CHECK(otpp_test::nothing<timed_out>(50ms)); // once: the next wait has no timeout
  }
  SECTION("hibernate: the hook runs, the state survives") {
    struct st {
      otpp::pid owner;
      int n;
    };
    auto def = otpp::server<st>()
                   .init([](otpp::pid owner) {
                     return otpp::init_ok(st{owner, 7}, otpp::act::hibernate());
                   })
                   .on_hibernate([](st& s) { otpp::send(s.owner, hibernating{}); })
                   .on_call([](const st& s, get_count) { return s.n; });
    auto srv = otpp::start(def, tp::self());
    expect<hibernating>();
    otpp_test::wait_until_waiting(srv);
    CHECK(otpp::call(srv, get_count{}) == 7);
  }
}

TEST_CASE("init_stop makes start fail with the reason, the server has ended, an unlinked caller "
          "lives",
          "[behaviour][server]") {
  const unsigned n = GENERATE(1u, 3u);
  OTPP_TEST_RUNTIME({.schedulers = n});
  auto r = otpp::try_start(failing_init(), tp::self());
  CHECK_FALSE(r.ok());
  CHECK_FALSE(r.ignored());
  CHECK(r.error() == exit_reason::user("no config"));
  // OTP 26: a failed start returns once the server is gone.
  CHECK(otpp::info(expect<started>().server).status == otpp::process_status::exited);
  try {
    (void)otpp::start(failing_init(), tp::self());
    FAIL("start did not throw");
  } catch (const otpp::start_error& e) {
    CHECK(e.reason() == exit_reason::user("no config"));
    CHECK_FALSE(e.ignored());
  }
  expect<started>();
  // Unlinked, the caller is not killed by the abnormal exit.
  CHECK(otpp_test::in_process([def = failing_init()] {
          return otpp::try_start(def, tp::self()).error();
        }) == exit_reason::user("no config"));
}

TEST_CASE("start_link with init_stop: a trapping caller gets the error and no exit message, "
          "a non-trapping one dies of the reason",
          "[behaviour][server]") {
  const unsigned n = GENERATE(1u, 3u);
  OTPP_TEST_RUNTIME({.schedulers = n});
  struct outcome {
    exit_reason error;
    bool exit_message;
    std::size_t left;
  };
  outcome o = otpp_test::in_process([def = failing_init()] {
    tp::trap_exit(true);
    auto r = otpp::try_start_link(def, tp::self());
    tp::receive<started>();
    bool got_exit = !otpp_test::nothing<otpp::exit_message>(50ms);
    return outcome{r.error(), got_exit, tp::mailbox_length()};
  });
  CHECK(o.error == exit_reason::user("no config"));
  CHECK_FALSE(o.exit_message);
  CHECK(o.left == 0);
  CHECK(otpp_test::exit_of([def = failing_init()] {
          (void)otpp::try_start_link(def, tp::self());
          otpp_test::wait_forever();
        }) == exit_reason::user("no config"));
}

TEST_CASE("init_ignore: start reports ignored and the server has ended normally",
          "[behaviour][server]") {
  const unsigned n = GENERATE(1u, 3u);
  OTPP_TEST_RUNTIME({.schedulers = n});
  auto def = otpp::server<int>().init([](otpp::pid owner) -> otpp::init_result<int> {
    otpp::send(owner, started{tp::self()});
    return otpp::init_ignore();
  });
  auto r = otpp::try_start(def, tp::self());
  CHECK(r.ignored());
  CHECK_FALSE(r.ok());
  CHECK(otpp::info(expect<started>().server).status == otpp::process_status::exited);
  try {
    (void)otpp::start(def, tp::self());
    FAIL("start did not throw");
  } catch (const otpp::start_error& e) {
    CHECK(e.ignored());
  }
  // Linked: the normal exit kills nobody.
  CHECK(otpp_test::in_process([def] { return otpp::try_start_link(def, tp::self()).ignored(); }));
}

TEST_CASE("an exception in init makes start fail with the exception as the reason",
          "[behaviour][server]") {
  const unsigned n = GENERATE(1u, 3u);
  OTPP_TEST_RUNTIME({.schedulers = n});
  auto def = otpp::server<int>().init([]() -> int { throw std::runtime_error("bad init"); });
  auto r = otpp::try_start(def);
  CHECK(r.error() == exit_reason::exception("std::runtime_error", "bad init"));
  CHECK(otpp_test::exit_of([def] {
          (void)otpp::try_start_link(def);
          otpp_test::wait_forever();
        }) == exit_reason::exception("std::runtime_error", "bad init"));
}

TEST_CASE("a named start registers the server, a second start with the name fails with "
          "already_started",
          "[behaviour][server]") {
  const unsigned n = GENERATE(1u, 3u);
  OTPP_TEST_RUNTIME({.schedulers = n});
  auto srv = otpp::start(otpp::start_options{.name = "math"}, math());
  CHECK(otpp::whereis("math") == srv.pid());
  auto again = otpp::try_start(otpp::start_options{.name = "math"}, math());
  CHECK(again.error() == exit_reason::user("already_started"));
  CHECK(std::any_cast<otpp::pid>(again.error().payload()) == srv.pid());
  // OTP: the refused server ends normally, so a linked caller is not killed.
  CHECK(otpp_test::in_process([] {
          return otpp::try_start_link(otpp::start_options{.name = "math"}, math()).error();
        }) == exit_reason::user("already_started"));
  CHECK(otpp::call(otpp::server_ref<decltype(math())>(otpp::whereis("math")), add{1, 1}) == 2.0);
  otpp::stop(srv);
  CHECK_FALSE(otpp::whereis("math"));
  auto next = otpp::start(otpp::start_options{.name = "math"}, math());
  CHECK(otpp::whereis("math") == next.pid());
}

TEST_CASE("an init that outlasts the start timeout is killed and start fails with timeout",
          "[behaviour][server]") {
  const unsigned n = GENERATE(1u, 3u);
  OTPP_TEST_RUNTIME({.schedulers = n});
  auto slow = otpp::server<int>().init([](otpp::pid owner) {
    otpp::send(owner, started{tp::self()});
    otpp_test::wait_forever();
    return 0;
  });
  auto r = otpp::try_start(otpp::start_options{.name = {}, .timeout = 20ms}, slow, tp::self());
  CHECK(r.error() == exit_reason::timeout());
  CHECK(otpp::info(expect<started>().server).status == otpp::process_status::exited);
  // Linked and not trapping: the caller is not killed by the kill.
  CHECK(otpp_test::in_process([slow] {
          return otpp::try_start_link(otpp::start_options{.name = {}, .timeout = 20ms}, slow,
                                      tp::self())
              .error();
        }) == exit_reason::timeout());
  // An init that ends just after the timeout (it holds its scheduler's thread,
  // so the kill takes effect only after its ack was sent): the ack is not left
  // in the caller's mailbox.
  auto late = otpp::server<int>().init([] {
    std::this_thread::sleep_for(200ms);
    return 0;
  });
  CHECK(otpp::try_start(otpp::start_options{.name = {}, .timeout = 10ms}, late).error() ==
        exit_reason::timeout());
  CHECK(tp::mailbox_length() == 0);
}

} // namespace OTPP_TEST_FILE
