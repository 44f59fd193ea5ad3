// Tracing: choose which events of which processes are traced, emit a
// behaviour's own events, and ready-made tracers (a function, a process).
// The event types and the tracer interface: core/trace_event.hpp.
// Distributed under the Boost Software License, Version 1.0.
#pragma once

#include <otpp/core/exit_reason.hpp>
#include <otpp/core/pid.hpp>
#include <otpp/core/process.hpp>
#include <otpp/core/runtime.hpp>
#include <otpp/core/span_context.hpp>
#include <otpp/core/trace_event.hpp>

#include <fmt/format.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>

namespace otpp {

/// Set (`on`) or clear `flags` on process `p`; the events it selects go to
/// its runtime's tracer (`runtime::set_tracer`) from then on. Returns false
/// if `p` is null or has ended. Any thread.
///
/// @par Errors
/// `std::invalid_argument` for a pid of another node (trace it there).
/// @par OTP
/// `erlang:trace(Pid, How, Flags)`.
inline bool trace_process(const pid& p, trace_flags::type flags, bool on = true) {
  detail::process* proc = p.get();
  if (proc == nullptr)
    return false;
  if (proc->remote)
    throw std::invalid_argument(
        fmt::format("otpp::trace_process: {} is a process of another node", p));
  const auto bits = static_cast<std::uint16_t>(flags & detail::user_flags);
  if (on)
    proc->trace_flags.fetch_or(bits, std::memory_order_relaxed);
  else
    proc->trace_flags.fetch_and(static_cast<std::uint16_t>(~bits), std::memory_order_relaxed);
  return proc->status.load() != detail::process_status::exited;
}

/// The trace flags of `p` (`trace_flags::none` for a null pid).
inline trace_flags::type trace_flags_of(const pid& p) noexcept {
  return p ? p.get()->trace_flags.load(std::memory_order_relaxed) & detail::user_flags
           : trace_flags::none;
}

namespace this_process {
/// True if the calling process is traced for any of `flags` (false outside
/// a process): lets a behaviour skip preparing an event nobody sees.
inline bool traced(trace_flags::type flags) noexcept {
  const detail::process* me = detail::current_process;
  return me != nullptr && detail::traced(*me, flags & detail::user_flags);
}
} // namespace this_process

/// Emit a behaviour event (`trace_kind::restart`, `state_change` or
/// `annotation`) about the calling process, if it is traced for
/// `trace_flags::behaviour`. `what` and `detail` as `trace_event` describes
/// them; `other` and `reason` when the kind has them. Does nothing outside
/// a process.
///
/// @par Errors
/// `std::invalid_argument` for a kind that is not a behaviour event.
inline void trace_behaviour(trace_kind kind, std::string_view what, std::string_view detail = {},
                            const pid& other = {}, const exit_reason* reason = nullptr) {
  if (flag_of(kind) != trace_flags::behaviour)
    throw std::invalid_argument(fmt::format(
        "otpp::trace_behaviour: {} is not a behaviour event (restart, state_change, annotation)",
        to_string(kind)));
  detail::process* me = detail::current_process;
  if (me == nullptr || !detail::traced(*me, trace_flags::behaviour))
    return;
  trace_event ev{};
  ev.kind = kind;
  ev.other = other;
  ev.reason = reason;
  ev.what = what;
  ev.detail = detail;
  detail::emit(*me, ev);
}

/// A tracer calling `f(const trace_event&)`.
template <class F> std::shared_ptr<tracer> make_tracer(F f) {
  static_assert(std::is_invocable_v<F&, const trace_event&>,
                "otpp::make_tracer: the function must be callable with a const trace_event&");
  struct function_tracer final : tracer {
    explicit function_tracer(F f) : fn(std::move(f)) {}
    void on_event(const trace_event& ev) override { fn(ev); }
    F fn;
  };
  return std::make_shared<function_tracer>(std::move(f));
}

/// A `trace_event` that owns what it names: what `trace_to` sends.
struct trace_record {
  trace_kind kind{};
  pid subject;
  pid other;
  std::uint64_t ref = 0;
  std::optional<exit_reason> reason;
  std::string message_type; ///< the message's type name; empty if there is none
  std::string what;
  std::string detail;
  std::chrono::steady_clock::time_point at{};
  int scheduler = -1;
  span_context span{};                           ///< span, flow (see trace_event)
  std::uint64_t parent = 0;                      ///< span, flow
  std::chrono::steady_clock::time_point since{}; ///< span, flow

  static trace_record from(const trace_event& ev) {
    trace_record r;
    r.kind = ev.kind;
    r.subject = ev.subject;
    r.other = ev.other;
    r.ref = ev.ref;
    if (ev.reason != nullptr)
      r.reason = *ev.reason;
    r.message_type = std::string(ev.message.type_name());
    r.what = std::string(ev.what);
    r.detail = std::string(ev.detail);
    r.at = ev.at;
    r.scheduler = ev.scheduler;
    r.span = ev.span;
    r.parent = ev.parent;
    r.since = ev.since;
    return r;
  }
};

/// A tracer that sends every event to the process `to` as a `trace_record`
/// (dropped once `to` has ended). The send never yields and is not traced.
/// @par OTP
/// A tracer process (`{tracer, Pid}`): events arrive as messages.
inline std::shared_ptr<tracer> trace_to(pid to) {
  return make_tracer([to = std::move(to)](const trace_event& ev) {
    if (to && ev.subject != to) // the tracer's own events would feed themselves
      detail::post_message(to.get(), trace_record::from(ev));
  });
}

} // namespace otpp

template <> struct fmt::formatter<otpp::trace_record> : fmt::formatter<std::string_view> {
  template <class Ctx> auto format(const otpp::trace_record& r, Ctx& ctx) const {
    auto out = fmt::format_to(ctx.out(), "{} {}", r.subject, otpp::to_string(r.kind));
    if (r.other)
      out = fmt::format_to(out, " {}", r.other);
    if (!r.message_type.empty())
      out = fmt::format_to(out, " {}", r.message_type);
    if (r.ref != 0)
      out = fmt::format_to(out, " #Ref<{}>", r.ref);
    if (r.reason)
      out = fmt::format_to(out, " {}", *r.reason);
    if (!r.what.empty())
      out = fmt::format_to(out, " {}", r.what);
    if (!r.detail.empty())
      out = fmt::format_to(out, " ({})", r.detail);
    if (r.span)
      out = fmt::format_to(out, " span {} parent {:016x}", r.span.span_id_hex(), r.parent);
    return out;
  }
};
