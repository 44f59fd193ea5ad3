// Causal traces, the hooks: a process in a span attaches its context to
// what it sends; a process that takes a message carrying one works on it
// in a new span (a reply continues the span that waits for it); spans that
// end are handed to the runtime's tracer, with a flow event per message.
// Every hook is cold: the hot paths reach them through tests they make
// anyway (the sender's trace flags, the envelope's flags, the receiver's
// trace flags: causal_bit is set while a process has open spans).
// Distributed under the Boost Software License, Version 1.0.

// Part of the runtime's definitions (see detail/runtime_impl.hpp). The
// runtime include comes before the guard so that this header also compiles
// on its own: core/runtime.hpp then includes it, in its place, through
// detail/runtime_impl.hpp.
#include <otpp/core/runtime.hpp>

#ifndef OTPP_DETAIL_CAUSAL_HOOKS_HPP
#define OTPP_DETAIL_CAUSAL_HOOKS_HPP

#include <otpp/core/pid.hpp>
#include <otpp/core/span_context.hpp>
#include <otpp/core/trace_event.hpp>
#include <otpp/detail/causal_state.hpp>
#include <otpp/detail/envelope_contexts.hpp>
#include <otpp/detail/process.hpp>
#include <otpp/detail/trace_hooks.hpp>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>

namespace otpp::detail {

using causal_clock = std::chrono::steady_clock;

// The innermost open span of `p`, or null.
inline open_span* current_span(process& p) noexcept {
  return p.causal && !p.causal->spans.empty() ? &p.causal->spans.back() : nullptr;
}

// causal_bit follows whether `p` has open spans (only `p` changes it).
inline void update_causal_bit(process& p) noexcept {
  if (current_span(p) != nullptr) {
    p.trace_flags.fetch_or(static_cast<std::uint16_t>(causal_bit), std::memory_order_relaxed);
  } else {
    p.trace_flags.fetch_and(static_cast<std::uint16_t>(~causal_bit), std::memory_order_relaxed);
    p.causal.reset();
  }
}

// Hand the tracer span `s` of `p`, ended at `end`.
inline void emit_span(process& p, const open_span& s, causal_clock::time_point end) noexcept {
  if (!s.ctx.sampled)
    return;
  trace_event ev = event_of(trace_kind::span, nullptr, 0);
  ev.span = s.ctx;
  ev.parent = s.parent;
  ev.since = s.start;
  ev.at = end;
  if (s.type != nullptr) {
    ev.message = traced_message(s.type, nullptr);
    ev.what = s.type->name;
  } else {
    ev.what = s.name;
  }
  // Who worked in it: its label, else its registered name (read here, on
  // the process's own thread).
  std::string name;
  ev.detail = p.label;
  if (p.label.empty() && p.named.load(std::memory_order_relaxed)) {
    try {
      std::lock_guard lock(p.meta);
      name = p.name;
    } catch (...) { // NOLINT(bugprone-empty-catch): out of memory, the span has no process name
    }
    ev.detail = name;
  }
  emit(p, ev);
}

// Where a span begun by a message ends: where its process went idle, or now.
inline causal_clock::time_point span_end(const open_span& s, causal_clock::time_point now) {
  return std::min(s.idle_since, now);
}

// End the spans of `p` above (and with `including`) the innermost `keep`
// ones; at `now` or where each went idle.
inline void end_spans(process& p, std::size_t keep, causal_clock::time_point now) noexcept {
  if (!p.causal)
    return;
  auto& spans = p.causal->spans;
  while (spans.size() > keep) {
    const open_span& s = spans.back();
    emit_span(p, s, s.origin == span_origin::user ? now : span_end(s, now));
    spans.pop_back();
  }
}

// A process in a span sends envelope `e`: it carries the span's context.
[[gnu::cold, gnu::noinline]] inline void attach_context(process& me, envelope& e) noexcept {
  open_span* s = current_span(me);
  if (s == nullptr)
    return;
  s->idle_since = causal_clock::time_point::max(); // still at work
  try {
    envelope_contexts::instance().put(
        &e, message_context{s->ctx, next_unique(), process_ref(&me), causal_clock::now()});
    e.flags = static_cast<std::uint8_t>(e.flags | causal_flag);
  } catch (...) { // NOLINT(bugprone-empty-catch): out of memory, the message goes untraced
  }
}

// The cold half of a send whose sender is traced or in a span.
[[gnu::cold, gnu::noinline]] inline void traced_send(process& me, process* to,
                                                     envelope& e) noexcept {
  if (traced(me, causal_bit))
    attach_context(me, e);
  if (traced(me, trace_flags::send))
    trace_message(me, trace_kind::send, to, e);
}

// `p` took `e` (a receive matched it). In a trace_span, or for a reply,
// the message is part of the current span (a flow into it). Otherwise it
// is new work: a span begun by an earlier message ends, and one carrying a
// context begins a span of its own. Called when `e` carries a context or
// `p` has open spans.
[[gnu::cold, gnu::noinline]] inline void causal_take(process& p, envelope& e) noexcept {
  message_context c;
  bool carried = false;
  if ((e.flags & causal_flag) != 0) {
    e.flags = static_cast<std::uint8_t>(e.flags & ~causal_flag);
    carried = envelope_contexts::instance().take(&e, c);
  }
  const causal_clock::time_point now = causal_clock::now();
  auto flow = [&](const span_context& into) {
    if (!into.sampled)
      return;
    trace_event ev = event_of(trace_kind::flow, c.sender.get(), c.flow);
    ev.message = traced_message(e.type, e.type->value(&e));
    ev.span = into;
    ev.parent = c.ctx.span_id;
    ev.since = c.sent;
    ev.at = now;
    emit(p, ev);
  };
  open_span* top = current_span(p);
  if (top != nullptr && ((e.flags & reply_flag) != 0 || top->origin == span_origin::user)) {
    // The answer to a call made in this span (the wait was part of it), or
    // a message the process takes in the span it opened itself.
    top->idle_since = causal_clock::time_point::max();
    if (carried)
      flow(top->ctx);
    return;
  }
  // New work: a span begun by a message ends.
  if (top != nullptr) {
    end_spans(p, p.causal->spans.size() - 1, now);
    top = nullptr;
  }
  if (carried) {
    try {
      if (!p.causal)
        p.causal = std::make_unique<causal_state>();
      open_span s;
      s.ctx = c.ctx;
      s.ctx.span_id = span_context::new_span_id();
      s.parent = c.ctx.span_id;
      s.start = now;
      s.type = e.type;
      s.origin = (e.flags & request_flag) != 0 ? span_origin::request : span_origin::message;
      p.causal->spans.push_back(std::move(s));
      flow(p.causal->spans.back().ctx);
    } catch (...) { // NOLINT(bugprone-empty-catch): out of memory, the work goes untraced
    }
  }
  update_causal_bit(p);
}

// `p` is about to wait for messages: the span it works in went idle here.
[[gnu::cold, gnu::noinline]] inline void causal_idle(process& p) noexcept {
  open_span* s = current_span(p);
  if (s != nullptr && s->origin != span_origin::user &&
      s->idle_since == causal_clock::time_point::max())
    s->idle_since = causal_clock::now();
}

// A receive of `p` timed out: it goes on with the work of its span.
[[gnu::cold, gnu::noinline]] inline void causal_resume(process& p) noexcept {
  if (open_span* s = current_span(p))
    s->idle_since = causal_clock::time_point::max();
}

// `p` ends: so do its spans.
[[gnu::cold, gnu::noinline]] inline void causal_exit(process& p) noexcept {
  end_spans(p, 0, causal_clock::now());
  update_causal_bit(p);
}

// A trace_span of `p` begins: a child of the current span, of `parent` if
// given, or the root of a new trace. Returns its context.
inline span_context open_user_span(process& p, std::string_view name, const span_context* parent) {
  open_span s;
  const open_span* cur = current_span(p);
  if (parent != nullptr && *parent) {
    s.ctx = *parent;
    s.ctx.span_id = span_context::new_span_id();
    s.parent = parent->span_id;
  } else if (cur != nullptr) {
    s.ctx = cur->ctx;
    s.ctx.span_id = span_context::new_span_id();
    s.parent = cur->ctx.span_id;
  } else {
    s.ctx = span_context::new_trace();
  }
  s.name = std::string(name);
  s.origin = span_origin::user;
  s.start = causal_clock::now();
  if (!p.causal)
    p.causal = std::make_unique<causal_state>();
  p.causal->spans.push_back(std::move(s));
  update_causal_bit(p);
  return p.causal->spans.back().ctx;
}

// The trace_span `id` of `p` ends, with the spans opened inside it.
inline void close_user_span(process& p, std::uint64_t id) noexcept {
  if (!p.causal)
    return;
  auto& spans = p.causal->spans;
  auto it = std::find_if(spans.begin(), spans.end(),
                         [&](const open_span& s) { return s.ctx.span_id == id; });
  if (it == spans.end())
    return; // ended already (the process's exit ended it)
  end_spans(p, static_cast<std::size_t>(it - spans.begin()), causal_clock::now());
  update_causal_bit(p);
}

} // namespace otpp::detail

#endif // OTPP_DETAIL_CAUSAL_HOOKS_HPP
