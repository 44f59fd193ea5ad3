#include <otpp/dist/control.hpp>

#include "dist_test.hpp"

#include <catch2/catch.hpp>

#include <cstdint>
#include <string>
#include <variant>

namespace OTPP_TEST_FILE {

using otpp::atom;
using otpp::term;
namespace dist = otpp::dist;

const otpp::external_pid a{atom("a@h"), 1, 0, 1};
const otpp::external_pid b{atom("b@h"), 2, 0, 1};
const otpp::external_ref r{atom("a@h"), 1, 3, {1, 2, 3, 0, 0}};

dist::control_msg round_trip(const dist::control_msg& m, std::uint64_t flags) {
  const std::string wire = dist::frame_control(m, flags);
  return dist::parse_control(dist::parse_packet(std::string_view(wire).substr(4)));
}

TEST_CASE("every control message survives framing and parsing", "[dist][control]") {
  for (std::uint64_t flags : {dist::flag::otpp_node, dist::flag::mandatory_25,
                              dist::flag::otpp_node | dist::flag::send_sender}) {
    INFO(flags);
    auto l = std::get<dist::link_msg>(round_trip(dist::link_msg{a, b}, flags));
    CHECK(l.from == a);
    CHECK(l.to == b);
    auto u = std::get<dist::unlink_id_msg>(
        round_trip(dist::unlink_id_msg{std::uint64_t{1} << 63, a, b, true}, flags));
    CHECK(u.id == std::uint64_t{1} << 63);
    CHECK(u.ack);
    auto s = std::get<dist::send_msg>(round_trip(dist::send_msg{b, a, term(atom("hi"))}, flags));
    CHECK(s.to == b);
    CHECK(s.message == term(atom("hi")));
    CHECK(s.from.has_value() == ((flags & dist::flag::send_sender) != 0));
    auto rs = std::get<dist::reg_send_msg>(
        round_trip(dist::reg_send_msg{a, atom("math"), term::tuple({atom("add"), 1, 2})}, flags));
    CHECK(rs.to == atom("math"));
    CHECK(rs.message == term::tuple({atom("add"), 1, 2}));
    auto al =
        std::get<dist::alias_send_msg>(round_trip(dist::alias_send_msg{a, r, term(1)}, flags));
    CHECK(al.alias == r);
    for (bool by_link : {true, false}) {
      auto e = std::get<dist::exit_msg>(
          round_trip(dist::exit_msg{a, b, term::tuple({atom("shutdown"), 1}), by_link}, flags));
      CHECK(e.by_link == by_link);
      CHECK(e.reason == term::tuple({atom("shutdown"), 1}));
    }
    auto mo = std::get<dist::monitor_msg>(round_trip(dist::monitor_msg{a, atom("math"), r}, flags));
    CHECK(mo.to == dist::process_id(atom("math")));
    CHECK_FALSE(mo.demonitor);
    auto de = std::get<dist::monitor_msg>(round_trip(dist::monitor_msg{a, b, r, true}, flags));
    CHECK(de.to == dist::process_id(b));
    CHECK(de.demonitor);
    auto me = std::get<dist::monitor_exit_msg>(
        round_trip(dist::monitor_exit_msg{atom("math"), a, r, term(atom("noproc"))}, flags));
    CHECK(me.from == dist::process_id(atom("math")));
    CHECK(me.reason == term(atom("noproc")));
  }
}

TEST_CASE("control messages of the wrong shape are refused with the reason", "[dist][control]") {
  auto refused = [](term control, std::optional<term> message, const char* why) {
    dist::packet p{std::move(control), std::move(message)};
    CHECK_THROWS_WITH(dist::parse_control(std::move(p)), Catch::Contains(why));
  };
  refused(term::tuple({1, term(a)}), {}, "wrong number of elements");
  refused(term::tuple({1, term(a), term(1)}), {}, "no pid");
  refused(term::tuple({2, atom(""), term(b)}), {}, "lacks its message");
  refused(term::tuple({1, term(a), term(b)}), term(1), "carries a message");
  refused(term::tuple({6, term(a), atom(""), term(1)}), term(1), "other than an atom");
  refused(term::tuple({19, term(a), term(1), term(r)}), {}, "names no process");
  refused(term::tuple({19, term(a), term(b), term(1)}), {}, "no reference");
  refused(term::tuple({35, 0, term(a), term(b)}), {}, "unlink id");
  refused(term::tuple({7, term(a), term(b)}), {}, "does not handle"); // GROUP_LEADER
  refused(term::tuple({29, term(r), term(a), term(b), atom("m"), term::list({})}), term::list({}),
          "no {Module, Function, Arity}");
  refused(term::tuple({29, term(r), term(a), term(b), term::tuple({atom("m"), atom("f"), 2}),
                       term::list({})}),
          term::list({1}), "not a list of its arity");
  refused(term::tuple({29, term(r), term(a), term(b), term::tuple({atom("m"), atom("f"), 0}),
                       atom("monitor")}),
          term::list({}), "options that are not a list");
  refused(term::tuple({258, atom(""), term(b)}), term(1), "does not start with an operation");
  refused(term(1), {}, "does not start with an operation");
}

TEST_CASE("spawn requests and replies round-trip", "[dist][control]") {
  const std::uint64_t flags = dist::flag::otpp_node;
  auto sr = std::get<dist::spawn_request_msg>(
      round_trip(dist::spawn_request_msg{r, a, term(b), atom("erpc"), atom("execute_call"), 2,
                                         term::list({atom("monitor")}), term::list({1, atom("x")})},
                 flags));
  CHECK(sr.id == r);
  CHECK(sr.from == a);
  CHECK(sr.module == atom("erpc"));
  CHECK(sr.function == atom("execute_call"));
  CHECK(sr.arity == 2);
  CHECK(sr.options == term::list({atom("monitor")}));
  CHECK(sr.args == term::list({1, atom("x")}));
  auto rp =
      std::get<dist::spawn_reply_msg>(round_trip(dist::spawn_reply_msg{r, a, 2, term(b)}, flags));
  CHECK(rp.to == a);
  CHECK(rp.flags == 2);
  CHECK(rp.result == term(b));
}

TEST_CASE("trace-token forms are read with the token dropped", "[dist][control]") {
  dist::packet p{term::tuple({12, atom(""), term(b), atom("token")}), term(5)};
  auto s = std::get<dist::send_msg>(dist::parse_control(std::move(p)));
  CHECK(s.to == b);
  CHECK(s.message == term(5));
  dist::packet e{term::tuple({13, term(a), term(b), atom("token"), atom("boom")}), std::nullopt};
  CHECK(std::get<dist::exit_msg>(dist::parse_control(std::move(e))).reason == term(atom("boom")));
}

} // namespace OTPP_TEST_FILE
