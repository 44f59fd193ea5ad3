// The epmd protocol (Erlang Port Mapper Daemon): register a node, look one
// up. Messages only; the connection is the caller's.
// Distributed under the Boost Software License, Version 1.0.
#pragma once

#include <otpp/dist/protocol.hpp>

#include <fmt/format.h>

#include <cstdint>
#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>

namespace otpp::detail {
inline void epmd_put16(std::string& s, std::uint16_t v) {
  s += static_cast<char>(v >> 8);
  s += static_cast<char>(v & 0xFF);
}
inline std::string epmd_with_length(const std::string& body) {
  std::string out;
  epmd_put16(out, static_cast<std::uint16_t>(body.size()));
  return out + body;
}
inline std::uint32_t epmd_get(std::string_view m, std::size_t at, std::size_t bytes) {
  std::uint32_t v = 0;
  for (std::size_t i = 0; i < bytes; ++i)
    v = (v << 8) | static_cast<std::uint8_t>(m[at + i]);
  return v;
}
} // namespace otpp::detail

namespace otpp::dist::epmd {

/// epmd's port: `ERL_EPMD_PORT` if set (and a valid port), else 4369.
inline std::uint16_t default_port() {
  if (const char* env = std::getenv("ERL_EPMD_PORT")) {
    char* end = nullptr;
    const unsigned long v = std::strtoul(env, &end, 10);
    if (end != env && *end == '\0' && v > 0 && v < 65536)
      return static_cast<std::uint16_t>(v);
  }
  return 4369;
}

/// ALIVE2_REQ: register `alive` (the part of the node name before '@')
/// listening on `port`, handshake version 6. epmd keeps the registration
/// while the connection that sent it stays open.
inline std::string alive2_request(std::uint16_t port, std::string_view alive, bool hidden = false) {
  std::string b;
  b += static_cast<char>(120);
  otpp::detail::epmd_put16(b, port);
  b += static_cast<char>(hidden ? 72 : 77); // node type: hidden or normal
  b += static_cast<char>(0);                // protocol: TCP/IPv4
  otpp::detail::epmd_put16(b, 6);           // highest version
  otpp::detail::epmd_put16(b, 6);           // lowest version
  otpp::detail::epmd_put16(b, static_cast<std::uint16_t>(alive.size()));
  b += alive;
  otpp::detail::epmd_put16(b, 0); // no extra
  return otpp::detail::epmd_with_length(b);
}

/// What ALIVE2_X_RESP / ALIVE2_RESP says: the creation epmd gave the node,
/// or nothing while the response is incomplete.
/// @par Errors
/// `protocol_error` if epmd refused (result not 0: the name is taken) or
/// the bytes are not a response.
inline std::optional<std::uint32_t> parse_alive2_response(std::string_view m) {
  if (m.size() < 2)
    return std::nullopt;
  const auto tag = static_cast<std::uint8_t>(m[0]);
  if (tag != 118 && tag != 121)
    throw protocol_error(fmt::format("otpp::dist::epmd: unexpected ALIVE2 response {}", tag));
  if (m[1] != 0)
    throw protocol_error(
        fmt::format("otpp::dist::epmd: epmd refused the registration (result {}): is the node name "
                    "taken?",
                    static_cast<int>(static_cast<std::uint8_t>(m[1]))));
  const std::size_t size = tag == 118 ? 6 : 4; // 4-byte or 2-byte creation
  if (m.size() < size)
    return std::nullopt;
  return otpp::detail::epmd_get(m, 2, size - 2);
}

/// PORT_PLEASE2_REQ: where does node `alive` listen?
inline std::string port_please2_request(std::string_view alive) {
  std::string b;
  b += static_cast<char>(122);
  b += alive;
  return otpp::detail::epmd_with_length(b);
}

/// A node as epmd knows it.
struct node_port {
  std::uint16_t port = 0;
  std::uint16_t highest_version = 0;
  std::uint16_t lowest_version = 0;
  bool hidden = false;
};

/// The answer to PORT_PLEASE2_REQ, which epmd sends before it closes the
/// connection (parse it once the connection is closed). Nothing if no
/// node of that name is registered.
/// @par Errors
/// `protocol_error` for bytes that are not a PORT2_RESP.
inline std::optional<node_port> parse_port2_response(std::string_view m) {
  if (m.size() < 2 || static_cast<std::uint8_t>(m[0]) != 119)
    throw protocol_error("otpp::dist::epmd: not a PORT2_RESP");
  if (m[1] != 0)
    return std::nullopt;
  if (m.size() < 12)
    throw protocol_error("otpp::dist::epmd: a PORT2_RESP is cut short");
  node_port p;
  p.port = static_cast<std::uint16_t>(otpp::detail::epmd_get(m, 2, 2));
  p.hidden = static_cast<std::uint8_t>(m[4]) == 72;
  p.highest_version = static_cast<std::uint16_t>(otpp::detail::epmd_get(m, 6, 2));
  p.lowest_version = static_cast<std::uint16_t>(otpp::detail::epmd_get(m, 8, 2));
  return p;
}

} // namespace otpp::dist::epmd
