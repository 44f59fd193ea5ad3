// How an otpp::dist::node starts, the cookie file, and the messages of
// node monitoring.
// Distributed under the Boost Software License, Version 1.0.
#pragma once

#include <otpp/dist/epmd.hpp>

#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <stdexcept>
#include <string>

namespace otpp::dist {

/// How a node starts.
struct node_options {
  /// `alive@host` (`otpp@127.0.0.1`).
  std::string name;
  /// The cookie; empty: the contents of `~/.erlang.cookie` (there is no
  /// built-in default: a node without a cookie does not start).
  std::string cookie;
  /// The address it listens on: loopback unless told otherwise.
  std::string listen_address = "127.0.0.1";
  /// The port it listens on (0: any free port).
  std::uint16_t port = 0;
  /// Register with the epmd on this host (so that other nodes find it by
  /// name; if none runs, one is started, `epmd -daemon`, as erl does);
  /// false: reachable only by those that know its port.
  bool use_epmd = true;
  std::uint16_t epmd_port = epmd::default_port();
  /// Erlang's net_ticktime: a peer silent this long is disconnected; ticks
  /// go out every quarter of it.
  std::chrono::seconds net_ticktime{60};
};

/// Told to the processes that asked `monitor_nodes`.
struct nodeup {
  std::string node;
};
struct nodedown {
  std::string node;
};

/// The cookie in `~/.erlang.cookie` (its first line, trailing blanks cut).
/// @par Errors
/// `std::invalid_argument` if there is none.
inline std::string read_cookie_file() {
  const char* home = std::getenv("HOME");
  if (home == nullptr)
    throw std::invalid_argument(
        "otpp::dist::node: no cookie given and no HOME to find ~/.erlang.cookie in");
  std::ifstream in(std::string(home) + "/.erlang.cookie");
  std::string c;
  if (!in || !std::getline(in, c) || c.empty())
    throw std::invalid_argument(
        "otpp::dist::node: no cookie given and ~/.erlang.cookie cannot be read; pass "
        "node_options::cookie");
  while (!c.empty() && (c.back() == '\n' || c.back() == '\r' || c.back() == ' '))
    c.pop_back();
  return c;
}

} // namespace otpp::dist
