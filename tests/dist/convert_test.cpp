#include <otpp/dist/convert.hpp>

#include "dist_test.hpp"

#include <otpp/dist/etf.hpp>

#include <catch2/catch.hpp>

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <tuple>
#include <unordered_map>
#include <variant>
#include <vector>

namespace convert_test_types {
struct add {
  double x, y;
};
struct print_sum {
  std::int64_t a, b;
};
struct stop {};
struct order {
  std::string item;
  std::vector<int> sizes;
  std::optional<std::string> note;
  std::map<std::string, int> stock;
};
} // namespace convert_test_types

OTPP_TERM_TAG(convert_test_types::add, "add");
OTPP_TERM_TAG(convert_test_types::print_sum, "print_sum");
OTPP_TERM_TAG(convert_test_types::stop, "stop");
OTPP_TERM_TAG(convert_test_types::order, "order");

namespace OTPP_TEST_FILE {

using namespace convert_test_types;
using otpp::atom;
using otpp::from_term;
using otpp::term;
using otpp::to_term;

TEST_CASE("a tagged struct is a tagged tuple, an empty one a bare atom", "[dist][convert]") {
  CHECK(to_term(add{1.5, 2}) == term::tuple({atom("add"), 1.5, 2.0}));
  CHECK(otpp::to_string(to_term(add{1.5, 2})) == "{add,1.5,2.0}");
  CHECK(to_term(stop{}) == term(atom("stop")));
  CHECK(from_term<stop>(term(atom("stop"))).has_value());
  CHECK_FALSE(from_term<stop>(term(atom("go"))).has_value());
}

TEST_CASE("what Erlang sends fits the struct: integers for doubles too", "[dist][convert]") {
  // gen_server:call(Math, {add, 1, 2}) from Erlang sends integers.
  const term sent =
      otpp::etf::decode(otpp_test::bytes({131, 104, 3, 100, 0, 3, 97, 100, 100, 97, 1, 97, 2}));
  auto a = from_term<add>(sent);
  REQUIRE(a);
  CHECK(a->x == 1.0);
  CHECK(a->y == 2.0);
  // Another tag, another arity or a field of another type do not fit.
  CHECK_FALSE(from_term<add>(term::tuple({atom("sub"), 1, 2})));
  CHECK_FALSE(from_term<add>(term::tuple({atom("add"), 1})));
  CHECK_FALSE(from_term<add>(term::tuple({atom("add"), 1, atom("x")})));
  CHECK_FALSE(from_term<print_sum>(term::tuple({atom("print_sum"), 1.5, 2})));
}

TEST_CASE("containers, optionals and maps map both ways", "[dist][convert]") {
  const order o{"tea", {1, 2, 3}, std::nullopt, {{"green", 4}, {"black", 0}}};
  const term t = to_term(o);
  CHECK(otpp::to_string(t) ==
        "{order,<<\"tea\">>,[1,2,3],undefined,#{<<\"black\">> => 0,<<\"green\">> => 4}}");
  auto back = from_term<order>(otpp::etf::decode(otpp::etf::encode(t)));
  REQUIRE(back);
  CHECK(back->item == "tea");
  CHECK(back->sizes == std::vector<int>{1, 2, 3});
  CHECK_FALSE(back->note);
  CHECK(back->stock == o.stock);
  CHECK(to_term(std::optional<int>(5)) == term(5));

  using tup = std::tuple<atom, int, std::string>;
  CHECK(from_term<tup>(term::tuple({atom("x"), 1, term::binary("y")})) == tup{atom("x"), 1, "y"});
  CHECK(from_term<std::pair<int, bool>>(term::tuple({1, true})) == std::pair<int, bool>{1, true});
  std::unordered_map<int, double> um{{1, 0.5}};
  CHECK(from_term<std::unordered_map<int, double>>(to_term(um)) == um);
}

TEST_CASE("strings read binaries and Erlang strings alike", "[dist][convert]") {
  CHECK(from_term<std::string>(term::binary("abc")) == std::string("abc"));
  CHECK(from_term<std::string>(term::string("h\xC3\xA9")) == std::string("h\xC3\xA9"));
  CHECK(from_term<std::string>(term()) == std::string());
  CHECK_FALSE(from_term<std::string>(term::list({-1})));
  CHECK_FALSE(from_term<std::string>(term(atom("abc"))));
}

TEST_CASE("integers out of the target's range do not fit", "[dist][convert]") {
  CHECK(from_term<std::uint8_t>(term(255)) == std::uint8_t{255});
  CHECK_FALSE(from_term<std::uint8_t>(term(256)));
  CHECK_FALSE(from_term<std::uint32_t>(term(-1)));
  CHECK_FALSE(from_term<std::int32_t>(term(std::int64_t{1} << 40)));
  CHECK(from_term<std::uint64_t>(term(std::numeric_limits<std::uint64_t>::max())) ==
        std::numeric_limits<std::uint64_t>::max());
  CHECK_FALSE(from_term<std::int64_t>(term(std::numeric_limits<std::uint64_t>::max())));
  CHECK_FALSE(from_term<int>(term(1.0)));
  CHECK(from_term<bool>(term(atom("true"))) == true);
  CHECK_FALSE(from_term<bool>(term(1)));
}

TEST_CASE("variants take the first alternative that fits", "[dist][convert]") {
  using v = std::variant<add, stop, std::int64_t>;
  CHECK(std::holds_alternative<stop>(*from_term<v>(term(atom("stop")))));
  CHECK(std::get<std::int64_t>(*from_term<v>(term(7))) == 7);
  CHECK_FALSE(from_term<v>(term(atom("other"))));
  CHECK(to_term(v(add{1, 2})) == to_term(add{1, 2}));
}

TEST_CASE("term_cast names the type and the term when they do not fit", "[dist][convert]") {
  try {
    otpp::term_cast<add>(term::tuple({atom("add"), atom("x"), 2}));
    FAIL("no error");
  } catch (const otpp::bad_term& e) {
    CHECK_THAT(e.what(), Catch::Contains("{add,x,2}"));
    CHECK_THAT(e.what(), Catch::Contains("add"));
  }
}

TEST_CASE("terms compare and print as in Erlang", "[dist][term]") {
  // number < atom < reference < fun < port < pid < tuple < map < nil < list < bitstring
  const std::vector<term> ordered = {term(1),
                                     term(1.5),
                                     term(atom("a")),
                                     term(otpp::external_ref{atom("n@h"), 1, 1, {1, 0, 0, 0, 0}}),
                                     term(otpp::export_fun{atom("m"), atom("f"), 1}),
                                     term(otpp::external_port{atom("n@h"), 1, 1}),
                                     term(otpp::external_pid{atom("n@h"), 1, 1, 1}),
                                     term::tuple({1}),
                                     term::map({}),
                                     term(),
                                     term::list({1}),
                                     term::binary("a")};
  for (std::size_t i = 1; i < ordered.size(); ++i) {
    INFO(i);
    CHECK(ordered[i - 1] < ordered[i]);
  }
  CHECK(term(1) != term(1.0)); // =:=
  CHECK(term(1) < term(1.0));
  CHECK(term(2) > term(1.5));
  CHECK(term::list({1, 2}) < term::list({1, 2, 3}));
  CHECK(term::list({1}, term(2)) == term::list({1}, term(2)));
  CHECK(term::list({1}, term::list({2})) == term::list({1, 2})); // [1|[2]] is [1,2]
  CHECK(otpp::to_string(term::list({atom("a")}, term(atom("b")))) == "[a|b]");
  CHECK(otpp::to_string(term(atom("EXIT"))) == "'EXIT'");
  CHECK(otpp::to_string(term::string("hi")) == "\"hi\"");
  CHECK(otpp::to_string(term::binary("\x01")) == "<<1>>");
  CHECK(otpp::to_string(term(3.0)) == "3.0");
  CHECK(fmt::format("{}", term::tuple({atom("ok"), 1})) == "{ok,1}");
  CHECK(term::map({{atom("b"), 1}, {atom("a"), 2}}).find(term(atom("a")))->get_if<std::int64_t>());
  CHECK_THROWS_AS(term::map({{1, 1}, {1, 2}}), std::invalid_argument);
}

TEST_CASE("atoms are interned and validated", "[dist][term]") {
  CHECK(atom("ok") == atom(std::string("ok")));
  CHECK(atom("a") < atom("b"));
  CHECK_THROWS_AS(atom(std::string(256, 'x')), std::invalid_argument);
  CHECK_THROWS_AS(atom("\xFF"), std::invalid_argument);
  CHECK(fmt::format("{}", atom("hello world")) == "'hello world'");
  CHECK(fmt::format("{}", atom("case")) == "'case'");
}

} // namespace OTPP_TEST_FILE
