// The runtime's metrics served over HTTP: read by a client, checked by
// promtool, scraped by a real Prometheus server that then answers a query.
// Behaviours' metrics: restarts per supervisor, call time per server.
// Distributed under the Boost Software License, Version 1.0.
#include <otpp/http/metrics.hpp>

#include <otpp/behaviour/call.hpp>
#include <otpp/behaviour/server.hpp>
#include <otpp/behaviour/supervisor.hpp>

#include "http_client.hpp"
#include "math_server.hpp"
#include "otpp_test.hpp"

#include <boost/asio/ip/tcp.hpp>

#include <catch2/catch.hpp>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <signal.h>
#include <spawn.h>
#include <string>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>
#include <vector>

extern char** environ;

namespace OTPP_TEST_FILE {

using namespace std::chrono_literals;
namespace tp = otpp::this_process;
using otpp_test::http_get;
using otpp_test::reply;

namespace {

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

// A temporary directory, removed with everything in it.
struct temp_dir {
  std::filesystem::path path;
  temp_dir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "otpp-metrics-XXXXXX").string();
    REQUIRE(::mkdtemp(tmpl.data()) != nullptr);
    path = tmpl;
  }
  temp_dir(const temp_dir&) = delete;
  temp_dir& operator=(const temp_dir&) = delete;
  ~temp_dir() {
    std::error_code ignored;
    std::filesystem::remove_all(path, ignored);
  }
};

// A child program, stopped (SIGTERM, then waited for) when this goes.
struct child_program {
  pid_t pid = -1;
  child_program(std::vector<std::string> argv, const std::filesystem::path& log) {
    std::vector<char*> args;
    for (auto& a : argv)
      args.push_back(a.data());
    args.push_back(nullptr);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_adddup2(&fa, 1, 2);
    const int rc = ::posix_spawn(&pid, args[0], &fa, nullptr, args.data(), environ);
    posix_spawn_file_actions_destroy(&fa);
    if (rc != 0)
      FAIL("cannot start " << argv[0] << " (install it: scripts/setup.sh)");
  }
  child_program(const child_program&) = delete;
  child_program& operator=(const child_program&) = delete;
  ~child_program() {
    if (pid > 0) {
      ::kill(pid, SIGTERM);
      int status = 0;
      ::waitpid(pid, &status, 0);
    }
  }
};

// A port free on 127.0.0.1 now (the kernel's pick for a socket just closed).
std::uint16_t free_port() {
  boost::asio::io_context io;
  boost::asio::ip::tcp::acceptor a(io, {boost::asio::ip::make_address("127.0.0.1"), 0});
  return a.local_endpoint().port();
}

std::string read_file(const std::filesystem::path& p) {
  std::ifstream in(p);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

} // namespace

TEST_CASE("metrics over HTTP: the runtime's counters, restarts per supervisor and call time per "
          "server, in a format promtool accepts",
          "[behaviour][metrics]") {
  OTPP_TEST_RUNTIME({.schedulers = 2});
  otpp_test::report_guard g(otpp_test::quiet());
  rt.enable_timing_metrics();
  auto sup = otpp::start(otpp::supervisor_spec{
      .strategy = otpp::one_for_one,
      .intensity = 10,
      .children = {otpp::worker("w", [] { return otpp::spawn_link(otpp_test::wait_forever); })},
      .name = "metrics_sup"});
  for (int i = 0; i < 2; ++i) {
    const otpp::pid before = otpp::which_children(sup).front().pid;
    otpp::kill(before);
    for (auto until = std::chrono::steady_clock::now() + otpp_test::patience;
         otpp::which_children(sup).front().pid == before;)
      REQUIRE(std::chrono::steady_clock::now() < until);
  }
  auto math = otpp::start(otpp_test::math().name("math"), 0);
  for (int i = 0; i < 7; ++i)
    CHECK(otpp::call(math, otpp_test::add{1, 2}) == 3);

  otpp::http::metrics_endpoint endpoint(rt);
  CHECK(endpoint.url() == fmt::format("http://127.0.0.1:{}/metrics", endpoint.port()));
  const reply r = http_get(endpoint.port(), "/metrics");
  CHECK(r.status == 200);
  CHECK(r.content_type == "text/plain; version=0.0.4; charset=utf-8");
  CHECK(contains(r.body, "otpp_supervisor_restarts_total{supervisor=\"metrics_sup\"} 2\n"));
  CHECK(contains(r.body, "otpp_server_call_duration_seconds_count{server=\"math\"} 7\n"));
  CHECK(contains(r.body,
                 "otpp_server_call_duration_seconds_bucket{server=\"math\",le=\"+Inf\"} 7\n"));
  CHECK(contains(r.body, "otpp_exits_total{reason=\"killed\"} 2\n"));
  CHECK(contains(r.body, "# TYPE otpp_scheduler_active_seconds_total counter\n"));

  // promtool, Prometheus's own checker, on what was served.
  temp_dir dir;
  {
    std::ofstream out(dir.path / "metrics.txt");
    out << r.body;
  }
  const std::string cmd =
      fmt::format("promtool check metrics < '{}' > '{}' 2>&1", (dir.path / "metrics.txt").string(),
                  (dir.path / "promtool.txt").string());
  const int rc = std::system(cmd.c_str());
  INFO("promtool says: " << read_file(dir.path / "promtool.txt"));
  CHECK(rc == 0);

  otpp::stop(math);
  otpp::stop(sup);
}

TEST_CASE("metrics over HTTP: an access token, unknown paths, other methods, hostile requests "
          "and too many connections get clear answers and the server goes on",
          "[behaviour][metrics]") {
  OTPP_TEST_RUNTIME({.schedulers = 1});
  otpp::http::metrics_endpoint endpoint(
      rt, {.token = "s3cret", .max_request_bytes = 1024, .max_connections = 4});
  const std::uint16_t port = endpoint.port();
  CHECK(http_get(port, "/metrics").status == 401);
  CHECK(http_get(port, "/metrics", "Bearer wrong").status == 401);
  CHECK(http_get(port, "/metrics?token=s3cre").status == 401);
  CHECK(http_get(port, "/metrics", "Bearer s3cret").status == 200);
  CHECK(http_get(port, "/metrics?token=s3cret").status == 200);
  const reply missing = http_get(port, "/nothing?token=s3cret");
  CHECK(missing.status == 404);
  CHECK(contains(missing.body, "/nothing"));
  CHECK(http_get(port, "/metrics?token=s3cret", {},
                 "POST /metrics?token=s3cret HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n")
            .status == 405);
  const std::string huge(4096, 'x');
  CHECK(http_get(port, "", {}, "GET /metrics HTTP/1.1\r\nHost: x\r\nX-Big: " + huge + "\r\n\r\n")
            .status == 413);
  CHECK(http_get(port, "", {}, "NOT HTTP AT ALL\r\n\r\n").status == 400);
  {
    // Connections beyond the limit get 503; once the others close, it serves again.
    boost::asio::io_context io;
    std::vector<boost::asio::ip::tcp::socket> idle;
    for (int i = 0; i < 4; ++i) {
      idle.emplace_back(io);
      idle.back().connect({boost::asio::ip::make_address("127.0.0.1"), port});
    }
    CHECK(http_get(port, "/metrics", "Bearer s3cret").status == 503);
    idle.clear();
    unsigned status = 0;
    for (auto until = std::chrono::steady_clock::now() + otpp_test::patience;
         status != 200 && std::chrono::steady_clock::now() < until;)
      status = http_get(port, "/metrics", "Bearer s3cret").status;
    CHECK(status == 200);
  }
  // Still serving.
  CHECK(contains(http_get(port, "/metrics", "Bearer s3cret").body, "otpp_processes "));
}

TEST_CASE("metrics over HTTP: a Prometheus server scrapes the endpoint and answers a query for an "
          "otpp metric",
          "[behaviour][metrics]") {
  OTPP_TEST_RUNTIME({.schedulers = 2});
  for (int i = 0; i < 5; ++i)
    rt.spawn([] {});
  otpp::http::metrics_endpoint endpoint(rt);
  temp_dir dir;
  const std::uint16_t web = free_port();
  {
    std::ofstream cfg(dir.path / "prometheus.yml");
    cfg << "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n"
        << "scrape_configs:\n  - job_name: otpp\n    static_configs:\n"
        << "      - targets: ['127.0.0.1:" << endpoint.port() << "']\n";
  }
  child_program prometheus({"/usr/bin/prometheus",
                            "--config.file=" + (dir.path / "prometheus.yml").string(),
                            "--storage.tsdb.path=" + (dir.path / "data").string(),
                            "--web.listen-address=127.0.0.1:" + std::to_string(web)},
                           dir.path / "prometheus.log");
  // Ask until the scrape has happened: the query answers a sample of
  // otpp_spawns_total from job "otpp".
  std::string answer;
  bool found = false;
  const auto until = std::chrono::steady_clock::now() + 90s;
  while (!found && std::chrono::steady_clock::now() < until) {
    std::this_thread::sleep_for(250ms);
    try {
      const reply r = http_get(web, "/api/v1/query?query=otpp_spawns_total%7Bjob%3D%22otpp%22%7D");
      answer = r.body;
      found = r.status == 200 && contains(answer, "\"__name__\":\"otpp_spawns_total\"");
    } catch (const std::exception&) {
      // not listening yet
    }
  }
  INFO("last answer: " << answer);
  INFO("prometheus log: " << read_file(dir.path / "prometheus.log"));
  REQUIRE(found);
  CHECK(contains(answer, "\"status\":\"success\""));
  CHECK(contains(answer, fmt::format("\"instance\":\"127.0.0.1:{}\"", endpoint.port())));
  CHECK(contains(answer, ",\"5\"]")); // [time, "value"]: the 5 spawns
}

} // namespace OTPP_TEST_FILE
