// Why a supervisor's dynamic call failed, as a value to switch on.
// Distributed under the Boost Software License, Version 1.0.
#pragma once

#include <otpp/core/exit_reason.hpp>
#include <otpp/core/pid.hpp>

#include <fmt/format.h>

#include <any>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace otpp {

/// The errors of the supervisor's dynamic API (`start_child`,
/// `terminate_child`, `restart_child`, `delete_child`). A failed call's
/// `call_result::error()` is a user exit reason whose text is the OTP name
/// (or, for `bad_child_spec` and `wrong_strategy`, what is wrong) and whose
/// payload is this code (for `already_started`: the running child's pid);
/// `supervisor_error_of` gives the code back. Formats as its OTP name.
enum class supervisor_errc : std::uint8_t {
  already_present,       ///< the id exists and its child is not running
  already_started,       ///< the id exists and its child runs (payload: its pid)
  not_found,             ///< no child has that id (or pid)
  running,               ///< the child runs: terminate it first
  restarting,            ///< the child is being restarted
  on_simple_one_for_one, ///< not possible on a simple_one_for_one supervisor (OTP:
                         ///< simple_one_for_one)
  wrong_strategy,        ///< start_child with arguments on another strategy (or a spec on
                         ///< simple_one_for_one)
  bad_child_spec,        ///< the spec given to start_child is invalid
};

/// The OTP name: `already_present`, `not_found`, ...
constexpr std::string_view otp_name(supervisor_errc e) noexcept {
  constexpr std::string_view names[] = {"already_present", "already_started", "not_found",
                                        "running",         "restarting",      "simple_one_for_one",
                                        "wrong_strategy",  "bad_child_spec"};
  return names[static_cast<int>(e)];
}

/// The reason a supervisor's call fails with for `e` (`text`: the detail,
/// default the OTP name).
inline exit_reason make_supervisor_error(supervisor_errc e, std::string text = {}) {
  return exit_reason::user(text.empty() ? std::string(otp_name(e)) : std::move(text), e);
}

/// The code of a supervisor call's failure, or nothing if `r` is another
/// reason (e.g. a child's failed start).
inline std::optional<supervisor_errc> supervisor_error_of(const exit_reason& r) {
  if (r.which() != exit_reason::kind::user)
    return std::nullopt;
  if (const auto* e = std::any_cast<supervisor_errc>(&r.payload()))
    return *e;
  if (r.detail() == otp_name(supervisor_errc::already_started) &&
      std::any_cast<pid>(&r.payload()) != nullptr)
    return supervisor_errc::already_started;
  return std::nullopt;
}

} // namespace otpp

template <> struct fmt::formatter<otpp::supervisor_errc> : fmt::formatter<std::string_view> {
  template <class FormatContext> auto format(otpp::supervisor_errc e, FormatContext& ctx) const {
    return fmt::formatter<std::string_view>::format(otpp::otp_name(e), ctx);
  }
};
