// Links and monitors between processes.
// Distributed under the Boost Software License, Version 1.0.
#pragma once

#include <otpp/core/message.hpp>
#include <otpp/core/pid.hpp>
#include <otpp/core/process.hpp>
#include <otpp/core/runtime.hpp>

namespace otpp {

/// Link the calling process with `to`: when either ends abnormally the
/// other gets an exit signal (links are bidirectional).
///
/// @par Errors
/// If `to` has already ended, a non-trapping caller exits with `noproc`
/// (throws `process_exit`); a trapping caller receives
/// `exit_message{to, noproc}`. `std::logic_error` outside a process.
/// @par OTP
/// `link/1`. Linking twice or to oneself does nothing.
inline void link(const pid& to) {
  detail::process& me = detail::self_or_throw("otpp::link");
  if (to.get() == &me || (to && detail::has_link(me, to.get())))
    return;
  if (to) {
    detail::add_link(me, to.ref_ptr());
    auto* e = new detail::signal_envelope(detail::signal::link, detail::process_ref(&me));
    if (detail::push(to.get(), e))
      return;
    e->destroy();
    detail::remove_link(me, to.get());
  }
  if (me.trap_exit.load(std::memory_order_relaxed))
    detail::post_message(&me, exit_message{to, exit_reason::noproc()});
  else
    detail::die(me, exit_reason::noproc());
}

/// Remove the link between the calling process and `to`, if any. An exit
/// signal `to` sent through the link before is ignored afterwards.
/// @par OTP
/// `unlink/1`.
inline void unlink(const pid& to) {
  detail::process& me = detail::self_or_throw("otpp::unlink");
  if (!to || !detail::remove_link(me, to.get()))
    return;
  detail::send_signal(to.get(), detail::signal::unlink, detail::process_ref(&me));
}

/// Monitor `target`: one `down` message arrives when it ends, whatever the
/// reason, or at once with `noproc` if it has already ended.
/// @par OTP
/// `monitor(process, Pid)`.
inline ref monitor(const pid& target) {
  detail::process& me = detail::self_or_throw("otpp::monitor");
  std::uint64_t r = detail::next_unique();
  {
    std::lock_guard lock(me.meta);
    me.monitors.push_back({r, target.ref_ptr()});
  }
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
        continue;
      }
      prev = e;
    }
  }
  return m.has_value();
}

} // namespace otpp
