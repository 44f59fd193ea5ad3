// otpp::term: any Erlang term, as a dynamic, immutable value.
// Distributed under the Boost Software License, Version 1.0.
#pragma once

#include <otpp/dist/atom.hpp>

#include <array>
#include <compare>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <limits>
#include <memory>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

namespace otpp {

/// A pid as the external term format carries it: its node, its number, its
/// serial and the node's creation (Erlang's `<N.Id.Serial>`).
struct external_pid {
  atom node;
  std::uint32_t id = 0;
  std::uint32_t serial = 0;
  std::uint32_t creation = 0;
  friend bool operator==(const external_pid&, const external_pid&) = default;
};

/// A port as the external term format carries it.
struct external_port {
  atom node;
  std::uint64_t id = 0;
  std::uint32_t creation = 0;
  friend bool operator==(const external_port&, const external_port&) = default;
};

/// A reference as the external term format carries it: its node, the
/// node's creation and 1 to 5 words.
struct external_ref {
  atom node;
  std::uint32_t creation = 0;
  std::uint8_t size = 0; ///< words used, 1 to 5
  std::array<std::uint32_t, 5> words{};
  std::span<const std::uint32_t> id() const noexcept { return {words.data(), size}; }
  friend bool operator==(const external_ref&, const external_ref&) = default;
};

/// An integer that does not fit 64 bits: a sign and its magnitude as bytes,
/// least significant first, without leading zero bytes.
struct big_integer {
  bool negative = false;
  std::vector<std::uint8_t> magnitude;
  friend bool operator==(const big_integer&, const big_integer&) = default;
};

/// A fun: kept as the bytes of its encoding (tag included), so it can be
/// passed on and sent back unchanged; otpp cannot call it.
struct opaque_fun {
  std::string encoded;
  friend bool operator==(const opaque_fun&, const opaque_fun&) = default;
};

/// An export fun (`fun Module:Function/Arity`).
struct export_fun {
  atom module;
  atom function;
  std::uint8_t arity = 0;
  friend bool operator==(const export_fun&, const export_fun&) = default;
};

class term;

namespace detail {
struct term_list {
  std::vector<term> elements;       // at least one
  std::shared_ptr<const term> tail; // null: a proper list (tail [])
};
struct term_bits {
  std::string bytes;
  std::uint8_t last_bits = 8; // bits used in the last byte: 1..8 (8: a binary)
};
using term_pairs = std::vector<std::pair<term, term>>;
} // namespace detail

/// Any Erlang term: integers (of any size), floats, atoms, binaries and
/// bitstrings, lists (proper and improper), tuples, maps, pids, ports,
/// references and funs. An immutable value: copies share their elements
/// (as Erlang terms do), so copying is cheap.
///
/// Build one with its constructors (`term(42)`, `term(1.5)`, `term(atom)`)
/// and the factories `term::tuple`, `term::list`, `term::map`,
/// `term::binary`, `term::string`; or convert a C++ value with `to_term`
/// (dist/convert.hpp), and back with `from_term<T>`.
///
/// Equality is Erlang's exact equality (`=:=`: `1` and `1.0` differ);
/// `<=>` is Erlang's term order (number < atom < reference < fun < port <
/// pid < tuple < map < nil < list < bitstring), with an integer before a
/// float of the same value. Lists and tuples print as Erlang does (fmt).
///
/// @par Thread safety
/// A term may be read from any number of threads at once.
class term {
public:
  /// What a term is.
  enum class kind : std::uint8_t {
    integer,     ///< fits `std::int64_t`
    big_integer, ///< does not
    floating,
    atom,
    reference,
    fun,
    port,
    pid,
    tuple,
    map,
    nil,  ///< `[]`
    list, ///< a non-empty list, proper or not
    binary,
    bitstring ///< a binary whose bit length is not a multiple of 8
  };

  /// `[]`.
  term() noexcept = default;
  /// An integer (one past `std::int64_t`'s range becomes a big integer).
  template <std::integral I>
  requires(!std::is_same_v<I, bool>) term(I v) { // NOLINT: a number is a term
    if constexpr (std::is_unsigned_v<I> && sizeof(I) >= sizeof(std::int64_t)) {
      if (v > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) {
        big_integer b;
        for (std::uint64_t x = v; x != 0; x >>= 8)
          b.magnitude.push_back(static_cast<std::uint8_t>(x & 0xFF));
        v_ = std::make_shared<const big_integer>(std::move(b));
        return;
      }
    }
    v_ = static_cast<std::int64_t>(v);
  }
  /// A float; Erlang has no NaN nor infinity (`etf::encode` rejects them).
  term(double v) noexcept : v_(v) {} // NOLINT
  /// The atom `true` or `false`.
  term(bool b) : v_(otpp::atom(b ? "true" : "false")) {} // NOLINT
  term(otpp::atom a) noexcept : v_(a) {}                 // NOLINT: an atom is a term
  term(big_integer b); // NOLINT (normalised: fits 64 bits -> integer)
  term(external_pid p) noexcept : v_(std::move(p)) {}                          // NOLINT
  term(external_port p) noexcept : v_(std::move(p)) {}                         // NOLINT
  term(external_ref r) noexcept : v_(std::move(r)) {}                          // NOLINT
  term(export_fun f) noexcept : v_(std::move(f)) {}                            // NOLINT
  term(opaque_fun f) : v_(std::make_shared<const opaque_fun>(std::move(f))) {} // NOLINT

  /// `{E1, E2, ...}`.
  static term tuple(std::vector<term> elements) {
    term t;
    t.v_ = tuple_ptr(std::make_shared<const std::vector<term>>(std::move(elements)));
    return t;
  }
  static term tuple(std::initializer_list<term> elements) {
    return tuple(std::vector<term>(elements));
  }
  /// `[E1, E2, ... | Tail]` (`tail` `[]`: a proper list). An empty list of
  /// elements is `tail` itself; a tail that is a list is joined on.
  static term list(std::vector<term> elements, term tail = term());
  static term list(std::initializer_list<term> elements) {
    return list(std::vector<term>(elements));
  }
  /// `#{K1 => V1, ...}`. Throws `std::invalid_argument` for a key given twice.
  static term map(std::vector<std::pair<term, term>> entries);
  /// `<<"bytes">>`.
  static term binary(std::string_view bytes) { return bitstring(bytes, 8); }
  /// A bitstring: `bytes`, of which the last has `last_bits` (1..8) bits used.
  static term bitstring(std::string_view bytes, std::uint8_t last_bits);
  /// An Erlang string: the list of the code points of `utf8` (throws
  /// `std::invalid_argument` if it is not UTF-8).
  static term string(std::string_view utf8);

  kind which() const noexcept;
  bool is_integer() const noexcept {
    return which() == kind::integer || which() == kind::big_integer;
  }
  bool is_atom() const noexcept { return std::holds_alternative<otpp::atom>(v_); }
  bool is_atom(std::string_view name) const noexcept {
    const auto* a = std::get_if<otpp::atom>(&v_);
    return a != nullptr && a->name() == name;
  }
  bool is_tuple() const noexcept { return std::holds_alternative<tuple_ptr>(v_); }
  bool is_list() const noexcept { return which() == kind::list || which() == kind::nil; }
  bool is_binary() const noexcept { return which() == kind::binary; }
  bool is_map() const noexcept { return std::holds_alternative<map_ptr>(v_); }

  /// The value of a term of that kind, else null: `std::int64_t`, `double`,
  /// `atom`, `big_integer`, `external_pid`, `external_port`,
  /// `external_ref`, `export_fun`, `opaque_fun`.
  template <class T> const T* get_if() const noexcept {
    if constexpr (std::is_same_v<T, big_integer>) {
      const auto* p = std::get_if<big_ptr>(&v_);
      return p != nullptr ? p->get() : nullptr;
    } else if constexpr (std::is_same_v<T, opaque_fun>) {
      const auto* p = std::get_if<fun_ptr>(&v_);
      return p != nullptr ? p->get() : nullptr;
    } else {
      return std::get_if<T>(&v_);
    }
  }

  /// The elements of a tuple or of a list (for an improper list: before its
  /// tail); empty for other terms.
  std::span<const term> elements() const noexcept;
  /// Elements of a tuple or list (see `elements`), the size of a map, the
  /// bytes of a binary or bitstring; 0 otherwise.
  std::size_t size() const noexcept;
  /// Element `i` of a tuple or list; throws `std::out_of_range`.
  const term& operator[](std::size_t i) const;
  /// The tail of a list: `[]` for a proper list (and for other terms).
  const term& tail() const noexcept;
  /// True for `[]` and proper lists.
  bool is_proper_list() const noexcept { return is_list() && tail().which() == kind::nil; }
  /// The entries of a map, ordered by key in term order; empty otherwise.
  std::span<const std::pair<term, term>> entries() const noexcept;
  /// The value of `key` in a map; null if absent or not a map.
  const term* find(const term& key) const noexcept;
  /// The bytes of a binary or bitstring (empty otherwise).
  std::string_view bytes() const noexcept;
  /// Bits used in the last byte of a bitstring (8 for a binary).
  std::uint8_t last_bits() const noexcept;

  /// `{Tag, ...}` with an atom `tag` first, of `arity` elements (tag included).
  bool is_tagged(std::string_view tag, std::size_t arity) const noexcept {
    const auto& e = elements();
    return is_tuple() && e.size() == arity && arity > 0 && e[0].is_atom(tag);
  }

  friend bool operator==(const term& a, const term& b) noexcept;
  friend std::strong_ordering operator<=>(const term& a, const term& b) noexcept;

private:
  using big_ptr = std::shared_ptr<const big_integer>;
  using tuple_ptr = std::shared_ptr<const std::vector<term>>;
  using list_ptr = std::shared_ptr<const detail::term_list>;
  using map_ptr = std::shared_ptr<const detail::term_pairs>;
  using bits_ptr = std::shared_ptr<const detail::term_bits>;
  using fun_ptr = std::shared_ptr<const opaque_fun>;
  std::variant<std::monostate, std::int64_t, double, otpp::atom, big_ptr, tuple_ptr, list_ptr,
               map_ptr, bits_ptr, external_pid, external_port, external_ref, export_fun, fun_ptr>
      v_;
};

/// Thrown by `term_cast` (dist/convert.hpp) and by accessors on a term of the
/// wrong shape.
class bad_term : public std::invalid_argument {
public:
  using std::invalid_argument::invalid_argument;
};

} // namespace otpp

#include <otpp/dist/detail/term_impl.hpp>
