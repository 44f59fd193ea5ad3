// The observer's API (the page's data) over real HTTP: the token, the
// snapshot of trees and processes, server-sent events, a process's
// details with its behaviour status, and kill (the browser test drives the
// page itself: tests/browser/observer.test.mjs).
// Distributed under the Boost Software License, Version 1.0.
#include <otpp/http/observer.hpp>

#include <otpp/behaviour/statem.hpp>
#include <otpp/behaviour/supervisor.hpp>

#include "http_client.hpp"
#include "otpp_test.hpp"

#include <catch2/catch.hpp>

#include <chrono>
#include <string>

namespace OTPP_TEST_FILE {

using namespace std::chrono_literals;
namespace tp = otpp::this_process;
namespace sm = otpp::sm;
using otpp_test::http_get;
using otpp_test::http_request;

namespace {

struct idle {};
struct busy {};
struct go {};

auto machine() {
  return otpp::statem<int, idle, busy>()
      .on<idle>([](idle&, int&, go) { return sm::next_state(busy{}); })
      .on<busy>([](busy&, int&, go) { return sm::next_state(idle{}); })
      .named("machine");
}

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

template <class T> otpp::pid child(const T& sup, const std::string& id) {
  for (const auto& c : otpp::which_children(sup))
    if (c.id == id)
      return c.pid;
  return {};
}

} // namespace

TEST_CASE("observer: the token, the snapshot, events, details and kill over HTTP",
          "[behaviour][observer]") {
  const unsigned n = GENERATE(1u, 2u);
  OTPP_TEST_RUNTIME({.schedulers = n});
  otpp_test::report_guard g(otpp_test::quiet());
  auto inner = otpp::supervisor_spec{
      .strategy = otpp::one_for_one,
      .intensity = 10,
      .children = {otpp::worker("sm", [] { return otpp::start_link(machine(), 0); })},
      .name = "inner"};
  auto sup = otpp::start(otpp::supervisor_spec{
      .strategy = otpp::one_for_all,
      .intensity = 10,
      .children = {otpp::worker("w", [] { return otpp::spawn_link(otpp_test::wait_forever); }),
                   otpp::supervisor("inner", inner)},
      .name = "outer"});
  otpp::http::observer obs(rt, {.interval = 20ms});
  const std::string& token = obs.token();
  REQUIRE(token.size() == 32);
  CHECK(obs.url() == fmt::format("http://127.0.0.1:{}/?token={}", obs.port(), token));
  const std::uint16_t port = obs.port();
  const std::string t = "token=" + token;

  // Nothing without the token.
  CHECK(http_get(port, "/").status == 401);
  CHECK(http_get(port, "/api/snapshot").status == 401);
  CHECK(http_request(port, "POST", "/api/kill?pid=x").status == 401);

  const auto page = http_get(port, "/?" + t);
  CHECK(page.status == 200);
  CHECK(page.content_type == "text/html; charset=utf-8");
  CHECK(contains(page.body, "new EventSource"));

  // One tree: the outer supervisor, with the inner one inside (not a second root).
  const auto snap = http_get(port, "/api/snapshot?" + t);
  REQUIRE(snap.status == 200);
  CHECK(contains(snap.body,
                 fmt::format("\"trees\":[{{\"id\": \"outer\", \"pid\": \"{}\"", sup.pid())));
  CHECK(contains(snap.body, "\"id\": \"inner\""));
  CHECK(contains(snap.body, "\"id\": \"sm\""));
  CHECK_FALSE(contains(snap.body, "},{\"id\": \"inner\"")); // not a root of its own
  CHECK(contains(snap.body, fmt::format("{{\"pid\":\"{}\",\"name\":\"outer\",\"label\":"
                                        "\"supervisor outer\"",
                                        sup.pid())));
  CHECK(contains(snap.body, "\"stats\":{\"processes\":"));

  // The same as server-sent events.
  const std::string ev = otpp_test::first_event(port, "/api/events?" + t);
  CHECK(contains(ev, "Content-Type: text/event-stream"));
  CHECK(contains(ev, "\r\n\r\ndata: {\"stats\":"));
  CHECK(contains(ev, "\"id\": \"outer\""));

  // A state machine's details: info and its behaviour status.
  const otpp::pid sm_pid = child(child(sup, "inner"), "sm");
  REQUIRE(sm_pid);
  const auto d = http_get(port, fmt::format("/api/process?pid={}&{}", sm_pid, t));
  REQUIRE(d.status == 200);
  CHECK(contains(d.body, fmt::format("\"pid\":\"{}\"", sm_pid)));
  CHECK(contains(d.body, "\"label\":\"statem machine\""));
  CHECK(contains(d.body, "\"behaviour\":{\"behaviour\":\"statem\",\"name\":\"machine\""));
  CHECK(contains(d.body, "idle\""));
  CHECK(contains(d.body, fmt::format("\"links\":[\"{}\"]", child(sup, "inner"))));
  CHECK(http_get(port, "/api/process?pid=%3C0.999999.0%3E&" + t).status == 404);

  // Kill: POST only; the supervisor restarts the worker.
  const otpp::pid w = child(sup, "w");
  CHECK(http_get(port, fmt::format("/api/kill?pid={}&{}", w, t)).status == 405);
  CHECK(otpp::info(w).status != otpp::process_status::exited);
  const auto k = http_request(
      port, "POST", fmt::format("/api/kill?pid=%3C{}&{}", fmt::format("{}", w).substr(1), t));
  CHECK(k.status == 200);
  CHECK(contains(k.body, fmt::format("\"killed\": \"{}\"", w)));
  for (auto until = std::chrono::steady_clock::now() + otpp_test::patience;
       !child(sup, "w") || child(sup, "w") == w;)
    REQUIRE(std::chrono::steady_clock::now() < until);
  const auto after = http_get(port, "/api/snapshot?" + t);
  CHECK(contains(after.body, fmt::format("\"id\": \"w\", \"pid\": \"{}\"", child(sup, "w"))));
  otpp::stop(sup);
}

TEST_CASE("observer: a suspended supervisor leaves a gap after the call timeout, not a hung page",
          "[behaviour][observer]") {
  OTPP_TEST_RUNTIME({.schedulers = 2});
  auto sup = otpp::start(otpp::supervisor_spec{
      .strategy = otpp::one_for_one,
      .children = {otpp::worker("w", [] { return otpp::spawn_link(otpp_test::wait_forever); })},
      .name = "sleepy"});
  otpp::http::observer obs(rt, {.require_token = false, .call_timeout = 100ms});
  CHECK(obs.token().empty());
  otpp::suspend(sup);
  const auto snap = http_get(obs.port(), "/api/snapshot");
  CHECK(snap.status == 200);
  CHECK(contains(snap.body, "\"trees\":[]"));
  CHECK(contains(snap.body, "\"label\":\"supervisor sleepy\""));
  otpp::resume(sup);
  CHECK(contains(http_get(obs.port(), "/api/snapshot").body, "\"id\": \"sleepy\""));
  otpp::stop(sup);
}

} // namespace OTPP_TEST_FILE
