// otpp::dist::node against real Erlang nodes: messages both ways (by pid
// and by registered name, typed and as terms), links and monitors both
// ways with their reasons, noconnection when the Erlang node dies, wrong
// cookies.
// Distributed under the Boost Software License, Version 1.0.
#include <otpp/dist/node.hpp>

#include "beam_node.hpp"
#include "otpp_test.hpp"

#include <otpp/core/link.hpp>
#include <otpp/core/monitor.hpp>
#include <otpp/core/registry.hpp>

#include <catch2/catch.hpp>

#include <algorithm>
#include <csignal>
#include <cstdlib>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>

namespace node_test_msgs {
struct ping {
  otpp::pid from;
  int n;
};
struct pong {
  int n;
};
struct hello {
  otpp::pid from;
  int n;
};
} // namespace node_test_msgs
OTPP_TERM_TAG(node_test_msgs::ping, "ping");
OTPP_TERM_TAG(node_test_msgs::pong, "pong");
OTPP_TERM_TAG(node_test_msgs::hello, "hello");

namespace OTPP_TEST_FILE {

using otpp::atom;
using otpp::exit_reason;
using otpp::term;
namespace dist = otpp::dist;
namespace tp = otpp::this_process;
using namespace node_test_msgs;

namespace {
// The next term from the peer whose first element is the atom `tag`.
term expect_tagged(std::string_view tag) {
  return tp::receive(
      otpp::when([tag](const term& t) { return t.is_tuple() && t.size() > 0 && t[0].is_atom(tag); },
                 [](term& t) { return t; }),
      otpp::after(otpp_test::patience, [tag]() -> term {
        throw std::runtime_error(fmt::format("no {{{}, ...}} arrived", tag));
      }));
}
} // namespace

TEST_CASE("an otpp node and an Erlang node exchange messages both ways, by pid and by name",
          "[dist][node][beam]") {
  OTPP_TEST_RUNTIME({.schedulers = 2});
  otpp_test::beam_cluster cluster;
  cluster.start_node("beam", "secret",
                     "register(erl_box, self()), io:format(\"ready~n\"), "
                     "receive {ping, From, N} -> From ! {pong, N + 1} end, "
                     "{inbox, 'otpp_n@127.0.0.1'} ! {hello, self(), 7}, "
                     "receive {pong, M} -> io:format(\"got ~p~n\", [M]) end");
  cluster.wait_for_output("beam", "ready");
  auto n = otpp_test::start_dist_node(cluster, "otpp_n@127.0.0.1");
  CHECK(n->name() == "otpp_n@127.0.0.1");
  CHECK(n->port() != 0);
  otpp::register_name("inbox", tp::self());

  // {erl_box, beam} ! {ping, self(), 5}: a typed message out, a typed reply back.
  n->send("beam@127.0.0.1", "erl_box", ping{tp::self(), 5});
  CHECK(otpp_test::expect<pong>().n == 6);
  CHECK(n->nodes() == std::vector<std::string>{"beam@127.0.0.1"});

  // {inbox, otpp_n} ! {hello, self(), 7}: to a registered name, with a pid in it.
  const hello h = otpp_test::expect<hello>();
  CHECK(h.n == 7);
  CHECK_FALSE(h.from.is_local());
  REQUIRE(otpp::remote::endpoint_of(h.from) != nullptr);
  CHECK(otpp::remote::endpoint_of(h.from)->node_name() == "beam@127.0.0.1");
  CHECK_THAT(fmt::format("{}", h.from), Catch::StartsWith("<beam@127.0.0.1."));
  otpp::send(h.from, pong{h.n});
  cluster.wait_for_output("beam", "got 7");
  n->stop();
}

TEST_CASE("links and monitors cross nodes both ways with their reasons, and a dead node gives "
          "noconnection",
          "[dist][node][beam]") {
  OTPP_TEST_RUNTIME({.schedulers = 2});
  otpp_test::beam_cluster cluster;
  cluster.compile(OTPP_DIST_TEST_DIR "/node_peer.erl");
  auto& beam = cluster.start_node("beam", "secret", "node_peer:start()");
  cluster.wait_for_output("beam", "peer ready");
  auto n = otpp_test::start_dist_node(cluster, "otpp_l@127.0.0.1");
  n->monitor_nodes();
  const otpp::pid me = tp::self();
  const std::string peer_node = "beam@127.0.0.1";
  n->send(peer_node, "peer", term::tuple({term(atom("report_to")), n->to_external_pid(me)}));
  auto cmd = [&](term c) {
    n->send(peer_node, "peer",
            term::tuple({term(atom("cmd")), n->to_external_pid(me), std::move(c)}));
    return expect_tagged("reply")[1];
  };
  CHECK(otpp_test::expect<dist::nodeup>().node == peer_node);

  // An otpp process links to and monitors an Erlang process that exits.
  const otpp::pid victim = n->to_pid(cmd(term(atom("victim"))));
  CHECK(otpp::remote::is_remote(victim));
  const otpp::pid watcher = otpp::spawn(
      [victim, me] {
        tp::trap_exit(true);
        otpp::link(victim);
        const otpp::ref m = otpp::monitor(victim);
        otpp::send(me, m);
        otpp::send(me, tp::receive<otpp::exit_message>());
        otpp::send(me, tp::receive<otpp::down>());
      },
      {});
  const otpp::ref m = otpp_test::expect<otpp::ref>();
  otpp::send(victim, term::tuple({term(atom("die")), term(atom("boom"))}));
  auto x = otpp_test::expect<otpp::exit_message>();
  CHECK(x.from == victim);
  CHECK(x.reason == exit_reason::user("boom"));
  auto d = otpp_test::expect<otpp::down>();
  CHECK(d.monitor == m);
  CHECK(d.process == victim);
  CHECK(d.reason == exit_reason::user("boom"));
  static_cast<void>(watcher);

  // An Erlang process links to and monitors an otpp process that throws.
  const otpp::pid worker = otpp::spawn([] {
    tp::receive([](const pong&) {});
    throw std::runtime_error("worker failed");
  });
  static_cast<void>(cmd(term::tuple({term(atom("link")), n->to_external_pid(worker)})));
  static_cast<void>(cmd(term::tuple({term(atom("monitor")), n->to_external_pid(worker)})));
  otpp::send(worker, pong{0});
  const term ex = expect_tagged("exit");
  CHECK(n->to_pid(ex[1]) == worker);
  CHECK(dist::node::reason_from_term(ex[2]) ==
        exit_reason::exception("std::runtime_error", "worker failed"));
  const term dn = expect_tagged("down");
  CHECK(n->to_pid(dn[1]) == worker);
  CHECK(dist::node::reason_from_term(dn[2]) ==
        exit_reason::exception("std::runtime_error", "worker failed"));

  // The Erlang node dies: linked and monitoring otpp processes hear
  // noconnection, node watchers nodedown.
  const otpp::pid victim2 = n->to_pid(cmd(term(atom("victim"))));
  const otpp::pid linked = otpp::spawn([victim2, me] {
    otpp::link(victim2);
    otpp::send(me, otpp::monitor(victim2));
    otpp_test::wait_forever();
  });
  const otpp::ref lm = otpp::monitor(linked);
  const otpp::ref vm = otpp::monitor(victim2);
  static_cast<void>(otpp_test::expect<otpp::ref>());
  static_cast<void>(cmd(term(atom("self")))); // the link and monitor went out before this
  beam.stop();
  CHECK(otpp_test::down_reason(lm) == exit_reason::noconnection());
  CHECK(otpp_test::down_reason(vm) == exit_reason::noconnection());
  CHECK(otpp_test::expect<dist::nodedown>().node == peer_node);
  CHECK(n->nodes().empty());
  n->stop();
}

TEST_CASE("a peer silent for net_ticktime is disconnected: noconnection and nodedown",
          "[dist][node][beam]") {
  OTPP_TEST_RUNTIME({.schedulers = 2});
  otpp_test::beam_cluster cluster;
  cluster.compile(OTPP_DIST_TEST_DIR "/node_peer.erl");
  // Both sides with the same net_ticktime, as in any Erlang cluster.
  auto& beam =
      cluster.start_node("beam", "secret", "node_peer:start()", {"-kernel", "net_ticktime", "2"});
  cluster.wait_for_output("beam", "peer ready");
  dist::node_options o;
  o.name = "otpp_t@127.0.0.1";
  o.cookie = "secret";
  o.epmd_port = cluster.epmd_port();
  o.net_ticktime = std::chrono::seconds(2);
  auto n = dist::node::start(o);
  n->monitor_nodes();
  const otpp::pid me = tp::self();
  n->send("beam@127.0.0.1", "peer",
          term::tuple({term(atom("cmd")), n->to_external_pid(me), term(atom("victim"))}));
  const otpp::pid victim = n->to_pid(expect_tagged("reply")[1]);
  CHECK(otpp_test::expect<dist::nodeup>().node == "beam@127.0.0.1");
  const otpp::ref m = otpp::monitor(victim);
  // Ticks keep a quiet but live connection up past net_ticktime.
  std::this_thread::sleep_for(std::chrono::seconds(3));
  CHECK(n->nodes() == std::vector<std::string>{"beam@127.0.0.1"});
  // A stopped node answers nothing, ticks included.
  ::kill(beam.pid(), SIGSTOP);
  CHECK(otpp_test::down_reason(m) == exit_reason::noconnection());
  CHECK(otpp_test::expect<dist::nodedown>().node == "beam@127.0.0.1");
  ::kill(beam.pid(), SIGCONT);
  n->stop();
}

TEST_CASE("a peer that sends malformed packets is disconnected with a report, and the node goes "
          "on",
          "[dist][node]") {
  OTPP_TEST_RUNTIME({.schedulers = 2});
  std::mutex reports_mutex;
  std::vector<std::string> reports;
  otpp_test::report_guard guard([&](const otpp::report& r) {
    std::lock_guard lock(reports_mutex);
    reports.push_back(r.text);
  });
  otpp_test::beam_cluster cluster;
  auto n = otpp_test::start_dist_node(cluster, "otpp_h@127.0.0.1");
  otpp::register_name("inbox", tp::self());
  const dist::node_identity evil{atom("evil@127.0.0.1"), dist::flag::otpp_node, 5};
  auto connect = [&] {
    auto c = otpp_test::tcp_conn::connect(n->port());
    dist::handshake h(dist::handshake::role::initiator, evil, "secret", 77);
    REQUIRE(otpp_test::run_handshake(c, h));
    return c;
  };
  // Not a pass-through packet; a control term that is no control message;
  // a length past the packet limit.
  const std::string bad[] = {std::string("\0\0\0\3xyz", 7),
                             dist::frame_packet(term::tuple({term(atom("nonsense"))})),
                             std::string("\xff\xff\xff\xff\x70", 5)};
  for (const std::string& b : bad) {
    auto c = connect();
    c.write(b);
    static_cast<void>(c.read_all()); // returns when the node closes the connection
  }
  {
    std::lock_guard lock(reports_mutex);
    CHECK(std::count_if(reports.begin(), reports.end(), [](const std::string& r) {
            return r.find("protocol_error") != std::string::npos;
          }) == 3);
  }
  // The node still takes a well-behaved peer.
  auto c = connect();
  const otpp::external_pid from{evil.name, 1, 0, 5};
  c.write(dist::frame_control(dist::reg_send_msg{from, atom("inbox"), term(atom("still_here"))},
                              dist::flag::otpp_node));
  CHECK(tp::receive<term>() == term(atom("still_here")));
  n->stop();
}

TEST_CASE("a node starts epmd when none runs, as erl does", "[dist][node][beam]") {
  OTPP_TEST_RUNTIME({.schedulers = 2});
  const std::uint16_t port = otpp_test::free_port();
  struct kill_epmd {
    std::uint16_t port;
    ~kill_epmd() {
      // (`epmd -kill` refuses while a registration may still be open.)
      const std::string cmd =
          fmt::format("pkill -f 'epmd -daemon -port {} ' > /dev/null 2>&1", port);
      static_cast<void>(std::system(cmd.c_str()));
    }
  } cleanup{port};
  dist::node_options o;
  o.name = "otpp_e@127.0.0.1";
  o.cookie = "secret";
  o.epmd_port = port;
  auto n = dist::node::start(o);
  // epmd on that port knows the node now.
  auto c = otpp_test::tcp_conn::connect(port);
  c.write(dist::epmd::port_please2_request("otpp_e"));
  const auto found = dist::epmd::parse_port2_response(c.read_all());
  REQUIRE(found);
  CHECK(found->port == n->port());
  n->stop();
}

TEST_CASE("a node with another cookie is refused and its messages are dropped",
          "[dist][node][beam]") {
  OTPP_TEST_RUNTIME({.schedulers = 2});
  otpp_test::beam_cluster cluster;
  cluster.compile(OTPP_DIST_TEST_DIR "/node_peer.erl");
  cluster.start_node("beam", "secret", "node_peer:start()");
  cluster.wait_for_output("beam", "peer ready");
  auto n = otpp_test::start_dist_node(cluster, "otpp_c@127.0.0.1", "not-the-cookie");
  n->send("beam@127.0.0.1", "peer", term::tuple({term(atom("print")), term(atom("never"))}));
  auto good = otpp_test::start_dist_node(cluster, "otpp_g@127.0.0.1");
  good->send("beam@127.0.0.1", "peer", term::tuple({term(atom("print")), term(atom("once"))}));
  cluster.wait_for_output("beam", "printed once");
  CHECK(cluster.log_of("beam").find("never") == std::string::npos);
  CHECK(n->nodes().empty());
  n->stop();
  good->stop();
}

TEST_CASE("monitor_node gives one nodedown per monitor when the node is lost, and one at once for "
          "a node that cannot be reached",
          "[dist][node][beam]") {
  OTPP_TEST_RUNTIME({.schedulers = 2});
  otpp_test::beam_cluster cluster;
  auto& beam = otpp_test::start_echo_node(cluster);
  auto n = otpp_test::start_dist_node(cluster, "otpp_mn@127.0.0.1");
  const otpp::pid me = tp::self();

  n->monitor_node("nobody@127.0.0.1");
  CHECK(otpp_test::expect<dist::nodedown>().node == "nobody@127.0.0.1");

  n->monitor_node("beam@127.0.0.1"); // connects
  n->monitor_node("beam@127.0.0.1");
  n->monitor_node("beam@127.0.0.1");
  n->monitor_node("beam@127.0.0.1", false); // two left
  n->send("beam@127.0.0.1", "echo", term::tuple({term(n->to_external_pid(me)), term(atom("hi"))}));
  CHECK(expect_tagged("echo")[1] == term(atom("hi")));
  CHECK(n->nodes() == std::vector<std::string>{"beam@127.0.0.1"});
  beam.stop();
  CHECK(otpp_test::expect<dist::nodedown>().node == "beam@127.0.0.1");
  CHECK(otpp_test::expect<dist::nodedown>().node == "beam@127.0.0.1");
  CHECK_FALSE(tp::receive_for<dist::nodedown>(std::chrono::milliseconds(300)).has_value());
  n->stop();
}

TEST_CASE("short names: an otpp node alive@localhost and an Erlang -sname node talk",
          "[dist][node][beam]") {
  OTPP_TEST_RUNTIME({.schedulers = 2});
  otpp_test::beam_cluster cluster;
  cluster.start_short_node(
      "beam", "secret",
      "register(echo, spawn(fun Loop() -> receive {From, Msg} -> From ! {echo, Msg}, Loop() end "
      "end)), io:format(\"echo ready~n\").");
  cluster.wait_for_output("beam", "echo ready");
  auto n = otpp_test::start_dist_node(cluster, "otpp_sn@localhost");
  const otpp::pid me = tp::self();
  n->send("beam@localhost", "echo", term::tuple({term(n->to_external_pid(me)), term(atom("hi"))}));
  CHECK(expect_tagged("echo")[1] == term(atom("hi")));
  CHECK(n->nodes() == std::vector<std::string>{"beam@localhost"});
  n->stop();
}

} // namespace OTPP_TEST_FILE
