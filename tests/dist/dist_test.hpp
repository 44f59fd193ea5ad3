// Helpers of the distribution tests: byte strings, sample terms, and a
// round trip through a real Erlang VM (escript).
// Distributed under the Boost Software License, Version 1.0.
#pragma once

#include <otpp/dist/etf.hpp>
#include <otpp/dist/term.hpp>

#include <fmt/format.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <initializer_list>
#include <iterator>
#include <limits>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#ifndef OTPP_TEST_FILE
#define OTPP_TEST_FILE otpp_test_file
#endif

namespace otpp_test {

inline std::string bytes(std::initializer_list<int> b) {
  std::string out;
  for (int x : b)
    out += static_cast<char>(static_cast<unsigned char>(x));
  return out;
}

// Terms of every kind and edge, for round trips.
inline const std::vector<otpp::term>& sample_terms() {
  using otpp::atom;
  using otpp::term;
  static const std::vector<term> samples = [] {
    std::vector<term> v;
    for (std::int64_t i : {std::int64_t{0}, std::int64_t{255}, std::int64_t{256}, std::int64_t{-1},
                           std::int64_t{INT32_MAX}, std::int64_t{INT32_MIN}, std::int64_t{1} << 40,
                           -(std::int64_t{1} << 40), std::numeric_limits<std::int64_t>::min(),
                           std::numeric_limits<std::int64_t>::max()})
      v.emplace_back(i);
    v.emplace_back(std::numeric_limits<std::uint64_t>::max());
    otpp::big_integer b100; // 2^100
    b100.magnitude.assign(13, 0);
    b100.magnitude[12] = 0x10;
    v.emplace_back(b100);
    b100.negative = true;
    v.emplace_back(b100);
    for (double d : {0.0, -1.5, 1e300, 5e-324, 3.0})
      v.emplace_back(d);
    v.emplace_back(atom(""));
    v.emplace_back(atom("ok"));
    v.emplace_back(atom("EXIT"));
    v.emplace_back(atom("h\xC3\xA9llo"));
    v.emplace_back(atom(std::string(255, 'z')));
    v.push_back(term::binary(""));
    v.push_back(term::binary("text"));
    std::string all;
    for (int i = 0; i < 256; ++i)
      all += static_cast<char>(i);
    v.push_back(term::binary(all));
    v.push_back(term::bitstring("\x01\x02\xF8", 5));
    v.emplace_back();
    v.push_back(term::list({1, 2, 3}));
    v.push_back(term::list({1}, 2)); // [1|2]
    v.push_back(term::list({term::list({}), term::list({term::tuple({})})}));
    v.push_back(term::string("hello"));
    v.push_back(term::tuple({}));
    v.push_back(term::tuple({atom("add"), 1, 2.5}));
    std::vector<term> wide;
    for (int i = 0; i < 300; ++i)
      wide.emplace_back(i);
    v.push_back(term::tuple(wide));
    v.push_back(term::map({}));
    v.push_back(term::map({{atom("a"), term::list({1, 2})},
                           {term::binary("k"), 1.0},
                           {1, term::map({{2, 3}})},
                           {term::tuple({}), atom("x")}}));
    v.emplace_back(otpp::external_pid{atom("n@h"), 1, 2, 3});
    v.emplace_back(otpp::external_ref{atom("n@h"), 7, 3, {1, 2, 3, 0, 0}});
    v.emplace_back(otpp::external_port{atom("n@h"), 42, 5});
    v.emplace_back(otpp::external_port{atom("n@h"), std::uint64_t{1} << 40, 5});
    v.emplace_back(otpp::export_fun{atom("lists"), atom("map"), 2});
    return v;
  }();
  return samples;
}

struct beam_roundtrip {
  bool ran = false;
  std::vector<std::string> back; // BEAM's re-encodings of our terms
  std::size_t beam_terms_checked = 0;
  std::string beam_verdict;
  std::string log;
};

inline std::string frame(const std::string& bin) {
  std::string out;
  const auto n = static_cast<std::uint32_t>(bin.size());
  for (int s = 24; s >= 0; s -= 8)
    out += static_cast<char>((n >> s) & 0xFF);
  return out + bin;
}

inline std::vector<std::string> frames(const std::string& data) {
  std::vector<std::string> out;
  std::size_t pos = 0;
  while (pos + 4 <= data.size()) {
    std::uint32_t n = 0;
    for (int i = 0; i < 4; ++i)
      n = (n << 8) | static_cast<unsigned char>(data[pos + static_cast<std::size_t>(i)]);
    pos += 4;
    out.push_back(data.substr(pos, n));
    pos += n;
  }
  return out;
}

inline std::string slurp(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// One escript run: it re-encodes our terms, writes its own, waits for our
// re-encoding of those and says whether they came back =:=.
inline beam_roundtrip run_beam_roundtrip(const std::vector<otpp::term>& terms) {
  namespace fs = std::filesystem;
  beam_roundtrip r;
  char tmpl[] = "/tmp/otpp_etf_XXXXXX";
  if (mkdtemp(tmpl) == nullptr) {
    r.log = "mkdtemp failed";
    return r;
  }
  const fs::path dir(tmpl);
  {
    std::ofstream out(dir / "ours.bin", std::ios::binary);
    for (const auto& t : terms)
      out << frame(otpp::etf::encode(t));
  }
  const std::string cmd =
      fmt::format("escript {}/etf_peer.escript {} 2>&1", OTPP_DIST_TEST_DIR, dir.string());
  FILE* pipe = popen(cmd.c_str(), "r");
  if (pipe == nullptr) {
    r.log = "popen failed";
    return r;
  }
  // Wait for BEAM's own terms, decode and re-encode them.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (!fs::exists(dir / "beam.bin") && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  if (fs::exists(dir / "beam.bin")) {
    std::string back;
    for (const auto& bin : frames(slurp(dir / "beam.bin"))) {
      std::string why;
      auto t = otpp::etf::try_decode(bin, &why);
      if (!t) {
        r.log += "cannot decode BEAM's term: " + why + "\n";
        back += frame(otpp::etf::encode(otpp::term(otpp::atom("undecodable"))));
      } else {
        back += frame(otpp::etf::encode(*t));
      }
    }
    {
      std::ofstream out(dir / "back.tmp", std::ios::binary);
      out << back;
    }
    fs::rename(dir / "back.tmp", dir / "back.bin");
  }
  std::string output;
  char buf[4096];
  while (std::fgets(buf, sizeof buf, pipe) != nullptr)
    output += buf;
  const int status = pclose(pipe);
  r.log += output;
  r.ran = status == 0;
  r.back = frames(slurp(dir / "ours_back.bin"));
  std::istringstream lines(output);
  std::string word;
  while (lines >> word)
    if (word == "checked")
      lines >> r.beam_terms_checked >> r.beam_verdict;
  fs::remove_all(dir);
  return r;
}

} // namespace otpp_test
