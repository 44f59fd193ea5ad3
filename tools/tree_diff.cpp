// otpp-tree-diff: what changed between two supervision tree exports.
// Distributed under the Boost Software License, Version 1.0.
//
// Usage: otpp-tree-diff [--dot] BEFORE.json AFTER.json
// Reads two trees written by otpp::to_json (of otpp::spec_tree or of a live
// otpp::supervision_tree) and prints their differences (otpp::diff_trees):
// as text, one line per change, or with --dot as one Graphviz digraph of
// both trees (added green, removed red, changed orange).
// Exit status: 0 the trees are the same, 1 they differ, 2 trouble (a file
// that cannot be read, bad JSON, not a tree); the reason goes to stderr.
#include <otpp/behaviour/supervision_tree.hpp>
#include <otpp/behaviour/tree_diff.hpp>

#include <boost/json/src.hpp> // Boost.JSON compiled into this program (header-only mode)

#include <fmt/format.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <limits>
#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>

namespace {

namespace json = boost::json;

// Exports are small; a file past this is not one.
constexpr std::size_t max_file_bytes = 64 * 1024 * 1024;
// A tree deeper than this (each level is an object inside an array) is
// refused before the parser's recursion could exhaust the stack.
constexpr std::size_t max_json_depth = 512;

struct bad_tree : std::runtime_error {
  using std::runtime_error::runtime_error;
};

const json::value* member(const json::object& o, std::string_view key) {
  auto it = o.find(key);
  return it == o.end() ? nullptr : &it->value();
}

std::string string_member(const json::object& o, std::string_view key, const std::string& at,
                          bool required) {
  const json::value* v = member(o, key);
  if (v == nullptr) {
    if (required)
      throw bad_tree(fmt::format("{}: no \"{}\"", at, key));
    return {};
  }
  if (!v->is_string())
    throw bad_tree(fmt::format("{}: \"{}\" is not a string", at, key));
  return std::string(v->get_string());
}

template <class E, std::size_t N>
E enum_member(const json::object& o, std::string_view key, const std::string& at,
              const std::string_view (&names)[N], const E (&values)[N], E fallback) {
  std::string s = string_member(o, key, at, false);
  if (s.empty())
    return fallback;
  for (std::size_t i = 0; i < N; ++i)
    if (s == names[i])
      return values[i];
  throw bad_tree(fmt::format("{}: \"{}\" is \"{}\", not one of the known values", at, key, s));
}

std::optional<std::int64_t> int_member(const json::object& o, std::string_view key,
                                       const std::string& at) {
  const json::value* v = member(o, key);
  if (v == nullptr)
    return std::nullopt;
  if (v->is_int64())
    return v->get_int64();
  if (v->is_uint64() && v->get_uint64() <= static_cast<std::uint64_t>(INT64_MAX))
    return static_cast<std::int64_t>(v->get_uint64());
  throw bad_tree(fmt::format("{}: \"{}\" is not an integer", at, key));
}

otpp::tree_node to_node(const json::value& v, const std::string& parent_path, bool root) {
  if (!v.is_object())
    throw bad_tree(fmt::format("{}: a node is not a JSON object", parent_path));
  const json::object& o = v.get_object();
  otpp::tree_node n;
  n.id = string_member(o, "id", parent_path.empty() ? "the root" : parent_path, true);
  const std::string at = parent_path.empty() ? n.id : parent_path + "/" + n.id;
  constexpr std::string_view type_names[] = {"worker", "supervisor"};
  constexpr otpp::child_type types[] = {otpp::child_type::worker, otpp::child_type::supervisor};
  n.type = enum_member(o, "type", at, type_names, types,
                       root ? otpp::child_type::supervisor : otpp::child_type::worker);
  constexpr std::string_view restart_names[] = {"permanent", "transient", "temporary"};
  constexpr otpp::restart_type restarts[] = {otpp::permanent, otpp::transient, otpp::temporary};
  n.restart = enum_member(o, "restart", at, restart_names, restarts, otpp::permanent);
  if (member(o, "strategy") != nullptr) {
    constexpr std::string_view names[] = {"one_for_one", "one_for_all", "rest_for_one",
                                          "simple_one_for_one"};
    constexpr otpp::supervision_strategy values[] = {otpp::one_for_one, otpp::one_for_all,
                                                     otpp::rest_for_one, otpp::simple_one_for_one};
    n.strategy = enum_member(o, "strategy", at, names, values, otpp::one_for_one);
  }
  if (auto i = int_member(o, "intensity", at)) {
    if (*i < 0 || *i > std::numeric_limits<int>::max())
      throw bad_tree(fmt::format("{}: \"intensity\" {} is out of range", at, *i));
    n.intensity = static_cast<int>(*i);
  }
  if (auto p = int_member(o, "period_ms", at))
    n.period = std::chrono::milliseconds(*p);
  n.shutdown = string_member(o, "shutdown", at, false);
  if (const json::value* s = member(o, "significant")) {
    if (!s->is_bool())
      throw bad_tree(fmt::format("{}: \"significant\" is not true or false", at));
    n.significant = s->get_bool();
  }
  n.from_spec = member(o, "pid") == nullptr;
  if (const json::value* c = member(o, "children")) {
    if (!c->is_array())
      throw bad_tree(fmt::format("{}: \"children\" is not an array", at));
    for (const json::value& child : c->get_array())
      n.children.push_back(to_node(child, at, false));
  }
  return n;
}

otpp::tree_node read_tree(const char* file) {
  std::ifstream in(file, std::ios::binary);
  if (!in)
    throw bad_tree(fmt::format("{}: cannot be read", file));
  std::string text;
  char buf[65536];
  while (in.read(buf, sizeof buf) || in.gcount() > 0) {
    text.append(buf, static_cast<std::size_t>(in.gcount()));
    if (text.size() > max_file_bytes)
      throw bad_tree(
          fmt::format("{}: larger than {} bytes, not a tree export", file, max_file_bytes));
  }
  json::parse_options options;
  options.max_depth = max_json_depth;
  boost::system::error_code ec;
  json::value v = json::parse(text, ec, {}, options);
  if (ec)
    throw bad_tree(fmt::format("{}: not JSON ({})", file, ec.message()));
  try {
    return to_node(v, "", true);
  } catch (const bad_tree& e) {
    throw bad_tree(fmt::format("{}: not a supervision tree: {}", file, e.what()));
  }
}

int usage() {
  std::fputs("usage: otpp-tree-diff [--dot] BEFORE.json AFTER.json\n"
             "  Compares two supervision trees written by otpp::to_json (of otpp::spec_tree\n"
             "  or otpp::supervision_tree). Prints the changes, one per line (+ added,\n"
             "  - removed, ~ changed), or with --dot both trees as one Graphviz digraph\n"
             "  (added green, removed red, changed orange).\n"
             "  Exit status: 0 same, 1 different, 2 trouble.\n",
             stderr);
  return 2;
}

} // namespace

int main(int argc, char** argv) {
  bool dot = false;
  const char* files[2] = {nullptr, nullptr};
  int n = 0;
  for (int i = 1; i < argc; ++i) {
    std::string_view a = argv[i];
    if (a == "--dot")
      dot = true;
    else if (a == "-h" || a == "--help")
      return usage();
    else if (n < 2 && !(a.size() > 1 && a[0] == '-'))
      files[n++] = argv[i];
    else
      return usage();
  }
  if (n != 2)
    return usage();
  try {
    otpp::tree_node before = read_tree(files[0]);
    otpp::tree_node after = read_tree(files[1]);
    auto changes = otpp::diff_trees(before, after);
    if (dot)
      fmt::print("{}", otpp::diff_to_dot(before, after));
    else
      fmt::print("{}", otpp::to_text(changes));
    return changes.empty() ? 0 : 1;
  } catch (const std::exception& e) {
    fmt::print(stderr, "otpp-tree-diff: {}\n", e.what());
    return 2;
  }
}
