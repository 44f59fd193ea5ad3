// The identity of a span in a causal trace: W3C Trace Context ids (a
// 128-bit trace id, a 64-bit span id), written and read as a
// `traceparent` header.
// Distributed under the Boost Software License, Version 1.0.
#pragma once

#include <fmt/format.h>

#include <cstdint>
#include <optional>
#include <random>
#include <string>
#include <string_view>

namespace otpp {

/// Which span a process is working in, and of which trace.
///
/// Ids are random and never zero (W3C: an all-zero trace id or span id is
/// invalid). An empty context (`!ctx`) means none.
struct span_context {
  std::uint64_t trace_hi = 0; ///< the trace id's first 8 bytes
  std::uint64_t trace_lo = 0; ///< the trace id's last 8 bytes
  std::uint64_t span_id = 0;
  bool sampled = true; ///< the `sampled` trace flag of a traceparent

  explicit operator bool() const noexcept {
    return span_id != 0 && (trace_hi != 0 || trace_lo != 0);
  }
  friend bool operator==(const span_context&, const span_context&) noexcept = default;

  /// The trace id as 32 lowercase hex digits.
  std::string trace_id_hex() const { return fmt::format("{:016x}{:016x}", trace_hi, trace_lo); }
  /// The span id as 16 lowercase hex digits.
  std::string span_id_hex() const { return fmt::format("{:016x}", span_id); }

  /// The W3C `traceparent` value: `00-<trace id>-<span id>-<flags>`.
  std::string traceparent() const {
    return fmt::format("00-{:016x}{:016x}-{:016x}-{:02x}", trace_hi, trace_lo, span_id,
                       sampled ? 1u : 0u);
  }

  /// Parse a `traceparent` value (version 00, or a later version read as
  /// 00 does, as the W3C specification asks). Empty for anything else:
  /// wrong length or separators, upper-case or non-hex digits, version ff,
  /// an all-zero trace id or span id.
  static std::optional<span_context> from_traceparent(std::string_view s) noexcept {
    auto hex = [](std::string_view h, std::uint64_t& out) {
      out = 0;
      for (char c : h) {
        unsigned d = 0;
        if (c >= '0' && c <= '9')
          d = static_cast<unsigned>(c - '0');
        else if (c >= 'a' && c <= 'f')
          d = static_cast<unsigned>(c - 'a' + 10);
        else
          return false;
        out = (out << 4) | d;
      }
      return true;
    };
    // 2 + 1 + 32 + 1 + 16 + 1 + 2 = 55; a later version may add "-..." after.
    if (s.size() < 55 || s[2] != '-' || s[35] != '-' || s[52] != '-')
      return std::nullopt;
    std::uint64_t ver = 0, flags = 0;
    span_context c;
    if (!hex(s.substr(0, 2), ver) || ver == 0xff || !hex(s.substr(3, 16), c.trace_hi) ||
        !hex(s.substr(19, 16), c.trace_lo) || !hex(s.substr(36, 16), c.span_id) ||
        !hex(s.substr(53, 2), flags))
      return std::nullopt;
    if (s.size() > 55 && (ver == 0 || s[55] != '-'))
      return std::nullopt;
    c.sampled = (flags & 1u) != 0;
    if (!c)
      return std::nullopt;
    return c;
  }

  /// A new trace: random trace id and span id.
  static span_context new_trace() {
    span_context c;
    do {
      c.trace_hi = random_id();
      c.trace_lo = random_id();
    } while (c.trace_hi == 0 && c.trace_lo == 0);
    c.span_id = new_span_id();
    return c;
  }
  /// A random span id, never zero.
  static std::uint64_t new_span_id() {
    std::uint64_t id = 0;
    while (id == 0)
      id = random_id();
    return id;
  }

private:
  static std::uint64_t random_id() {
    thread_local std::mt19937_64 gen{[] {
      std::random_device rd;
      return (static_cast<std::uint64_t>(rd()) << 32) ^ rd();
    }()};
    return gen();
  }
};

} // namespace otpp

/// Formats as its traceparent.
template <> struct fmt::formatter<otpp::span_context> : fmt::formatter<std::string_view> {
  template <class Ctx> auto format(const otpp::span_context& c, Ctx& ctx) const {
    return fmt::formatter<std::string_view>::format(c.traceparent(), ctx);
  }
};
