// Tracing hooks: the test on every hot path (`traced`) and the cold
// functions that build an event and hand it to the runtime's tracer.
// Distributed under the Boost Software License, Version 1.0.

// Part of the runtime's definitions (see detail/runtime_impl.hpp). The
// runtime include comes before the guard so that this header also compiles
// on its own: core/runtime.hpp then includes it, in its place, through
// detail/runtime_impl.hpp.
#include <otpp/core/runtime.hpp>

#ifndef OTPP_DETAIL_TRACE_HOOKS_HPP
#define OTPP_DETAIL_TRACE_HOOKS_HPP

#include <otpp/core/exit_reason.hpp>
#include <otpp/core/pid.hpp>
#include <otpp/core/trace_event.hpp>
#include <otpp/detail/process.hpp>
#include <otpp/detail/scheduler.hpp>

#include <chrono>
#include <cstdint>
#include <limits>
#include <memory>
#include <string_view>

namespace otpp::detail {

// The one test a hot path makes: is `p` traced for any of `flags`? A
// relaxed load of a field next to the reduction budget, which the same
// path touches anyway; when tracing is off it is one predictable branch.
inline bool traced(const process& p, trace_flags::type flags) noexcept {
  return (p.trace_flags.load(std::memory_order_relaxed) & flags) != 0;
}

// Set while a tracer runs on this thread: what the tracer itself does (a
// send to a tracer process) is not traced, so it cannot recurse.
inline thread_local bool in_tracer = false;

// The tracer this thread used last, and the runtime's tracer_version() it
// came with: while that stays the same, an event costs no lock and no
// reference count. (A replaced tracer is released by each thread at its
// next event, or when the thread ends.)
struct tracer_cache {
  std::uint64_t version = 0;
  std::shared_ptr<tracer> current;
};
inline thread_local tracer_cache last_tracer;

inline tracer* tracer_of(const runtime& rt) {
  const std::uint64_t v = rt.tracer_version();
  if (last_tracer.version != v) {
    last_tracer.current = rt.current_tracer();
    last_tracer.version = v;
  }
  return last_tracer.current.get();
}

// Hand `ev` (about `subject`) to the runtime's tracer, if there is one and
// this thread is not already in it. Never throws.
[[gnu::cold, gnu::noinline]] inline void emit(process& subject, trace_event& ev) noexcept {
  if (in_tracer || subject.rt == nullptr)
    return;
  in_tracer = true;
  // A send in the tracer must not yield: the event may come from the middle
  // of a send or of taking in the inbox, and another process of this thread
  // would run with in_tracer set. Its reductions are not counted.
  process* const running = current_process;
  const std::uint32_t budget = running != nullptr ? running->budget : 0;
  if (running != nullptr)
    running->budget = std::numeric_limits<std::uint32_t>::max();
  try {
    if (tracer* t = tracer_of(*subject.rt)) {
      ev.subject = pid(process_ref(&subject));
      if (ev.at == std::chrono::steady_clock::time_point{})
        ev.at = std::chrono::steady_clock::now();
      if (current_process == &subject && subject.sched != nullptr)
        ev.scheduler = static_cast<int>(subject.sched->index());
      t->on_event(ev);
    }
  } catch (...) { // NOLINT(bugprone-empty-catch): a failing tracer loses its event, nothing else
  }
  if (running != nullptr)
    running->budget = budget;
  in_tracer = false;
}

// The event of `kind` with another process (null: none) and a ref.
inline trace_event event_of(trace_kind kind, process* other, std::uint64_t ref) noexcept {
  trace_event ev{};
  ev.kind = kind;
  ev.other = pid(process_ref(other));
  ev.ref = ref;
  return ev;
}

// An event about `subject` and possibly another process, a ref, a reason.
[[gnu::cold, gnu::noinline]] inline void
trace_signal(process& subject, trace_kind kind, process* other, std::uint64_t ref = 0,
             const exit_reason* reason = nullptr) noexcept {
  if (!traced(subject, flag_of(kind)))
    return;
  trace_event ev = event_of(kind, other, ref);
  ev.reason = reason;
  emit(subject, ev);
}

// An event carrying the message of envelope `e` (send, receive, call, reply).
[[gnu::cold, gnu::noinline]] inline void trace_message(process& subject, trace_kind kind,
                                                       process* other, const envelope& e,
                                                       std::uint64_t ref = 0) noexcept {
  if (!traced(subject, flag_of(kind)))
    return;
  trace_event ev = event_of(kind, other, ref);
  ev.message = traced_message(e.type, e.type->value(&e));
  emit(subject, ev);
}

// A name taken or given up (register_name, unregister_name).
[[gnu::cold, gnu::noinline]] inline void trace_name(process& subject, trace_kind kind,
                                                    std::string_view name) noexcept {
  trace_event ev = event_of(kind, nullptr, 0);
  ev.what = name;
  emit(subject, ev);
}

} // namespace otpp::detail

#endif // OTPP_DETAIL_TRACE_HOOKS_HPP
