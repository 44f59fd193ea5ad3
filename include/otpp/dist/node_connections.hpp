// otpp::dist::node, connections: a writer process per peer (handshake,
// outgoing packets in batches, ticks) and its reader, and what happens when
// a connection is lost (noconnection, nodedown).
// Distributed under the Boost Software License, Version 1.0.
#pragma once

// Members of otpp::dist::node defined out of its class: node.hpp includes
// this header after the class (and this one includes node.hpp, so either
// may come first).
#include <otpp/dist/node.hpp>

namespace otpp::dist {

inline void node::enqueue(atom peer, control_msg m) {
  pid writer;
  {
    std::lock_guard lock(mutex_);
    auto it = conns_.find(peer);
    if (it != conns_.end())
      writer = it->second.writer;
  }
  if (!writer)
    writer = spawn_connection(peer, std::nullopt);
  otpp::send(writer, outgoing_msg{std::move(m)});
}

inline pid node::spawn_connection(std::optional<atom> peer,
                                  std::optional<boost::asio::ip::tcp::socket> accepted) {
  std::weak_ptr<node> weak = weak_from_this();
  auto sock = std::make_shared<std::optional<boost::asio::ip::tcp::socket>>(std::move(accepted));
  auto body = [weak, peer, sock] {
    if (auto n = weak.lock())
      n->run_connection(peer, std::move(*sock), std::move(n));
  };
  std::lock_guard lock(mutex_);
  if (peer) {
    auto it = conns_.find(*peer);
    if (it != conns_.end())
      return it->second.writer; // another sender started it meanwhile
  }
  const pid w = rt_->spawn(std::move(body), spawn_options{.trap_exit = true});
  if (peer)
    conns_[*peer] = connection{w, false};
  return w;
}

inline void node::run_connection(std::optional<atom> peer,
                                 std::optional<boost::asio::ip::tcp::socket> accepted,
                                 std::shared_ptr<node> keep) {
  const pid me = this_process::self();
  std::optional<channel> ch;
  try {
    if (accepted)
      ch.emplace(channel::accept(std::move(*accepted), self_, opts_.cookie));
    else
      ch.emplace(channel::connect(peer->name(), self_, opts_.cookie, opts_.epmd_port));
  } catch (const std::exception& e) {
    // As Erlang: what was sent is dropped, and the links and monitors
    // made meanwhile end with noconnection.
    if (peer)
      connection_lost(*peer, me, false);
    send_report(report_kind::error, me,
                fmt::format("otpp::dist::node {}: connection {} {} failed: {}", opts_.name,
                            accepted ? "from" : "to",
                            peer ? std::string(peer->name()) : std::string("a peer"), e.what()));
    return;
  }
  const atom name = ch->peer().name;
  {
    std::lock_guard lock(mutex_);
    auto& c = conns_[name];
    if (c.writer && c.writer != me && accepted) {
      // Both sides connected at once: keep the one already there.
      ch->close();
      return;
    }
    c = connection{me, true};
  }
  notify_nodes(name, true);
  auto shared = std::make_shared<channel>(std::move(*ch));
  auto last_heard = std::make_shared<std::atomic<std::int64_t>>(now_ms());
  const unsigned sched = otpp::info(me).scheduler.value_or(0);
  const pid reader = otpp::spawn_link(
      [this, keep, shared, name, last_heard, creation = shared->peer().creation] {
        std::uint64_t packets = 0;
        for (;;) {
          std::optional<control_msg> m;
          try {
            m = shared->receive_or_tick();
          } catch (const boost::system::system_error& e) {
            // The peer closed the connection or the network failed: an
            // end, not a crash of ours.
            this_process::exit(exit_reason::user(
                fmt::format("connection to {} closed: {}", name.name(), e.code().message())));
          }
          last_heard->store(now_ms());
          if (m)
            incoming(name, creation, std::move(*m));
          // A burst already read is parsed without waiting: let the
          // other processes of this scheduler run now and then.
          if (++packets % 256 == 0)
            this_process::yield();
        }
      },
      spawn_options{.scheduler = sched});
  // A tick out every net_ticktime / 4; a peer silent for net_ticktime is
  // dropped (Erlang's net_ticktime), however busy the sending side is.
  const auto ticktime = std::chrono::milliseconds(opts_.net_ticktime);
  const auto tick = ticktime / 4;
  auto next_tick = std::chrono::steady_clock::now() + tick;
  try {
    for (;;) {
      const auto left = next_tick - std::chrono::steady_clock::now();
      this_process::receive([&](outgoing_msg& o) { write_batch(*shared, o); },
                            [&](exit_message& x) {
                              // The reader ended (the peer closed, bad
                              // input), or stop / disconnect.
                              if (x.from == reader || !x.reason.is_normal())
                                this_process::exit(x.reason);
                            },
                            after(std::max(left, decltype(left)::zero()), [] {}));
      if (std::chrono::steady_clock::now() >= next_tick) {
        if (now_ms() - last_heard->load() > ticktime.count())
          this_process::exit(exit_reason::user("net_tick_timeout"));
        shared->send_tick();
        next_tick = std::chrono::steady_clock::now() + tick;
      }
    }
  } catch (...) {
    shared->close();
    otpp::kill(reader);
    connection_lost(name, me, true);
    throw;
  }
}

inline void node::write_batch(channel& ch, outgoing_msg& first) {
  std::string out = ch.frame(first.m);
  while (out.size() < 65536) {
    auto more = this_process::receive_for<outgoing_msg>(std::chrono::milliseconds(0));
    if (!more)
      break;
    out += ch.frame(more->m);
  }
  ch.write(out);
  // A write that completes at once does not suspend: while senders keep
  // the mailbox full, let the other processes of this scheduler run.
  this_process::yield();
}

inline std::int64_t node::now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

inline void node::connection_lost(atom peer, const pid& writer, bool was_up) {
  std::vector<link_rec> links;
  std::vector<monitor_rec> monitors;
  std::vector<std::pair<std::uint64_t, inbound_monitor>> inbound;
  std::vector<pid> watching; // monitor_node
  {
    std::lock_guard lock(mutex_);
    auto it = conns_.find(peer);
    if (it == conns_.end() || it->second.writer != writer)
      return;
    conns_.erase(it);
    links.swap(links_[peer]);
    monitors.swap(monitors_[peer]);
    watching.swap(node_monitors_[peer]);
    for (const auto& m : monitors)
      calls_out_.erase(m.ref);
    for (auto i = inbound_monitors_.begin(); i != inbound_monitors_.end();) {
      auto* ep = static_cast<peer_endpoint*>(remote::endpoint_of(i->second.remote));
      if (ep != nullptr && ep->name() == peer) {
        inbound.emplace_back(i->first, i->second);
        i = inbound_monitors_.erase(i);
      } else {
        ++i;
      }
    }
  }
  for (const auto& l : links)
    remote::link_exit(l.local, l.remote, exit_reason::noconnection());
  for (const auto& m : monitors)
    remote::down(m.local, ref(m.ref), m.remote, exit_reason::noconnection());
  for (const auto& [ours, m] : inbound)
    remote::demonitor(m.local, m.remote, ref(ours));
  for (const pid& w : watching)
    otpp::send(w, nodedown{std::string(peer.name())});
  if (was_up)
    notify_nodes(peer, false);
}

inline void node::notify_nodes(atom peer, bool up) {
  std::vector<pid> watchers;
  {
    std::lock_guard lock(mutex_);
    watchers = node_watchers_;
  }
  if (up) // each pg scope here looks for its namesake there (OTP's pg on nodeup)
    for (const auto& [scope, name] : pg::scopes_on(*rt_))
      otpp::send(scope, pg::protocol::node_up{named(peer.name(), name)});
  for (const pid& w : watchers) {
    if (up)
      otpp::send(w, nodeup{std::string(peer.name())});
    else
      otpp::send(w, nodedown{std::string(peer.name())});
  }
}

} // namespace otpp::dist
