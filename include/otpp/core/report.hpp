// Reports (a process that died of an exception, behaviours' logged
// unhandled messages, traces, crash and supervisor reports) go through one
// replaceable hook.
// Distributed under the Boost Software License, Version 1.0.
#pragma once

#include <otpp/core/pid.hpp>

#include <fmt/format.h>

#include <cstdio>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>

namespace otpp {

/// What a report is about.
enum class report_kind {
  trace,        ///< a traced server handled a message (sys tracing)
  unhandled,    ///< a server logged an unhandled message (unhandled_policy::log)
  crash,        ///< a behaviour process ended abnormally
  supervisor,   ///< a supervisor's child exit or restart decision
  progress,     ///< a child was started
  error,        ///< a process ended by an uncaught exception (runtime_options::report_crashes),
                ///< or a shutdown did not end in time (runtime_options::shutdown_timeout)
  watchdog,     ///< a process ran too long without yielding (runtime_options::watchdog_threshold)
  mailbox_full, ///< a bounded mailbox overflowed for the first time (spawn_options::mailbox_limit)
};

/// One report: who sent it, what it is about, and the text, formatted.
struct report {
  report_kind kind;
  pid from;
  std::string text;
};

/// Receives reports. Called on the reporting process's thread: keep it
/// short and thread-safe.
using report_handler = std::function<void(const report&)>;

namespace detail {
struct report_hook {
  std::mutex mutex;
  std::shared_ptr<const report_handler> handler;
};
inline report_hook& the_hook() {
  static report_hook h;
  return h;
}
} // namespace detail

/// The default handler: one line on stderr, `=KIND REPORT==== <pid> text`.
/// Progress reports are left out, as OTP's default logger level does.
inline void print_report(const report& r) {
  if (r.kind == report_kind::progress)
    return;
  constexpr std::string_view names[] = {"TRACE",    "UNHANDLED", "CRASH",    "SUPERVISOR",
                                        "PROGRESS", "ERROR",     "WATCHDOG", "MAILBOX FULL"};
  fmt::print(stderr, "={} REPORT==== {} {}\n", names[static_cast<int>(r.kind)], r.from, r.text);
}

/// Replace the report handler (an empty function restores the default);
/// returns the previous one.
inline report_handler set_report_handler(report_handler h) {
  auto& hk = detail::the_hook();
  std::shared_ptr<const report_handler> next =
      h ? std::make_shared<const report_handler>(std::move(h)) : nullptr;
  std::lock_guard lock(hk.mutex);
  auto old = std::exchange(hk.handler, std::move(next));
  return old ? *old : report_handler();
}

namespace detail {
// A process as reports name it: `<0.5.0> (registered as "x") [server x]`.
inline std::string pid_and_name(const pid& p, const std::string& name, const std::string& label) {
  std::string out = fmt::format("{}", p);
  if (!name.empty())
    out += fmt::format(" (registered as \"{}\")", name);
  if (!label.empty())
    out += fmt::format(" [{}]", label);
  return out;
}
} // namespace detail

/// Send a report to the current handler.
inline void send_report(report_kind kind, const pid& from, std::string text) {
  auto& hk = detail::the_hook();
  std::shared_ptr<const report_handler> h;
  {
    std::lock_guard lock(hk.mutex);
    h = hk.handler;
  }
  report r{kind, from, std::move(text)};
  if (h)
    (*h)(r);
  else
    print_report(r);
}

} // namespace otpp
