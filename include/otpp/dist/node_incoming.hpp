// otpp::dist::node, incoming: control messages from a peer become messages
// and signals of local processes (and spawns, for SPAWN_REQUEST).
// Distributed under the Boost Software License, Version 1.0.
#pragma once

// Members of otpp::dist::node defined out of its class: node.hpp includes
// this header after the class (and this one includes node.hpp, so either
// may come first).
#include <otpp/dist/node.hpp>

namespace otpp::dist {

inline void node::deliver_term(atom peer, const pid& to, const term& t) {
  if (!to)
    return;
  if (t.is_tuple() && t.size() == 2) {
    // The reply to a call of ours: {Tag, Reply}.
    if (const auto* r = t[0].get_if<external_ref>()) {
      if (auto tag = ref_of_ours(*r)) {
        std::optional<std::string> expected;
        {
          std::lock_guard lock(mutex_);
          auto it = calls_out_.find(tag->value());
          if (it != calls_out_.end())
            expected = it->second;
        }
        if (expected) {
          deliver_reply(peer, to, *tag, *expected, t[1]);
          return;
        }
      }
    }
    // A cast: {'$gen_cast', Request}.
    if (t[0].is_atom("$gen_cast")) {
      if (otpp::detail::deliver_pg(to, t[1], true))
        return;
      for (const auto& e : message_types::candidates(t[1]))
        if (e.deliver_cast(to, t[1]))
          return;
      otpp::send(to, cast_message<term>{t[1]});
      return;
    }
  }
  // A call: {'$gen_call', {From, Tag}, Request}.
  if (t.is_tuple() && t.size() == 3 && t[0].is_atom("$gen_call") && t[1].is_tuple() &&
      t[1].size() == 2 && t[1][0].get_if<external_pid>() != nullptr) {
    const reply_to from{from_external(*t[1][0].get_if<external_pid>()), make_ref()};
    {
      std::lock_guard lock(mutex_);
      calls_in_[from.tag.value()] = call_in{t[1][1], to};
      if (calls_in_.size() >= 2 * calls_in_swept_) {
        // Calls to servers that ended unanswered will never be answered.
        std::erase_if(calls_in_, [](const auto& c) {
          return otpp::info(c.second.server).status == otpp::process_status::exited;
        });
        calls_in_swept_ = std::max<std::size_t>(calls_in_.size(), 1024);
      }
    }
    for (const auto& e : message_types::candidates(t[2]))
      if (e.deliver_request(to, t[2], from))
        return;
    otpp::send(to, request<term>{from, t[2]});
    return;
  }
  if (otpp::detail::deliver_pg(to, t, false))
    return;
  for (const auto& e : message_types::candidates(t))
    if (e.deliver(to, t))
      return;
  otpp::send(to, t);
}

inline void node::deliver_reply(atom peer, const pid& to, ref tag, const std::string& expected,
                                const term& value) {
  std::optional<message_types::entry> e =
      message_types::find(expected.empty() ? otpp::type_name<term>() : expected);
  if (e && e->deliver_reply(to, tag, value))
    return;
  pid server;
  {
    std::lock_guard lock(mutex_);
    for (const auto& m : monitors_[peer])
      if (m.ref == tag.value())
        server = m.remote;
  }
  track_monitor(peer, to, server, tag.value(), false);
  {
    std::lock_guard lock(mutex_);
    calls_out_.erase(tag.value());
  }
  if (server) {
    auto* sep = static_cast<peer_endpoint*>(remote::endpoint_of(server));
    if (sep->by_name())
      enqueue(peer, monitor_msg{to_external(to), sep->registered(remote::key_of(server)),
                                our_ref(tag), true});
    else
      enqueue(peer, monitor_msg{to_external(to), to_external(server), our_ref(tag), true});
  }
  std::string text = to_string(value);
  if (text.size() > 200)
    text = text.substr(0, 200) + "...";
  remote::down(to, tag, server,
               exit_reason::user(fmt::format("bad_reply: {} is not a {}", text,
                                             expected.empty() ? "term" : expected)));
}

inline pid node::local_of(const process_id& id) {
  if (const auto* e = std::get_if<external_pid>(&id))
    return from_external(*e);
  return otpp::whereis(std::string(std::get<atom>(id).name()));
}

inline void node::incoming(atom peer, std::uint32_t creation, control_msg m) {
  codec_scope scope(*this);
  std::visit(
      [&](auto& v) {
        using T = std::decay_t<decltype(v)>;
        if constexpr (std::is_same_v<T, send_msg>) {
          deliver_term(peer, from_external(v.to), v.message);
        } else if constexpr (std::is_same_v<T, reg_send_msg>) {
          deliver_term(peer, otpp::whereis(std::string(v.to.name())), v.message);
        } else if constexpr (std::is_same_v<T, alias_send_msg>) {
          // Aliases are not ours to give: nothing to deliver to.
        } else if constexpr (std::is_same_v<T, link_msg>) {
          const pid local = from_external(v.to);
          const pid rem = from_external(v.from);
          if (local && remote::link(local, rem))
            track_link(peer, local, rem, true);
          else
            enqueue(peer, exit_msg{v.to, v.from, term(atom("noproc")), true});
        } else if constexpr (std::is_same_v<T, unlink_id_msg>) {
          if (v.ack)
            return;
          const pid local = from_external(v.to);
          const pid rem = from_external(v.from);
          if (local) {
            remote::unlink(local, rem);
            track_link(peer, local, rem, false);
          }
          enqueue(peer, unlink_id_msg{v.id, v.to, v.from, true});
        } else if constexpr (std::is_same_v<T, exit_msg>) {
          const pid local = from_external(v.to);
          if (!local)
            return;
          const pid rem = from_external(v.from);
          if (v.by_link) {
            track_link(peer, local, rem, false);
            remote::link_exit(local, rem, reason_from_term(v.reason));
          } else {
            remote::exit(local, rem, reason_from_term(v.reason));
          }
        } else if constexpr (std::is_same_v<T, monitor_msg>) {
          const pid rem = from_external(v.from);
          const pid local = local_of(v.to);
          if (v.demonitor) {
            std::optional<inbound_monitor> found;
            std::uint64_t ours = 0;
            {
              std::lock_guard lock(mutex_);
              for (auto it = inbound_monitors_.begin(); it != inbound_monitors_.end(); ++it)
                if (it->second.ref == v.ref) {
                  ours = it->first;
                  found = it->second;
                  inbound_monitors_.erase(it);
                  break;
                }
            }
            if (found)
              remote::demonitor(found->local, found->remote, ref(ours));
            return;
          }
          const std::uint64_t ours = make_ref().value();
          if (local) {
            std::lock_guard lock(mutex_);
            inbound_monitors_[ours] = inbound_monitor{v.ref, local, rem};
          }
          if (!local || !remote::monitor(local, rem, ref(ours))) {
            {
              std::lock_guard lock(mutex_);
              inbound_monitors_.erase(ours);
            }
            enqueue(peer, monitor_exit_msg{v.to, v.from, v.ref, term(atom("noproc"))});
          }
        } else if constexpr (std::is_same_v<T, spawn_request_msg>) {
          spawn_for(peer, v);
        } else if constexpr (std::is_same_v<T, spawn_reply_msg>) {
          // otpp sends no spawn requests: nothing waits for a reply.
        } else if constexpr (std::is_same_v<T, monitor_exit_msg>) {
          const pid local = from_external(v.to);
          const auto r = ref_of_ours(v.ref);
          if (!local || !r)
            return;
          pid rem;
          if (const auto* e = std::get_if<external_pid>(&v.from))
            rem = from_external(*e);
          else {
            std::lock_guard lock(mutex_);
            for (const auto& mr : monitors_[peer])
              if (mr.ref == r->value())
                rem = mr.remote;
          }
          track_monitor(peer, local, rem, r->value(), false);
          {
            std::lock_guard lock(mutex_);
            calls_out_.erase(r->value()); // a call whose server ended
          }
          if (rem)
            remote::down(local, *r, rem, reason_from_term(v.reason));
        }
      },
      m);
  static_cast<void>(creation);
}

inline void node::spawn_for(atom peer, const spawn_request_msg& v) {
  const pid from = from_external(v.from);
  rpc_request rq = rpc_request::from(v);
  auto fn = rpcs_.find(rq.module, rq.function);
  const bool want_link = rq.link, want_monitor = rq.monitor, reply = rq.wants_reply();
  const pid local = rt_->spawn([fn = std::move(fn), rq = std::move(rq)] {
    this_process::receive([](spawn_go) {});
    run_rpc(fn, rq);
  });
  std::int64_t flags = 0;
  if (want_monitor && from) {
    const std::uint64_t ours = make_ref().value();
    {
      std::lock_guard lock(mutex_);
      inbound_monitors_[ours] = inbound_monitor{v.id, local, from};
    }
    remote::monitor(local, from, ref(ours));
    flags |= 2;
  }
  if (want_link && from) {
    remote::link(local, from);
    track_link(peer, local, from, true);
    flags |= 1;
  }
  otpp::send(local, spawn_go{});
  if (reply)
    enqueue(peer, spawn_reply_msg{v.id, v.from, flags, term(to_external(local))});
}

} // namespace otpp::dist
