#include <otpp/dist/channel.hpp>

#include "beam_node.hpp"
#include "otpp_test.hpp"

#include <otpp/core/asio.hpp>

#include <boost/asio/ip/tcp.hpp>
#include <catch2/catch.hpp>

#include <algorithm>
#include <string>
#include <utility>
#include <variant>
#include <vector>

namespace OTPP_TEST_FILE {

using otpp::atom;
using otpp::term;
namespace dist = otpp::dist;

// Read control messages until a send to `to`; what it carried.
term next_send_to(dist::channel& ch, const otpp::external_pid& to) {
  for (int i = 0; i < 50; ++i) {
    auto m = ch.receive();
    if (auto* s = std::get_if<dist::send_msg>(&m); s != nullptr && s->to == to)
      return s->message;
  }
  throw std::runtime_error("no message came");
}

TEST_CASE("a process connects to an Erlang node through epmd and exchanges messages",
          "[dist][channel][beam]") {
  OTPP_TEST_RUNTIME({.schedulers = 2});
  otpp_test::beam_cluster cluster;
  otpp_test::start_echo_node(cluster);
  cluster.node_port("beam"); // registered
  const std::uint16_t epmd = cluster.epmd_port();
  const term got = otpp_test::in_process([epmd] {
    const dist::node_identity self{atom("otpp_chan@127.0.0.1"), dist::flag::otpp_node, 1};
    auto ch = dist::channel::connect("beam@127.0.0.1", self, "secret", epmd);
    const otpp::external_pid me{self.name, 1, 0, self.creation};
    ch.send(dist::reg_send_msg{me, atom("echo"), term::tuple({me, atom("hello")})});
    term reply = next_send_to(ch, me);
    if (ch.peer().name != atom("beam@127.0.0.1"))
      throw std::runtime_error("wrong peer");
    return reply;
  });
  CHECK(got == term::tuple({atom("echo"), atom("hello")}));
}

TEST_CASE("an Erlang node connects to a process that registered with epmd and listens",
          "[dist][channel][beam]") {
  OTPP_TEST_RUNTIME({.schedulers = 2});
  otpp_test::beam_cluster cluster;
  const std::uint16_t epmd = cluster.epmd_port();
  const otpp::pid me = otpp::this_process::self();
  struct listening {};
  // The node process: listen, register, accept one peer, answer net_kernel.
  const auto node = otpp::spawn_monitor([epmd, me] {
    using tcp = boost::asio::ip::tcp;
    tcp::acceptor acceptor(otpp::this_process::executor(),
                           tcp::endpoint(boost::asio::ip::address_v4::loopback(), 0));
    auto reg = dist::epmd_registration::make("otpp_node", acceptor.local_endpoint().port(), epmd);
    otpp::send(me, listening{});
    tcp::socket s = acceptor.async_accept(otpp::use_process);
    const dist::node_identity self{atom("otpp_node@127.0.0.1"), dist::flag::otpp_node,
                                   reg.creation()};
    auto ch = dist::channel::accept(std::move(s), self, "secret");
    for (;;) {
      dist::control_msg m;
      try {
        m = ch.receive();
      } catch (const boost::system::system_error& e) {
        if (e.code() == boost::asio::error::eof)
          otpp::this_process::exit(otpp::exit_reason::normal()); // the pinger halted
        throw;
      }
      auto* rs = std::get_if<dist::reg_send_msg>(&m);
      if (rs == nullptr || rs->to != atom("net_kernel") || !rs->message.is_tagged("$gen_call", 3))
        continue;
      const term& from = rs->message[1];
      ch.send(dist::send_msg{*from[0].get_if<otpp::external_pid>(), std::nullopt,
                             term::tuple({from[1], atom("yes")})});
    }
  });
  otpp_test::expect<listening>();
  auto& pinger = cluster.start_node(
      "pinger", "secret", "io:format(\"~p~n\", [net_adm:ping('otpp_node@127.0.0.1')]), halt().");
  REQUIRE(pinger.wait_exit(std::chrono::seconds(30)));
  CHECK_THAT(cluster.log_of("pinger"), Catch::Contains("pong"));
  // The pinger's halt closes the connection: receive reports end of file.
  CHECK(otpp_test::down_reason(node.monitor) == otpp::exit_reason::normal());
}

TEST_CASE("connecting with the wrong cookie or to a node epmd does not know fails clearly",
          "[dist][channel][beam]") {
  OTPP_TEST_RUNTIME({.schedulers = 1});
  otpp_test::beam_cluster cluster;
  otpp_test::start_echo_node(cluster);
  cluster.node_port("beam");
  const std::uint16_t epmd = cluster.epmd_port();
  const std::string why = otpp_test::in_process([epmd] {
    const dist::node_identity self{atom("otpp_bad@127.0.0.1"), dist::flag::otpp_node, 1};
    std::string out;
    try {
      dist::channel::connect("beam@127.0.0.1", self, "wrong", epmd);
    } catch (const dist::handshake_error& e) {
      out += e.what();
    }
    out += "|";
    try {
      dist::channel::connect("nobody@127.0.0.1", self, "secret", epmd);
    } catch (const std::runtime_error& e) {
      out += e.what();
    }
    return out;
  });
  CHECK_THAT(why, Catch::Contains("closed the connection"));
  CHECK_THAT(why, Catch::Contains("no node 'nobody'"));
}

// What the Erlang side did, as the control messages to `me` that came
// before a command's reply, told with the roles of the pids.
struct peer_session {
  dist::channel& ch;
  otpp::external_pid me;
  std::vector<std::pair<otpp::external_pid, std::string>> names;

  std::string name(const otpp::external_pid& p) const {
    for (const auto& [pid, n] : names)
      if (pid == p)
        return n;
    return "?";
  }
  std::string describe(const dist::control_msg& m) const {
    return std::visit(
        [&](const auto& v) -> std::string {
          using T = std::decay_t<decltype(v)>;
          if constexpr (std::is_same_v<T, dist::link_msg>)
            return fmt::format("link {}->{}", name(v.from), name(v.to));
          else if constexpr (std::is_same_v<T, dist::unlink_id_msg>)
            return fmt::format("unlink_id{} {}->{}", v.ack ? "_ack" : "", name(v.from), name(v.to));
          else if constexpr (std::is_same_v<T, dist::exit_msg>)
            return fmt::format("{} {}->{} {}", v.by_link ? "exit" : "exit2", name(v.from),
                               name(v.to), v.reason);
          else if constexpr (std::is_same_v<T, dist::monitor_msg>)
            return fmt::format("{} {}->{}", v.demonitor ? "demonitor" : "monitor", name(v.from),
                               std::holds_alternative<otpp::external_pid>(v.to)
                                   ? name(std::get<otpp::external_pid>(v.to))
                                   : "name");
          else if constexpr (std::is_same_v<T, dist::monitor_exit_msg>)
            return fmt::format("down {}->{} {}", name(std::get<otpp::external_pid>(v.from)),
                               name(v.to), v.reason);
          else
            return "other";
        },
        m);
  }
  static const otpp::external_pid* target(const dist::control_msg& m) {
    return std::visit(
        [](const auto& v) -> const otpp::external_pid* {
          using T = std::decay_t<decltype(v)>;
          if constexpr (std::is_same_v<T, dist::reg_send_msg> ||
                        std::is_same_v<T, dist::alias_send_msg> ||
                        std::is_same_v<T, dist::spawn_request_msg>)
            return nullptr;
          else if constexpr (std::is_same_v<T, dist::monitor_msg>)
            return std::get_if<otpp::external_pid>(&v.to);
          else
            return &v.to;
        },
        m);
  }

  // Read until `done(t)` for a message `t` sent to `me`, or for the atom
  // that describes a control message to `me` (each is also added to
  // `seen`); other traffic (global's) is skipped.
  template <class Done> void read_until(std::vector<std::string>& seen, Done done) {
    for (int i = 0; i < 100; ++i) {
      auto m = ch.receive();
      if (auto* s = std::get_if<dist::send_msg>(&m)) {
        if (s->to == me && done(s->message))
          return;
        continue;
      }
      const auto* to = target(m);
      if (to != nullptr && *to == me) {
        seen.push_back(describe(m));
        if (done(term(atom(describe(m)))))
          return;
      }
    }
    throw std::runtime_error("the expected message did not come");
  }
  // Run a command on `peer`; returns its result.
  term run(const term& cmd, std::vector<std::string>& seen) {
    ch.send(dist::reg_send_msg{me, atom("peer"), term::tuple({atom("cmd"), me, cmd})});
    term result;
    read_until(seen, [&](const term& t) {
      if (!t.is_tagged("reply", 2))
        return false;
      result = t[1];
      return true;
    });
    return result;
  }
};

TEST_CASE("links monitors and exits cross the channel both ways as BEAM sends them",
          "[dist][channel][beam]") {
  OTPP_TEST_RUNTIME({.schedulers = 1});
  otpp_test::beam_cluster cluster;
  cluster.compile(std::string(OTPP_DIST_TEST_DIR) + "/otpp_peer.erl");
  cluster.start_node("beam", "secret", "otpp_peer:start().");
  cluster.wait_for_output("beam", "peer ready");
  const std::uint16_t epmd = cluster.epmd_port();
  const std::vector<std::string> seen = otpp_test::in_process([epmd] {
    const dist::node_identity self{atom("otpp_ctl@127.0.0.1"), dist::flag::otpp_node, 1};
    auto ch = dist::channel::connect("beam@127.0.0.1", self, "secret", epmd);
    peer_session s{ch, {self.name, 1, 0, 1}, {}};
    s.names.emplace_back(s.me, "me");
    std::vector<std::string> events;
    const term peer = s.run(term(atom("self")), events);
    s.names.emplace_back(*peer.get_if<otpp::external_pid>(), "peer");
    // The Erlang side links, monitors, demonitors, unlinks (UNLINK_ID) and
    // sends an exit signal to our pid.
    s.run(term::tuple({atom("link"), term(s.me)}), events);
    const term mref = s.run(term::tuple({atom("monitor"), term(s.me)}), events);
    s.run(term::tuple({atom("demonitor"), mref}), events);
    events.push_back(mref.which() == term::kind::reference ? "monitor ref ok" : "no ref");
    s.run(term::tuple({atom("unlink"), term(s.me)}), events);
    s.run(term::tuple({atom("exit"), term(s.me), atom("boom")}), events);

    // Our links and monitors: a victim process that dies of `crashed`.
    const term victim = s.run(term(atom("victim")), events);
    const auto v = *victim.get_if<otpp::external_pid>();
    s.names.emplace_back(v, "victim");
    const otpp::external_ref ours{self.name, 1, 3, {42, 0, 0, 0, 0}};
    ch.send(dist::link_msg{s.me, v});
    ch.send(dist::monitor_msg{s.me, v, ours});
    ch.send(dist::send_msg{v, s.me, term::tuple({atom("die"), atom("crashed")})});
    int ends = 0;
    s.read_until(events, [&](const term& t) {
      if (t.is_atom() &&
          (t.is_atom("exit victim->me crashed") || t.is_atom("down victim->me crashed")))
        ++ends;
      return ends == 2;
    });
    // Our UNLINK_ID of a live linked process is acknowledged.
    const term victim2 = s.run(term(atom("victim")), events);
    const auto v2 = *victim2.get_if<otpp::external_pid>();
    s.names.emplace_back(v2, "victim2");
    ch.send(dist::link_msg{s.me, v2});
    ch.send(dist::unlink_id_msg{7, s.me, v2, false});
    s.read_until(events, [](const term& t) { return t.is_atom("unlink_id_ack victim2->me"); });
    return events;
  });
  const std::vector<std::string> expected = {"link peer->me",      "monitor peer->me",
                                             "demonitor peer->me", "monitor ref ok",
                                             "unlink_id peer->me", "exit2 peer->me boom"};
  REQUIRE(seen.size() >= expected.size() + 3);
  for (std::size_t i = 0; i < expected.size(); ++i)
    CHECK(seen[i] == expected[i]);
  const std::vector<std::string> rest(seen.begin() + static_cast<std::ptrdiff_t>(expected.size()),
                                      seen.end());
  CHECK(std::count(rest.begin(), rest.end(), "exit victim->me crashed") == 1);
  CHECK(std::count(rest.begin(), rest.end(), "down victim->me crashed") == 1);
  CHECK(rest.back() == "unlink_id_ack victim2->me");
}

} // namespace OTPP_TEST_FILE
