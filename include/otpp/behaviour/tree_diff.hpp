// Differences between two supervision trees (spec or live exports), as
// text and as a coloured Graphviz digraph: what a CI job shows for a pull
// request's tree against main's.
// Distributed under the Boost Software License, Version 1.0.
#pragma once

#include <otpp/behaviour/supervision_tree.hpp>

#include <fmt/format.h>

#include <cstddef>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

namespace otpp {

/// One difference between two trees. `path` is the node's ids from the
/// root joined by '/'; a second, third... child of one id under one parent
/// (simple_one_for_one children) is `id#2`, `id#3`...
struct tree_change {
  enum class kind {
    added,     ///< only in the second tree (each node of an added subtree is listed)
    removed,   ///< only in the first tree (idem)
    changed,   ///< in both, with `details` ("restart: permanent -> transient")
    reordered, ///< a supervisor whose common children start in another order
  };
  kind what = kind::changed;
  std::string path;
  child_type type = child_type::worker;
  std::vector<std::string> details;
  friend bool operator==(const tree_change&, const tree_change&) = default;
};

namespace detail {

// The key of each child: its id, then id#2, id#3... for repeated ids.
inline std::vector<std::string> child_keys(const tree_node& n) {
  std::vector<std::string> keys;
  std::unordered_map<std::string, std::size_t> seen;
  keys.reserve(n.children.size());
  for (const tree_node& c : n.children) {
    std::size_t k = ++seen[c.id];
    keys.push_back(k == 1 ? c.id : fmt::format("{}#{}", c.id, k));
  }
  return keys;
}

// What differs between two nodes matched by their path. Fields that only
// one export has (a live snapshot has no shutdown) are not compared, nor
// what running changes (pids, statuses, restarts, a state machine's state).
inline std::vector<std::string> node_differences(const tree_node& a, const tree_node& b,
                                                 bool root) {
  std::vector<std::string> d;
  if (root && a.id != b.id)
    d.push_back(fmt::format("id: {} -> {}", a.id, b.id));
  if (a.type != b.type)
    d.push_back(fmt::format("type: {} -> {}", name_of(a.type), name_of(b.type)));
  if (!root && a.restart != b.restart)
    d.push_back(fmt::format("restart: {} -> {}", name_of(a.restart), name_of(b.restart)));
  if (a.strategy && b.strategy && *a.strategy != *b.strategy)
    d.push_back(fmt::format("strategy: {} -> {}", name_of(*a.strategy), name_of(*b.strategy)));
  if (a.intensity && b.intensity && *a.intensity != *b.intensity)
    d.push_back(fmt::format("intensity: {} -> {}", *a.intensity, *b.intensity));
  if (a.period && b.period && *a.period != *b.period)
    d.push_back(fmt::format("period: {}ms -> {}ms", a.period->count(), b.period->count()));
  if (!a.shutdown.empty() && !b.shutdown.empty() && a.shutdown != b.shutdown)
    d.push_back(fmt::format("shutdown: {} -> {}", a.shutdown, b.shutdown));
  if (!root && a.significant != b.significant)
    d.push_back(fmt::format("significant: {} -> {}", a.significant, b.significant));
  return d;
}

inline void list_subtree(std::vector<tree_change>& out, tree_change::kind what, const tree_node& n,
                         const std::string& path) {
  out.push_back({what, path, n.type, {}});
  auto keys = child_keys(n);
  for (std::size_t i = 0; i < n.children.size(); ++i)
    list_subtree(out, what, n.children[i], path + "/" + keys[i]);
}

// How the children of two matched nodes pair up: their keys, where each
// key is in the other node, and the keys both have in each one's order.
struct child_matching {
  std::vector<std::string> ka, kb;
  std::unordered_map<std::string, std::size_t> in_a, in_b;
  std::vector<std::string> common_a, common_b;
  child_matching(const tree_node& a, const tree_node& b) : ka(child_keys(a)), kb(child_keys(b)) {
    for (std::size_t i = 0; i < ka.size(); ++i)
      in_a.emplace(ka[i], i);
    for (std::size_t i = 0; i < kb.size(); ++i)
      in_b.emplace(kb[i], i);
    for (const std::string& k : ka)
      if (in_b.count(k) != 0)
        common_a.push_back(k);
    for (const std::string& k : kb)
      if (in_a.count(k) != 0)
        common_b.push_back(k);
  }
  bool reordered() const { return common_a != common_b; }
};

inline void diff_nodes(std::vector<tree_change>& out, const tree_node& a, const tree_node& b,
                       const std::string& path, bool root) {
  if (auto d = node_differences(a, b, root); !d.empty())
    out.push_back({tree_change::kind::changed, path, b.type, std::move(d)});
  const child_matching m(a, b);
  for (std::size_t i = 0; i < m.ka.size(); ++i) {
    auto it = m.in_b.find(m.ka[i]);
    if (it == m.in_b.end())
      list_subtree(out, tree_change::kind::removed, a.children[i], path + "/" + m.ka[i]);
    else
      diff_nodes(out, a.children[i], b.children[it->second], path + "/" + m.ka[i], false);
  }
  for (std::size_t i = 0; i < m.kb.size(); ++i)
    if (m.in_a.count(m.kb[i]) == 0)
      list_subtree(out, tree_change::kind::added, b.children[i], path + "/" + m.kb[i]);
  if (m.reordered())
    out.push_back({tree_change::kind::reordered,
                   path,
                   b.type,
                   {fmt::format("children order: {} -> {}", fmt::join(m.common_a, ", "),
                                fmt::join(m.common_b, ", "))}});
}

} // namespace detail

/// What changed from tree `before` to tree `after` (either from
/// `spec_tree` or `supervision_tree`, or read back from their JSON by the
/// `otpp-tree-diff` tool). Nodes are matched by path; the roots are always
/// matched (a new root id is a change). Compared: type, restart type,
/// strategy, intensity, period, shutdown, significance, child order; not
/// pids, statuses, restart counts nor states. Empty: the same tree.
inline std::vector<tree_change> diff_trees(const tree_node& before, const tree_node& after) {
  std::vector<tree_change> out;
  detail::diff_nodes(out, before, after, after.id, true);
  return out;
}

/// The changes as text, one line each: `+ path (type, restart)` added,
/// `- path (...)` removed, `~ path: details` changed or reordered.
inline std::string to_text(const std::vector<tree_change>& changes) {
  std::string out;
  for (const tree_change& c : changes) {
    switch (c.what) {
    case tree_change::kind::added:
      out += fmt::format("+ {} ({})\n", c.path, detail::name_of(c.type));
      break;
    case tree_change::kind::removed:
      out += fmt::format("- {} ({})\n", c.path, detail::name_of(c.type));
      break;
    case tree_change::kind::changed:
    case tree_change::kind::reordered:
      out += fmt::format("~ {}: {}\n", c.path, fmt::join(c.details, "; "));
      break;
    }
  }
  return out;
}

namespace detail {

struct dot_style {
  const char* color;
  const char* style;
};

inline void diff_dot_node(std::string& out, const tree_node& n, const std::string& path,
                          const dot_style& s, const std::vector<std::string>& details) {
  std::string label = dot_escape(n.id);
  if (n.strategy)
    label += fmt::format("\\n{}", name_of(*n.strategy));
  for (const std::string& d : details)
    label += "\\n" + dot_escape(d);
  out += fmt::format("  \"{}\" [label=\"{}\", shape={}, color=\"{}\", fontcolor=\"{}\", "
                     "style=\"{}\"];\n",
                     dot_escape(path), label, n.type == child_type::supervisor ? "box" : "ellipse",
                     s.color, s.color, s.style);
}

inline void diff_dot_subtree(std::string& out, const tree_node& n, const std::string& path,
                             const dot_style& s) {
  diff_dot_node(out, n, path, s, {});
  auto keys = child_keys(n);
  for (std::size_t i = 0; i < n.children.size(); ++i) {
    std::string child = path + "/" + keys[i];
    diff_dot_subtree(out, n.children[i], child, s);
    out += fmt::format("  \"{}\" -> \"{}\" [color=\"{}\"];\n", dot_escape(path), dot_escape(child),
                       s.color);
  }
}

inline constexpr dot_style same_style{"black", "solid"};
inline constexpr dot_style added_style{"darkgreen", "bold"};
inline constexpr dot_style removed_style{"red", "dashed"};
inline constexpr dot_style changed_style{"darkorange", "bold"};

inline void diff_dot(std::string& out, const tree_node& a, const tree_node& b,
                     const std::string& path, bool root) {
  auto details = node_differences(a, b, root);
  const child_matching m(a, b);
  if (m.reordered())
    details.push_back("children reordered");
  diff_dot_node(out, b, path, details.empty() ? same_style : changed_style, details);
  // The second tree's children in its order, then those only in the first.
  for (std::size_t i = 0; i < m.kb.size(); ++i) {
    std::string child = path + "/" + m.kb[i];
    auto it = m.in_a.find(m.kb[i]);
    const dot_style* edge = &same_style;
    if (it == m.in_a.end()) {
      diff_dot_subtree(out, b.children[i], child, added_style);
      edge = &added_style;
    } else {
      diff_dot(out, a.children[it->second], b.children[i], child, false);
    }
    out += fmt::format("  \"{}\" -> \"{}\" [color=\"{}\"];\n", dot_escape(path), dot_escape(child),
                       edge->color);
  }
  for (std::size_t i = 0; i < m.ka.size(); ++i) {
    if (m.in_b.count(m.ka[i]) != 0)
      continue;
    std::string child = path + "/" + m.ka[i];
    diff_dot_subtree(out, a.children[i], child, removed_style);
    out += fmt::format("  \"{}\" -> \"{}\" [color=\"{}\", style=\"dashed\"];\n", dot_escape(path),
                       dot_escape(child), removed_style.color);
  }
}

} // namespace detail

/// Both trees in one Graphviz digraph: nodes only in `after` green (bold),
/// only in `before` red (dashed), changed ones orange with what changed in
/// their label, the rest black. Render with `dot -Tsvg`.
inline std::string diff_to_dot(const tree_node& before, const tree_node& after) {
  std::string out = "digraph supervision_tree_diff {\n";
  detail::diff_dot(out, before, after, after.id, true);
  out += "}\n";
  return out;
}

} // namespace otpp
