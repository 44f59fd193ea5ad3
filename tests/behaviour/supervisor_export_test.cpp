#include <otpp/behaviour/supervision_tree.hpp>
#include <otpp/behaviour/supervisor.hpp>

#include "otpp_test.hpp"
#include "supervisor_probe.hpp"

#include <otpp/core/monitor.hpp>

#include <catch2/catch.hpp>
#include <fmt/format.h>

#include <chrono>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace OTPP_TEST_FILE {

using namespace std::chrono_literals;
namespace tp = otpp::this_process;
using otpp::exit_reason;

namespace {

using otpp_test::quiet;
using otpp_test::report_guard;

// A worker that waits until an exit signal ends it.
otpp::child_spec idle(std::string id, otpp::child_options opts = {}) {
  return otpp::worker(
      std::move(id), [] { return otpp::spawn_link([] { otpp_test::wait_forever(); }); }, opts);
}

using otpp_test::info_of;

// Kill child `id` of `sup` with an abnormal reason and wait until it has
// ended: the supervisor handles its exit before the test's next call.
void crash(const otpp::pid& sup, const std::string& id) {
  otpp::pid p = info_of(sup, id).pid;
  otpp::ref m = otpp::monitor(p);
  otpp::exit(p, exit_reason::user("crash"));
  otpp_test::down_reason(m);
}

std::string q(const otpp::pid& p) {
  return fmt::format("\"{}\"", p);
}

// root (one_for_one): a, s (transient, stopped), inner (rest_for_one: w),
// empty (one_for_one, no children), r (restarted once).
struct sample {
  otpp::supervisor_ref sup;
  otpp::pid a, inner, w, empty, r;
};
sample make_sample(otpp::runtime& rt) {
  auto spec = otpp::supervisor_spec{
      .strategy = otpp::one_for_one,
      .intensity = 10,
      .period = 60s,
      .children = {idle("a"), idle("s", {.restart = otpp::transient}),
                   otpp::supervisor("inner", otpp::supervisor_spec{.strategy = otpp::rest_for_one,
                                                                   .children = {idle("w")}}),
                   otpp::supervisor("empty", otpp::supervisor_spec{}), idle("r")}};
  sample s;
  s.sup = otpp::start(rt, spec);
  REQUIRE(otpp::terminate_child(s.sup, "s").ok());
  crash(s.sup, "r");
  s.a = info_of(s.sup, "a").pid;
  s.inner = info_of(s.sup, "inner").pid;
  s.w = info_of(s.inner, "w").pid;
  s.empty = info_of(s.sup, "empty").pid;
  s.r = info_of(s.sup, "r").pid;
  return s;
}

} // namespace

TEST_CASE("which_children reports each child's id, pid, type, restart type, status, restarts "
          "and significance, most recent first",
          "[behaviour][supervisor]") {
  const unsigned n = GENERATE(1u, 3u);
  OTPP_TEST_RUNTIME({.schedulers = n});
  report_guard g(quiet());
  auto spec = otpp::supervisor_spec{
      .children = {idle("a"), idle("t", {.restart = otpp::transient, .significant = true}),
                   otpp::supervisor("inner", otpp::supervisor_spec{}),
                   idle("tmp", {.restart = otpp::temporary})},
      .auto_shutdown = otpp::auto_shutdown_mode::all_significant};
  auto sup = otpp::start(rt, spec);
  crash(sup, "a");
  REQUIRE(otpp::terminate_child(sup, "t").ok());

  auto kids = otpp::which_children(sup);
  REQUIRE(kids.size() == 4);
  const auto& tmp = kids[0];
  CHECK(tmp.id == "tmp");
  CHECK(tmp.restart == otpp::temporary);
  CHECK(tmp.type == otpp::child_type::worker);
  CHECK(tmp.state == otpp::child_info::status::running);
  CHECK(tmp.pid);
  const auto& inner = kids[1];
  CHECK(inner.id == "inner");
  CHECK(inner.type == otpp::child_type::supervisor);
  CHECK(inner.state == otpp::child_info::status::running);
  CHECK(otpp::which_children(inner.pid).empty());
  const auto& t = kids[2];
  CHECK(t.id == "t");
  CHECK(t.restart == otpp::transient);
  CHECK(t.significant);
  CHECK(t.state == otpp::child_info::status::stopped);
  CHECK_FALSE(t.pid);
  const auto& a = kids[3];
  CHECK(a.id == "a");
  CHECK(a.restart == otpp::permanent);
  CHECK_FALSE(a.significant);
  CHECK(a.restarts == 1);
  CHECK(a.state == otpp::child_info::status::running);
  CHECK(a.pid);
  otpp::stop(sup, exit_reason::shutdown());
}

TEST_CASE("count_children counts specs, running children, supervisors and workers",
          "[behaviour][supervisor]") {
  const unsigned n = GENERATE(1u, 3u);
  OTPP_TEST_RUNTIME({.schedulers = n});
  report_guard g(quiet());
  sample s = make_sample(rt);
  auto c = otpp::count_children(s.sup);
  CHECK(c.specs == 5);
  CHECK(c.active == 4); // s is stopped
  CHECK(c.supervisors == 2);
  CHECK(c.workers == 3);
  auto ci = otpp::count_children(s.inner);
  CHECK(ci.specs == 1);
  CHECK(ci.active == 1);
  CHECK(ci.supervisors == 0);
  CHECK(ci.workers == 1);

  // simple_one_for_one: one spec (the template), however many children.
  auto pool = otpp::start(rt, otpp::supervisor_spec{.strategy = otpp::simple_one_for_one,
                                                    .children = {otpp::worker("w", [](int) {
                                                      return otpp::spawn_link(
                                                          [] { otpp_test::wait_forever(); });
                                                    })}});
  REQUIRE(otpp::count_children(pool).active == 0);
  for (int k = 0; k < 3; ++k)
    REQUIRE(otpp::start_child(pool, k).ok());
  c = otpp::count_children(pool);
  CHECK(c.specs == 1);
  CHECK(c.active == 3);
  CHECK(c.workers == 3);
  CHECK(c.supervisors == 0);
  otpp::stop(pool, exit_reason::shutdown());
  otpp::stop(s.sup, exit_reason::shutdown());
}

TEST_CASE("supervision_tree is a snapshot of the live tree, children in start order",
          "[behaviour][supervisor]") {
  const unsigned n = GENERATE(1u, 3u);
  OTPP_TEST_RUNTIME({.schedulers = n});
  report_guard g(quiet());
  sample s = make_sample(rt);
  otpp::tree_node t = otpp::supervision_tree(s.sup);
  CHECK(t.id == "root");
  CHECK(t.pid == s.sup.pid());
  CHECK(t.type == otpp::child_type::supervisor);
  CHECK(t.strategy == otpp::one_for_one);
  REQUIRE(t.children.size() == 5);
  std::vector<std::string> ids;
  for (auto& c : t.children)
    ids.push_back(c.id);
  CHECK(ids == std::vector<std::string>{"a", "s", "inner", "empty", "r"});
  CHECK(t.children[0].pid == s.a);
  CHECK_FALSE(t.children[0].strategy);
  CHECK(t.children[1].state == otpp::child_info::status::stopped);
  CHECK(t.children[1].restart == otpp::transient);
  const auto& inner = t.children[2];
  CHECK(inner.type == otpp::child_type::supervisor);
  CHECK(inner.strategy == otpp::rest_for_one);
  REQUIRE(inner.children.size() == 1);
  CHECK(inner.children[0].id == "w");
  CHECK(inner.children[0].pid == s.w);
  CHECK(t.children[3].children.empty());
  CHECK(t.children[4].restarts == 1);
  CHECK(t.children[4].pid == s.r);
  otpp::stop(s.sup, exit_reason::shutdown());
}

TEST_CASE("to_json writes the tree as nested JSON objects", "[behaviour][supervisor]") {
  const unsigned n = GENERATE(1u, 3u);
  OTPP_TEST_RUNTIME({.schedulers = n});
  report_guard g(quiet());
  sample s = make_sample(rt);
  std::string json = otpp::to_json(otpp::supervision_tree(s.sup));
  std::string expected = fmt::format(
      R"({{"id": "root", "pid": {}, "type": "supervisor", "restart": "permanent", "status": "running", "restarts": 0, "strategy": "one_for_one", "intensity": 10, "period_ms": 60000, "children": [
  {{"id": "a", "pid": {}, "type": "worker", "restart": "permanent", "status": "running", "restarts": 0}},
  {{"id": "s", "pid": null, "type": "worker", "restart": "transient", "status": "stopped", "restarts": 0}},
  {{"id": "inner", "pid": {}, "type": "supervisor", "restart": "permanent", "status": "running", "restarts": 0, "strategy": "rest_for_one", "intensity": 1, "period_ms": 5000, "children": [
    {{"id": "w", "pid": {}, "type": "worker", "restart": "permanent", "status": "running", "restarts": 0}}
  ]}},
  {{"id": "empty", "pid": {}, "type": "supervisor", "restart": "permanent", "status": "running", "restarts": 0, "strategy": "one_for_one", "intensity": 1, "period_ms": 5000, "children": []}},
  {{"id": "r", "pid": {}, "type": "worker", "restart": "permanent", "status": "running", "restarts": 1}}
]}}
)",
      q(s.sup), q(s.a), q(s.inner), q(s.w), q(s.empty), q(s.r));
  CHECK(json == expected);
  otpp::stop(s.sup, exit_reason::shutdown());
}

TEST_CASE("to_dot writes the tree as a Graphviz digraph named by id paths",
          "[behaviour][supervisor]") {
  const unsigned n = GENERATE(1u, 3u);
  OTPP_TEST_RUNTIME({.schedulers = n});
  report_guard g(quiet());
  sample s = make_sample(rt);
  std::string dot = otpp::to_dot(otpp::supervision_tree(s.sup));
  std::string expected = fmt::format(R"(digraph supervision_tree {{
  "root" [label="root\n{}\none_for_one", shape=box, style=solid];
  "root/a" [label="a\n{}", shape=ellipse, style=solid];
  "root" -> "root/a";
  "root/s" [label="s\n-", shape=ellipse, style=dashed];
  "root" -> "root/s";
  "root/inner" [label="inner\n{}\nrest_for_one", shape=box, style=solid];
  "root/inner/w" [label="w\n{}", shape=ellipse, style=solid];
  "root/inner" -> "root/inner/w";
  "root" -> "root/inner";
  "root/empty" [label="empty\n{}\none_for_one", shape=box, style=solid];
  "root" -> "root/empty";
  "root/r" [label="r\n{}\nrestarts: 1", shape=ellipse, style=solid];
  "root" -> "root/r";
}}
)",
                                     s.sup.pid(), s.a, s.inner, s.w, s.empty, s.r);
  CHECK(dot == expected);
  otpp::stop(s.sup, exit_reason::shutdown());
}

TEST_CASE("to_dot tells simple_one_for_one siblings of one id apart, in start order",
          "[behaviour][supervisor]") {
  const unsigned n = GENERATE(1u, 3u);
  OTPP_TEST_RUNTIME({.schedulers = n});
  report_guard g(quiet());
  auto pool = otpp::start(rt, otpp::supervisor_spec{.strategy = otpp::simple_one_for_one,
                                                    .children = {otpp::worker("w", [](int) {
                                                      return otpp::spawn_link(
                                                          [] { otpp_test::wait_forever(); });
                                                    })}});
  std::vector<otpp::pid> p;
  for (int k = 0; k < 3; ++k)
    p.push_back(otpp::start_child(pool, k).value());
  std::string dot = otpp::to_dot(otpp::supervision_tree(pool, "pool"));
  std::string expected = fmt::format(R"(digraph supervision_tree {{
  "pool" [label="pool\n{}\nsimple_one_for_one", shape=box, style=solid];
  "pool/w#1" [label="w\n{}", shape=ellipse, style=solid];
  "pool" -> "pool/w#1";
  "pool/w#2" [label="w\n{}", shape=ellipse, style=solid];
  "pool" -> "pool/w#2";
  "pool/w#3" [label="w\n{}", shape=ellipse, style=solid];
  "pool" -> "pool/w#3";
}}
)",
                                     pool.pid(), p[0], p[1], p[2]);
  CHECK(dot == expected);
  otpp::stop(pool, exit_reason::shutdown());
}

TEST_CASE("to_json and to_dot escape ids", "[behaviour][supervisor]") {
  otpp::tree_node root;
  root.id = "r\"oot";
  root.strategy = otpp::one_for_all;
  otpp::tree_node leaf;
  leaf.id = "a\\b\nc\x01";
  leaf.type = otpp::child_type::worker;
  leaf.state = otpp::child_info::status::restarting;
  leaf.restarts = 2;
  root.children.push_back(leaf);
  CHECK(
      otpp::to_json(root) ==
      R"({"id": "r\"oot", "pid": null, "type": "supervisor", "restart": "permanent", "status": "running", "restarts": 0, "strategy": "one_for_all", "children": [
  {"id": "a\\b\nc\u0001", "pid": null, "type": "worker", "restart": "permanent", "status": "restarting", "restarts": 2}
]}
)");
  root.children[0].id = "q\"x\\";
  CHECK(otpp::to_dot(root) == R"(digraph supervision_tree {
  "r\"oot" [label="r\"oot\n-\none_for_all", shape=box, style=solid];
  "r\"oot/q\"x\\" [label="q\"x\\\n-\nrestarts: 2", shape=ellipse, style=dashed];
  "r\"oot" -> "r\"oot/q\"x\\";
}
)");
}

TEST_CASE("to_text and fmt print a tree as indented lines, and specs' enums as OTP's atoms",
          "[behaviour][supervisor]") {
  CHECK(fmt::format("{}", otpp::simple_one_for_one) == "simple_one_for_one");
  CHECK(fmt::format("{}", otpp::transient) == "transient");
  CHECK(fmt::format("{:>8}", otpp::child_type::worker) == "  worker");
  CHECK(fmt::format("{}", otpp::child_info::status::restarting) == "restarting");
  otpp::tree_node root;
  root.id = "app";
  root.strategy = otpp::one_for_one;
  otpp::tree_node cache;
  cache.id = "cache";
  cache.type = otpp::child_type::worker;
  otpp::tree_node pool;
  pool.id = "pool";
  pool.strategy = otpp::simple_one_for_one;
  otpp::tree_node conn;
  conn.id = "conn";
  conn.type = otpp::child_type::worker;
  conn.restart = otpp::temporary;
  conn.state = otpp::child_info::status::restarting;
  conn.restarts = 1;
  pool.children.push_back(conn);
  otpp::tree_node last = cache;
  last.id = "log";
  root.children = {cache, pool, last};
  const std::string expected = "app - supervisor one_for_one\n"
                               "|- cache - worker permanent\n"
                               "|- pool - supervisor simple_one_for_one permanent\n"
                               "|  `- conn - worker temporary restarting restarts=1\n"
                               "`- log - worker permanent\n";
  CHECK(otpp::to_text(root) == expected);
  CHECK(fmt::format("{}", root) == expected);
}

} // namespace OTPP_TEST_FILE
