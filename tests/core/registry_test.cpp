#include <otpp/core/registry.hpp>

#include "otpp_test.hpp"

#include <otpp/core/monitor.hpp>

#include <catch2/catch.hpp>

#include <algorithm>
#include <stdexcept>
#include <string>
#include <vector>

namespace OTPP_TEST_FILE {

using namespace std::chrono_literals;
namespace tp = otpp::this_process;

namespace {

using otpp_test::exit_of;

struct stop {};
struct ready {};

// A process that answers every int with the int + 1 to `to`, until a stop.
otpp::pid spawn_echo(otpp::runtime& rt, otpp::pid to) {
  return rt.spawn([to] {
    for (bool more = true; more;)
      more = tp::receive(
          [to](int v) {
            otpp::send(to, v + 1);
            return true;
          },
          [](stop) { return false; });
  });
}

std::vector<std::string> sorted(std::vector<std::string> v) {
  std::sort(v.begin(), v.end());
  return v;
}

} // namespace

TEST_CASE("a registered name finds its process and can be sent to", "[core][registry]") {
  const unsigned n = GENERATE(1u, 3u);
  OTPP_TEST_RUNTIME({.schedulers = n});
  otpp::pid echo = spawn_echo(rt, sp.self());
  otpp::register_name("echo", echo);
  CHECK(otpp::whereis("echo") == echo);
  CHECK(rt.whereis("echo") == echo);
  otpp::send(std::string("echo"), 41);
  CHECK(otpp_test::expect<int>() == 42);
  CHECK(otpp::info(echo).registered_name == "echo");
  CHECK(rt.registered() == std::vector<std::string>{"echo"});

  otpp::unregister_name("echo");
  CHECK_FALSE(otpp::whereis("echo"));
  CHECK(otpp::info(echo).registered_name.empty());
  CHECK(rt.registered().empty());
  CHECK_THROWS_AS(otpp::send(std::string("echo"), 1), std::invalid_argument);
  // Unregistering does not touch the process: it still answers, and may take another name.
  otpp::send(echo, 1);
  CHECK(otpp_test::expect<int>() == 2);
  otpp::register_name("echo2", echo);
  CHECK(otpp::whereis("echo2") == echo);
  otpp::send(echo, stop{});
}

TEST_CASE("a process can register itself and be found by others", "[core][registry]") {
  const unsigned n = GENERATE(1u, 3u);
  OTPP_TEST_RUNTIME({.schedulers = n});
  otpp::pid me = sp.self();
  otpp::pid p = rt.spawn([me] {
    otpp::register_name("self_named", tp::self());
    otpp::send(me, ready{});
    tp::receive<stop>();
  });
  otpp_test::expect<ready>();
  CHECK(otpp::whereis("self_named") == p);
  CHECK(otpp::info(p).registered_name == "self_named");
  otpp::ref m = otpp::monitor(p);
  otpp::send(std::string("self_named"), stop{});
  auto d = otpp_test::expect<otpp::down>();
  CHECK(d.monitor == m);
  CHECK(d.reason.is_normal());
  CHECK_FALSE(otpp::whereis("self_named"));
}

TEST_CASE("the name of a process is free once its monitor reports the exit", "[core][registry]") {
  const unsigned n = GENERATE(1u, 3u);
  OTPP_TEST_RUNTIME({.schedulers = n});
  // Repeated: the name must be gone by the time the down message arrives,
  // never a moment later (a supervisor restarts a named child right away).
  for (int round = 0; round < 50; ++round) {
    otpp::pid p = spawn_echo(rt, sp.self());
    otpp::register_name("worker", p);
    otpp::ref m = otpp::monitor(p);
    if (round % 2 == 0)
      otpp::send(p, stop{});
    else
      otpp::kill(p);
    auto d = otpp_test::expect<otpp::down>();
    REQUIRE(d.monitor == m);
    REQUIRE_FALSE(otpp::whereis("worker"));
    REQUIRE(rt.registered().empty());
    REQUIRE_THROWS_AS(otpp::send(std::string("worker"), 1), std::invalid_argument);
    REQUIRE(otpp::info(p).registered_name.empty());
  }
  otpp::pid next = spawn_echo(rt, sp.self());
  otpp::register_name("worker", next);
  CHECK(otpp::whereis("worker") == next);
  otpp::send(next, stop{});
}

TEST_CASE("a name that is taken cannot be registered again", "[core][registry]") {
  const unsigned n = GENERATE(1u, 3u);
  OTPP_TEST_RUNTIME({.schedulers = n});
  otpp::pid a = spawn_echo(rt, sp.self());
  otpp::pid b = spawn_echo(rt, sp.self());
  otpp::register_name("taken", a);
  CHECK_THROWS_AS(otpp::register_name("taken", b), std::invalid_argument);
  CHECK_THROWS_AS(otpp::register_name("taken", a), std::invalid_argument);
  CHECK(otpp::whereis("taken") == a);
  CHECK(otpp::info(b).registered_name.empty());
  otpp::send(a, stop{});
  otpp::send(b, stop{});
}

TEST_CASE("a process that has a name cannot get a second one", "[core][registry]") {
  const unsigned n = GENERATE(1u, 3u);
  OTPP_TEST_RUNTIME({.schedulers = n});
  otpp::pid a = spawn_echo(rt, sp.self());
  otpp::register_name("first", a);
  CHECK_THROWS_AS(otpp::register_name("second", a), std::invalid_argument);
  CHECK_FALSE(otpp::whereis("second"));
  CHECK(otpp::info(a).registered_name == "first");
  CHECK(rt.registered() == std::vector<std::string>{"first"});
  otpp::send(a, stop{});
}

TEST_CASE("registering an ended process, a null pid or an empty name throws", "[core][registry]") {
  const unsigned n = GENERATE(1u, 3u);
  OTPP_TEST_RUNTIME({.schedulers = n});
  otpp::pid dead;
  CHECK(exit_of([] {}, {}, &dead).is_normal());
  CHECK_THROWS_AS(otpp::register_name("ghost", dead), std::invalid_argument);
  CHECK_THROWS_AS(otpp::register_name("nobody", otpp::pid()), std::invalid_argument);
  otpp::pid live = spawn_echo(rt, sp.self());
  CHECK_THROWS_AS(otpp::register_name("", live), std::invalid_argument);
  CHECK(rt.registered().empty());
  CHECK_FALSE(otpp::whereis("ghost"));
  otpp::send(live, stop{});
}

TEST_CASE("unregistering or sending to an unknown name throws", "[core][registry]") {
  OTPP_TEST_RUNTIME({.schedulers = 1});
  CHECK_THROWS_AS(otpp::unregister_name("unknown"), std::invalid_argument);
  CHECK_THROWS_AS(rt.unregister_name("unknown"), std::invalid_argument);
  CHECK_THROWS_AS(otpp::send(std::string("unknown"), 1), std::invalid_argument);
  CHECK_FALSE(otpp::whereis("unknown"));
}

TEST_CASE("registered lists every name, and the runtime API works from any thread",
          "[core][registry]") {
  const unsigned n = GENERATE(1u, 3u);
  otpp::runtime rt({.schedulers = n});
  std::vector<otpp::pid> ps;
  {
    otpp::scoped_process sp(rt);
    for (int i = 0; i < 3; ++i)
      ps.push_back(spawn_echo(rt, sp.self()));
  }
  // No process on this thread now: the free functions refuse, the runtime's members work.
  CHECK_THROWS_AS(otpp::whereis("a"), std::logic_error);
  rt.register_name("a", ps[0]);
  rt.register_name("b", ps[1]);
  rt.register_name("c", ps[2]);
  CHECK(sorted(rt.registered()) == std::vector<std::string>{"a", "b", "c"});
  CHECK(rt.whereis("b") == ps[1]);
  rt.unregister_name("b");
  CHECK(sorted(rt.registered()) == std::vector<std::string>{"a", "c"});
  for (auto& p : ps)
    otpp::send(p, stop{});
  rt.run();
  CHECK(rt.registered().empty());
}

TEST_CASE("a scoped process can hold a name until it ends", "[core][registry]") {
  otpp::runtime rt({.schedulers = 1});
  {
    otpp::scoped_process sp(rt);
    otpp::register_name("main", sp.self());
    CHECK(otpp::whereis("main") == sp.self());
    CHECK(otpp::info(sp.self()).registered_name == "main");
  }
  CHECK_FALSE(rt.whereis("main"));
}

} // namespace OTPP_TEST_FILE
