#include <otpp/core/trace.hpp>

#include <otpp/core/link.hpp>
#include <otpp/core/monitor.hpp>
#include <otpp/core/remote.hpp>
#include <otpp/core/request.hpp>

#include "otpp_test.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <vector>

namespace OTPP_TEST_FILE {

using namespace std::chrono_literals;
namespace tp = otpp::this_process;
using otpp::exit_reason;
using otpp::trace_flags;
using otpp::trace_kind;
using otpp::trace_record;

namespace {
using otpp_test::never;
using otpp_test::ping;
using otpp_test::pong;

struct go {};
struct number {
  int value;
};

// A tracer keeping every event (and the value of every `number` it sees,
// read during the call, as a tracer must).
struct collector final : otpp::tracer {
  void on_event(const otpp::trace_event& ev) override {
    std::lock_guard lock(mutex);
    events.push_back(trace_record::from(ev));
    if (const number* n = ev.message.get_if<number>())
      numbers.push_back(n->value);
    if (const auto* rq = ev.message.get_if<otpp::request<number>>())
      numbers.push_back(rq->value.value);
    if (const auto* rp = ev.message.get_if<otpp::reply<number>>())
      numbers.push_back(rp->value.value);
    if (ev.message.is<ping>() && ev.message.get_if<number>() != nullptr)
      wrong_type = true; // get_if of another type must be null
  }
  std::vector<trace_record> of(trace_kind k, const otpp::pid& subject = {}) {
    std::lock_guard lock(mutex);
    std::vector<trace_record> out;
    for (const auto& r : events)
      if (r.kind == k && (!subject || r.subject == subject))
        out.push_back(r);
    return out;
  }
  std::size_t size() {
    std::lock_guard lock(mutex);
    return events.size();
  }
  std::mutex mutex;
  std::vector<trace_record> events;
  std::vector<int> numbers;
  bool wrong_type = false;
};

// A collector installed on `rt` for its lifetime; `->` reaches it.
using collecting = otpp_test::installed_tracer<collector>;

// An echo process: answers each ping, and each number with the number + 1.
void echo() {
  for (;;)
    tp::receive([](ping& p) { otpp::send(p.from, pong{tp::self()}); },
                [](number& n) { static_cast<void>(n); });
}

// An endpoint that drops what it is given: pids of another node.
class dropping_endpoint final : public otpp::remote_endpoint {
public:
  void deliver(const otpp::pid&, otpp::remote_delivery) noexcept override {}
  std::string node_name() const override { return "far@127.0.0.1"; }
};

} // namespace

TEST_CASE("a pid of another node cannot be traced here, and a send to one is traced at the "
          "sender",
          "[core][trace]") {
  OTPP_TEST_RUNTIME({.schedulers = 1});
  collecting c(rt);
  auto ep = std::make_shared<dropping_endpoint>();
  const otpp::pid far = ep->proxy(1);
  CHECK_THROWS_WITH(otpp::trace_process(far, trace_flags::procs),
                    Catch::Contains("is a process of another node"));
  CHECK(otpp::trace_flags_of(far) == trace_flags::none);
  otpp::pid me = tp::self();
  otpp::trace_process(me, trace_flags::send);
  otpp::send(far, number{7});
  otpp::trace_process(me, trace_flags::send, false);
  auto sends = c->of(trace_kind::send, me);
  REQUIRE(sends.size() == 1);
  CHECK(sends[0].other == far);
  std::lock_guard lock(c->mutex);
  CHECK(c->numbers == std::vector<int>{7});
}

TEST_CASE("a process traced for send and receive reports each message with its type, value and "
          "the other process",
          "[core][trace]") {
  const unsigned n = GENERATE(1u, 2u);
  OTPP_TEST_RUNTIME({.schedulers = n});
  collecting c(rt);

  otpp::pid e = otpp::spawn(echo);
  otpp::pid me = tp::self();
  REQUIRE(otpp::trace_process(me, trace_flags::send | trace_flags::receive));
  CHECK(otpp::trace_flags_of(me) == (trace_flags::send | trace_flags::receive));

  otpp::send(e, number{41});
  otpp::send(e, ping{me});
  otpp_test::expect<pong>();
  otpp::trace_process(me, trace_flags::send | trace_flags::receive, false);
  CHECK(otpp::trace_flags_of(me) == trace_flags::none);
  otpp::send(e, number{99}); // not traced any more

  auto sends = c->of(trace_kind::send, me);
  REQUIRE(sends.size() == 2);
  CHECK(sends[0].other == e);
  CHECK(sends[0].message_type == otpp::type_name<number>());
  CHECK(sends[1].message_type == otpp::type_name<ping>());
  auto receives = c->of(trace_kind::receive, me);
  REQUIRE(receives.size() == 1);
  CHECK(receives[0].message_type == otpp::type_name<pong>());
  CHECK(receives[0].subject == me);
  CHECK(receives[0].at >= sends[1].at);
  std::lock_guard lock(c->mutex);
  CHECK(c->numbers == std::vector<int>{41});
  CHECK_FALSE(c->wrong_type);
  // The echo process is not traced: none of its events are there.
  CHECK(std::none_of(c->events.begin(), c->events.end(),
                     [&](const trace_record& r) { return r.subject == e; }));
  otpp::kill(e);
}

TEST_CASE("procs tracing reports spawn, link, getting_linked, unlink, names and exit with its "
          "reason",
          "[core][trace]") {
  const unsigned n = GENERATE(1u, 2u);
  OTPP_TEST_RUNTIME({.schedulers = n});
  collecting c(rt);
  otpp::pid me = tp::self();
  otpp::trace_process(me, trace_flags::procs);

  tp::trap_exit(true);
  otpp::pid child = otpp::spawn_link([] {
    tp::receive<go>();
    tp::exit(exit_reason::user("boom"));
  });
  otpp::pid other = otpp::spawn([] { tp::receive<never>(); });
  otpp::trace_process(other, trace_flags::procs);
  rt.register_name("trace_test_a", other);
  rt.unregister_name("trace_test_a");
  rt.register_name("trace_test_b", other); // given up when it ends
  otpp::link(other);
  otpp::unlink(other);
  otpp::send(child, go{});
  auto ex = otpp_test::expect<otpp::exit_message>();
  CHECK(ex.reason == exit_reason::user("boom"));

  auto spawns = c->of(trace_kind::spawn, me);
  REQUIRE(spawns.size() == 2);
  CHECK(spawns[0].other == child);
  CHECK(spawns[1].other == other);
  auto links = c->of(trace_kind::link, me);
  REQUIRE(links.size() == 2); // spawn_link and link
  CHECK(links[0].other == child);
  CHECK(links[1].other == other);
  auto unlinks = c->of(trace_kind::unlink, me);
  REQUIRE(unlinks.size() == 1);
  CHECK(unlinks[0].other == other);
  // The child is not traced (no set_on_spawn): its exit is not reported.
  CHECK(c->of(trace_kind::exit).empty());

  // `other` is traced: it is told of the link and the unlink, and its exit.
  otpp::ref m = otpp::monitor(other);
  otpp::exit(other, exit_reason::user("stop"));
  CHECK(otpp_test::down_reason(m) == exit_reason::user("stop"));
  CHECK(c->of(trace_kind::getting_linked, other).size() == 1);
  CHECK(c->of(trace_kind::getting_unlinked, other).size() == 1);
  auto registers = c->of(trace_kind::register_name, other);
  REQUIRE(registers.size() == 2);
  CHECK(registers[0].what == "trace_test_a");
  CHECK(registers[1].what == "trace_test_b");
  auto unregisters = c->of(trace_kind::unregister_name, other);
  REQUIRE(unregisters.size() == 2);
  CHECK(unregisters[0].what == "trace_test_a");
  CHECK(unregisters[1].what == "trace_test_b");
  CHECK(fmt::format("{}", unregisters[1]) == fmt::format("{} unregister trace_test_b", other));
  auto exits = c->of(trace_kind::exit, other);
  REQUIRE(exits.size() == 1);
  REQUIRE(exits[0].reason.has_value());
  CHECK(*exits[0].reason == exit_reason::user("stop"));
  CHECK(exits[0].scheduler >= 0);
  CHECK(exits[0].scheduler < static_cast<int>(n));
  CHECK_FALSE(otpp::trace_process(other, trace_flags::procs)); // it has ended
  CHECK_FALSE(otpp::trace_process(otpp::pid{}, trace_flags::procs));
}

TEST_CASE("monitors tracing reports monitor, the down with its reason, and demonitor",
          "[core][trace]") {
  OTPP_TEST_RUNTIME({.schedulers = 2});
  otpp_test::report_guard quiet(otpp_test::quiet()); // a crashes on purpose
  collecting c(rt);
  otpp::pid me = tp::self();
  otpp::trace_process(me, trace_flags::monitors);

  otpp::pid a = otpp::spawn([] {
    tp::receive<go>();
    throw std::out_of_range("index 9");
  });
  otpp::pid b = otpp::spawn([] { tp::receive<never>(); });
  otpp::ref ma = otpp::monitor(a);
  otpp::ref mb = otpp::monitor(b);
  CHECK(otpp::demonitor(mb));
  otpp::send(a, go{});
  exit_reason r = otpp_test::down_reason(ma);
  CHECK(fmt::format("{}", r).find("out_of_range") != std::string::npos);

  auto monitors = c->of(trace_kind::monitor, me);
  REQUIRE(monitors.size() == 2);
  CHECK(monitors[0].other == a);
  CHECK(monitors[0].ref == ma.value());
  CHECK(monitors[1].other == b);
  auto demonitors = c->of(trace_kind::demonitor, me);
  REQUIRE(demonitors.size() == 1);
  CHECK(demonitors[0].ref == mb.value());
  CHECK(demonitors[0].other == b);
  auto downs = c->of(trace_kind::down, me);
  REQUIRE(downs.size() == 1);
  CHECK(downs[0].other == a);
  CHECK(downs[0].ref == ma.value());
  REQUIRE(downs[0].reason.has_value());
  CHECK(*downs[0].reason == r);
  otpp::kill(b);
}

TEST_CASE("calls tracing reports a request with its tag at the caller and the reply with the "
          "same tag at the server",
          "[core][trace]") {
  const unsigned n = GENERATE(1u, 2u);
  OTPP_TEST_RUNTIME({.schedulers = n});
  collecting c(rt);
  otpp::pid server = otpp::spawn([] {
    for (;;) {
      auto req = tp::receive<otpp::request<number>>();
      otpp::send_reply(req.from, number{req.value.value * 2});
    }
  });
  otpp::trace_process(server, trace_flags::calls);
  otpp::pid me = tp::self();
  otpp::trace_process(me, trace_flags::calls);
  otpp::ref tag = otpp::send_request(server, number{21});
  auto rep = otpp_test::expect<otpp::reply<number>>();
  CHECK(rep.value.value == 42);

  auto calls = c->of(trace_kind::call, me);
  REQUIRE(calls.size() == 1);
  CHECK(calls[0].other == server);
  CHECK(calls[0].ref == tag.value());
  CHECK(calls[0].message_type == otpp::type_name<otpp::request<number>>());
  auto replies = c->of(trace_kind::reply, server);
  REQUIRE(replies.size() == 1);
  CHECK(replies[0].other == me);
  CHECK(replies[0].ref == tag.value());
  CHECK(replies[0].message_type == otpp::type_name<otpp::reply<number>>());
  // calls alone: no send or receive events.
  CHECK(c->of(trace_kind::send).empty());
  CHECK(c->of(trace_kind::receive).empty());
  std::lock_guard lock(c->mutex);
  CHECK(c->numbers == std::vector<int>{21, 42});
  otpp::kill(server);
}

TEST_CASE("set_on_spawn passes a process's flags to the processes it spawns, and "
          "trace_new_processes and trace_all choose those of the others",
          "[core][trace]") {
  OTPP_TEST_RUNTIME({.schedulers = 2});
  collecting c(rt);
  otpp::pid me = tp::self();

  SECTION("set_on_spawn") {
    otpp::trace_process(me, trace_flags::procs | trace_flags::set_on_spawn);
    otpp::pid grandchild;
    otpp::pid child = otpp::spawn([me] {
      otpp::pid g = otpp::spawn([] {});
      otpp::send(me, g);
    });
    grandchild = otpp_test::expect<otpp::pid>();
    CHECK(otpp::trace_flags_of(child) == (trace_flags::procs | trace_flags::set_on_spawn));
    otpp_test::wait_exit(grandchild);
    otpp_test::wait_exit(child);
    auto spawns = c->of(trace_kind::spawn, child);
    REQUIRE(spawns.size() == 1);
    CHECK(spawns[0].other == grandchild);
    CHECK(c->of(trace_kind::exit, grandchild).size() == 1);
    CHECK(c->of(trace_kind::exit, child).size() == 1);
  }
  SECTION("without set_on_spawn, children are not traced") {
    otpp::trace_process(me, trace_flags::procs);
    otpp::pid child = otpp::spawn([] {});
    otpp_test::wait_exit(child);
    CHECK(otpp::trace_flags_of(child) == trace_flags::none);
    CHECK(c->of(trace_kind::exit).empty());
  }
  SECTION("trace_new_processes") {
    rt.trace_new_processes(trace_flags::procs);
    CHECK(rt.new_process_trace_flags() == trace_flags::procs);
    otpp::pid child = otpp::spawn([] {});
    otpp_test::wait_exit(child);
    rt.trace_new_processes(trace_flags::none);
    otpp::pid untraced = otpp::spawn([] {});
    otpp_test::wait_exit(untraced);
    CHECK(c->of(trace_kind::exit, child).size() == 1);
    CHECK(c->of(trace_kind::exit, untraced).empty());
  }
  SECTION("trace_all") {
    otpp::pid a = otpp::spawn([] { tp::receive<never>(); });
    otpp::pid b = otpp::spawn([] { tp::receive<never>(); });
    CHECK(rt.trace_all(trace_flags::procs) == 2);
    CHECK(otpp::trace_flags_of(a) == trace_flags::procs);
    otpp::pid later = otpp::spawn([] {});
    otpp_test::wait_exit(later);
    otpp::kill(a);
    otpp_test::wait_exit(a);
    // b, and a if it is not yet out of its scheduler's list.
    const std::size_t changed = rt.trace_all(trace_flags::procs, false);
    CHECK(changed >= 1);
    CHECK(changed <= 2);
    CHECK(otpp::trace_flags_of(b) == trace_flags::none);
    otpp::kill(b);
    otpp_test::wait_exit(b);
    CHECK(c->of(trace_kind::exit, a).size() == 1);
    CHECK(c->of(trace_kind::exit, later).size() == 1);
    CHECK(c->of(trace_kind::exit, b).empty());
  }
}

TEST_CASE("trace_to sends each event to a tracer process as a trace_record, never its own",
          "[core][trace]") {
  OTPP_TEST_RUNTIME({.schedulers = 2});
  otpp::pid me = tp::self();
  otpp::pid collector_pid = otpp::spawn([me] {
    std::vector<trace_record> got;
    tp::receive([&](go&) {}); // start
    for (;;) {
      bool done = false;
      tp::receive([&](trace_record& r) { got.push_back(std::move(r)); },
                  [&](ping&) { done = true; });
      if (done)
        break;
    }
    otpp::send(me, std::move(got));
  });
  rt.set_tracer(otpp::trace_to(collector_pid));
  // Every process is traced, the tracer process too: its own events (the
  // records it receives) must not feed it.
  rt.trace_all(trace_flags::all);
  otpp::trace_process(me, trace_flags::send); // trace_all leaves scoped processes out
  otpp::send(collector_pid, go{});
  otpp::pid w = otpp::spawn([] {
    tp::receive<go>();
    tp::exit(exit_reason::user("w done"));
  });
  otpp::send(w, go{});
  otpp_test::wait_exit(w);
  rt.trace_all(trace_flags::all, false);
  otpp::trace_process(me, trace_flags::send, false);
  rt.set_tracer(nullptr);
  otpp::send(collector_pid, ping{me});
  auto got = otpp_test::expect<std::vector<trace_record>>();
  CHECK(std::none_of(got.begin(), got.end(),
                     [&](const trace_record& r) { return r.subject == collector_pid; }));
  auto exit_of_w = std::find_if(got.begin(), got.end(), [&](const trace_record& r) {
    return r.kind == trace_kind::exit && r.subject == w;
  });
  REQUIRE(exit_of_w != got.end());
  CHECK(exit_of_w->reason == exit_reason::user("w done"));
  CHECK(fmt::format("{}", *exit_of_w) == fmt::format("{} exit {}", w, exit_reason::user("w done")));
  CHECK(std::any_of(got.begin(), got.end(), [&](const trace_record& r) {
    return r.kind == trace_kind::receive && r.subject == w &&
           r.message_type == otpp::type_name<go>();
  }));
  CHECK(std::any_of(got.begin(), got.end(), [&](const trace_record& r) {
    return r.kind == trace_kind::send && r.subject == me && r.other == w;
  }));
}

TEST_CASE("a tracer that throws or sends loses only its event: the traced process goes on and "
          "the tracer's own sends are not traced",
          "[core][trace]") {
  OTPP_TEST_RUNTIME({.schedulers = 2});
  otpp::pid me = tp::self();
  otpp::pid sink = otpp::spawn([] {
    for (;;)
      tp::receive([](number&) {});
  });
  std::atomic<int> calls{0};
  rt.set_tracer(otpp::make_tracer([&](const otpp::trace_event& ev) {
    calls.fetch_add(1);
    otpp::send(sink, number{0}); // a send inside the tracer: not traced again
    if (ev.kind == trace_kind::send)
      throw std::runtime_error("tracer failed");
  }));
  otpp::pid p = otpp::spawn([me] {
    tp::receive<go>();
    for (int i = 0; i < 100; ++i)
      otpp::send(me, number{i});
  });
  otpp::trace_process(p, trace_flags::send);
  otpp::send(p, go{});
  for (int i = 0; i < 100; ++i)
    CHECK(otpp_test::expect<number>().value == i);
  otpp_test::wait_exit(p);
  rt.set_tracer(nullptr);
  CHECK(calls.load() == 100);
  otpp::kill(sink);
}

TEST_CASE("trace_behaviour emits annotations of a traced process and refuses other kinds",
          "[core][trace]") {
  OTPP_TEST_RUNTIME({.schedulers = 1});
  collecting c(rt);
  otpp::pid me = tp::self();
  CHECK_FALSE(tp::traced(trace_flags::behaviour));
  otpp::trace_behaviour(trace_kind::annotation, "before");
  otpp::trace_process(me, trace_flags::behaviour);
  CHECK(tp::traced(trace_flags::behaviour));
  CHECK_FALSE(tp::traced(trace_flags::send));
  otpp::trace_behaviour(trace_kind::annotation, "checkpoint", "step 3");
  CHECK_THROWS_WITH(otpp::trace_behaviour(trace_kind::send, "x"),
                    Catch::Contains("send is not a behaviour event"));
  auto notes = c->of(trace_kind::annotation);
  REQUIRE(notes.size() == 1);
  CHECK(notes[0].subject == me);
  CHECK(notes[0].what == "checkpoint");
  CHECK(notes[0].detail == "step 3");
  CHECK(notes[0].scheduler == -1); // the test thread is not a scheduler thread
  CHECK(otpp::to_string(trace_kind::getting_unlinked) == "getting_unlinked");
  CHECK(otpp::flag_of(trace_kind::state_change) == trace_flags::behaviour);
}

} // namespace OTPP_TEST_FILE
