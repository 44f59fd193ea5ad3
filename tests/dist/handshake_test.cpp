#include <otpp/dist/handshake.hpp>

#include "beam_node.hpp"
#include "dist_test.hpp"

#include <otpp/dist/control.hpp>
#include <otpp/dist/epmd.hpp>
#include <otpp/dist/protocol.hpp>

#include <catch2/catch.hpp>

#include <cstdint>
#include <cstring>
#include <string>
#include <variant>

namespace OTPP_TEST_FILE {

using otpp::atom;
using otpp::term;
using otpp::dist::handshake;
using otpp::dist::node_identity;
namespace flag = otpp::dist::flag;

std::string hex(const std::array<std::uint8_t, 16>& d) {
  std::string s;
  for (auto b : d)
    s += fmt::format("{:02x}", b);
  return s;
}

TEST_CASE("challenge digests are MD5 of the cookie and the challenge's digits",
          "[dist][handshake]") {
  CHECK(hex(otpp::dist::challenge_digest("", 1)) == "c4ca4238a0b923820dcc509a6f75849b");
  CHECK(hex(otpp::dist::challenge_digest("abc", 123)) == "e99a18c428cb38d5f260853678922e03");
}

TEST_CASE("two handshakes with the same cookie complete against each other", "[dist][handshake]") {
  handshake a(handshake::role::initiator, {atom("a@h"), flag::otpp_node, 7}, "secret", 1111);
  handshake b(handshake::role::acceptor, {atom("b@h"), flag::otpp_node, 9}, "secret", 2222);
  // Byte by byte, to exercise the framing.
  for (int round = 0; round < 4 && !(a.done() && b.done()); ++round) {
    for (char c : a.take_output())
      b.feed(std::string(1, c));
    for (char c : b.take_output())
      a.feed(std::string(1, c));
  }
  REQUIRE(a.done());
  REQUIRE(b.done());
  CHECK(a.peer().name == atom("b@h"));
  CHECK(a.peer().creation == 9);
  CHECK(b.peer().name == atom("a@h"));
  CHECK(b.peer().flags == flag::otpp_node);
  b.feed("tail");
  CHECK(b.take_leftover() == "tail");
}

TEST_CASE("a handshake with another cookie fails on both sides", "[dist][handshake]") {
  handshake a(handshake::role::initiator, {atom("a@h")}, "one", 1);
  handshake b(handshake::role::acceptor, {atom("b@h")}, "two", 2);
  b.feed(a.take_output());
  a.feed(b.take_output());
  CHECK_THROWS_WITH(b.feed(a.take_output()), Catch::Contains("cookie differs"));
  // And the initiator refuses an acceptor whose ack is wrong.
  handshake c(handshake::role::initiator, {atom("c@h")}, "one", 3);
  handshake d(handshake::role::acceptor, {atom("d@h")}, "one", 4);
  d.feed(c.take_output());
  c.feed(d.take_output());
  d.feed(c.take_output());
  std::string ack = d.take_output();
  ack.back() = static_cast<char>(ack.back() ^ 1);
  CHECK_THROWS_WITH(c.feed(ack), Catch::Contains("cookie differs"));
}

TEST_CASE("malformed or unwelcome handshake messages are refused", "[dist][handshake]") {
  using otpp_test::bytes;
  auto acceptor = [] { return handshake(handshake::role::acceptor, {atom("b@h")}, "c", 1); };
  CHECK_THROWS_WITH(acceptor().feed(bytes({0, 0})), Catch::Contains("empty"));
  CHECK_THROWS_WITH(acceptor().feed(bytes({0, 3, 'n', 0, 5})), Catch::Contains("version 5"));
  CHECK_THROWS_WITH(acceptor().feed(bytes({0, 1, 'X'})),
                    Catch::Contains("expected the peer's name"));
  // A name message whose length field lies.
  std::string name = bytes({0, 19, 'N', 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 50});
  name += "xxxx";
  CHECK_THROWS_AS(acceptor().feed(name), otpp::dist::handshake_error);
  // A peer without the flags otpp needs.
  handshake old(handshake::role::initiator, {atom("a@h"), flag::mandatory_25, 1}, "c", 1);
  CHECK_THROWS_WITH(acceptor().feed(old.take_output()), Catch::Contains("lacks flags"));
  // A name that is not alive@host.
  handshake bad(handshake::role::initiator, {atom("nohost"), flag::otpp_node, 1}, "c", 1);
  CHECK_THROWS_WITH(acceptor().feed(bad.take_output()), Catch::Contains("alive@host"));
  // Statuses that refuse.
  for (const char* s : {"snok", "snot_allowed", "salive"}) {
    handshake a(handshake::role::initiator, {atom("a@h")}, "c", 1);
    std::string m = bytes({0, static_cast<int>(std::strlen(s))}) + s;
    CHECK_THROWS_AS(a.feed(m), otpp::dist::handshake_error);
  }
}

TEST_CASE("epmd messages are the documented bytes", "[dist][epmd]") {
  using otpp_test::bytes;
  CHECK(otpp::dist::epmd::alive2_request(0x1234, "n") ==
        bytes({0, 14, 120, 0x12, 0x34, 77, 0, 0, 6, 0, 6, 0, 1, 'n', 0, 0}));
  CHECK(otpp::dist::epmd::port_please2_request("ab") == bytes({0, 3, 122, 'a', 'b'}));
  CHECK(otpp::dist::epmd::parse_alive2_response(bytes({118, 0, 0, 0, 0, 5})) == 5u);
  CHECK_FALSE(otpp::dist::epmd::parse_alive2_response(bytes({118, 0, 0})));
  CHECK_THROWS_WITH(otpp::dist::epmd::parse_alive2_response(bytes({118, 1})),
                    Catch::Contains("taken"));
  CHECK_FALSE(otpp::dist::epmd::parse_port2_response(bytes({119, 1})));
  auto p = otpp::dist::epmd::parse_port2_response(
      bytes({119, 0, 0x10, 0x00, 77, 0, 0, 6, 0, 6, 0, 1, 'x', 0, 0}));
  REQUIRE(p);
  CHECK(p->port == 0x1000);
  CHECK(p->highest_version == 6);
}

TEST_CASE("packets frame and parse, and bad ones are refused", "[dist][protocol]") {
  const term ctrl = term::tuple({2, atom(""), term(otpp::external_pid{atom("n@h"), 1, 0, 1})});
  const term msg = term::tuple({atom("hello"), 1});
  const std::string wire = otpp::dist::frame_packet(ctrl, &msg);
  const auto p = otpp::dist::parse_packet(std::string_view(wire).substr(4));
  CHECK(p.control == ctrl);
  REQUIRE(p.message);
  CHECK(*p.message == msg);
  CHECK(otpp::dist::tick_packet() == std::string(4, '\0'));
  CHECK_THROWS_WITH(otpp::dist::parse_packet(std::string_view(wire).substr(5)),
                    Catch::Contains("pass-through"));
  CHECK_THROWS_WITH(otpp::dist::parse_packet(std::string(1, '\x70') + otpp::etf::encode(term(1))),
                    Catch::Contains("operation"));
  CHECK_THROWS_WITH(otpp::dist::parse_packet(std::string(wire.substr(4)) + "x"),
                    Catch::Contains("bytes are left"));
  const std::string control_only = otpp::dist::frame_packet(ctrl);
  CHECK_THROWS_WITH(otpp::dist::parse_packet(control_only.substr(4) + "x"),
                    Catch::Contains("version byte"));
}

// --- Against real Erlang nodes ------------------------------------------------

TEST_CASE("a real Erlang node accepts our handshake and answers a message",
          "[dist][handshake][beam]") {
  otpp_test::beam_cluster cluster;
  otpp_test::start_echo_node(cluster);
  const std::uint16_t port = cluster.node_port("beam");
  auto conn = otpp_test::tcp_conn::connect(port);
  const atom self_name("otpp_test@127.0.0.1");
  handshake h(handshake::role::initiator, {self_name, flag::otpp_node, 1}, "secret",
              otpp_test::random_challenge());
  std::string pending;
  REQUIRE(otpp_test::run_handshake(conn, h, &pending));
  CHECK(h.peer().name == atom("beam@127.0.0.1"));
  CHECK(flag::acceptable(h.peer().flags));

  // REG_SEND {6, From, '', echo} with {From, hello}; echo answers with a
  // SEND (or SEND_SENDER) to From.
  const term from(otpp::external_pid{self_name, 1, 0, 1});
  const term msg = term::tuple({from, atom("hello")});
  conn.write(otpp::dist::frame_packet(term::tuple({6, from, atom(""), atom("echo")}), &msg));
  // Other traffic may come first (global's name server syncing with a new
  // visible node): skip what is not a send to `from`.
  bool answered = false;
  for (int i = 0; i < 50 && !answered; ++i) {
    const auto p = otpp_test::read_packet(conn, pending);
    INFO(otpp::to_string(p.control));
    const auto c = otpp::dist::parse_control(p);
    const auto* send = std::get_if<otpp::dist::send_msg>(&c);
    if (send == nullptr || term(send->to) != from)
      continue;
    CHECK(send->message == term::tuple({atom("echo"), atom("hello")}));
    answered = true;
  }
  CHECK(answered);
}

TEST_CASE("a real Erlang node connects to us: net_adm:ping gets pong", "[dist][handshake][beam]") {
  otpp_test::beam_cluster cluster;
  otpp_test::tcp_listener listener;
  // Register "otpp_test" with epmd; the registration lasts while `reg` is open.
  auto reg = otpp_test::tcp_conn::connect(cluster.epmd_port());
  reg.write(otpp::dist::epmd::alive2_request(listener.port(), "otpp_test"));
  std::optional<std::uint32_t> creation;
  std::string got;
  while (!creation) {
    got += reg.read_some();
    creation = otpp::dist::epmd::parse_alive2_response(got);
  }
  auto& pinger = cluster.start_node(
      "pinger", "secret", "io:format(\"~p~n\", [net_adm:ping('otpp_test@127.0.0.1')]), halt().");
  auto conn = listener.accept(std::chrono::seconds(30));
  const atom self_name("otpp_test@127.0.0.1");
  handshake h(handshake::role::acceptor, {self_name, flag::otpp_node, *creation}, "secret",
              otpp_test::random_challenge());
  std::string pending;
  REQUIRE(otpp_test::run_handshake(conn, h, &pending));
  CHECK(h.peer().name == atom("pinger@127.0.0.1"));

  // gen:call({net_kernel, Node}, {is_auth, Node}): a name monitor (MONITOR_P),
  // then {'$gen_call', {From, Tag}, {is_auth, Node}} to net_kernel.
  // Other traffic (global's name server) is skipped.
  bool asked = false;
  for (int i = 0; i < 50 && !asked; ++i) {
    const auto p = otpp_test::read_packet(conn, pending);
    INFO(otpp::to_string(p.control));
    const auto c = otpp::dist::parse_control(p);
    if (const auto* m = std::get_if<otpp::dist::monitor_msg>(&c)) {
      // gen:call monitors {net_kernel, Node} by name (DIST_MONITOR_NAME)
      CHECK(m->to == otpp::dist::process_id(atom("net_kernel")));
      continue;
    }
    const auto* rs = std::get_if<otpp::dist::reg_send_msg>(&c);
    if (rs == nullptr || rs->to != atom("net_kernel"))
      continue; // global's name server
    REQUIRE(rs->message.is_tagged("$gen_call", 3));
    const term& from = rs->message[1];
    const term answer = term::tuple({from[1], atom("yes")});
    otpp::dist::send_msg reply{*from[0].get_if<otpp::external_pid>(), std::nullopt, answer};
    conn.write(otpp::dist::frame_control(reply, h.peer().flags));
    asked = true;
  }
  REQUIRE(asked);
  REQUIRE(pinger.wait_exit(std::chrono::seconds(30)));
  CHECK_THAT(cluster.log_of("pinger"), Catch::Contains("pong"));
}

TEST_CASE("a real Erlang node refuses a handshake with the wrong cookie",
          "[dist][handshake][beam]") {
  otpp_test::beam_cluster cluster;
  otpp_test::start_echo_node(cluster);
  auto conn = otpp_test::tcp_conn::connect(cluster.node_port("beam"));
  handshake h(handshake::role::initiator, {atom("otpp_test@127.0.0.1"), flag::otpp_node, 1},
              "not-the-cookie", otpp_test::random_challenge());
  bool completed = false;
  try {
    completed = otpp_test::run_handshake(conn, h);
  } catch (const std::exception&) { // a reset connection is a refusal too
    completed = false;
  }
  CHECK_FALSE(completed);
}

} // namespace OTPP_TEST_FILE
