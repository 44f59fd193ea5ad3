// Two otpp nodes in two OS processes (this test binary runs itself as the
// second node): calls, links and monitors between them with no BEAM node;
// noconnection when the other node is killed, to otpp and Erlang processes
// alike; a supervisor restarting a worker that died with its remote peer.
// Distributed under the Boost Software License, Version 1.0.
#include <otpp/dist/node.hpp>

#include "beam_node.hpp"
#include "otpp_test.hpp"

#include <otpp/behaviour/call.hpp>
#include <otpp/behaviour/pg.hpp>
#include <otpp/behaviour/server.hpp>
#include <otpp/behaviour/start.hpp>
#include <otpp/behaviour/supervisor.hpp>
#include <otpp/behaviour/supervisor_spec.hpp>
#include <otpp/core/link.hpp>
#include <otpp/core/monitor.hpp>

#include <catch2/catch.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>
#include <thread>
#include <vector>

namespace multi_node_msgs {
struct mul {
  double x, y;
};
struct get_holder {};
struct group_size {};
} // namespace multi_node_msgs
OTPP_TERM_TAG(multi_node_msgs::mul, "mul");
OTPP_TERM_TAG(multi_node_msgs::get_holder, "get_holder");
OTPP_TERM_TAG(multi_node_msgs::group_size, "group_size");

namespace OTPP_TEST_FILE {

using otpp::atom;
using otpp::exit_reason;
using otpp::term;
namespace dist = otpp::dist;
namespace tp = otpp::this_process;
using namespace multi_node_msgs;

namespace {
struct forwarded {
  otpp::down d;
};

std::string env_or(const char* name, const char* fallback) {
  const char* v = std::getenv(name);
  return v != nullptr ? v : fallback;
}

// Start this binary as the second node, `child@127.0.0.1`; returns when it
// is ready.
otpp_test::child_process& start_child(otpp_test::beam_cluster& cluster,
                                      std::unique_ptr<otpp_test::child_process>& slot) {
  const std::string self = std::filesystem::read_symlink("/proc/self/exe").string();
  const std::string log = (cluster.dir() / "child.log").string();
  slot = std::make_unique<otpp_test::child_process>(
      std::vector<std::string>{self, "the second otpp node of the multi-node tests"},
      std::vector<std::string>{fmt::format("ERL_EPMD_PORT={}", cluster.epmd_port()),
                               "OTPP_CHILD_NODE=child@127.0.0.1"},
      log);
  otpp_test::beam_cluster::wait_until(
      [&] { return otpp_test::read_file(log).find("child ready") != std::string::npos; });
  if (otpp_test::read_file(log).find("child ready") == std::string::npos)
    throw std::runtime_error("the child node did not start: " + otpp_test::read_file(log));
  return *slot;
}

} // namespace

// Run only as the child (by name, from start_child): a node with a server
// `math` (mul, get_holder, group_size) and a process that waits (a member
// of group "room" of pg scope "chat"), until it is killed.
TEST_CASE("the second otpp node of the multi-node tests", "[.][multi_node_child]") {
  otpp::runtime rt({.schedulers = 2});
  otpp::scoped_process sp(rt);
  dist::node_options o;
  o.name = env_or("OTPP_CHILD_NODE", "child@127.0.0.1");
  o.cookie = "secret";
  auto n = dist::node::start(o);
  const otpp::pid holder = otpp::spawn(otpp_test::wait_forever);
  auto scope = otpp::start(otpp::pg::scope_def("chat"));
  otpp::pg::join("chat", "room", holder);
  auto math = otpp::server<otpp::pid>()
                  .on_call([](otpp::pid&, const mul& m) { return m.x * m.y; })
                  .on_call([](otpp::pid& h, get_holder) { return h; })
                  .on_call([](otpp::pid&, group_size) {
                    return static_cast<int>(otpp::pg::get_members("chat", "room").size());
                  });
  auto srv = otpp::start(otpp::start_options{.name = "math"}, math, holder);
  fmt::print("child ready\n");
  std::fflush(stdout);
  for (;;)
    std::this_thread::sleep_for(std::chrono::seconds(1));
}

TEST_CASE("two otpp nodes in two OS processes call, link and monitor each other, and a killed "
          "node gives noconnection",
          "[dist][node][multi]") {
  OTPP_TEST_RUNTIME({.schedulers = 2});
  otpp_test::beam_cluster cluster; // its epmd only: no BEAM node here
  std::unique_ptr<otpp_test::child_process> child;
  start_child(cluster, child);
  auto n = otpp_test::start_dist_node(cluster, "parent@127.0.0.1");
  n->monitor_nodes();

  const otpp::pid math = n->named("child@127.0.0.1", "math");
  CHECK(otpp::call<double>(math, mul{6, 7}) == 42.0);
  CHECK(otpp_test::expect<dist::nodeup>().node == "child@127.0.0.1");
  CHECK(n->nodes() == std::vector<std::string>{"child@127.0.0.1"});

  // A pid of the child node, in a reply.
  const otpp::pid holder = otpp::call<otpp::pid>(math, get_holder{});
  CHECK(otpp::remote::is_remote(holder));
  CHECK(otpp::remote::endpoint_of(holder)->node_name() == "child@127.0.0.1");

  const otpp::pid me = tp::self();
  const otpp::pid trapper = otpp::spawn([holder, me] {
    tp::trap_exit(true);
    otpp::link(holder);
    otpp::send(me, otpp::monitor(holder));
    otpp::send(me, tp::receive<otpp::exit_message>());
    otpp::send(me, forwarded{tp::receive<otpp::down>()});
  });
  const otpp::pid plain = otpp::spawn([holder] {
    otpp::link(holder);
    otpp_test::wait_forever();
  });
  const otpp::ref pm = otpp::monitor(plain);
  const otpp::ref m = otpp_test::expect<otpp::ref>();
  // Both links are in place once a call made after them is answered.
  CHECK(otpp::call<double>(math, mul{1, 1}) == 1.0);
  static_cast<void>(trapper);

  child->stop(); // SIGKILL
  auto x = otpp_test::expect<otpp::exit_message>();
  CHECK(x.from == holder);
  CHECK(x.reason == exit_reason::noconnection());
  auto d = otpp_test::expect<forwarded>().d;
  CHECK(d.monitor == m);
  CHECK(d.reason == exit_reason::noconnection());
  CHECK(otpp_test::down_reason(pm) == exit_reason::noconnection());
  CHECK(otpp_test::expect<dist::nodedown>().node == "child@127.0.0.1");

  // The node is gone: a call fails with noconnection, a link gives
  // noconnection at once, as Erlang's do.
  auto r = otpp::try_call<double>(math, mul{1, 2});
  REQUIRE_FALSE(r.ok());
  CHECK(r.error() == exit_reason::noconnection());
  const auto late = otpp::spawn_monitor([holder] {
    otpp::link(holder);
    otpp_test::wait_forever();
  });
  CHECK(otpp_test::down_reason(late.monitor) == exit_reason::noconnection());
  n->stop();
}

TEST_CASE("pg scopes of the same name on two otpp nodes share their members until a node dies",
          "[dist][pg][multi]") {
  OTPP_TEST_RUNTIME({.schedulers = 2});
  otpp_test::beam_cluster cluster;
  std::unique_ptr<otpp_test::child_process> child;
  start_child(cluster, child);
  auto n = otpp_test::start_dist_node(cluster, "pg_parent@127.0.0.1");
  auto scope = otpp::start(otpp::pg::scope_def("chat"));
  const auto watch = otpp::pg::monitor("chat", "room");
  CHECK(watch.members.empty());
  const otpp::pid math = n->named("child@127.0.0.1", "math");
  const otpp::pid holder = otpp::call<otpp::pid>(math, get_holder{}); // connects the nodes
  const otpp::pid mine = otpp::spawn(otpp_test::wait_forever);
  otpp::pg::join("chat", "room", mine);
  // The child's member arrives here, ours there.
  auto joined = otpp_test::expect<otpp::pg::notification>(); // mine, or the child's first
  auto next = otpp_test::expect<otpp::pg::notification>();
  std::vector<otpp::pid> seen{joined.pids.front(), next.pids.front()};
  CHECK(std::count(seen.begin(), seen.end(), holder) == 1);
  CHECK(std::count(seen.begin(), seen.end(), mine) == 1);
  auto both = otpp::pg::get_members("chat", "room");
  CHECK(both.size() == 2);
  for (int i = 0; i < 3000 && otpp::call<int>(math, group_size{}) != 2; ++i)
    tp::sleep_for(std::chrono::milliseconds(10));
  CHECK(otpp::call<int>(math, group_size{}) == 2);

  child->stop();
  auto left = otpp_test::expect<otpp::pg::notification>();
  CHECK(left.monitor == watch.monitor);
  CHECK(left.what == otpp::pg::notification::kind::leave);
  CHECK(left.pids == std::vector<otpp::pid>{holder});
  CHECK(otpp::pg::get_members("chat", "room") == std::vector<otpp::pid>{mine});
  n->stop();
}

TEST_CASE("a supervisor restarts a worker that died because its remote peer's node died",
          "[dist][node][multi][supervisor]") {
  OTPP_TEST_RUNTIME({.schedulers = 2});
  otpp_test::beam_cluster cluster;
  std::unique_ptr<otpp_test::child_process> child;
  start_child(cluster, child);
  auto n = otpp_test::start_dist_node(cluster, "sup_parent@127.0.0.1");
  const otpp::pid holder = otpp::call<otpp::pid>(n->named("child@127.0.0.1", "math"), get_holder{});
  const otpp::pid me = tp::self();
  auto starts = std::make_shared<std::atomic<int>>(0);
  struct started {
    int n;
  };
  otpp::supervisor_spec spec{.strategy = otpp::one_for_one,
                             .intensity = 5,
                             .period = std::chrono::seconds(60),
                             .children = {otpp::worker("linked", [holder, me, starts] {
                               const int k = ++*starts;
                               return otpp::spawn_link([holder, me, k] {
                                 if (k == 1)
                                   otpp::link(holder); // the first dies with the child node
                                 otpp::send(me, started{k});
                                 otpp_test::wait_forever();
                               });
                             })}};
  auto sup = otpp::start(spec);
  CHECK(otpp_test::expect<started>().n == 1);
  child->stop();
  CHECK(otpp_test::expect<started>().n == 2);
  otpp::stop(sup);
  n->stop();
}

TEST_CASE("an Erlang process linked to a process of an otpp node gets noconnection when that "
          "node dies",
          "[dist][node][multi][beam]") {
  OTPP_TEST_RUNTIME({.schedulers = 2});
  otpp_test::beam_cluster cluster;
  cluster.compile(OTPP_DIST_TEST_DIR "/node_peer.erl");
  cluster.start_node("beam", "secret", "node_peer:start()");
  cluster.wait_for_output("beam", "peer ready");
  std::unique_ptr<otpp_test::child_process> child;
  start_child(cluster, child);
  auto n = otpp_test::start_dist_node(cluster, "watch@127.0.0.1");
  const otpp::pid holder = otpp::call<otpp::pid>(n->named("child@127.0.0.1", "math"), get_holder{});
  const std::string beam = "beam@127.0.0.1";
  const otpp::pid me = tp::self();
  n->send(beam, "peer", term::tuple({term(atom("report_to")), n->to_external_pid(me)}));
  // The Erlang peer links to the child's process (it connects to the child
  // node itself), then the child node is killed.
  n->send(beam, "peer",
          term::tuple({term(atom("cmd")), n->to_external_pid(me),
                       term::tuple({term(atom("link")), n->to_external_pid(holder)})}));
  const term reply = tp::receive<term>();
  CHECK(reply == term::tuple({term(atom("reply")), term(atom("true"))}));
  child->stop();
  const term ex = tp::receive(
      otpp::when(
          [](const term& t) { return t.is_tuple() && t.size() == 3 && t[0].is_atom("exit"); },
          [](term& t) { return t; }),
      otpp::after(otpp_test::patience, []() -> term { throw std::runtime_error("no exit"); }));
  CHECK(n->to_pid(ex[1]) == holder);
  CHECK(ex[2] == term(atom("noconnection")));
  n->stop();
}

} // namespace OTPP_TEST_FILE
