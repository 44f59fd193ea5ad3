// Probe children and helpers shared by the supervisor tests.
// Distributed under the Boost Software License, Version 1.0.
#pragma once

#include "otpp_test.hpp"

#include <otpp/behaviour/supervisor.hpp>

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <map>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace otpp_test {

// A probe child tells the test process "start <id>" (from its start
// function, which runs in the supervisor: starts arrive in start order) and
// "stop <id>" when its supervisor's exit signal reaches it (it traps exits).
// `die` makes it exit with a reason.
struct ev {
  std::string text;
  otpp::pid pid;
  otpp::exit_reason reason;
};
struct die {
  otpp::exit_reason reason;
};
// Lets a probe that holds its shutdown go on.
struct release {};
// What a probe does with its supervisor's exit signal: obey it at once,
// ignore it (then only `kill` ends it), or hold until `release` arrives.
enum class on_shutdown { obey, ignore, hold };

inline void probe_body(const std::string& id, const otpp::pid& test, const otpp::pid& sup,
                       on_shutdown mode) {
  namespace tp = otpp::this_process;
  for (;;) {
    tp::receive(
        [&](otpp::exit_message& e) {
          if (e.from != sup)
            tp::exit(e.reason);
          if (mode == on_shutdown::ignore) {
            otpp::send(test, ev{"ignored " + id, tp::self(), e.reason});
            return;
          }
          if (mode == on_shutdown::hold) {
            otpp::send(test, ev{"holding " + id, tp::self(), e.reason});
            tp::receive<release>();
          }
          otpp::send(test, ev{"stop " + id, tp::self(), e.reason});
          tp::exit(e.reason);
        },
        [](die& d) { tp::exit(d.reason); });
  }
}

// Spawn a probe linked to the calling supervisor; "start <id>" goes to `test`.
inline otpp::pid spawn_probe(const std::string& id, const otpp::pid& test,
                             on_shutdown mode = on_shutdown::obey) {
  otpp::pid sup = otpp::this_process::self();
  otpp::pid p = otpp::spawn_link([id, test, sup, mode] { probe_body(id, test, sup, mode); },
                                 {.trap_exit = true});
  otpp::send(test, ev{"start " + id, p, {}});
  return p;
}

inline otpp::child_spec probe(std::string id, otpp::pid test, otpp::child_options opts = {},
                              on_shutdown mode = on_shutdown::obey) {
  return otpp::worker(
      id, [id, test, mode] { return spawn_probe(id, test, mode); }, opts);
}

using strings = std::vector<std::string>;

// The probes' events in arrival order; remembers each id's pid and stop reason.
struct recorder {
  std::map<std::string, otpp::pid> pid;
  std::map<std::string, otpp::exit_reason> reason;
  strings take(std::size_t n) {
    strings out;
    for (std::size_t i = 0; i < n; ++i) {
      ev e = expect<ev>();
      // The id after the first space. (Not text.find(' '): g++ 12 -O3
      // reports a false -Wstringop-overread on the memchr it inlines.)
      std::size_t space = 0;
      while (space < e.text.size() && e.text[space] != ' ')
        ++space;
      std::string id = e.text.substr(std::min(space + 1, e.text.size()));
      if (e.text.starts_with("start "))
        pid[id] = e.pid;
      else
        reason[id] = e.reason;
      out.push_back(e.text);
    }
    return out;
  }
};

// Make probe `p` exit with `r` and wait until it has: the supervisor's exit
// message is then ahead of anything the test sends it next.
inline void crash(const otpp::pid& p, otpp::exit_reason r = otpp::exit_reason::user("crash")) {
  otpp::ref m = otpp::monitor(p);
  otpp::send(p, die{std::move(r)});
  down_reason(m);
}

inline strings ids_of(const std::vector<otpp::child_info>& v) {
  strings out;
  for (auto& c : v)
    out.push_back(c.id);
  return out;
}
inline const otpp::child_info& info_of(const std::vector<otpp::child_info>& v,
                                       const std::string& id) {
  for (auto& c : v)
    if (c.id == id)
      return c;
  throw std::runtime_error("no child " + id);
}
inline otpp::child_info info_of(const otpp::pid& sup, const std::string& id) {
  return info_of(otpp::which_children(sup), id);
}

// Wait until the runtime runs `n` processes (a process is counted until
// just after its down).
inline void wait_count(otpp::runtime& rt, std::size_t n) {
  auto deadline = std::chrono::steady_clock::now() + patience;
  while (rt.process_count() != n) {
    if (std::chrono::steady_clock::now() > deadline)
      throw std::runtime_error(
          fmt::format("process_count stays at {}, not {}", rt.process_count(), n));
    otpp::this_process::sleep_for(std::chrono::milliseconds(1));
  }
}

// True if a report whose text contains every one of `parts` is (or comes
// within `wait`) in the mailbox; other reports are consumed.
inline bool has_report(const strings& parts,
                       std::chrono::milliseconds wait = std::chrono::milliseconds(0)) {
  for (;;) {
    auto r = otpp::this_process::receive_for<otpp::report>(wait);
    if (!r)
      return false;
    bool all = true;
    for (auto& p : parts)
      all = all && r->text.find(p) != std::string::npos;
    if (all)
      return true;
  }
}

inline otpp::supervisor_spec spec_of(otpp::supervision_strategy s,
                                     std::vector<otpp::child_spec> children, int intensity = 10) {
  return otpp::supervisor_spec{.strategy = s,
                               .intensity = intensity,
                               .period = std::chrono::seconds(60),
                               .children = std::move(children)};
}

} // namespace otpp_test
