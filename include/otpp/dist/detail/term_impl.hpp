// otpp::term's member definitions, term order and its text form.
// Distributed under the Boost Software License, Version 1.0.
#pragma once

#include <otpp/dist/term.hpp>

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <compare>
#include <cstddef>
#include <cstdint>
#include <iterator>
#include <limits>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace otpp {

inline term::term(big_integer b) {
  while (!b.magnitude.empty() && b.magnitude.back() == 0)
    b.magnitude.pop_back();
  // Fits 64 bits (two's complement)? Then it is a plain integer.
  if (b.magnitude.size() <= 8) {
    std::uint64_t m = 0;
    for (std::size_t i = b.magnitude.size(); i-- > 0;)
      m = (m << 8) | b.magnitude[i];
    constexpr std::uint64_t max =
        static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max());
    if (!b.negative && m <= max) {
      v_ = static_cast<std::int64_t>(m);
      return;
    }
    if (b.negative && m <= max + 1) {
      v_ = m == max + 1 ? std::numeric_limits<std::int64_t>::min() : -static_cast<std::int64_t>(m);
      return;
    }
  }
  v_ = std::make_shared<const big_integer>(std::move(b));
}

inline term term::list(std::vector<term> elements, term tail) {
  // [A | [B, C | T]] is [A, B, C | T]: one representation per list.
  while (const auto* l = std::get_if<list_ptr>(&tail.v_)) {
    const list_ptr inner = *l;
    elements.insert(elements.end(), inner->elements.begin(), inner->elements.end());
    tail = inner->tail ? *inner->tail : term();
  }
  if (elements.empty())
    return tail;
  term t;
  auto data = std::make_shared<detail::term_list>();
  data->elements = std::move(elements);
  if (tail.which() != kind::nil)
    data->tail = std::make_shared<const term>(std::move(tail));
  t.v_ = list_ptr(std::move(data));
  return t;
}

inline term term::map(std::vector<std::pair<term, term>> entries) {
  std::sort(entries.begin(), entries.end(),
            [](const auto& a, const auto& b) { return (a.first <=> b.first) < 0; });
  for (std::size_t i = 1; i < entries.size(); ++i)
    if (entries[i - 1].first == entries[i].first)
      throw std::invalid_argument("otpp::term::map: a key appears twice");
  term t;
  t.v_ = map_ptr(std::make_shared<const detail::term_pairs>(std::move(entries)));
  return t;
}

inline term term::bitstring(std::string_view bytes, std::uint8_t last_bits) {
  if (last_bits < 1 || last_bits > 8 || (bytes.empty() && last_bits != 8))
    throw std::invalid_argument("otpp::term::bitstring: last_bits must be 1..8 (8 if empty)");
  auto data = std::make_shared<detail::term_bits>();
  data->bytes.assign(bytes);
  data->last_bits = last_bits;
  if (last_bits != 8) // the unused low bits of the last byte are zero
    data->bytes.back() = static_cast<char>(static_cast<unsigned char>(data->bytes.back()) &
                                           (0xFFu << (8 - last_bits)));
  term t;
  t.v_ = bits_ptr(std::move(data));
  return t;
}

inline term term::string(std::string_view utf8) {
  if (detail::utf8_length(utf8) < 0)
    throw std::invalid_argument("otpp::term::string: the text is not valid UTF-8");
  std::vector<term> chars;
  for (std::size_t i = 0; i < utf8.size();) {
    const auto c = static_cast<unsigned char>(utf8[i]);
    const std::size_t len = c < 0x80 ? 1 : (c & 0xE0) == 0xC0 ? 2 : (c & 0xF0) == 0xE0 ? 3 : 4;
    std::uint32_t cp = len == 1 ? c : c & (0x7Fu >> len);
    for (std::size_t k = 1; k < len; ++k)
      cp = (cp << 6) | (static_cast<unsigned char>(utf8[i + k]) & 0x3Fu);
    chars.emplace_back(std::int64_t{cp});
    i += len;
  }
  return list(std::move(chars));
}

inline term::kind term::which() const noexcept {
  switch (v_.index()) {
  case 0:
    return kind::nil;
  case 1:
    return kind::integer;
  case 2:
    return kind::floating;
  case 3:
    return kind::atom;
  case 4:
    return kind::big_integer;
  case 5:
    return kind::tuple;
  case 6:
    return kind::list;
  case 7:
    return kind::map;
  case 8:
    return std::get<bits_ptr>(v_)->last_bits == 8 ? kind::binary : kind::bitstring;
  case 9:
    return kind::pid;
  case 10:
    return kind::port;
  case 11:
    return kind::reference;
  default:
    return kind::fun;
  }
}

inline std::span<const term> term::elements() const noexcept {
  if (const auto* t = std::get_if<tuple_ptr>(&v_))
    return **t;
  if (const auto* l = std::get_if<list_ptr>(&v_))
    return (*l)->elements;
  return {};
}

inline std::size_t term::size() const noexcept {
  if (const auto* m = std::get_if<map_ptr>(&v_))
    return (*m)->size();
  if (const auto* b = std::get_if<bits_ptr>(&v_))
    return (*b)->bytes.size();
  return elements().size();
}

inline const term& term::operator[](std::size_t i) const {
  const auto e = elements();
  if (i >= e.size())
    throw std::out_of_range(fmt::format("otpp::term: no element {} in a term of {}", i, e.size()));
  return e[i];
}

inline const term& term::tail() const noexcept {
  static const term nil;
  if (const auto* l = std::get_if<list_ptr>(&v_))
    return (*l)->tail ? *(*l)->tail : nil;
  return nil;
}

inline std::span<const std::pair<term, term>> term::entries() const noexcept {
  if (const auto* m = std::get_if<map_ptr>(&v_))
    return **m;
  return {};
}

inline const term* term::find(const term& key) const noexcept {
  const auto e = entries();
  auto it = std::lower_bound(e.begin(), e.end(), key,
                             [](const auto& p, const term& k) { return (p.first <=> k) < 0; });
  return it != e.end() && it->first == key ? &it->second : nullptr;
}

inline std::string_view term::bytes() const noexcept {
  if (const auto* b = std::get_if<bits_ptr>(&v_))
    return (*b)->bytes;
  return {};
}

inline std::uint8_t term::last_bits() const noexcept {
  if (const auto* b = std::get_if<bits_ptr>(&v_))
    return (*b)->last_bits;
  return 8;
}

namespace detail {

// Rank of a kind in Erlang's term order.
inline int term_rank(term::kind k) noexcept {
  switch (k) {
  case term::kind::integer:
  case term::kind::big_integer:
  case term::kind::floating:
    return 0;
  case term::kind::atom:
    return 1;
  case term::kind::reference:
    return 2;
  case term::kind::fun:
    return 3;
  case term::kind::port:
    return 4;
  case term::kind::pid:
    return 5;
  case term::kind::tuple:
    return 6;
  case term::kind::map:
    return 7;
  case term::kind::nil:
    return 8;
  case term::kind::list:
    return 9;
  case term::kind::binary:
  case term::kind::bitstring:
    return 10;
  }
  return 11;
}

inline std::strong_ordering compare_big(const big_integer& a, const big_integer& b) noexcept {
  if (a.negative != b.negative)
    return a.negative ? std::strong_ordering::less : std::strong_ordering::greater;
  auto mag = a.magnitude.size() <=> b.magnitude.size();
  if (mag == 0)
    for (std::size_t i = a.magnitude.size(); i-- > 0 && mag == 0;)
      mag = a.magnitude[i] <=> b.magnitude[i];
  if (a.negative)
    return 0 <=> mag;
  return mag;
}

inline double big_to_double(const big_integer& b) noexcept {
  double d = 0;
  for (std::size_t i = b.magnitude.size(); i-- > 0;)
    d = d * 256.0 + b.magnitude[i];
  return b.negative ? -d : d;
}

// Numbers compare by value; at the same value an integer comes first.
inline std::strong_ordering compare_numbers(const term& a, const term& b) noexcept {
  const auto* ai = a.get_if<std::int64_t>();
  const auto* bi = b.get_if<std::int64_t>();
  const auto* ab = a.get_if<big_integer>();
  const auto* bb = b.get_if<big_integer>();
  if (ai && bi)
    return *ai <=> *bi;
  if (ab && bb)
    return compare_big(*ab, *bb);
  if (ab && bi) // a big integer lies outside the 64-bit range
    return ab->negative ? std::strong_ordering::less : std::strong_ordering::greater;
  if (ai && bb)
    return bb->negative ? std::strong_ordering::greater : std::strong_ordering::less;
  auto as_double = [](const term& t, const std::int64_t* small, const big_integer* big) {
    return small ? static_cast<double>(*small) : big ? big_to_double(*big) : *t.get_if<double>();
  };
  const double x = as_double(a, ai, ab);
  const double y = as_double(b, bi, bb);
  if (x < y)
    return std::strong_ordering::less;
  if (x > y)
    return std::strong_ordering::greater;
  const bool af = a.get_if<double>() != nullptr;
  const bool bf = b.get_if<double>() != nullptr;
  return af == bf ? std::strong_ordering::equal
                  : (af ? std::strong_ordering::greater : std::strong_ordering::less);
}

template <class T> std::strong_ordering compare_ranges(const T& a, const T& b) noexcept {
  for (std::size_t i = 0; i < a.size() && i < b.size(); ++i)
    if (auto c = a[i] <=> b[i]; c != 0)
      return c;
  return a.size() <=> b.size();
}

} // namespace detail

inline bool operator==(const term& a, const term& b) noexcept {
  return (a <=> b) == 0 && a.which() == b.which();
}

inline std::strong_ordering operator<=>(const term& a, const term& b) noexcept {
  using k = term::kind;
  const k ka = a.which();
  const k kb = b.which();
  if (auto r = detail::term_rank(ka) <=> detail::term_rank(kb); r != 0)
    return r;
  switch (ka) {
  case k::integer:
  case k::big_integer:
  case k::floating:
    return detail::compare_numbers(a, b);
  case k::atom:
    return *a.get_if<atom>() <=> *b.get_if<atom>();
  case k::reference: {
    const auto& x = *a.get_if<external_ref>();
    const auto& y = *b.get_if<external_ref>();
    if (auto c = x.node <=> y.node; c != 0)
      return c;
    if (auto c = x.creation <=> y.creation; c != 0)
      return c;
    return detail::compare_ranges(x.id(), y.id());
  }
  case k::fun: {
    const auto* ex = a.get_if<export_fun>();
    const auto* ey = b.get_if<export_fun>();
    if ((ex != nullptr) != (ey != nullptr))
      return ex != nullptr ? std::strong_ordering::less : std::strong_ordering::greater;
    if (ex != nullptr) {
      if (auto c = ex->module <=> ey->module; c != 0)
        return c;
      if (auto c = ex->function <=> ey->function; c != 0)
        return c;
      return ex->arity <=> ey->arity;
    }
    return a.get_if<opaque_fun>()->encoded <=> b.get_if<opaque_fun>()->encoded;
  }
  case k::port: {
    const auto& x = *a.get_if<external_port>();
    const auto& y = *b.get_if<external_port>();
    if (auto c = x.node <=> y.node; c != 0)
      return c;
    if (auto c = x.id <=> y.id; c != 0)
      return c;
    return x.creation <=> y.creation;
  }
  case k::pid: {
    const auto& x = *a.get_if<external_pid>();
    const auto& y = *b.get_if<external_pid>();
    if (auto c = x.node <=> y.node; c != 0)
      return c;
    if (auto c = x.serial <=> y.serial; c != 0)
      return c;
    if (auto c = x.id <=> y.id; c != 0)
      return c;
    return x.creation <=> y.creation;
  }
  case k::tuple: {
    if (auto c = a.size() <=> b.size(); c != 0)
      return c;
    return detail::compare_ranges(a.elements(), b.elements());
  }
  case k::map: {
    if (auto c = a.size() <=> b.size(); c != 0)
      return c;
    const auto ea = a.entries();
    const auto eb = b.entries();
    for (std::size_t i = 0; i < ea.size(); ++i)
      if (auto c = ea[i].first <=> eb[i].first; c != 0)
        return c;
    for (std::size_t i = 0; i < ea.size(); ++i)
      if (auto c = ea[i].second <=> eb[i].second; c != 0)
        return c;
    return std::strong_ordering::equal;
  }
  case k::nil:
    return std::strong_ordering::equal;
  case k::list: {
    const auto ea = a.elements();
    const auto eb = b.elements();
    for (std::size_t i = 0; i < ea.size() && i < eb.size(); ++i)
      if (auto c = ea[i] <=> eb[i]; c != 0)
        return c;
    if (ea.size() != eb.size()) { // the shorter one goes on with its tail
      const bool a_short = ea.size() < eb.size();
      const term& rest_tail = a_short ? a.tail() : b.tail();
      const term rest = term::list(
          std::vector<term>((a_short ? eb : ea).begin() +
                                static_cast<std::ptrdiff_t>(std::min(ea.size(), eb.size())),
                            (a_short ? eb : ea).end()),
          a_short ? b.tail() : a.tail());
      const auto c = rest_tail <=> rest;
      return a_short ? c : 0 <=> c;
    }
    return a.tail() <=> b.tail();
  }
  case k::binary:
  case k::bitstring: {
    if (auto c = a.bytes().compare(b.bytes()) <=> 0; c != 0)
      return c;
    return a.last_bits() <=> b.last_bits();
  }
  }
  return std::strong_ordering::equal;
}

namespace detail {

inline void format_term(std::string& out, const term& t);

// A proper list of printable ASCII code points prints as "text" (as ~p does).
inline bool printable_string(const term& t) noexcept {
  if (!t.is_proper_list() || t.size() == 0)
    return false;
  for (const term& e : t.elements()) {
    const auto* i = e.get_if<std::int64_t>();
    if (i == nullptr || !((*i >= 32 && *i < 127) || *i == '\n' || *i == '\t'))
      return false;
  }
  return true;
}

inline void format_big(std::string& out, const big_integer& b) {
  // Repeated division by 10 of the little-endian magnitude.
  std::vector<std::uint8_t> m = b.magnitude;
  std::string digits;
  while (!m.empty()) {
    unsigned rem = 0;
    for (std::size_t i = m.size(); i-- > 0;) {
      const unsigned cur = (rem << 8) | m[i];
      m[i] = static_cast<std::uint8_t>(cur / 10);
      rem = cur % 10;
    }
    digits += static_cast<char>('0' + rem);
    while (!m.empty() && m.back() == 0)
      m.pop_back();
  }
  if (digits.empty())
    digits = "0";
  if (b.negative)
    out += '-';
  out.append(digits.rbegin(), digits.rend());
}

inline void format_term(std::string& out, const term& t) {
  using k = term::kind;
  switch (t.which()) {
  case k::integer:
    fmt::format_to(std::back_inserter(out), "{}", *t.get_if<std::int64_t>());
    return;
  case k::big_integer:
    format_big(out, *t.get_if<big_integer>());
    return;
  case k::floating: {
    // Erlang always shows a float with a fraction or an exponent: 3.0.
    std::string s = fmt::format("{}", *t.get_if<double>());
    if (s.find_first_of(".en") == std::string::npos)
      s += ".0";
    out += s;
    return;
  }
  case k::atom:
    fmt::format_to(std::back_inserter(out), "{}", *t.get_if<atom>());
    return;
  case k::reference: {
    const auto& r = *t.get_if<external_ref>();
    fmt::format_to(std::back_inserter(out), "#Ref<{}", r.node);
    for (std::size_t i = r.size; i-- > 0;)
      fmt::format_to(std::back_inserter(out), ".{}", r.words[i]);
    out += '>';
    return;
  }
  case k::fun:
    if (const auto* e = t.get_if<export_fun>())
      fmt::format_to(std::back_inserter(out), "fun {}:{}/{}", e->module, e->function, e->arity);
    else
      out += "#Fun<>";
    return;
  case k::port: {
    const auto& p = *t.get_if<external_port>();
    fmt::format_to(std::back_inserter(out), "#Port<{}.{}>", p.node, p.id);
    return;
  }
  case k::pid: {
    const auto& p = *t.get_if<external_pid>();
    fmt::format_to(std::back_inserter(out), "<{}.{}.{}>", p.node, p.id, p.serial);
    return;
  }
  case k::tuple:
  case k::list: {
    if (printable_string(t)) {
      std::string s;
      for (const term& e : t.elements())
        s += static_cast<char>(*e.get_if<std::int64_t>());
      format_chars(out, s, '"');
      return;
    }
    const bool tuple = t.is_tuple();
    out += tuple ? '{' : '[';
    bool first = true;
    for (const term& e : t.elements()) {
      if (!first)
        out += ',';
      first = false;
      format_term(out, e);
    }
    if (!tuple && t.tail().which() != k::nil) {
      out += '|';
      format_term(out, t.tail());
    }
    out += tuple ? '}' : ']';
    return;
  }
  case k::map: {
    out += "#{";
    bool first = true;
    for (const auto& [key, value] : t.entries()) {
      if (!first)
        out += ',';
      first = false;
      format_term(out, key);
      out += " => ";
      format_term(out, value);
    }
    out += '}';
    return;
  }
  case k::nil:
    out += "[]";
    return;
  case k::binary:
  case k::bitstring: {
    const std::string_view b = t.bytes();
    const bool text =
        t.which() == k::binary && !b.empty() && std::all_of(b.begin(), b.end(), [](char c) {
          return (c >= 32 && c < 127) || c == '\n' || c == '\t';
        });
    out += "<<";
    if (text) {
      format_chars(out, b, '"');
    } else {
      for (std::size_t i = 0; i < b.size(); ++i) {
        if (i != 0)
          out += ',';
        fmt::format_to(std::back_inserter(out), "{}", static_cast<unsigned char>(b[i]));
      }
      if (t.last_bits() != 8)
        fmt::format_to(std::back_inserter(out), ":{}", t.last_bits());
    }
    out += ">>";
    return;
  }
  }
}

} // namespace detail

/// The term as Erlang prints it (`{add,1,2.0}`, `<<"text">>`, `"chars"`).
inline std::string to_string(const term& t) {
  std::string out;
  detail::format_term(out, t);
  return out;
}

} // namespace otpp

template <> struct fmt::formatter<otpp::term> : fmt::formatter<std::string_view> {
  template <class FormatContext> auto format(const otpp::term& t, FormatContext& ctx) const {
    return fmt::formatter<std::string_view>::format(otpp::to_string(t), ctx);
  }
};
