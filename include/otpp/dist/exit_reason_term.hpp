// Exit reasons on the wire: an otpp exit_reason as the term Erlang sees,
// and an Erlang exit reason as an exit_reason.
// Distributed under the Boost Software License, Version 1.0.
#pragma once

#include <otpp/core/exit_reason.hpp>
#include <otpp/dist/atom.hpp>
#include <otpp/dist/convert.hpp>
#include <otpp/dist/term.hpp>

#include <any>
#include <string>
#include <string_view>

namespace otpp::dist {

/// `r` as Erlang sees it: `normal`, `shutdown`, `{shutdown, Detail}`,
/// `kill`, `killed`, `noproc`, `noconnection`, `timeout`, a C++
/// exception as `{exception, Type, What}` (binaries), a user reason as
/// its `term` payload if it has one, else its text as an atom.
inline term reason_to_term(const exit_reason& r) {
  using k = exit_reason::kind;
  switch (r.which()) {
  case k::normal:
    return term(atom("normal"));
  case k::shutdown:
    if (r.detail().empty())
      return term(atom("shutdown"));
    return term::tuple({term(atom("shutdown")), term::binary(r.detail())});
  case k::kill:
    return term(atom("kill"));
  case k::killed:
    return term(atom("killed"));
  case k::noproc:
    return term(atom("noproc"));
  case k::timeout:
    return term(atom("timeout"));
  case k::exception:
    return term::tuple(
        {term(atom("exception")), term::binary(r.exception_type()), term::binary(r.detail())});
  case k::user:
    if (const auto* t = std::any_cast<term>(&r.payload()))
      return *t;
    if (auto a = atom::try_make(r.detail()))
      return term(*a);
    return term::binary(r.detail());
  }
  return term(atom("normal"));
}

/// The reverse of `reason_to_term`; any other term is a user reason
/// whose text is the term as Erlang prints it and whose payload is the term.
inline exit_reason reason_from_term(const term& t) {
  if (const auto* a = t.get_if<atom>()) {
    const std::string_view n = a->name();
    if (n == "normal")
      return exit_reason::normal();
    if (n == "shutdown")
      return exit_reason::shutdown();
    if (n == "kill")
      return exit_reason::kill();
    if (n == "killed")
      return exit_reason::killed();
    if (n == "noproc")
      return exit_reason::noproc();
    if (n == "timeout")
      return exit_reason::timeout();
    if (n == "noconnection")
      return exit_reason::noconnection();
  }
  if (t.is_tuple() && t.size() == 2 && t[0].is_atom("shutdown")) {
    if (auto s = from_term<std::string>(t[1]); s && !s->empty())
      return exit_reason::shutdown(*s);
    return exit_reason::shutdown(to_string(t[1]));
  }
  if (t.is_tuple() && t.size() == 3 && t[0].is_atom("exception")) {
    auto type = from_term<std::string>(t[1]);
    auto what = from_term<std::string>(t[2]);
    if (type && what)
      return exit_reason::exception(*type, *what);
  }
  return exit_reason::user(to_string(t), t);
}

} // namespace otpp::dist
