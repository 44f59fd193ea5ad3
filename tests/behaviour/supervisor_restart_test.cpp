#include <otpp/behaviour/supervisor.hpp>

#include "otpp_test.hpp"
#include "supervisor_probe.hpp"

#include <otpp/core/monitor.hpp>

#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <map>
#include <memory>
#include <set>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace OTPP_TEST_FILE {

using namespace std::chrono_literals;
namespace tp = otpp::this_process;
using otpp::exit_reason;
using otpp_test::expect;

namespace {

using otpp_test::quiet;
using otpp_test::report_guard;

using otpp_test::crash;
using otpp_test::die;
using otpp_test::ev;
using otpp_test::has_report;
using otpp_test::ids_of;
using otpp_test::info_of;
using otpp_test::on_shutdown;
using otpp_test::probe;
using otpp_test::recorder;
using otpp_test::release;
using otpp_test::spawn_probe;
using otpp_test::spec_of;
using otpp_test::strings;
using otpp_test::wait_count;

} // namespace

// ---------------------------------------------------------------------------
// Strategies: which children restart, in which order
// ---------------------------------------------------------------------------

TEST_CASE("one_for_one restarts only the child that ended", "[behaviour][supervisor]") {
  const unsigned n = GENERATE(1u, 3u);
  OTPP_TEST_RUNTIME({.schedulers = n});
  report_guard g(quiet());
  otpp::pid me = tp::self();
  recorder rec;
  auto sup =
      otpp::start(rt, spec_of(otpp::one_for_one, {probe("a", me), probe("b", me), probe("c", me)}));
  rec.take(3);
  auto before = rec.pid;

  crash(rec.pid["b"]);
  REQUIRE(rec.take(1) == strings{"start b"});
  REQUIRE(otpp_test::nothing<ev>());
  REQUIRE(info_of(sup, "a").pid == before["a"]);
  REQUIRE(info_of(sup, "c").pid == before["c"]);
  REQUIRE(info_of(sup, "b").pid == rec.pid["b"]);
  REQUIRE(info_of(sup, "b").restarts == 1);
  REQUIRE(info_of(sup, "a").restarts == 0);
  otpp::stop(sup, exit_reason::shutdown());
}

TEST_CASE("one_for_all stops the others in reverse start order, then restarts all in start "
          "order",
          "[behaviour][supervisor]") {
  const unsigned n = GENERATE(1u, 3u);
  OTPP_TEST_RUNTIME({.schedulers = n});
  report_guard g(quiet());
  otpp::pid me = tp::self();
  recorder rec;
  auto sup = otpp::start(rt, spec_of(otpp::one_for_all, {probe("a", me), probe("b", me),
                                                         probe("c", me), probe("d", me)}));
  rec.take(4);
  auto before = rec.pid;

  crash(rec.pid["b"]);
  REQUIRE(rec.take(7) ==
          strings{"stop d", "stop c", "stop a", "start a", "start b", "start c", "start d"});
  REQUIRE(otpp_test::nothing<ev>());
  for (const char* id : {"a", "b", "c", "d"}) {
    REQUIRE(info_of(sup, id).pid == rec.pid[id]);
    REQUIRE(rec.pid[id] != before[id]);
  }
  otpp::stop(sup, exit_reason::shutdown());
}

TEST_CASE("rest_for_one stops the children started after it in reverse order, then restarts it "
          "and them in order",
          "[behaviour][supervisor]") {
  const unsigned n = GENERATE(1u, 3u);
  OTPP_TEST_RUNTIME({.schedulers = n});
  report_guard g(quiet());
  otpp::pid me = tp::self();
  recorder rec;
  auto sup = otpp::start(rt, spec_of(otpp::rest_for_one, {probe("a", me), probe("b", me),
                                                          probe("c", me), probe("d", me)}));
  rec.take(4);
  otpp::pid a = rec.pid["a"];

  crash(rec.pid["b"]);
  REQUIRE(rec.take(5) == strings{"stop d", "stop c", "start b", "start c", "start d"});
  REQUIRE(otpp_test::nothing<ev>());
  REQUIRE(info_of(sup, "a").pid == a);

  crash(rec.pid["d"]); // the last one: only itself
  REQUIRE(rec.take(1) == strings{"start d"});
  REQUIRE(otpp_test::nothing<ev>());

  crash(rec.pid["a"]); // the first one: all of them
  REQUIRE(rec.take(7) ==
          strings{"stop d", "stop c", "stop b", "start a", "start b", "start c", "start d"});
  REQUIRE(otpp_test::nothing<ev>());
  otpp::stop(sup, exit_reason::shutdown());
}

TEST_CASE("one_for_all and rest_for_one stop a temporary sibling and do not restart it",
          "[behaviour][supervisor]") {
  const unsigned n = GENERATE(1u, 3u);
  const auto strategy = GENERATE(otpp::one_for_all, otpp::rest_for_one);
  OTPP_TEST_RUNTIME({.schedulers = n});
  report_guard g(quiet());
  otpp::pid me = tp::self();
  recorder rec;
  auto sup = otpp::start(
      rt, spec_of(strategy,
                  {probe("a", me), probe("t", me, {.restart = otpp::temporary}), probe("c", me)}));
  rec.take(3);

  crash(rec.pid["a"]);
  REQUIRE(rec.take(4) == strings{"stop c", "stop t", "start a", "start c"});
  REQUIRE(otpp_test::nothing<ev>());
  REQUIRE(ids_of(otpp::which_children(sup)) == strings{"c", "a"});
  otpp::stop(sup, exit_reason::shutdown());
}

TEST_CASE("a sibling that fails to restart is tried again until the whole set runs",
          "[behaviour][supervisor]") {
  const unsigned n = GENERATE(1u, 3u);
  const auto strategy = GENERATE(otpp::one_for_all, otpp::rest_for_one);
  OTPP_TEST_RUNTIME({.schedulers = n});
  report_guard g(quiet());
  otpp::pid me = tp::self();
  recorder rec;
  // beta's second start fails once.
  auto starts = std::make_shared<std::atomic<int>>(0);
  auto beta = otpp::worker("beta", [me, starts]() -> otpp::child_start {
    if (++*starts == 2) {
      otpp::send(me, ev{"fail beta", {}, {}});
      return {{}, false, exit_reason::user("flaky")};
    }
    return {spawn_probe("beta", me), false, std::nullopt};
  });
  auto sup = otpp::start(rt, spec_of(strategy, {probe("alpha", me), beta, probe("gamma", me)}));
  rec.take(3);

  crash(rec.pid["alpha"]);
  if (strategy == otpp::one_for_all) {
    // OTP: the child that failed is tried again (try_again_restart), which
    // for one_for_all stops the others (alpha again) and starts them all.
    REQUIRE(rec.take(8) == strings{"stop gamma", "stop beta", "start alpha", "fail beta",
                                   "stop alpha", "start alpha", "start beta", "start gamma"});
  } else {
    REQUIRE(rec.take(6) == strings{"stop gamma", "stop beta", "start alpha", "fail beta",
                                   "start beta", "start gamma"});
  }
  REQUIRE(otpp_test::nothing<ev>());
  for (auto& c : otpp::which_children(sup)) {
    INFO(c.id);
    REQUIRE(c.state == otpp::child_info::status::running);
    REQUIRE(c.pid == rec.pid[c.id]);
  }
  otpp::stop(sup, exit_reason::shutdown());
}

TEST_CASE("simple_one_for_one with 1,000 children restarts only the one that ended and stops "
          "them all at shutdown",
          "[behaviour][supervisor]") {
  const unsigned n = GENERATE(1u, 3u);
  OTPP_TEST_RUNTIME({.schedulers = n});
  report_guard g(quiet());
  otpp::pid me = tp::self();
  recorder rec;
  auto templ = otpp::worker("w", [me](int k) { return spawn_probe(fmt::format("w{}", k), me); });
  auto sup = otpp::start(rt, spec_of(otpp::simple_one_for_one, {templ}));
  constexpr int count = 1000;
  for (int k = 0; k < count; ++k)
    REQUIRE(otpp::start_child(sup, k).ok());
  auto started = rec.take(count);
  for (int k = 0; k < count; ++k)
    REQUIRE(started[static_cast<std::size_t>(k)] == "start w" + std::to_string(k));
  auto counts = otpp::count_children(sup);
  REQUIRE(counts.active == count);
  REQUIRE(counts.workers == count);

  otpp::pid old = rec.pid["w500"];
  crash(old);
  REQUIRE(rec.take(1) == strings{"start w500"});
  REQUIRE(otpp_test::nothing<ev>());
  REQUIRE(otpp::count_children(sup).active == count);
  auto kids = otpp::which_children(sup);
  REQUIRE(kids.size() == count);
  std::size_t restarted = 0;
  for (auto& c : kids) {
    REQUIRE(c.pid != old);
    restarted += c.restarts;
    if (c.pid == rec.pid["w500"])
      REQUIRE(c.restarts == 1);
  }
  REQUIRE(restarted == 1);

  otpp::stop(sup, exit_reason::shutdown());
  auto stopped = rec.take(count);
  REQUIRE(std::set<std::string>(stopped.begin(), stopped.end()).size() == count);
  for (auto& s : stopped)
    REQUIRE(s.starts_with("stop w"));
  wait_count(rt, 0);
}

// ---------------------------------------------------------------------------
// Restart types
// ---------------------------------------------------------------------------

TEST_CASE("a permanent child is restarted whatever its exit reason, normal included",
          "[behaviour][supervisor]") {
  const unsigned n = GENERATE(1u, 3u);
  OTPP_TEST_RUNTIME({.schedulers = n});
  report_guard g(quiet());
  otpp::pid me = tp::self();
  recorder rec;
  auto sup = otpp::start(rt, spec_of(otpp::one_for_one, {probe("p", me)}));
  rec.take(1);
  for (auto r : {exit_reason::normal(), exit_reason::shutdown(), exit_reason::shutdown("bye"),
                 exit_reason::user("boom")}) {
    INFO(r.to_string());
    crash(rec.pid["p"], r);
    REQUIRE(rec.take(1) == strings{"start p"});
  }
  REQUIRE(info_of(sup, "p").restarts == 4);
  otpp::stop(sup, exit_reason::shutdown());
}

TEST_CASE("a transient child is restarted only after an abnormal exit", "[behaviour][supervisor]") {
  const unsigned n = GENERATE(1u, 3u);
  OTPP_TEST_RUNTIME({.schedulers = n});
  otpp::pid me = tp::self();
  report_guard g([me](const otpp::report& r) {
    if (r.kind == otpp::report_kind::supervisor)
      otpp::send(me, r);
  });
  recorder rec;
  otpp::child_options tr{.restart = otpp::transient};
  auto sup = otpp::start(
      rt, spec_of(otpp::one_for_one, {probe("normal", me, tr), probe("shutdown", me, tr),
                                      probe("detail", me, tr), probe("abnormal", me, tr)}));
  rec.take(4);
  crash(rec.pid["normal"], exit_reason::normal());
  crash(rec.pid["shutdown"], exit_reason::shutdown());
  crash(rec.pid["detail"], exit_reason::shutdown("done"));
  crash(rec.pid["abnormal"], exit_reason::user("boom"));
  REQUIRE(rec.take(1) == strings{"start abnormal"});
  REQUIRE(otpp_test::nothing<ev>());
  for (const char* id : {"normal", "shutdown", "detail"}) {
    auto c = info_of(sup, id); // kept, not running
    REQUIRE(c.state == otpp::child_info::status::stopped);
    REQUIRE_FALSE(c.pid);
  }
  REQUIRE(info_of(sup, "abnormal").pid == rec.pid["abnormal"]);
  REQUIRE(info_of(sup, "abnormal").restarts == 1);
  // Only the abnormal exit is reported (OTP's child_terminated report).
  strings reports;
  while (auto r = tp::receive_for<otpp::report>(0ms))
    reports.push_back(r->text);
  REQUIRE(reports.size() == 1);
  CHECK_THAT(reports[0], Catch::Contains("child_terminated") && Catch::Contains("boom") &&
                             Catch::EndsWith("child: abnormal"));
  otpp::stop(sup, exit_reason::shutdown());
}

TEST_CASE("a temporary child is never restarted and leaves which_children",
          "[behaviour][supervisor]") {
  const unsigned n = GENERATE(1u, 3u);
  OTPP_TEST_RUNTIME({.schedulers = n});
  report_guard g(quiet());
  otpp::pid me = tp::self();
  recorder rec;
  otpp::child_options tmp{.restart = otpp::temporary};
  auto sup =
      otpp::start(rt, spec_of(otpp::one_for_one,
                              {probe("a", me), probe("t1", me, tmp), probe("t2", me, tmp)}, 0));
  rec.take(3);
  crash(rec.pid["t1"], exit_reason::normal());
  crash(rec.pid["t2"], exit_reason::user("boom")); // intensity 0: not counted as a restart
  REQUIRE(otpp_test::nothing<ev>());
  REQUIRE(ids_of(otpp::which_children(sup)) == strings{"a"});
  otpp::stop(sup, exit_reason::shutdown());
}

TEST_CASE("simple_one_for_one children follow their restart type and are forgotten when not "
          "restarted",
          "[behaviour][supervisor]") {
  const unsigned n = GENERATE(1u, 3u);
  OTPP_TEST_RUNTIME({.schedulers = n});
  report_guard g(quiet());
  otpp::pid me = tp::self();
  recorder rec;
  auto templ = otpp::worker("w", [me](std::string id) { return spawn_probe(id, me); },
                            {.restart = otpp::transient});
  auto sup = otpp::start(rt, spec_of(otpp::simple_one_for_one, {templ}));
  for (const char* id : {"x", "y"})
    REQUIRE(otpp::start_child(sup, std::string(id)).ok());
  rec.take(2);
  crash(rec.pid["x"], exit_reason::normal());
  crash(rec.pid["y"], exit_reason::user("boom"));
  REQUIRE(rec.take(1) == strings{"start y"});
  REQUIRE(otpp_test::nothing<ev>());
  auto kids = otpp::which_children(sup);
  REQUIRE(kids.size() == 1);
  REQUIRE(kids[0].pid == rec.pid["y"]);
  otpp::stop(sup, exit_reason::shutdown());
}

// ---------------------------------------------------------------------------
// Restart intensity
// ---------------------------------------------------------------------------

TEST_CASE("intensity N allows N restarts within the period, and one more shuts the supervisor "
          "down with its children",
          "[behaviour][supervisor]") {
  const unsigned n = GENERATE(1u, 3u);
  const int limit = GENERATE(0, 1, 3);
  OTPP_TEST_RUNTIME({.schedulers = n});
  otpp::pid me = tp::self();
  report_guard g([me](const otpp::report& r) {
    if (r.kind == otpp::report_kind::supervisor)
      otpp::send(me, r);
  });
  recorder rec;
  auto sup = otpp::start(
      rt, spec_of(otpp::one_for_one, {probe("a", me), probe("b", me), probe("c", me)}, limit));
  rec.take(3);
  otpp::ref m = otpp::monitor(sup);
  for (int i = 0; i < limit; ++i) { // the boundary: fine
    crash(rec.pid["b"]);
    REQUIRE(rec.take(1) == strings{"start b"});
  }
  REQUIRE(info_of(sup, "b").restarts == static_cast<std::uint64_t>(limit));
  crash(rec.pid["b"]); // one too many
  REQUIRE(otpp_test::down_reason(m) == exit_reason::shutdown());
  REQUIRE(rec.take(2) == strings{"stop c", "stop a"}); // b is not restarted
  REQUIRE(otpp_test::nothing<ev>());
  bool reported = false;
  while (auto r = tp::receive_for<otpp::report>(0ms))
    reported = reported || r->text.find("reached_max_restart_intensity") != std::string::npos;
  REQUIRE(reported);
  wait_count(rt, 0);
}

TEST_CASE("exits that cause no restart do not count towards the intensity",
          "[behaviour][supervisor]") {
  const unsigned n = GENERATE(1u, 3u);
  OTPP_TEST_RUNTIME({.schedulers = n});
  report_guard g(quiet());
  otpp::pid me = tp::self();
  recorder rec;
  auto sup =
      otpp::start(rt, spec_of(otpp::one_for_one,
                              {probe("a", me), probe("t", me, {.restart = otpp::transient})}, 0));
  rec.take(2);
  crash(rec.pid["t"], exit_reason::shutdown());
  REQUIRE(otpp::restart_child(sup, "t").ok()); // by hand: not a supervisor restart either
  rec.take(1);
  crash(rec.pid["t"], exit_reason::normal());
  REQUIRE(ids_of(otpp::which_children(sup)) == strings{"t", "a"});
  otpp::stop(sup, exit_reason::shutdown());
}

TEST_CASE("restarts older than the period are forgotten", "[behaviour][supervisor]") {
  const unsigned n = GENERATE(1u, 3u);
  OTPP_TEST_RUNTIME({.schedulers = n});
  report_guard g(quiet());
  otpp::pid me = tp::self();
  recorder rec;
  auto spec = spec_of(otpp::one_for_one, {probe("a", me)}, 1);
  spec.period = 100ms;
  auto sup = otpp::start(rt, spec);
  rec.take(1);
  otpp::ref m = otpp::monitor(sup);
  for (int i = 0; i < 3; ++i) {
    crash(rec.pid["a"]);
    REQUIRE(rec.take(1) == strings{"start a"});
    tp::sleep_for(150ms); // more than the period: that restart no longer counts
  }
  REQUIRE_FALSE(tp::receive_for<otpp::down>(0ms).has_value());
  REQUIRE(info_of(sup, "a").restarts == 3);
  otpp::stop(sup, exit_reason::shutdown());
  REQUIRE(otpp_test::down_reason(m) == exit_reason::shutdown());
}

// ---------------------------------------------------------------------------
// Restart backoff (an extension: off by default)
// ---------------------------------------------------------------------------

TEST_CASE("with a backoff a restart comes no earlier than its delay, which grows per "
          "consecutive restart",
          "[behaviour][supervisor]") {
  const unsigned n = GENERATE(1u, 3u);
  OTPP_TEST_RUNTIME({.schedulers = n});
  report_guard g(quiet());
  otpp::pid me = tp::self();
  recorder rec;
  auto spec = spec_of(otpp::one_for_one, {probe("a", me)});
  spec.backoff = {.initial = 20ms, .max = 1s, .factor = 2.0};
  auto sup = otpp::start(rt, spec);
  rec.take(1);
  for (auto least : {20ms, 40ms, 80ms}) {
    auto t0 = std::chrono::steady_clock::now();
    otpp::send(rec.pid["a"], die{exit_reason::user("crash")});
    REQUIRE(rec.take(1) == strings{"start a"});
    CHECK(std::chrono::steady_clock::now() - t0 >= least);
  }
  otpp::stop(sup, exit_reason::shutdown());
}

TEST_CASE("during a backoff delay the child is restarting, and terminate_child cancels the "
          "restart",
          "[behaviour][supervisor]") {
  const unsigned n = GENERATE(1u, 3u);
  OTPP_TEST_RUNTIME({.schedulers = n});
  report_guard g(quiet());
  otpp::pid me = tp::self();
  recorder rec;
  auto spec = spec_of(otpp::one_for_one, {probe("a", me)});
  spec.backoff = {.initial = 10s, .max = 10s, .factor = 2.0};
  auto sup = otpp::start(rt, spec);
  rec.take(1);
  crash(rec.pid["a"]);
  auto a = info_of(sup, "a");
  REQUIRE(a.state == otpp::child_info::status::restarting);
  REQUIRE_FALSE(a.pid);
  REQUIRE(otpp::restart_child(sup, "a").error() == exit_reason::user("restarting"));
  REQUIRE(otpp::delete_child(sup, "a").error() == exit_reason::user("restarting"));
  REQUIRE(otpp::terminate_child(sup, "a").ok());
  REQUIRE(info_of(sup, "a").state == otpp::child_info::status::stopped);
  REQUIRE(otpp::restart_child(sup, "a").ok());
  REQUIRE(rec.take(1) == strings{"start a"});
  otpp::stop(sup, exit_reason::shutdown());
}

// ---------------------------------------------------------------------------
// auto_shutdown and significant children
// ---------------------------------------------------------------------------

TEST_CASE("auto_shutdown never: a significant child is a bad_combination, and a transient "
          "child that is not significant ends without shutting the supervisor down",
          "[behaviour][supervisor]") {
  const unsigned n = GENERATE(1u, 3u);
  OTPP_TEST_RUNTIME({.schedulers = n});
  report_guard g(quiet());
  otpp::pid me = tp::self();
  CHECK_THROWS_WITH(
      otpp::start(rt, spec_of(otpp::one_for_one,
                              {probe("a", me),
                               probe("s", me, {.restart = otpp::transient, .significant = true})})),
      Catch::Contains("bad_combination"));
  REQUIRE(otpp_test::nothing<ev>()); // no child started
  recorder rec;
  auto sup =
      otpp::start(rt, spec_of(otpp::one_for_one,
                              {probe("a", me), probe("t", me, {.restart = otpp::transient})}));
  rec.take(2);
  crash(rec.pid["t"], exit_reason::normal());
  REQUIRE(otpp_test::nothing<ev>());
  REQUIRE(info_of(sup, "t").state == otpp::child_info::status::stopped);
  REQUIRE(info_of(sup, "a").pid == rec.pid["a"]);
  otpp::stop(sup, exit_reason::shutdown());
}

TEST_CASE("auto_shutdown any_significant: the first significant child that ends for good shuts "
          "the supervisor down",
          "[behaviour][supervisor]") {
  const unsigned n = GENERATE(1u, 3u);
  const bool temporary = GENERATE(false, true);
  OTPP_TEST_RUNTIME({.schedulers = n});
  report_guard g(quiet());
  otpp::pid me = tp::self();
  recorder rec;
  otpp::child_options sig{.restart = temporary ? otpp::temporary : otpp::transient,
                          .significant = true};
  auto spec = spec_of(otpp::one_for_one, {probe("a", me), probe("s1", me, sig),
                                          probe("s2", me, sig), probe("s3", me, sig)});
  spec.auto_shutdown = otpp::auto_shutdown_mode::any_significant;
  auto sup = otpp::start(rt, spec);
  rec.take(4);
  otpp::ref m = otpp::monitor(sup);

  // Stopped by the supervisor itself: no automatic shutdown.
  REQUIRE(otpp::terminate_child(sup, "s3").ok());
  rec.take(1);
  if (!temporary) { // an abnormal exit of a transient child: restarted, no shutdown
    crash(rec.pid["s1"], exit_reason::user("boom"));
    REQUIRE(rec.take(1) == strings{"start s1"});
  }
  REQUIRE_FALSE(tp::receive_for<otpp::down>(0ms).has_value());
  crash(rec.pid["s1"], temporary ? exit_reason::user("boom") : exit_reason::normal());
  REQUIRE(otpp_test::down_reason(m) == exit_reason::shutdown());
  REQUIRE(rec.take(2) == strings{"stop s2", "stop a"});
}

TEST_CASE("auto_shutdown all_significant: the supervisor shuts down once the last significant "
          "child has ended",
          "[behaviour][supervisor]") {
  const unsigned n = GENERATE(1u, 3u);
  OTPP_TEST_RUNTIME({.schedulers = n});
  report_guard g(quiet());
  otpp::pid me = tp::self();
  recorder rec;
  otpp::child_options sig{.restart = otpp::transient, .significant = true};
  auto spec =
      spec_of(otpp::one_for_one, {probe("a", me), probe("s1", me, sig), probe("s2", me, sig)});
  spec.auto_shutdown = otpp::auto_shutdown_mode::all_significant;
  auto sup = otpp::start(rt, spec);
  rec.take(3);
  otpp::ref m = otpp::monitor(sup);
  crash(rec.pid["s1"], exit_reason::normal());
  REQUIRE(otpp_test::nothing<ev>());
  REQUIRE(info_of(sup, "a").pid == rec.pid["a"]); // still running
  crash(rec.pid["s2"], exit_reason::shutdown());
  REQUIRE(otpp_test::down_reason(m) == exit_reason::shutdown());
  REQUIRE(rec.take(1) == strings{"stop a"});
}

// ---------------------------------------------------------------------------
// Nested supervisors
// ---------------------------------------------------------------------------

TEST_CASE("an inner supervisor that exceeds its intensity exits with shutdown and its parent "
          "restarts it",
          "[behaviour][supervisor]") {
  const unsigned n = GENERATE(1u, 3u);
  OTPP_TEST_RUNTIME({.schedulers = n});
  report_guard g(quiet());
  otpp::pid me = tp::self();
  recorder rec;
  auto inner = spec_of(otpp::one_for_one, {probe("w", me)}, 1);
  auto root = otpp::start(
      rt, spec_of(otpp::one_for_one, {probe("r", me), otpp::supervisor("inner", inner)}, 5));
  REQUIRE(rec.take(2) == strings{"start r", "start w"});
  otpp::pid old_inner = info_of(root, "inner").pid;
  REQUIRE(info_of(root, "inner").type == otpp::child_type::supervisor);
  otpp::ref m = otpp::monitor(old_inner);

  crash(rec.pid["w"]);
  REQUIRE(rec.take(1) == strings{"start w"}); // the inner supervisor restarts it
  crash(rec.pid["w"]);                        // one too many for the inner supervisor
  REQUIRE(otpp_test::down_reason(m) == exit_reason::shutdown());
  REQUIRE(rec.take(1) == strings{"start w"}); // the root restarted the inner supervisor
  REQUIRE(otpp_test::nothing<ev>());
  auto now = info_of(root, "inner");
  REQUIRE(now.pid != old_inner);
  REQUIRE(now.restarts == 1);
  REQUIRE(info_of(now.pid, "w").pid == rec.pid["w"]);
  otpp::stop(root, exit_reason::shutdown());
  REQUIRE(rec.take(2) == strings{"stop w", "stop r"});
  wait_count(rt, 0);
}

TEST_CASE("a parent that exceeds its own intensity when its inner supervisor ends escalates in "
          "turn",
          "[behaviour][supervisor]") {
  const unsigned n = GENERATE(1u, 3u);
  OTPP_TEST_RUNTIME({.schedulers = n});
  report_guard g(quiet());
  otpp::pid me = tp::self();
  recorder rec;
  auto inner = spec_of(otpp::one_for_one, {probe("w", me)}, 0);
  auto root = otpp::start(
      rt, spec_of(otpp::one_for_one,
                  {probe("r1", me), otpp::supervisor("inner", inner), probe("r2", me)}, 0));
  rec.take(3);
  otpp::ref m = otpp::monitor(root);
  crash(rec.pid["w"]);
  REQUIRE(otpp_test::down_reason(m) == exit_reason::shutdown());
  REQUIRE(rec.take(2) == strings{"stop r2", "stop r1"});
  REQUIRE(otpp_test::nothing<ev>());
  wait_count(rt, 0);
}

} // namespace OTPP_TEST_FILE
