// etf: the cost of a typical distribution message in the external term
// format: a gen_server call `{'$gen_call', {Pid, Ref}, {add, X, Y}}` built
// from C++ values (to_term), encoded, decoded and read back (from_term).
// Distributed under the Boost Software License, Version 1.0.
//
// Usage: bench_etf [messages]   (default 1,000,000)
// Prints three lines: encode (to_term + encode), decode (decode +
// from_term), and bytes per message.
#include "bench_common.hpp"

#include <otpp/dist/convert.hpp>
#include <otpp/dist/etf.hpp>

#include <cstddef>
#include <cstdint>
#include <string>

struct add {
  double x, y;
};
OTPP_TERM_TAG(add, "add");

int main(int argc, char** argv) {
  const long n = bench::arg(argc, argv, 1, 1000000);
  const otpp::external_pid pid{otpp::atom("client@127.0.0.1"), 4711, 0, 1733400000};
  const otpp::external_ref ref{otpp::atom("client@127.0.0.1"), 1733400000, 3, {1, 2, 3, 0, 0}};
  const otpp::atom label("$gen_call");

  std::string wire;
  std::size_t bytes = 0;
  auto t0 = bench::clock::now();
  for (long i = 0; i < n; ++i) {
    const otpp::term msg = otpp::term::tuple(
        {label, otpp::term::tuple({pid, ref}), otpp::to_term(add{static_cast<double>(i), 2.0})});
    wire.clear();
    otpp::etf::encode_to(wire, msg);
    bytes += wire.size();
  }
  const double enc = bench::seconds_since(t0);

  double sum = 0;
  t0 = bench::clock::now();
  for (long i = 0; i < n; ++i) {
    std::size_t pos = 0;
    const otpp::term msg = otpp::etf::decode_one(wire, pos);
    if (auto a = otpp::from_term<add>(msg[2]))
      sum += a->x;
  }
  const double dec = bench::seconds_since(t0);
  fmt::print("etf: encode {} gen_server calls in {:.3f} s: {:.2f}M/s ({:.0f} ns each)\n", n, enc,
             static_cast<double>(n) / enc / 1e6, enc / static_cast<double>(n) * 1e9);
  fmt::print("etf: decode {} gen_server calls in {:.3f} s: {:.2f}M/s ({:.0f} ns each)\n", n, dec,
             static_cast<double>(n) / dec / 1e6, dec / static_cast<double>(n) * 1e9);
  fmt::print("etf: {} bytes per message (checksum {})\n", bytes / static_cast<std::size_t>(n),
             sum > 0 ? 1 : 0);
}
