// A test kit for programs that use otpp, with Catch2 (v2): readable values
// in failed checks, and waits on messages and processes that fail with a
// message saying what did not happen.
// Distributed under the Boost Software License, Version 1.0.
//
// Include it in test files after <catch2/catch.hpp> (or before: it includes
// it). The helpers run in a process (a scoped_process for the test thread)
// and throw `otpp::testing::expectation_failed` when what they wait for
// does not happen; Catch2 reports the test as failed with that message.
#pragma once

#include <otpp/behaviour/supervision_tree.hpp>
#include <otpp/behaviour/tree_diff.hpp>
#include <otpp/core/any_message.hpp>
#include <otpp/core/duration.hpp>
#include <otpp/core/exit_reason.hpp>
#include <otpp/core/monitor.hpp>
#include <otpp/core/pid.hpp>
#include <otpp/core/process.hpp>
#include <otpp/core/receive.hpp>
#include <otpp/detail/wait.hpp>

#include <catch2/catch.hpp>
#include <fmt/format.h>

#include <chrono>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <type_traits>
#include <utility>

namespace otpp::testing {

/// What the helpers throw when what a test waits for does not happen.
struct expectation_failed : std::runtime_error {
  using std::runtime_error::runtime_error;
};

namespace detail {
inline std::string describe(duration d) {
  if (d == infinity)
    return "ever";
  return fmt::format("{} ms", std::chrono::duration_cast<std::chrono::milliseconds>(
                                  std::chrono::steady_clock::duration(d))
                                  .count());
}
} // namespace detail

/// Receive a message of type T within `timeout` (other messages stay in the
/// mailbox). Throws `expectation_failed` naming T and how many other
/// messages wait, if none arrives.
template <class T> T expect_message(duration timeout = std::chrono::seconds(5)) {
  if (auto v = this_process::receive_for<T>(timeout))
    return std::move(*v);
  throw expectation_failed(fmt::format(
      "expected a message of type {} within {}; none came ({} other messages in the mailbox)",
      otpp::type_name<T>(), detail::describe(timeout), this_process::mailbox_length()));
}

/// Fail if any message arrives within `window` (messages already in the
/// mailbox count: they arrived). The failure takes the message that came
/// from the mailbox and names its type.
inline void expect_no_message(duration window = std::chrono::milliseconds(50)) {
  std::optional<std::string> got = this_process::receive(
      when([](const any_message&) { return true; },
           [](any_message& m) -> std::optional<std::string> { return std::string(m.type_name()); }),
      after(window, []() -> std::optional<std::string> { return std::nullopt; }));
  if (got)
    throw expectation_failed(
        fmt::format("expected no message within {}; got a {}", detail::describe(window), *got));
}

/// Fail if a message of type T arrives within `window` (others are left
/// alone; the T that came is taken from the mailbox).
template <class T> void expect_no_message(duration window = std::chrono::milliseconds(50)) {
  if (auto v = this_process::receive_for<T>(window))
    throw expectation_failed(fmt::format("expected no message of type {} within {}; got one",
                                         otpp::type_name<T>(), detail::describe(window)));
}

/// Poll `condition` (every millisecond) until it holds; fail after `timeout`
/// with `what` in the message. For what no message announces: a mailbox's
/// length, a count, something freed after a process told its monitors it
/// ended. A process polling sleeps in `this_process::sleep_for` (the other
/// processes of its scheduler go on); a plain thread sleeps.
template <class F>
void wait_until(F condition, std::string_view what, duration timeout = std::chrono::seconds(5)) {
  static_assert(std::is_invocable_r_v<bool, F&>,
                "otpp::testing::wait_until: the condition must be callable with no arguments "
                "and return something testable as bool");
  const auto deadline = otpp::detail::deadline_after(timeout);
  while (!condition()) {
    if (std::chrono::steady_clock::now() > deadline)
      throw expectation_failed(
          fmt::format("waited {} for {}: it did not happen", detail::describe(timeout), what));
    if (otpp::detail::current_process != nullptr)
      this_process::sleep_for(std::chrono::milliseconds(1));
    else
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
}

/// Wait until process `p` is suspended (in a receive or an I/O wait),
/// polling its status: for a test that must act only once a process waits
/// (nothing can send a message that says "about to block").
inline void wait_until_waiting(const pid& p, duration timeout = std::chrono::seconds(5)) {
  // Saturating: `infinity` is the end of time, not an overflow.
  const auto deadline = otpp::detail::deadline_after(timeout);
  for (;;) {
    process_status s = info(p).status;
    if (s == process_status::waiting)
      return;
    if (s == process_status::exited)
      throw expectation_failed(fmt::format("{} ended instead of waiting", p));
    if (std::chrono::steady_clock::now() > deadline)
      throw expectation_failed(
          fmt::format("{} did not wait within {}", p, detail::describe(timeout)));
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
}

/// Wait for `p` to end, within `timeout`, and return its exit reason
/// (`noproc` if it had ended already).
inline exit_reason expect_exit(const pid& p, duration timeout = std::chrono::seconds(5)) {
  ref m = monitor(p);
  std::optional<exit_reason> r = this_process::receive(
      when([m](const down& d) { return d.monitor == m; },
           [](down& d) -> std::optional<exit_reason> { return std::move(d.reason); }),
      after(timeout, []() -> std::optional<exit_reason> { return std::nullopt; }));
  if (!r) {
    demonitor(m, {.flush = true});
    throw expectation_failed(fmt::format("{} did not end within {}", p, detail::describe(timeout)));
  }
  return std::move(*r);
}

} // namespace otpp::testing

// Catch2 prints these in failed checks as otpp prints them (`<0.12.0>`,
// `#Ref<0.42>`, exit reasons as Erlang terms, trees as indented text).
namespace Catch {
template <> struct StringMaker<otpp::pid> {
  static std::string convert(const otpp::pid& p) { return fmt::format("{}", p); }
};
template <> struct StringMaker<otpp::ref> {
  static std::string convert(const otpp::ref& r) { return fmt::format("{}", r); }
};
template <> struct StringMaker<otpp::exit_reason> {
  static std::string convert(const otpp::exit_reason& r) { return r.to_string(); }
};
template <> struct StringMaker<otpp::process_status> {
  static std::string convert(otpp::process_status s) { return fmt::format("{}", s); }
};
template <> struct StringMaker<otpp::tree_node> {
  static std::string convert(const otpp::tree_node& t) { return "\n" + otpp::to_text(t); }
};
template <> struct StringMaker<otpp::tree_change> {
  static std::string convert(const otpp::tree_change& c) {
    std::string s = otpp::to_text(std::vector<otpp::tree_change>{c});
    if (!s.empty() && s.back() == '\n')
      s.pop_back();
    return s;
  }
};
} // namespace Catch
