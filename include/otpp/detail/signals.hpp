// Delivery of messages and signals (exit, link, monitor), and how a process applies them.
// Distributed under the Boost Software License, Version 1.0.

// Part of the runtime's definitions (see detail/runtime_impl.hpp). The
// runtime include comes before the guard so that this header also compiles
// on its own: core/runtime.hpp then includes it, in its place, through
// detail/runtime_impl.hpp.
#include <otpp/core/runtime.hpp>

#ifndef OTPP_DETAIL_SIGNALS_HPP
#define OTPP_DETAIL_SIGNALS_HPP

#include <otpp/core/message.hpp>
#include <otpp/core/report.hpp>
#include <otpp/detail/process.hpp>
#include <otpp/detail/scheduler.hpp>
#include <otpp/detail/trace_hooks.hpp>

#include <fmt/format.h>

#include <algorithm>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

namespace otpp::detail {

// ---------------------------------------------------------------------------
// Delivery
// ---------------------------------------------------------------------------

// Make a process that waits on its inbox run again. Any thread.
inline void wake(process* p) noexcept {
  if (p->waiter) {
    if (p->waiter->vclock != nullptr) [[unlikely]]
      p->waiter->vclock->hold(); // virtual time stands still until it waits again
    {
      std::lock_guard lock(p->waiter->mutex);
      p->waiter->woken = true;
    }
    // Notified after the unlock: notified under it, the woken thread went
    // back to sleep on the mutex the notifier still held (a second context
    // switch per wake-up, measured with a thread that receives from 1,000
    // processes). The waiter lives as long as the control block, which the
    // caller holds.
    p->waiter->cv.notify_one();
    return;
  }
  p->status.store(process_status::ready, std::memory_order_relaxed);
  p->sched->schedule(p);
}

// Push `e` into `to`'s inbox. False if `to` has ended: `e` is still the caller's.
inline bool push(process* to, envelope* e) noexcept {
  switch (to->inbox.push(e)) {
  case closable_inbox<envelope>::push_result::ok:
    return true;
  case closable_inbox<envelope>::push_result::woke_reader:
    wake(to);
    return true;
  case closable_inbox<envelope>::push_result::closed:
    if (to->remote) [[unlikely]]
      return to->remote->ops->deliver(to, e); // a proxy: to its node's endpoint
    return false;
  }
  return false;
}

inline void push_or_drop(process* to, envelope* e) noexcept {
  if (!push(to, e))
    e->destroy();
}

inline void send_signal(process* to, signal k, process_ref from, exit_reason r = {},
                        std::uint64_t ref = 0) {
  push_or_drop(to, new signal_envelope(k, std::move(from), std::move(r), ref));
}

inline void send_down(process* to, std::uint64_t ref, process_ref who, exit_reason r) {
  auto* e = new message_envelope<down>(down{otpp::ref(ref), pid(std::move(who)), std::move(r)});
  e->kind = signal::down;
  push_or_drop(to, e);
}

template <class T> void post_message(process* to, T&& msg) {
  push_or_drop(to, new message_envelope<std::decay_t<T>>(std::forward<T>(msg)));
}

// ---------------------------------------------------------------------------
// Bounded mailboxes (spawn_options::mailbox_limit)
// ---------------------------------------------------------------------------

enum class admission : std::uint8_t { queue, drop, refuse };

// The first overflow of `to`'s mailbox is reported, once. Never throws.
[[gnu::noinline]] inline void report_overflow_once(process& to) noexcept {
  if (to.overflowed.exchange(true))
    return;
  try {
    std::string name, label;
    {
      std::lock_guard lock(to.meta);
      name = to.name;
      label = to.label;
    }
    static constexpr const char* policies[] = {"drop_new", "drop_oldest", "reject", "exit"};
    const pid who{process_ref(&to)};
    send_report(report_kind::mailbox_full, who,
                fmt::format("process {} has a full mailbox ({} messages, its limit); "
                            "overflow_policy::{} applies from now on",
                            pid_and_name(who, name, label), to.mailbox_limit,
                            policies[to.overflow & 3]));
  } catch (...) { // NOLINT(bugprone-empty-catch): a report that cannot be made loses nothing else
  }
}

[[gnu::noinline]] inline admission admit_bounded(process& to, envelope& e) noexcept {
  const std::size_t n = to.queued.fetch_add(1, std::memory_order_relaxed);
  const auto policy = static_cast<overflow_policy>(to.overflow);
  if (n < to.mailbox_limit || policy == overflow_policy::drop_oldest) {
    e.flags = static_cast<std::uint8_t>(e.flags | counted_flag);
    if (n >= to.mailbox_limit)
      report_overflow_once(to); // the receiver drops its oldest (see trim_oldest)
    return admission::queue;
  }
  to.queued.fetch_sub(1, std::memory_order_relaxed);
  to.dropped.fetch_add(1, std::memory_order_relaxed);
  if (policy == overflow_policy::exit && !to.overflowed.load()) {
    try {
      send_signal(&to, signal::forced_exit, nullptr, exit_reason::mailbox_full());
    } catch (...) { // NOLINT(bugprone-empty-catch): out of memory; the next overflow tries again
      return admission::drop;
    }
  }
  report_overflow_once(to);
  return policy == overflow_policy::reject ? admission::refuse : admission::drop;
}

// May a message `e` for `to` be queued, under `to`'s mailbox limit? A
// queued one is marked counted. Only user messages and requests go
// through here: signals, replies and timer messages never count.
inline admission admit(process& to, envelope& e) noexcept {
  if (to.mailbox_limit == 0) [[likely]]
    return admission::queue;
  return admit_bounded(to, e);
}

// Push `e`, a user message, under the receiver's limit; false if it refused
// it. Always inlined: it is the whole of a send's fast path.
[[gnu::always_inline]] inline bool post_envelope_counted(process* to, envelope* e) noexcept {
  switch (admit(*to, *e)) {
  case admission::queue:
    push_or_drop(to, e);
    return true;
  case admission::drop:
    e->destroy();
    return true;
  case admission::refuse:
    break;
  }
  e->destroy();
  return false;
}

// ---------------------------------------------------------------------------
// Owner-side tables (links, monitors); writes under `meta` for readers.
// ---------------------------------------------------------------------------

// Lookups are the owner's alone; changes happen under `meta`, which
// introspection holds while it reads (keyed_table: constant time each).
inline bool has_link(process& p, process* other) noexcept {
  return p.links.contains(link_key_of(other));
}
inline void add_link(process& p, process_ref other) {
  if (other.get() == &p || has_link(p, other.get()))
    return;
  std::lock_guard lock(p.meta);
  p.links.insert({std::move(other)});
}
inline bool remove_link(process& p, process* other) {
  std::lock_guard lock(p.meta); // uncontended: cheaper than a second lookup
  return p.links.take(link_key_of(other)).has_value();
}
inline void add_monitor(monitor_table& table, spinlock& meta, std::uint64_t ref,
                        process_ref other) {
  std::lock_guard lock(meta);
  table.insert({ref, std::move(other)});
}
inline std::optional<monitor_entry> take_monitor(monitor_table& table, spinlock& meta,
                                                 std::uint64_t ref) {
  std::lock_guard lock(meta); // uncontended: cheaper than a second lookup
  return table.take(ref);
}

// ---------------------------------------------------------------------------
// Signals
// ---------------------------------------------------------------------------

inline void append_message(process& p, envelope* e) noexcept {
  if (traced(p, trace_flags::receive)) [[unlikely]]
    trace_message(p, trace_kind::receive, nullptr, *e);
  p.box.push_back(e);
}

// The reply_to of a request envelope / the tag of a reply envelope.
inline reply_to& request_origin(envelope* e) noexcept {
  return *reinterpret_cast<reply_to*>(reinterpret_cast<char*>(e) + e->origin);
}
inline std::uint64_t reply_tag(const envelope* e) noexcept {
  return reinterpret_cast<const otpp::ref*>(reinterpret_cast<const char*>(e) + e->origin)->value();
}

// A request arriving: the requester now monitors us (one envelope for
// monitor + message). A reply arriving: delivered only if its request is
// still pending (the requester did not give up), which also ends the
// request's monitor. False: drop it.
inline bool accept_tagged(process& p, envelope* e) {
  if ((e->flags & request_flag) != 0) {
    reply_to& from = request_origin(e);
    add_monitor(p.monitored_by, p.meta, from.tag.value(), from.pid.ref_ptr());
    return true;
  }
  std::uint64_t tag = reply_tag(e);
  auto it = std::find(p.requests.begin(), p.requests.end(), tag);
  if (it == p.requests.end())
    return false; // a late reply: its requester gave up
  *it = p.requests.back();
  p.requests.pop_back();
  auto m = take_monitor(p.monitors, p.meta, tag);
  if (m && m->other && (e->flags & monitor_cleared) == 0)
    send_signal(m->other.get(), signal::demonitor, process_ref(&p), {}, tag);
  return true;
}

// overflow_policy::drop_oldest: after taking in its inbox, the owner drops
// its oldest counted messages past the limit. A dropped request's
// requester is told at once (a down with reason mailbox_full).
[[gnu::noinline]] inline void trim_oldest(process& p) {
  envelope* prev = &p.box.head;
  std::uint64_t n = 0;
  while (p.queued.load(std::memory_order_relaxed) > p.mailbox_limit && prev->next != nullptr) {
    envelope* e = prev->next;
    if ((e->flags & counted_flag) == 0) {
      prev = e;
      continue;
    }
    unlink_message(p, prev);
    if ((e->flags & request_flag) != 0) {
      reply_to& from = request_origin(e);
      take_monitor(p.monitored_by, p.meta, from.tag.value());
      send_down(from.pid.get(), from.tag.value(), process_ref(&p), exit_reason::mailbox_full());
    }
    e->destroy();
    ++n;
  }
  if (n != 0) {
    p.dropped.fetch_add(n, std::memory_order_relaxed);
    ++p.trims;
  }
}

inline void append_exit_message(process& p, process_ref from, exit_reason r) {
  append_message(
      p, new message_envelope<exit_message>(exit_message{pid(std::move(from)), std::move(r)}));
}

// Every envelope but a plain message (see handle). Never inlined: the
// signal cases are large, and inlined into `handle` they made the compiler
// save every register for the message path too (ring: +6 instructions per
// hop when an unrelated change tipped its inlining).
[[gnu::noinline]] inline void handle_signal(process& p, envelope* e,
                                            std::optional<exit_reason>& die) {
  auto set_die = [&](exit_reason r) {
    if (!die)
      die = std::move(r);
  };
  if (e->kind == signal::down) {
    auto* m = static_cast<message_envelope<down>*>(e);
    if (take_monitor(p.monitors, p.meta, m->value.monitor.value())) {
      if (traced(p, trace_flags::monitors)) [[unlikely]]
        trace_signal(p, trace_kind::down, m->value.process.get(), m->value.monitor.value(),
                     &m->value.reason);
      e->kind = signal::message;
      append_message(p, e);
    } else {
      e->destroy(); // demonitored meanwhile: never delivered
    }
    return;
  }
  auto* s = static_cast<signal_envelope*>(e);
  switch (s->kind) {
  case signal::exit:
    if (s->reason.which() == exit_reason::kind::kill)
      set_die(exit_reason::killed());
    else if (p.trap_exit.load(std::memory_order_relaxed))
      append_exit_message(p, s->from, s->reason);
    else if (s->reason.is_normal()) {
      if (s->from.get() == &p)
        set_die(exit_reason::normal());
    } else
      set_die(s->reason);
    break;
  case signal::link_exit:
    if (!remove_link(p, s->from.get()))
      break; // unlinked meanwhile
    if (p.trap_exit.load(std::memory_order_relaxed))
      append_exit_message(p, s->from, s->reason);
    else if (!s->reason.is_normal())
      set_die(s->reason);
    break;
  case signal::forced_exit:
    set_die(s->reason);
    break;
  case signal::link:
    add_link(p, s->from);
    if (traced(p, trace_flags::procs)) [[unlikely]]
      trace_signal(p, trace_kind::getting_linked, s->from.get());
    break;
  case signal::unlink:
    remove_link(p, s->from.get());
    if (traced(p, trace_flags::procs)) [[unlikely]]
      trace_signal(p, trace_kind::getting_unlinked, s->from.get());
    break;
  case signal::monitor:
    add_monitor(p.monitored_by, p.meta, s->ref, s->from);
    break;
  case signal::demonitor:
    take_monitor(p.monitored_by, p.meta, s->ref);
    break;
  case signal::timeout:
    if (s->ref == p.recv_gen)
      p.timed_out = true;
    break;
  default:
    break; // wake: the waiter checks its own state
  }
  s->destroy();
}

// Apply one envelope from the inbox. An exit the process must die of is
// recorded in `die` (the first one wins); the caller throws after the batch.
inline void handle(process& p, envelope* e, std::optional<exit_reason>& die) {
  if (e->kind == signal::message) {
    if ((e->flags & (request_flag | reply_flag)) != 0 && !accept_tagged(p, e))
      e->destroy();
    else
      append_message(p, e);
    return;
  }
  handle_signal(p, e, die);
}

// End the calling process with `r` (throws process_exit). The process is
// marked exiting: one that swallows the exception exits again at its next
// receive. `by_signal`: an exit signal, which nothing can take back (see
// this_process::catch_exit).
[[noreturn]] inline void die(process& p, exit_reason r, bool by_signal = true) {
  p.reason = r;
  p.exiting = true;
  throw process_exit(std::move(r), by_signal);
}

} // namespace otpp::detail

#endif // OTPP_DETAIL_SIGNALS_HPP
