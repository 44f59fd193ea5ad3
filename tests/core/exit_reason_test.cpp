#include <otpp/core/exit_reason.hpp>

#include "otpp_test.hpp"

#include <catch2/catch.hpp>
#include <fmt/format.h>

#include <stdexcept>

namespace OTPP_TEST_FILE {

using otpp::exit_reason;

TEST_CASE("exit reasons format like Erlang terms", "[core][exit_reason]") {
  CHECK(fmt::format("{}", exit_reason::normal()) == "normal");
  CHECK(fmt::format("{}", exit_reason::shutdown()) == "shutdown");
  CHECK(fmt::format("{}", exit_reason::shutdown("maintenance")) == "{shutdown, \"maintenance\"}");
  CHECK(fmt::format("{}", exit_reason::kill()) == "kill");
  CHECK(fmt::format("{}", exit_reason::killed()) == "killed");
  CHECK(fmt::format("{}", exit_reason::noproc()) == "noproc");
  CHECK(fmt::format("{}", exit_reason::timeout()) == "timeout");
  CHECK(fmt::format("{}", exit_reason::user("bad_input")) == "{user, \"bad_input\"}");
}

TEST_CASE("an exception becomes a reason holding its type and what()", "[core][exit_reason]") {
  exit_reason r =
      exit_reason::from_exception(std::make_exception_ptr(std::out_of_range("index 7")));
  CHECK(r.which() == exit_reason::kind::exception);
  CHECK(r.exception_type() == "std::out_of_range");
  CHECK(r.detail() == "index 7");
  CHECK(fmt::format("{}", r) == "{exception, std::out_of_range, \"index 7\"}");
  exit_reason odd = exit_reason::from_exception(std::make_exception_ptr(42));
  CHECK(odd.which() == exit_reason::kind::exception);
  CHECK(odd.exception_type() == "int");
}

TEST_CASE("normal and shutdown count as clean exits, others do not", "[core][exit_reason]") {
  CHECK(exit_reason().is_normal());
  CHECK(exit_reason::normal().is_clean());
  CHECK(exit_reason::shutdown().is_clean());
  CHECK(exit_reason::shutdown("detail").is_clean());
  CHECK_FALSE(exit_reason::shutdown().is_normal());
  CHECK_FALSE(exit_reason::killed().is_clean());
  CHECK_FALSE(exit_reason::user("x").is_clean());
}

TEST_CASE("exit reasons compare by kind and text, and carry a payload", "[core][exit_reason]") {
  CHECK(exit_reason::shutdown("a") == exit_reason::shutdown("a"));
  CHECK_FALSE(exit_reason::shutdown("a") == exit_reason::shutdown("b"));
  CHECK_FALSE(exit_reason::kill() == exit_reason::killed());
  exit_reason r = exit_reason::user("code", 404);
  REQUIRE(r.payload().has_value());
  CHECK(std::any_cast<int>(r.payload()) == 404);
}

TEST_CASE("texts inside an exit reason's text are escaped, so a nested reason stays readable",
          "[core][exit_reason]") {
  auto inner = otpp::exit_reason::user("boom \"x\"");
  CHECK(inner.to_string() == R"({user, "boom \"x\""})");
  auto outer = otpp::exit_reason::shutdown("failed_to_start_child a: " + inner.to_string());
  CHECK(outer.to_string() ==
        R"({shutdown, "failed_to_start_child a: {user, \"boom \\\"x\\\"\"}"})");
  CHECK(otpp::exit_reason::exception("E", "a\\b\nc").to_string() == R"({exception, E, "a\\b\nc"})");
  CHECK(fmt::format("{}", otpp::exit_reason::user("plain")) == R"({user, "plain"})");
}

struct not_an_exception {
  int code;
};

TEST_CASE("an exception of a type not derived from std::exception gives a reason naming its type",
          "[core][exit_reason]") {
  auto of = [](auto thrown) {
    try {
      throw thrown;
    } catch (...) {
      return exit_reason::from_exception(std::current_exception());
    }
  };
  exit_reason i = of(42);
  CHECK(i.which() == exit_reason::kind::exception);
  CHECK(i.exception_type() == "int");
  CHECK(fmt::format("{}", i) == "{exception, int, \"\"}");
  exit_reason c = of("no disk");
  CHECK(c.exception_type() == "const char*");
  CHECK(c.detail() == "no disk");
  exit_reason s = of(std::string("bad input"));
  CHECK(s.exception_type() == "std::string");
  CHECK(s.detail() == "bad input");
  exit_reason u = of(not_an_exception{7});
  CHECK_THAT(std::string(u.exception_type()), Catch::EndsWith("not_an_exception"));
}

} // namespace OTPP_TEST_FILE
