// The two waits a supervisor uses to stop one child: take back its link
// (and an exit message already there), and wait for its down within its
// shutdown policy.
// Distributed under the Boost Software License, Version 1.0.
#pragma once

#include <otpp/behaviour/supervisor_spec.hpp>
#include <otpp/core/duration.hpp>
#include <otpp/core/exit_reason.hpp>
#include <otpp/core/link.hpp>
#include <otpp/core/monitor.hpp>
#include <otpp/core/pid.hpp>
#include <otpp/core/receive.hpp>

#include <chrono>
#include <optional>
#include <utility>

namespace otpp::detail {

// Unlink `p` and remove its exit message if one is already there: its
// reason, if so.
inline std::optional<exit_reason> unlink_flush(const pid& p) {
  (void)this_process::mailbox_length(); // move in what has arrived: its exit message stays
  unlink(p);
  return this_process::receive(
      when([&p](const exit_message& e) { return e.from == p; },
           [](exit_message& e) -> std::optional<exit_reason> { return std::move(e.reason); }),
      after(std::chrono::steady_clock::duration::zero(),
            []() -> std::optional<exit_reason> { return std::nullopt; }));
}

// The reason in monitor `m`'s down, or nothing once the policy's timeout
// has passed (never, for infinite and brutal_kill).
inline std::optional<exit_reason> wait_down(ref m, const shutdown_policy& sp) {
  duration t = sp.which() == shutdown_policy::kind::timeout ? duration(sp.timeout()) : infinity;
  this_process::waiting_on note("child shutdown");
  return this_process::receive(
      when([m](const down& d) { return d.monitor == m; },
           [](down& d) -> std::optional<exit_reason> { return std::move(d.reason); }),
      after(t, []() -> std::optional<exit_reason> { return std::nullopt; }));
}

} // namespace otpp::detail
