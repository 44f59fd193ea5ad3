// A distribution channel: one TCP connection to a peer node, found through
// epmd and opened with the handshake, on Asio, suspending only the process
// that uses it.
// Distributed under the Boost Software License, Version 1.0.
#pragma once

#include <otpp/core/asio.hpp>
#include <otpp/core/duration.hpp>
#include <otpp/core/pid.hpp>
#include <otpp/core/process.hpp>
#include <otpp/core/receive.hpp>
#include <otpp/dist/control.hpp>
#include <otpp/dist/epmd.hpp>
#include <otpp/dist/handshake.hpp>
#include <otpp/dist/protocol.hpp>

#include <boost/asio/buffer.hpp>
#include <boost/asio/error.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>
#include <boost/system/error_code.hpp>
#include <boost/system/system_error.hpp>
#include <fmt/format.h>

#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <random>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace otpp::dist {

/// A node name split in two: `alive@host`.
struct node_name_parts {
  std::string alive;
  std::string host;
};

/// Split `alive@host`; throws `std::invalid_argument` for anything else.
inline node_name_parts split_node_name(std::string_view node) {
  const std::size_t at = node.find('@');
  if (at == 0 || at == std::string_view::npos || at + 1 == node.size() ||
      node.find('@', at + 1) != std::string_view::npos)
    throw std::invalid_argument(
        fmt::format("otpp::dist: '{}' is not a node name (alive@host)", node));
  return {std::string(node.substr(0, at)), std::string(node.substr(at + 1))};
}

} // namespace otpp::dist

namespace otpp::detail {

using dist_tcp = boost::asio::ip::tcp;

// The IPv4 or IPv6 address of a node's host: a numeric address, or a name
// resolved by the system (suspending the calling process).
inline boost::asio::ip::address dist_host_address(const std::string& host) {
  boost::system::error_code ec;
  auto a = boost::asio::ip::make_address(host, ec);
  if (!ec)
    return a;
  dist_tcp::resolver resolver(this_process::executor());
  auto results = resolver.async_resolve(host, "", use_process);
  if (results.empty())
    throw std::runtime_error(fmt::format("otpp::dist: cannot resolve host '{}'", host));
  return results.begin()->endpoint().address();
}

inline dist_tcp::socket dist_connect(const boost::asio::ip::address& a, std::uint16_t port) {
  dist_tcp::socket s(this_process::executor());
  s.async_connect(dist_tcp::endpoint(a, port), use_process);
  s.set_option(dist_tcp::no_delay(true));
  return s;
}

struct dist_read_done {
  std::uint64_t id;
};

// Read some bytes, at most `timeout` (closing the socket then): what came
// (empty: the peer closed the connection).
inline std::string dist_read_some_for(dist_tcp::socket& s, duration timeout, const char* what) {
  const std::uint64_t id = make_ref().value();
  std::string buf(4096, '\0');
  s.async_read_some(boost::asio::buffer(buf), to_mailbox(dist_read_done{id}));
  using result = io_result<dist_read_done, boost::system::error_code, std::size_t>;
  auto done = [id](const result& r) { return r.tag.id == id; };
  auto got = this_process::receive(when(done, [](result& r) { return std::optional<result>(r); }),
                                   after(timeout, [] { return std::optional<result>(); }));
  if (!got) {
    boost::system::error_code ignored;
    s.close(ignored); // the read completes (aborted): wait for it, it writes into buf
    this_process::receive(when(done, [](result&) {}));
    throw std::runtime_error(fmt::format(
        "otpp::dist: no answer within {} ms {}",
        std::chrono::duration_cast<std::chrono::milliseconds>(timeout.get()).count(), what));
  }
  const auto& [ec, n] = got->args;
  if (ec == boost::asio::error::eof)
    return {};
  if (ec)
    throw boost::system::system_error(ec, fmt::format("otpp::dist: {}", what));
  buf.resize(n);
  return buf;
}

inline std::uint32_t dist_random_challenge() {
  static thread_local std::random_device rd;
  return rd();
}

} // namespace otpp::detail

namespace otpp::dist {

/// Where epmd on `host` says node `alive` listens; nothing if it is not
/// registered there.
/// @par Suspends
/// The calling process (a process: uses `use_process`).
/// @par Errors
/// `boost::system::system_error` if epmd cannot be reached; `protocol_error`
/// for an answer that is not epmd's.
inline std::optional<epmd::node_port> epmd_lookup(const std::string& host, std::string_view alive,
                                                  std::uint16_t epmd_port = epmd::default_port()) {
  auto s = detail::dist_connect(detail::dist_host_address(host), epmd_port);
  const std::string req = epmd::port_please2_request(alive);
  boost::asio::async_write(s, boost::asio::buffer(req), use_process);
  std::string answer;
  for (std::string b = detail::dist_read_some_for(s, std::chrono::seconds(10), "from epmd");
       !b.empty(); b = detail::dist_read_some_for(s, std::chrono::seconds(10), "from epmd"))
    answer += b;
  return epmd::parse_port2_response(answer);
}

/// A node's registration with the local epmd (127.0.0.1): it lasts while
/// this object lives (epmd drops it when the connection closes).
class epmd_registration {
public:
  /// Register `alive` as listening on `port`.
  /// @par Errors
  /// `protocol_error` if epmd refuses (the name is taken);
  /// `boost::system::system_error` if epmd cannot be reached.
  static epmd_registration make(std::string_view alive, std::uint16_t port,
                                std::uint16_t epmd_port = epmd::default_port()) {
    auto s = detail::dist_connect(boost::asio::ip::address_v4::loopback(), epmd_port);
    const std::string req = epmd::alive2_request(port, alive);
    boost::asio::async_write(s, boost::asio::buffer(req), use_process);
    std::string answer;
    for (;;) {
      std::string b = detail::dist_read_some_for(s, std::chrono::seconds(10), "from epmd");
      if (b.empty())
        throw protocol_error("otpp::dist::epmd: epmd closed the registration");
      answer += b;
      if (auto creation = epmd::parse_alive2_response(answer))
        return epmd_registration(std::move(s), *creation);
    }
  }
  /// The same; if no epmd answers, start one (`epmd -daemon` on
  /// `epmd_port`, as erl does; bound to 127.0.0.1 when `loopback`) and try
  /// again for a few seconds. Suspends the calling process only.
  /// @par Errors
  /// As `make`; `std::runtime_error` if `epmd` cannot be started.
  static epmd_registration make_or_start(std::string_view alive, std::uint16_t port,
                                         std::uint16_t epmd_port, bool loopback) {
    try {
      return make(alive, port, epmd_port);
    } catch (const boost::system::system_error& e) {
      if (e.code() != boost::asio::error::connection_refused)
        throw;
    }
    start_epmd(epmd_port, loopback);
    for (int attempt = 0;; ++attempt) {
      try {
        return make(alive, port, epmd_port);
      } catch (const boost::system::system_error& e) {
        if (e.code() != boost::asio::error::connection_refused || attempt == 50)
          throw;
      }
      this_process::sleep_for(std::chrono::milliseconds(100));
    }
  }
  /// The creation epmd gave this incarnation of the node.
  std::uint32_t creation() const noexcept { return creation_; }

private:
  static void start_epmd(std::uint16_t epmd_port, bool loopback) {
    std::vector<std::string> args{"epmd", "-daemon", "-port", std::to_string(epmd_port)};
    if (loopback) {
      args.emplace_back("-address");
      args.emplace_back("127.0.0.1");
    }
    std::vector<char*> argv;
    for (auto& a : args)
      argv.push_back(a.data());
    argv.push_back(nullptr);
    ::pid_t child = 0;
    if (::posix_spawnp(&child, "epmd", nullptr, nullptr, argv.data(), environ) != 0)
      throw std::runtime_error(
          fmt::format("otpp::dist: no epmd answers on port {} and `epmd` cannot be started (is "
                      "erlang-base installed?)",
                      epmd_port));
    int status = 0;
    ::waitpid(child, &status, 0); // `epmd -daemon` returns once it has forked
  }

  epmd_registration(detail::dist_tcp::socket s, std::uint32_t c)
      : socket_(std::move(s)), creation_(c) {}
  detail::dist_tcp::socket socket_;
  std::uint32_t creation_;
};

/// One connection to a peer node after a successful handshake: packets in
/// and out. Used by one process (the one that made it): its operations
/// suspend that process only.
class channel {
public:
  /// How long a handshake may take before the connection is dropped.
  static constexpr std::chrono::seconds handshake_timeout{10};

  /// Connect to node `peer` (`alive@host`) through epmd on its host, and
  /// complete the handshake as the initiator.
  /// @par Errors
  /// `handshake_error` (refused, other cookie, peer too old),
  /// `protocol_error`, `std::runtime_error` (no such node, a timeout),
  /// `boost::system::system_error` (the network).
  static channel connect(std::string_view peer, const node_identity& self,
                         const std::string& cookie,
                         std::uint16_t epmd_port = epmd::default_port()) {
    const node_name_parts parts = split_node_name(peer);
    const auto address = detail::dist_host_address(parts.host);
    const auto where = epmd_lookup(parts.host, parts.alive, epmd_port);
    if (!where)
      throw std::runtime_error(fmt::format("otpp::dist: no node '{}' is registered with epmd on {}",
                                           parts.alive, parts.host));
    if (where->highest_version < 6)
      throw handshake_error(
          fmt::format("otpp::dist: node '{}' speaks handshake version {} at most; otpp needs 6",
                      peer, where->highest_version));
    auto s = detail::dist_connect(address, where->port);
    handshake h(handshake::role::initiator, self, cookie, detail::dist_random_challenge());
    return finish(std::move(s), h);
  }

  /// Complete the handshake as the acceptor on a socket a listener accepted.
  static channel accept(detail::dist_tcp::socket s, const node_identity& self,
                        const std::string& cookie) {
    handshake h(handshake::role::acceptor, self, cookie, detail::dist_random_challenge());
    return finish(std::move(s), h);
  }

  /// The peer: its name, flags and creation.
  const peer_identity& peer() const noexcept { return peer_; }

  /// Send one control message (and its message term).
  void send(const control_msg& m) {
    const std::string bytes = frame_control(m, peer_.flags);
    boost::asio::async_write(socket_, boost::asio::buffer(bytes), use_process);
  }
  /// The packet bytes of a control message, for this peer (see `write`).
  std::string frame(const control_msg& m) const { return frame_control(m, peer_.flags); }
  /// Send bytes made by `frame` (several packets at once, in order).
  void write(std::string_view packets) {
    boost::asio::async_write(socket_, boost::asio::buffer(packets.data(), packets.size()),
                             use_process);
  }
  /// Send a tick (an empty packet: "still here").
  void send_tick() {
    const std::string bytes = tick_packet();
    boost::asio::async_write(socket_, boost::asio::buffer(bytes), use_process);
  }

  /// The next control message; ticks are skipped (they only prove the peer
  /// lives). A packet longer than `max_packet` bytes is refused.
  /// @par Errors
  /// `protocol_error` for a malformed packet; `boost::system::system_error`
  /// when the connection ends (`eof` when the peer closed it).
  control_msg receive(std::size_t max_packet = std::size_t{64} << 20) {
    for (;;)
      if (auto m = receive_or_tick(max_packet))
        return std::move(*m);
  }

  /// The next control message, or nothing for a tick (for a node that
  /// keeps track of how long the peer has been silent).
  std::optional<control_msg> receive_or_tick(std::size_t max_packet = std::size_t{64} << 20) {
    {
      fill(4);
      std::size_t n = 0;
      for (std::size_t i = 0; i < 4; ++i)
        n = (n << 8) | static_cast<std::uint8_t>(pending_[i]);
      if (n > max_packet)
        throw protocol_error(fmt::format(
            "otpp::dist: a packet of {} bytes from {} is longer than the limit ({} bytes)", n,
            peer_.name, max_packet));
      fill(4 + n);
      const std::string body = pending_.substr(4, n);
      pending_.erase(0, 4 + n);
      if (n == 0)
        return std::nullopt; // a tick
      return parse_control(parse_packet(body));
    }
  }

  /// Close the connection (the peer sees it end).
  void close() {
    boost::system::error_code ignored;
    socket_.close(ignored);
  }

private:
  channel(detail::dist_tcp::socket s, peer_identity p, std::string pending)
      : socket_(std::move(s)), peer_(std::move(p)), pending_(std::move(pending)) {}

  static channel finish(detail::dist_tcp::socket s, handshake& h) {
    const auto write_out = [&] {
      const std::string out = h.take_output();
      if (!out.empty())
        boost::asio::async_write(s, boost::asio::buffer(out), use_process);
    };
    write_out();
    while (!h.done()) {
      const std::string in = detail::dist_read_some_for(s, handshake_timeout, "in the handshake");
      if (in.empty())
        throw handshake_error(
            "otpp::dist: handshake: the peer closed the connection (it closes it when it refuses "
            "our cookie or our name)");
      h.feed(in);
      write_out();
    }
    return channel(std::move(s), h.peer(), h.take_leftover());
  }

  // Read until `pending_` holds at least `n` bytes.
  void fill(std::size_t n) {
    while (pending_.size() < n) {
      std::string buf(std::clamp<std::size_t>(n - pending_.size(), 4096, 65536), '\0');
      const std::size_t got = socket_.async_read_some(boost::asio::buffer(buf), use_process);
      pending_.append(buf, 0, got);
    }
  }

  detail::dist_tcp::socket socket_;
  peer_identity peer_;
  std::string pending_;
};

} // namespace otpp::dist
