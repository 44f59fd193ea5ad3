// Behaviour events seen by a tracer (trace_flags::behaviour): a
// supervisor's restarts and a state machine's changes of state.
// Distributed under the Boost Software License, Version 1.0.
#include <otpp/behaviour/statem.hpp>
#include <otpp/behaviour/supervisor.hpp>

#include "otpp_test.hpp"

#include <otpp/behaviour/call.hpp>
#include <otpp/core/trace.hpp>

#include <catch2/catch.hpp>

#include <chrono>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace OTPP_TEST_FILE {

using namespace std::chrono_literals;
namespace tp = otpp::this_process;
namespace sm = otpp::sm;
using otpp::exit_reason;
using otpp::trace_flags;
using otpp::trace_kind;
using otpp::trace_record;

namespace {

// Sends each behaviour event to the test process.
std::shared_ptr<otpp::tracer> behaviour_events_to(otpp::pid test) {
  return otpp::make_tracer([test](const otpp::trace_event& ev) {
    if (otpp::flag_of(ev.kind) == trace_flags::behaviour)
      otpp::send(test, trace_record::from(ev));
  });
}

// The pid of the supervisor's child `id`.
template <class S> otpp::pid child_pid(const S& sup, const std::string& id) {
  for (const auto& c : otpp::which_children(sup))
    if (c.id == id)
      return c.pid;
  return {};
}

struct off_state {};
struct on_state {};
struct flip {};
struct flipped {};

struct stay {};

auto switch_machine() {
  return otpp::statem<otpp::pid, off_state, on_state>()
      .on<off_state>([](off_state&, otpp::pid&, flip) { return sm::next_state(on_state{}); })
      .on<on_state>([](on_state&, otpp::pid& observer, flip) {
        otpp::send(observer, flipped{});
        return sm::next_state(off_state{});
      })
      .on<on_state>([](on_state&, otpp::pid&, stay) { return sm::keep_state(); })
      .named("switch");
}

} // namespace

TEST_CASE("a traced supervisor reports each restart with the child's id, its new pid and why it "
          "ended",
          "[behaviour][supervisor][trace]") {
  const unsigned n = GENERATE(1u, 2u);
  OTPP_TEST_RUNTIME({.schedulers = n});
  otpp_test::report_guard g(otpp_test::quiet());
  rt.set_tracer(behaviour_events_to(tp::self()));
  auto sup = otpp::start(otpp::supervisor_spec{
      .strategy = otpp::one_for_all,
      .intensity = 10,
      .children = {otpp::worker("a", [] { return otpp::spawn_link(otpp_test::wait_forever); }),
                   otpp::worker("b", [] { return otpp::spawn_link(otpp_test::wait_forever); })},
      .name = "traced_sup"});
  otpp::trace_process(sup.pid(), trace_flags::behaviour);
  const otpp::pid b_before = child_pid(sup, "b");
  otpp::exit(b_before, exit_reason::user("b failed"));

  // one_for_all: both restart, in start order; b ended of its reason, a
  // was stopped by the supervisor.
  auto first = otpp_test::expect<trace_record>();
  auto second = otpp_test::expect<trace_record>();
  CHECK(first.kind == trace_kind::restart);
  CHECK(first.subject == sup.pid());
  CHECK(first.what == "a");
  CHECK(first.other == child_pid(sup, "a"));
  REQUIRE(first.reason.has_value());
  CHECK(*first.reason == exit_reason::shutdown());
  CHECK(second.what == "b");
  CHECK(second.other == child_pid(sup, "b"));
  CHECK(second.other != b_before);
  REQUIRE(second.reason.has_value());
  CHECK(*second.reason == exit_reason::user("b failed"));

  // Not traced any more: a restart is silent.
  otpp::trace_process(sup.pid(), trace_flags::behaviour, false);
  otpp::kill(child_pid(sup, "a"));
  CHECK(otpp_test::nothing<trace_record>(100ms));
  rt.set_tracer(nullptr);
  otpp::stop(sup);
}

TEST_CASE("a traced state machine reports each change of state with both states' names, not "
          "the events that keep it",
          "[behaviour][statem][trace]") {
  const unsigned n = GENERATE(1u, 2u);
  OTPP_TEST_RUNTIME({.schedulers = n});
  rt.set_tracer(behaviour_events_to(tp::self()));
  auto h = otpp::start(switch_machine(), tp::self());
  otpp::trace_process(h.pid(), trace_flags::behaviour);
  otpp::cast(h, flip{});
  otpp::cast(h, stay{}); // keeps the state: no event
  otpp::cast(h, flip{});
  otpp_test::expect<flipped>();

  auto on = otpp_test::expect<trace_record>();
  auto off = otpp_test::expect<trace_record>();
  CHECK(otpp_test::nothing<trace_record>());
  CHECK(on.kind == trace_kind::state_change);
  CHECK(on.subject == h.pid());
  CHECK_THAT(on.what, Catch::EndsWith("on_state"));
  CHECK_THAT(on.detail, Catch::EndsWith("off_state"));
  CHECK_THAT(off.what, Catch::EndsWith("off_state"));
  CHECK_THAT(off.detail, Catch::EndsWith("on_state"));
  rt.set_tracer(nullptr);
  otpp::stop(h);
}

} // namespace OTPP_TEST_FILE
