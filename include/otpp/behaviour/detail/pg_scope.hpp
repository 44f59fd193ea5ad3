// The process-group scope process: the membership table every process
// reads without asking it (a shared table under a reader-writer lock,
// written only by the scope), joins and leaves, members removed when they
// end, and the monitors told of each change.
// Distributed under the Boost Software License, Version 1.0.
#pragma once

#include <otpp/behaviour/call.hpp>
#include <otpp/behaviour/call_ref.hpp>
#include <otpp/behaviour/detail/pg_table.hpp>
#include <otpp/behaviour/pg_cluster.hpp>
#include <otpp/behaviour/start.hpp>
#include <otpp/behaviour/sys.hpp>
#include <otpp/core/any_message.hpp>
#include <otpp/core/exit_reason.hpp>
#include <otpp/core/message.hpp>
#include <otpp/core/monitor.hpp>
#include <otpp/core/pid.hpp>
#include <otpp/core/process.hpp>
#include <otpp/core/receive.hpp>
#include <otpp/core/request.hpp>
#include <otpp/core/runtime.hpp>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <cstdint>
#include <iterator>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

namespace otpp::pg {

/// What a scope or group monitor receives on each change: the pids that
/// joined or left `group` (a pid once per join it made or lost).
/// @par OTP
/// `{Ref, join, Group, Pids}` and `{Ref, leave, Group, Pids}` (OTP 25.1).
struct notification {
  enum class kind : std::uint8_t { join, leave };
  ref monitor;
  kind what;
  std::string group;
  std::vector<pid> pids;
};

} // namespace otpp::pg

namespace otpp::detail {

// Requests to a scope.
struct pg_join { // -> monostate
  std::string group;
  std::vector<pid> pids;
};
struct pg_leave { // -> bool (false: none of them had joined)
  std::string group;
  std::vector<pid> pids;
};
struct pg_watch {                   // -> pg_watching
  std::optional<std::string> group; // none: the whole scope
};
struct pg_watching {
  ref monitor;
  std::map<std::string, std::vector<pid>> groups; // the current members
};
struct pg_unwatch { // -> bool
  ref monitor;
};

class pg_scope_loop {
public:
  pg_scope_loop(std::string name, pid parent)
      : name_(std::move(name)), parent_(std::move(parent)), sys_("pg", name_) {}

  [[noreturn]] void run(init_context& ctx) {
    this_process::trap_exit(true); // the parent's exit stops the scope
    register_for_start(ctx, name_);
    self_ = this_process::self();
    const runtime* rt = &this_process::get_runtime();
    // Published before the cluster is asked, so that a node coming up
    // meanwhile finds this scope (a peer discovered twice is harmless).
    pg_tables::get().put(self_, table_, name_, rt);
    struct unpublish {
      pid self;
      ~unpublish() { pg_tables::get().drop(self); }
    } guard{self_};
    ctx.ack();
    if (auto cluster = pg_tables::get().cluster(rt))
      for (const pid& there : cluster->scope_on_peers(name_))
        send(there, pg::protocol::discover{self_});
    for (;;) {
      any_message m = this_process::receive([](any_message& a) { return std::move(a); });
      dispatch(m);
    }
  }

private:
  struct member {
    pid who;
    ref mon;
    std::unordered_map<std::string, int> joins; // group -> joins
  };
  struct watch {
    pid who;
    std::optional<std::string> group;
  };
  // The scope of the same name on another node, and its members as it
  // last told them.
  struct peer {
    pid scope;
    ref mon;
    std::map<std::string, std::vector<pid>> groups;
  };

  void dispatch(any_message& m) {
    if (is_system_message(m)) {
      auto snapshot = groups_now(false);
      exit_reason reason;
      if (sys_.handle(m, &snapshot, parent_, reason) == sys_handler::outcome::stop)
        this_process::exit(std::move(reason));
      return;
    }
    sys_.count();
    if (auto* j = m.get_if<request<pg_join>>()) {
      join(j->value.group, j->value.pids);
      send_reply(j->from, std::monostate{});
    } else if (auto* l = m.get_if<request<pg_leave>>()) {
      send_reply(l->from, leave(l->value.group, l->value.pids));
    } else if (auto* d = m.get_if<down>()) {
      ended(*d);
    } else if (auto* w = m.get_if<request<pg_watch>>()) {
      send_reply(w->from, start_watch(w->from.pid, std::move(w->value.group)));
    } else if (auto* u = m.get_if<request<pg_unwatch>>()) {
      send_reply(u->from, stop_watch(u->value.monitor));
    } else if (auto* e = m.get_if<exit_message>()) {
      if (parent_ && e->from == parent_)
        this_process::exit(e->reason);
    } else if (auto* up = m.get_if<pg::protocol::node_up>()) {
      send(up->scope, pg::protocol::discover{self_});
    } else if (auto* disc = m.get_if<pg::protocol::discover>()) {
      discovered(disc->peer);
    } else if (auto* sy = m.get_if<cast_message<pg::protocol::sync>>()) {
      synced(sy->value);
    } else if (auto* pj = m.get_if<pg::protocol::join>()) {
      peer_joined(*pj);
    } else if (auto* pl = m.get_if<pg::protocol::leave>()) {
      peer_left(*pl);
    } else {
      fail_unhandled_call(m); // anything else: dropped
    }
  }

  void join(const std::string& group, const std::vector<pid>& pids) {
    for (const pid& p : pids) {
      auto [it, fresh] = members_.try_emplace(p.id());
      if (fresh) {
        it->second.who = p;
        it->second.mon = otpp::monitor(p); // a dead one: its down removes it
        by_monitor_[it->second.mon.value()] = p.id();
      }
      ++it->second.joins[group];
    }
    {
      std::unique_lock g(table_->lock);
      auto& g2 = table_->groups[group];
      g2.local.insert(g2.local.end(), pids.begin(), pids.end());
      g2.publish();
    }
    publish(notification_kind::join, group, pids);
    broadcast(pg::protocol::join{self_, group, pids});
  }

  bool leave(const std::string& group, const std::vector<pid>& pids) {
    std::vector<pid> left;
    for (const pid& p : pids) {
      auto it = members_.find(p.id());
      if (it == members_.end())
        continue;
      auto g = it->second.joins.find(group);
      if (g == it->second.joins.end())
        continue;
      left.push_back(p);
      if (--g->second == 0)
        it->second.joins.erase(g);
      if (it->second.joins.empty()) {
        by_monitor_.erase(it->second.mon.value());
        otpp::demonitor(it->second.mon, {.flush = true});
        members_.erase(it);
      }
    }
    if (left.empty())
      return false;
    remove_from_table(group, left, &pg_group::local);
    publish(notification_kind::leave, group, left);
    broadcast(pg::protocol::leave{self_, left, {group}});
    return true;
  }

  // Remove one occurrence of each of `pids` (the latest join first) from
  // the local or remote members of `group`.
  void remove_from_table(const std::string& group, const std::vector<pid>& pids,
                         std::vector<pid> pg_group::*which) {
    std::unique_lock g(table_->lock);
    auto it = table_->groups.find(group);
    if (it == table_->groups.end())
      return;
    auto& list = it->second.*which;
    for (const pid& p : pids) {
      auto at = std::find(list.rbegin(), list.rend(), p);
      if (at != list.rend())
        list.erase(std::next(at).base());
    }
    if (it->second.local.empty() && it->second.remote.empty())
      table_->groups.erase(it);
    else
      it->second.publish();
  }

  void ended(const down& d) {
    auto w = watcher_mons_.find(d.monitor.value());
    if (w != watcher_mons_.end()) { // a monitoring process ended: its monitors go
      const std::uint64_t who = w->second;
      watcher_mons_.erase(w);
      std::erase_if(watches_, [&](const auto& kv) { return kv.second.who.id() == who; });
      return;
    }
    auto pe = std::find_if(peers_.begin(), peers_.end(),
                           [&](const peer& p) { return p.mon == d.monitor; });
    if (pe != peers_.end()) { // a peer scope ended, or its node was lost
      peer gone = std::move(*pe);
      peers_.erase(pe);
      for (auto& [group, pids] : gone.groups)
        drop_remote(group, pids);
      return;
    }
    auto b = by_monitor_.find(d.monitor.value());
    if (b == by_monitor_.end())
      return;
    auto it = members_.find(b->second);
    by_monitor_.erase(b);
    if (it == members_.end())
      return;
    member gone = std::move(it->second);
    members_.erase(it);
    std::vector<std::string> groups; // once per join, as OTP tells its peers
    for (auto& [group, n] : gone.joins) {
      std::vector<pid> left(static_cast<std::size_t>(n), gone.who);
      remove_from_table(group, left, &pg_group::local);
      publish(notification_kind::leave, group, left);
      groups.insert(groups.end(), static_cast<std::size_t>(n), group);
    }
    broadcast(pg::protocol::leave{self_, {gone.who}, std::move(groups)});
  }

  // --- Peer scopes (other nodes) --------------------------------------------
  peer* find_peer(const pid& scope) {
    auto it =
        std::find_if(peers_.begin(), peers_.end(), [&](const peer& p) { return p.scope == scope; });
    return it == peers_.end() ? nullptr : &*it;
  }
  peer& add_peer(const pid& scope) {
    peers_.push_back(peer{scope, otpp::monitor(scope), {}});
    return peers_.back();
  }

  // A peer looks for us: tell it our members; if it is new, watch it and
  // ask for its members in turn.
  void discovered(const pid& scope) {
    if (!scope || scope.is_local())
      return;
    send(scope, cast_message<pg::protocol::sync>{pg::protocol::sync{self_, local_groups()}});
    if (find_peer(scope) == nullptr) {
      add_peer(scope);
      send(scope, pg::protocol::discover{self_});
    }
  }

  // A peer's members, replacing what it told before.
  void synced(pg::protocol::sync& s) {
    if (!s.peer || s.peer.is_local())
      return;
    peer* p = find_peer(s.peer);
    if (p == nullptr)
      p = &add_peer(s.peer);
    std::map<std::string, std::vector<pid>> now;
    for (auto& [group, pids] : s.groups) {
      auto& v = now[group];
      v.insert(v.end(), pids.begin(), pids.end());
    }
    // Only what changed is dropped or added (a sync repeats what joins
    // told, in another order).
    static const std::vector<pid> none;
    auto sorted = [](const std::vector<pid>& v) {
      std::vector<pid> out = v;
      std::sort(out.begin(), out.end());
      return out;
    };
    auto minus = [](const std::vector<pid>& a, const std::vector<pid>& b) {
      std::vector<pid> out;
      std::set_difference(a.begin(), a.end(), b.begin(), b.end(), std::back_inserter(out));
      return out;
    };
    for (auto& [group, pids] : p->groups) {
      auto it = now.find(group);
      drop_remote(group, minus(sorted(pids), sorted(it == now.end() ? none : it->second)));
    }
    for (auto& [group, pids] : now) {
      auto it = p->groups.find(group);
      add_remote(group, minus(sorted(pids), sorted(it == p->groups.end() ? none : it->second)));
    }
    p->groups = std::move(now);
  }

  void peer_joined(const pg::protocol::join& j) {
    peer* p = find_peer(j.peer); // unknown: a node outside the overlay, or a late message
    if (p == nullptr || j.pids.empty())
      return;
    auto& v = p->groups[j.group];
    v.insert(v.end(), j.pids.begin(), j.pids.end());
    add_remote(j.group, j.pids);
  }

  void peer_left(const pg::protocol::leave& l) {
    peer* p = find_peer(l.peer);
    if (p == nullptr)
      return;
    for (const std::string& group : l.groups) {
      auto it = p->groups.find(group);
      if (it == p->groups.end())
        continue;
      std::vector<pid> left;
      for (const pid& x : l.pids) {
        auto at = std::find(it->second.begin(), it->second.end(), x);
        if (at != it->second.end()) {
          it->second.erase(at);
          left.push_back(x);
        }
      }
      if (it->second.empty())
        p->groups.erase(it);
      if (!left.empty())
        drop_remote(group, left);
    }
  }

  void add_remote(const std::string& group, const std::vector<pid>& pids) {
    if (pids.empty())
      return;
    {
      std::unique_lock g(table_->lock);
      auto& g2 = table_->groups[group];
      g2.remote.insert(g2.remote.end(), pids.begin(), pids.end());
      g2.publish();
    }
    publish(notification_kind::join, group, pids);
  }
  void drop_remote(const std::string& group, const std::vector<pid>& pids) {
    if (pids.empty())
      return;
    remove_from_table(group, pids, &pg_group::remote);
    publish(notification_kind::leave, group, pids);
  }

  template <class M> void broadcast(const M& m) {
    for (const peer& p : peers_)
      send(p.scope, m);
  }

  pg::protocol::group_list local_groups() const {
    pg::protocol::group_list out;
    std::shared_lock g(table_->lock);
    for (const auto& [name, members] : table_->groups)
      if (!members.local.empty())
        out.emplace_back(name, members.local);
    return out;
  }

  // --- Monitors of the scope or a group -------------------------------------
  pg_watching start_watch(const pid& who, std::optional<std::string> group) {
    ref r = make_ref();
    pg_watching out{r, {}};
    {
      std::shared_lock g(table_->lock);
      for (const auto& [name, members] : table_->groups)
        if (!group || *group == name)
          out.groups.emplace(name, *members.all_view);
    }
    watches_[r.value()] = watch{who, std::move(group)};
    const bool watched = std::any_of(watcher_mons_.begin(), watcher_mons_.end(),
                                     [&](const auto& kv) { return kv.second == who.id(); });
    if (!watched)
      watcher_mons_[otpp::monitor(who).value()] = who.id();
    return out;
  }

  bool stop_watch(ref r) {
    auto it = watches_.find(r.value());
    if (it == watches_.end())
      return false;
    const std::uint64_t who = it->second.who.id();
    watches_.erase(it);
    const bool more = std::any_of(watches_.begin(), watches_.end(),
                                  [&](const auto& kv) { return kv.second.who.id() == who; });
    if (!more)
      for (auto w = watcher_mons_.begin(); w != watcher_mons_.end(); ++w)
        if (w->second == who) {
          otpp::demonitor(ref(w->first), {.flush = true});
          watcher_mons_.erase(w);
          break;
        }
    return true;
  }

  using notification_kind = pg::notification::kind;
  void publish(notification_kind k, const std::string& group, const std::vector<pid>& pids) {
    for (const auto& [r, w] : watches_)
      if (!w.group || *w.group == group)
        send(w.who, pg::notification{ref(r), k, group, pids});
  }

  // Every group's members (`all`: other nodes' too).
  std::map<std::string, std::vector<pid>> groups_now(bool all) const {
    std::map<std::string, std::vector<pid>> out;
    std::shared_lock g(table_->lock);
    for (const auto& [name, members] : table_->groups)
      if (!members.local.empty() || all)
        out.emplace(name, all ? *members.all_view : members.local);
    return out;
  }

  std::string name_;
  pid parent_;
  pid self_;
  sys_handler sys_;
  std::shared_ptr<pg_table> table_ = std::make_shared<pg_table>();
  std::unordered_map<std::uint64_t, member> members_;             // pid id -> member
  std::unordered_map<std::uint64_t, std::uint64_t> by_monitor_;   // member monitor -> pid id
  std::unordered_map<std::uint64_t, watch> watches_;              // monitor ref -> watch
  std::unordered_map<std::uint64_t, std::uint64_t> watcher_mons_; // watcher monitor -> pid id
  std::vector<peer> peers_;                                       // one per node, few
};

} // namespace otpp::detail
