// event_log: one event manager, three handlers: an audit logger, a metrics
// counter and a fragile alerting handler that crashes on a malformed event.
//
// Shows:    an event manager (otpp::event_manager<Events...>) started under
//           a supervisor by name; handlers as values (otpp::event_handler<S>)
//           with their own state, event, call and terminate callbacks;
//           notify and sync_notify; call_handler; a handler that throws is
//           removed alone (its terminate runs with the reason) while the
//           others keep counting; a guard process that installed it with
//           add_sup_handler receives handler_removed and installs a fresh
//           one; delete_handler returning the audit log; swap_handler moving
//           the counter's totals into a new handler.
// OTP idea: gen_event with an error_logger-style audit handler and a guard
//           process (the "supervised handler" pattern of the distributed-
//           agents note: GenEvent audit loggers).
// Run:      cmake --preset dev && cmake --build --preset dev --target event_log
//           && ./build/dev/examples/event_log
// Expected output:
//   handlers: audit#1 metrics#2 alerts#3
//   alert: ann logged in from 10.0.0.1
//   alert: bob failed to log in 3 times
//   guard: alerts#3 removed: {exception, std::invalid_argument, "alert without a user"}
//   guard: installed alerts#4
//   handlers: audit#1 metrics#2 alerts#4
//   alert: eve failed to log in 5 times
//   metrics: 5 logins, 9 failures, 1 malformed
//   audit log (15 lines), last: logout ann
//   handlers after swap: totals#5 alerts#4
//   totals: 5 logins, 9 failures
//   ok
#include <otpp/otpp.hpp>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <chrono>
#include <stdexcept>
#include <string>
#include <vector>

using namespace std::chrono_literals;
namespace tp = otpp::this_process;

namespace {

// ---------------------------------------------------------------------------
// The events
// ---------------------------------------------------------------------------
struct login {
  std::string user;
  std::string from;
};
struct login_failed {
  std::string user;
  int attempts;
};
struct logout {
  std::string user;
};

using events_def = decltype(otpp::event_manager<login, login_failed, logout>());

// ---------------------------------------------------------------------------
// The handlers
// ---------------------------------------------------------------------------

// Audit: every event as a line; deleting it hands the lines back.
auto audit() {
  return otpp::event_handler<std::vector<std::string>>("audit")
      .on_event([](std::vector<std::string>& log, const login& e) {
        log.push_back(fmt::format("login {} from {}", e.user, e.from));
      })
      .on_event([](std::vector<std::string>& log, const login_failed& e) {
        log.push_back(fmt::format("login_failed {} x{}", e.user, e.attempts));
      })
      .on_event([](std::vector<std::string>& log, const logout& e) {
        log.push_back(fmt::format("logout {}", e.user));
      })
      .on_terminate(
          [](std::vector<std::string>& log, const otpp::handler_exit&) { return std::move(log); });
}

// Metrics: counters, read with a call; swapped out, it hands them on.
struct counts {
  int logins = 0;
  int failures = 0;
  int malformed = 0;
};
struct get_counts {};
auto metrics() {
  return otpp::event_handler<counts>("metrics")
      .on_event([](counts& c, const login& e) {
        if (e.user.empty())
          ++c.malformed;
        else
          ++c.logins;
      })
      .on_event([](counts& c, const login_failed& e) { c.failures += e.attempts; })
      .on_call([](counts& c, get_counts) { return c; })
      .on_terminate([](counts& c, const otpp::handler_exit&) { return c; });
}
// What the metrics become after the swap: the same totals, kept going.
auto totals() {
  return otpp::event_handler<counts>("totals")
      .init([](counts from_metrics) { return from_metrics; })
      .on_event([](counts& c, const login&) { ++c.logins; })
      .on_call([](counts& c, get_counts) { return c; });
}

// Alerts: a remote login or repeated failures; a login without a user is
// a bug it does not survive.
auto alerts() {
  return otpp::event_handler<>("alerts")
      .on_event([](std::monostate&, const login& e) {
        if (e.user.empty())
          throw std::invalid_argument("alert without a user");
        if (e.from != "127.0.0.1")
          fmt::print("alert: {} logged in from {}\n", e.user, e.from);
      })
      .on_event([](std::monostate&, const login_failed& e) {
        if (e.attempts >= 3)
          fmt::print("alert: {} failed to log in {} times\n", e.user, e.attempts);
      });
}

// The guard: installs the alerts handler supervised, and again each time
// it is removed by an error.
struct guard_ready {
  otpp::handler_id id;
};
struct guard_stop {};
void guard(otpp::pid main) {
  auto events = otpp::by_name<events_def>("events");
  auto h = otpp::add_sup_handler(events, alerts());
  otpp::send(main, guard_ready{h.id()});
  for (bool going = true; going;) {
    tp::receive(
        [&](const otpp::handler_removed& r) {
          fmt::print("guard: {} removed: {}\n", r.handler, r.reason);
          if (r.why == otpp::handler_exit::kind::crashed) {
            h = otpp::add_sup_handler(events, alerts());
            fmt::print("guard: installed {}\n", h.id());
            otpp::send(main, guard_ready{h.id()});
          }
        },
        [&](guard_stop) { going = false; });
  }
}

std::string names(const std::vector<otpp::handler_id>& ids) {
  std::vector<std::string> out;
  for (const auto& id : ids)
    out.push_back(fmt::format("{}", id));
  return fmt::format("{}", fmt::join(out, " "));
}

} // namespace

int main() {
  otpp::runtime rt;
  otpp::scoped_process main_process(rt);
  otpp::set_report_handler([](const otpp::report&) {}); // the crash is shown by the guard
  auto sup = otpp::start(otpp::supervisor_spec{
      .strategy = otpp::one_for_one,
      .children = {otpp::worker("events",
                                [] {
                                  return otpp::start_link(
                                      otpp::start_options{.name = "events"},
                                      otpp::event_manager<login, login_failed, logout>("events"));
                                })},
      .name = "logging"});
  auto events = otpp::by_name<events_def>("events");
  auto log = otpp::add_handler(events, audit());
  auto stats = otpp::add_handler(events, metrics());
  otpp::pid g = otpp::spawn([me = tp::self()] { guard(me); });
  tp::receive([](guard_ready) {});
  fmt::print("handlers: {}\n", names(otpp::which_handlers(events)));

  otpp::notify(events, login{"ann", "10.0.0.1"});
  otpp::notify(events, login_failed{"bob", 3});
  otpp::notify(events, login{"bob", "127.0.0.1"});
  otpp::notify(events, login_failed{"carl", 1});
  otpp::sync_notify(events, login{"", "10.0.0.9"}); // the malformed one: alerts goes
  tp::receive([](guard_ready) {});                  // the guard installed a new one
  fmt::print("handlers: {}\n", names(otpp::which_handlers(events)));
  for (const char* u : {"dan", "eve", "fay"})
    otpp::notify(events, login{u, "127.0.0.1"});
  otpp::notify(events, login_failed{"eve", 5});
  otpp::notify(events, logout{"dan"});
  otpp::notify(events, logout{"eve"});
  otpp::notify(events, logout{"fay"});
  otpp::notify(events, logout{"bob"});
  otpp::notify(events, login_failed{"gus", 0});
  otpp::sync_notify(events, logout{"ann"});

  counts c = otpp::call_handler(stats, get_counts{});
  fmt::print("metrics: {} logins, {} failures, {} malformed\n", c.logins, c.failures, c.malformed);
  std::vector<std::string> lines = otpp::delete_handler(log);
  fmt::print("audit log ({} lines), last: {}\n", lines.size(), lines.back());
  auto t = otpp::swap_handler(stats, totals());
  fmt::print("handlers after swap: {}\n", names(otpp::which_handlers(events)));
  counts after = otpp::call_handler(t, get_counts{});
  fmt::print("totals: {} logins, {} failures\n", after.logins, after.failures);

  otpp::send(g, guard_stop{});
  otpp::stop(sup);
  bool ok = c.logins == 5 && c.failures == 9 && c.malformed == 1 && lines.size() == 15 &&
            after.logins == 5 && after.failures == 9;
  fmt::print("{}\n", ok ? "ok" : "FAILED");
  return ok ? 0 : 1;
}
