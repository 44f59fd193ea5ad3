// Real Erlang nodes for the distribution tests: a private epmd, `erl`
// nodes started and killed by the test, and a small blocking TCP client
// (plain sockets with timeouts, so a test fails instead of hanging).
// Distributed under the Boost Software License, Version 1.0.
#pragma once

#include <otpp/dist/epmd.hpp>
#include <otpp/dist/handshake.hpp>
#include <otpp/dist/node.hpp>
#include <otpp/dist/protocol.hpp>

#include <fmt/format.h>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <optional>
#include <random>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

extern char** environ;

namespace otpp_test {

// A child process, killed (SIGKILL) and reaped when this goes.
class child_process {
public:
  child_process(std::vector<std::string> argv, std::vector<std::string> extra_env,
                std::string output_file) {
    std::vector<std::string> env;
    for (char** e = environ; *e != nullptr; ++e)
      env.emplace_back(*e);
    env.insert(env.end(), extra_env.begin(), extra_env.end());
    std::vector<char*> av, ev;
    for (auto& a : argv)
      av.push_back(a.data());
    av.push_back(nullptr);
    for (auto& e : env)
      ev.push_back(e.data());
    ev.push_back(nullptr);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 1, output_file.c_str(), O_WRONLY | O_CREAT | O_TRUNC,
                                     0644);
    posix_spawn_file_actions_adddup2(&fa, 1, 2);
    const int rc = posix_spawnp(&pid_, av[0], &fa, nullptr, av.data(), ev.data());
    posix_spawn_file_actions_destroy(&fa);
    if (rc != 0)
      throw std::runtime_error(fmt::format("cannot start {}: {}", argv[0], std::strerror(rc)));
  }
  child_process(const child_process&) = delete;
  child_process& operator=(const child_process&) = delete;
  ~child_process() { stop(); }

  void stop() {
    if (pid_ <= 0)
      return;
    ::kill(pid_, SIGKILL);
    int status = 0;
    ::waitpid(pid_, &status, 0);
    pid_ = -1;
  }
  // Wait (up to `limit`) for it to exit by itself; true if it did.
  bool wait_exit(std::chrono::seconds limit) {
    const auto end = std::chrono::steady_clock::now() + limit;
    while (std::chrono::steady_clock::now() < end) {
      int status = 0;
      if (::waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        return true;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return false;
  }

  pid_t pid() const noexcept { return pid_; }

private:
  pid_t pid_ = -1;
};

inline std::string read_file(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// A TCP connection on 127.0.0.1 with a receive timeout.
class tcp_conn {
public:
  explicit tcp_conn(int fd) : fd_(fd) {
    timeval tv{20, 0};
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    int one = 1;
    ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  }
  static tcp_conn connect(std::uint16_t port) {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
      ::close(fd);
      throw std::runtime_error(fmt::format("connect to 127.0.0.1:{} failed", port));
    }
    return tcp_conn(fd);
  }
  tcp_conn(tcp_conn&& o) noexcept : fd_(std::exchange(o.fd_, -1)) {}
  tcp_conn(const tcp_conn&) = delete;
  ~tcp_conn() {
    if (fd_ >= 0)
      ::close(fd_);
  }
  void write(const std::string& b) {
    std::size_t done = 0;
    while (done < b.size()) {
      const ssize_t n = ::send(fd_, b.data() + done, b.size() - done, MSG_NOSIGNAL);
      if (n <= 0)
        throw std::runtime_error("send failed");
      done += static_cast<std::size_t>(n);
    }
  }
  // Some bytes; empty when the peer closed; throws on a timeout.
  std::string read_some() {
    char buf[4096];
    const ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
    if (n < 0)
      throw std::runtime_error("recv timed out or failed");
    return std::string(buf, static_cast<std::size_t>(n));
  }
  std::string read_exact(std::size_t n) {
    std::string out;
    while (out.size() < n) {
      char buf[4096];
      const ssize_t k = ::recv(fd_, buf, std::min(sizeof buf, n - out.size()), 0);
      if (k <= 0)
        throw std::runtime_error("connection closed or timed out");
      out.append(buf, static_cast<std::size_t>(k));
    }
    return out;
  }
  std::string read_all() {
    std::string out;
    for (std::string b = read_some(); !b.empty(); b = read_some())
      out += b;
    return out;
  }

private:
  int fd_;
};

inline std::uint16_t free_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
  socklen_t len = sizeof a;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  ::close(fd);
  return ntohs(a.sin_port);
}

// A listening socket on 127.0.0.1 (an ephemeral port).
class tcp_listener {
public:
  tcp_listener() : fd_(::socket(AF_INET, SOCK_STREAM, 0)) {
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a);
    ::listen(fd_, 4);
    socklen_t len = sizeof a;
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
  }
  tcp_listener(const tcp_listener&) = delete;
  ~tcp_listener() { ::close(fd_); }
  std::uint16_t port() const noexcept { return port_; }
  tcp_conn accept(std::chrono::seconds limit) {
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(limit.count() * 1000)) != 1)
      throw std::runtime_error("no connection came");
    return tcp_conn(::accept(fd_, nullptr, nullptr));
  }

private:
  int fd_;
  std::uint16_t port_ = 0;
};

// Run a handshake over `c` to its end; false if the peer closed first.
inline bool run_handshake(tcp_conn& c, otpp::dist::handshake& h, std::string* leftover = nullptr) {
  c.write(h.take_output());
  while (!h.done()) {
    const std::string in = c.read_some();
    if (in.empty())
      return false;
    h.feed(in);
    c.write(h.take_output());
  }
  if (leftover != nullptr)
    *leftover = h.take_leftover();
  return true;
}

// The next packet that is not a tick.
inline otpp::dist::packet read_packet(tcp_conn& c, std::string& pending) {
  for (;;) {
    while (pending.size() < 4)
      pending += c.read_exact(1);
    std::uint32_t n = 0;
    for (int i = 0; i < 4; ++i)
      n = (n << 8) | static_cast<std::uint8_t>(pending[static_cast<std::size_t>(i)]);
    if (pending.size() < 4 + n)
      pending += c.read_exact(4 + n - pending.size());
    const std::string body = pending.substr(4, n);
    pending.erase(0, 4 + n);
    if (n == 0)
      continue; // a tick
    return otpp::dist::parse_packet(body);
  }
}

// A private epmd on its own port, and Erlang nodes that use it.
class beam_cluster {
public:
  beam_cluster()
      : dir_(make_dir()), epmd_port_(free_port()),
        epmd_({"epmd", "-port", std::to_string(epmd_port_), "-address", "127.0.0.1"}, {},
              (dir_ / "epmd.log").string()) {
    wait_until([&] {
      try {
        tcp_conn::connect(epmd_port_);
        return true;
      } catch (const std::exception&) {
        return false;
      }
    });
  }
  beam_cluster(const beam_cluster&) = delete;
  ~beam_cluster() {
    nodes_.clear();
    epmd_.stop();
    std::filesystem::remove_all(dir_);
  }

  std::uint16_t epmd_port() const noexcept { return epmd_port_; }
  const std::filesystem::path& dir() const noexcept { return dir_; }

  // Start `erl -name <alive>@127.0.0.1 -setcookie <cookie>` running `eval`
  // (then staying up; it halts by itself after a minute, in case).
  // Modules compiled with `compile` are on its code path.
  // `extra`: more arguments for erl (before -eval).
  child_process& start_node(const std::string& alive, const std::string& cookie,
                            const std::string& eval, std::vector<std::string> extra = {}) {
    return start_erl({"-name", alive + "@127.0.0.1"}, alive, cookie, eval, std::move(extra));
  }
  // The same with a short name, `-sname <alive>@localhost`.
  child_process& start_short_node(const std::string& alive, const std::string& cookie,
                                  const std::string& eval) {
    return start_erl({"-sname", alive + "@localhost"}, alive, cookie, eval, {});
  }

private:
  child_process& start_erl(std::vector<std::string> name, const std::string& alive,
                           const std::string& cookie, const std::string& eval,
                           std::vector<std::string> extra) {
    std::vector<std::string> argv{"erl",
                                  name[0],
                                  name[1],
                                  "-setcookie",
                                  cookie,
                                  "-noshell",
                                  "-noinput",
                                  "-pa",
                                  dir_.string(),
                                  "-kernel",
                                  "inet_dist_use_interface",
                                  "{127,0,0,1}"};
    argv.insert(argv.end(), extra.begin(), extra.end());
    argv.insert(argv.end(), {"-eval", "timer:apply_after(60000, erlang, halt, []), " + eval});
    nodes_.push_back(std::make_unique<child_process>(
        std::move(argv), std::vector<std::string>{fmt::format("ERL_EPMD_PORT={}", epmd_port_)},
        (dir_ / (alive + ".log")).string()));
    return *nodes_.back();
  }

public:
  // Where epmd says `alive` listens (waits for it to register).
  std::uint16_t node_port(const std::string& alive) {
    std::optional<otpp::dist::epmd::node_port> found;
    wait_until([&] {
      auto c = tcp_conn::connect(epmd_port_);
      c.write(otpp::dist::epmd::port_please2_request(alive));
      found = otpp::dist::epmd::parse_port2_response(c.read_all());
      return found.has_value();
    });
    if (!found)
      throw std::runtime_error(
          fmt::format("node {} never registered: {}", alive, read_file(dir_ / (alive + ".log"))));
    return found->port;
  }

  // Compile an Erlang module (erlc) onto the nodes' code path.
  void compile(const std::string& source) {
    const std::string cmd = fmt::format("erlc -o '{}' '{}' > '{}' 2>&1", dir_.string(), source,
                                        (dir_ / "erlc.log").string());
    if (std::system(cmd.c_str()) != 0)
      throw std::runtime_error(
          fmt::format("erlc {} failed: {}", source, read_file(dir_ / "erlc.log")));
  }

  std::string log_of(const std::string& alive) const { return read_file(dir_ / (alive + ".log")); }

  // Wait until node `alive` has printed `line` (its eval code says when it
  // is ready: epmd knows a node before its eval code has run).
  void wait_for_output(const std::string& alive, const std::string& line) {
    wait_until([&] { return log_of(alive).find(line) != std::string::npos; });
    if (log_of(alive).find(line) == std::string::npos)
      throw std::runtime_error(
          fmt::format("node {} never printed '{}': {}", alive, line, log_of(alive)));
  }

  template <class F> static void wait_until(F&& ready) {
    const auto end = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    while (!ready() && std::chrono::steady_clock::now() < end)
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }

private:
  static std::filesystem::path make_dir() {
    char tmpl[] = "/tmp/otpp_dist_XXXXXX";
    if (mkdtemp(tmpl) == nullptr)
      throw std::runtime_error("mkdtemp failed");
    return tmpl;
  }

  std::filesystem::path dir_;
  std::uint16_t epmd_port_;
  child_process epmd_;
  std::vector<std::unique_ptr<child_process>> nodes_;
};

// An otpp node on `cluster`'s epmd.
inline std::shared_ptr<otpp::dist::node> start_dist_node(const beam_cluster& cluster,
                                                         const std::string& name,
                                                         const std::string& cookie = "secret") {
  otpp::dist::node_options o;
  o.name = name;
  o.cookie = cookie;
  o.epmd_port = cluster.epmd_port();
  return otpp::dist::node::start(std::move(o));
}

// Start node `beam` with a process registered as `echo` that answers
// `{From, Msg}` with `{echo, Msg}`; returns once `echo` is registered.
inline child_process& start_echo_node(beam_cluster& cluster) {
  auto& node = cluster.start_node(
      "beam", "secret",
      "register(echo, spawn(fun Loop() -> receive {From, Msg} -> From ! {echo, Msg}, Loop() end "
      "end)), io:format(\"echo ready~n\").");
  cluster.wait_for_output("beam", "echo ready");
  return node;
}

inline std::uint32_t random_challenge() {
  std::random_device rd;
  return rd();
}

} // namespace otpp_test
