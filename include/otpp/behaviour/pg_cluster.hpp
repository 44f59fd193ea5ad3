// Process groups across nodes, the behaviour side: the messages the
// scopes of one name on different nodes exchange (OTP pg's protocol), and
// the interface through which a distribution layer (otpp::dist::node)
// tells this runtime's scopes about the cluster. A running node wires it:
// programs need none of it unless they write a distribution layer.
// Distributed under the Boost Software License, Version 1.0.
#pragma once

#include <otpp/behaviour/detail/pg_table.hpp>
#include <otpp/core/pid.hpp>
#include <otpp/core/runtime.hpp>

#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace otpp::pg {

/// The protocol between the scopes of one name on different nodes (OTP's
/// pg; `otpp::dist` maps each to its Erlang term). A scope that learns of
/// a peer scope monitors it, tells it its local members (`sync`) and then
/// each local join and leave; the peer's members are dropped when it ends
/// or its node is lost.
namespace protocol {
/// `{discover, Peer}`: the scope `peer` looks for this one.
struct discover {
  pid peer;
};
/// Groups and their members.
using group_list = std::vector<std::pair<std::string, std::vector<pid>>>;
/// A cast `{sync, Peer, [{Group, Pids}]}`: every local member of `peer`.
struct sync {
  pid peer;
  group_list groups;
};
/// `{join, Peer, Group, Pids}`.
struct join {
  pid peer;
  std::string group;
  std::vector<pid> pids;
};
/// `{leave, Peer, Pids, Groups}`: each pid leaves each group once.
struct leave {
  pid peer;
  std::vector<pid> pids;
  std::vector<std::string> groups;
};
/// From the distribution layer: a node came up, and `scope` stands for
/// this scope's name there (`{Scope, Node}`).
struct node_up {
  pid scope;
};
} // namespace protocol

/// What a scope needs of the cluster its runtime belongs to.
class cluster {
public:
  virtual ~cluster() = default;
  /// `{scope, Node}` on every node connected now.
  virtual std::vector<pid> scope_on_peers(const std::string& scope) = 0;

protected:
  cluster() = default;
  cluster(const cluster&) = default;
  cluster& operator=(const cluster&) = default;
};

/// Make `c` the cluster of `rt`: scopes starting on `rt` discover their
/// namesakes on its nodes (one cluster per runtime; the last one wins).
inline void attach_cluster(const runtime& rt, std::weak_ptr<cluster> c) {
  otpp::detail::pg_tables::get().set_cluster(&rt, std::move(c));
}
/// Undo `attach_cluster` if `c` is still `rt`'s cluster.
inline void detach_cluster(const runtime& rt, const cluster* c) {
  otpp::detail::pg_tables::get().drop_cluster(&rt, c);
}
/// The scopes running on `rt`: (pid, name). A node sends each a
/// `protocol::node_up` when a node comes up.
inline std::vector<std::pair<pid, std::string>> scopes_on(const runtime& rt) {
  return otpp::detail::pg_tables::get().scopes_on(&rt);
}
/// Whether `p` is a running scope (what arrives for it may be the protocol).
inline bool is_scope(const pid& p) {
  return otpp::detail::pg_tables::get().find(p) != nullptr;
}

} // namespace otpp::pg
