// gen_server interop between an otpp node and real Erlang nodes: Erlang
// calls and casts an otpp server ({'$gen_call', ...}, {'$gen_cast', ...})
// and otpp calls and casts Erlang gen_servers (otpp::call on {Name, Node}),
// with the server's real exit reason when it dies mid-call, noproc for a
// name nobody holds, and noconnection when the node dies mid-call.
// Distributed under the Boost Software License, Version 1.0.
#include <otpp/dist/node.hpp>

#include "beam_node.hpp"
#include "otpp_test.hpp"

#include <otpp/behaviour/call.hpp>
#include <otpp/behaviour/server.hpp>
#include <otpp/behaviour/start.hpp>

#include <catch2/catch.hpp>

#include <memory>
#include <stdexcept>
#include <string>

namespace gs_test_msgs {
struct add {
  double x, y;
};
struct print_sum {
  double x, y;
};
struct crash {};
struct print {
  int x;
};
struct bad {};
struct die {};
struct nap {
  int ms;
};
} // namespace gs_test_msgs
OTPP_TERM_TAG(gs_test_msgs::add, "add");
OTPP_TERM_TAG(gs_test_msgs::print_sum, "print_sum");
OTPP_TERM_TAG(gs_test_msgs::crash, "crash");
OTPP_TERM_TAG(gs_test_msgs::print, "print");
OTPP_TERM_TAG(gs_test_msgs::bad, "bad");
OTPP_TERM_TAG(gs_test_msgs::die, "die");
OTPP_TERM_TAG(gs_test_msgs::nap, "sleep");

namespace OTPP_TEST_FILE {

using otpp::exit_reason;
namespace dist = otpp::dist;
namespace tp = otpp::this_process;
using namespace gs_test_msgs;

namespace {
struct sum_seen {
  double sum;
};
} // namespace

TEST_CASE("an Erlang process calls and casts an otpp server by {Name, Node}",
          "[dist][gen_server][beam]") {
  OTPP_TEST_RUNTIME({.schedulers = 2});
  otpp_test::beam_cluster cluster;
  cluster.compile(OTPP_DIST_TEST_DIR "/gs_peer.erl");
  auto n = otpp_test::start_dist_node(cluster, "otpp_s@127.0.0.1");
  auto math =
      otpp::server<otpp::pid>()
          .on_call([](otpp::pid&, const add& a) { return a.x + a.y; })
          .on_call([](otpp::pid&, crash) -> double { throw std::runtime_error("boom"); })
          .on_cast([](otpp::pid& t, const print_sum& p) { otpp::send(t, sum_seen{p.x + p.y}); });
  auto srv = otpp::start(otpp::start_options{.name = "math"}, math, tp::self());
  cluster.start_node("beam", "secret", "gs_peer:call_otpp('otpp_s@127.0.0.1')");
  cluster.wait_for_output("beam", "done");
  const std::string log = cluster.log_of("beam");
  CHECK_THAT(log, Catch::Contains("sum 3.0"));
  CHECK(otpp_test::expect<sum_seen>().sum == 7.0);
  // The server died of the exception mid-call: the caller's exit names it.
  CHECK_THAT(log,
             Catch::Contains("crash {'EXIT',{{exception,<<\"std::runtime_error\">>,<<\"boom\">>}"));
  CHECK_THAT(log, Catch::Contains("nobody {'EXIT',{noproc,"));
  n->stop();
}

TEST_CASE("an otpp process calls and casts Erlang gen_servers by {Name, Node}, and learns why a "
          "call failed",
          "[dist][gen_server][beam]") {
  OTPP_TEST_RUNTIME({.schedulers = 2});
  otpp_test::beam_cluster cluster;
  cluster.compile(OTPP_DIST_TEST_DIR "/gs_peer.erl");
  auto& beam = cluster.start_node("beam", "secret", "gs_peer:start()");
  cluster.wait_for_output("beam", "calc ready");
  auto n = otpp_test::start_dist_node(cluster, "otpp_k@127.0.0.1");
  const otpp::pid calc = n->named("beam@127.0.0.1", "calc");
  CHECK(fmt::format("{}", calc) == "{calc,beam@127.0.0.1}");

  CHECK(otpp::call<double>(calc, add{1, 2}) == 3.0);
  CHECK(otpp::call<double>(calc, add{0.5, 2}) == 2.5);
  otpp::cast(calc, print{5});
  cluster.wait_for_output("beam", "cast 5");

  // A reply that does not fit the reply type fails the call, naming both.
  auto r = otpp::try_call<double>(calc, bad{});
  REQUIRE_FALSE(r.ok());
  CHECK_THAT(std::string(r.error().detail()), Catch::Contains("bad_reply"));
  CHECK_THAT(std::string(r.error().detail()), Catch::Contains("not a number"));

  // The server stops mid-call: its reason. Then its name is free: noproc.
  r = otpp::try_call<double>(calc, die{});
  REQUIRE_FALSE(r.ok());
  CHECK(r.error() == exit_reason::user("died_on_purpose"));
  r = otpp::try_call<double>(calc, add{1, 2});
  REQUIRE_FALSE(r.ok());
  CHECK(r.error() == exit_reason::noproc());

  // The node dies mid-call: noconnection.
  const otpp::pid calc2 = n->named("beam@127.0.0.1", "calc2");
  const otpp::pid me = tp::self();
  otpp::spawn([calc2, me] { otpp::send(me, otpp::try_call<double>(calc2, nap{20000}).error()); });
  // The call is in: calc2 answers nothing else meanwhile, so wait for the
  // connection's traffic by a round trip on another name.
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  beam.stop();
  CHECK(otpp_test::expect<exit_reason>() == exit_reason::noconnection());
  n->stop();
}

TEST_CASE("rpc:call and erpc:call from Erlang run C++ functions registered on the otpp node",
          "[dist][rpc][beam]") {
  OTPP_TEST_RUNTIME({.schedulers = 2});
  otpp_test::beam_cluster cluster;
  auto n = otpp_test::start_dist_node(cluster, "otpp_r@127.0.0.1");
  n->register_rpc("calc", "add", [](double x, double y) { return x + y; });
  n->register_rpc("calc", "greet", [](const std::string& who) { return "hello " + who; });
  n->register_rpc("calc", "fail", []() -> int { throw std::invalid_argument("no way"); });
  n->register_rpc("calc", "count", [](const std::vector<otpp::term>& args) {
    return otpp::term(static_cast<std::int64_t>(args.size()));
  });
  const otpp::pid me = tp::self();
  n->register_rpc("calc", "notify", [me](int k) { otpp::send(me, k); });
  cluster.start_node("beam", "secret",
                     "N = 'otpp_r@127.0.0.1', "
                     "io:format(\"add ~p~n\", [rpc:call(N, calc, add, [1, 2.5])]), "
                     "io:format(\"greet ~p~n\", [rpc:call(N, calc, greet, [<<\"erl\">>])]), "
                     "io:format(\"count ~p~n\", [erpc:call(N, calc, count, [a, b, c])]), "
                     "io:format(\"fail ~p~n\", [rpc:call(N, calc, fail, [])]), "
                     "io:format(\"badarg ~p~n\", [rpc:call(N, calc, add, [x, y])]), "
                     "io:format(\"undef ~p~n\", [rpc:call(N, calc, nothing, [1])]), "
                     "io:format(\"notify ~p~n\", [rpc:call(N, calc, notify, [42])]), "
                     "io:format(\"done~n\")");
  cluster.wait_for_output("beam", "done");
  const std::string log = cluster.log_of("beam");
  CHECK_THAT(log, Catch::Contains("add 3.5"));
  CHECK_THAT(log, Catch::Contains("greet <<\"hello erl\">>"));
  CHECK_THAT(log, Catch::Contains("count 3"));
  CHECK_THAT(log, Catch::Contains("fail {badrpc,{'EXIT',{{exception,<<\"std::invalid_argument\">>,"
                                  "<<\"no way\">>},"));
  CHECK_THAT(log, Catch::Contains("badarg {badrpc,{'EXIT',{{badarg,"));
  CHECK_THAT(log, Catch::Contains("undef {badrpc,{'EXIT',{undef,[{calc,nothing,[1],[]}]}}}"));
  CHECK_THAT(log, Catch::Contains("notify ok"));
  CHECK(otpp_test::expect<int>() == 42);
  n->stop();
}

} // namespace OTPP_TEST_FILE
