// What a server does with a message no handler takes.
// Distributed under the Boost Software License, Version 1.0.
#pragma once

#include <otpp/core/pid.hpp>

#include <cstdint>
#include <utility>

namespace otpp {

/// What a server does with a message no handler takes.
///
/// @par Cloud Haskell
/// `UnhandledMessagePolicy`: `Terminate | Drop | DeadLetter ProcessId | Log`.
class unhandled_policy {
public:
  enum class kind : std::uint8_t { terminate, drop, dead_letter, log };

  /// End the server (terminate runs) with reason `user("unhandled message: <type>")`.
  static const unhandled_policy terminate;
  /// Discard it. An unhandled call fails at once in the caller.
  static const unhandled_policy drop;
  /// Send a report (`report_kind::unhandled`), then discard it as `drop` does.
  static const unhandled_policy log;
  /// Forward it, unchanged, to `to`; a forwarded call is answered by `to`.
  static unhandled_policy dead_letter(pid to) {
    return unhandled_policy(kind::dead_letter, std::move(to));
  }

  kind which() const noexcept { return kind_; }
  const pid& target() const noexcept { return target_; }

private:
  explicit unhandled_policy(kind k, pid t = {}) : kind_(k), target_(std::move(t)) {}
  kind kind_;
  pid target_;
};
inline const unhandled_policy unhandled_policy::terminate{unhandled_policy::kind::terminate};
inline const unhandled_policy unhandled_policy::drop{unhandled_policy::kind::drop};
inline const unhandled_policy unhandled_policy::log{unhandled_policy::kind::log};

} // namespace otpp
