// Helpers shared by otpp's tests.
// Distributed under the Boost Software License, Version 1.0.
#pragma once

#include <otpp/core/link.hpp>
#include <otpp/core/monitor.hpp>
#include <otpp/core/process.hpp>
#include <otpp/core/receive.hpp>
#include <otpp/core/report.hpp>
#include <otpp/core/runtime.hpp>
#include <otpp/testing.hpp>

#include <catch2/catch.hpp>
#include <fmt/format.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <future>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <type_traits>
#include <utility>

// Each test file puts everything after its includes in
// `namespace OTPP_TEST_FILE { ... }`: the suite builds several test files as
// one translation unit (CMake's unity build), where CMake gives this macro a
// value of its own per file; built alone, a file gets this one.
#ifndef OTPP_TEST_FILE
#define OTPP_TEST_FILE otpp_test_file
#endif

// The preamble of nearly every test case: a runtime with the given
// options and the test thread's own process on it (Catch2's assertions stay
// on this thread). Declares `rt` and `sp`:
//   OTPP_TEST_RUNTIME({.schedulers = n});
#define OTPP_TEST_RUNTIME(...)                                                                     \
  ::otpp_test::on_runtime otpp_test_on_runtime_{__VA_ARGS__};                                      \
  [[maybe_unused]] ::otpp::runtime& rt = otpp_test_on_runtime_.rt;                                 \
  [[maybe_unused]] ::otpp::scoped_process& sp = otpp_test_on_runtime_.sp

// Catch2 is not thread-safe: tests never assert inside a process. Processes
// report to the test thread (a scoped_process) with messages, and the test
// asserts there.
namespace otpp_test {

using namespace std::chrono_literals;

// A generous bound for waits that must succeed: never reached when the code
// is right, so the tests do not depend on timing.
inline constexpr auto patience = std::chrono::seconds(30);

// What OTPP_TEST_RUNTIME declares: the runtime, then the test thread's
// process on it (destroyed in the reverse order).
struct on_runtime {
  explicit on_runtime(otpp::runtime_options opts) : rt(opts), sp(rt) {}
  otpp::runtime rt;
  otpp::scoped_process sp;
};

// Receive a T or fail the test with a clear message after `patience`.
template <class T> T expect(std::chrono::steady_clock::duration timeout = patience) {
  return otpp::testing::expect_message<T>(timeout);
}

// True if no T arrives within `window` (the message must not come).
template <class T> bool nothing(std::chrono::milliseconds window = 50ms) {
  return !otpp::this_process::receive_for<T>(window).has_value();
}

// Messages shared by the tests.
struct never {}; // nobody sends it: receiving it waits until an exit signal
struct ping {
  otpp::pid from;
};
struct pong {
  otpp::pid from;
};

// Answer every ping with a pong; ends only by an exit signal.
[[noreturn]] inline void serve_pings() {
  for (;;) {
    ping p = otpp::this_process::receive<ping>();
    otpp::send(p.from, pong{otpp::this_process::self()});
  }
}

// Wait forever; only an exit signal ends the caller.
inline void wait_forever() {
  otpp::this_process::receive<never>();
}

// Counts its destructions: shows that a process's stack was unwound.
struct count_on_destroy {
  std::atomic<int>* n;
  explicit count_on_destroy(std::atomic<int>* counter) : n(counter) {}
  count_on_destroy(const count_on_destroy&) = delete;
  count_on_destroy& operator=(const count_on_destroy&) = delete;
  ~count_on_destroy() { n->fetch_add(1); }
};

// The reason in the down message of monitor `m` (other messages stay).
inline otpp::exit_reason down_reason(otpp::ref m) {
  return otpp::this_process::receive(
      otpp::when([m](const otpp::down& d) { return d.monitor == m; },
                 [](otpp::down& d) { return d.reason; }),
      otpp::after(patience, []() -> otpp::exit_reason {
        throw std::runtime_error("otpp_test::down_reason: the down message did not arrive");
      }));
}

// Spawn `f` on the calling process's runtime, monitored from before it
// runs, and wait for its exit reason (never noproc, however fast it ends);
// `out` receives its pid.
template <class F>
otpp::exit_reason exit_of(F f, otpp::spawn_options opts = {}, otpp::pid* out = nullptr) {
  otpp::spawned_monitor s = otpp::spawn_monitor(std::move(f), opts);
  if (out != nullptr)
    *out = s.pid;
  return down_reason(s.monitor);
}

// Run `f` in a new process and return its result to the calling (test)
// process; a process that ends without a result fails with its exit reason.
template <class F> auto in_process(F f) {
  using R = std::invoke_result_t<F&>;
  struct result {
    R value;
  };
  otpp::pid me = otpp::this_process::self();
  otpp::ref m = otpp::spawn_monitor([me, fn = std::move(f)]() mutable {
                  otpp::send(me, result{fn()});
                }).monitor;
  R out = otpp::this_process::receive(
      [](result& r) -> R { return std::move(r.value); },
      otpp::when([m](const otpp::down& d) { return d.monitor == m; },
                 [](otpp::down& d) -> R {
                   throw std::runtime_error(fmt::format("the process ended with {}", d.reason));
                 }),
      otpp::after(patience, []() -> R { throw std::runtime_error("no result"); }));
  otpp::demonitor(m, {.flush = true});
  return out;
}

// A tracer of type T installed on `rt` for this object's lifetime (none
// after it); `->` reaches it.
template <class T> class installed_tracer {
public:
  explicit installed_tracer(otpp::runtime& r) : rt_(r) { rt_.set_tracer(t_); }
  installed_tracer(const installed_tracer&) = delete;
  installed_tracer& operator=(const installed_tracer&) = delete;
  ~installed_tracer() { rt_.set_tracer(nullptr); }
  T* operator->() const noexcept { return t_.get(); }

private:
  otpp::runtime& rt_;
  std::shared_ptr<T> t_ = std::make_shared<T>();
};

// Poll until `p` (blocked) has `n` messages in its mailbox.
inline void wait_mailbox(const otpp::pid& p, std::size_t n) {
  otpp::testing::wait_until([&] { return otpp::info(p).mailbox_length == n; },
                            fmt::format("{} to hold {} messages", p, n), patience);
}

// Poll until `p` is suspended in a receive or an Asio operation (nothing
// can send a message that says "about to block").
inline void wait_until_waiting(const otpp::pid& p) {
  otpp::testing::wait_until_waiting(p, patience);
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

// rt.run(), or abort the test program after `limit`: a hang must fail, not block.
inline int run_or_abort(otpp::runtime& rt, std::chrono::seconds limit = std::chrono::seconds(120)) {
  std::promise<void> done;
  std::jthread guard([f = done.get_future(), limit] {
    if (f.wait_for(limit) == std::future_status::timeout) {
      std::fputs("otpp test: runtime::run() hung\n", stderr);
      std::abort();
    }
  });
  int r = rt.run();
  done.set_value();
  return r;
}

// Replaces the report handler for its lifetime, then restores the previous one.
struct report_guard {
  otpp::report_handler previous;
  explicit report_guard(otpp::report_handler h)
      : previous(otpp::set_report_handler(std::move(h))) {}
  report_guard(const report_guard&) = delete;
  report_guard& operator=(const report_guard&) = delete;
  ~report_guard() { otpp::set_report_handler(std::move(previous)); }
};

// A report handler that drops everything (crashes on purpose stay off stderr).
inline otpp::report_handler quiet() {
  return [](const otpp::report&) {};
}

// A report handler that sends each report as a message to `to`.
inline otpp::report_handler reports_to(otpp::pid to) {
  return [to](const otpp::report& r) { otpp::send(to, r); };
}

// Yield `k` times (lets other processes of the scheduler run in between).
inline void yield_n(unsigned k) {
  for (unsigned i = 0; i < k; ++i)
    otpp::this_process::yield();
}

} // namespace otpp_test
