// Requests and replies: a message with an implicit monitor, and an answer
// that only reaches a requester still waiting for it.
// Distributed under the Boost Software License, Version 1.0.
#pragma once

#include <otpp/core/any_message.hpp>
#include <otpp/core/message.hpp>
#include <otpp/core/monitor.hpp>
#include <otpp/core/pid.hpp>
#include <otpp/core/process.hpp>
#include <otpp/core/runtime.hpp>
#include <otpp/core/trace_event.hpp>

#include <algorithm>
#include <cstdint>
#include <type_traits>
#include <utility>

namespace otpp {

namespace detail {
template <class M> void set_origin(message_envelope<M>* e, const void* field, std::uint8_t flag) {
  e->flags = flag;
  e->origin = static_cast<std::uint32_t>(static_cast<const char*>(field) -
                                         reinterpret_cast<const char*>(static_cast<envelope*>(e)));
}
} // namespace detail

/// Send `msg` to `to` as a `request<T>` and start waiting for its answer.
/// Returns the request's tag.
///
/// In one envelope this does what `monitor(to)` followed by a send would: if
/// `to` ends before it answers, a `down{tag, to, reason}` arrives (at once,
/// with `noproc`, if `to` is already gone). The answer, a `reply<R>` carrying
/// the tag, is delivered only while the request is pending; it ends the
/// monitor. `cancel_request(tag)` gives up: nothing for the tag arrives later.
///
/// Take a `this_process::mark()` before sending to receive the answer in
/// constant time however long the mailbox is.
///
/// @par Errors
/// `std::logic_error` outside a process.
/// @par OTP
/// `erlang:monitor(process, To, [{alias, reply_demonitor}])` plus a send:
/// the mechanism under `gen_server:call`.
template <class T> ref send_request(const pid& to, T&& msg) {
  using M = request<std::decay_t<T>>;
  static_assert(std::is_move_constructible_v<std::decay_t<T>>,
                "otpp::send_request: a message must be a move-constructible type");
  detail::process& me = detail::self_or_throw("otpp::send_request");
  std::uint64_t tag = detail::next_unique();
  detail::add_monitor(me.monitors, me.meta, tag, to.ref_ptr());
  me.requests.push_back(tag);
  bool sent = false;
  if (to) {
    auto* e = new detail::message_envelope<M>(
        M{reply_to{pid(detail::process_ref(&me)), ref(tag)}, std::forward<T>(msg)});
    detail::set_origin(e, &e->value.from, detail::request_flag);
    if (detail::traced(me, trace_flags::send | trace_flags::calls | detail::causal_bit))
        [[unlikely]] {
      detail::trace_message(me, trace_kind::call, to.get(), *e, tag);
      detail::traced_send(me, to.get(), *e);
    }
    if (detail::admit(*to.get(), *e) != detail::admission::queue) {
      e->destroy(); // a full mailbox: the call fails at once, and says why
      detail::send_down(&me, tag, to.ref_ptr(), exit_reason::mailbox_full());
      detail::count_send(me);
      return ref(tag);
    }
    sent = detail::push(to.get(), e);
    if (!sent)
      e->destroy();
  }
  if (!sent)
    detail::send_down(&me, tag, to.ref_ptr(), exit_reason::noproc());
  detail::count_send(me);
  return ref(tag);
}

/// Answer a request: `to` receives `reply<R>{to.tag, value}` if it still
/// waits for that request; otherwise (it gave up, or ended) nothing happens.
/// Any process or thread may answer, any number of times: only the first
/// answer is delivered.
///
/// @par OTP
/// `gen_server:reply/2`.
template <class T> void send_reply(const reply_to& to, T&& value) {
  using M = reply<std::decay_t<T>>;
  if (!to.pid)
    return;
  auto* e = new detail::message_envelope<M>(M{to.tag, std::forward<T>(value)});
  detail::set_origin(e, &e->value.tag, detail::reply_flag);
  detail::process* me = detail::current_process;
  // The answering process is usually the one the requester monitors: drop
  // that monitor here, so the requester need not send a demonitor back.
  if (me != nullptr && !me->monitored_by.empty() &&
      detail::take_monitor(me->monitored_by, me->meta, to.tag.value()))
    e->flags |= detail::monitor_cleared;
  if (me != nullptr && detail::traced(*me, trace_flags::send | trace_flags::calls |
                                               detail::causal_bit)) [[unlikely]] {
    detail::trace_message(*me, trace_kind::reply, to.pid.get(), *e, to.tag.value());
    detail::traced_send(*me, to.pid.get(), *e);
  }
  detail::push_or_drop(to.pid.get(), e);
  if (me != nullptr)
    detail::count_send(*me);
}

/// Give up waiting for the request `tag`: end its monitor, and remove its
/// reply or `down` if either is already in the mailbox; nothing for `tag`
/// arrives afterwards. Returns true if the request was still pending.
inline bool cancel_request(ref tag) {
  detail::process& me = detail::self_or_throw("otpp::cancel_request");
  auto it = std::find(me.requests.begin(), me.requests.end(), tag.value());
  bool pending = it != me.requests.end();
  if (pending) {
    *it = me.requests.back();
    me.requests.pop_back();
  }
  demonitor(tag, {.flush = true}); // a down already in the mailbox goes too
  if (pending)
    return true; // no reply has reached the mailbox: one arriving now is dropped
  detail::envelope* prev = &me.box.head;
  while (detail::envelope* e = prev->next) {
    if ((e->flags & detail::reply_flag) != 0 && detail::reply_tag(e) == tag.value()) {
      detail::unlink_message(me, prev)->destroy();
      break;
    }
    prev = e;
  }
  return pending;
}

/// True while the request `tag` of the calling process awaits its answer.
inline bool request_pending(ref tag) {
  detail::process& me = detail::self_or_throw("otpp::request_pending");
  return std::find(me.requests.begin(), me.requests.end(), tag.value()) != me.requests.end();
}

} // namespace otpp
