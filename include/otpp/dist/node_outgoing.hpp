// otpp::dist::node, outgoing: what local processes send to remote pids
// (messages, calls, links, monitors, exits), and the links and monitors
// that cross to each peer.
// Distributed under the Boost Software License, Version 1.0.
#pragma once

// Members of otpp::dist::node defined out of its class: node.hpp includes
// this header after the class (and this one includes node.hpp, so either
// may come first).
#include <otpp/dist/node.hpp>

namespace otpp::dist {

inline void node::outgoing(peer_endpoint& ep, const pid& to, remote_delivery d) noexcept {
  try {
    codec_scope scope(*this);
    using k = remote_delivery::kind;
    const pid from = d.from;
    if (ep.by_name()) {
      outgoing_named(ep, to, std::move(d));
      return;
    }
    const external_pid dest = to_external(to);
    switch (d.what) {
    case k::message: {
      std::optional<term> t;
      const auto e = message_types::find(d.message.type_name());
      if (e)
        t = e->encode(d.message);
      if (!t) {
        report_unencodable(d.message.type_name(), to);
        return;
      }
      switch (e->how) {
      case message_types::form::value:
        break;
      case message_types::form::cast:
        t = term::tuple({term(atom("$gen_cast")), std::move(*t)});
        break;
      case message_types::form::request:
        t = start_call(ep, to, *d.message.requester(), dest, std::move(*t));
        break;
      case message_types::form::reply: {
        // The answer to a call from the peer: {Tag, Reply} with its tag.
        std::optional<term> theirs;
        if (auto tag = d.message.reply_tag()) {
          std::lock_guard lock(mutex_);
          auto it = calls_in_.find(tag->value());
          if (it != calls_in_.end()) {
            theirs = std::move(it->second.tag);
            calls_in_.erase(it);
          }
        }
        if (!theirs)
          return; // answered already, or not a call of theirs
        t = term::tuple({std::move(*theirs), std::move(*t)});
        break;
      }
      }
      enqueue(ep.name(), send_msg{dest, std::nullopt, std::move(*t)});
      return;
    }
    case k::link:
      track_link(ep.name(), from, to, true);
      enqueue(ep.name(), link_msg{to_external(from), dest});
      return;
    case k::unlink:
      track_link(ep.name(), from, to, false);
      enqueue(ep.name(), unlink_id_msg{make_ref().value(), to_external(from), dest, false});
      return;
    case k::exit:
      enqueue(ep.name(), exit_msg{to_external(from), dest, reason_to_term(d.reason), false});
      return;
    case k::link_exit:
      track_link(ep.name(), from, to, false);
      enqueue(ep.name(), exit_msg{to_external(from), dest, reason_to_term(d.reason), true});
      return;
    case k::monitor:
      track_monitor(ep.name(), from, to, d.monitor.value(), true);
      enqueue(ep.name(), monitor_msg{to_external(from), dest, our_ref(d.monitor), false});
      return;
    case k::demonitor:
      track_monitor(ep.name(), from, to, d.monitor.value(), false);
      {
        std::lock_guard lock(mutex_);
        calls_out_.erase(d.monitor.value()); // a call answered or given up
      }
      enqueue(ep.name(), monitor_msg{to_external(from), dest, our_ref(d.monitor), true});
      return;
    case k::down: {
      // A remote process monitored `from` under a ref of its own.
      std::optional<external_ref> theirs;
      {
        std::lock_guard lock(mutex_);
        auto it = inbound_monitors_.find(d.monitor.value());
        if (it != inbound_monitors_.end()) {
          theirs = it->second.ref;
          inbound_monitors_.erase(it);
        }
      }
      if (theirs)
        enqueue(ep.name(),
                monitor_exit_msg{to_external(from), dest, *theirs, reason_to_term(d.reason)});
      return;
    }
    }
  } catch (const std::exception& e) {
    try {
      send_report(
          report_kind::error, pid(),
          fmt::format("otpp::dist::node {}: could not send to {}: {}", opts_.name, to, e.what()));
    } catch (...) { // NOLINT(bugprone-empty-catch): a report that cannot be made
    }
  }
}

inline void node::outgoing_named(peer_endpoint& ep, const pid& to, remote_delivery d) {
  using k = remote_delivery::kind;
  const atom name = ep.registered(remote::key_of(to));
  switch (d.what) {
  case k::message: {
    const auto e = message_types::find(d.message.type_name());
    std::optional<term> t;
    if (e)
      t = e->encode(d.message);
    if (!t) {
      report_unencodable(d.message.type_name(), to);
      return;
    }
    external_pid sender = to_external(this_or_null());
    if (e->how == message_types::form::cast) {
      t = term::tuple({term(atom("$gen_cast")), std::move(*t)});
    } else if (e->how == message_types::form::request) {
      const reply_to& rq = *d.message.requester();
      sender = to_external(rq.pid);
      t = start_call(ep, to, rq, name, std::move(*t));
    } else if (e->how == message_types::form::reply) {
      return; // a reply goes to a pid, never to a name
    }
    enqueue(ep.name(), reg_send_msg{sender, name, std::move(*t)});
    return;
  }
  case k::monitor:
  case k::demonitor: {
    const bool add = d.what == k::monitor;
    track_monitor(ep.name(), d.from, to, d.monitor.value(), add);
    if (!add) {
      std::lock_guard lock(mutex_);
      calls_out_.erase(d.monitor.value());
    }
    enqueue(ep.name(), monitor_msg{to_external(d.from), name, our_ref(d.monitor), !add});
    return;
  }
  case k::link:
    // Erlang links only to pids: the linker learns at once.
    if (d.from)
      remote::link_exit(d.from, to, exit_reason::noproc());
    return;
  default:
    send_report(report_kind::error, d.from,
                fmt::format("otpp::dist::node {}: an exit signal to {} was dropped: exit "
                            "signals go to pids, not to registered names",
                            opts_.name, to));
    return;
  }
}

inline term node::start_call(peer_endpoint& ep, const pid& to, const reply_to& rq, process_id dest,
                             term request) {
  const external_pid caller = to_external(rq.pid);
  const external_ref tag = our_ref(rq.tag);
  {
    std::lock_guard lock(mutex_);
    calls_out_[rq.tag.value()] = std::string(remote::expecting_reply::current());
  }
  track_monitor(ep.name(), rq.pid, to, rq.tag.value(), true);
  enqueue(ep.name(), monitor_msg{caller, std::move(dest), tag, false});
  return term::tuple(
      {term(atom("$gen_call")), term::tuple({term(caller), term(tag)}), std::move(request)});
}

inline void node::report_unencodable(std::string_view type, const pid& to) {
  send_report(report_kind::error, this_or_null(),
              fmt::format("otpp::dist::node {}: a message of type {} to {} was dropped: "
                          "the type has no term mapping (give it an OTPP_TERM_TAG or "
                          "call otpp::register_message<T>())",
                          opts_.name, type, to));
}

inline external_ref node::our_ref(ref r) const {
  external_ref e;
  e.node = self_.name;
  e.creation = self_.creation;
  e.size = 3;
  e.words = {static_cast<std::uint32_t>(r.value() & 0x3ffff),
             static_cast<std::uint32_t>(r.value() >> 18),
             static_cast<std::uint32_t>(r.value() >> 50), 0, 0};
  return e;
}

inline std::optional<ref> node::ref_of_ours(const external_ref& e) const {
  if (e.node != self_.name || e.creation != self_.creation || e.size < 3)
    return std::nullopt;
  return ref(std::uint64_t{e.words[0]} | (std::uint64_t{e.words[1]} << 18) |
             (std::uint64_t{e.words[2]} << 50));
}

inline void node::track_link(atom peer, const pid& local, const pid& rem, bool add) {
  std::lock_guard lock(mutex_);
  auto& v = links_[peer];
  auto it = std::find_if(v.begin(), v.end(),
                         [&](const link_rec& l) { return l.local == local && l.remote == rem; });
  if (add && it == v.end())
    v.push_back({local, rem});
  else if (!add && it != v.end())
    v.erase(it);
}

inline void node::track_monitor(atom peer, const pid& local, const pid& rem, std::uint64_t r,
                                bool add) {
  std::lock_guard lock(mutex_);
  auto& v = monitors_[peer];
  if (add) {
    v.push_back({local, rem, r});
    return;
  }
  auto it = std::find_if(v.begin(), v.end(), [&](const monitor_rec& m) { return m.ref == r; });
  if (it != v.end())
    v.erase(it);
}

} // namespace otpp::dist
