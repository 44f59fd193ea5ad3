// Process groups (OTP pg): scopes, join/leave, members read without a
// round trip to the scope, members removed when they end, and monitors of
// a scope or a group.
// Distributed under the Boost Software License, Version 1.0.
#pragma once

#include <otpp/behaviour/call.hpp>
#include <otpp/behaviour/detail/pg_scope.hpp>
#include <otpp/behaviour/handle.hpp>
#include <otpp/behaviour/start.hpp>
#include <otpp/behaviour/start_family.hpp>
#include <otpp/core/duration.hpp>
#include <otpp/core/pid.hpp>
#include <otpp/core/process.hpp>
#include <otpp/core/receive.hpp>
#include <otpp/core/registry.hpp>
#include <otpp/core/runtime.hpp>

#include <fmt/format.h>

#include <map>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace otpp::pg {

/// The scope the functions without a scope argument use (OTP's default
/// scope, also `pg`). Start it yourself, as a supervisor's child.
inline const std::string default_scope = "pg";

/// A scope definition: start it with any start function
/// (`start_link(pg::scope_def("chat"))`). The scope registers under its
/// name (so `start_options::name` must stay empty) and traps exits: its
/// parent's exit stops it.
/// @par OTP
/// `pg:start_link/1`.
class scope_definition {
public:
  explicit scope_definition(std::string name) : name_(std::move(name)) {}
  const std::string& scope_name() const noexcept { return name_; }
  /// @cond internal
  const std::string& loop_config() const noexcept { return name_; }
  /// @endcond
  template <class M> static constexpr bool handles_call = false;
  template <class M> static constexpr bool handles_cast = false;
  /// `get_state` of a scope: group -> its members here.
  using state_type = std::map<std::string, std::vector<pid>>;

private:
  std::string name_;
};

/// The definition of the scope `name` (default: the default scope).
inline scope_definition scope_def(std::string name = default_scope) {
  return scope_definition(std::move(name));
}

/// A scope that is not running where a read needed it.
class scope_not_running : public std::runtime_error {
public:
  explicit scope_not_running(const std::string& scope)
      : std::runtime_error(fmt::format("otpp::pg: no scope \"{}\" is running", scope)) {}
};

/// What `monitor_scope` returns: the monitor and every group's members now.
struct scope_monitor {
  ref monitor;
  std::map<std::string, std::vector<pid>> groups;
};
/// What `monitor` returns: the monitor and the group's members now.
struct group_monitor {
  ref monitor;
  std::vector<pid> members;
};

/// A running scope, found once by name: its reads go straight to the
/// membership table (any thread may read through it, as long as the
/// scope runs).
class scope {
public:
  /// The scope registered as `name` on the caller's runtime.
  /// @par Errors
  /// `scope_not_running`.
  static scope find(const std::string& name = default_scope) {
    return scope(name, otpp::whereis(name));
  }
  /// The same, on `rt`, from any thread.
  static scope find(runtime& rt, const std::string& name = default_scope) {
    return scope(name, rt.whereis(name));
  }

  const pid& process() const noexcept { return pid_; }
  const std::string& name() const noexcept { return name_; }

  /// Every member of `group`, once per join, local ones first in join order.
  /// @par OTP
  /// `pg:get_members/2`.
  std::vector<pid> get_members(const std::string& group) const { return *members(group); }
  /// The members of `group` on this node. @par OTP `pg:get_local_members/2`.
  std::vector<pid> get_local_members(const std::string& group) const {
    return *local_members(group);
  }
  /// `get_members` without the copy: the group as it is now, an immutable
  /// snapshot shared with other readers (never null).
  std::shared_ptr<const std::vector<pid>> members(const std::string& group) const {
    std::shared_lock g(table_->lock);
    auto it = table_->groups.find(group);
    return it == table_->groups.end() ? otpp::detail::no_members() : it->second.all_view;
  }
  /// `get_local_members` without the copy.
  std::shared_ptr<const std::vector<pid>> local_members(const std::string& group) const {
    std::shared_lock g(table_->lock);
    auto it = table_->groups.find(group);
    return it == table_->groups.end() ? otpp::detail::no_members() : it->second.local_view;
  }
  /// The groups with at least one member. @par OTP `pg:which_groups/1`.
  std::vector<std::string> which_groups() const {
    std::shared_lock g(table_->lock);
    std::vector<std::string> out;
    out.reserve(table_->groups.size());
    for (const auto& kv : table_->groups)
      out.push_back(kv.first);
    return out;
  }

private:
  scope(std::string name, pid p) : name_(std::move(name)), pid_(std::move(p)) {
    if (pid_)
      table_ = otpp::detail::pg_tables::get().find(pid_);
    if (!table_)
      throw scope_not_running(name_);
  }
  std::string name_;
  pid pid_;
  std::shared_ptr<const detail::pg_table> table_;
};

namespace detail {
template <class R, class M> R scope_call(const char* op, const std::string& scope_name, M msg) {
  otpp::detail::check_caller(op);
  pid to = otpp::whereis(scope_name);
  if (!to)
    throw call_error(exit_reason::noproc(), to, fmt::format("{} to", op),
                     fmt::format("scope \"{}\"", scope_name));
  auto r = otpp::detail::call_impl<R>(op, to, std::move(msg), infinity);
  if (!r.ok())
    throw call_error(r.error(), to, fmt::format("{} to", op),
                     fmt::format("scope \"{}\"", scope_name));
  if constexpr (!std::is_void_v<R>)
    return std::move(r).value();
}
} // namespace detail

/// `pids` join `group` of `scope_name`; a process may join a group several
/// times (and is listed once per join). Returns once every reader sees
/// them. Members are removed when they end. When this runtime runs an
/// `otpp::dist::node`, the scopes of the same name on the connected nodes
/// (Erlang's pg or otpp's) learn of the join, and their members appear in
/// `get_members` here.
/// @par Errors
/// `call_error` (`noproc`) if the scope is not running;
/// `std::invalid_argument` for a pid of another node (each node's scope
/// speaks for its own processes).
/// @par OTP
/// `pg:join/3` (any pid of this runtime; OTP: local pids only).
inline void join(const std::string& scope_name, const std::string& group, std::vector<pid> pids) {
  for (const pid& p : pids)
    if (p && !p.is_local())
      throw std::invalid_argument(
          fmt::format("otpp::pg::join: {} is a process of another node; only this node's "
                      "processes join its scope \"{}\"",
                      p, scope_name));
  detail::scope_call<void>("pg::join", scope_name, otpp::detail::pg_join{group, std::move(pids)});
}
inline void join(const std::string& scope_name, const std::string& group, const pid& p) {
  join(scope_name, group, std::vector<pid>{p});
}
/// Join `group` of the default scope. @par OTP `pg:join/2`.
inline void join(const std::string& group, const pid& p) {
  join(default_scope, group, p);
}
inline void join(const std::string& group, std::vector<pid> pids) {
  join(default_scope, group, std::move(pids));
}

/// Undo one join of `group` for each of `pids`; false if none of them had
/// joined (OTP's `not_joined`).
/// @par OTP
/// `pg:leave/3`.
inline bool leave(const std::string& scope_name, const std::string& group, std::vector<pid> pids) {
  return detail::scope_call<bool>("pg::leave", scope_name,
                                  otpp::detail::pg_leave{group, std::move(pids)});
}
inline bool leave(const std::string& scope_name, const std::string& group, const pid& p) {
  return leave(scope_name, group, std::vector<pid>{p});
}
/// Leave `group` of the default scope. @par OTP `pg:leave/2`.
inline bool leave(const std::string& group, const pid& p) {
  return leave(default_scope, group, p);
}

/// `scope::find(scope_name).get_members(group)`. @par OTP `pg:get_members/2`.
inline std::vector<pid> get_members(const std::string& scope_name, const std::string& group) {
  return scope::find(scope_name).get_members(group);
}
/// The members of `group` in the default scope. @par OTP `pg:get_members/1`.
inline std::vector<pid> get_members(const std::string& group) {
  return get_members(default_scope, group);
}
/// @par OTP `pg:get_local_members/2`.
inline std::vector<pid> get_local_members(const std::string& scope_name, const std::string& group) {
  return scope::find(scope_name).get_local_members(group);
}
inline std::vector<pid> get_local_members(const std::string& group) {
  return get_local_members(default_scope, group);
}
/// @par OTP `pg:which_groups/0,1`.
inline std::vector<std::string> which_groups(const std::string& scope_name = default_scope) {
  return scope::find(scope_name).which_groups();
}

/// Watch every group of the scope: returns the members now, then each
/// change arrives as a `notification` with the returned monitor, in the
/// order the scope made them.
/// @par OTP
/// `pg:monitor_scope/1` (OTP 25.1).
inline scope_monitor monitor_scope(const std::string& scope_name = default_scope) {
  auto w = detail::scope_call<otpp::detail::pg_watching>("pg::monitor_scope", scope_name,
                                                         otpp::detail::pg_watch{});
  return {w.monitor, std::move(w.groups)};
}
/// Watch one group: its members now, then its joins and leaves.
/// @par OTP
/// `pg:monitor/2` (OTP 25.1).
inline group_monitor monitor(const std::string& scope_name, const std::string& group) {
  auto w = detail::scope_call<otpp::detail::pg_watching>("pg::monitor", scope_name,
                                                         otpp::detail::pg_watch{group});
  auto it = w.groups.find(group);
  return {w.monitor, it == w.groups.end() ? std::vector<pid>{} : std::move(it->second)};
}
/// Stop a scope or group monitor; no notification of it is left in the
/// mailbox afterwards. False if it was not active.
/// @par OTP
/// `pg:demonitor/2`.
inline bool demonitor(const std::string& scope_name, ref monitor) {
  bool was =
      detail::scope_call<bool>("pg::demonitor", scope_name, otpp::detail::pg_unwatch{monitor});
  while (
      this_process::receive(when([monitor](const notification& n) { return n.monitor == monitor; },
                                 [](notification&) { return true; }),
                            after(duration(), [] { return false; }))) {
  }
  return was;
}

} // namespace otpp::pg

namespace otpp::detail {
template <> struct loop_of<pg::scope_definition> { using type = argless_loop<pg_scope_loop>; };
} // namespace otpp::detail
