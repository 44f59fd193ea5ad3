// Helpers shared by otpp's tests.
// Distributed under the Boost Software License, Version 1.0.
#pragma once

#include <otpp/core/link.hpp>
#include <otpp/core/process.hpp>
#include <otpp/core/receive.hpp>
#include <otpp/core/runtime.hpp>

#include <chrono>
#include <stdexcept>
#include <utility>

// Catch2 is not thread-safe: tests never assert inside a process. Processes
// report to the test thread (a scoped_process) with messages, and the test
// asserts there.
namespace otpp_test {

using namespace std::chrono_literals;

// A generous bound for waits that must succeed: never reached when the code
// is right, so the tests do not depend on timing.
inline constexpr auto patience = std::chrono::seconds(30);

// Receive a T or fail the test with a clear message after `patience`.
template <class T> T expect(std::chrono::steady_clock::duration timeout = patience) {
  auto v = otpp::this_process::receive_for<T>(timeout);
  if (!v)
    throw std::runtime_error("otpp_test::expect: the expected message did not arrive");
  return std::move(*v);
}

// True if no T arrives within `window` (the message must not come).
template <class T> bool nothing(std::chrono::milliseconds window = 50ms) {
  return !otpp::this_process::receive_for<T>(window).has_value();
}

// Spawn `f` on the calling process's runtime, monitored from before it
// runs, and wait for its exit reason (never noproc, however fast it ends).
template <class F> otpp::exit_reason run_and_wait(F&& f, otpp::spawn_options opts = {}) {
  otpp::spawned_monitor sm = otpp::spawn_monitor(std::forward<F>(f), opts);
  return otpp::this_process::receive(
      otpp::when([m = sm.monitor](const otpp::down& d) { return d.monitor == m; },
                 [](otpp::down& d) { return d.reason; }),
      otpp::after(patience, []() -> otpp::exit_reason {
        throw std::runtime_error("otpp_test::run_and_wait: timed out");
      }));
}

// Wait until `p` has ended; returns its exit reason (noproc if it had
// already ended when this was called: use run_and_wait to avoid that).
inline otpp::exit_reason wait_exit(const otpp::pid& p) {
  otpp::ref m = otpp::monitor(p);
  return otpp::this_process::receive(otpp::when([m](const otpp::down& d) { return d.monitor == m; },
                                                [](otpp::down& d) { return d.reason; }),
                                     otpp::after(patience, []() -> otpp::exit_reason {
                                       throw std::runtime_error("otpp_test::wait_exit: timed out");
                                     }));
}

} // namespace otpp_test
