// Exit reasons: why a process ended, as a value.
// Distributed under the Boost Software License, Version 1.0.
#pragma once

#include <boost/core/demangle.hpp>
#include <cxxabi.h>
#include <fmt/format.h>

#include <any>
#include <cstdint>
#include <exception>
#include <memory>
#include <string>
#include <string_view>
#include <typeinfo>
#include <utility>

namespace otpp {

/// Why a process ended, or the reason carried by an exit signal.
///
/// A small value (one pointer and a tag): `normal` and the other fixed
/// reasons allocate nothing; `shutdown` with a detail, exceptions and user
/// reasons share one immutable heap block between copies.
///
/// @par OTP
/// Mirrors the exit reasons of Erlang: the atoms `normal`, `shutdown`,
/// `kill`, `killed`, `noproc`, `timeout`, `{shutdown, Detail}`, a crash
/// (here: the exception's type and `what()`), or any other term (here: a
/// user reason with a text and an optional `std::any` payload).
class exit_reason {
public:
  /// The kinds of exit reason.
  enum class kind : std::uint8_t {
    normal,
    shutdown,
    kill,
    killed,
    noproc,
    timeout,
    exception,
    user
  };

  /// `normal`: the process finished its work.
  exit_reason() noexcept = default;

  static exit_reason normal() noexcept { return {}; }
  /// `shutdown`, or `{shutdown, detail}` when `detail` is not empty.
  static exit_reason shutdown(std::string detail = {}) {
    return detail.empty() ? exit_reason(kind::shutdown)
                          : exit_reason(kind::shutdown, {}, std::move(detail));
  }
  /// `kill`: as the reason of an exit signal it cannot be trapped.
  static exit_reason kill() noexcept { return exit_reason(kind::kill); }
  /// `killed`: the reason of a process that received `kill`.
  static exit_reason killed() noexcept { return exit_reason(kind::killed); }
  /// `noproc`: the target process did not exist.
  static exit_reason noproc() noexcept { return exit_reason(kind::noproc); }
  /// `timeout`.
  static exit_reason timeout() noexcept { return exit_reason(kind::timeout); }
  /// An uncaught exception, by type name and message.
  static exit_reason exception(std::string type, std::string what) {
    return exit_reason(kind::exception, std::move(type), std::move(what));
  }
  /// The reason for the exception `e` (rethrows it to inspect it).
  static exit_reason from_exception(std::exception_ptr e);
  /// `mailbox_full`: the reason of a process whose bounded mailbox
  /// overflowed under `overflow_policy::exit`, and of a call a full
  /// mailbox refused. A user reason with that text.
  static exit_reason mailbox_full() { return user("mailbox_full"); }
  /// `noconnection`: the reason of the exit signal or down a process
  /// gets when the connection to the node of a process it links to or
  /// monitors is lost. A user reason with that text.
  static exit_reason noconnection() { return user("noconnection"); }
  /// A user-defined reason: a text, and optionally a payload to inspect with `payload()`.
  static exit_reason user(std::string text, std::any payload = {}) {
    return exit_reason(kind::user, {}, std::move(text), std::move(payload));
  }

  kind which() const noexcept { return kind_; }
  /// True for `normal` only.
  bool is_normal() const noexcept { return kind_ == kind::normal; }
  /// True for `normal`, `shutdown` and `{shutdown, detail}`: the exits a
  /// supervisor does not restart a transient child for.
  bool is_clean() const noexcept { return kind_ == kind::normal || kind_ == kind::shutdown; }
  /// The shutdown detail, the exception's `what()`, or the user text.
  std::string_view detail() const noexcept {
    return data_ ? std::string_view(data_->text) : std::string_view();
  }
  /// The exception's type name (empty for other kinds).
  std::string_view exception_type() const noexcept {
    return data_ ? std::string_view(data_->type) : std::string_view();
  }
  /// The payload of a user reason (empty otherwise).
  const std::any& payload() const noexcept {
    static const std::any none;
    return data_ ? data_->payload : none;
  }

  /// Same kind and same texts (payloads are not compared).
  friend bool operator==(const exit_reason& a, const exit_reason& b) noexcept {
    return a.kind_ == b.kind_ && a.exception_type() == b.exception_type() &&
           a.detail() == b.detail();
  }

  /// Erlang-like text: `normal`, `{shutdown, "x"}`, `{exception, std::runtime_error, "boom"}`;
  /// quotes, backslashes and line breaks in the texts are escaped.
  std::string to_string() const;

private:
  struct data {
    std::string type;
    std::string text;
    std::any payload;
  };
  explicit exit_reason(kind k) noexcept : kind_(k) {}
  exit_reason(kind k, std::string type, std::string text, std::any payload = {})
      : data_(std::make_shared<const data>(
            data{std::move(type), std::move(text), std::move(payload)})),
        kind_(k) {}

  std::shared_ptr<const data> data_;
  kind kind_ = kind::normal;
};

inline exit_reason exit_reason::from_exception(std::exception_ptr e) {
  try {
    std::rethrow_exception(std::move(e));
  } catch (const std::exception& ex) {
    return exception(boost::core::demangle(typeid(ex).name()), ex.what());
  } catch (const char* s) {
    return exception("const char*", s != nullptr ? s : "");
  } catch (const std::string& s) {
    return exception("std::string", s);
  } catch (...) {
    // Any other type (`throw 42`): the C++ runtime still knows its name.
    const std::type_info* t = abi::__cxa_current_exception_type();
    return exception(t != nullptr ? boost::core::demangle(t->name()) : "unknown exception", "");
  }
}

namespace detail {
// A detail inside the quotes of to_string(): quotes, backslashes and line
// breaks escaped, so a nested reason's text stays readable and unambiguous.
inline std::string quoted(std::string_view s) {
  std::string out;
  out.reserve(s.size() + 2);
  out += '"';
  for (char c : s) {
    if (c == '"' || c == '\\')
      out += '\\';
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out += c;
  }
  out += '"';
  return out;
}
} // namespace detail

inline std::string exit_reason::to_string() const {
  switch (kind_) {
  case kind::normal:
    return "normal";
  case kind::shutdown:
    return data_ ? fmt::format("{{shutdown, {}}}", detail::quoted(detail())) : "shutdown";
  case kind::kill:
    return "kill";
  case kind::killed:
    return "killed";
  case kind::noproc:
    return "noproc";
  case kind::timeout:
    return "timeout";
  case kind::exception:
    return fmt::format("{{exception, {}, {}}}", exception_type(), detail::quoted(detail()));
  case kind::user:
    return fmt::format("{{user, {}}}", detail::quoted(detail()));
  }
  return "unknown";
}

} // namespace otpp

template <> struct fmt::formatter<otpp::exit_reason> : fmt::formatter<std::string_view> {
  template <class FormatContext> auto format(const otpp::exit_reason& r, FormatContext& ctx) const {
    return fmt::formatter<std::string_view>::format(r.to_string(), ctx);
  }
};
