// The observer: a live page of a runtime (supervision trees, a process
// table, process details, kill), served by the embedded HTTP server.
// Distributed under the Boost Software License, Version 1.0.
#pragma once

#include <otpp/behaviour/supervision_tree.hpp>
#include <otpp/behaviour/supervisor.hpp>
#include <otpp/behaviour/sys.hpp>
#include <otpp/core/duration.hpp>
#include <otpp/core/json_escape.hpp>
#include <otpp/core/pid.hpp>
#include <otpp/core/process.hpp>
#include <otpp/core/runtime.hpp>
#include <otpp/core/statistics.hpp>
#include <otpp/http/observer_page.hpp>
#include <otpp/http/server.hpp>

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <mutex>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace otpp::http {

/// How an `observer` serves.
struct observer_options {
  /// Where it listens (loopback, a free port by default). An empty token
  /// gets a random one unless `require_token` is false.
  server_options server{};
  bool require_token = true;
  /// How often each open page gets a new snapshot (when something changed).
  std::chrono::milliseconds interval{250};
  /// Processes in the table at most (the longest mailboxes first, then the
  /// most reductions).
  std::size_t max_processes = 1000;
  /// How long a question to a process (a supervisor's children, a
  /// behaviour's status) may take before the page goes on without it.
  duration call_timeout = std::chrono::milliseconds(500);
};

namespace detail {

// `s` as a JSON string (quoted; the escaping of the tree's JSON export).
inline std::string json_string(std::string_view s) {
  std::string out = "\"";
  otpp::json_escape(out, s);
  out += '"';
  return out;
}
inline std::string random_token() {
  std::random_device rd;
  std::string out;
  for (int i = 0; i < 4; ++i)
    out += fmt::format("{:08x}", rd());
  return out;
}
inline void json_pids(std::string& out, const std::vector<pid>& ps) {
  out += '[';
  for (std::size_t i = 0; i < ps.size(); ++i)
    fmt::format_to(std::back_inserter(out), "{}\"{}\"", i == 0 ? "" : ",", ps[i]);
  out += ']';
}
// Every pid in a tree below its root.
inline void descendants(const tree_node& n, std::set<pid>& out) {
  for (const auto& c : n.children) {
    if (c.pid)
      out.insert(c.pid);
    descendants(c, out);
  }
}

} // namespace detail

/// A live view of a runtime in the browser (`observer_cli` and `observer`
/// for otpp): every supervision tree, drawn live (children appearing,
/// restarting and dying as it happens, over server-sent events), a process
/// table sortable by mailbox length, reductions and memory, each process's
/// details (info, links, monitors, a behaviour's status and state, a state
/// machine's current state) and a button to kill a process.
///
/// Routes (each needs the token, `?token=` or `Authorization: Bearer`):
/// `/` the page; `/api/snapshot` the trees and the table as JSON;
/// `/api/events` the same as server-sent events; `/api/process?pid=<0.5.0>`
/// one process; `POST /api/kill?pid=<0.5.0>` kills it.
///
/// Destroy it before the runtime.
class observer {
public:
  explicit observer(runtime& rt, observer_options opts = {})
      : rt_(rt), opts_(with_token(std::move(opts))), server_(opts_.server) {
    server_.route("/", [](const request&) {
      return response{200, "text/html; charset=utf-8", std::string(observer_page)};
    });
    server_.route("/api/snapshot", [this](const request&) {
      return response{200, "application/json", snapshot_json()};
    });
    server_.route_events(
        "/api/events", [this] { return snapshot_json(); }, opts_.interval);
    server_.route("/api/process", [this](const request& r) {
      const pid p = find(r.param("pid"));
      if (!p)
        return response{404, "application/json", R"({"error": "no such process"})"};
      return response{200, "application/json", process_json(p)};
    });
    server_.route("/api/kill", [this](const request& r) {
      if (r.method != "POST")
        return response{405, "application/json", R"({"error": "POST only"})"};
      const pid p = find(r.param("pid"));
      if (!p)
        return response{404, "application/json", R"({"error": "no such process"})"};
      otpp::kill(p);
      return response{200, "application/json", fmt::format(R"({{"killed": "{}"}})", p)};
    });
  }
  observer(const observer&) = delete;
  observer& operator=(const observer&) = delete;

  /// The page's address, token included.
  std::string url() const {
    return opts_.server.token.empty() ? server_.url("/")
                                      : server_.url("/?token=" + opts_.server.token);
  }
  const std::string& token() const noexcept { return opts_.server.token; }
  std::uint16_t port() const noexcept { return server_.port(); }
  http::server& server() noexcept { return server_; }

  /// The trees, the counters and the process table, as the page gets them.
  std::string snapshot_json() {
    std::lock_guard lock(mutex_);
    std::string out = "{";
    write_stats(out);
    std::vector<process_info> infos;
    for (const pid& p : rt_.processes()) {
      process_info i = info(p);
      if (i.status != process_status::exited)
        infos.push_back(std::move(i));
    }
    write_trees(out, infos);
    std::sort(infos.begin(), infos.end(), [](const process_info& a, const process_info& b) {
      return a.mailbox_length != b.mailbox_length ? a.mailbox_length > b.mailbox_length
                                                  : a.reductions > b.reductions;
    });
    fmt::format_to(std::back_inserter(out),
                   ",\"process_count\":{},\"truncated\":{},\"processes\":[", infos.size(),
                   infos.size() > opts_.max_processes);
    const std::size_t n = std::min(infos.size(), opts_.max_processes);
    for (std::size_t k = 0; k < n; ++k) {
      const process_info& i = infos[k];
      fmt::format_to(std::back_inserter(out),
                     "{}{{\"pid\":\"{}\",\"name\":{},\"label\":{},\"status\":\"{}\",\"mailbox\":{},"
                     "\"reductions\":{},\"memory\":{},\"scheduler\":{},\"waiting_on\":{}}}",
                     k == 0 ? "" : ",", i.self, detail::json_string(i.registered_name),
                     detail::json_string(i.label), i.status, i.mailbox_length, i.reductions,
                     i.memory, i.scheduler ? static_cast<int>(*i.scheduler) : -1,
                     detail::json_string(i.waiting_on));
    }
    out += "]}";
    return out;
  }

  /// One process: its info and, for a behaviour, its status and state.
  std::string process_json(const pid& p) {
    const process_info i = info(p);
    std::string out = fmt::format(
        "{{\"pid\":\"{}\",\"name\":{},\"label\":{},\"status\":\"{}\",\"mailbox\":{},"
        "\"reductions\":{},\"memory\":{},\"stack_size\":{},\"stack_resident\":{},"
        "\"stack_parked\":{},\"scheduler\":{},\"trap_exit\":{},\"waiting_on\":{},"
        "\"dropped\":{}",
        p, detail::json_string(i.registered_name), detail::json_string(i.label), i.status,
        i.mailbox_length, i.reductions, i.memory, i.stack_size, i.stack_resident, i.stack_parked,
        i.scheduler ? static_cast<int>(*i.scheduler) : -1, i.trap_exit,
        detail::json_string(i.waiting_on), i.dropped);
    out += ",\"links\":";
    detail::json_pids(out, i.links);
    out += ",\"monitors\":";
    detail::json_pids(out, i.monitors);
    out += ",\"monitored_by\":";
    detail::json_pids(out, i.monitored_by);
    if (i.exit_reason)
      out += ",\"exit_reason\":" + detail::json_string(fmt::format("{}", *i.exit_reason));
    if (const auto st = behaviour_status(i)) {
      fmt::format_to(std::back_inserter(out),
                     ",\"behaviour\":{{\"behaviour\":{},\"name\":{},\"state\":{},"
                     "\"state_name\":{},\"handled\":{},\"suspended\":{}}}",
                     detail::json_string(st->behaviour), detail::json_string(st->name),
                     detail::json_string(st->state), detail::json_string(st->state_name),
                     st->handled, st->suspended);
    }
    out += "}";
    return out;
  }

private:
  static observer_options with_token(observer_options o) {
    if (o.require_token && o.server.token.empty())
      o.server.token = detail::random_token();
    return o;
  }

  pid find(std::string_view text) {
    // "<0.5.0>" may come URL-encoded ("%3C0.5.0%3E").
    std::string want(text);
    for (auto [enc, dec] : {std::pair{"%3C", "<"}, std::pair{"%3E", ">"}, std::pair{"%3c", "<"},
                            std::pair{"%3e", ">"}})
      for (std::size_t at; (at = want.find(enc)) != std::string::npos;)
        want.replace(at, 3, dec);
    for (const pid& p : rt_.processes())
      if (fmt::format("{}", p) == want)
        return p;
    return {};
  }

  std::optional<sys_status> behaviour_status(const process_info& i) {
    static constexpr std::string_view kinds[] = {"server", "supervisor", "statem", "event_manager"};
    const bool is_behaviour = std::any_of(std::begin(kinds), std::end(kinds),
                                          [&](auto k) { return i.label.rfind(k, 0) == 0; });
    if (!is_behaviour)
      return std::nullopt;
    try {
      scoped_process asking(rt_);
      return status(i.self, opts_.call_timeout);
    } catch (const std::exception&) { // it ended, or did not answer in time
      return std::nullopt;
    }
  }

  void write_stats(std::string& out) {
    const runtime_statistics st = rt_.statistics({.top = 0});
    fmt::format_to(std::back_inserter(out),
                   "\"stats\":{{\"processes\":{},\"spawns\":{},\"exits\":{{\"normal\":{},"
                   "\"shutdown\":{},\"killed\":{},\"error\":{}}},\"messages_sent\":{},"
                   "\"messages_received\":{},\"reductions\":{},\"schedulers\":[",
                   st.processes, st.spawned, st.exits[0], st.exits[1], st.exits[2], st.exits[3],
                   st.messages_sent, st.messages_received, st.reductions);
    last_active_.resize(st.schedulers.size());
    for (std::size_t k = 0; k < st.schedulers.size(); ++k) {
      const scheduler_statistics& s = st.schedulers[k];
      // Utilisation since the previous snapshot (-1: wall time is off).
      double util = -1;
      if (s.active && s.wall) {
        const auto [a0, w0] = last_active_[k];
        const auto dw = *s.wall - w0;
        if (dw.count() > 0)
          util = std::clamp(static_cast<double>((*s.active - a0).count()) /
                                static_cast<double>(dw.count()),
                            0.0, 1.0);
        last_active_[k] = {*s.active, *s.wall};
      }
      fmt::format_to(std::back_inserter(out),
                     "{}{{\"index\":{},\"processes\":{},\"run_queue\":{},\"utilisation\":{:.3f}}}",
                     k == 0 ? "" : ",", s.index, s.processes, s.run_queue, util);
    }
    out += "]}";
  }

  // Every supervisor that no other supervisor supervises, as a tree.
  void write_trees(std::string& out, const std::vector<process_info>& infos) {
    std::vector<tree_node> trees;
    std::set<pid> below;
    try {
      scoped_process asking(rt_);
      for (const process_info& i : infos) {
        if (i.label.rfind("supervisor", 0) != 0)
          continue;
        try {
          tree_node t = supervision_tree(i.self, {}, opts_.call_timeout);
          detail::descendants(t, below);
          trees.push_back(std::move(t));
        } catch (const std::exception&) { // it ended, or did not answer in time
        }
      }
    } catch (const std::exception&) { // the runtime is shutting down
    }
    out += ",\"trees\":[";
    bool first = true;
    for (const tree_node& t : trees) {
      if (below.count(t.pid) != 0)
        continue;
      std::string json = to_json(t);
      std::replace(json.begin(), json.end(), '\n', ' '); // newlines only between tokens
      out += first ? "" : ",";
      out += json;
      first = false;
    }
    out += "]";
  }

  runtime& rt_;
  observer_options opts_;
  std::mutex mutex_;
  std::vector<std::pair<std::chrono::nanoseconds, std::chrono::nanoseconds>> last_active_;
  http::server server_; // last: destroyed (stopped) first
};

} // namespace otpp::http
