// libFuzzer target: the distribution handshake, packet, control message and
// epmd parsers on arbitrary bytes from a peer.
// Distributed under the Boost Software License, Version 1.0.
//
// Whatever a peer sends, each parser ends in a result or a protocol_error
// (never a crash, a hang, a leak or undefined behaviour: the target runs
// under ASan and UBSan). Built by the asan-ubsan preset and run by ctest for
// a bounded time on the seeds in tests/fuzz/handshake_corpus.
#include <otpp/dist/control.hpp>
#include <otpp/dist/epmd.hpp>
#include <otpp/dist/handshake.hpp>
#include <otpp/dist/protocol.hpp>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace {
void feed_all(otpp::dist::handshake h, std::string_view in) {
  try {
    // In two pieces, so that messages split across reads are exercised.
    h.feed(in.substr(0, in.size() / 2));
    h.feed(in.substr(in.size() / 2));
    static_cast<void>(h.take_output());
    static_cast<void>(h.take_leftover());
  } catch (const otpp::dist::handshake_error&) { // a refusal: fine
  }
}
} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  const otpp::dist::node_identity self{otpp::atom("fuzz@127.0.0.1")};
  feed_all(otpp::dist::handshake(otpp::dist::handshake::role::acceptor, self, "cookie", 1), in);
  otpp::dist::handshake initiator(otpp::dist::handshake::role::initiator, self, "cookie", 2);
  static_cast<void>(initiator.take_output());
  feed_all(std::move(initiator), in);
  try {
    static_cast<void>(otpp::dist::parse_control(otpp::dist::parse_packet(in)));
  } catch (const otpp::dist::protocol_error&) {
  }
  try {
    static_cast<void>(otpp::dist::epmd::parse_alive2_response(in));
  } catch (const otpp::dist::protocol_error&) {
  }
  try {
    static_cast<void>(otpp::dist::epmd::parse_port2_response(in));
  } catch (const otpp::dist::protocol_error&) {
  }
  return 0;
}
