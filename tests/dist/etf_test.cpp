#include <otpp/dist/etf.hpp>

#include "dist_test.hpp"

#include <catch2/catch.hpp>

#include <cstdint>
#include <limits>
#include <string>
#include <vector>

namespace OTPP_TEST_FILE {

using otpp::atom;
using otpp::term;
using otpp_test::bytes;
using otpp_test::sample_terms;

TEST_CASE("encodings are byte for byte Erlang's", "[dist][etf]") {
  // term_to_binary(T, [{minor_version, 2}]) on OTP 25.
  CHECK(otpp::etf::encode(term::tuple({atom("add"), 1, 2})) ==
        bytes({131, 104, 3, 119, 3, 97, 100, 100, 97, 1, 97, 2}));
  CHECK(otpp::etf::encode(term(-1)) == bytes({131, 98, 255, 255, 255, 255}));
  CHECK(otpp::etf::encode(term(std::int64_t{1} << 40)) ==
        bytes({131, 110, 6, 0, 0, 0, 0, 0, 0, 1}));
  CHECK(otpp::etf::encode(term(3.0)) == bytes({131, 70, 64, 8, 0, 0, 0, 0, 0, 0}));
  CHECK(otpp::etf::encode(term()) == bytes({131, 106}));
  CHECK(otpp::etf::encode(term::list({1, 2})) == bytes({131, 108, 0, 0, 0, 2, 97, 1, 97, 2, 106}));
  CHECK(otpp::etf::encode(term::binary("hi")) == bytes({131, 109, 0, 0, 0, 2, 104, 105}));
  CHECK(otpp::etf::encode(term::map({{atom("a"), 1}})) ==
        bytes({131, 116, 0, 0, 0, 1, 119, 1, 97, 97, 1}));
}

TEST_CASE("what BEAM writes decodes, old and new forms alike", "[dist][etf]") {
  // Latin-1 atoms (OTP 25's default), STRING_EXT, old FLOAT_EXT, PID_EXT.
  CHECK(otpp::etf::decode(bytes({131, 100, 0, 2, 111, 107})) == term(atom("ok")));
  CHECK(otpp::etf::decode(bytes({131, 115, 1, 0xE9})) == term(atom("\xC3\xA9"))); // 'é'
  CHECK(otpp::etf::decode(bytes({131, 107, 0, 2, 104, 105})) == term::string("hi"));
  std::string old_float = bytes({131, 99}) + "1.50000000000000000000e+00";
  old_float.resize(2 + 31, '\0');
  CHECK(otpp::etf::decode(old_float) == term(1.5));
  const term p = otpp::etf::decode(bytes({131, 103, 100, 0, 1, 110, 0, 0, 0, 7, 0, 0, 0, 0, 3}));
  REQUIRE(p.get_if<otpp::external_pid>() != nullptr);
  CHECK(p.get_if<otpp::external_pid>()->id == 7);
  CHECK(p.get_if<otpp::external_pid>()->creation == 3);
}

TEST_CASE("every sample term survives encode then decode", "[dist][etf]") {
  for (const term& t : sample_terms()) {
    INFO(otpp::to_string(t));
    CHECK(otpp::etf::decode(otpp::etf::encode(t)) == t);
  }
}

TEST_CASE("integers take the smallest form and big ones round trip", "[dist][etf]") {
  const std::int64_t values[] = {0,
                                 255,
                                 256,
                                 -1,
                                 INT32_MAX,
                                 INT32_MIN,
                                 -(1LL << 40),
                                 std::numeric_limits<std::int64_t>::min(),
                                 std::numeric_limits<std::int64_t>::max()};
  for (std::int64_t v : values) {
    INFO(v);
    CHECK(otpp::etf::decode(otpp::etf::encode(term(v))) == term(v));
  }
  const term big(std::numeric_limits<std::uint64_t>::max());
  CHECK(big.which() == term::kind::big_integer);
  CHECK(otpp::to_string(big) == "18446744073709551615");
  // A SMALL_BIG_EXT that fits 64 bits decodes as a plain integer.
  CHECK(otpp::etf::decode(bytes({131, 110, 1, 1, 5})) == term(-5));
}

TEST_CASE("malformed input is an error with its offset, never a crash", "[dist][etf]") {
  // Every strict prefix of every sample encoding is truncated.
  for (const term& t : sample_terms()) {
    const std::string full = otpp::etf::encode(t);
    for (std::size_t n = 0; n < full.size(); ++n) {
      std::string why;
      CHECK_FALSE(otpp::etf::try_decode(full.substr(0, n), &why));
      CHECK_FALSE(why.empty());
    }
    CHECK_FALSE(otpp::etf::try_decode(full + "x")); // trailing bytes
  }
  const auto fails = [](const std::string& in, const char* what) {
    try {
      otpp::etf::decode(in);
      FAIL("decoded: " << what);
    } catch (const otpp::etf::decode_error& e) {
      CHECK_THAT(e.what(), Catch::Contains(what));
    }
  };
  fails(bytes({130, 106}), "version byte");
  fails(bytes({131, 108, 0xFF, 0xFF, 0xFF, 0xFF, 106}), "a length is larger than the input");
  fails(bytes({131, 116, 0x7F, 0xFF, 0xFF, 0xFF, 106, 106}), "a length is larger than the input");
  fails(bytes({131, 109, 0x7F, 0xFF, 0xFF, 0xFF}), "the input ends inside a term");
  fails(bytes({131, 111, 0xFF, 0xFF, 0xFF, 0xFF, 0}), "max_big_bytes");
  fails(bytes({131, 110, 1, 2, 1}), "sign byte");
  fails(bytes({131, 70, 0x7F, 0xF0, 0, 0, 0, 0, 0, 0}), "NaN or infinite");
  fails(bytes({131, 119, 2, 0xC3, 0x28}), "not UTF-8");
  fails(bytes({131, 116, 0, 0, 0, 2, 97, 1, 97, 1, 97, 1, 97, 2}), "the same key twice");
  fails(bytes({131, 80, 0, 0, 0, 1, 0}), "compressed");
  fails(bytes({131, 90, 0, 9, 119, 1, 110, 0, 0, 0, 0}), "1 to 5 words");
  fails(bytes({131, 77, 0, 0, 0, 1, 9, 0}), "bit count");
  fails(bytes({131, 255}), "unknown tag 255");
}

TEST_CASE("nesting deeper than the limit is refused", "[dist][etf]") {
  std::string deep = bytes({131});
  for (int i = 0; i < 100000; ++i)
    deep += bytes({104, 1}); // {{{{...}}}}
  deep += bytes({106});
  std::string why;
  CHECK_FALSE(otpp::etf::try_decode(deep, &why));
  CHECK_THAT(why, Catch::Contains("max_depth"));
  // At the limit it decodes.
  std::string ok = bytes({131});
  for (int i = 0; i < 128; ++i)
    ok += bytes({104, 1});
  ok += bytes({106});
  CHECK(otpp::etf::try_decode(ok));
}

TEST_CASE("more terms than the limit are refused before they are all allocated", "[dist][etf]") {
  // A list of 100,000 small integers (2 bytes each on the wire).
  std::string many = otpp_test::bytes({131, 108, 0, 1, 0x86, 0xA0});
  for (int i = 0; i < 100000; ++i)
    many += otpp_test::bytes({97, 1});
  many += otpp_test::bytes({106});
  CHECK(otpp::etf::try_decode(many));
  otpp::etf::decode_limits small;
  small.max_terms = 50000;
  std::string why;
  CHECK_FALSE(otpp::etf::try_decode(many, &why, small));
  CHECK_THAT(why, Catch::Contains("max_terms"));
  // STRING_EXT counts its characters too.
  std::string chars = otpp_test::bytes({131, 107, 0xFF, 0xFF}) + std::string(65535, 'a');
  small.max_terms = 1000;
  CHECK_FALSE(otpp::etf::try_decode(chars, &why, small));
}

TEST_CASE("floats Erlang cannot hold are refused when encoding", "[dist][etf]") {
  CHECK_THROWS_AS(otpp::etf::encode(term(std::numeric_limits<double>::infinity())),
                  otpp::etf::encode_error);
  CHECK_THROWS_AS(otpp::etf::encode(term::list({std::numeric_limits<double>::quiet_NaN()})),
                  otpp::etf::encode_error);
}

TEST_CASE("decode_one walks a stream of several terms", "[dist][etf]") {
  std::string stream;
  otpp::etf::encode_to(stream, term(atom("a")));
  otpp::etf::encode_to(stream, term::tuple({1, 2}));
  std::size_t pos = 0;
  CHECK(otpp::etf::decode_one(stream, pos) == term(atom("a")));
  CHECK(otpp::etf::decode_one(stream, pos) == term::tuple({1, 2}));
  CHECK(pos == stream.size());
  CHECK_THROWS_AS(otpp::etf::decode_one(stream, pos), otpp::etf::decode_error);
}

TEST_CASE("terms decoded by a real Erlang node come back equal", "[dist][etf][beam]") {
  // The sample terms go to `escript`, which decodes each with
  // binary_to_term and writes term_to_binary of it back; and BEAM's own
  // encodings of its sample terms come here to be decoded and re-encoded,
  // and BEAM checks they are =:= to what it meant.
  const auto result = otpp_test::run_beam_roundtrip(sample_terms());
  INFO(result.log);
  REQUIRE(result.ran);
  REQUIRE(result.back.size() == sample_terms().size());
  for (std::size_t i = 0; i < result.back.size(); ++i) {
    INFO(otpp::to_string(sample_terms()[i]));
    CHECK(otpp::etf::decode(result.back[i]) == sample_terms()[i]);
  }
  CHECK(result.beam_terms_checked > 10);
  CHECK(result.beam_verdict == "ok");
}

} // namespace OTPP_TEST_FILE
