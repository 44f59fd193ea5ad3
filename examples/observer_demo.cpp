// observer_demo: a small service under a supervision tree, with its live
// observer page and its Prometheus metrics endpoint on, until stopped.
//
// Shows:    otpp::http::observer (the trees drawn live, a process table
//           sortable by mailbox, reductions and memory, process details, a
//           kill button) and otpp::http::metrics_endpoint, beside a service
//           whose flaky worker crashes now and then while clients call it.
// OTP idea: observer / observer_cli; a Prometheus exporter.
// Run:      observer_demo [--for SECONDS] [--observer-port N] [--metrics-port N]
//           It prints two lines, then runs until Ctrl-C (or SECONDS):
//             metrics: http://127.0.0.1:PORT/metrics
//             observer: http://127.0.0.1:PORT/?token=...
//           Open the observer line in a browser; point Prometheus at the
//           metrics line.
#include <otpp/behaviour/statem.hpp>
#include <otpp/http/metrics.hpp>
#include <otpp/http/observer.hpp>
#include <otpp/otpp.hpp>

#include <fmt/format.h>

#include <chrono>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <random>
#include <stdexcept>
#include <string>
#include <string_view>

using namespace std::chrono_literals;
namespace tp = otpp::this_process;

namespace {

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

struct square {
  std::int64_t x;
};
auto pool_worker_def =
    otpp::server<int>().name("pool worker").on_call([](int&, square s) { return s.x * s.x; });

struct work {
  int n;
};
auto flaky_def = otpp::server<std::mt19937>()
                     .name("flaky")
                     .init([](unsigned seed) { return std::mt19937(seed); })
                     .on_call([](std::mt19937& rng, work w) {
                       if (rng() % 50 == 0)
                         throw std::runtime_error(fmt::format("flaky failed on {}", w.n));
                       return w.n * 10;
                     });

// A door lock as a state machine: its current state shows on the page.
struct locked {};
struct open {};
struct toggle {};
auto door_def() {
  return otpp::statem<int, locked, open>()
      .on<locked>([](locked&, int& n, toggle) {
        ++n;
        return otpp::sm::next_state(open{});
      })
      .on<open>([](open&, int&, toggle) { return otpp::sm::next_state(locked{}); })
      .named("door");
}

volatile std::sig_atomic_t stop_requested = 0;
extern "C" void on_signal(int) {
  stop_requested = 1;
}

std::uint16_t port_arg(int argc, char** argv, std::string_view name) {
  for (int i = 1; i + 1 < argc; ++i)
    if (argv[i] == name)
      return static_cast<std::uint16_t>(std::strtoul(argv[i + 1], nullptr, 10));
  return 0;
}

} // namespace

int main(int argc, char** argv) {
  const double seconds = [&] {
    for (int i = 1; i + 1 < argc; ++i)
      if (std::string_view(argv[i]) == "--for")
        return std::strtod(argv[i + 1], nullptr);
    return 0.0; // until stopped
  }();
  std::signal(SIGINT, on_signal);
  std::signal(SIGTERM, on_signal);
  otpp::set_report_handler([](const otpp::report&) {}); // the page shows the crashes

  otpp::runtime rt({.schedulers = 2});
  rt.enable_timing_metrics();
  unsigned seed = 7;
  auto pool_spec = otpp::supervisor_spec{.strategy = otpp::simple_one_for_one,
                                         .intensity = 10,
                                         .period = 1s,
                                         .children = {otpp::worker("pool worker", [](int n) {
                                           return otpp::start_link(pool_worker_def, n);
                                         })}};
  auto root_spec = otpp::supervisor_spec{
      .strategy = otpp::one_for_one,
      .intensity = 1000,
      .period = 1s,
      .children =
          {
              otpp::worker("cache", [] { return otpp::start_link(cache_def); }),
              otpp::supervisor("pool", pool_spec),
              otpp::worker("flaky", [&seed] { return otpp::start_link(flaky_def, seed++); }),
              otpp::worker("door", [] { return otpp::start_link(door_def(), 0); }),
          },
      .name = "service"};
  otpp::supervisor_ref root = otpp::start(rt, root_spec);
  {
    otpp::scoped_process setup(rt);
    for (auto& c : otpp::which_children(root))
      if (c.id == "pool")
        for (int i = 1; i <= 3; ++i)
          otpp::start_child(c.pid, i).value();
  }

  // Clients keep the service busy: calls to the flaky worker (which crashes
  // about once in 50 calls and is restarted), the cache and the door.
  for (int c = 0; c < 3; ++c)
    rt.spawn([c, root] {
      tp::set_label(fmt::format("client {}", c));
      for (int i = 0;; ++i) {
        for (const auto& ch : otpp::which_children(root)) {
          if (ch.id == "flaky" && ch.pid)
            (void)otpp::try_call<int>(ch.pid, work{c * 1000 + i}, 1s);
          else if (ch.id == "cache" && ch.pid)
            (void)otpp::try_call<std::size_t>(ch.pid, put{fmt::format("k{}", i % 10), "v"}, 1s);
          else if (ch.id == "door" && ch.pid && i % 8 == 0)
            otpp::cast(ch.pid, toggle{});
        }
        tp::sleep_for(20ms);
      }
    });

  otpp::http::metrics_endpoint metrics(rt, {.port = port_arg(argc, argv, "--metrics-port")});
  otpp::http::observer page(rt, {.server = {.port = port_arg(argc, argv, "--observer-port")}});
  fmt::print("metrics: {}\nobserver: {}\n", metrics.url(), page.url());
  std::fflush(stdout);

  const auto until = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
  while (stop_requested == 0 && (seconds <= 0 || std::chrono::steady_clock::now() < until))
    std::this_thread::sleep_for(50ms);
  fmt::print("stopping\n");
  rt.shutdown();
  return 0;
}
