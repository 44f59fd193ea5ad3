#include <otpp/core/receive.hpp>

#include "otpp_test.hpp"

#include <catch2/catch.hpp>
#include <fmt/format.h>

#include <chrono>
#include <cstddef>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

namespace OTPP_TEST_FILE {

using namespace std::chrono_literals;
namespace tp = otpp::this_process;

namespace {

using otpp_test::exit_of;
using otpp_test::in_process;

struct A {
  int v;
};
struct B {
  int v;
};
struct seq {
  int sender;
  int n;
};

std::vector<int> iota(int from, int to) {
  std::vector<int> v;
  for (int i = from; i <= to; ++i)
    v.push_back(i);
  return v;
}

} // namespace

TEST_CASE("a message of a move-only type is delivered", "[core][receive]") {
  const unsigned n = GENERATE(1u, 3u);
  OTPP_TEST_RUNTIME({.schedulers = n});
  otpp::pid me = sp.self();
  otpp::pid p = rt.spawn([me] {
    std::unique_ptr<int> v = tp::receive<std::unique_ptr<int>>();
    int by_value = tp::receive([](std::unique_ptr<int> u) { return *u; });
    int by_rvalue = tp::receive([](std::unique_ptr<int>&& u) { return *u; });
    otpp::send(me, std::make_unique<int>(*v + by_value + by_rvalue));
  });
  otpp::send(p, std::make_unique<int>(1));
  otpp::send(p, std::make_unique<int>(10));
  otpp::send(p, std::make_unique<int>(100));
  auto r = otpp_test::expect<std::unique_ptr<int>>();
  REQUIRE(r != nullptr);
  CHECK(*r == 111);
}

TEST_CASE("messages from one sender arrive in the order they were sent", "[core][receive]") {
  const unsigned n = GENERATE(1u, 3u);
  OTPP_TEST_RUNTIME({.schedulers = n});
  constexpr int count = 5000; // more than a reduction budget: the sender yields midway
  otpp::pid me = sp.self();
  otpp::pid receiver = rt.spawn([me] {
    std::vector<int> got;
    for (int i = 0; i < count; ++i)
      got.push_back(tp::receive<int>());
    otpp::send(me, std::move(got));
  });
  rt.spawn([receiver] {
    for (int i = 1; i <= count; ++i)
      otpp::send(receiver, i);
  });
  CHECK(otpp_test::expect<std::vector<int>>() == iota(1, count));
}

TEST_CASE("with several senders each sender's order is kept", "[core][receive]") {
  const unsigned n = GENERATE(1u, 3u);
  OTPP_TEST_RUNTIME({.schedulers = n});
  constexpr int senders = 4;
  constexpr int count = 1000;
  otpp::pid me = sp.self();
  otpp::pid receiver = rt.spawn([me] {
    std::vector<seq> got;
    for (int i = 0; i < senders * count; ++i)
      got.push_back(tp::receive<seq>());
    otpp::send(me, std::move(got));
  });
  for (int s = 0; s < senders; ++s)
    rt.spawn([receiver, s] {
      for (int i = 1; i <= count; ++i)
        otpp::send(receiver, seq{s, i});
    });
  auto got = otpp_test::expect<std::vector<seq>>();
  REQUIRE(got.size() == static_cast<std::size_t>(senders * count));
  std::vector<std::vector<int>> per(senders);
  for (const seq& m : got)
    per.at(static_cast<std::size_t>(m.sender)).push_back(m.n);
  for (const auto& one : per)
    CHECK(one == iota(1, count));
}

TEST_CASE("a selective receive leaves the messages it skips in the mailbox, in order",
          "[core][receive]") {
  const unsigned n = GENERATE(1u, 3u);
  OTPP_TEST_RUNTIME({.schedulers = n});
  auto log = in_process([] {
    otpp::pid self = tp::self();
    otpp::send(self, A{1});
    otpp::send(self, A{2});
    otpp::send(self, B{10});
    otpp::send(self, A{3});
    otpp::send(self, B{20});
    std::vector<int> out;
    out.push_back(tp::receive([](B& b) { return b.v; }));
    out.push_back(static_cast<int>(tp::mailbox_length()));
    for (int i = 0; i < 3; ++i)
      out.push_back(tp::receive<A>().v);
    out.push_back(tp::receive<B>().v);
    out.push_back(static_cast<int>(tp::mailbox_length()));
    return out;
  });
  CHECK(log == std::vector<int>{10, 4, 1, 2, 3, 20, 0});
}

TEST_CASE("a waiting selective receive skips new arrivals it does not accept", "[core][receive]") {
  const unsigned n = GENERATE(1u, 3u);
  OTPP_TEST_RUNTIME({.schedulers = n});
  otpp::pid me = sp.self();
  otpp::pid p = rt.spawn([me] {
    std::vector<int> out;
    out.push_back(tp::receive([](B& b) { return b.v; }));
    for (int i = 0; i < 3; ++i)
      out.push_back(tp::receive<A>().v);
    otpp::send(me, std::move(out));
  });
  otpp::send(p, A{1});
  otpp::send(p, A{2});
  otpp::send(p, B{9});
  otpp::send(p, A{3});
  CHECK(otpp_test::expect<std::vector<int>>() == std::vector<int>{9, 1, 2, 3});
}

TEST_CASE("the oldest message any handler accepts is taken, whatever the handler order",
          "[core][receive]") {
  const unsigned n = GENERATE(1u, 3u);
  OTPP_TEST_RUNTIME({.schedulers = n});
  auto log = in_process([] {
    otpp::send(tp::self(), A{1});
    otpp::send(tp::self(), B{2});
    std::vector<std::string> out;
    for (int i = 0; i < 2; ++i)
      out.push_back(tp::receive([](B& b) { return fmt::format("B{}", b.v); },
                                [](A& a) { return fmt::format("A{}", a.v); }));
    return out;
  });
  CHECK(log == std::vector<std::string>{"A1", "B2"});
}

TEST_CASE("of two handlers for the same type the first one runs", "[core][receive]") {
  const unsigned n = GENERATE(1u, 3u);
  OTPP_TEST_RUNTIME({.schedulers = n});
  auto log = in_process([] {
    otpp::send(tp::self(), 5);
    otpp::send(tp::self(), 6);
    std::vector<std::string> out;
    out.push_back(tp::receive([](int v) { return fmt::format("first {}", v); },
                              [](const int& v) { return fmt::format("second {}", v); }));
    out.push_back(tp::receive([](int&& v) { return fmt::format("first {}", v); },
                              [](int& v) { return fmt::format("second {}", v); }));
    return out;
  });
  CHECK(log == std::vector<std::string>{"first 5", "first 6"});
}

TEST_CASE("a guard that rejects a message leaves it for a later receive", "[core][receive]") {
  const unsigned n = GENERATE(1u, 3u);
  OTPP_TEST_RUNTIME({.schedulers = n});
  auto log = in_process([] {
    for (int i = 1; i <= 4; ++i)
      otpp::send(tp::self(), i);
    std::vector<std::string> out;
    // The first even number, although 1 is older.
    out.push_back(tp::receive(
        otpp::when([](int v) { return v % 2 == 0; }, [](int v) { return std::to_string(v); })));
    // No message passes the guard: the timeout runs, nothing is taken.
    out.push_back(tp::receive(
        otpp::when([](const int& v) { return v > 10; }, [](int v) { return std::to_string(v); }),
        otpp::after(0ms, [] { return std::string("none"); })));
    // A rejected message falls through to the next handler of its type.
    out.push_back(tp::receive(
        otpp::when([](int v) { return v > 2; }, [](int v) { return fmt::format("big {}", v); }),
        [](int v) { return fmt::format("small {}", v); }));
    for (int i = 0; i < 2; ++i)
      out.push_back(std::to_string(tp::receive<int>()));
    out.push_back(std::to_string(tp::mailbox_length()));
    return out;
  });
  CHECK(log == std::vector<std::string>{"2", "none", "small 1", "3", "4", "0"});
}

TEST_CASE("after runs its function when nothing matches in time and returns its value",
          "[core][receive]") {
  const unsigned n = GENERATE(1u, 3u);
  OTPP_TEST_RUNTIME({.schedulers = n});
  auto log = in_process([] {
    std::vector<std::string> out;
    auto take_int = [] {
      return tp::receive([](int v) { return fmt::format("int {}", v); },
                         otpp::after(20ms, [] { return std::string("timeout"); }));
    };
    out.push_back(take_int()); // empty mailbox
    otpp::send(tp::self(), B{1});
    otpp::send(tp::self(), B{2});
    out.push_back(take_int()); // only messages it does not accept
    out.push_back(std::to_string(tp::mailbox_length()));
    otpp::send(tp::self(), 7);
    out.push_back(take_int());
    out.push_back(std::to_string(tp::receive<B>().v));
    out.push_back(std::to_string(tp::receive<B>().v));
    return out;
  });
  CHECK(log == std::vector<std::string>{"timeout", "timeout", "2", "int 7", "1", "2"});
}

TEST_CASE("receive timeouts fire neither early nor late whatever the order of their lengths",
          "[core][receive]") {
  // The scheduler keeps one deadline entry per waiting process and reuses an
  // earlier one for a later deadline: mix long and short timeouts, and
  // receives that end early, and check each timeout ends its own receive.
  const unsigned n = GENERATE(1u, 3u);
  OTPP_TEST_RUNTIME({.schedulers = n});
  auto log = in_process([] {
    using clock = std::chrono::steady_clock;
    std::vector<std::string> out;
    auto timed = [&](std::chrono::milliseconds t) {
      auto start = clock::now();
      bool timed_out = tp::receive([](int) { return false; }, otpp::after(t, [] { return true; }));
      auto took = clock::now() - start;
      out.push_back(fmt::format("{} {}", timed_out ? "timeout" : "message",
                                took >= t ? "not early" : "EARLY"));
    };
    otpp::pid me = tp::self();
    // A short deadline entry that a message ends early, then a longer wait.
    otpp::spawn([me] {
      tp::sleep_for(5ms);
      otpp::send(me, 1);
    });
    tp::receive([](int) {}, otpp::after(40ms, [] {}));
    timed(60ms);
    // A long deadline entry first, then a short one must not wait for it.
    otpp::spawn([me] {
      tp::sleep_for(5ms);
      otpp::send(me, 2);
    });
    tp::receive([](int) {}, otpp::after(10s, [] {}));
    timed(30ms);
    timed(1ms);
    timed(40ms);
    return out;
  });
  CHECK(log == std::vector<std::string>{"timeout not early", "timeout not early",
                                        "timeout not early", "timeout not early"});
}

TEST_CASE("after(0ms) only looks at the messages already there", "[core][receive]") {
  const unsigned n = GENERATE(1u, 3u);
  OTPP_TEST_RUNTIME({.schedulers = n});
  auto log = in_process([] {
    auto poll = [] {
      return tp::receive([](int v) { return v; }, otpp::after(0ms, [] { return -1; }));
    };
    std::vector<int> out;
    out.push_back(poll());
    otpp::send(tp::self(), std::string("not an int"));
    otpp::send(tp::self(), 3);
    otpp::send(tp::self(), 4);
    out.push_back(poll());
    out.push_back(poll());
    out.push_back(poll());
    out.push_back(static_cast<int>(tp::mailbox_length()));
    out.push_back(static_cast<int>(tp::receive<std::string>().size()));
    return out;
  });
  CHECK(log == std::vector<int>{-1, 3, 4, -1, 1, 10});
}

TEST_CASE("a receive with an infinite after waits for a matching message", "[core][receive]") {
  const unsigned n = GENERATE(1u, 3u);
  OTPP_TEST_RUNTIME({.schedulers = n});
  otpp::pid me = sp.self();
  otpp::pid p = rt.spawn([me] {
    otpp::send(me, std::string("waiting"));
    int v = tp::receive([](int x) { return x; }, otpp::after(otpp::infinity, [] { return -1; }));
    otpp::send(me, v);
  });
  CHECK(otpp_test::expect<std::string>() == "waiting");
  otpp::send(p, B{0});
  otpp::send(p, 42);
  CHECK(otpp_test::expect<int>() == 42);
}

TEST_CASE("receive returns what the handler returns, or nothing for void handlers",
          "[core][receive]") {
  const unsigned n = GENERATE(1u, 3u);
  OTPP_TEST_RUNTIME({.schedulers = n});
  auto log = in_process([] {
    otpp::send(tp::self(), A{4});
    otpp::send(tp::self(), B{5});
    otpp::send(tp::self(), 6);
    std::vector<int> out;
    std::unique_ptr<int> u = tp::receive([](A& a) { return std::make_unique<int>(a.v * 2); },
                                         [](B& b) { return std::make_unique<int>(b.v * 3); });
    out.push_back(*u);
    tp::receive([&out](B& b) { out.push_back(b.v * 3); }, [&out](A& a) { out.push_back(a.v * 2); });
    tp::receive([&out](int v) { out.push_back(v); },
                otpp::after(0ms, [&out] { out.push_back(-1); }));
    tp::receive([&out](int v) { out.push_back(v); },
                otpp::after(0ms, [&out] { out.push_back(-1); }));
    return out;
  });
  CHECK(log == std::vector<int>{8, 15, 6, -1});
}

TEST_CASE("receive<T> and receive_for<T> take the oldest T", "[core][receive]") {
  const unsigned n = GENERATE(1u, 3u);
  OTPP_TEST_RUNTIME({.schedulers = n});
  auto log = in_process([] {
    std::vector<std::optional<int>> out;
    out.push_back(tp::receive_for<int>(10ms)); // nothing there: nullopt
    otpp::send(tp::self(), A{0});
    out.push_back(tp::receive_for<int>(10ms)); // an A is not an int
    otpp::send(tp::self(), 1);
    otpp::send(tp::self(), 2);
    out.push_back(tp::receive_for<int>(0ms));
    out.push_back(tp::receive<int>());
    out.push_back(tp::receive_for<int>(0ms));
    out.push_back(tp::receive<A>().v);
    return out;
  });
  CHECK(log == std::vector<std::optional<int>>{std::nullopt, std::nullopt, 1, 2, std::nullopt, 0});
}

TEST_CASE("receive_for returns a message that arrives while it waits", "[core][receive]") {
  const unsigned n = GENERATE(1u, 3u);
  OTPP_TEST_RUNTIME({.schedulers = n});
  otpp::pid me = sp.self();
  otpp::pid p = rt.spawn([me] {
    otpp::send(me, std::string("waiting"));
    std::optional<int> v = tp::receive_for<int>(otpp_test::patience);
    otpp::send(me, v.value_or(-1));
  });
  CHECK(otpp_test::expect<std::string>() == "waiting");
  otpp::send(p, 17);
  CHECK(otpp_test::expect<int>() == 17);
}

TEST_CASE("sleep_for leaves the messages in the mailbox", "[core][receive]") {
  const unsigned n = GENERATE(1u, 3u);
  OTPP_TEST_RUNTIME({.schedulers = n});
  auto log = in_process([] {
    for (int i = 1; i <= 3; ++i)
      otpp::send(tp::self(), i);
    tp::sleep_for(20ms);
    std::vector<int> out{static_cast<int>(tp::mailbox_length())};
    for (int i = 0; i < 3; ++i)
      out.push_back(tp::receive<int>());
    return out;
  });
  CHECK(log == std::vector<int>{3, 1, 2, 3});
  // The same on the test thread (a scoped process, not a fiber).
  otpp::send(sp.self(), 9);
  tp::sleep_for(10ms);
  CHECK(tp::mailbox_length() == 1);
  CHECK(tp::receive_for<int>(0ms) == 9);
}

TEST_CASE("a receive from a mark skips the messages that were there before the mark",
          "[core][receive]") {
  const unsigned n = GENERATE(1u, 3u);
  OTPP_TEST_RUNTIME({.schedulers = n});
  auto log = in_process([] {
    std::vector<int> out;
    otpp::send(tp::self(), A{1});
    otpp::send(tp::self(), A{2});
    otpp::mailbox_mark m = tp::mark();
    // Only old messages: a receive from the mark does not see them.
    out.push_back(tp::receive(
        m, [](A& a) { return a.v; }, otpp::after(0ms, [] { return -1; })));
    otpp::send(tp::self(), A{3});
    out.push_back(tp::receive(
        m, [](A& a) { return a.v; }, otpp::after(0ms, [] { return -1; })));
    // A full receive still sees the old ones, in order.
    out.push_back(tp::receive<A>().v);
    out.push_back(tp::receive<A>().v);
    out.push_back(static_cast<int>(tp::mailbox_length()));
    return out;
  });
  CHECK(log == std::vector<int>{-1, 3, 1, 2, 0});
}

TEST_CASE("a receive from a mark sees messages that arrive while it waits", "[core][receive]") {
  const unsigned n = GENERATE(1u, 3u);
  OTPP_TEST_RUNTIME({.schedulers = n});
  otpp::pid me = sp.self();
  otpp::pid p = rt.spawn([me] {
    otpp::send(tp::self(), A{1});
    otpp::mailbox_mark m = tp::mark();
    otpp::send(me, std::string("marked"));
    int first = tp::receive(m, [](A& a) { return a.v; });
    // The old message was consumed meanwhile; the mark still works.
    int old = tp::receive<A>().v;
    otpp::send(me, std::vector<int>{first, old, static_cast<int>(tp::mailbox_length())});
  });
  CHECK(otpp_test::expect<std::string>() == "marked");
  otpp::send(p, A{2});
  CHECK(otpp_test::expect<std::vector<int>>() == std::vector<int>{2, 1, 0});
}

TEST_CASE("a stale or foreign mark falls back to a full scan", "[core][receive]") {
  const unsigned n = GENERATE(1u, 3u);
  OTPP_TEST_RUNTIME({.schedulers = n});
  otpp::mailbox_mark foreign = tp::mark(); // the test thread's mark
  auto log = in_process([foreign] {
    std::vector<int> out;
    otpp::send(tp::self(), A{1});
    otpp::mailbox_mark old = tp::mark();
    otpp::send(tp::self(), A{2});
    otpp::mailbox_mark newer = tp::mark(); // replaces `old`
    (void)newer;
    out.push_back(tp::receive(
        old, [](A& a) { return a.v; }, otpp::after(0ms, [] { return -1; })));
    out.push_back(tp::receive(
        foreign, [](A& a) { return a.v; }, otpp::after(0ms, [] { return -1; })));
    out.push_back(tp::receive(
        otpp::mailbox_mark{}, [](A& a) { return a.v; }, otpp::after(0ms, [] { return -1; })));
    return out;
  });
  CHECK(log == std::vector<int>{1, 2, -1});
}

TEST_CASE("an exception from a handler propagates out of receive", "[core][receive]") {
  const unsigned n = GENERATE(1u, 3u);
  OTPP_TEST_RUNTIME({.schedulers = n});
  // Caught in the process: the message was consumed all the same.
  auto log = in_process([] {
    otpp::send(tp::self(), 1);
    otpp::send(tp::self(), 2);
    std::string what;
    try {
      tp::receive([](int v) -> int { throw std::domain_error(fmt::format("bad {}", v)); });
    } catch (const std::domain_error& e) {
      what = e.what();
    }
    std::size_t left = tp::mailbox_length();
    return fmt::format("{} {} {}", what, left, tp::receive<int>());
  });
  CHECK(log == "bad 1 1 2");
  // Uncaught: the process ends with an exception reason.
  otpp::exit_reason r = exit_of([] {
    otpp::send(tp::self(), 7);
    tp::receive([](int v) { throw std::out_of_range(fmt::format("index {}", v)); });
  });
  CHECK(r.which() == otpp::exit_reason::kind::exception);
  CHECK(r.exception_type() == "std::out_of_range");
  CHECK(r.detail() == "index 7");
}

TEST_CASE("mailbox_length counts the messages waiting to be received", "[core][receive]") {
  const unsigned n = GENERATE(1u, 3u);
  OTPP_TEST_RUNTIME({.schedulers = n});
  auto log = in_process([] {
    std::vector<std::size_t> out{tp::mailbox_length()};
    otpp::send(tp::self(), A{1});
    otpp::send(tp::self(), B{2});
    otpp::send(tp::self(), A{3});
    out.push_back(tp::mailbox_length());
    out.push_back(otpp::info(tp::self()).mailbox_length);
    tp::receive<B>();
    out.push_back(tp::mailbox_length());
    tp::receive<A>();
    tp::receive<A>();
    out.push_back(tp::mailbox_length());
    return out;
  });
  CHECK(log == std::vector<std::size_t>{0, 3, 3, 2, 0});
}

TEST_CASE("receive, mark and mailbox_length outside a process throw std::logic_error",
          "[core][receive]") {
  CHECK_THROWS_AS(tp::receive<int>(), std::logic_error);
  CHECK_THROWS_AS(tp::receive_for<int>(0ms), std::logic_error);
  CHECK_THROWS_AS(tp::mark(), std::logic_error);
  CHECK_THROWS_AS(tp::mailbox_length(), std::logic_error);
}

} // namespace OTPP_TEST_FILE
