#include <otpp/core/timer.hpp>

#include "otpp_test.hpp"

#include <otpp/core/monitor.hpp>

#include <catch2/catch.hpp>
#include <fmt/format.h>

#include <chrono>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

namespace OTPP_TEST_FILE {

using namespace std::chrono_literals;
namespace tp = otpp::this_process;
using steady = std::chrono::steady_clock;

namespace {

using otpp_test::exit_of;
using otpp_test::in_process;

struct tick {
  int n;
};

} // namespace

TEST_CASE("send_after delivers the message once the delay has passed, not before",
          "[core][timer]") {
  const unsigned n = GENERATE(1u, 3u);
  OTPP_TEST_RUNTIME({.schedulers = n});
  struct outcome {
    bool early;
    std::optional<tick> late;
    steady::duration elapsed;
  };
  auto r = in_process([] {
    auto t0 = steady::now();
    otpp::send_after(tp::self(), 400ms, tick{1});
    bool early = tp::receive_for<tick>(50ms).has_value();
    auto late = tp::receive_for<tick>(otpp_test::patience);
    return outcome{early, late, steady::now() - t0};
  });
  CHECK_FALSE(r.early);
  REQUIRE(r.late.has_value());
  CHECK(r.late->n == 1);
  CHECK(r.elapsed >= 400ms); // a timer never fires early
}

TEST_CASE("send_after works from the test thread's scoped process and from a plain thread",
          "[core][timer]") {
  const unsigned n = GENERATE(1u, 3u);
  OTPP_TEST_RUNTIME({.schedulers = n});
  auto t0 = steady::now();
  otpp::timer_ref t = otpp::send_after(sp.self(), 400ms, tick{2});
  CHECK(t.pending());
  CHECK(otpp_test::nothing<tick>(50ms));
  CHECK(otpp_test::expect<tick>().n == 2);
  CHECK(steady::now() - t0 >= 400ms);
  CHECK_FALSE(t.pending());

  // A thread that is no process: the destination's runtime runs the timer.
  otpp::pid me = sp.self();
  bool null_pid_refused = false;
  std::thread th([me, &null_pid_refused] {
    otpp::send_after(me, 10ms, tick{3});
    try {
      otpp::send_after(otpp::pid(), 10ms, tick{4});
    } catch (const std::logic_error&) {
      null_pid_refused = true;
    }
  });
  th.join();
  CHECK(null_pid_refused);
  CHECK(otpp_test::expect<tick>().n == 3);
}

TEST_CASE("cancel_timer stops a pending timer: its message never arrives", "[core][timer]") {
  const unsigned n = GENERATE(1u, 3u);
  OTPP_TEST_RUNTIME({.schedulers = n});
  auto r = in_process([] {
    otpp::timer_ref t = otpp::send_after(tp::self(), 300ms, tick{1});
    std::vector<bool> out{t.pending()};
    out.push_back(otpp::cancel_timer(t)); // pending: true
    out.push_back(t.pending());
    out.push_back(tp::receive_for<tick>(500ms).has_value());
    out.push_back(otpp::cancel_timer(t)); // cancelled already: false
    return out;
  });
  CHECK(r == std::vector<bool>{true, true, false, false, false});
}

TEST_CASE("cancel_timer works from another thread than the one that armed the timer",
          "[core][timer]") {
  const unsigned n = GENERATE(1u, 3u);
  OTPP_TEST_RUNTIME({.schedulers = n});
  otpp::pid me = sp.self();
  otpp::timer_ref t = in_process([me] { return otpp::send_after(me, 1s, tick{1}); });
  CHECK(t.pending());
  CHECK(otpp::cancel_timer(t));
  CHECK_FALSE(otpp::cancel_timer(t));
  CHECK(otpp_test::nothing<tick>(1200ms));
}

TEST_CASE("cancel_timer after the timer fired returns false", "[core][timer]") {
  const unsigned n = GENERATE(1u, 3u);
  OTPP_TEST_RUNTIME({.schedulers = n});
  auto r = in_process([] {
    otpp::timer_ref t = otpp::send_after(tp::self(), 10ms, tick{1});
    bool arrived = tp::receive_for<tick>(otpp_test::patience).has_value();
    return std::vector<bool>{arrived, t.pending(), otpp::cancel_timer(t)};
  });
  CHECK(r == std::vector<bool>{true, false, false});
}

TEST_CASE("an empty timer_ref is not pending and cannot be cancelled", "[core][timer]") {
  otpp::timer_ref t;
  CHECK_FALSE(t.pending());
  CHECK_FALSE(otpp::cancel_timer(t));
}

TEST_CASE("send_after to a process that has ended does nothing", "[core][timer]") {
  const unsigned n = GENERATE(1u, 3u);
  OTPP_TEST_RUNTIME({.schedulers = n});
  otpp::pid dead;
  CHECK(exit_of([] {}, {}, &dead).is_normal());
  // Both timers run on the same io_context (the test thread uses scheduler
  // 0), so when the later one has fired, the earlier one has too.
  otpp::timer_ref t = otpp::send_after(dead, 10ms, tick{1});
  otpp::send_after(sp.self(), 50ms, tick{2});
  CHECK(otpp_test::expect<tick>().n == 2);
  CHECK_FALSE(t.pending());
  CHECK_FALSE(otpp::cancel_timer(t));
  // From a process, to the null pid: harmless too.
  auto r = in_process([] {
    otpp::send_after(otpp::pid(), 1ms, tick{3});
    return tp::receive_for<tick>(30ms).has_value();
  });
  CHECK_FALSE(r);
}

TEST_CASE("a timer whose destination ended is cancelled, as in Erlang", "[core][timer]") {
  const unsigned n = GENERATE(1u, 3u);
  OTPP_TEST_RUNTIME({.schedulers = n});
  otpp::pid p = rt.spawn([] { tp::receive<int>(); });
  otpp::timer_ref t = otpp::send_after(p, 10s, tick{1});
  CHECK(t.pending());
  otpp::ref m = otpp::monitor(p);
  otpp::send(p, 0);
  auto d = otpp_test::expect<otpp::down>();
  CHECK(d.monitor == m);
  CHECK(d.reason.is_normal());
  // erlang:send_after/3: "the timer is automatically canceled if the process
  // referred to by the pid() is not alive"; cancel_timer then returns false.
  CHECK_FALSE(t.pending());
  CHECK_FALSE(otpp::cancel_timer(t));
}

TEST_CASE("timers with different delays deliver in deadline order", "[core][timer]") {
  const unsigned n = GENERATE(1u, 3u);
  OTPP_TEST_RUNTIME({.schedulers = n});
  auto order = in_process([] {
    // Armed out of order, 40 ms apart: only deadlines decide the order.
    for (int d : {200, 40, 160, 80, 120, 0})
      otpp::send_after(tp::self(), std::chrono::milliseconds(d), tick{d});
    std::vector<int> out;
    for (int i = 0; i < 6; ++i)
      out.push_back(tp::receive<tick>().n);
    return out;
  });
  CHECK(order == std::vector<int>{0, 40, 80, 120, 160, 200});
  // The same for timers armed from the test thread to another process.
  otpp::pid me = sp.self();
  otpp::pid collector = rt.spawn([me] {
    std::vector<int> out;
    for (int i = 0; i < 5; ++i)
      out.push_back(tp::receive<tick>().n);
    otpp::send(me, std::move(out));
  });
  for (int d : {170, 50, 10, 130, 90})
    otpp::send_after(collector, std::chrono::milliseconds(d), tick{d});
  CHECK(otpp_test::expect<std::vector<int>>() == std::vector<int>{10, 50, 90, 130, 170});
}

TEST_CASE("timers carry move-only messages, and only the cancelled ones never arrive",
          "[core][timer]") {
  const unsigned n = GENERATE(1u, 3u);
  OTPP_TEST_RUNTIME({.schedulers = n});
  auto r = in_process([] {
    constexpr int count = 200;
    for (int i = 0; i < count; ++i) {
      otpp::timer_ref t = otpp::send_after(tp::self(), 5ms, std::make_unique<int>(i));
      if (i % 2 == 1)
        otpp::cancel_timer(t);
    }
    long sum = 0;
    for (int i = 0; i < count / 2; ++i)
      sum += *tp::receive<std::unique_ptr<int>>();
    bool extra = tp::receive_for<std::unique_ptr<int>>(50ms).has_value();
    return std::pair{sum, extra};
  });
  CHECK(r.first == 9900); // 0 + 2 + ... + 198
  CHECK_FALSE(r.second);
}

} // namespace OTPP_TEST_FILE
