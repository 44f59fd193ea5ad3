// Supervisors: start a supervision tree from its spec, and the dynamic
// API (start_child, terminate_child, restart_child, delete_child, ...).
// Distributed under the Boost Software License, Version 1.0.
#pragma once

#include <otpp/behaviour/call.hpp>
#include <otpp/behaviour/detail/supervisor_state.hpp>
#include <otpp/behaviour/handle.hpp>
#include <otpp/behaviour/server.hpp>
#include <otpp/behaviour/start.hpp>
#include <otpp/behaviour/supervisor_error.hpp>
#include <otpp/behaviour/supervisor_spec.hpp>
#include <otpp/core/duration.hpp>
#include <otpp/core/runtime.hpp>

#include <any>
#include <memory>
#include <string>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

namespace otpp {

namespace detail {

inline auto supervisor_definition() {
  return server<supervisor_state>()
      .name("supervisor")
      .behaviour("supervisor")
      .init([](std::shared_ptr<const supervisor_spec> spec) -> init_result<supervisor_state> {
        supervisor_state s(std::move(spec));
        if (auto failed = s.start_children())
          return init_stop(std::move(*failed));
        return init_ok(std::move(s));
      })
      .on_exit([](supervisor_state& s, const exit_message& e) { return s.on_exit(e); })
      .on_info([](supervisor_state& s, try_again_restart& t) { return s.on_try_again(t); })
      .on_call(
          [](supervisor_state& s, start_child_req& r) { return s.start_child(std::move(r.spec)); })
      .on_call([](supervisor_state& s, start_dynamic_req& r) {
        return s.start_dynamic(std::move(r.args));
      })
      .on_call(
          [](supervisor_state& s, const terminate_child_req& r) { return s.terminate_child(r); })
      .on_call(
          [](supervisor_state& s, const restart_child_req& r) { return s.restart_child(r.id); })
      .on_call([](supervisor_state& s, const delete_child_req& r) { return s.delete_child(r.id); })
      .on_call([](supervisor_state& s, which_children_req) { return s.which_children(); })
      .on_call([](supervisor_state& s, count_children_req) { return s.count_children(); })
      .on_call([](supervisor_state& s, get_spec_req) { return s.summary(); })
      .on_terminate([](supervisor_state& s, const exit_reason&) { s.terminate_all(); })
      .unhandled(unhandled_policy::log);
}
using supervisor_definition_type = decltype(supervisor_definition());

inline auto start_supervisor(const supervisor_spec& spec, start_mode mode) {
  validate(spec);
  start_options opts;
  opts.name = spec.name;
  return start_behaviour(supervisor_definition().name(spec.name.empty() ? "supervisor" : spec.name),
                         std::move(opts), mode, std::make_shared<const supervisor_spec>(spec));
}

} // namespace detail

/// A handle on a running supervisor: the shared `handle` over the
/// supervisor's definition. Converts to its pid.
using supervisor_ref = handle<detail::supervisor_definition_type>;

/// A supervisor child: a nested tree started from `spec`.
inline child_spec supervisor(std::string id, supervisor_spec spec, child_options options = {});

/// Start a supervisor linked to the calling process (its parent); returns
/// `ok(handle)`, `ignored()` or `error(reason)` (a child failed to start:
/// the reason names it; the children started before it were stopped in
/// reverse order).
/// @par Errors
/// `std::invalid_argument` for an invalid spec (nothing is started).
/// @par OTP
/// `supervisor:start_link/2,3`.
inline start_result<supervisor_ref> try_start_link(const supervisor_spec& spec) {
  return detail::start_supervisor(spec, start_mode::link).first;
}
/// `try_start_link(spec).value()`: the handle, or throws `start_error`.
inline supervisor_ref start_link(const supervisor_spec& spec) {
  return try_start_link(spec).value();
}
/// Start a supervisor not linked to the caller: `ok(handle)`, `ignored()`
/// or `error(reason)`.
inline start_result<supervisor_ref> try_start(const supervisor_spec& spec) {
  return detail::start_supervisor(spec, start_mode::plain).first;
}
/// `try_start(spec).value()`: the handle, or throws `start_error`.
inline supervisor_ref start(const supervisor_spec& spec) {
  return try_start(spec).value();
}
/// Start a supervisor monitored by the caller (a `down` arrives when it ends).
/// @par OTP
/// `gen_server:start_monitor/3,4` for a supervisor.
inline start_result<monitored<supervisor_ref>> try_start_monitor(const supervisor_spec& spec) {
  auto started = detail::start_supervisor(spec, start_mode::monitor);
  ref mon = started.second;
  return started.first.template map<monitored<supervisor_ref>>([mon](const supervisor_ref& h) {
    return monitored<supervisor_ref>{h, mon};
  });
}
/// `try_start_monitor(spec).value()`.
inline monitored<supervisor_ref> start_monitor(const supervisor_spec& spec) {
  return try_start_monitor(spec).value();
}
/// Start a top-level supervisor on `rt` (unlinked), from any thread.
inline supervisor_ref start(runtime& rt, const supervisor_spec& spec) {
  return detail::in_process_of(rt, "start", [&] { return start(spec); });
}

inline child_spec supervisor(std::string id, supervisor_spec spec, child_options options) {
  if (!options.shutdown)
    options.shutdown = shutdown_policy::infinite();
  auto shared = std::make_shared<const supervisor_spec>(std::move(spec));
  child_spec c = worker(
      std::move(id), [shared] { return try_start_link(*shared); }, options);
  c.type = child_type::supervisor;
  c.nested = std::move(shared);
  return c;
}

// ---------------------------------------------------------------------------
// The dynamic API (calls to the supervisor; they wait as long as it takes, as OTP's do)
// ---------------------------------------------------------------------------

/// Add a child and start it. Errors: `already_present` (the id exists, not
/// running), `already_started` (payload: its pid), the start's reason.
template <process_target T> call_result<pid> start_child(const T& sup, child_spec spec) {
  return call<call_result<pid>>(sup, detail::start_child_req{std::move(spec)}, infinity);
}

/// simple_one_for_one: start a child from the template with `args` (their
/// decayed types must be exactly the template's parameter types).
template <process_target T, class... Args>
requires(!(sizeof...(Args) == 1 && (std::is_same_v<std::decay_t<Args>, child_spec> && ...)))
    call_result<pid> start_child(const T& sup, Args&&... args) {
  auto a =
      std::make_shared<std::any>(std::tuple<std::decay_t<Args>...>(std::forward<Args>(args)...));
  return call<call_result<pid>>(sup, detail::start_dynamic_req{std::move(a)}, infinity);
}

/// Stop a child (it stays as a spec unless temporary). Errors: `not_found`.
template <process_target T> call_result<void> terminate_child(const T& sup, const std::string& id) {
  return call<call_result<void>>(sup, detail::terminate_child_req{id, {}}, infinity);
}
/// simple_one_for_one: stop the child `child` (it is forgotten). Errors: `not_found`.
template <process_target T> call_result<void> terminate_child(const T& sup, const pid& child) {
  return call<call_result<void>>(sup, detail::terminate_child_req{{}, child}, infinity);
}
/// Start a stopped child again. Errors: `running`, `restarting`, `not_found`, the start's reason.
template <process_target T> call_result<pid> restart_child(const T& sup, const std::string& id) {
  return call<call_result<pid>>(sup, detail::restart_child_req{id}, infinity);
}
/// Remove a stopped child's spec. Errors: `running`, `restarting`, `not_found`.
template <process_target T> call_result<void> delete_child(const T& sup, const std::string& id) {
  return call<call_result<void>>(sup, detail::delete_child_req{id}, infinity);
}
/// The children, most recently started first (OTP's order). Waits for
/// ever by default, as OTP; a tool that must not hang (the observer page)
/// passes a timeout, and gets `call_error` when it passes.
template <process_target T>
std::vector<child_info> which_children(const T& sup, duration timeout = infinity) {
  return call<std::vector<child_info>>(sup, detail::which_children_req{}, timeout);
}
/// Counts of specs, running children, supervisors and workers.
template <process_target T> child_counts count_children(const T& sup) {
  return call<child_counts>(sup, detail::count_children_req{}, infinity);
}

} // namespace otpp
