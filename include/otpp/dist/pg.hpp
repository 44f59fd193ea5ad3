// Process groups across nodes: the terms of OTP pg's protocol between the
// scopes of one name on different nodes, so that an otpp scope shares its
// members with Erlang's pg scope of the same name, or with another otpp
// node's. The scope process (behaviour/detail/pg_scope.hpp) speaks the
// protocol as C++ messages; this file maps them to the terms OTP 23-27's
// pg sends, and a node uses it for what arrives at a scope.
// Distributed under the Boost Software License, Version 1.0.
#pragma once

#include <otpp/behaviour/call.hpp>
#include <otpp/behaviour/pg_cluster.hpp>
#include <otpp/core/pid.hpp>
#include <otpp/core/process.hpp>
#include <otpp/dist/atom.hpp>
#include <otpp/dist/convert.hpp>
#include <otpp/dist/term.hpp>

#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace otpp {

namespace detail {

// A group travels as an atom (what Erlang programs use) when its name
// fits one, else as a binary. A group of Erlang's that is neither (any
// term may name one) is known here by its printed form.
inline term pg_group_term(const std::string& g) {
  if (auto a = atom::try_make(g))
    return term(*a);
  return term::binary(g);
}
inline std::string pg_group_name(const term& t) {
  if (const auto* a = t.get_if<atom>())
    return std::string(a->name());
  if (t.is_binary())
    return std::string(t.bytes());
  return to_string(t);
}
// The scope that sent a message: a pid naming a process (a pid of an
// earlier incarnation of this node names nobody: not a peer).
inline std::optional<pid> pg_peer_from(const term& t) {
  auto p = from_term<pid>(t);
  if (!p || !*p)
    return std::nullopt;
  return p;
}
// A pid or a list of pids (OTP sends either); nothing if any is not a pid.
// A pid that names nobody here (a former incarnation of this node) is
// left out.
inline std::optional<std::vector<pid>> pg_pids_from(const term& t) {
  std::optional<std::vector<pid>> out;
  if (t.get_if<external_pid>() == nullptr) {
    out = from_term<std::vector<pid>>(t);
  } else if (auto p = from_term<pid>(t)) {
    out.emplace(1, std::move(*p));
  }
  if (out)
    std::erase_if(*out, [](const pid& p) { return !p; });
  return out;
}

} // namespace detail

/// `{discover, Peer}` (and the `{discover, Peer, Version}` of later OTPs).
template <> struct term_traits<pg::protocol::discover> {
  static term to(const pg::protocol::discover& d) {
    return term::tuple({term(atom("discover")), to_term(d.peer)});
  }
  static std::optional<pg::protocol::discover> from(const term& t) {
    if (!t.is_tagged("discover", 2) && !t.is_tagged("discover", 3))
      return std::nullopt;
    auto p = detail::pg_peer_from(t[1]);
    if (!p)
      return std::nullopt;
    return pg::protocol::discover{std::move(*p)};
  }
};

/// `{sync, Peer, [{Group, [Pid]}]}` (sent as a gen_server cast).
template <> struct term_traits<pg::protocol::sync> {
  static term to(const pg::protocol::sync& s) {
    std::vector<term> groups;
    groups.reserve(s.groups.size());
    for (const auto& [g, pids] : s.groups)
      groups.push_back(term::tuple({detail::pg_group_term(g), to_term(pids)}));
    return term::tuple({term(atom("sync")), to_term(s.peer), term::list(std::move(groups))});
  }
  static std::optional<pg::protocol::sync> from(const term& t) {
    if (!t.is_tagged("sync", 3) || !t[2].is_proper_list())
      return std::nullopt;
    auto p = detail::pg_peer_from(t[1]);
    if (!p)
      return std::nullopt;
    pg::protocol::sync s{std::move(*p), {}};
    for (const term& e : t[2].elements()) {
      if (!e.is_tuple() || e.size() != 2)
        return std::nullopt;
      auto pids = detail::pg_pids_from(e[1]);
      if (!pids)
        return std::nullopt;
      s.groups.emplace_back(detail::pg_group_name(e[0]), std::move(*pids));
    }
    return s;
  }
};

/// `{join, Peer, Group, PidOrPids}`.
template <> struct term_traits<pg::protocol::join> {
  static term to(const pg::protocol::join& j) {
    return term::tuple(
        {term(atom("join")), to_term(j.peer), detail::pg_group_term(j.group), to_term(j.pids)});
  }
  static std::optional<pg::protocol::join> from(const term& t) {
    if (!t.is_tagged("join", 4))
      return std::nullopt;
    auto p = detail::pg_peer_from(t[1]);
    auto pids = detail::pg_pids_from(t[3]);
    if (!p || !pids)
      return std::nullopt;
    return pg::protocol::join{std::move(*p), detail::pg_group_name(t[2]), std::move(*pids)};
  }
};

/// `{leave, Peer, PidOrPids, [Group]}`.
template <> struct term_traits<pg::protocol::leave> {
  static term to(const pg::protocol::leave& l) {
    std::vector<term> groups;
    groups.reserve(l.groups.size());
    for (const auto& g : l.groups)
      groups.push_back(detail::pg_group_term(g));
    return term::tuple(
        {term(atom("leave")), to_term(l.peer), to_term(l.pids), term::list(std::move(groups))});
  }
  static std::optional<pg::protocol::leave> from(const term& t) {
    if (!t.is_tagged("leave", 4) || !t[3].is_proper_list())
      return std::nullopt;
    auto p = detail::pg_peer_from(t[1]);
    auto pids = detail::pg_pids_from(t[2]);
    if (!p || !pids)
      return std::nullopt;
    pg::protocol::leave l{std::move(*p), std::move(*pids), {}};
    for (const term& g : t[3].elements())
      l.groups.push_back(detail::pg_group_name(g));
    return l;
  }
};

namespace detail {

// The protocol's messages, for sending (by type only: what arrives is
// read by `deliver_pg`, never matched by shape for other processes).
inline void register_pg_messages() {
  static const bool done = [] {
    message_types::add<pg::protocol::discover>();
    message_types::add<pg::protocol::sync>();
    message_types::add<pg::protocol::join>();
    message_types::add<pg::protocol::leave>();
    return true;
  }();
  static_cast<void>(done);
}

// `t` (`cast`: the request of a `$gen_cast`) sent to `to`, if `to` is a
// scope and `t` is the pg protocol: delivered as its message. Only while
// a node decodes (pids inside convert through it).
inline bool deliver_pg(const pid& to, const term& t, bool cast) {
  // Cheap tests first: this runs for every message before the types
  // registered by shape are tried (so that a user type shaped like
  // {join, A, B, C} never takes a scope's protocol).
  if (!t.is_tuple() || t.size() < 2 || t.size() > 4 || !t[0].is_atom())
    return false;
  const atom tag = *t[0].get_if<atom>();
  static const atom sync("sync"), discover("discover"), join("join"), leave("leave");
  if (cast ? tag != sync : (tag != discover && tag != join && tag != leave))
    return false;
  if (!pg::is_scope(to))
    return false;
  // Deliver `m` (a parsed message) if it parsed.
  auto deliver = [&to](auto m) {
    if (!m)
      return false;
    otpp::send(to, std::move(*m));
    return true;
  };
  if (cast) {
    auto s = from_term<pg::protocol::sync>(t);
    if (s)
      otpp::send(to, cast_message<pg::protocol::sync>{std::move(*s)});
    return s.has_value();
  }
  if (tag == discover)
    return deliver(from_term<pg::protocol::discover>(t));
  if (tag == join)
    return deliver(from_term<pg::protocol::join>(t));
  return deliver(from_term<pg::protocol::leave>(t));
}

} // namespace detail

} // namespace otpp
