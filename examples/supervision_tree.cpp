// supervision_tree: a small service under a supervision tree, restarting
// what crashes while clients keep calling it.
//
// Shows:    a one_for_one root supervisor with a cache server, a nested
//           simple_one_for_one worker pool (children added at run time with
//           start_child) and a flaky worker that crashes at random; clients
//           calling through the crashes (try_call: a reply or an error,
//           never a hang); supervisor reports through a report handler; the
//           live tree printed before and after, as text and as Graphviz DOT.
// OTP idea: supervisor:start_link/2 with child specs, one_for_one and
//           simple_one_for_one, restart intensity, supervisor:which_children/1,
//           the SASL supervisor reports.
// Run:      bash scripts/demo.sh   (or build the `supervision_tree` target)
#include <otpp/otpp.hpp>

#include <fmt/format.h>

#include <chrono>
#include <cstdint>
#include <map>
#include <mutex>
#include <random>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

using namespace std::chrono_literals;
namespace tp = otpp::this_process;

namespace {

// --- the cache: a key-value server -----------------------------------------
struct put {
  std::string key, value;
};
struct get {
  std::string key;
};
auto cache_def = otpp::server<std::map<std::string, std::string>>()
                     .name("cache")
                     .on_call([](auto& m, put p) {
                       m[p.key] = p.value;
                       return m.size();
                     })
                     .on_call([](auto& m, const get& g) -> std::string {
                       auto it = m.find(g.key);
                       return it == m.end() ? std::string("(none)") : it->second;
                     });

// --- the pool: workers that square numbers ----------------------------------
struct square {
  std::int64_t x;
};
auto pool_worker_def = otpp::server<int>() // state: the worker's number
                           .name("pool worker")
                           .on_call([](int&, square s) { return s.x * s.x; });

// --- the flaky worker: crashes on about one request in four -----------------
struct work {
  int n;
};
auto flaky_def = otpp::server<std::mt19937>()
                     .name("flaky")
                     .init([](unsigned seed) { return std::mt19937(seed); })
                     .on_call([](std::mt19937& rng, work w) {
                       if (rng() % 4 == 0)
                         throw std::runtime_error(fmt::format("flaky failed on {}", w.n));
                       return w.n * 10;
                     });

void print_tree(const otpp::tree_node& n, int depth = 0) {
  fmt::print("  {:{}}{} {} [{}{}]{}\n", "", depth * 2, n.id,
             n.pid ? fmt::format("{}", n.pid) : std::string("-"),
             n.type == otpp::child_type::supervisor ? "supervisor" : "worker",
             n.restarts != 0 ? fmt::format(", {} restarts", n.restarts) : std::string(),
             n.state == otpp::child_info::status::running ? "" : " (not running)");
  for (auto& c : n.children)
    print_tree(c, depth + 1);
}

} // namespace

int main(int argc, char** argv) {
  // `supervision_tree --tree` prints the tree its spec describes, as JSON,
  // and starts nothing: what a CI job diffs against main's (otpp-tree-diff,
  // docs/tree-diff.md). `--tree-dot` prints it as Graphviz DOT.
  const std::string_view mode = argc > 1 ? argv[1] : "";
  // Supervisor reports (child exits, restarts) print as they happen.
  std::mutex out;
  otpp::set_report_handler([&out](const otpp::report& r) {
    if (r.kind != otpp::report_kind::supervisor)
      return;
    std::lock_guard lock(out);
    fmt::print("  report: {}\n", r.text);
  });

  unsigned seed = 7;
  auto pool_spec = otpp::supervisor_spec{.strategy = otpp::simple_one_for_one,
                                         .intensity = 10,
                                         .period = 1s,
                                         .children = {otpp::worker("pool worker", [](int n) {
                                           return otpp::start_link(pool_worker_def, n);
                                         })}};
  auto root_spec = otpp::supervisor_spec{
      .strategy = otpp::one_for_one,
      .intensity = 20,
      .period = 5s,
      .children =
          {
              otpp::worker("cache", [] { return otpp::start_link(cache_def); }),
              otpp::supervisor("pool", pool_spec),
              otpp::worker("flaky", [&seed] { return otpp::start_link(flaky_def, seed++); }),
          },
      .name = "service"};
  if (mode == "--tree" || mode == "--tree-dot") {
    otpp::tree_node tree = otpp::spec_tree(root_spec);
    fmt::print("{}", mode == "--tree" ? otpp::to_json(tree) : otpp::to_dot(tree));
    return 0;
  }
  otpp::runtime rt;
  otpp::supervisor_ref root = otpp::start(rt, root_spec);

  otpp::scoped_process main_process(rt); // main talks to the tree as a process
  otpp::pid pool;
  for (auto& c : otpp::which_children(root))
    if (c.id == "pool")
      pool = c.pid;
  for (int i = 1; i <= 3; ++i)
    otpp::start_child(pool, i).value();

  fmt::print("the tree at start:\n");
  print_tree(otpp::supervision_tree(root, "service"));

  // Clients: each calls the flaky worker and the cache; the flaky one
  // crashes now and then and is restarted under them.
  struct client_done {
    int ok, failed;
  };
  otpp::pid me = tp::self();
  for (int c = 0; c < 3; ++c)
    otpp::spawn([me, c, root] {
      int ok = 0, failed = 0;
      for (int i = 0; i < 8; ++i) {
        otpp::pid flaky;
        for (auto& ch : otpp::which_children(root))
          if (ch.id == "flaky")
            flaky = ch.pid;
        auto r = otpp::try_call<int>(flaky, work{c * 100 + i}, 1s);
        r ? ++ok : ++failed;
        tp::sleep_for(2ms);
      }
      otpp::send(me, client_done{ok, failed});
    });
  int ok = 0, failed = 0;
  for (int c = 0; c < 3; ++c) {
    auto d = tp::receive<client_done>();
    ok += d.ok;
    failed += d.failed;
  }
  {
    std::lock_guard lock(out);
    fmt::print("clients: {} calls answered, {} failed because the flaky worker crashed\n", ok,
               failed);
  }

  // The cache and the pool were not disturbed by the flaky worker's crashes.
  otpp::pid cache;
  for (auto& c : otpp::which_children(root))
    if (c.id == "cache")
      cache = c.pid;
  otpp::call<std::size_t>(cache, put{"answer", "42"});
  std::int64_t sq = otpp::call<std::int64_t>(otpp::which_children(pool).front().pid, square{12});
  fmt::print("cache answer = {}, pool: 12 squared = {}\n",
             otpp::call<std::string>(cache, get{"answer"}), sq);

  fmt::print("the tree after:\n");
  auto tree = otpp::supervision_tree(root, "service");
  print_tree(tree);
  fmt::print("as Graphviz DOT:\n{}", otpp::to_dot(tree));

  otpp::stop(root, otpp::exit_reason::shutdown());
  fmt::print("stopped the tree; {} processes left\n", rt.process_count());
  otpp::set_report_handler({});
  return ok + failed == 24 ? 0 : 1;
}
