// The process-group scope process: the membership table every process
// reads without asking it (a shared table under a reader-writer lock,
// written only by the scope), joins and leaves, members removed when they
// end, and the monitors told of each change.
// Distributed under the Boost Software License, Version 1.0.
#pragma once

#include <otpp/behaviour/call_ref.hpp>
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

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <cstdint>
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

// One group of a scope. `local`: this node's members, once per join, in
// join order; `remote`: other nodes' (filled by the distribution layer;
// empty until then). Only the scope process touches those two; readers take
// the immutable snapshots it rebuilds after each change (a reference count
// instead of a copy under the lock).
using pg_members = std::shared_ptr<const std::vector<pid>>;
struct pg_group {
  std::vector<pid> local;
  std::vector<pid> remote;
  pg_members local_view;
  pg_members all_view; // local, then remote
  void publish() {
    local_view = std::make_shared<const std::vector<pid>>(local);
    if (remote.empty()) {
      all_view = local_view;
    } else {
      auto all = std::make_shared<std::vector<pid>>(local);
      all->insert(all->end(), remote.begin(), remote.end());
      all_view = std::move(all);
    }
  }
};
inline const pg_members& no_members() {
  static const pg_members none = std::make_shared<const std::vector<pid>>();
  return none;
}
struct pg_table {
  mutable std::shared_mutex lock;
  std::unordered_map<std::string, pg_group> groups;
};

// Scope pid -> its table, for lookups by name.
class pg_tables {
public:
  static pg_tables& get() {
    static pg_tables t;
    return t;
  }
  void put(const pid& scope, std::shared_ptr<pg_table> t) {
    std::lock_guard g(m_);
    tables_[scope.id()] = std::move(t);
  }
  void drop(const pid& scope) {
    std::lock_guard g(m_);
    tables_.erase(scope.id());
  }
  std::shared_ptr<pg_table> find(const pid& scope) const {
    std::lock_guard g(m_);
    auto it = tables_.find(scope.id());
    return it == tables_.end() ? nullptr : it->second;
  }

private:
  mutable std::mutex m_;
  std::unordered_map<std::uint64_t, std::shared_ptr<pg_table>> tables_;
};

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
    const pid self = this_process::self();
    pg_tables::get().put(self, table_);
    struct unpublish {
      pid self;
      ~unpublish() { pg_tables::get().drop(self); }
    } guard{self};
    ctx.ack();
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

  void dispatch(any_message& m) {
    if (is_system_message(m)) {
      auto snapshot = groups_now();
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
    remove_from_table(group, left);
    publish(notification_kind::leave, group, left);
    return true;
  }

  // Remove one occurrence of each of `pids` (the latest join first).
  void remove_from_table(const std::string& group, const std::vector<pid>& pids) {
    std::unique_lock g(table_->lock);
    auto it = table_->groups.find(group);
    if (it == table_->groups.end())
      return;
    auto& local = it->second.local;
    for (const pid& p : pids) {
      auto at = std::find(local.rbegin(), local.rend(), p);
      if (at != local.rend())
        local.erase(std::next(at).base());
    }
    if (local.empty() && it->second.remote.empty())
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
    auto b = by_monitor_.find(d.monitor.value());
    if (b == by_monitor_.end())
      return;
    auto it = members_.find(b->second);
    by_monitor_.erase(b);
    if (it == members_.end())
      return;
    member gone = std::move(it->second);
    members_.erase(it);
    for (auto& [group, n] : gone.joins) {
      std::vector<pid> left(static_cast<std::size_t>(n), gone.who);
      remove_from_table(group, left);
      publish(notification_kind::leave, group, left);
    }
  }

  pg_watching start_watch(const pid& who, std::optional<std::string> group) {
    ref r = make_ref();
    pg_watching out{r, {}};
    {
      std::shared_lock g(table_->lock);
      for (const auto& [name, members] : table_->groups)
        if (!group || *group == name)
          out.groups.emplace(name, members.local);
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

  std::map<std::string, std::vector<pid>> groups_now() const {
    std::map<std::string, std::vector<pid>> out;
    std::shared_lock g(table_->lock);
    for (const auto& [name, members] : table_->groups)
      out.emplace(name, members.local);
    return out;
  }

  std::string name_;
  pid parent_;
  sys_handler sys_;
  std::shared_ptr<pg_table> table_ = std::make_shared<pg_table>();
  std::unordered_map<std::uint64_t, member> members_;             // pid id -> member
  std::unordered_map<std::uint64_t, std::uint64_t> by_monitor_;   // member monitor -> pid id
  std::unordered_map<std::uint64_t, watch> watches_;              // monitor ref -> watch
  std::unordered_map<std::uint64_t, std::uint64_t> watcher_mons_; // watcher monitor -> pid id
};

} // namespace otpp::detail
