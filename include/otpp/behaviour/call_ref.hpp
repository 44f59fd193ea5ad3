// A deferred reply: the address of a waiting caller, answered later.
// Distributed under the Boost Software License, Version 1.0.
#pragma once

#include <otpp/core/exit_reason.hpp>
#include <otpp/core/pid.hpp>
#include <otpp/core/request.hpp>

#include <type_traits>
#include <utility>
#include <variant>

namespace otpp {

/// The reply that makes the caller's `call` fail with `reason` (see
/// `call_ref::fail`, unhandled calls, sys calls a behaviour cannot answer).
struct call_failure {
  exit_reason reason;
};

namespace detail {
// How a reply of type R travels (void replies as an empty value).
template <class R> using wire_t = std::conditional_t<std::is_void_v<R>, std::monostate, R>;
} // namespace detail

/// A deferred reply: a handler that takes a `call_ref<R>` may return
/// without replying and answer later, from any handler or process, with
/// `reply`. Copyable; only the first reply is delivered, and none reaches a
/// caller that gave up (timed out, cancelled, died).
///
/// @par Cloud Haskell / OTP
/// `handleCallFrom` + `replyTo`; gen_server's `From` + `gen_server:reply/2`.
template <class R> class call_ref {
public:
  using reply_type = R;

  call_ref() = default;
  explicit call_ref(reply_to to) : to_(std::move(to)) {}

  /// Answer the call with `value`.
  template <class V = R>
  requires(!std::is_void_v<R>) void reply(V&& value) const {
    send_reply(to_, R(std::forward<V>(value)));
  }
  /// Answer a call whose reply type is void.
  void reply() const requires std::is_void_v<R> { send_reply(to_, std::monostate{}); }
  /// Make the caller's `call` fail with `reason`.
  void fail(exit_reason reason) const { send_reply(to_, call_failure{std::move(reason)}); }

  /// The calling process.
  const pid& caller() const noexcept { return to_.pid; }
  const reply_to& address() const noexcept { return to_; }
  explicit operator bool() const noexcept { return static_cast<bool>(to_.pid); }
  friend bool operator==(const call_ref& a, const call_ref& b) noexcept { return a.to_ == b.to_; }

private:
  reply_to to_;
};

namespace detail {
template <class T> struct is_call_ref : std::false_type {};
template <class R> struct is_call_ref<call_ref<R>> : std::true_type { using reply = R; };
} // namespace detail

} // namespace otpp
