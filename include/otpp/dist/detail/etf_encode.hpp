// The external term format's encoder.
// Distributed under the Boost Software License, Version 1.0.
#pragma once

#include <otpp/dist/detail/etf_tags.hpp>
#include <otpp/dist/etf.hpp>
#include <otpp/dist/term.hpp>

#include <bit>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <string>

namespace otpp::detail {

inline void put8(std::string& out, std::uint8_t v) {
  out += static_cast<char>(v);
}
inline void put16(std::string& out, std::uint16_t v) {
  put8(out, static_cast<std::uint8_t>(v >> 8));
  put8(out, static_cast<std::uint8_t>(v));
}
inline void put32(std::string& out, std::uint32_t v) {
  put16(out, static_cast<std::uint16_t>(v >> 16));
  put16(out, static_cast<std::uint16_t>(v));
}
inline void put64(std::string& out, std::uint64_t v) {
  put32(out, static_cast<std::uint32_t>(v >> 32));
  put32(out, static_cast<std::uint32_t>(v));
}

inline void encode_atom(std::string& out, atom a) {
  const std::string_view s = a.name();
  if (s.size() < 256) {
    put8(out, small_atom_utf8_ext);
    put8(out, static_cast<std::uint8_t>(s.size()));
  } else {
    put8(out, atom_utf8_ext);
    put16(out, static_cast<std::uint16_t>(s.size()));
  }
  out += s;
}

inline void encode_length_prefixed(std::string& out, std::size_t n, const char* what) {
  if (n > std::numeric_limits<std::uint32_t>::max())
    throw etf::encode_error(std::string("otpp::etf::encode: ") + what +
                            " longer than 2^32 - 1 cannot be encoded");
  put32(out, static_cast<std::uint32_t>(n));
}

inline void encode_big(std::string& out, bool negative, const std::uint8_t* mag, std::size_t n) {
  if (n < 256) {
    put8(out, small_big_ext);
    put8(out, static_cast<std::uint8_t>(n));
  } else {
    put8(out, large_big_ext);
    encode_length_prefixed(out, n, "a big integer");
  }
  put8(out, negative ? 1 : 0);
  out.append(reinterpret_cast<const char*>(mag), n);
}

inline void encode_integer(std::string& out, std::int64_t v) {
  if (v >= 0 && v < 256) {
    put8(out, small_integer_ext);
    put8(out, static_cast<std::uint8_t>(v));
  } else if (v >= std::numeric_limits<std::int32_t>::min() &&
             v <= std::numeric_limits<std::int32_t>::max()) {
    put8(out, integer_ext);
    put32(out, static_cast<std::uint32_t>(static_cast<std::int32_t>(v)));
  } else {
    std::uint64_t m = v < 0 ? 0 - static_cast<std::uint64_t>(v) : static_cast<std::uint64_t>(v);
    std::uint8_t mag[8];
    std::size_t n = 0;
    for (; m != 0; m >>= 8)
      mag[n++] = static_cast<std::uint8_t>(m & 0xFF);
    encode_big(out, v < 0, mag, n);
  }
}

inline void encode_term(std::string& out, const term& t) {
  using k = term::kind;
  switch (t.which()) {
  case k::integer:
    encode_integer(out, *t.get_if<std::int64_t>());
    return;
  case k::big_integer: {
    const auto& b = *t.get_if<big_integer>();
    encode_big(out, b.negative, b.magnitude.data(), b.magnitude.size());
    return;
  }
  case k::floating: {
    const double d = *t.get_if<double>();
    if (!std::isfinite(d))
      throw etf::encode_error("otpp::etf::encode: Erlang has no NaN or infinite float");
    put8(out, new_float_ext);
    put64(out, std::bit_cast<std::uint64_t>(d));
    return;
  }
  case k::atom:
    encode_atom(out, *t.get_if<atom>());
    return;
  case k::reference: {
    const auto& r = *t.get_if<external_ref>();
    put8(out, newer_reference_ext);
    put16(out, r.size);
    encode_atom(out, r.node);
    put32(out, r.creation);
    for (std::uint32_t w : r.id())
      put32(out, w);
    return;
  }
  case k::fun:
    if (const auto* e = t.get_if<export_fun>()) {
      put8(out, export_ext);
      encode_atom(out, e->module);
      encode_atom(out, e->function);
      put8(out, small_integer_ext);
      put8(out, e->arity);
    } else {
      out += t.get_if<opaque_fun>()->encoded;
    }
    return;
  case k::port: {
    const auto& p = *t.get_if<external_port>();
    if (p.id > std::numeric_limits<std::uint32_t>::max()) {
      put8(out, v4_port_ext);
      encode_atom(out, p.node);
      put64(out, p.id);
    } else {
      put8(out, new_port_ext);
      encode_atom(out, p.node);
      put32(out, static_cast<std::uint32_t>(p.id));
    }
    put32(out, p.creation);
    return;
  }
  case k::pid: {
    const auto& p = *t.get_if<external_pid>();
    put8(out, new_pid_ext);
    encode_atom(out, p.node);
    put32(out, p.id);
    put32(out, p.serial);
    put32(out, p.creation);
    return;
  }
  case k::tuple: {
    const auto e = t.elements();
    if (e.size() < 256) {
      put8(out, small_tuple_ext);
      put8(out, static_cast<std::uint8_t>(e.size()));
    } else {
      put8(out, large_tuple_ext);
      encode_length_prefixed(out, e.size(), "a tuple");
    }
    for (const term& x : e)
      encode_term(out, x);
    return;
  }
  case k::map: {
    put8(out, map_ext);
    encode_length_prefixed(out, t.size(), "a map");
    for (const auto& [key, value] : t.entries()) {
      encode_term(out, key);
      encode_term(out, value);
    }
    return;
  }
  case k::nil:
    put8(out, nil_ext);
    return;
  case k::list: {
    put8(out, list_ext);
    const auto e = t.elements();
    encode_length_prefixed(out, e.size(), "a list");
    for (const term& x : e)
      encode_term(out, x);
    encode_term(out, t.tail());
    return;
  }
  case k::binary:
  case k::bitstring: {
    const std::string_view b = t.bytes();
    const bool bits = t.last_bits() != 8;
    put8(out, bits ? bit_binary_ext : binary_ext);
    encode_length_prefixed(out, b.size(), "a binary");
    if (bits)
      put8(out, t.last_bits());
    out += b;
    return;
  }
  }
}

} // namespace otpp::detail

namespace otpp::etf {

inline void encode_to(std::string& out, const term& t) {
  detail::encode_term(out, t);
}

} // namespace otpp::etf
