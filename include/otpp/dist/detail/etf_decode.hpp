// The external term format's decoder: bounded, never trusting a length.
// Distributed under the Boost Software License, Version 1.0.
#pragma once

#include <otpp/dist/detail/etf_tags.hpp>
#include <otpp/dist/etf.hpp>
#include <otpp/dist/term.hpp>

#include <bit>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace otpp::detail {

class etf_decoder {
public:
  etf_decoder(std::string_view in, std::size_t pos, const etf::decode_limits& limits)
      : in_(in), pos_(pos), limits_(limits) {
    if (pos > in.size())
      fail(in.size(), "the start is past the end of the input");
  }

  std::size_t pos() const noexcept { return pos_; }

  // One term at `pos_`, `depth` containers deep.
  term next(std::size_t depth) {
    const std::size_t at = pos_;
    if (depth > limits_.max_depth)
      fail(at, "the term is nested deeper than decode_limits::max_depth");
    count(at, 1);
    switch (const std::uint8_t tag = u8()) {
    case small_integer_ext:
      return term(std::int64_t{u8()});
    case integer_ext:
      return term(std::int64_t{static_cast<std::int32_t>(u32())});
    case small_big_ext:
    case large_big_ext: {
      const std::size_t n = tag == small_big_ext ? u8() : u32();
      if (n > limits_.max_big_bytes)
        fail(at, "a big integer is larger than decode_limits::max_big_bytes");
      const std::uint8_t sign = u8();
      if (sign > 1)
        fail(at, "a big integer's sign byte is neither 0 nor 1");
      need(n);
      big_integer b;
      b.negative = sign == 1;
      b.magnitude.assign(in_.begin() + static_cast<std::ptrdiff_t>(pos_),
                         in_.begin() + static_cast<std::ptrdiff_t>(pos_ + n));
      pos_ += n;
      return term(std::move(b));
    }
    case new_float_ext:
      return finite(at, std::bit_cast<double>(u64()));
    case float_ext: {
      need(31);
      std::string text(in_.substr(pos_, 31).data(), 31);
      pos_ += 31;
      text.resize(std::strlen(text.c_str()));
      char* end = nullptr;
      const double d = std::strtod(text.c_str(), &end);
      if (text.empty() || end != text.c_str() + text.size())
        fail(at, "a FLOAT_EXT is not a number");
      return finite(at, d);
    }
    case atom_ext:
    case small_atom_ext:
    case atom_utf8_ext:
    case small_atom_utf8_ext:
      return term(atom_body(at, tag));
    case small_tuple_ext:
    case large_tuple_ext: {
      const std::size_t n = tag == small_tuple_ext ? u8() : u32();
      claim(at, n);
      budget(at, n);
      std::vector<term> elements;
      elements.reserve(n);
      for (std::size_t i = 0; i < n; ++i)
        elements.push_back(next(depth + 1));
      return term::tuple(std::move(elements));
    }
    case nil_ext:
      return term();
    case string_ext: {
      const std::size_t n = u16();
      need(n);
      count(at, n);
      std::vector<term> chars;
      chars.reserve(n);
      for (std::size_t i = 0; i < n; ++i)
        chars.emplace_back(std::int64_t{static_cast<unsigned char>(in_[pos_ + i])});
      pos_ += n;
      return term::list(std::move(chars));
    }
    case list_ext: {
      const std::size_t n = u32();
      claim(at, n + 1); // the elements and the tail
      budget(at, n + 1);
      std::vector<term> elements;
      elements.reserve(n);
      for (std::size_t i = 0; i < n; ++i)
        elements.push_back(next(depth + 1));
      term tail = next(depth + 1);
      return term::list(std::move(elements), std::move(tail));
    }
    case binary_ext: {
      const std::size_t n = u32();
      need(n);
      term t = term::binary(in_.substr(pos_, n));
      pos_ += n;
      return t;
    }
    case bit_binary_ext: {
      const std::size_t n = u32();
      const std::uint8_t bits = u8();
      if (bits < 1 || bits > 8 || (n == 0 && bits != 8))
        fail(at, "a bitstring's bit count is not 1..8");
      need(n);
      term t = term::bitstring(in_.substr(pos_, n), bits);
      pos_ += n;
      return t;
    }
    case map_ext: {
      const std::size_t n = u32();
      claim(at, n, 2);
      budget(at, 2 * n);
      std::vector<std::pair<term, term>> entries;
      entries.reserve(n);
      for (std::size_t i = 0; i < n; ++i) {
        term key = next(depth + 1);
        term value = next(depth + 1);
        entries.emplace_back(std::move(key), std::move(value));
      }
      try {
        return term::map(std::move(entries));
      } catch (const std::invalid_argument&) {
        fail(at, "a map has the same key twice");
      }
    }
    case new_pid_ext:
    case pid_ext: {
      external_pid p;
      p.node = node_atom();
      p.id = u32();
      p.serial = u32();
      p.creation = tag == new_pid_ext ? u32() : u8();
      return term(std::move(p));
    }
    case new_port_ext:
    case v4_port_ext:
    case port_ext: {
      external_port p;
      p.node = node_atom();
      p.id = tag == v4_port_ext ? u64() : u32();
      p.creation = tag == port_ext ? u8() : u32();
      return term(std::move(p));
    }
    case newer_reference_ext:
    case new_reference_ext: {
      const std::size_t n = u16();
      if (n < 1 || n > 5)
        fail(at, "a reference has not 1 to 5 words");
      external_ref r;
      r.node = node_atom();
      r.creation = tag == newer_reference_ext ? u32() : u8();
      r.size = static_cast<std::uint8_t>(n);
      for (std::size_t i = 0; i < n; ++i)
        r.words[i] = u32();
      return term(std::move(r));
    }
    case reference_ext: {
      external_ref r;
      r.node = node_atom();
      r.size = 1;
      r.words[0] = u32();
      r.creation = u8();
      return term(std::move(r));
    }
    case export_ext: {
      export_fun f;
      f.module = node_atom();
      f.function = node_atom();
      if (u8() != small_integer_ext)
        fail(at, "an export fun's arity is not a small integer");
      f.arity = u8();
      return term(std::move(f));
    }
    case new_fun_ext: {
      const std::size_t size = u32(); // counts itself
      if (size < 29)
        fail(at, "a fun is shorter than its fixed fields");
      need(size - 4);
      pos_ += size - 4;
      return term(opaque_fun{std::string(in_.substr(at, pos_ - at))});
    }
    case compressed:
      fail(at, "compressed terms are not supported");
    case fun_ext:
      fail(at, "old-style funs (FUN_EXT, before OTP 23) are not supported");
    case local_ext:
      fail(at, "LOCAL_EXT terms can only be decoded by the node that made them");
    case 82:
      fail(at, "an atom cache reference outside a distribution header");
    default:
      fail(at, "unknown tag " + std::to_string(tag));
    }
  }

private:
  [[noreturn]] void fail(std::size_t at, const std::string& what) const {
    throw etf::decode_error(at, what);
  }
  // `n` more terms, within decode_limits::max_terms.
  void count(std::size_t at, std::size_t n) {
    terms_ += n;
    if (terms_ > limits_.max_terms)
      fail(at, "the term has more elements than decode_limits::max_terms");
  }
  // `n` more terms would fit within decode_limits::max_terms (checked
  // before a container reserves room for them).
  void budget(std::size_t at, std::size_t n) const {
    if (n > limits_.max_terms - terms_)
      fail(at, "the term has more elements than decode_limits::max_terms");
  }
  void need(std::size_t n) const {
    if (in_.size() - pos_ < n)
      fail(pos_, "the input ends inside a term");
  }
  // `n` items of at least `per` bytes each must fit in what is left: a
  // length field is checked before anything is allocated for it.
  void claim(std::size_t at, std::size_t n, std::size_t per = 1) const {
    if (n > (in_.size() - pos_) / per)
      fail(at, "a length is larger than the input");
  }
  std::uint8_t u8() {
    need(1);
    return static_cast<std::uint8_t>(in_[pos_++]);
  }
  std::uint16_t u16() {
    const std::uint16_t hi = u8();
    return static_cast<std::uint16_t>((hi << 8) | u8());
  }
  std::uint32_t u32() {
    const std::uint32_t hi = u16();
    return (hi << 16) | u16();
  }
  std::uint64_t u64() {
    const std::uint64_t hi = u32();
    return (hi << 32) | u32();
  }

  term finite(std::size_t at, double d) const {
    if (!std::isfinite(d))
      fail(at, "a float is NaN or infinite");
    return term(d);
  }

  atom atom_body(std::size_t at, std::uint8_t tag) {
    const std::size_t n = (tag == small_atom_ext || tag == small_atom_utf8_ext) ? u8() : u16();
    need(n);
    const std::string_view raw = in_.substr(pos_, n);
    pos_ += n;
    std::string latin1;
    std::string_view utf8 = raw;
    if (tag == atom_ext || tag == small_atom_ext) {
      if (n > 255)
        fail(at, "an atom is longer than 255 characters");
      for (char c : raw) { // Latin-1 to UTF-8
        const auto u = static_cast<unsigned char>(c);
        if (u < 0x80) {
          latin1 += c;
        } else {
          latin1 += static_cast<char>(0xC0 | (u >> 6));
          latin1 += static_cast<char>(0x80 | (u & 0x3F));
        }
      }
      utf8 = latin1;
    }
    auto a = atom::try_make(utf8);
    if (!a)
      fail(at, "an atom is not UTF-8, is longer than 255 characters, or the atom table is full");
    return *a;
  }

  atom node_atom() {
    const std::size_t at = pos_;
    const std::uint8_t tag = u8();
    if (tag != atom_ext && tag != small_atom_ext && tag != atom_utf8_ext &&
        tag != small_atom_utf8_ext)
      fail(at, "an atom was expected");
    return atom_body(at, tag);
  }

  std::string_view in_;
  std::size_t pos_;
  const etf::decode_limits& limits_;
  std::size_t terms_ = 0;
};

} // namespace otpp::detail

namespace otpp::etf {

inline term decode_one(std::string_view bytes, std::size_t& pos, const decode_limits& limits) {
  detail::etf_decoder d(bytes, pos, limits);
  term t = d.next(0);
  pos = d.pos();
  return t;
}

} // namespace otpp::etf
