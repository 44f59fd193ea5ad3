// Atoms: interned names, compared by identity (Erlang's atoms).
// Distributed under the Boost Software License, Version 1.0.
#pragma once

#include <fmt/format.h>

#include <compare>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <stdexcept>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace otpp {

namespace detail {

// The program's atom table: every distinct name once, never freed (as in
// Erlang). Bounded, so hostile input cannot grow it without end.
class atom_table {
public:
  static constexpr std::size_t max_atoms = std::size_t{1} << 20; // BEAM's default limit

  static atom_table& get() {
    static atom_table table;
    return table;
  }

  // The interned copy of `name`; null if the table is full.
  const std::string* intern(std::string_view name) {
    {
      std::shared_lock lock(mutex_);
      if (auto it = names_.find(name); it != names_.end())
        return it->second;
    }
    std::unique_lock lock(mutex_);
    if (auto it = names_.find(name); it != names_.end())
      return it->second;
    if (names_.size() >= max_atoms)
      return nullptr;
    storage_.push_back(std::make_unique<const std::string>(name));
    const std::string* s = storage_.back().get();
    names_.emplace(std::string_view(*s), s);
    return s;
  }

  std::size_t size() {
    std::shared_lock lock(mutex_);
    return names_.size();
  }

private:
  std::shared_mutex mutex_;
  std::vector<std::unique_ptr<const std::string>> storage_;
  std::unordered_map<std::string_view, const std::string*> names_;
};

// Code points in a UTF-8 string, or -1 if it is not valid UTF-8 (overlong
// forms, surrogates and values past U+10FFFF are invalid).
inline std::ptrdiff_t utf8_length(std::string_view s) noexcept {
  std::ptrdiff_t n = 0;
  for (std::size_t i = 0; i < s.size(); ++n) {
    const auto c = static_cast<unsigned char>(s[i]);
    std::size_t len = 0;
    std::uint32_t cp = 0;
    if (c < 0x80) {
      ++i;
      continue;
    }
    if ((c & 0xE0) == 0xC0) {
      len = 2;
      cp = c & 0x1Fu;
    } else if ((c & 0xF0) == 0xE0) {
      len = 3;
      cp = c & 0x0Fu;
    } else if ((c & 0xF8) == 0xF0) {
      len = 4;
      cp = c & 0x07u;
    } else {
      return -1;
    }
    if (i + len > s.size())
      return -1;
    for (std::size_t k = 1; k < len; ++k) {
      const auto cc = static_cast<unsigned char>(s[i + k]);
      if ((cc & 0xC0) != 0x80)
        return -1;
      cp = (cp << 6) | (cc & 0x3Fu);
    }
    static constexpr std::uint32_t min_of[] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < min_of[len] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
      return -1;
    i += len;
  }
  return n;
}

} // namespace detail

/// An atom: a name that stands for itself (`ok`, `error`, `'EXIT'`). Cheap
/// to copy and to compare (one pointer); the default atom is `''`.
///
/// Atoms are interned in one table for the whole program and never freed,
/// as in Erlang; the table holds at most 2^20 atoms.
///
/// @par Errors
/// Constructing an atom throws `std::invalid_argument` for a name that is
/// not UTF-8 or longer than 255 characters (Erlang's limit), and
/// `std::length_error` when the table is full.
/// @par Thread safety
/// Atoms may be created and used from any thread.
class atom {
public:
  atom() : atom(std::string_view()) {}
  explicit atom(std::string_view name) : name_(make(name)) {}
  explicit atom(const char* name) : atom(std::string_view(name)) {}
  explicit atom(const std::string& name) : atom(std::string_view(name)) {}

  /// The atom for `name`, or nothing if `name` is not a valid atom or the
  /// table is full (for decoders: never throws).
  static std::optional<atom> try_make(std::string_view name) noexcept {
    try {
      const std::ptrdiff_t n = detail::utf8_length(name);
      if (n < 0 || n > 255)
        return std::nullopt;
      const std::string* s = detail::atom_table::get().intern(name);
      if (s == nullptr)
        return std::nullopt;
      return atom(s);
    } catch (...) { // bad_alloc: no atom
      return std::nullopt;
    }
  }

  /// The name (UTF-8).
  std::string_view name() const noexcept { return *name_; }

  friend bool operator==(atom a, atom b) noexcept { return a.name_ == b.name_; }
  /// Alphabetical (by code point), as Erlang orders atoms.
  friend std::strong_ordering operator<=>(atom a, atom b) noexcept {
    if (a.name_ == b.name_)
      return std::strong_ordering::equal;
    return a.name().compare(b.name()) < 0 ? std::strong_ordering::less
                                          : std::strong_ordering::greater;
  }

  /// How many atoms the program's table holds.
  static std::size_t count() { return detail::atom_table::get().size(); }

private:
  explicit atom(const std::string* s) noexcept : name_(s) {}
  static const std::string* make(std::string_view name) {
    const std::ptrdiff_t n = detail::utf8_length(name);
    if (n < 0)
      throw std::invalid_argument("otpp::atom: the name is not valid UTF-8");
    if (n > 255)
      throw std::invalid_argument(
          fmt::format("otpp::atom: a name has at most 255 characters, this one {}", n));
    const std::string* s = detail::atom_table::get().intern(name);
    if (s == nullptr)
      throw std::length_error("otpp::atom: the atom table is full (2^20 atoms)");
    return s;
  }

  const std::string* name_;
};

/// `atom_literal`: `"ok"_atom`.
namespace atom_literals {
inline atom operator""_atom(const char* s, std::size_t n) {
  return atom(std::string_view(s, n));
}
} // namespace atom_literals

namespace detail {
// `s` between `quote`s, the quote, backslash and newline escaped (Erlang's
// way of printing quoted atoms and strings).
inline void format_chars(std::string& out, std::string_view s, char quote) {
  out += quote;
  for (char c : s) {
    if (c == quote || c == '\\') {
      out += '\\';
      out += c;
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  out += quote;
}

// Does an atom print without quotes (lower-case letter, then letters,
// digits, '_' and '@')? Erlang's reserved words need quotes too.
inline bool atom_is_bare(std::string_view s) noexcept {
  if (s.empty() || s[0] < 'a' || s[0] > 'z')
    return false;
  for (char c : s)
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
          c == '@'))
      return false;
  static constexpr std::string_view reserved[] = {
      "after", "and",    "andalso", "band", "begin", "bnot", "bor", "bsl",   "bsr", "bxor",
      "case",  "catch",  "cond",    "div",  "end",   "fun",  "if",  "let",   "not", "of",
      "or",    "orelse", "receive", "rem",  "try",   "when", "xor", "maybe", "else"};
  for (auto r : reserved)
    if (s == r)
      return false;
  return true;
}
} // namespace detail

} // namespace otpp

template <> struct std::hash<otpp::atom> {
  std::size_t operator()(otpp::atom a) const noexcept {
    return std::hash<const void*>()(a.name().data());
  }
};

/// Prints as Erlang does: `ok`, `'EXIT'`, `'hello world'`.
template <> struct fmt::formatter<otpp::atom> : fmt::formatter<std::string_view> {
  template <class FormatContext> auto format(otpp::atom a, FormatContext& ctx) const {
    const std::string_view s = a.name();
    if (otpp::detail::atom_is_bare(s))
      return fmt::formatter<std::string_view>::format(s, ctx);
    std::string quoted;
    otpp::detail::format_chars(quoted, s, '\'');
    return fmt::formatter<std::string_view>::format(quoted, ctx);
  }
};
