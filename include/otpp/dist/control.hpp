// Control messages of the distribution protocol as checked C++ values.
// Distributed under the Boost Software License, Version 1.0.
#pragma once

#include <otpp/dist/protocol.hpp>
#include <otpp/dist/term.hpp>

#include <fmt/format.h>

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <variant>

namespace otpp::dist {

/// A process named in a monitor: by pid, or by registered name on the
/// receiving node (DIST_MONITOR_NAME).
using process_id = std::variant<external_pid, atom>;

/// LINK: `from` links to `to`.
struct link_msg {
  external_pid from, to;
};
/// UNLINK_ID (and its ACK): `from` removes the link to `to`; `id` names
/// the unlink so that a late ack cannot remove a newer link.
struct unlink_id_msg {
  std::uint64_t id = 0;
  external_pid from, to;
  bool ack = false;
};
/// SEND / SEND_SENDER: a message to `to` (`from` if the peer said who).
struct send_msg {
  external_pid to;
  std::optional<external_pid> from;
  term message;
};
/// REG_SEND: a message from `from` to the process registered as `to`.
struct reg_send_msg {
  external_pid from;
  atom to;
  term message;
};
/// ALIAS_SEND: a message to a process alias.
struct alias_send_msg {
  external_pid from;
  external_ref alias;
  term message;
};
/// EXIT (a linked process ended) or EXIT2 (`exit/2`), payload form or not.
struct exit_msg {
  external_pid from, to;
  term reason;
  bool by_link = true; ///< EXIT; false: EXIT2
};
/// MONITOR_P / DEMONITOR_P: `from` starts or stops watching `to`.
struct monitor_msg {
  external_pid from;
  process_id to;
  external_ref ref;
  bool demonitor = false;
};
/// MONITOR_P_EXIT: the process `from` that `to` monitored under `ref` ended.
struct monitor_exit_msg {
  process_id from;
  external_pid to;
  external_ref ref;
  term reason;
};

/// SPAWN_REQUEST: `from` asks for a process running
/// `apply(module, function, args)` (`erlang:spawn_request/5`, under erpc
/// and so `rpc:call`); `options` is its option list (`link`, `monitor`,
/// `{reply, yes | no | error_only | success_only}`, ...).
struct spawn_request_msg {
  external_ref id;
  external_pid from;
  term group_leader;
  atom module, function;
  std::int64_t arity = 0;
  term options;
  term args;
};
/// SPAWN_REPLY: the answer to spawn request `id`: the new process's pid or
/// an error atom; `flags` says whether the link (1) and the monitor (2)
/// asked for are in place.
struct spawn_reply_msg {
  external_ref id;
  external_pid to;
  std::int64_t flags = 0;
  term result;
};

/// A control message (with its message term where it has one).
using control_msg =
    std::variant<link_msg, unlink_id_msg, send_msg, reg_send_msg, alias_send_msg, exit_msg,
                 monitor_msg, monitor_exit_msg, spawn_request_msg, spawn_reply_msg>;

} // namespace otpp::dist

namespace otpp::detail {
[[noreturn]] inline void bad_control(const term& c, const char* what) {
  std::string text = to_string(c);
  if (text.size() > 200)
    text = text.substr(0, 200) + "...";
  throw dist::protocol_error(fmt::format("otpp::dist: a control message {}: {}", what, text));
}
inline const external_pid& pid_at(const term& c, std::size_t i) {
  const auto* p = c[i].get_if<external_pid>();
  if (p == nullptr)
    bad_control(c, "has no pid where one belongs");
  return *p;
}
inline const external_ref& ref_at(const term& c, std::size_t i) {
  const auto* r = c[i].get_if<external_ref>();
  if (r == nullptr)
    bad_control(c, "has no reference where one belongs");
  return *r;
}
inline dist::process_id process_at(const term& c, std::size_t i) {
  if (const auto* p = c[i].get_if<external_pid>())
    return *p;
  if (const auto* a = c[i].get_if<atom>())
    return *a;
  bad_control(c, "names no process (pid or registered name)");
}
inline term process_term(const dist::process_id& p) {
  return std::visit([](const auto& v) { return term(v); }, p);
}
} // namespace otpp::detail

namespace otpp::dist {

/// The control message of a packet, checked: the operation is one otpp
/// handles and every element has the type it must (trace tokens of the
/// `_TT` forms are dropped).
/// @par Errors
/// `protocol_error` naming what is wrong, with the control term; for an
/// operation otpp does not handle (spawn requests, group leaders, the old
/// UNLINK) too: otpp did not announce them.
inline control_msg parse_control(packet p) {
  const term& c = p.control;
  const auto* code = c.is_tuple() && c.size() > 0 ? c[0].get_if<std::int64_t>() : nullptr;
  if (code == nullptr || *code < 1 || *code > 255)
    detail::bad_control(c, "does not start with an operation");
  const std::int64_t op_code = *code;
  const std::size_t n = c.size();
  auto need = [&](std::size_t arity, bool message) {
    if (n != arity)
      detail::bad_control(c, "has the wrong number of elements");
    if (message != p.message.has_value())
      detail::bad_control(c, message ? "lacks its message" : "carries a message it must not");
  };
  auto message = [&] { return std::move(*p.message); };
  switch (static_cast<op>(op_code)) {
  case op::link:
    need(3, false);
    return link_msg{detail::pid_at(c, 1), detail::pid_at(c, 2)};
  case op::unlink_id:
  case op::unlink_id_ack: {
    need(4, false);
    const auto* id = c[1].get_if<std::int64_t>();
    const auto* big = c[1].get_if<big_integer>();
    std::uint64_t v = 0;
    if (id != nullptr && *id > 0) {
      v = static_cast<std::uint64_t>(*id);
    } else if (big != nullptr && !big->negative && big->magnitude.size() <= 8) {
      for (std::size_t k = big->magnitude.size(); k-- > 0;)
        v = (v << 8) | big->magnitude[k];
    } else {
      detail::bad_control(c, "has an unlink id that is not a positive 64-bit integer");
    }
    return unlink_id_msg{v, detail::pid_at(c, 2), detail::pid_at(c, 3),
                         static_cast<op>(op_code) == op::unlink_id_ack};
  }
  case op::send:
  case op::send_tt:
    need(static_cast<op>(op_code) == op::send ? 3 : 4, true);
    return send_msg{detail::pid_at(c, 2), std::nullopt, message()};
  case op::send_sender:
  case op::send_sender_tt:
    need(static_cast<op>(op_code) == op::send_sender ? 3 : 4, true);
    return send_msg{detail::pid_at(c, 2), detail::pid_at(c, 1), message()};
  case op::reg_send:
  case op::reg_send_tt: {
    need(static_cast<op>(op_code) == op::reg_send ? 4 : 5, true);
    const auto* name = c[3].get_if<atom>();
    if (name == nullptr)
      detail::bad_control(c, "names its receiver with something other than an atom");
    return reg_send_msg{detail::pid_at(c, 1), *name, message()};
  }
  case op::alias_send:
  case op::alias_send_tt:
    need(static_cast<op>(op_code) == op::alias_send ? 3 : 4, true);
    return alias_send_msg{detail::pid_at(c, 1), detail::ref_at(c, 2), message()};
  case op::exit:
  case op::exit2:
    need(4, false);
    return exit_msg{detail::pid_at(c, 1), detail::pid_at(c, 2), c[3],
                    static_cast<op>(op_code) == op::exit};
  case op::exit_tt:
  case op::exit2_tt:
    need(5, false);
    return exit_msg{detail::pid_at(c, 1), detail::pid_at(c, 2), c[4],
                    static_cast<op>(op_code) == op::exit_tt};
  case op::payload_exit:
  case op::payload_exit2:
    need(3, true);
    return exit_msg{detail::pid_at(c, 1), detail::pid_at(c, 2), message(),
                    static_cast<op>(op_code) == op::payload_exit};
  case op::payload_exit_tt:
  case op::payload_exit2_tt:
    need(4, true);
    return exit_msg{detail::pid_at(c, 1), detail::pid_at(c, 2), message(),
                    static_cast<op>(op_code) == op::payload_exit_tt};
  case op::monitor_p:
  case op::demonitor_p:
    need(4, false);
    return monitor_msg{detail::pid_at(c, 1), detail::process_at(c, 2), detail::ref_at(c, 3),
                       static_cast<op>(op_code) == op::demonitor_p};
  case op::monitor_p_exit:
    need(5, false);
    return monitor_exit_msg{detail::process_at(c, 1), detail::pid_at(c, 2), detail::ref_at(c, 3),
                            c[4]};
  case op::payload_monitor_p_exit:
    need(4, true);
    return monitor_exit_msg{detail::process_at(c, 1), detail::pid_at(c, 2), detail::ref_at(c, 3),
                            message()};
  case op::spawn_request:
  case op::spawn_request_tt: {
    need(static_cast<op>(op_code) == op::spawn_request ? 6 : 7, true);
    const term& mfa = c[4];
    const auto* m = mfa.is_tuple() && mfa.size() == 3 ? mfa[0].get_if<atom>() : nullptr;
    const auto* f = m != nullptr ? mfa[1].get_if<atom>() : nullptr;
    const auto* a = f != nullptr ? mfa[2].get_if<std::int64_t>() : nullptr;
    if (a == nullptr)
      detail::bad_control(c, "has no {Module, Function, Arity}");
    if (!c[5].is_list())
      detail::bad_control(c, "has options that are not a list");
    term args = message();
    if (!args.is_proper_list() || static_cast<std::int64_t>(args.size()) != *a)
      detail::bad_control(c, "carries arguments that are not a list of its arity");
    return spawn_request_msg{detail::ref_at(c, 1), detail::pid_at(c, 2), c[3], *m, *f, *a, c[5],
                             std::move(args)};
  }
  case op::spawn_reply:
  case op::spawn_reply_tt: {
    need(static_cast<op>(op_code) == op::spawn_reply ? 5 : 6, false);
    const auto* flags = c[3].get_if<std::int64_t>();
    if (flags == nullptr)
      detail::bad_control(c, "has flags that are not an integer");
    return spawn_reply_msg{detail::ref_at(c, 1), detail::pid_at(c, 2), *flags, c[4]};
  }
  default:
    detail::bad_control(c, "has an operation otpp does not handle");
  }
}

/// The packet bytes for a control message, in the forms an otpp node sends:
/// SEND_SENDER when the sender is known (else SEND), REG_SEND, ALIAS_SEND,
/// LINK, UNLINK_ID(_ACK), PAYLOAD_EXIT / PAYLOAD_EXIT2 when the peer
/// announced EXIT_PAYLOAD (else EXIT / EXIT2), MONITOR_P, DEMONITOR_P,
/// PAYLOAD_MONITOR_P_EXIT or MONITOR_P_EXIT.
inline std::string frame_control(const control_msg& m, std::uint64_t peer_flags) {
  const bool payload = (peer_flags & flag::exit_payload) != 0;
  const bool sender = (peer_flags & flag::send_sender) != 0;
  auto code = [](op o) { return term(static_cast<std::int64_t>(o)); };
  return std::visit(
      [&](const auto& v) -> std::string {
        using T = std::decay_t<decltype(v)>;
        if constexpr (std::is_same_v<T, link_msg>) {
          return frame_packet(term::tuple({code(op::link), term(v.from), term(v.to)}));
        } else if constexpr (std::is_same_v<T, unlink_id_msg>) {
          return frame_packet(term::tuple({code(v.ack ? op::unlink_id_ack : op::unlink_id),
                                           term(v.id), term(v.from), term(v.to)}));
        } else if constexpr (std::is_same_v<T, send_msg>) {
          if (v.from && sender)
            return frame_packet(term::tuple({code(op::send_sender), term(*v.from), term(v.to)}),
                                &v.message);
          return frame_packet(term::tuple({code(op::send), term(atom("")), term(v.to)}),
                              &v.message);
        } else if constexpr (std::is_same_v<T, reg_send_msg>) {
          return frame_packet(
              term::tuple({code(op::reg_send), term(v.from), term(atom("")), term(v.to)}),
              &v.message);
        } else if constexpr (std::is_same_v<T, alias_send_msg>) {
          return frame_packet(term::tuple({code(op::alias_send), term(v.from), term(v.alias)}),
                              &v.message);
        } else if constexpr (std::is_same_v<T, exit_msg>) {
          if (payload)
            return frame_packet(term::tuple({code(v.by_link ? op::payload_exit : op::payload_exit2),
                                             term(v.from), term(v.to)}),
                                &v.reason);
          return frame_packet(term::tuple(
              {code(v.by_link ? op::exit : op::exit2), term(v.from), term(v.to), v.reason}));
        } else if constexpr (std::is_same_v<T, monitor_msg>) {
          return frame_packet(term::tuple({code(v.demonitor ? op::demonitor_p : op::monitor_p),
                                           term(v.from), detail::process_term(v.to), term(v.ref)}));
        } else if constexpr (std::is_same_v<T, spawn_request_msg>) {
          return frame_packet(
              term::tuple({code(op::spawn_request), term(v.id), term(v.from), v.group_leader,
                           term::tuple({term(v.module), term(v.function), term(v.arity)}),
                           v.options}),
              &v.args);
        } else if constexpr (std::is_same_v<T, spawn_reply_msg>) {
          return frame_packet(term::tuple(
              {code(op::spawn_reply), term(v.id), term(v.to), term(v.flags), v.result}));
        } else {
          static_assert(std::is_same_v<T, monitor_exit_msg>);
          if (payload)
            return frame_packet(
                term::tuple({code(op::payload_monitor_p_exit), detail::process_term(v.from),
                             term(v.to), term(v.ref)}),
                &v.reason);
          return frame_packet(term::tuple({code(op::monitor_p_exit), detail::process_term(v.from),
                                           term(v.to), term(v.ref), v.reason}));
        }
      },
      m);
}

} // namespace otpp::dist
