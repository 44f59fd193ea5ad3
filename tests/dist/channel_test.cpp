#include <otpp/dist/channel.hpp>

#include "beam_node.hpp"
#include "otpp_test.hpp"

#include <otpp/core/asio.hpp>

#include <boost/asio/ip/tcp.hpp>
#include <catch2/catch.hpp>

#include <string>
#include <variant>

namespace OTPP_TEST_FILE {

using otpp::atom;
using otpp::term;
namespace dist = otpp::dist;

const char* const echo_node =
    "register(echo, spawn(fun Loop() -> receive {From, Msg} -> From ! {echo, Msg}, Loop() end "
    "end)), io:format(\"echo ready~n\").";

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
  cluster.start_node("beam", "secret", echo_node);
  cluster.wait_for_output("beam", "echo ready");
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
  cluster.start_node("beam", "secret", echo_node);
  cluster.wait_for_output("beam", "echo ready");
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

} // namespace OTPP_TEST_FILE
