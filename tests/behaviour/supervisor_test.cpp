#include <otpp/behaviour/supervisor.hpp>

#include "otpp_test.hpp"
#include "supervisor_probe.hpp"

#include <otpp/core/monitor.hpp>

#include <catch2/catch.hpp>

#include <any>
#include <atomic>
#include <chrono>
#include <map>
#include <memory>
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

using otpp_test::crash;
using otpp_test::die;
using otpp_test::ev;
using otpp_test::has_report;
using otpp_test::ids_of;
using otpp_test::info_of;
using otpp_test::on_shutdown;
using otpp_test::probe;
using otpp_test::quiet;
using otpp_test::recorder;
using otpp_test::release;
using otpp_test::report_guard;
using otpp_test::reports_to;
using otpp_test::spec_of;
using otpp_test::strings;
using otpp_test::wait_count;

struct sup_is {
  otpp::pid sup;
};
struct go {};

} // namespace

// ---------------------------------------------------------------------------
// Start and shutdown order
// ---------------------------------------------------------------------------

TEST_CASE("children start in spec order and stop in reverse order when the supervisor stops",
          "[behaviour][supervisor]") {
  const unsigned n = GENERATE(1u, 3u);
  OTPP_TEST_RUNTIME({.schedulers = n});
  report_guard g(quiet());
  otpp::pid me = tp::self();
  recorder rec;

  auto sup =
      otpp::start(rt, spec_of(otpp::one_for_one, {probe("a", me), probe("b", me), probe("c", me)}));
  REQUIRE(rec.take(3) == std::vector<std::string>{"start a", "start b", "start c"});
  auto kids = otpp::which_children(sup);
  REQUIRE(ids_of(kids) == std::vector<std::string>{"c", "b", "a"});
  REQUIRE(info_of(kids, "a").pid == rec.pid["a"]);

  otpp::stop(sup, exit_reason::shutdown());
  REQUIRE(rec.take(3) == std::vector<std::string>{"stop c", "stop b", "stop a"});
  for (const char* id : {"a", "b", "c"})
    CHECK(rec.reason[id] == exit_reason::shutdown());
  REQUIRE(otpp_test::nothing<ev>());
  wait_count(rt, 0);
}

TEST_CASE("an exit signal from the parent stops the children in reverse order, then the "
          "supervisor with the parent's reason",
          "[behaviour][supervisor]") {
  const unsigned n = GENERATE(1u, 3u);
  OTPP_TEST_RUNTIME({.schedulers = n});
  report_guard g(quiet());
  otpp::pid me = tp::self();
  recorder rec;
  auto spec = spec_of(otpp::one_for_one, {probe("a", me), probe("b", me), probe("c", me)});

  otpp::pid parent = otpp::spawn([me, spec] {
    auto sup = otpp::start_link(spec);
    otpp::send(me, sup_is{sup});
    tp::receive<go>();
    tp::exit(exit_reason::user("parent_gone"));
  });
  otpp::pid sup = expect<sup_is>().sup;
  REQUIRE(rec.take(3) == std::vector<std::string>{"start a", "start b", "start c"});
  otpp::ref m = otpp::monitor(sup);
  otpp::send(parent, go{});
  REQUIRE(otpp_test::down_reason(m) == exit_reason::user("parent_gone"));
  REQUIRE(rec.take(3) == std::vector<std::string>{"stop c", "stop b", "stop a"});
  CHECK(rec.reason["a"] == exit_reason::shutdown());
  wait_count(rt, 0);
}

TEST_CASE("a child that ignores shutdown is killed after its shutdown timeout",
          "[behaviour][supervisor]") {
  const unsigned n = GENERATE(1u, 3u);
  OTPP_TEST_RUNTIME({.schedulers = n});
  otpp::pid me = tp::self();
  report_guard g(reports_to(me));
  recorder rec;

  auto sup = otpp::start(
      rt, spec_of(otpp::one_for_one,
                  {probe("a", me),
                   probe("stubborn", me, {.shutdown = otpp::shutdown_policy::after(50ms)},
                         on_shutdown::ignore)}));
  rec.take(2);
  otpp::ref m = otpp::monitor(rec.pid["stubborn"]);
  auto t0 = std::chrono::steady_clock::now();
  otpp::stop(sup, exit_reason::shutdown());
  CHECK(std::chrono::steady_clock::now() - t0 >= 50ms);
  // It saw the shutdown, ignored it, and was killed; then "a" was stopped.
  REQUIRE(rec.take(2) == std::vector<std::string>{"ignored stubborn", "stop a"});
  REQUIRE(otpp_test::down_reason(m) == exit_reason::killed());
  // OTP reports the child that had to be killed as a shutdown_error.
  REQUIRE(has_report({"shutdown_error", "killed", "stubborn"}));
}

TEST_CASE("brutal_kill kills a child at once, without a shutdown signal",
          "[behaviour][supervisor]") {
  const unsigned n = GENERATE(1u, 3u);
  OTPP_TEST_RUNTIME({.schedulers = n});
  otpp::pid me = tp::self();
  report_guard g(reports_to(me));
  recorder rec;

  auto sup = otpp::start(
      rt, spec_of(otpp::one_for_one,
                  {probe("a", me),
                   probe("b", me, {.shutdown = otpp::shutdown_policy::brutal_kill()})}));
  rec.take(2);
  otpp::ref m = otpp::monitor(rec.pid["b"]);
  otpp::stop(sup, exit_reason::shutdown());
  REQUIRE(otpp_test::down_reason(m) == exit_reason::killed());
  // b never got an exit message it could trap; a did.
  REQUIRE(rec.take(1) == std::vector<std::string>{"stop a"});
  REQUIRE(otpp_test::nothing<ev>());
  REQUIRE_FALSE(has_report({"shutdown_error"})); // killed is what brutal_kill expects
}

TEST_CASE("a child with an infinite shutdown is waited for however long it takes",
          "[behaviour][supervisor]") {
  const unsigned n = GENERATE(1u, 3u);
  OTPP_TEST_RUNTIME({.schedulers = n});
  report_guard g(quiet());
  otpp::pid me = tp::self();
  recorder rec;

  auto sup = otpp::start(
      rt,
      spec_of(otpp::one_for_one,
              {probe("a", me), probe("slow", me, {.shutdown = otpp::shutdown_policy::infinite()},
                                     on_shutdown::hold)}));
  rec.take(2);
  otpp::ref m = otpp::monitor(sup);
  otpp::spawn([sup] { otpp::stop(sup, exit_reason::shutdown()); });
  REQUIRE(rec.take(1) == std::vector<std::string>{"holding slow"});
  REQUIRE_FALSE(tp::receive_for<otpp::down>(100ms).has_value()); // still waiting for it
  REQUIRE(otpp_test::nothing<ev>(0ms));                          // and a is not stopped yet
  otpp::send(rec.pid["slow"], release{});
  REQUIRE(rec.take(2) == std::vector<std::string>{"stop slow", "stop a"});
  REQUIRE(otpp_test::down_reason(m) == exit_reason::shutdown());
}

TEST_CASE("shutdown defaults to 5 s for a worker and infinity for a supervisor",
          "[behaviour][supervisor]") {
  auto w = otpp::worker("w", [] { return otpp::pid(); });
  REQUIRE(w.type == otpp::child_type::worker);
  REQUIRE(w.shutdown() == otpp::shutdown_policy::after(5s));
  REQUIRE(w.options.restart == otpp::permanent);
  auto s = otpp::supervisor("s", otpp::supervisor_spec{});
  REQUIRE(s.type == otpp::child_type::supervisor);
  REQUIRE(s.shutdown() == otpp::shutdown_policy::infinite());
  auto k = otpp::worker("k", [] { return otpp::pid(); },
                        {.shutdown = otpp::shutdown_policy::brutal_kill()});
  REQUIRE(k.shutdown().which() == otpp::shutdown_policy::kind::brutal_kill);
}

// ---------------------------------------------------------------------------
// Start failures
// ---------------------------------------------------------------------------

TEST_CASE("a child that fails to start stops those started before it in reverse order, and "
          "the start fails naming it",
          "[behaviour][supervisor]") {
  const unsigned n = GENERATE(1u, 3u);
  const int how = GENERATE(0, 1, 2);
  OTPP_TEST_RUNTIME({.schedulers = n});
  report_guard g(quiet());
  otpp::pid me = tp::self();
  recorder rec;

  otpp::child_spec gamma;
  std::string why;
  if (how == 0) { // the start function reports an error
    gamma = otpp::worker("gamma", [] {
      return otpp::child_start{{}, false, exit_reason::user("no_gamma")};
    });
    why = "no_gamma";
  } else if (how == 1) { // it throws: the exception becomes the reason
    gamma =
        otpp::worker("gamma", []() -> otpp::pid { throw std::runtime_error("gamma exploded"); });
    why = "gamma exploded";
  } else { // a server whose init stops
    auto def = otpp::server<int>().init(
        []() -> otpp::init_result<int> { return otpp::init_stop(exit_reason::user("bad_init")); });
    gamma = otpp::worker("gamma", [def] { return otpp::try_start_link(def); });
    why = "bad_init";
  }
  auto spec = spec_of(otpp::one_for_one,
                      {probe("alpha", me), probe("beta", me), gamma, probe("delta", me)});
  exit_reason reason;
  try {
    otpp::start(rt, spec);
    FAIL("the start succeeded");
  } catch (const otpp::start_error& e) {
    reason = e.reason();
  }
  REQUIRE(rec.take(4) ==
          std::vector<std::string>{"start alpha", "start beta", "stop beta", "stop alpha"});
  REQUIRE(otpp_test::nothing<ev>()); // delta never started
  CHECK(rec.reason["alpha"] == exit_reason::shutdown());
  // OTP: {shutdown, {failed_to_start_child, Id, Reason}}.
  REQUIRE(reason.which() == exit_reason::kind::shutdown);
  CHECK_THAT(std::string(reason.detail()), Catch::Contains("failed_to_start_child") &&
                                               Catch::Contains("gamma") && Catch::Contains(why));
  wait_count(rt, 0); // the supervisor and every child are gone
}

TEST_CASE("start_link_supervisor in a process reports a failed child start as start_error",
          "[behaviour][supervisor]") {
  const unsigned n = GENERATE(1u, 3u);
  OTPP_TEST_RUNTIME({.schedulers = n});
  report_guard g(quiet());
  auto spec = spec_of(otpp::one_for_one, {otpp::worker("bad", [] {
                        return otpp::child_start{{}, false, exit_reason::user("nope")};
                      })});
  // A trapping parent gets the error (and no exit message stays behind).
  auto r = otpp_test::in_process([spec] {
    tp::trap_exit(true);
    auto res = otpp::try_start_link(spec);
    bool leftover = tp::receive_for<otpp::exit_message>(20ms).has_value();
    return std::make_pair(res.ok() ? std::string("ok") : std::string(res.error().detail()),
                          leftover);
  });
  CHECK_THAT(r.first, Catch::Contains("bad") && Catch::Contains("nope"));
  CHECK_FALSE(r.second);
}

TEST_CASE("an ignored child is not started: kept as stopped, or dropped if temporary",
          "[behaviour][supervisor]") {
  const unsigned n = GENERATE(1u, 3u);
  OTPP_TEST_RUNTIME({.schedulers = n});
  report_guard g(quiet());
  otpp::pid me = tp::self();
  recorder rec;
  auto ignoring =
      otpp::server<int>().init([]() -> otpp::init_result<int> { return otpp::init_ignore(); });

  auto sup = otpp::start(
      rt, spec_of(otpp::one_for_one,
                  {otpp::worker("kept", [ignoring] { return otpp::try_start_link(ignoring); }),
                   otpp::worker("dropped",
                                [] {
                                  return otpp::child_start{{}, true, {}};
                                },
                                {.restart = otpp::temporary}),
                   probe("a", me)}));
  rec.take(1);
  auto kids = otpp::which_children(sup);
  REQUIRE(ids_of(kids) == std::vector<std::string>{"a", "kept"});
  REQUIRE(info_of(kids, "kept").state == otpp::child_info::status::stopped);
  REQUIRE_FALSE(info_of(kids, "kept").pid);
  otpp::stop(sup, exit_reason::shutdown());
}

// ---------------------------------------------------------------------------
// Validation
// ---------------------------------------------------------------------------

TEST_CASE("invalid specs are rejected with invalid_argument before any child starts",
          "[behaviour][supervisor]") {
  OTPP_TEST_RUNTIME({.schedulers = 1});
  auto ran = std::make_shared<std::atomic<int>>(0);
  auto ok = [ran](std::string id, otpp::child_options o = {}) {
    return otpp::worker(
        std::move(id),
        [ran] {
          ++*ran;
          return otpp::spawn_link([] { otpp_test::wait_forever(); });
        },
        o);
  };
  auto templ = otpp::worker("t", [ran](int) {
    ++*ran;
    return otpp::pid();
  });
  otpp::child_spec no_start;
  no_start.id = "nostart";

  struct bad {
    otpp::supervisor_spec spec;
    const char* says;
  };
  std::vector<bad> cases{
      {spec_of(otpp::one_for_one, {ok("a"), ok("b"), ok("a")}), "duplicate child id 'a'"},
      {spec_of(otpp::one_for_one, {ok("a"), ok("")}), "empty id"},
      {spec_of(otpp::one_for_one, {ok("a"), ok("s", {.significant = true})}), "significant"},
      {spec_of(otpp::one_for_one,
               {ok("a"), ok("t", {.restart = otpp::transient, .significant = true})}),
       "bad_combination: child 't' is significant but auto_shutdown is never"},
      {otpp::supervisor_spec{.strategy = otpp::simple_one_for_one,
                             .children = {templ},
                             .auto_shutdown = otpp::auto_shutdown_mode::any_significant},
       "bad_combination: simple_one_for_one"},
      {spec_of(otpp::one_for_one, {ok("a"), templ}), "start arguments"},
      {spec_of(otpp::one_for_one, {ok("a"), no_start}), "no start function"},
      {spec_of(otpp::one_for_one,
               {ok("a"), ok("n", {.shutdown = otpp::shutdown_policy::after(-1ms)})}),
       "negative shutdown"},
      {spec_of(otpp::simple_one_for_one, {templ, ok("a")}), "exactly one"},
      {spec_of(otpp::simple_one_for_one, {}), "exactly one"},
      {otpp::supervisor_spec{.intensity = -1, .children = {ok("a")}}, "intensity"},
      {otpp::supervisor_spec{.period = 0s, .children = {ok("a")}}, "period"},
      {otpp::supervisor_spec{.children = {ok("a")},
                             .backoff = {.initial = 10ms, .max = 1s, .factor = 0.5}},
       "backoff"},
      {otpp::supervisor_spec{.children = {ok("a")},
                             .backoff = {.initial = 10ms, .max = 1ms, .factor = 2}},
       "backoff"},
  };
  for (auto& c : cases) {
    INFO(c.says);
    try {
      otpp::start(rt, c.spec);
      FAIL("accepted");
    } catch (const std::invalid_argument& e) {
      CHECK_THAT(e.what(), Catch::Contains(c.says));
    }
  }
  REQUIRE(*ran == 0);
  REQUIRE(rt.process_count() == 0);

  // check_childspecs says the same, and nothing for good specs.
  CHECK(
      otpp::check_childspecs({ok("a"), ok("b", {.restart = otpp::transient, .significant = true})})
          .empty());
  CHECK(otpp::check_childspecs({templ}, otpp::simple_one_for_one).empty());
  CHECK_THAT(otpp::check_childspecs({ok("x"), ok("x")}), Catch::Contains("duplicate child id 'x'"));
  CHECK_THAT(otpp::check_childspecs({ok("")}), Catch::Contains("empty id"));
  CHECK_THAT(otpp::check_childspecs({ok("p", {.significant = true})}),
             Catch::Contains("significant and permanent"));
  CHECK_THAT(otpp::check_childspecs({templ}), Catch::Contains("start arguments"));
  REQUIRE(*ran == 0);
}

// ---------------------------------------------------------------------------
// Dynamic API
// ---------------------------------------------------------------------------

TEST_CASE("start_child starts a child, or fails with already_started, already_present, the "
          "start's reason or an invalid spec",
          "[behaviour][supervisor]") {
  const unsigned n = GENERATE(1u, 3u);
  OTPP_TEST_RUNTIME({.schedulers = n});
  report_guard g(quiet());
  otpp::pid me = tp::self();
  recorder rec;
  auto sup = otpp::start(rt, spec_of(otpp::one_for_one, {probe("a", me)}));
  rec.take(1);

  auto b = otpp::start_child(sup, probe("b", me));
  REQUIRE(b.ok());
  REQUIRE(rec.take(1) == std::vector<std::string>{"start b"});
  REQUIRE(b.value() == rec.pid["b"]);
  REQUIRE(ids_of(otpp::which_children(sup)) == std::vector<std::string>{"b", "a"});

  // The id is running: {error, {already_started, Pid}}.
  auto again = otpp::start_child(sup, probe("b", me));
  REQUIRE_FALSE(again.ok());
  REQUIRE(again.error() == exit_reason::user("already_started"));
  REQUIRE(std::any_cast<otpp::pid>(again.error().payload()) == rec.pid["b"]);
  REQUIRE(otpp_test::nothing<ev>()); // its start function did not run

  // The id exists, stopped: already_present.
  REQUIRE(otpp::terminate_child(sup, "b").ok());
  REQUIRE(rec.take(1) == std::vector<std::string>{"stop b"});
  auto present = otpp::start_child(sup, probe("b", me));
  REQUIRE_FALSE(present.ok());
  REQUIRE(present.error() == exit_reason::user("already_present"));

  // A failed start: its reason, and the spec is not kept.
  auto failed = otpp::start_child(sup, otpp::worker("c", [] {
                                    return otpp::child_start{{}, false, exit_reason::user("no_c")};
                                  }));
  REQUIRE_FALSE(failed.ok());
  REQUIRE(failed.error() == exit_reason::user("no_c"));
  auto thrown = otpp::start_child(
      sup, otpp::worker("d", []() -> otpp::pid { throw std::runtime_error("d exploded"); }));
  REQUIRE(thrown.error().which() == exit_reason::kind::exception);
  REQUIRE(thrown.error().detail() == "d exploded");
  REQUIRE(ids_of(otpp::which_children(sup)) == std::vector<std::string>{"b", "a"});

  // An invalid spec: an error, and its start function never runs.
  auto invalid = otpp::start_child(sup, probe("e", me, {.significant = true}));
  REQUIRE_FALSE(invalid.ok());
  CHECK_THAT(std::string(invalid.error().detail()), Catch::Contains("significant"));
  // Significant under auto_shutdown never: OTP's bad_combination.
  auto combo =
      otpp::start_child(sup, probe("f", me, {.restart = otpp::transient, .significant = true}));
  REQUIRE_FALSE(combo.ok());
  CHECK(otpp::supervisor_error_of(combo.error()) == otpp::supervisor_errc::bad_child_spec);
  CHECK_THAT(std::string(combo.error().detail()), Catch::Contains("bad_combination"));
  auto empty = otpp::start_child(sup, probe("", me));
  CHECK_THAT(std::string(empty.error().detail()), Catch::Contains("empty id"));
  REQUIRE(otpp_test::nothing<ev>());
  REQUIRE(ids_of(otpp::which_children(sup)) == std::vector<std::string>{"b", "a"});
  otpp::stop(sup, exit_reason::shutdown());
}

TEST_CASE("terminate_child, restart_child and delete_child follow OTP, errors included",
          "[behaviour][supervisor]") {
  const unsigned n = GENERATE(1u, 3u);
  OTPP_TEST_RUNTIME({.schedulers = n});
  report_guard g(quiet());
  otpp::pid me = tp::self();
  recorder rec;
  auto sup =
      otpp::start(rt, spec_of(otpp::one_for_one, {probe("a", me), probe("b", me),
                                                  probe("t", me, {.restart = otpp::temporary})}));
  rec.take(3);
  auto user = [](const char* s) { return exit_reason::user(s); };

  REQUIRE(otpp::terminate_child(sup, "nope").error() == user("not_found"));
  REQUIRE(otpp::restart_child(sup, "nope").error() == user("not_found"));
  REQUIRE(otpp::delete_child(sup, "nope").error() == user("not_found"));
  REQUIRE(otpp::restart_child(sup, "a").error() == user("running"));
  REQUIRE(otpp::delete_child(sup, "a").error() == user("running"));

  otpp::pid old_a = rec.pid["a"];
  REQUIRE(otpp::terminate_child(sup, "a").ok());
  REQUIRE(rec.take(1) == std::vector<std::string>{"stop a"});
  REQUIRE(rec.reason["a"] == exit_reason::shutdown());
  auto a_info = info_of(otpp::which_children(sup), "a");
  REQUIRE(a_info.state == otpp::child_info::status::stopped);
  REQUIRE_FALSE(a_info.pid);
  REQUIRE(otpp::terminate_child(sup, "a").ok()); // already stopped: still ok
  REQUIRE(otpp_test::nothing<ev>());

  auto re = otpp::restart_child(sup, "a");
  REQUIRE(re.ok());
  REQUIRE(rec.take(1) == std::vector<std::string>{"start a"});
  REQUIRE(re.value() == rec.pid["a"]);
  REQUIRE(re.value() != old_a);
  // It keeps its place: which_children is still most recently added first.
  REQUIRE(ids_of(otpp::which_children(sup)) == std::vector<std::string>{"t", "b", "a"});

  REQUIRE(otpp::terminate_child(sup, "b").ok());
  rec.take(1);
  REQUIRE(otpp::delete_child(sup, "b").ok());
  REQUIRE(ids_of(otpp::which_children(sup)) == std::vector<std::string>{"t", "a"});
  REQUIRE(otpp::restart_child(sup, "b").error() == user("not_found"));
  REQUIRE(otpp::delete_child(sup, "b").error() == user("not_found"));
  // The id is free again.
  REQUIRE(otpp::start_child(sup, probe("b", me)).ok());
  rec.take(1);

  // A temporary child is forgotten once terminated.
  REQUIRE(otpp::terminate_child(sup, "t").ok());
  REQUIRE(rec.take(1) == std::vector<std::string>{"stop t"});
  REQUIRE(ids_of(otpp::which_children(sup)) == std::vector<std::string>{"b", "a"});
  REQUIRE(otpp::restart_child(sup, "t").error() == user("not_found"));

  otpp::stop(sup, exit_reason::shutdown());
  REQUIRE(rec.take(2) == std::vector<std::string>{"stop b", "stop a"});
}

TEST_CASE("simple_one_for_one: start_child(sup, args...) and terminate_child by pid",
          "[behaviour][supervisor]") {
  const unsigned n = GENERATE(1u, 3u);
  OTPP_TEST_RUNTIME({.schedulers = n});
  report_guard g(quiet());
  otpp::pid me = tp::self();
  recorder rec;
  auto templ = otpp::worker("w", [me](int k, std::string tag) {
    return probe(tag + std::to_string(k), me).start(nullptr).pid;
  });
  auto sup = otpp::start(rt, spec_of(otpp::simple_one_for_one, {templ}));
  auto user = [](const char* s) { return exit_reason::user(s); };
  REQUIRE(otpp::which_children(sup).empty());

  auto c1 = otpp::start_child(sup, 1, std::string("w"));
  auto c2 = otpp::start_child(sup, 2, std::string("w"));
  REQUIRE(c1.ok());
  REQUIRE(c2.ok());
  REQUIRE(rec.take(2) == std::vector<std::string>{"start w1", "start w2"});
  REQUIRE(c1.value() == rec.pid["w1"]);
  auto kids = otpp::which_children(sup);
  REQUIRE(kids.size() == 2);
  REQUIRE(kids[0].pid == c2.value()); // most recent first
  REQUIRE(kids[1].pid == c1.value());

  // Wrong argument types: an error naming the template's.
  auto wrong = otpp::start_child(sup, std::string("x"));
  REQUIRE_FALSE(wrong.ok());
  CHECK_THAT(std::string(wrong.error().detail()), Catch::Contains("bad start arguments"));
  // The static API does not apply.
  REQUIRE_FALSE(otpp::start_child(sup, probe("s", me)).ok());
  REQUIRE_FALSE(otpp::restart_child(sup, "w").ok());
  REQUIRE_FALSE(otpp::delete_child(sup, "w").ok());
  // OTP: by id is {error, simple_one_for_one}.
  REQUIRE(otpp::terminate_child(sup, "w").error() == user("simple_one_for_one"));
  REQUIRE(otpp_test::nothing<ev>());

  REQUIRE(otpp::terminate_child(sup, c1.value()).ok());
  REQUIRE(rec.take(1) == std::vector<std::string>{"stop w1"});
  // OTP: a pid that has ended is ok; a live process that is no child is not_found.
  REQUIRE(otpp::terminate_child(sup, c1.value()).ok());
  REQUIRE(otpp::terminate_child(sup, me).error() == user("not_found"));
  REQUIRE(otpp::which_children(sup).size() == 1);

  // start_child(sup, args...) needs a simple_one_for_one supervisor.
  auto other = otpp::start(rt, spec_of(otpp::one_for_one, {}));
  REQUIRE_FALSE(otpp::start_child(other, 3, std::string("w")).ok());
  otpp::stop(other, exit_reason::shutdown());

  otpp::stop(sup, exit_reason::shutdown());
  REQUIRE(rec.take(1) == std::vector<std::string>{"stop w2"});
  wait_count(rt, 0);
}

} // namespace OTPP_TEST_FILE
