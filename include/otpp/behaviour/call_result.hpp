// Why a call, stop or start failed, and the outcome of a call that does
// not throw.
// Distributed under the Boost Software License, Version 1.0.
#pragma once

#include <otpp/behaviour/call_ref.hpp>
#include <otpp/core/duration.hpp>
#include <otpp/core/exit_reason.hpp>
#include <otpp/core/pid.hpp>

#include <fmt/format.h>

#include <chrono>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace otpp {

/// How long `call` waits for a reply unless told otherwise (OTP's default).
inline constexpr duration default_call_timeout = std::chrono::seconds(5);

/// What a failed call or stop reports. `reason()` says why: `noproc` (no
/// such process, or no process holds the name), `timeout`, the server's own
/// exit reason if it died meanwhile, `user("calling_self")`, or a
/// `call_ref::fail` reason. `what()` names the operation and the target:
/// `otpp::call to <0.12.0> failed: timeout`.
class call_error : public std::runtime_error {
public:
  /// `operation`: what failed ("call", "stop", ...); `target`: the pid or
  /// name as text.
  call_error(exit_reason reason, otpp::pid server, std::string_view operation,
             std::string_view target = {})
      : std::runtime_error(
            fmt::format("otpp::{} {} failed: {}", operation,
                        target.empty() ? fmt::format("{}", server) : std::string(target), reason)),
        reason_(std::move(reason)), server_(std::move(server)) {}
  const exit_reason& reason() const noexcept { return reason_; }
  /// The process called (a null pid if a name was not registered).
  const otpp::pid& server() const noexcept { return server_; }

private:
  exit_reason reason_;
  otpp::pid server_;
};

/// The outcome of a call that does not throw: the reply, or why there is none.
template <class R> class call_result {
  using stored = detail::wire_t<R>;

public:
  call_result(stored v) : v_(std::in_place_index<0>, std::move(v)) {} // NOLINT: a reply is a result
  call_result(exit_reason why, otpp::pid server, std::string target = {})
      : v_(std::in_place_index<1>, std::move(why)), server_(std::move(server)),
        target_(std::move(target)) {}

  bool ok() const noexcept { return v_.index() == 0; }
  explicit operator bool() const noexcept { return ok(); }
  /// The reply; throws `call_error` if there is none.
  decltype(auto) value() & {
    check();
    if constexpr (!std::is_void_v<R>)
      return std::get<0>(v_);
  }
  decltype(auto) value() && {
    check();
    if constexpr (!std::is_void_v<R>)
      return R(std::move(std::get<0>(v_)));
  }
  /// Why there is no reply (precondition: `!ok()`).
  const exit_reason& error() const { return std::get<1>(v_); }
  /// The process called.
  const otpp::pid& server() const noexcept { return server_; }

private:
  void check() const {
    if (!ok())
      throw call_error(std::get<1>(v_), server_, "call to", target_);
  }
  std::variant<stored, exit_reason> v_;
  otpp::pid server_;
  std::string target_; // a name, when the call was by name
};

} // namespace otpp
