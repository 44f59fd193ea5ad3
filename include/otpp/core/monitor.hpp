// Monitors: watch a process and get a down message when it ends.
// Distributed under the Boost Software License, Version 1.0.
#pragma once

#include <otpp/core/message.hpp>
#include <otpp/core/pid.hpp>
#include <otpp/core/process.hpp>
#include <otpp/core/runtime.hpp>
#include <otpp/core/trace_event.hpp>

#include <cstdint>
#include <mutex>

namespace otpp {

/// Monitor `target`: one `down` message (core/message.hpp) arrives when it
/// ends, whatever the reason, or at once with `noproc` if it has already
/// ended.
/// @par OTP
/// `monitor(process, Pid)`.
inline ref monitor(const pid& target) {
  detail::process& me = detail::self_or_throw("otpp::monitor");
  std::uint64_t r = detail::next_unique();
  detail::add_monitor(me.monitors, me.meta, r, target.ref_ptr());
  if (detail::traced(me, trace_flags::monitors)) [[unlikely]]
    detail::trace_signal(me, trace_kind::monitor, target.get(), r);
  if (target) {
    auto* e = new detail::signal_envelope(detail::signal::monitor, detail::process_ref(&me), {}, r);
    if (detail::push(target.get(), e))
      return ref(r);
    e->destroy();
  }
  detail::send_down(&me, r, target.ref_ptr(), exit_reason::noproc());
  return ref(r);
}

/// Options of `demonitor`.
struct demonitor_options {
  /// Also remove a `down` message of this monitor already in the mailbox.
  bool flush = false;
};

/// Stop monitoring: no `down` message for `monitor_ref` arrives afterwards.
/// Returns true if the monitor was active.
/// @par OTP
/// `demonitor/2` (with `[flush]` when `opts.flush`).
inline bool demonitor(ref monitor_ref, demonitor_options opts = {}) {
  detail::process& me = detail::self_or_throw("otpp::demonitor");
  auto m = detail::take_monitor(me.monitors, me.meta, monitor_ref.value());
  if (m && detail::traced(me, trace_flags::monitors)) [[unlikely]]
    detail::trace_signal(me, trace_kind::demonitor, m->other.get(), monitor_ref.value());
  if (m && m->other)
    detail::send_signal(m->other.get(), detail::signal::demonitor, detail::process_ref(&me), {},
                        monitor_ref.value());
  // A down is moved into the mailbox only by taking the monitor's entry: if
  // the entry was still there, no down of it is in the mailbox (one still in
  // the inbox is dropped on arrival), so there is nothing to flush.
  if (opts.flush && !m) {
    detail::drain(me);
    detail::envelope* prev = &me.box.head;
    while (detail::envelope* e = prev->next) {
      if (e->type == detail::type_tag<down>() &&
          static_cast<detail::message_envelope<down>*>(e)->value.monitor == monitor_ref) {
        detail::unlink_message(me, prev)->destroy();
        break; // a monitor has one down at most
      }
      prev = e;
    }
  }
  return m.has_value();
}

} // namespace otpp
