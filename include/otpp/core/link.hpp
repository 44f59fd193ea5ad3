// Links between processes: link and unlink (exit signals: core/process.hpp).
// Distributed under the Boost Software License, Version 1.0.
#pragma once

#include <otpp/core/message.hpp>
#include <otpp/core/pid.hpp>
#include <otpp/core/process.hpp>
#include <otpp/core/runtime.hpp>
#include <otpp/core/trace_event.hpp>

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
    if (detail::push(to.get(), e)) {
      if (detail::traced(me, trace_flags::procs)) [[unlikely]]
        detail::trace_signal(me, trace_kind::link, to.get());
      return;
    }
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
  if (detail::traced(me, trace_flags::procs)) [[unlikely]]
    detail::trace_signal(me, trace_kind::unlink, to.get());
  detail::send_signal(to.get(), detail::signal::unlink, detail::process_ref(&me));
}

} // namespace otpp
