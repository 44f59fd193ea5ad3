// The Erlang distribution protocol: capability flags, control message
// operations, and the framing of packets after the handshake.
// Distributed under the Boost Software License, Version 1.0.
#pragma once

#include <otpp/dist/etf.hpp>
#include <otpp/dist/term.hpp>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>

namespace otpp::dist {

/// Capability flags a node announces in the handshake (erts:
/// erl_dist_protocol, kernel's dist.hrl).
namespace flag {
inline constexpr std::uint64_t published = 0x01;
inline constexpr std::uint64_t atom_cache = 0x02;
inline constexpr std::uint64_t extended_references = 0x04;
inline constexpr std::uint64_t dist_monitor = 0x08;
inline constexpr std::uint64_t fun_tags = 0x10;
inline constexpr std::uint64_t dist_monitor_name = 0x20;
inline constexpr std::uint64_t hidden_atom_cache = 0x40;
inline constexpr std::uint64_t new_fun_tags = 0x80;
inline constexpr std::uint64_t extended_pids_ports = 0x100;
inline constexpr std::uint64_t export_ptr_tag = 0x200;
inline constexpr std::uint64_t bit_binaries = 0x400;
inline constexpr std::uint64_t new_floats = 0x800;
inline constexpr std::uint64_t unicode_io = 0x1000;
inline constexpr std::uint64_t dist_hdr_atom_cache = 0x2000;
inline constexpr std::uint64_t small_atom_tags = 0x4000;
inline constexpr std::uint64_t utf8_atoms = 0x10000;
inline constexpr std::uint64_t map_tag = 0x20000;
inline constexpr std::uint64_t big_creation = 0x40000;
inline constexpr std::uint64_t send_sender = 0x80000;
inline constexpr std::uint64_t big_seqtrace_labels = 0x100000;
inline constexpr std::uint64_t exit_payload = 0x400000;
inline constexpr std::uint64_t fragments = 0x800000;
inline constexpr std::uint64_t handshake_23 = 0x1000000;
inline constexpr std::uint64_t unlink_id = 0x2000000;
inline constexpr std::uint64_t mandatory_25_digest = 0x4000000;
inline constexpr std::uint64_t spawn = std::uint64_t{1} << 32;
inline constexpr std::uint64_t name_me = std::uint64_t{2} << 32;
inline constexpr std::uint64_t v4_nc = std::uint64_t{4} << 32;
inline constexpr std::uint64_t alias = std::uint64_t{8} << 32;

/// What OTP 25 requires of a peer (or `mandatory_25_digest`, which
/// stands for all of them).
inline constexpr std::uint64_t mandatory_25 =
    extended_references | fun_tags | extended_pids_ports | new_fun_tags | export_ptr_tag |
    bit_binaries | new_floats | utf8_atoms | map_tag | big_creation | handshake_23;

/// What an otpp node announces: OTP 25's mandatory set, monitors by pid and
/// by name, the new link protocol (UNLINK_ID) and 64-bit pid numbers
/// (V4_NC), which OTP 26 requires, and exit reasons as a separate term.
inline constexpr std::uint64_t otpp_node = published | mandatory_25 | mandatory_25_digest |
                                           dist_monitor | dist_monitor_name | unlink_id | v4_nc |
                                           exit_payload | spawn;

/// True if a peer announcing `flags` is one otpp can talk to (OTP 25's
/// mandatory flags, and the new link protocol OTP 26 requires of everyone).
constexpr bool acceptable(std::uint64_t flags) noexcept {
  const bool has_25 = (flags & mandatory_25) == mandatory_25 || (flags & mandatory_25_digest) != 0;
  return has_25 && (flags & unlink_id) != 0;
}
} // namespace flag

/// Operations of control messages: the first element of each control tuple.
enum class op : std::uint8_t {
  link = 1,
  send = 2,
  exit = 3,
  unlink = 4, // before OTP 23 (UNLINK_ID replaces it)
  node_link = 5,
  reg_send = 6,
  group_leader = 7,
  exit2 = 8,
  send_tt = 12,
  exit_tt = 13,
  reg_send_tt = 16,
  exit2_tt = 18,
  monitor_p = 19,
  demonitor_p = 20,
  monitor_p_exit = 21,
  send_sender = 22,
  send_sender_tt = 23,
  payload_exit = 24,
  payload_exit_tt = 25,
  payload_exit2 = 26,
  payload_exit2_tt = 27,
  payload_monitor_p_exit = 28,
  spawn_request = 29,
  spawn_request_tt = 30,
  spawn_reply = 31,
  spawn_reply_tt = 32,
  alias_send = 33,
  alias_send_tt = 34,
  unlink_id = 35,
  unlink_id_ack = 36,
};

/// A malformed packet or handshake message from a peer.
class protocol_error : public std::runtime_error {
public:
  using std::runtime_error::runtime_error;
};

/// A packet after the handshake: a control term and, for the operations
/// that carry one (sends, payload exits), a message term.
struct packet {
  term control;
  std::optional<term> message;
};

/// The bytes of a packet: a 4-byte length, the pass-through type 112, the
/// control term and the message term (each with its version byte). No
/// atom cache (otpp does not announce DIST_HDR_ATOM_CACHE).
inline std::string frame_packet(const term& control, const term* message = nullptr) {
  std::string out(4, '\0');
  out += static_cast<char>(112);
  out += static_cast<char>(etf::version_magic);
  etf::encode_to(out, control);
  if (message != nullptr) {
    out += static_cast<char>(etf::version_magic);
    etf::encode_to(out, *message);
  }
  const std::size_t n = out.size() - 4;
  if (n > 0xFFFFFFFFu)
    throw etf::encode_error("otpp::dist: a packet longer than 2^32 - 1 bytes");
  for (int i = 0; i < 4; ++i)
    out[static_cast<std::size_t>(i)] = static_cast<char>((n >> (24 - 8 * i)) & 0xFF);
  return out;
}

/// The empty packet a node sends to show it is alive (a tick).
inline std::string tick_packet() {
  return std::string(4, '\0');
}

/// Parse the body of a packet (what follows its 4-byte length; not a tick):
/// pass-through type, control term, optional message term, nothing else.
/// @par Errors
/// `protocol_error` saying what is wrong (the decoder's reason for a bad term).
inline packet parse_packet(std::string_view body, const etf::decode_limits& limits = {}) {
  if (body.empty() || static_cast<std::uint8_t>(body[0]) != 112)
    throw protocol_error(
        "otpp::dist: a packet is not a pass-through packet (type 112): the peer uses an atom "
        "cache or fragments, which otpp did not announce");
  std::size_t pos = 1;
  auto one = [&]() {
    if (pos >= body.size() || static_cast<std::uint8_t>(body[pos]) != etf::version_magic)
      throw protocol_error("otpp::dist: a term in a packet lacks its version byte 131");
    ++pos;
    try {
      return etf::decode_one(body, pos, limits);
    } catch (const etf::decode_error& e) {
      throw protocol_error(std::string("otpp::dist: a packet holds a bad term: ") + e.what());
    }
  };
  packet p;
  p.control = one();
  if (!p.control.is_tuple() || p.control.size() == 0 ||
      p.control[0].get_if<std::int64_t>() == nullptr)
    throw protocol_error(
        "otpp::dist: a control message is not a tuple starting with its operation");
  if (pos < body.size())
    p.message = one();
  if (pos != body.size())
    throw protocol_error("otpp::dist: bytes are left after a packet's terms");
  return p;
}

} // namespace otpp::dist
