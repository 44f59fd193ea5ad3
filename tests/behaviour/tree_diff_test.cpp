#include <otpp/behaviour/supervision_tree.hpp>
#include <otpp/behaviour/supervisor.hpp>
#include <otpp/behaviour/tree_diff.hpp>

#include "otpp_test.hpp"

#include <catch2/catch.hpp>
#include <fmt/format.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <sys/wait.h>
#include <unistd.h>
#include <utility>
#include <vector>

namespace OTPP_TEST_FILE {

using namespace std::chrono_literals;
using otpp::exit_reason;
using otpp::tree_change;

namespace {

std::atomic<int> starts{0};

// A worker whose start function counts its calls.
otpp::child_spec counted(std::string id, otpp::child_options opts = {}) {
  return otpp::worker(
      std::move(id),
      [] {
        ++starts;
        return otpp::spawn_link([] { otpp_test::wait_forever(); });
      },
      opts);
}

// app (one_for_one, 3 in 10 s): db (transient, brutal_kill), cache,
// pool (simple_one_for_one: conn template, temporary), web (rest_for_one:
// listener, acceptor (significant, 2 s shutdown)).
otpp::supervisor_spec app_spec() {
  return otpp::supervisor_spec{
      .strategy = otpp::one_for_one,
      .intensity = 3,
      .period = 10s,
      .children = {counted("db", {.restart = otpp::transient,
                                  .shutdown = otpp::shutdown_policy::brutal_kill()}),
                   counted("cache"),
                   otpp::supervisor("pool",
                                    otpp::supervisor_spec{
                                        .strategy = otpp::simple_one_for_one,
                                        .children = {otpp::worker("conn",
                                                                  [](int) {
                                                                    ++starts;
                                                                    return otpp::spawn_link([] {
                                                                      otpp_test::wait_forever();
                                                                    });
                                                                  },
                                                                  {.restart = otpp::temporary})}}),
                   otpp::supervisor(
                       "web",
                       otpp::supervisor_spec{
                           .strategy = otpp::rest_for_one,
                           .children = {counted("listener"),
                                        counted("acceptor",
                                                {.restart = otpp::transient,
                                                 .shutdown = otpp::shutdown_policy::after(2s),
                                                 .significant = true})},
                           .auto_shutdown = otpp::auto_shutdown_mode::any_significant})},
      .name = "app"};
}

std::string write_temp(const std::string& name, const std::string& text) {
  auto path = std::filesystem::temp_directory_path() /
              fmt::format("otpp-tree-diff-test-{}-{}", ::getpid(), name);
  std::ofstream(path) << text;
  return path.string();
}

struct run_result {
  int status = -1;
  std::string out;
};
// Run the otpp-tree-diff tool (built beside the tests) with `args`;
// standard error goes to standard output.
run_result run_tool(const std::string& args) {
  std::string cmd = fmt::format("'{}' {} 2>&1", OTPP_TREE_DIFF_TOOL, args);
  FILE* f = ::popen(cmd.c_str(), "r");
  REQUIRE(f != nullptr);
  run_result r;
  char buf[4096];
  while (std::size_t n = std::fread(buf, 1, sizeof buf, f))
    r.out.append(buf, n);
  int st = ::pclose(f);
  r.status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  return r;
}

otpp::tree_node node(std::string id, otpp::child_type type = otpp::child_type::worker) {
  otpp::tree_node n;
  n.id = std::move(id);
  n.type = type;
  if (type == otpp::child_type::supervisor)
    n.strategy = otpp::one_for_one;
  return n;
}

} // namespace

TEST_CASE("spec_tree draws a supervisor spec without starting anything",
          "[behaviour][supervisor][tree_diff]") {
  starts = 0;
  otpp::tree_node t = otpp::spec_tree(app_spec());
  CHECK(starts == 0);
  CHECK(otpp::to_text(t) == "app supervisor one_for_one\n"
                            "|- db worker transient\n"
                            "|- cache worker permanent\n"
                            "|- pool supervisor simple_one_for_one permanent\n"
                            "|  `- conn worker temporary\n"
                            "`- web supervisor rest_for_one permanent\n"
                            "   |- listener worker permanent\n"
                            "   `- acceptor worker transient\n");
  CHECK(
      otpp::to_json(t) ==
      R"({"id": "app", "type": "supervisor", "restart": "permanent", "strategy": "one_for_one", "intensity": 3, "period_ms": 10000, "children": [
  {"id": "db", "type": "worker", "restart": "transient", "shutdown": "brutal_kill"},
  {"id": "cache", "type": "worker", "restart": "permanent", "shutdown": "5000ms"},
  {"id": "pool", "type": "supervisor", "restart": "permanent", "shutdown": "infinity", "strategy": "simple_one_for_one", "intensity": 1, "period_ms": 5000, "children": [
    {"id": "conn", "type": "worker", "restart": "temporary", "shutdown": "5000ms"}
  ]},
  {"id": "web", "type": "supervisor", "restart": "permanent", "shutdown": "infinity", "strategy": "rest_for_one", "intensity": 1, "period_ms": 5000, "children": [
    {"id": "listener", "type": "worker", "restart": "permanent", "shutdown": "5000ms"},
    {"id": "acceptor", "type": "worker", "restart": "transient", "shutdown": "2000ms", "significant": true}
  ]}
]}
)");
  CHECK(otpp::to_dot(t).find("\"app/web/acceptor\" [label=\"acceptor\", shape=ellipse, "
                             "style=solid];") != std::string::npos);
  CHECK(otpp::spec_tree(app_spec(), "top").id == "top");
  CHECK(otpp::spec_tree(otpp::supervisor_spec{}).id == "root");
}

TEST_CASE("a spec's tree and the live tree it starts have no differences",
          "[behaviour][supervisor][tree_diff]") {
  const unsigned n = GENERATE(1u, 3u);
  OTPP_TEST_RUNTIME({.schedulers = n});
  auto sup = otpp::start(rt, app_spec());
  otpp::tree_node live = otpp::supervision_tree(sup);
  otpp::tree_node spec = otpp::spec_tree(app_spec());
  // The live pool has no children yet; its template is only in the spec.
  spec.children[2].children.clear();
  CHECK(otpp::diff_trees(spec, live).empty());
  CHECK(otpp::diff_trees(live, spec).empty());
  // A started simple_one_for_one child shows as added.
  auto pool = otpp::which_children(sup)[1].pid; // most recent first: web, pool, ...
  REQUIRE(otpp::start_child(pool, 7).ok());
  auto changes = otpp::diff_trees(spec, otpp::supervision_tree(sup));
  REQUIRE(changes.size() == 1);
  CHECK(changes[0] ==
        tree_change{tree_change::kind::added, "app/pool/conn", otpp::child_type::worker, {}});
  otpp::stop(sup, exit_reason::shutdown());
}

TEST_CASE("diff_trees lists added, removed, changed and reordered children by path",
          "[behaviour][supervisor][tree_diff]") {
  otpp::tree_node before = otpp::spec_tree(app_spec());
  SECTION("the same tree") {
    CHECK(otpp::diff_trees(before, before).empty());
  }
  SECTION("every kind of change") {
    otpp::tree_node after = before;
    after.strategy = otpp::one_for_all;
    after.intensity = 5;
    auto& ch = after.children;
    ch[0].restart = otpp::permanent;                 // db
    ch[0].shutdown = "infinity";                     //
    ch.erase(ch.begin() + 1);                        // cache removed
    ch[2].children[1].significant = false;           // web/acceptor
    std::swap(ch[2].children[0], ch[2].children[1]); // web reordered
    ch[2].children.push_back(node("metrics", otpp::child_type::supervisor));
    ch[2].children.back().children.push_back(node("exporter")); // a new subtree
    ch.push_back(node("log"));
    auto changes = otpp::diff_trees(before, after);
    CHECK(otpp::to_text(changes) ==
          "~ app: strategy: one_for_one -> one_for_all; intensity: 3 -> 5\n"
          "~ app/db: restart: transient -> permanent; shutdown: brutal_kill -> infinity\n"
          "- app/cache (worker)\n"
          "~ app/web/acceptor: significant: true -> false\n"
          "+ app/web/metrics (supervisor)\n"
          "+ app/web/metrics/exporter (worker)\n"
          "~ app/web: children order: listener, acceptor -> acceptor, listener\n"
          "+ app/log (worker)\n");
    CHECK(changes[2] ==
          tree_change{tree_change::kind::removed, "app/cache", otpp::child_type::worker, {}});
    std::string dot = otpp::diff_to_dot(before, after);
    CHECK(dot.rfind("digraph supervision_tree_diff {\n", 0) == 0);
    CHECK(dot.find("\"app/cache\" [label=\"cache\", shape=ellipse, color=\"red\", "
                   "fontcolor=\"red\", style=\"dashed\"];") != std::string::npos);
    CHECK(dot.find("\"app/web/metrics/exporter\" [label=\"exporter\", shape=ellipse, "
                   "color=\"darkgreen\", fontcolor=\"darkgreen\", style=\"bold\"];") !=
          std::string::npos);
    CHECK(dot.find("\"app/db\" [label=\"db\\nrestart: transient -> permanent\\nshutdown: "
                   "brutal_kill -> infinity\", shape=ellipse, color=\"darkorange\"") !=
          std::string::npos);
    CHECK(dot.find("\"app/web\" [label=\"web\\nrest_for_one\\nchildren reordered\"") !=
          std::string::npos);
    CHECK(dot.find("\"app/pool/conn\" [label=\"conn\", shape=ellipse, color=\"black\"") !=
          std::string::npos);
  }
  SECTION("siblings of one id are matched by rank") {
    otpp::tree_node a = node("pool", otpp::child_type::supervisor);
    a.children = {node("w"), node("w")};
    otpp::tree_node b = a;
    b.children.push_back(node("w"));
    b.children[0].restart = otpp::temporary;
    CHECK(otpp::to_text(otpp::diff_trees(a, b)) == "~ pool/w: restart: permanent -> temporary\n"
                                                   "+ pool/w#3 (worker)\n");
    CHECK(otpp::to_text(otpp::diff_trees(b, a)) == "~ pool/w: restart: temporary -> permanent\n"
                                                   "- pool/w#3 (worker)\n");
  }
  SECTION("a renamed root is a change, not a new tree") {
    otpp::tree_node after = before;
    after.id = "application";
    CHECK(otpp::to_text(otpp::diff_trees(before, after)) ==
          "~ application: id: app -> application\n");
  }
}

TEST_CASE("otpp-tree-diff compares two exported trees and says how they differ",
          "[behaviour][supervisor][tree_diff]") {
  otpp::tree_node before = otpp::spec_tree(app_spec());
  otpp::tree_node after = before;
  after.children[1].restart = otpp::temporary;
  after.children.erase(after.children.begin()); // db
  std::string a = write_temp("a.json", otpp::to_json(before));
  std::string b = write_temp("b.json", otpp::to_json(after));

  SECTION("the same tree: status 0, nothing printed") {
    auto r = run_tool(fmt::format("'{}' '{}'", a, a));
    CHECK(r.status == 0);
    CHECK(r.out.empty());
  }
  SECTION("different trees: status 1 and the changes") {
    auto r = run_tool(fmt::format("'{}' '{}'", a, b));
    CHECK(r.status == 1);
    CHECK(r.out == "- app/db (worker)\n"
                   "~ app/cache: restart: permanent -> temporary\n");
    auto d = run_tool(fmt::format("--dot '{}' '{}'", a, b));
    CHECK(d.status == 1);
    CHECK(d.out == otpp::diff_to_dot(before, after));
  }
  SECTION("a live export against a spec export") {
    std::string l;
    { // the runtime ends before the tool is forked
      OTPP_TEST_RUNTIME({.schedulers = 2});
      auto sup = otpp::start(rt, app_spec());
      l = write_temp("live.json", otpp::to_json(otpp::supervision_tree(sup)));
      otpp::stop(sup, exit_reason::shutdown());
    }
    auto r = run_tool(fmt::format("'{}' '{}'", a, l));
    CHECK(r.status == 1); // only the pool's template, which a live pool does not have
    CHECK(r.out == "- app/pool/conn (worker)\n");
    std::filesystem::remove(l);
  }
  SECTION("bad input: status 2 and why") {
    std::string junk = write_temp("junk.json", "{\"id\": \"app\", \"children\": [");
    auto r = run_tool(fmt::format("'{}' '{}'", a, junk));
    CHECK(r.status == 2);
    CHECK(r.out.find("not JSON") != std::string::npos);
    std::string wrong = write_temp("wrong.json", R"({"id": "app", "children": [{"id": 3}]})");
    r = run_tool(fmt::format("'{}' '{}'", a, wrong));
    CHECK(r.status == 2);
    CHECK(r.out.find("not a supervision tree: app: \"id\" is not a string") != std::string::npos);
    std::string bad_enum = write_temp(
        "enum.json", R"({"id": "app", "children": [{"id": "x", "restart": "sometimes"}]})");
    r = run_tool(fmt::format("'{}' '{}'", a, bad_enum));
    CHECK(r.status == 2);
    CHECK(r.out.find("app/x: \"restart\" is \"sometimes\"") != std::string::npos);
    // Nested far deeper than any tree: refused by the parser's depth bound.
    std::string deep = "{\"id\": \"r\", \"children\": [";
    for (int i = 0; i < 5000; ++i)
      deep += "{\"id\": \"n\", \"children\": [";
    std::string too_deep = write_temp("deep.json", deep);
    r = run_tool(fmt::format("'{}' '{}'", a, too_deep));
    CHECK(r.status == 2);
    CHECK(r.out.find("not JSON") != std::string::npos);
    r = run_tool(fmt::format("'{}' /nonexistent/tree.json", a));
    CHECK(r.status == 2);
    CHECK(r.out.find("/nonexistent/tree.json: cannot be read") != std::string::npos);
    r = run_tool(fmt::format("'{}'", a));
    CHECK(r.status == 2);
    CHECK(r.out.find("usage: otpp-tree-diff") != std::string::npos);
    for (auto& f : {junk, wrong, bad_enum, too_deep})
      std::filesystem::remove(f);
  }
  std::filesystem::remove(a);
  std::filesystem::remove(b);
}

} // namespace OTPP_TEST_FILE
