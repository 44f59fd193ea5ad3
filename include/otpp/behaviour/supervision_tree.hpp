// Supervision tree snapshots, exported as JSON, Graphviz DOT or text.
// Distributed under the Boost Software License, Version 1.0.
#pragma once

#include <otpp/behaviour/call.hpp>
#include <otpp/behaviour/call_result.hpp>
#include <otpp/behaviour/detail/supervisor_state.hpp>
#include <otpp/behaviour/supervisor.hpp>
#include <otpp/behaviour/supervisor_spec.hpp>
#include <otpp/behaviour/sys.hpp>
#include <otpp/core/duration.hpp>
#include <otpp/core/json_escape.hpp>
#include <otpp/core/pid.hpp>
#include <otpp/core/process.hpp>

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace otpp {

// ---------------------------------------------------------------------------
// Tree export
// ---------------------------------------------------------------------------

/// One node of a supervision tree snapshot.
struct tree_node {
  std::string id;
  otpp::pid pid;
  child_type type = child_type::supervisor;
  restart_type restart = permanent;
  child_info::status state = child_info::status::running;
  std::uint64_t restarts = 0;
  /// For a state machine: its current state (`status().state_name`);
  /// empty for other children.
  std::string state_name;
  /// For supervisors: their strategy and children (in start order).
  std::optional<supervision_strategy> strategy;
  std::vector<tree_node> children;
  /// For supervisors: restart intensity and period.
  std::optional<int> intensity;
  std::optional<std::chrono::milliseconds> period;
  /// Significant for the parent's auto_shutdown.
  bool significant = false;
  /// From a spec only (spec_tree): how the parent stops it: "brutal_kill",
  /// "infinity" or a time such as "5000ms"; empty in a live snapshot.
  std::string shutdown;
  /// Drawn from a spec (spec_tree): nothing ran, so no pid, status,
  /// restarts or state.
  bool from_spec = false;
};

namespace detail {
// A live state machine's current state, asked through sys (only of
// processes labelled as state machines: others may not answer); "" if it
// is not one or does not answer within a second.
inline std::string statem_state_of(const pid& p) {
  if (!p || info(p).label.rfind("statem ", 0) != 0)
    return {};
  try {
    return status(p, std::chrono::seconds(1)).state_name;
  } catch (const call_error&) {
    return {};
  }
}
} // namespace detail

/// A snapshot of the live tree under supervisor `sup` (children in start
/// order). The root's id is `id`, else the spec's `name`, else "root".
/// `timeout` bounds each question to a supervisor (`call_error` past it).
template <process_target T>
tree_node supervision_tree(const T& sup, std::string id = {}, duration timeout = infinity) {
  tree_node root;
  auto summary = call<detail::supervisor_summary>(sup, detail::get_spec_req{}, timeout);
  root.id = !id.empty() ? std::move(id) : !summary.name.empty() ? summary.name : "root";
  root.pid = detail::target_of<T>::resolve(sup);
  root.strategy = summary.strategy;
  root.intensity = summary.intensity;
  root.period = std::chrono::duration_cast<std::chrono::milliseconds>(summary.period);
  auto kids = which_children(sup, timeout);
  std::reverse(kids.begin(), kids.end());
  for (auto& k : kids) {
    tree_node n;
    if (k.type == child_type::supervisor && k.pid) {
      try {
        n = supervision_tree(k.pid, k.id, timeout);
      } catch (const call_error&) { // it ended meanwhile
        n.id = k.id;
      }
    } else {
      n.id = k.id;
      n.state_name = detail::statem_state_of(k.pid);
    }
    n.pid = k.pid;
    n.type = k.type;
    n.restart = k.restart;
    n.state = k.state;
    n.restarts = k.restarts;
    n.significant = k.significant;
    root.children.push_back(std::move(n));
  }
  return root;
}

namespace detail {
inline std::string describe_shutdown(const shutdown_policy& s) {
  switch (s.which()) {
  case shutdown_policy::kind::brutal_kill:
    return "brutal_kill";
  case shutdown_policy::kind::infinite:
    return "infinity";
  case shutdown_policy::kind::timeout:
    break;
  }
  return fmt::format("{}ms",
                     std::chrono::duration_cast<std::chrono::milliseconds>(s.timeout()).count());
}
} // namespace detail

/// The tree a supervisor spec describes, drawn from the spec value alone:
/// nothing is started (no runtime is needed). Ids, child types, restart
/// types, shutdowns, significance, and for supervisors their strategy,
/// intensity, period and children; a child made by `supervisor(id, spec)`
/// is drawn with its own spec's children, a simple_one_for_one
/// supervisor with its template. The root's id is `id`, else the spec's
/// `name`, else "root". Export it with to_json / to_dot / to_text; two
/// exports are compared by `diff_trees` (otpp/behaviour/tree_diff.hpp) or
/// the `otpp-tree-diff` tool, e.g. a pull request's tree against main's.
inline tree_node spec_tree(const supervisor_spec& spec, std::string id = {}) {
  tree_node root;
  root.id = !id.empty() ? std::move(id) : !spec.name.empty() ? spec.name : "root";
  root.from_spec = true;
  root.type = child_type::supervisor;
  root.state = child_info::status::stopped;
  root.strategy = spec.strategy;
  root.intensity = spec.intensity;
  root.period = std::chrono::duration_cast<std::chrono::milliseconds>(spec.period);
  for (const child_spec& c : spec.children) {
    tree_node n;
    if (c.nested) {
      n = spec_tree(*c.nested, c.id);
    } else {
      n.id = c.id;
      n.from_spec = true;
      n.state = child_info::status::stopped;
    }
    n.type = c.type;
    n.restart = c.options.restart;
    n.significant = c.options.significant;
    n.shutdown = detail::describe_shutdown(c.shutdown());
    root.children.push_back(std::move(n));
  }
  return root;
}

namespace detail {
inline void to_json(std::string& out, const tree_node& n, int depth) {
  std::string pad(static_cast<std::size_t>(depth) * 2, ' ');
  out += pad + "{\"id\": \"";
  json_escape(out, n.id);
  if (n.from_spec)
    out += fmt::format("\", \"type\": \"{}\", \"restart\": \"{}\"", name_of(n.type),
                       name_of(n.restart));
  else
    out += fmt::format("\", \"pid\": {}, \"type\": \"{}\", \"restart\": \"{}\", \"status\": "
                       "\"{}\", \"restarts\": {}",
                       n.pid ? fmt::format("\"{}\"", n.pid) : std::string("null"), name_of(n.type),
                       name_of(n.restart), name_of(n.state), n.restarts);
  if (!n.shutdown.empty()) {
    out += ", \"shutdown\": \"";
    json_escape(out, n.shutdown);
    out += "\"";
  }
  if (n.significant)
    out += ", \"significant\": true";
  if (!n.state_name.empty()) {
    out += ", \"state\": \"";
    json_escape(out, n.state_name);
    out += "\"";
  }
  if (n.strategy)
    out += fmt::format(", \"strategy\": \"{}\"", name_of(*n.strategy));
  if (n.intensity)
    out += fmt::format(", \"intensity\": {}", *n.intensity);
  if (n.period)
    out += fmt::format(", \"period_ms\": {}", n.period->count());
  if (n.type == child_type::supervisor) {
    out += ", \"children\": [";
    if (!n.children.empty()) {
      out += "\n";
      for (std::size_t i = 0; i < n.children.size(); ++i) {
        to_json(out, n.children[i], depth + 1);
        out += i + 1 < n.children.size() ? ",\n" : "\n";
      }
      out += pad;
    }
    out += "]";
  }
  out += "}";
}
// An id inside a DOT quoted string: '"' and '\\' escaped (a bare '\\' could
// escape the closing quote).
inline std::string dot_escape(std::string_view s) {
  std::string out;
  for (char ch : s) {
    if (ch == '"' || ch == '\\')
      out += '\\';
    out += ch;
  }
  return out;
}
inline void to_dot(std::string& out, const tree_node& n, const std::string& path) {
  std::string label =
      n.from_spec
          ? dot_escape(n.id)
          : fmt::format("{}\\n{}{}", dot_escape(n.id),
                        n.pid ? fmt::format("{}", n.pid) : std::string("-"),
                        n.restarts ? fmt::format("\\nrestarts: {}", n.restarts) : std::string());
  if (n.strategy)
    label += fmt::format("\\n{}", name_of(*n.strategy));
  if (!n.state_name.empty())
    label += fmt::format("\\nstate: {}", dot_escape(n.state_name));
  out += fmt::format("  \"{}\" [label=\"{}\", shape={}, style={}];\n", path, label,
                     n.type == child_type::supervisor ? "box" : "ellipse",
                     n.from_spec || n.state == child_info::status::running ? "solid" : "dashed");
  // Siblings of one id (simple_one_for_one children) are told apart by their
  // rank among themselves, so node names stay unique and stable.
  std::unordered_map<std::string, std::size_t> total, seen;
  for (auto& c : n.children)
    ++total[c.id];
  for (auto& c : n.children) {
    std::string child_path = path + "/" + dot_escape(c.id);
    if (total[c.id] > 1)
      child_path += fmt::format("#{}", ++seen[c.id]);
    to_dot(out, c, child_path);
    out += fmt::format("  \"{}\" -> \"{}\";\n", path, child_path);
  }
}
} // namespace detail

/// The tree as JSON (one object per node: id, pid, type, restart, status,
/// restarts, shutdown (from a spec), significant (when true), strategy,
/// intensity, period_ms and children for supervisors; a tree from a spec
/// has no pid, status nor restarts).
inline std::string to_json(const tree_node& tree) {
  std::string out;
  detail::to_json(out, tree, 0);
  out += "\n";
  return out;
}

/// The tree as a Graphviz digraph (supervisors as boxes, workers as
/// ellipses, stopped or restarting children dashed). Node names are id
/// paths, so two snapshots of one tree diff line by line.
inline std::string to_dot(const tree_node& tree) {
  std::string out = "digraph supervision_tree {\n";
  detail::to_dot(out, tree, detail::dot_escape(tree.id));
  out += "}\n";
  return out;
}

namespace detail {
inline void to_text(std::string& out, const tree_node& n, const std::string& prefix, bool root,
                    bool last) {
  out += root ? std::string() : prefix + (last ? "`- " : "|- ");
  if (n.from_spec)
    out += fmt::format("{} {}", n.id, n.type);
  else
    out +=
        fmt::format("{} {} {}", n.id, n.pid ? fmt::format("{}", n.pid) : std::string("-"), n.type);
  if (n.strategy)
    out += fmt::format(" {}", *n.strategy);
  if (!root)
    out += fmt::format(" {}", n.restart);
  if (!n.from_spec && n.state != child_info::status::running)
    out += fmt::format(" {}", n.state);
  if (n.restarts != 0)
    out += fmt::format(" restarts={}", n.restarts);
  if (!n.state_name.empty())
    out += fmt::format(" state={}", n.state_name);
  out += "\n";
  std::string next = root ? std::string() : prefix + (last ? "   " : "|  ");
  for (std::size_t i = 0; i < n.children.size(); ++i)
    to_text(out, n.children[i], next, false, i + 1 == n.children.size());
}
} // namespace detail

/// The tree as indented text, one line per node: id, pid, type, strategy
/// (supervisors), restart type (children), status when not running and
/// restarts when any:
/// ```
/// app <0.5.0> supervisor one_for_one
/// |- cache <0.6.0> worker permanent
/// `- pool <0.7.0> supervisor simple_one_for_one permanent
///    `- conn <0.9.0> worker temporary restarts=1
/// ```
/// The same text comes from `fmt::format("{}", tree)`.
inline std::string to_text(const tree_node& tree) {
  std::string out;
  detail::to_text(out, tree, {}, true, true);
  return out;
}

} // namespace otpp

template <> struct fmt::formatter<otpp::tree_node> : fmt::formatter<std::string_view> {
  template <class Ctx> auto format(const otpp::tree_node& t, Ctx& ctx) const {
    return fmt::formatter<std::string_view>::format(otpp::to_text(t), ctx);
  }
};
