// A call in flight: sent now, its reply awaited later.
// Distributed under the Boost Software License, Version 1.0.
#pragma once

#include <otpp/behaviour/call_ref.hpp>
#include <otpp/behaviour/call_result.hpp>
#include <otpp/core/any_message.hpp>
#include <otpp/core/duration.hpp>
#include <otpp/core/exit_reason.hpp>
#include <otpp/core/link.hpp>
#include <otpp/core/monitor.hpp>
#include <otpp/core/pid.hpp>
#include <otpp/core/receive.hpp>
#include <otpp/core/request.hpp>
#include <otpp/core/runtime.hpp>

#include <fmt/format.h>

#include <optional>
#include <utility>

namespace otpp {

namespace detail {

// Wait for the answer to request `tag` sent to `to` after mark `m`. On
// timeout: nothing, and the request stays in flight unless `cancel`.
template <class R>
std::optional<call_result<R>> await_reply(const pid& to, ref tag, mailbox_mark m, duration timeout,
                                          bool cancel) {
  using W = wire_t<R>;
  using O = std::optional<call_result<R>>;
  this_process::waiting_on note("call", to);
  return this_process::receive(
      m,
      when([tag](const any_message& a) { return a.reply_tag() == tag; },
           [&to](any_message& a) -> O {
             if (auto* r = a.get_if<reply<W>>())
               return call_result<R>(std::move(r->value));
             if (auto* f = a.get_if<reply<call_failure>>())
               return call_result<R>(std::move(f->value.reason), to);
             return call_result<R>(
                 exit_reason::user(fmt::format("bad reply type: expected {}, got {}",
                                               otpp::type_name<reply<W>>(), a.type_name())),
                 to);
           }),
      when([tag](const down& d) { return d.monitor == tag; },
           [&to, tag](down& d) -> O {
             cancel_request(tag);
             return call_result<R>(std::move(d.reason), to);
           }),
      after(timeout, [&to, tag, cancel]() -> O {
        if (!cancel)
          return std::nullopt;
        cancel_request(tag);
        return call_result<R>(exit_reason::timeout(), to);
      }));
}

} // namespace detail

/// A call in flight (see `call_async`): wait for it later. Move-only; used by
/// the process that made it. Destroying it unanswered cancels it (a late
/// reply is dropped).
///
/// @par OTP
/// `gen_server:send_request/2` + `wait_response/2` / `receive_response/2`.
template <class R> class pending_call {
public:
  pending_call() = default;
  /// A request `tag` sent to `to` after mark `m` (see `send_request`).
  pending_call(otpp::pid to, ref tag, mailbox_mark m) : to_(std::move(to)), tag_(tag), mark_(m) {}
  pending_call(pending_call&& o) noexcept
      : to_(std::move(o.to_)), tag_(std::exchange(o.tag_, ref())), mark_(o.mark_) {}
  pending_call& operator=(pending_call&& o) noexcept {
    if (this != &o) {
      drop();
      to_ = std::move(o.to_);
      tag_ = std::exchange(o.tag_, ref());
      mark_ = o.mark_;
    }
    return *this;
  }
  ~pending_call() { drop(); }

  /// Wait for the answer; `timeout` ends the call as `call` does (it is
  /// cancelled and the result is a `timeout` error).
  call_result<R> wait(duration timeout = infinity) {
    detail::check_timeout(timeout, "otpp::pending_call::wait");
    if (!tag_)
      return call_result<R>(exit_reason::user("no call in flight"), to_);
    return *detail::await_reply<R>(to_, std::exchange(tag_, ref()), mark_, timeout, true);
  }
  /// Wait at most `timeout`; nothing if no answer came yet (the call stays
  /// in flight: wait again later).
  std::optional<call_result<R>> wait_for(duration timeout) {
    detail::check_timeout(timeout, "otpp::pending_call::wait_for");
    if (!tag_)
      return call_result<R>(exit_reason::user("no call in flight"), to_);
    auto out = detail::await_reply<R>(to_, tag_, mark_, timeout, false);
    if (out)
      tag_ = ref();
    return out;
  }
  /// Give up: a later reply is dropped. True if it was still in flight.
  bool cancel() {
    if (!tag_)
      return false;
    return cancel_request(std::exchange(tag_, ref()));
  }
  /// True until `wait` returned or `cancel` was called.
  bool in_flight() const noexcept { return static_cast<bool>(tag_); }
  const otpp::pid& server() const noexcept { return to_; }

private:
  void drop() noexcept {
    if (tag_ && this_process::is_process()) {
      try {
        cancel_request(std::exchange(tag_, ref()));
      } catch (...) { // noexcept: an exit signal is applied again at the next receive
        // NOLINT(bugprone-empty-catch)
      }
    }
  }
  otpp::pid to_;
  ref tag_;
  mailbox_mark mark_;
};

} // namespace otpp
