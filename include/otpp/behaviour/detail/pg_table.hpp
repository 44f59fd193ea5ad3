// The membership table of a process-group scope (read by every process
// without asking the scope), and the registry of running scopes and of
// each runtime's cluster (see behaviour/pg_cluster.hpp).
// Distributed under the Boost Software License, Version 1.0.
#pragma once

#include <otpp/core/pid.hpp>
#include <otpp/core/runtime.hpp>

#include <cstdint>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

namespace otpp::pg {
class cluster;
} // namespace otpp::pg

namespace otpp::detail {

// One group of a scope. `local`: this node's members, once per join, in
// join order; `remote`: other nodes' (as their scopes told, see
// behaviour/pg_cluster.hpp). Only the scope process touches those two; readers take
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

// Scope pid -> its table, for lookups by name; the scopes of each
// runtime; the cluster of each runtime.
class pg_tables {
public:
  static pg_tables& get() {
    static pg_tables t;
    return t;
  }
  void put(const pid& scope, std::shared_ptr<pg_table> t, std::string name, const runtime* rt) {
    std::lock_guard g(m_);
    tables_[scope.id()] = entry{std::move(t), scope, std::move(name), rt};
  }
  void drop(const pid& scope) {
    std::lock_guard g(m_);
    tables_.erase(scope.id());
  }
  std::shared_ptr<pg_table> find(const pid& scope) const {
    std::lock_guard g(m_);
    auto it = tables_.find(scope.id());
    return it == tables_.end() || it->second.scope != scope ? nullptr : it->second.table;
  }
  /// The scopes running on `rt`: (pid, name).
  std::vector<std::pair<pid, std::string>> scopes_on(const runtime* rt) const {
    std::lock_guard g(m_);
    std::vector<std::pair<pid, std::string>> out;
    for (const auto& [id, e] : tables_)
      if (e.rt == rt)
        out.emplace_back(e.scope, e.name);
    return out;
  }
  void set_cluster(const runtime* rt, std::weak_ptr<pg::cluster> c) {
    std::lock_guard g(m_);
    clusters_[rt] = std::move(c);
  }
  void drop_cluster(const runtime* rt, const pg::cluster* c) {
    std::lock_guard g(m_);
    auto it = clusters_.find(rt);
    if (it != clusters_.end() && (it->second.expired() || it->second.lock().get() == c))
      clusters_.erase(it);
  }
  std::shared_ptr<pg::cluster> cluster(const runtime* rt) const {
    std::lock_guard g(m_);
    auto it = clusters_.find(rt);
    return it == clusters_.end() ? nullptr : it->second.lock();
  }

private:
  struct entry {
    std::shared_ptr<pg_table> table;
    pid scope;
    std::string name;
    const runtime* rt = nullptr;
  };
  mutable std::mutex m_;
  std::unordered_map<std::uint64_t, entry> tables_;
  std::unordered_map<const runtime*, std::weak_ptr<pg::cluster>> clusters_;
};

} // namespace otpp::detail
