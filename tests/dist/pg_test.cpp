// Process groups across nodes: an otpp pg scope and Erlang's pg scope of
// the same name find each other when the nodes connect (OTP pg's
// discover / sync / join / leave protocol), share their members both
// ways, tell monitors of the other node's joins and leaves, and drop a
// node's members when it is lost.
// Distributed under the Boost Software License, Version 1.0.
#include <otpp/dist/node.hpp>

#include "beam_node.hpp"
#include "otpp_test.hpp"

#include <otpp/behaviour/pg.hpp>
#include <otpp/behaviour/start.hpp>

#include <catch2/catch.hpp>

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <stdexcept>
#include <string>
#include <vector>

namespace OTPP_TEST_FILE {

namespace pg = otpp::pg;
namespace tp = otpp::this_process;
using otpp::atom;
using otpp::term;

namespace {

// A member: passes every term it receives to `to`.
otpp::pid spawn_member(const otpp::pid& to) {
  return otpp::spawn([to] {
    for (;;)
      tp::receive([&](term& t) { otpp::send(to, std::move(t)); });
  });
}

// Wait (up to 30 s) until `group` of "chat" has `n` members here.
std::vector<otpp::pid> await_members(std::size_t n) {
  const auto end = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  std::vector<otpp::pid> m = pg::get_members("chat", "room");
  while (m.size() != n && std::chrono::steady_clock::now() < end) {
    tp::sleep_for(std::chrono::milliseconds(10));
    m = pg::get_members("chat", "room");
  }
  REQUIRE(m.size() == n);
  return m;
}

std::size_t remote_count(const std::vector<otpp::pid>& pids) {
  return static_cast<std::size_t>(
      std::count_if(pids.begin(), pids.end(), [](const otpp::pid& p) { return !p.is_local(); }));
}

// The notifications of `watch` until `joined` pids joined and `left` left;
// the remote pids among them.
struct seen {
  std::size_t joined = 0, left = 0, remote_joined = 0, remote_left = 0;
};
seen await_notifications(const otpp::ref& watch, std::size_t joined, std::size_t left) {
  seen s;
  while (s.joined < joined || s.left < left) {
    auto n = tp::receive(
        otpp::when([&](const pg::notification& x) { return x.monitor == watch; },
                   [](pg::notification& x) { return std::optional(std::move(x)); }),
        otpp::after(std::chrono::seconds(30), [] { return std::optional<pg::notification>(); }));
    REQUIRE(n.has_value());
    CHECK(n->group == "room");
    const std::size_t r = remote_count(n->pids);
    if (n->what == pg::notification::kind::join) {
      s.joined += n->pids.size();
      s.remote_joined += r;
    } else {
      s.left += n->pids.size();
      s.remote_left += r;
    }
  }
  CHECK(s.joined == joined);
  CHECK(s.left == left);
  return s;
}

} // namespace

TEST_CASE("an otpp pg scope and an Erlang pg scope of the same name share their members",
          "[dist][pg][beam]") {
  OTPP_TEST_RUNTIME({.schedulers = 2});
  otpp_test::beam_cluster cluster;
  cluster.compile(OTPP_DIST_TEST_DIR "/pg_peer.erl");
  auto& beam = cluster.start_node("beam", "secret", "pg_peer:start()");
  cluster.wait_for_output("beam", "pg ready");
  auto n = otpp_test::start_dist_node(cluster, "otpp_pg@127.0.0.1");
  auto scope = otpp::start(pg::scope_def("chat"));
  const otpp::pid me = tp::self();
  auto watch = pg::monitor_scope("chat");
  CHECK(watch.groups.empty());

  // Two here join before the nodes are connected: the first message
  // connects them, and each scope learns the other's members.
  const otpp::pid a = spawn_member(me);
  const otpp::pid b = spawn_member(me);
  pg::join("chat", "room", {a, b});
  n->send("beam@127.0.0.1", "ctl", term::tuple({term(atom("join")), term(std::int64_t{2})}));
  cluster.wait_for_output("beam", "joined 2");
  n->send("beam@127.0.0.1", "ctl", term::tuple({term(atom("await")), term(std::int64_t{4})}));
  cluster.wait_for_output("beam", "room has 4, 2 remote");
  auto members = await_members(4);
  CHECK(remote_count(members) == 2);
  CHECK(pg::get_local_members("chat", "room") == std::vector<otpp::pid>{a, b});
  CHECK(pg::which_groups("chat") == std::vector<std::string>{"room"});
  seen s = await_notifications(watch.monitor, 4, 0);
  CHECK(s.remote_joined == 2);

  // The pids Erlang holds are ours: it reaches both members through them.
  n->send("beam@127.0.0.1", "ctl", term(atom("greet")));
  cluster.wait_for_output("beam", "greeted 2");
  for (int i = 0; i < 2; ++i)
    CHECK(otpp_test::expect<term>() ==
          term::tuple({term(atom("hello")), term(atom("beam@127.0.0.1"))}));

  // Only this node's processes join its scope.
  const otpp::pid theirs = *std::find_if(members.begin(), members.end(),
                                         [](const otpp::pid& p) { return !p.is_local(); });
  CHECK_THROWS_AS(pg::join("chat", "room", theirs), std::invalid_argument);

  // A member here ends: Erlang's scope drops it.
  otpp::kill(a);
  n->send("beam@127.0.0.1", "ctl", term::tuple({term(atom("await")), term(std::int64_t{3})}));
  cluster.wait_for_output("beam", "room has 3, 1 remote");
  // A member there leaves: this scope drops it, and its monitor is told.
  n->send("beam@127.0.0.1", "ctl", term(atom("leave_one")));
  cluster.wait_for_output("beam", "left one");
  members = await_members(2);
  CHECK(remote_count(members) == 1);
  s = await_notifications(watch.monitor, 0, 2); // a, then theirs
  CHECK(s.remote_left == 1);

  // The node is lost: its members go, and the monitor is told.
  beam.stop();
  members = await_members(1);
  CHECK(members == std::vector<otpp::pid>{b});
  s = await_notifications(watch.monitor, 0, 1);
  CHECK(s.remote_left == 1);
  n->stop();
}

TEST_CASE("a hidden Erlang node's pg scope and an otpp scope share their members (the hidden "
          "node sends its own discover)",
          "[dist][pg][beam]") {
  OTPP_TEST_RUNTIME({.schedulers = 2});
  otpp_test::beam_cluster cluster;
  cluster.compile(OTPP_DIST_TEST_DIR "/pg_peer.erl");
  auto n = otpp_test::start_dist_node(cluster, "otpp_hid@127.0.0.1");
  auto scope = otpp::start(pg::scope_def("chat"));
  const otpp::pid a = spawn_member(tp::self());
  pg::join("chat", "room", a);
  cluster.start_node("beam", "secret", "pg_peer:start_hidden('otpp_hid@127.0.0.1')", {"-hidden"});
  cluster.wait_for_output("beam", "hidden ready");
  auto members = await_members(2);
  CHECK(remote_count(members) == 1);
  n->send("beam@127.0.0.1", "ctl", term::tuple({term(atom("await")), term(std::int64_t{2})}));
  cluster.wait_for_output("beam", "room has 2, 1 remote");
  n->stop();
}

} // namespace OTPP_TEST_FILE
