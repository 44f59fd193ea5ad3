#include <otpp/core/request.hpp>

#include "otpp_test.hpp"

#include <otpp/core/monitor.hpp>

#include <catch2/catch.hpp>

#include <chrono>
#include <stdexcept>
#include <string>
#include <vector>

namespace OTPP_TEST_FILE {

using namespace std::chrono_literals;
namespace tp = otpp::this_process;
using otpp::exit_reason;

namespace {
using otpp_test::never;

struct add {
  int x, y;
};
struct go {};
struct report {
  std::size_t monitored_by;
};

// What a requester sees for request `tag`: the reply's value, or the reason
// in the down message.
struct outcome {
  std::optional<int> value;
  std::optional<exit_reason> down;
};
outcome wait_for(otpp::ref tag, otpp::mailbox_mark m,
                 std::chrono::steady_clock::duration timeout = otpp_test::patience) {
  return tp::receive(m,
                     otpp::when([tag](const otpp::reply<int>& r) { return r.tag == tag; },
                                [](otpp::reply<int>& r) {
                                  return outcome{r.value, {}};
                                }),
                     otpp::when([tag](const otpp::down& d) { return d.monitor == tag; },
                                [](otpp::down& d) {
                                  return outcome{{}, d.reason};
                                }),
                     otpp::after(timeout, [] { return outcome{}; }));
}

// Answer `add` requests; ends only by an exit signal.
[[noreturn]] void adder() {
  for (;;)
    tp::receive([](otpp::request<add>& r) { otpp::send_reply(r.from, r.value.x + r.value.y); });
}

} // namespace

TEST_CASE("a request gets its reply, and the implicit monitor ends with it", "[core][request]") {
  const unsigned n = GENERATE(1u, 3u);
  OTPP_TEST_RUNTIME({.schedulers = n});
  otpp::pid server = otpp::spawn(adder);
  for (int i = 0; i < 100; ++i) {
    auto m = tp::mark();
    otpp::ref tag = otpp::send_request(server, add{i, 1});
    outcome o = wait_for(tag, m);
    REQUIRE(o.value == i + 1);
    CHECK_FALSE(otpp::request_pending(tag));
  }
  // No monitor is left on either side once the replies arrived.
  CHECK(otpp::info(tp::self()).monitors.empty());
  CHECK(otpp::info(server).monitored_by.empty());
  otpp::kill(server);
  // ... so the server's death sends nothing.
  CHECK(otpp_test::nothing<otpp::down>());
}

TEST_CASE("a request to an ended process gets down with noproc at once", "[core][request]") {
  OTPP_TEST_RUNTIME({.schedulers = 1});
  otpp::pid gone = otpp::spawn([] {});
  otpp_test::wait_exit(gone);
  auto m = tp::mark();
  otpp::ref tag = otpp::send_request(gone, add{1, 2});
  outcome o = wait_for(tag, m, 0ms);
  REQUIRE(o.down);
  CHECK(*o.down == exit_reason::noproc());
  CHECK(otpp::cancel_request(tag));

  // A null pid behaves the same.
  auto m2 = tp::mark();
  otpp::ref none = otpp::send_request(otpp::pid(), add{1, 2});
  CHECK(wait_for(none, m2, 0ms).down == exit_reason::noproc());
  otpp::cancel_request(none);
}

TEST_CASE("the requester learns the reason when the receiver dies before answering",
          "[core][request]") {
  const unsigned n = GENERATE(1u, 3u);
  OTPP_TEST_RUNTIME({.schedulers = n});

  SECTION("while handling the request") {
    otpp::pid server = otpp::spawn(
        [] { tp::receive([](otpp::request<add>&) { tp::exit(exit_reason::user("overflow")); }); });
    auto m = tp::mark();
    otpp::ref tag = otpp::send_request(server, add{1, 2});
    CHECK(wait_for(tag, m).down == exit_reason::user("overflow"));
  }
  SECTION("with the request still queued") {
    otpp::pid server = otpp::spawn([] {
      tp::receive([](go) {});
      tp::exit(exit_reason::user("quit"));
    });
    auto m = tp::mark();
    otpp::ref tag = otpp::send_request(server, add{1, 2});
    otpp::send(server, go{});
    CHECK(wait_for(tag, m).down == exit_reason::user("quit"));
  }
}

TEST_CASE("a reply after cancel_request never reaches the mailbox", "[core][request]") {
  const unsigned n = GENERATE(1u, 3u);
  OTPP_TEST_RUNTIME({.schedulers = n});
  // The server answers only when told to: after the requester gave up.
  otpp::pid server = otpp::spawn([] {
    otpp::reply_to from = tp::receive([](otpp::request<add>& r) { return r.from; });
    tp::receive([](go) {});
    otpp::send_reply(from, 42);
    otpp::send_reply(from, 43); // a second answer is dropped as well
    otpp::send(from.pid, go{});
    otpp_test::wait_forever();
  });
  auto m = tp::mark();
  otpp::ref tag = otpp::send_request(server, add{1, 2});
  CHECK_FALSE(wait_for(tag, m, 20ms).value);
  CHECK(otpp::cancel_request(tag));
  CHECK_FALSE(otpp::cancel_request(tag));
  otpp::send(server, go{});
  otpp_test::expect<go>(); // sent after the replies: they had their chance
  CHECK(tp::mailbox_length() == 0);
  // The server dropped the requester's monitor when it gave up.
  CHECK(otpp::info(server).monitored_by.empty());
  otpp::kill(server);
  CHECK(otpp_test::nothing<otpp::down>());
}

TEST_CASE("cancel_request removes a reply already in the mailbox", "[core][request]") {
  OTPP_TEST_RUNTIME({.schedulers = 1});
  otpp::pid server = otpp::spawn(adder);
  otpp::ref tag = otpp::send_request(server, add{1, 2});
  while (tp::mailbox_length() == 0)
    tp::sleep_for(1ms);
  CHECK_FALSE(otpp::cancel_request(tag)); // answered already: no longer pending
  CHECK(tp::mailbox_length() == 0);
  otpp::kill(server);
}

TEST_CASE("several requests in flight are answered independently", "[core][request]") {
  const unsigned n = GENERATE(1u, 3u);
  OTPP_TEST_RUNTIME({.schedulers = n});
  std::vector<otpp::pid> servers;
  for (int i = 0; i < 4; ++i)
    servers.push_back(otpp::spawn(adder));
  auto m = tp::mark();
  std::vector<otpp::ref> tags;
  for (int i = 0; i < 4; ++i)
    tags.push_back(otpp::send_request(servers[static_cast<std::size_t>(i)], add{i, 10}));
  // Collect them in reverse order: each receive picks its own tag.
  for (int i = 3; i >= 0; --i)
    CHECK(wait_for(tags[static_cast<std::size_t>(i)], m).value == i + 10);
  for (auto& s : servers)
    otpp::kill(s);
}

TEST_CASE("a reply sent by another process than the receiver still ends the monitor",
          "[core][request]") {
  OTPP_TEST_RUNTIME({.schedulers = 2});
  // The server hands each request to a helper that answers for it.
  otpp::pid server = otpp::spawn([] {
    for (;;)
      tp::receive([](otpp::request<add>& r) {
        otpp::spawn([from = r.from, v = r.value] { otpp::send_reply(from, v.x * v.y); });
      });
  });
  auto m = tp::mark();
  otpp::ref tag = otpp::send_request(server, add{6, 7});
  CHECK(wait_for(tag, m).value == 42);
  // The requester told the server to drop the monitor.
  const auto deadline = std::chrono::steady_clock::now() + otpp_test::patience;
  while (!otpp::info(server).monitored_by.empty() && std::chrono::steady_clock::now() < deadline)
    tp::sleep_for(1ms);
  CHECK(otpp::info(server).monitored_by.empty());
  CHECK(otpp::info(tp::self()).monitors.empty());
  otpp::kill(server);
}

TEST_CASE("a forwarded request is answered by the process it was forwarded to",
          "[core][request][any_message]") {
  const unsigned n = GENERATE(1u, 3u);
  OTPP_TEST_RUNTIME({.schedulers = n});
  otpp::pid worker = otpp::spawn(adder);
  otpp::pid front = otpp::spawn([worker] {
    for (;;)
      tp::receive([worker](otpp::any_message m) { std::move(m).forward(worker); });
  });
  auto m = tp::mark();
  otpp::ref tag = otpp::send_request(front, add{20, 22});
  CHECK(wait_for(tag, m).value == 42);

  // The requester now waits on the worker: its death ends the request.
  otpp::pid dying = otpp::spawn(
      [] { tp::receive([](otpp::request<add>&) { tp::exit(exit_reason::user("worker died")); }); });
  otpp::pid front2 = otpp::spawn([dying] {
    tp::receive([dying](otpp::any_message msg) { std::move(msg).forward(dying); });
    otpp_test::wait_forever();
  });
  auto m2 = tp::mark();
  otpp::ref tag2 = otpp::send_request(front2, add{1, 1});
  CHECK(wait_for(tag2, m2).down == exit_reason::user("worker died"));
  otpp::cancel_request(tag2);
  for (auto& p : {worker, front, front2})
    otpp::kill(p);
}

TEST_CASE("an any_message handler takes any type, is, get_if, get and type_name",
          "[core][any_message]") {
  OTPP_TEST_RUNTIME({.schedulers = 1});
  otpp::send(tp::self(), std::string("text"));
  otpp::send(tp::self(), 7);
  otpp::any_message a = tp::receive([](otpp::any_message m) { return m; });
  REQUIRE(a);
  CHECK(a.is<std::string>());
  CHECK_FALSE(a.is<int>());
  CHECK(a.get_if<int>() == nullptr);
  CHECK(a.get<std::string>() == "text");
  CHECK(a.type_name().find("string") != std::string_view::npos);
  CHECK_THROWS_WITH(a.get<int>(), Catch::Contains("not a int"));
  CHECK_FALSE(a.reply_tag());
  CHECK(a.requester() == nullptr);

  // A guard sees the message without taking it; typed handlers before it win.
  otpp::send(tp::self(), 1.5);
  int got = tp::receive([](int v) { return v; }, [](otpp::any_message) { return -1; });
  CHECK(got == 7);
  bool saw_double =
      tp::receive(otpp::when([](const otpp::any_message& m) { return m.is<double>(); },
                             [](otpp::any_message& m) { return m.get<double>() == 1.5; }),
                  otpp::after(0ms, [] { return false; }));
  CHECK(saw_double);
  CHECK(tp::mailbox_length() == 0);
}

TEST_CASE("hibernate returns when a message arrives and leaves it in the mailbox",
          "[core][hibernate]") {
  const unsigned n = GENERATE(1u, 3u);
  OTPP_TEST_RUNTIME({.schedulers = n});
  otpp::pid me = tp::self();
  otpp::pid p = otpp::spawn([me] {
    // Use some stack first, so there is something to give back.
    volatile char scratch[16 * 1024];
    for (auto& c : scratch)
      c = 1;
    tp::hibernate();
    int v = tp::receive<int>();
    otpp::send(me, v + 1);
  });
  otpp_test::wait_until_waiting(p);
  otpp::send(p, 41);
  CHECK(otpp_test::expect<int>() == 42);
  // A scoped process hibernates too (it only sleeps).
  otpp::send(me, 5);
  tp::hibernate();
  CHECK(tp::receive<int>() == 5);
}

} // namespace OTPP_TEST_FILE
