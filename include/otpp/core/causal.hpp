// Causal traces: a span a process opens (`trace_span`), and the context that
// messages then carry from process to process (docs/tracing.md, "Causal
// traces"). Exporting what the runtime records: core/trace_export.hpp.
// Distributed under the Boost Software License, Version 1.0.
#pragma once

#include <otpp/core/process.hpp>
#include <otpp/core/runtime.hpp>
#include <otpp/core/span_context.hpp>
#include <otpp/detail/process.hpp>

#include <cstdint>
#include <string_view>

namespace otpp {

/// A span of work in the calling process, from construction to
/// destruction (or `end()`): the child of the span the process works in,
/// of `parent` (a context from elsewhere, e.g. an incoming `traceparent`),
/// or the root of a new trace.
///
/// While a process has a span open, every message it sends (requests and
/// replies too) carries the span's context. A process that takes such a
/// message outside a trace_span of its own works on it in a new span,
/// child of the sender's, until it takes its next message that is not a
/// reply; a reply to a call made in a span continues that span, and what a
/// process takes inside its own trace_span is part of that span. So a
/// request through several processes is one trace. Spans that end go to the runtime's tracer as
/// `trace_kind::span` events, and every message taken as a
/// `trace_kind::flow` event (see `trace_recorder`).
///
/// A trace_span belongs to its process: create and destroy it in the
/// same process (it is neither copyable nor movable).
///
/// @par Errors
/// `std::logic_error` outside a process.
/// @par OTP
/// `seq_trace`'s token, carried by every message a process sends once it
/// has one; with W3C Trace Context ids, as OpenTelemetry spans.
class trace_span {
public:
  explicit trace_span(std::string_view name)
      : p_(&detail::self_or_throw("otpp::trace_span")),
        ctx_(detail::open_user_span(*p_, name, nullptr)) {}
  trace_span(std::string_view name, const span_context& parent)
      : p_(&detail::self_or_throw("otpp::trace_span")),
        ctx_(detail::open_user_span(*p_, name, &parent)) {}
  trace_span(const trace_span&) = delete;
  trace_span& operator=(const trace_span&) = delete;
  ~trace_span() { end(); }

  /// The span's context (its `traceparent()` for another system).
  const span_context& context() const noexcept { return ctx_; }

  /// End the span now (with the spans begun inside it); later calls do
  /// nothing.
  void end() noexcept {
    if (p_ != nullptr)
      detail::close_user_span(*p_, ctx_.span_id);
    p_ = nullptr;
  }

private:
  detail::process* p_;
  span_context ctx_;
};

namespace this_process {
/// The span the calling process works in (empty if none, or outside a
/// process): pass on `trace_context().traceparent()` to continue the trace
/// in another system.
inline span_context trace_context() noexcept {
  detail::process* me = detail::current_process;
  if (me == nullptr)
    return {};
  const detail::open_span* s = detail::current_span(*me);
  return s != nullptr ? s->ctx : span_context{};
}
} // namespace this_process

} // namespace otpp
