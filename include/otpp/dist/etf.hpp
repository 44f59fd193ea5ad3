// Erlang's external term format: encode and decode otpp::term, safely.
// Distributed under the Boost Software License, Version 1.0.
#pragma once

#include <otpp/dist/term.hpp>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>

namespace otpp::etf {

/// The version byte that starts an encoded term (`term_to_binary`).
inline constexpr std::uint8_t version_magic = 131;

/// Bounds a decoder keeps to, so that hostile input costs at most a bounded
/// amount of memory and stack. Input longer than what it claims is never
/// trusted: every length is checked against the bytes that remain before
/// anything is allocated.
struct decode_limits {
  /// Nesting of tuples, lists and maps (Erlang has none, but a deep term
  /// would cost stack to decode, compare, print and free).
  std::size_t max_depth = 128;
  /// Bytes of one big integer (1,024 bytes: 8,192 bits).
  std::size_t max_big_bytes = 1024;
  /// Terms in all (every element counts): a term costs up to 24 times the
  /// bytes it takes on the wire (a 2-byte small integer becomes a 48-byte
  /// term), so this bounds what a decode may allocate, about 200 MiB at
  /// the default of 2^22. Binaries count as one, whatever their size.
  std::size_t max_terms = std::size_t{1} << 22;
};

/// Why bytes could not be decoded, and where.
class decode_error : public std::runtime_error {
public:
  decode_error(std::size_t offset, const std::string& what)
      : std::runtime_error("otpp::etf::decode: " + what + " (at byte " + std::to_string(offset) +
                           ")"),
        offset_(offset) {}
  /// The offset in the input of the first byte that could not be decoded.
  std::size_t offset() const noexcept { return offset_; }

private:
  std::size_t offset_;
};

/// Why a term cannot be encoded (a float that is NaN or infinite).
class encode_error : public std::invalid_argument {
public:
  using std::invalid_argument::invalid_argument;
};

/// Append `t`'s encoding (without the version byte) to `out`.
/// @par Errors
/// `encode_error` for a NaN or infinite float (Erlang has neither).
void encode_to(std::string& out, const term& t);

/// `t` in the external term format, starting with the version byte 131
/// (Erlang's `term_to_binary(T, [{minor_version, 2}])`: atoms as UTF-8).
inline std::string encode(const term& t) {
  std::string out;
  out += static_cast<char>(version_magic);
  encode_to(out, t);
  return out;
}

/// Decode one term (without a version byte) starting at `pos`, and move
/// `pos` past it: for streams that hold several terms.
/// @par Errors
/// `decode_error` (with the offset) for anything malformed: a truncated or
/// unknown encoding, a length longer than the input, nesting deeper than
/// `limits.max_depth`, more terms than `limits.max_terms`, a big integer
/// above `limits.max_big_bytes`, an atom
/// that is not UTF-8 or too long, a NaN or infinite float, a map with a key
/// twice, compressed terms (not supported).
term decode_one(std::string_view bytes, std::size_t& pos, const decode_limits& limits = {});

/// Decode `bytes`: the version byte 131, one term, nothing after it.
/// @par Errors
/// `decode_error`, as `decode_one`; also for a missing version byte and
/// bytes left over after the term.
inline term decode(std::string_view bytes, const decode_limits& limits = {}) {
  if (bytes.empty() || static_cast<std::uint8_t>(bytes[0]) != version_magic)
    throw decode_error(0, "the input does not start with the version byte 131");
  std::size_t pos = 1;
  term t = decode_one(bytes, pos, limits);
  if (pos != bytes.size())
    throw decode_error(pos, "bytes are left after the term");
  return t;
}

/// `decode` that returns nothing instead of throwing; `why`, if given,
/// receives the reason.
inline std::optional<term> try_decode(std::string_view bytes, std::string* why = nullptr,
                                      const decode_limits& limits = {}) {
  try {
    return decode(bytes, limits);
  } catch (const decode_error& e) {
    if (why != nullptr)
      *why = e.what();
  } catch (const std::bad_alloc&) {
    if (why != nullptr)
      *why = "otpp::etf::decode: out of memory";
  }
  return std::nullopt;
}

} // namespace otpp::etf

#include <otpp/dist/detail/etf_decode.hpp>
#include <otpp/dist/detail/etf_encode.hpp>
