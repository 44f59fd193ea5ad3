// C++ values as Erlang terms and back: to_term, from_term, term_cast, tags.
// Distributed under the Boost Software License, Version 1.0.
#pragma once

#include <otpp/behaviour/call.hpp>
#include <otpp/core/any_message.hpp>
#include <otpp/core/message.hpp>
#include <otpp/core/pid.hpp>
#include <otpp/core/process.hpp>
#include <otpp/core/request.hpp>
#include <otpp/dist/atom.hpp>
#include <otpp/dist/term.hpp>

#include <boost/core/demangle.hpp>
#include <boost/pfr/core.hpp>
#include <boost/pfr/tuple_size.hpp>
#include <fmt/format.h>

#include <concepts>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <tuple>
#include <type_traits>
#include <typeinfo>
#include <unordered_map>
#include <utility>
#include <variant>
#include <vector>

namespace otpp {

/// Names the atom that tags an aggregate's term: with
/// `OTPP_TERM_TAG(add, "add")`, `struct add { double x, y; }` is the term
/// `{add, X, Y}` (a struct without fields is the bare atom). Specialise it
/// (at global scope, as the macro does) once, next to the type.
template <class T> struct term_tag {};

/// How a C++ type maps to terms: `static term to(const T&)` and
/// `static std::optional<T> from(const term&)` (nothing if the term has
/// another shape). Specialised here for numbers, `bool`, `atom`,
/// `std::string`, `std::vector`, `std::tuple`, `std::pair`,
/// `std::optional`, `std::variant`, `std::map`, `std::unordered_map`,
/// `term` and the external pid, port and reference types, and for every
/// aggregate with a `term_tag`. Specialise it for other types.
template <class T, class Enable = void> struct term_traits {};

/// A type that `to_term` and `from_term` know.
template <class T>
concept term_convertible = requires(const T& v, const term& t) {
  { term_traits<T>::to(v) } -> std::same_as<term>;
  { term_traits<T>::from(t) } -> std::same_as<std::optional<T>>;
};

namespace detail {
template <class T>
concept tagged_aggregate = std::is_aggregate_v<T> && requires {
  { term_tag<T>::name } -> std::convertible_to<std::string_view>;
};
template <class T>
concept untagged_aggregate = std::is_aggregate_v<T> && !tagged_aggregate<T> && !std::is_array_v<T>;

template <class T> constexpr void check_convertible() {
  static_assert(term_convertible<T> || !untagged_aggregate<T>,
                "otpp::to_term/from_term: this aggregate has no term tag: name its tag atom once "
                "with OTPP_TERM_TAG(Type, \"name\") at global scope");
  static_assert(untagged_aggregate<T> || term_convertible<T>,
                "otpp::to_term/from_term: this type has no term mapping: specialise "
                "otpp::term_traits<T> (to, from)");
}
} // namespace detail

/// `v` as a term.
template <class T> term to_term(const T& v) {
  detail::check_convertible<T>();
  if constexpr (term_convertible<T>)
    return term_traits<T>::to(v);
  else
    return term();
}

/// `t` as a `T`, or nothing if its shape does not fit `T` (another kind,
/// another tag or arity, a number out of `T`'s range).
template <class T> std::optional<T> from_term(const term& t) {
  detail::check_convertible<T>();
  if constexpr (term_convertible<T>)
    return term_traits<T>::from(t);
  else
    return std::nullopt;
}

/// `t` as a `T`; throws `bad_term` naming the type and the term if its
/// shape does not fit.
template <class T> T term_cast(const term& t) {
  if (auto v = from_term<T>(t))
    return std::move(*v);
  std::string text = to_string(t);
  if (text.size() > 200)
    text = text.substr(0, 200) + "...";
  throw bad_term(fmt::format("otpp::term_cast: {} does not fit {}", text,
                             boost::core::demangle(typeid(T).name())));
}

// ---------------------------------------------------------------------------
// The mappings
// ---------------------------------------------------------------------------

template <> struct term_traits<term> {
  static term to(const term& t) { return t; }
  static std::optional<term> from(const term& t) { return t; }
};

template <> struct term_traits<bool> {
  static term to(bool b) { return term(b); }
  static std::optional<bool> from(const term& t) {
    if (t.is_atom("true"))
      return true;
    if (t.is_atom("false"))
      return false;
    return std::nullopt;
  }
};

template <class I>
struct term_traits<I, std::enable_if_t<std::is_integral_v<I> && !std::is_same_v<I, bool>>> {
  static term to(I v) { return term(v); }
  static std::optional<I> from(const term& t) {
    using L = std::numeric_limits<I>;
    if (const auto* i = t.get_if<std::int64_t>()) {
      if constexpr (std::is_signed_v<I>) {
        if (*i < static_cast<std::int64_t>(L::min()) || *i > static_cast<std::int64_t>(L::max()))
          return std::nullopt;
      } else {
        if (*i < 0 || static_cast<std::uint64_t>(*i) > static_cast<std::uint64_t>(L::max()))
          return std::nullopt;
      }
      return static_cast<I>(*i);
    }
    if constexpr (std::is_unsigned_v<I> && sizeof(I) == 8) {
      if (const auto* b = t.get_if<big_integer>(); b && !b->negative && b->magnitude.size() <= 8) {
        std::uint64_t m = 0;
        for (std::size_t k = b->magnitude.size(); k-- > 0;)
          m = (m << 8) | b->magnitude[k];
        return static_cast<I>(m);
      }
    }
    return std::nullopt;
  }
};

/// Floats; an integer term converts too (Erlang code sends `{add, 1, 2}`).
template <class F> struct term_traits<F, std::enable_if_t<std::is_floating_point_v<F>>> {
  static term to(F v) { return term(static_cast<double>(v)); }
  static std::optional<F> from(const term& t) {
    if (const auto* d = t.get_if<double>())
      return static_cast<F>(*d);
    if (const auto* i = t.get_if<std::int64_t>())
      return static_cast<F>(*i);
    if (const auto* b = t.get_if<big_integer>())
      return static_cast<F>(detail::big_to_double(*b));
    return std::nullopt;
  }
};

template <> struct term_traits<atom> {
  static term to(atom a) { return term(a); }
  static std::optional<atom> from(const term& t) {
    if (const auto* a = t.get_if<atom>())
      return *a;
    return std::nullopt;
  }
};

/// A binary; from a binary or from an Erlang string (a list of code
/// points, as UTF-8).
template <> struct term_traits<std::string> {
  static term to(const std::string& s) { return term::binary(s); }
  static std::optional<std::string> from(const term& t) {
    if (t.which() == term::kind::binary)
      return std::string(t.bytes());
    if (!t.is_proper_list())
      return std::nullopt;
    std::string out;
    for (const term& e : t.elements()) {
      const auto* c = e.get_if<std::int64_t>();
      if (c == nullptr || *c < 0 || *c > 0x10FFFF || (*c >= 0xD800 && *c <= 0xDFFF))
        return std::nullopt;
      const auto cp = static_cast<std::uint32_t>(*c);
      if (cp < 0x80) {
        out += static_cast<char>(cp);
      } else if (cp < 0x800) {
        out += static_cast<char>(0xC0 | (cp >> 6));
        out += static_cast<char>(0x80 | (cp & 0x3F));
      } else if (cp < 0x10000) {
        out += static_cast<char>(0xE0 | (cp >> 12));
        out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
        out += static_cast<char>(0x80 | (cp & 0x3F));
      } else {
        out += static_cast<char>(0xF0 | (cp >> 18));
        out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
        out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
        out += static_cast<char>(0x80 | (cp & 0x3F));
      }
    }
    return out;
  }
};

template <class T> struct term_traits<std::vector<T>> {
  static term to(const std::vector<T>& v) {
    std::vector<term> out;
    out.reserve(v.size());
    for (const auto& x : v)
      out.push_back(to_term(x));
    return term::list(std::move(out));
  }
  static std::optional<std::vector<T>> from(const term& t) {
    if (!t.is_proper_list())
      return std::nullopt;
    std::vector<T> out;
    out.reserve(t.size());
    for (const term& e : t.elements()) {
      auto x = from_term<T>(e);
      if (!x)
        return std::nullopt;
      out.push_back(std::move(*x));
    }
    return out;
  }
};

template <class... Ts> struct term_traits<std::tuple<Ts...>> {
  static term to(const std::tuple<Ts...>& v) {
    return std::apply([](const auto&... x) { return term::tuple({to_term(x)...}); }, v);
  }
  static std::optional<std::tuple<Ts...>> from(const term& t) {
    if (!t.is_tuple() || t.size() != sizeof...(Ts))
      return std::nullopt;
    return [&]<std::size_t... I>(std::index_sequence<I...>)->std::optional<std::tuple<Ts...>> {
      std::tuple<std::optional<Ts>...> parts{from_term<Ts>(t[I])...};
      if (!(std::get<I>(parts) && ...))
        return std::nullopt;
      return std::tuple<Ts...>(std::move(*std::get<I>(parts))...);
    }
    (std::index_sequence_for<Ts...>{});
  }
};

template <class A, class B> struct term_traits<std::pair<A, B>> {
  static term to(const std::pair<A, B>& v) {
    return term::tuple({to_term(v.first), to_term(v.second)});
  }
  static std::optional<std::pair<A, B>> from(const term& t) {
    auto x = from_term<std::tuple<A, B>>(t);
    if (!x)
      return std::nullopt;
    return std::pair<A, B>(std::move(std::get<0>(*x)), std::move(std::get<1>(*x)));
  }
};

/// `undefined` when empty (Erlang's convention), the value otherwise.
template <class T> struct term_traits<std::optional<T>> {
  static term to(const std::optional<T>& v) { return v ? to_term(*v) : term(atom("undefined")); }
  static std::optional<std::optional<T>> from(const term& t) {
    if (t.is_atom("undefined"))
      return std::optional<T>();
    auto x = from_term<T>(t);
    if (!x)
      return std::nullopt;
    return std::optional<T>(std::move(*x));
  }
};

/// The active alternative; from a term: the first alternative it fits.
template <class... Ts> struct term_traits<std::variant<Ts...>> {
  static term to(const std::variant<Ts...>& v) {
    return std::visit([](const auto& x) { return to_term(x); }, v);
  }
  static std::optional<std::variant<Ts...>> from(const term& t) {
    std::optional<std::variant<Ts...>> out;
    (void)((out = try_one<Ts>(t)).has_value() || ...);
    return out;
  }

private:
  template <class U> static std::optional<std::variant<Ts...>> try_one(const term& t) {
    if (auto x = from_term<U>(t))
      return std::variant<Ts...>(std::in_place_type<U>, std::move(*x));
    return std::nullopt;
  }
};

namespace detail {
template <class M> struct map_traits {
  using K = typename M::key_type;
  using V = typename M::mapped_type;
  static term to(const M& m) {
    std::vector<std::pair<term, term>> entries;
    entries.reserve(m.size());
    for (const auto& [k, v] : m)
      entries.emplace_back(to_term(k), to_term(v));
    return term::map(std::move(entries));
  }
  static std::optional<M> from(const term& t) {
    if (!t.is_map())
      return std::nullopt;
    M out;
    for (const auto& [k, v] : t.entries()) {
      auto key = from_term<K>(k);
      auto value = from_term<V>(v);
      if (!key || !value || !out.emplace(std::move(*key), std::move(*value)).second)
        return std::nullopt; // two keys that are one C++ key: not this map type
    }
    return out;
  }
};
} // namespace detail

template <class K, class V, class C, class A>
struct term_traits<std::map<K, V, C, A>> : detail::map_traits<std::map<K, V, C, A>> {};
template <class K, class V, class H, class E, class A>
struct term_traits<std::unordered_map<K, V, H, E, A>>
    : detail::map_traits<std::unordered_map<K, V, H, E, A>> {};

template <class T>
struct term_traits<
    T, std::enable_if_t<std::is_same_v<T, external_pid> || std::is_same_v<T, external_port> ||
                        std::is_same_v<T, external_ref> || std::is_same_v<T, export_fun>>> {
  static term to(const T& v) { return term(v); }
  static std::optional<T> from(const term& t) {
    if (const auto* v = t.get_if<T>())
      return *v;
    return std::nullopt;
  }
};

/// An aggregate with a `term_tag`: `{Tag, Field1, ...}`, or the bare atom
/// `Tag` if it has no fields.
template <class T> struct term_traits<T, std::enable_if_t<detail::tagged_aggregate<T>>> {
  static constexpr std::size_t fields = boost::pfr::tuple_size_v<T>;
  static atom tag() {
    static const atom a{std::string_view(term_tag<T>::name)};
    return a;
  }
  static term to(const T& v) {
    if constexpr (fields == 0) {
      static_cast<void>(v);
      return term(tag());
    } else {
      std::vector<term> e;
      e.reserve(fields + 1);
      e.emplace_back(tag());
      boost::pfr::for_each_field(v, [&](const auto& f) { e.push_back(to_term(f)); });
      return term::tuple(std::move(e));
    }
  }
  static std::optional<T> from(const term& t) {
    if constexpr (fields == 0) {
      if (const auto* a = t.get_if<atom>(); a && *a == tag())
        return T{};
      return std::nullopt;
    } else {
      if (!t.is_tuple() || t.size() != fields + 1 || t[0] != term(tag()))
        return std::nullopt;
      T out{};
      bool ok = true;
      std::size_t i = 1;
      boost::pfr::for_each_field(out, [&](auto& f) {
        using F = std::remove_cvref_t<decltype(f)>;
        if (!ok)
          return;
        if (auto x = from_term<F>(t[i++]))
          f = std::move(*x);
        else
          ok = false;
      });
      if (!ok)
        return std::nullopt;
      return out;
    }
  }
};

namespace detail {
// Set by a node while it encodes or decodes a message on this thread (see
// dist/node.hpp): pids become external pids of that node and back.
class dist_pid_codec {
public:
  virtual ~dist_pid_codec() = default;
  virtual external_pid to_external(const pid& p) = 0;
  virtual pid from_external(const external_pid& e) = 0;
};
inline thread_local dist_pid_codec* dist_codec = nullptr;
} // namespace detail

/// A pid: the external pid a node sends for it (a local process as a pid
/// of this node, a remote pid as itself). Only while a node encodes or
/// decodes: elsewhere `to` throws `bad_term` and `from` gives nothing.
template <> struct term_traits<pid> {
  static term to(const pid& p) {
    if (detail::dist_codec == nullptr)
      throw bad_term("otpp::to_term: a pid becomes a term only when an otpp::dist::node sends it");
    return term(detail::dist_codec->to_external(p));
  }
  static std::optional<pid> from(const term& t) {
    const auto* e = t.get_if<external_pid>();
    if (e == nullptr || detail::dist_codec == nullptr)
      return std::nullopt;
    return detail::dist_codec->from_external(*e);
  }
};

/// `std::monostate` (what a call handler returning nothing replies) is `ok`.
template <> struct term_traits<std::monostate> {
  static term to(std::monostate) { return term(atom("ok")); }
  static std::optional<std::monostate> from(const term& t) {
    if (t.is_atom("ok"))
      return std::monostate{};
    return std::nullopt;
  }
};

/// The message types a node knows how to send and receive. What a process
/// sends to a remote pid is encoded by its type's entry: a `T` as its
/// term, a `request<T>` (a call) as `{'$gen_call', {From, Tag}, T}`, a
/// `cast_message<T>` as `{'$gen_cast', T}`, a `reply<T>` as `{Tag, T}`. A
/// term that arrives is delivered as the first registered type of its
/// shape (a tuple `{Tag, ...}` by tag and arity, a bare atom by itself)
/// whose fields convert, else as `term`; the same for the request of a
/// `$gen_call`, the message of a `$gen_cast`, and the reply to a call
/// made with `otpp::call<R>` (as `R`).
///
/// Every `OTPP_TERM_TAG` type registers itself, a node registers numbers,
/// `bool`, `std::string`, `atom`, `term`, `pid` and `std::monostate`, and
/// `register_message<T>()` adds any other `term_convertible` type.
class message_types {
public:
  /// How a registered type travels.
  enum class form : std::uint8_t { value, request, reply, cast };
  struct entry {
    std::string_view type_name; ///< of the registered type T
    form how = form::value;
    /// The T inside a message of this entry's form.
    std::optional<term> (*encode)(const any_message& m) = nullptr;
    /// Deliver `t` as a T / request<T> / cast_message<T> / reply<T>;
    /// false if `t` does not fit T.
    bool (*deliver)(const pid& to, const term& t) = nullptr;
    bool (*deliver_request)(const pid& to, const term& t, const reply_to& from) = nullptr;
    bool (*deliver_cast)(const pid& to, const term& t) = nullptr;
    bool (*deliver_reply)(const pid& to, ref tag, const term& t) = nullptr;
  };

  template <class T> static bool add() {
    static_assert(term_convertible<T>, "otpp::message_types: the type has no term mapping");
    auto& r = instance();
    std::lock_guard lock(r.mutex_);
    r.by_type_.emplace(otpp::type_name<T>(), make<T, T>(form::value));
    r.by_type_.emplace(otpp::type_name<request<T>>(), make<T, request<T>>(form::request));
    r.by_type_.emplace(otpp::type_name<reply<T>>(), make<T, reply<T>>(form::reply));
    r.by_type_.emplace(otpp::type_name<cast_message<T>>(), make<T, cast_message<T>>(form::cast));
    return true;
  }
  template <class T> static bool add_shape(atom tag, std::size_t arity) {
    add<T>();
    auto& r = instance();
    std::lock_guard lock(r.mutex_);
    r.by_shape_[{tag, arity}].push_back(make<T, T>(form::value));
    return true;
  }
  /// The entry for a message of this type (a T, request<T>, reply<T> or
  /// cast_message<T> of a registered T), if there is one.
  static std::optional<entry> find(std::string_view message_type) {
    auto& r = instance();
    std::lock_guard lock(r.mutex_);
    auto it = r.by_type_.find(message_type);
    if (it == r.by_type_.end())
      return std::nullopt;
    return it->second;
  }
  /// The entries that may fit `t` (by tag and arity), in registration order.
  static std::vector<entry> candidates(const term& t) {
    std::pair<atom, std::size_t> key;
    if (const auto* a = t.get_if<atom>())
      key = {*a, 0};
    else if (t.is_tuple() && t.size() > 0 && t[0].is_atom())
      key = {*t[0].get_if<atom>(), t.size() - 1};
    else
      return {};
    auto& r = instance();
    std::lock_guard lock(r.mutex_);
    auto it = r.by_shape_.find(key);
    return it != r.by_shape_.end() ? it->second : std::vector<entry>{};
  }

private:
  template <class T, class M> static entry make(form how) {
    entry e;
    e.type_name = otpp::type_name<T>();
    e.how = how;
    e.encode = &encode_as<T, M>;
    e.deliver = &deliver_as<T>;
    e.deliver_request = &deliver_request_as<T>;
    e.deliver_cast = &deliver_cast_as<T>;
    e.deliver_reply = &deliver_reply_as<T>;
    return e;
  }
  template <class T, class M> static std::optional<term> encode_as(const any_message& m) {
    const M* v = m.get_if<M>();
    if (v == nullptr)
      return std::nullopt;
    if constexpr (std::is_same_v<T, M>)
      return to_term(*v);
    else
      return to_term(v->value);
  }
  template <class T> static bool deliver_as(const pid& to, const term& t) {
    auto v = from_term<T>(t);
    if (!v)
      return false;
    otpp::send(to, std::move(*v));
    return true;
  }
  template <class T>
  static bool deliver_request_as(const pid& to, const term& t, const reply_to& from) {
    auto v = from_term<T>(t);
    if (!v)
      return false;
    otpp::send(to, request<T>{from, std::move(*v)});
    return true;
  }
  template <class T> static bool deliver_cast_as(const pid& to, const term& t) {
    auto v = from_term<T>(t);
    if (!v)
      return false;
    otpp::send(to, cast_message<T>{std::move(*v)});
    return true;
  }
  template <class T> static bool deliver_reply_as(const pid& to, ref tag, const term& t) {
    auto v = from_term<T>(t);
    if (!v)
      return false;
    otpp::send_reply(reply_to{to, tag}, std::move(*v));
    return true;
  }
  struct shape_hash {
    std::size_t operator()(const std::pair<atom, std::size_t>& k) const noexcept {
      return std::hash<atom>()(k.first) * 31 + k.second;
    }
  };
  static message_types& instance() {
    static message_types r;
    return r;
  }
  std::mutex mutex_;
  std::unordered_map<std::string_view, entry> by_type_;
  std::unordered_map<std::pair<atom, std::size_t>, std::vector<entry>, shape_hash> by_shape_;
};

/// Let a node send and receive `T` (a `term_convertible` type) as a
/// message, a call, a cast and a reply; tagged aggregates need not:
/// `OTPP_TERM_TAG` registers them.
template <class T> bool register_message() {
  if constexpr (detail::tagged_aggregate<T>)
    return message_types::add_shape<T>(term_traits<T>::tag(), term_traits<T>::fields);
  else
    return message_types::add<T>();
}

namespace detail {
template <class T> struct dist_tag_registration {
  static inline const bool done = register_message<T>();
};
} // namespace detail

} // namespace otpp

/// Name the tag atom of an aggregate once, at global scope:
/// `OTPP_TERM_TAG(app::add, "add");` makes `app::add{1, 2}` the term
/// `{add, 1, 2}`.
#define OTPP_TERM_TAG(Type, Name)                                                                  \
  template <> struct otpp::term_tag<Type> {                                                        \
    static constexpr std::string_view name = Name;                                                 \
    static inline const bool registered = otpp::detail::dist_tag_registration<Type>::done;         \
  }
