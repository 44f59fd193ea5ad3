// The process life cycle: spawn and start, the fiber's main, what an ending process owes.
// Distributed under the Boost Software License, Version 1.0.

// Part of the runtime's definitions (see detail/runtime_impl.hpp). The
// runtime include comes before the guard so that this header also compiles
// on its own: core/runtime.hpp then includes it, in its place, through
// detail/runtime_impl.hpp.
#include <otpp/core/runtime.hpp>

#ifndef OTPP_DETAIL_LIFECYCLE_HPP
#define OTPP_DETAIL_LIFECYCLE_HPP

#include <otpp/core/report.hpp>
#include <otpp/detail/causal_hooks.hpp>
#include <otpp/detail/process.hpp>
#include <otpp/detail/scheduler.hpp>
#include <otpp/detail/signals.hpp>
#include <otpp/detail/unwind.hpp>
#include <otpp/detail/wait.hpp>

#include <boost/context/fiber.hpp>

#include <cstdint>
#include <exception>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <type_traits>
#include <utility>
#include <vector>

namespace otpp::detail {

// ---------------------------------------------------------------------------
// Exit
// ---------------------------------------------------------------------------

// Everything a process owes the others when it ends: refuse new signals,
// answer pending link/monitor requests with noproc, send exit signals to
// links and down messages to monitors, drop its name and its mailbox.
inline void finish_process(process& p, exit_reason reason) {
  p.exiting = true;
  envelope* rest = p.inbox.close();
  p.reason = reason;
  p.status.store(process_status::exited);
  if (traced(p, trace_flags::procs | causal_bit)) [[unlikely]] {
    trace_signal(p, trace_kind::exit, nullptr, 0, &reason);
    if (traced(p, causal_bit))
      causal_exit(p);
  }
  // Free the name before any link or monitor hears of the exit, as Erlang
  // does: a supervisor restarts a named child as soon as it is told.
  if (p.named.load())
    p.rt->unregister_dead(&p); // see register_name
  process_ref self(&p);

  while (rest != nullptr) {
    envelope* next = rest->next;
    if (rest->kind == signal::link) {
      send_signal(static_cast<signal_envelope*>(rest)->from.get(), signal::link_exit, self,
                  exit_reason::noproc());
    } else if (rest->kind == signal::monitor) {
      auto* s = static_cast<signal_envelope*>(rest);
      send_down(s->from.get(), s->ref, self, exit_reason::noproc());
    } else if (rest->kind == signal::message && (rest->flags & request_flag) != 0) {
      // A request that arrived while we were alive: its requester learns
      // why it will get no answer.
      reply_to& from = request_origin(rest);
      send_down(from.pid.get(), from.tag.value(), self, reason);
    }
    rest->destroy();
    rest = next;
  }

  std::vector<link_entry> links;
  std::vector<monitor_entry> monitors, monitored_by;
  {
    std::lock_guard lock(p.meta);
    links = p.links.release();
    monitors = p.monitors.release();
    monitored_by = p.monitored_by.release();
  }
  for (auto& l : links)
    send_signal(l.other.get(), signal::link_exit, self, reason);
  for (auto& m : monitored_by)
    send_down(m.other.get(), m.ref, self, reason);
  for (auto& m : monitors)
    send_signal(m.other.get(), signal::demonitor, self, {}, m.ref);
  p.box.clear();
  p.mark_node = nullptr;
  if (!p.is_foreign())
    p.rt->process_ended(p);
}

// The main function of every process fiber.
inline boost::context::fiber process_main(process* p, boost::context::fiber&& sched) {
  p->sched_ctx = std::move(sched);
  p->sched->entered(*p);
  exit_reason reason;
  bool crashed = false;
  try {
    drain(*p); // exit signals sent before the first run
    p->body->run();
  } catch (const process_exit& e) {
    reason = e.reason();
  } catch (const fiber_unwind&) {
    throw;
  } catch (...) {
    reason = exit_reason::from_exception(std::current_exception());
    crashed = true;
  }
  p->exiting = true;
  p->body.reset();
  // Out of the catch block: the handler may send (and a send may yield).
  if (crashed && p->rt->options().report_crashes) {
    const pid self{process_ref(p)};
    send_report(report_kind::error, self,
                fmt::format("Error in process {} with exit value: {}", self, reason));
  }
  finish_process(*p, std::move(reason));
  return p->sched->finish(*p);
}

} // namespace otpp::detail

namespace otpp {

template <class F> spawned_monitor runtime::spawn_and_monitor(F&& f, spawn_options opts) {
  static_assert(std::is_invocable_v<std::decay_t<F>&>,
                "otpp::spawn: the process function must be callable with no arguments");
  detail::process* parent = detail::current_process;
  if ((opts.link || opts.monitor) && parent == nullptr)
    throw std::logic_error(
        "otpp::spawn: link or monitor requested from a thread that is not a process");
  detail::scheduler& sched = pick(opts); // may throw: before anything is allocated
  auto owner = std::make_unique<detail::process>();
  detail::process* p = owner.get();
  p->id = detail::next_unique();
  p->rt = this;
  p->body = std::make_unique<detail::body_impl<std::decay_t<F>>>(std::forward<F>(f));
  p->entry = &detail::process_main;
  p->stack_size = opts.stack_size;
  p->park_after = std::chrono::duration_cast<std::chrono::nanoseconds>(
                      opts.hibernate_after.value_or(options_.hibernate_after))
                      .count();
  p->park_flags = p->park_after != 0 ? detail::park_when_idle : 0;
  p->trap_exit.store(opts.trap_exit, std::memory_order_relaxed);
  p->mailbox_limit = opts.mailbox_limit;
  p->overflow = static_cast<std::uint8_t>(opts.on_overflow);
  p->budget = options_.reductions;
  p->sched = &sched;
  // Trace flags: the parent's if it passes them on (set_on_spawn), else
  // those of new processes (trace_new_processes).
  const std::uint16_t parent_flags =
      parent != nullptr ? parent->trace_flags.load(std::memory_order_relaxed) : 0;
  p->trace_flags.store((parent_flags & trace_flags::set_on_spawn) != 0
                           ? static_cast<std::uint16_t>(parent_flags & detail::user_flags)
                           : new_trace_flags_.load(std::memory_order_relaxed),
                       std::memory_order_relaxed);
  return start(owner.release(), opts);
}

inline spawned_monitor runtime::start(detail::process* p, const spawn_options& opts) {
  detail::process* parent = detail::current_process;
  if (opts.link) {
    p->links.insert({detail::process_ref(parent)});
    std::lock_guard lock(parent->meta);
    parent->links.insert({detail::process_ref(p)});
  }
  std::uint64_t r = 0;
  if (opts.monitor) {
    r = detail::next_unique();
    p->monitored_by.insert({r, detail::process_ref(parent)});
    detail::add_monitor(parent->monitors, parent->meta, r, detail::process_ref(p));
  }
  if (parent != nullptr && detail::traced(*parent, trace_flags::procs)) [[unlikely]] {
    detail::trace_signal(*parent, trace_kind::spawn, p);
    if (opts.link)
      detail::trace_signal(*parent, trace_kind::link, p);
  }
  if (opts.monitor && detail::traced(*parent, trace_flags::monitors)) [[unlikely]]
    detail::trace_signal(*parent, trace_kind::monitor, p, r);
  p->sched->add(p);
  if (shutting_down_.load())
    detail::send_signal(p, detail::signal::forced_exit, nullptr, exit_reason::shutdown());
  pid result{detail::process_ref(p)};
  // From here on the process may run (and end), and until it first runs an
  // idle scheduler may take it, unless the options placed it.
  p->sched->schedule_new(p, opts.scheduler.has_value());
  if (parent != nullptr)
    detail::count_reduction(*parent);
  return {result, ref(r)};
}

} // namespace otpp

#endif // OTPP_DETAIL_LIFECYCLE_HPP
