#include <otpp/otpp.hpp>

#include "otpp_test.hpp"

#include <catch2/catch.hpp>

// Boost.JSON, header-only: this is the one file of the suite that compiles
// its sources (to read the exported traces back).
#include <boost/json/src.hpp>

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace OTPP_TEST_FILE {

using namespace std::chrono_literals;
namespace tp = otpp::this_process;
namespace json = boost::json;
using otpp::recorded_flow;
using otpp::recorded_span;
using otpp::span_context;

namespace {

// A recorder installed on `rt` for its lifetime.
using recording = otpp_test::installed_tracer<otpp::trace_recorder>;

// Three servers in a chain, as the seed's services: frontend -> inventory
// -> db, and an audit process the frontend casts to.
struct get {
  int key;
};
struct check {
  int key;
};
struct order {
  int key;
};
struct audit_entry {
  int key;
};
struct audited {};

auto db() {
  return otpp::server<int>().on_call([](int&, get g) { return g.key * 2; });
}
auto inventory() {
  return otpp::server<otpp::pid>()
      .init([](otpp::pid db_pid) { return db_pid; })
      .on_call([](otpp::pid& db_pid, check c) {
        // Two calls in one span: both come back to it.
        return otpp::call<int>(db_pid, get{c.key}) + otpp::call<int>(db_pid, get{c.key + 1});
      });
}
struct frontend_state {
  otpp::pid inventory;
  otpp::pid audit;
};
auto frontend() {
  return otpp::server<frontend_state>()
      .init([](otpp::pid inv, otpp::pid audit) {
        return frontend_state{inv, audit};
      })
      .on_call([](frontend_state& s, order o) {
        otpp::send(s.audit, audit_entry{o.key});
        return otpp::call<int>(s.inventory, check{o.key});
      });
}
void audit_process(otpp::pid owner) {
  for (;;) {
    tp::receive<audit_entry>();
    otpp::send(owner, audited{});
  }
}

const recorded_span* find_span(const std::vector<recorded_span>& spans, std::uint64_t id) {
  auto it = std::find_if(spans.begin(), spans.end(),
                         [&](const recorded_span& s) { return s.context.span_id == id; });
  return it != spans.end() ? &*it : nullptr;
}

// Every flow has both ends: the span its sender sent it in (on the sender's
// track, open at the send) and the span it was taken in (on the receiver's,
// open when taken).
bool flows_have_both_ends(const std::vector<recorded_span>& spans,
                          const std::vector<recorded_flow>& flows) {
  for (const recorded_flow& f : flows) {
    const recorded_span* from = find_span(spans, f.from_span);
    const recorded_span* into = find_span(spans, f.into.span_id);
    if (from == nullptr || into == nullptr || from->process != f.from || into->process != f.to ||
        f.sent < from->start || f.sent > from->end || f.taken < into->start ||
        f.taken > into->end || f.sent > f.taken || from->context.trace_lo != into->context.trace_lo)
      return false;
  }
  return true;
}

std::vector<const recorded_span*> spans_of(const std::vector<recorded_span>& spans,
                                           const otpp::pid& p) {
  std::vector<const recorded_span*> out;
  for (const auto& s : spans)
    if (s.process == p)
      out.push_back(&s);
  return out;
}

// The contexts of messages in flight, once a process that ended has freed
// its mailbox (it tells its monitors first).
std::size_t contexts_left() {
  auto left = [] { return otpp::detail::envelope_contexts::instance().size(); };
  otpp::testing::wait_until([&] { return left() == 0; }, "message contexts to be freed",
                            otpp_test::patience);
  return left();
}

void stop(const otpp::pid& p) {
  otpp::exit(p, otpp::exit_reason::kill());
  otpp_test::wait_exit(p);
}

} // namespace

TEST_CASE("traceparent: written and read as W3C Trace Context, malformed values refused",
          "[behaviour][causal]") {
  const auto c =
      span_context::from_traceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01");
  REQUIRE(c);
  CHECK(c->trace_id_hex() == "4bf92f3577b34da6a3ce929d0e0e4736");
  CHECK(c->span_id_hex() == "00f067aa0ba902b7");
  CHECK(c->sampled);
  CHECK(c->traceparent() == "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01");
  CHECK(fmt::format("{}", *c) == c->traceparent());
  const auto unsampled =
      span_context::from_traceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00");
  REQUIRE(unsampled);
  CHECK_FALSE(unsampled->sampled);
  // A later version is read as 00 is, extra fields after a '-' ignored.
  CHECK(span_context::from_traceparent(
      "cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-what-the-future-holds"));
  for (const char* bad : {
           "",
           "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0",   // short
           "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-", // 00 has nothing after
           "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",  // upper case
           "00-00000000000000000000000000000000-00f067aa0ba902b7-01",  // zero trace id
           "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",  // zero span id
           "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",  // version ff
           "00_4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",  // separator
           "00-4bf92f3577b34da6a3ce929d0e0e473g-00f067aa0ba902b7-01",  // not hex
           "cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01x", // no '-' before more
       }) {
    INFO(bad);
    CHECK_FALSE(span_context::from_traceparent(bad));
  }
  // How spans begun by messages are named.
  CHECK(otpp::trace_recorder::type_label("otpp::request<{anonymous}::quote>") == "call quote");
  CHECK(otpp::trace_recorder::type_label("otpp::request<shop::(anonymous namespace)::quote>") ==
        "call shop::quote");
  CHECK(otpp::trace_recorder::type_label("shop::booked") == "shop::booked");
  const span_context fresh = span_context::new_trace();
  CHECK(fresh);
  CHECK(span_context::from_traceparent(fresh.traceparent()) == fresh);
}

TEST_CASE("a call through three servers is one trace: spans in parent order, a flow per message "
          "with both ends, exported as Chrome trace events and OTLP/JSON",
          "[behaviour][causal]") {
  const unsigned n = GENERATE(1u, 2u);
  OTPP_TEST_RUNTIME({.schedulers = n});
  recording rec(rt);
  const otpp::pid me = tp::self();
  auto d = otpp::start(db());
  auto inv = otpp::start(inventory(), d.pid());
  const otpp::pid audit = otpp::spawn([me] { audit_process(me); });
  auto front = otpp::start(frontend(), inv.pid(), audit);

  span_context root_ctx;
  {
    otpp::trace_span root("checkout");
    root_ctx = root.context();
    CHECK(tp::trace_context() == root_ctx);
    CHECK(otpp::call<int>(front.pid(), order{20}) == 40 + 42);
    otpp_test::expect<audited>();
  }
  CHECK_FALSE(tp::trace_context());
  // Their spans end where they went idle, recorded when they end.
  for (const otpp::pid& p : {front.pid(), inv.pid(), d.pid(), audit})
    stop(p);

  const auto spans = rec->spans();
  const auto flows = rec->flows();
  CHECK(rec->dropped() == 0);
  // One trace.
  for (const auto& s : spans) {
    CHECK(s.context.trace_hi == root_ctx.trace_hi);
    CHECK(s.context.trace_lo == root_ctx.trace_lo);
    CHECK(s.start <= s.end);
  }
  // The test process: the root (what it takes in it, `audited` too, is
  // part of it).
  const auto mine = spans_of(spans, me);
  REQUIRE(mine.size() == 1);
  const recorded_span* root = mine[0];
  CHECK(root->name == "checkout");
  CHECK(root->parent == 0);
  CHECK_FALSE(root->from_message);
  CHECK(root->context == root_ctx);

  const auto f = spans_of(spans, front.pid());
  REQUIRE(f.size() == 1);
  CHECK(f[0]->parent == root_ctx.span_id);
  CHECK(f[0]->from_request);
  CHECK(f[0]->name.starts_with("call "));
  CHECK(f[0]->name.ends_with("::order"));
  CHECK(f[0]->name.find("anonymous") == std::string::npos);
  const auto a = spans_of(spans, audit);
  REQUIRE(a.size() == 1);
  CHECK(a[0]->parent == f[0]->context.span_id);
  CHECK(a[0]->from_message);
  CHECK_FALSE(a[0]->from_request);
  const auto i = spans_of(spans, inv.pid());
  REQUIRE(i.size() == 1);
  CHECK(i[0]->parent == f[0]->context.span_id);
  const auto b = spans_of(spans, d.pid());
  REQUIRE(b.size() == 2); // one per call
  for (const recorded_span* s : b) {
    CHECK(s->parent == i[0]->context.span_id);
    CHECK(s->start >= i[0]->start);
  }
  CHECK(f[0]->start >= root->start);
  CHECK(i[0]->start >= f[0]->start);
  REQUIRE(spans.size() == 6);

  // Requests, replies, the cast and `audited`: ten messages, each a flow.
  CHECK(flows.size() == 10);
  CHECK(flows_have_both_ends(spans, flows));
  // Replies go back into the span that waits for them.
  const auto into_inventory =
      std::count_if(flows.begin(), flows.end(), [&](const recorded_flow& fl) {
        return fl.to == inv.pid() && fl.into.span_id == i[0]->context.span_id;
      });
  CHECK(into_inventory == 3); // the request, two replies from the db
  CHECK(std::count_if(flows.begin(), flows.end(), [&](const recorded_flow& fl) {
          return fl.to == me && fl.into == root_ctx;
        }) == 2); // the reply, and `audited` from the audit process
  // Nothing is left of the messages' contexts.
  CHECK(contexts_left() == 0);

  // Chrome trace events: a slice per span, on a named track per process; a
  // flow start and end per message, with the same id.
  const json::value chrome = json::parse(rec->chrome_json());
  std::map<std::int64_t, int> starts, ends;
  std::set<std::int64_t> named_tracks, used_tracks;
  std::size_t slices = 0;
  for (const json::value& ev : chrome.at("traceEvents").as_array()) {
    const std::string ph(ev.at("ph").as_string());
    const std::int64_t tid = ev.at("tid").to_number<std::int64_t>();
    if (ph == "M") {
      named_tracks.insert(tid);
      continue;
    }
    used_tracks.insert(tid);
    CHECK(ev.at("ts").to_number<double>() >= 0.0);
    if (ph == "X") {
      ++slices;
      CHECK(ev.at("dur").to_number<double>() >= 0.0);
      CHECK(ev.at("args").at("trace_id").as_string() == root_ctx.trace_id_hex());
    } else if (ph == "s") {
      ++starts[ev.at("id").to_number<std::int64_t>()];
    } else if (ph == "f") {
      CHECK(ev.at("bp").as_string() == "e");
      ++ends[ev.at("id").to_number<std::int64_t>()];
    }
  }
  CHECK(slices == spans.size());
  CHECK(starts.size() == flows.size());
  CHECK(starts == ends);
  CHECK(std::all_of(starts.begin(), starts.end(), [](const auto& kv) { return kv.second == 1; }));
  CHECK(used_tracks == named_tracks);
  CHECK(named_tracks.count(static_cast<std::int64_t>(front.pid().id())) == 1);

  // OTLP/JSON: the same spans, parents among them, kinds by origin.
  const json::value otlp = json::parse(rec->otlp_json("checkout-service"));
  const json::object& rs = otlp.at("resourceSpans").as_array().at(0).as_object();
  CHECK(rs.at("resource").at("attributes").at(0).at("value").at("stringValue") ==
        "checkout-service");
  const json::array& out = rs.at("scopeSpans").at(0).at("spans").as_array();
  REQUIRE(out.size() == spans.size());
  std::set<std::string> ids;
  for (const json::value& s : out)
    ids.insert(std::string(s.at("spanId").as_string()));
  const auto now_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(
                          std::chrono::system_clock::now().time_since_epoch())
                          .count();
  int roots = 0;
  for (const json::value& s : out) {
    CHECK(s.at("traceId").as_string() == root_ctx.trace_id_hex());
    CHECK(s.at("spanId").as_string().size() == 16);
    const auto start = std::stoll(std::string(s.at("startTimeUnixNano").as_string()));
    const auto end = std::stoll(std::string(s.at("endTimeUnixNano").as_string()));
    CHECK(start <= end);
    CHECK(end <= now_ns);
    CHECK(now_ns - start < std::int64_t{3600} * 1'000'000'000);
    if (const json::value* parent = s.as_object().if_contains("parentSpanId")) {
      CHECK(ids.count(std::string(parent->as_string())) == 1);
    } else {
      ++roots;
      CHECK(s.at("name").as_string() == "checkout");
      CHECK(s.at("kind").to_number<int>() == 1); // INTERNAL
    }
    const std::string pid_text(s.at("attributes").at(0).at("value").at("stringValue").as_string());
    if (pid_text == fmt::format("{}", front.pid()))
      CHECK(s.at("kind").to_number<int>() == 2); // SERVER
    if (pid_text == fmt::format("{}", audit))
      CHECK(s.at("kind").to_number<int>() == 5); // CONSUMER
  }
  CHECK(roots == 1);
}

TEST_CASE("a trace_span continues a traceparent from elsewhere, and a receiver works in the "
          "sender's trace under a span of its own",
          "[behaviour][causal]") {
  OTPP_TEST_RUNTIME({.schedulers = 2});
  recording rec(rt);
  const otpp::pid me = tp::self();
  struct go {};
  struct context_was {
    span_context ctx;
  };
  const otpp::pid worker = otpp::spawn([me] {
    tp::receive<go>();
    otpp::send(me, context_was{tp::trace_context()});
    tp::receive<otpp_test::never>();
  });
  const auto incoming =
      span_context::from_traceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01");
  REQUIRE(incoming);
  span_context mine;
  {
    otpp::trace_span s("http request", *incoming);
    mine = s.context();
    CHECK(mine.trace_id_hex() == "4bf92f3577b34da6a3ce929d0e0e4736");
    CHECK(mine.span_id != incoming->span_id);
    otpp::send(worker, go{});
    const span_context theirs = otpp_test::expect<context_was>().ctx;
    CHECK(theirs.trace_id_hex() == mine.trace_id_hex());
    CHECK(theirs.span_id != mine.span_id);
    CHECK(theirs.span_id != 0);
    // Nested: a child of the current span.
    {
      otpp::trace_span inner("parse");
      CHECK(inner.context().trace_lo == mine.trace_lo);
      CHECK(tp::trace_context() == inner.context());
    }
    CHECK(tp::trace_context() == mine);
  }
  stop(worker);
  const auto spans = rec->spans();
  REQUIRE(spans.size() == 3);
  const auto outer = std::find_if(spans.begin(), spans.end(),
                                  [](const recorded_span& s) { return s.name == "http request"; });
  REQUIRE(outer != spans.end());
  CHECK(outer->parent == incoming->span_id);
  const auto inner = std::find_if(spans.begin(), spans.end(),
                                  [](const recorded_span& s) { return s.name == "parse"; });
  REQUIRE(inner != spans.end());
  CHECK(inner->parent == mine.span_id);
  const auto w = spans_of(spans, worker);
  REQUIRE(w.size() == 1);
  CHECK(w[0]->parent == mine.span_id);
  CHECK(rec->flows().size() == 2); // go, and context_was back into the span
  CHECK(flows_have_both_ends(spans, rec->flows()));
}

TEST_CASE("outside a span messages carry nothing and nothing is recorded", "[behaviour][causal]") {
  const unsigned n = GENERATE(1u, 2u);
  OTPP_TEST_RUNTIME({.schedulers = n});
  recording rec(rt);
  struct context_was {
    span_context ctx;
  };
  const otpp::pid me = tp::self();
  const otpp::pid echo = otpp::spawn([me] {
    for (int i = 0; i < 100; ++i) {
      tp::receive<otpp_test::ping>();
      otpp::send(me, context_was{tp::trace_context()});
    }
  });
  for (int i = 0; i < 100; ++i) {
    otpp::send(echo, otpp_test::ping{me});
    CHECK_FALSE(otpp_test::expect<context_was>().ctx);
  }
  otpp_test::wait_exit(echo);
  CHECK(rec->spans().empty());
  CHECK(rec->flows().empty());
  CHECK(contexts_left() == 0);
  // A span belongs to a process: a plain thread cannot open one.
  std::string error;
  std::thread([&] {
    try {
      otpp::trace_span s("nowhere");
    } catch (const std::logic_error& e) {
      error = e.what();
    }
  }).join();
  CHECK_THAT(error, Catch::Contains("otpp::trace_span"));
}

TEST_CASE("contexts of messages never taken are freed: a receiver that ends first, a dead "
          "receiver, a full mailbox",
          "[behaviour][causal]") {
  OTPP_TEST_RUNTIME({.schedulers = 2});
  otpp_test::report_guard quiet(otpp_test::quiet()); // the full mailbox's report
  recording rec(rt);
  struct data {
    int v;
  };
  const otpp::pid ignoring = otpp::spawn([] { tp::receive<otpp_test::never>(); });
  otpp::spawn_options bounded;
  bounded.mailbox_limit = 1;
  bounded.on_overflow = otpp::overflow_policy::reject;
  const otpp::pid full = otpp::spawn([] { tp::receive<otpp_test::never>(); }, bounded);
  otpp_test::wait_until_waiting(full);
  const otpp::pid dead = otpp::spawn([] {});
  otpp_test::wait_exit(dead);
  {
    otpp::trace_span s("senders");
    for (int i = 0; i < 50; ++i)
      otpp::send(ignoring, data{i});
    otpp::send(dead, data{0});
    CHECK(otpp::send(full, data{1}) == otpp::send_result::ok);
    CHECK(otpp::send(full, data{2}) == otpp::send_result::refused);
    CHECK(otpp::detail::envelope_contexts::instance().size() == 51);
  }
  stop(ignoring);
  stop(full);
  CHECK(contexts_left() == 0);
  CHECK(rec->flows().empty()); // nothing was taken
  CHECK(rec->spans().size() == 1);
}

TEST_CASE("a span ends when its process ends, a crash included, and an unsampled trace "
          "propagates without records",
          "[behaviour][causal]") {
  OTPP_TEST_RUNTIME({.schedulers = 2});
  otpp_test::report_guard quiet(otpp_test::quiet());
  recording rec(rt);
  struct boom {};
  struct context_was {
    span_context ctx;
  };
  const otpp::pid me = tp::self();
  const otpp::pid crasher = otpp::spawn([] {
    tp::receive<boom>();
    throw std::runtime_error("handler failed");
  });
  const otpp::pid teller = otpp::spawn([me] {
    tp::receive<otpp_test::ping>();
    otpp::send(me, context_was{tp::trace_context()});
  });
  const otpp::ref m = otpp::monitor(crasher);
  {
    otpp::trace_span s("crash");
    otpp::send(crasher, boom{});
    CHECK_FALSE(otpp_test::down_reason(m).is_clean());
  }
  auto spans = rec->spans();
  REQUIRE(spans.size() == 2);
  const auto c = spans_of(spans, crasher);
  REQUIRE(c.size() == 1);
  CHECK(c[0]->end >= c[0]->start);

  rec->clear();
  auto unsampled =
      span_context::from_traceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00");
  REQUIRE(unsampled);
  {
    otpp::trace_span s("not sampled", *unsampled);
    otpp::send(teller, otpp_test::ping{me});
    const span_context got = otpp_test::expect<context_was>().ctx;
    CHECK(got.trace_id_hex() == "4bf92f3577b34da6a3ce929d0e0e4736");
    CHECK_FALSE(got.sampled);
  }
  otpp_test::wait_exit(teller);
  CHECK(rec->spans().empty());
  CHECK(rec->flows().empty());
}

TEST_CASE("the flags users set neither show nor clear a process's causal state",
          "[behaviour][causal]") {
  OTPP_TEST_RUNTIME({.schedulers = 1});
  recording rec(rt);
  const otpp::pid me = tp::self();
  otpp::trace_span s("flags");
  CHECK(otpp::trace_flags_of(me) == otpp::trace_flags::none);
  CHECK_FALSE(tp::traced(otpp::trace_flags::all));
  otpp::trace_process(me, otpp::trace_flags::all, false);
  rt.trace_all(otpp::trace_flags::all, false);
  CHECK(tp::trace_context() == s.context());
  const otpp::pid sink = otpp::spawn([] { tp::receive<otpp_test::ping>(); });
  otpp::send(sink, otpp_test::ping{me});
  otpp_test::wait_exit(sink);
  REQUIRE(rec->flows().size() == 1);
  CHECK(rec->flows()[0].from_span == s.context().span_id);
}

TEST_CASE("stress: concurrent traced calls on two schedulers each form one well-formed trace",
          "[behaviour][causal][stress]") {
  OTPP_TEST_RUNTIME({.schedulers = 2});
  recording rec(rt);
  auto d = otpp::start(db());
  auto inv = otpp::start(inventory(), d.pid());
  constexpr int clients = 16;
  constexpr int calls = 25;
  struct done {};
  const otpp::pid me = tp::self();
  std::vector<otpp::pid> ps;
  for (int c = 0; c < clients; ++c)
    ps.push_back(otpp::spawn([me, i = inv.pid(), c] {
      for (int k = 0; k < calls; ++k) {
        otpp::trace_span s("client");
        if (otpp::call<int>(i, check{c}) != 4 * c + 2)
          throw std::runtime_error("wrong answer");
      }
      otpp::send(me, done{});
    }));
  for (int c = 0; c < clients; ++c)
    otpp_test::expect<done>();
  stop(inv.pid());
  stop(d.pid());

  const auto spans = rec->spans();
  const auto flows = rec->flows();
  // Per call: the client's span, the inventory's, two of the db's.
  REQUIRE(spans.size() == static_cast<std::size_t>(clients * calls * 4));
  // Per call: a request and a reply each way, twice to the db.
  REQUIRE(flows.size() == static_cast<std::size_t>(clients * calls * 6));
  CHECK(flows_have_both_ends(spans, flows));
  std::map<std::pair<std::uint64_t, std::uint64_t>, std::vector<const recorded_span*>> traces;
  for (const auto& s : spans)
    traces[{s.context.trace_hi, s.context.trace_lo}].push_back(&s);
  CHECK(traces.size() == static_cast<std::size_t>(clients * calls));
  for (const auto& [id, members] : traces) {
    int roots = 0;
    for (const recorded_span* s : members) {
      if (s->parent == 0) {
        ++roots;
        CHECK(s->name == "client");
      } else {
        const recorded_span* p = find_span(spans, s->parent);
        REQUIRE(p != nullptr);
        CHECK(p->context.trace_lo == s->context.trace_lo);
      }
    }
    CHECK(roots == 1);
    CHECK(members.size() == 4);
  }
  CHECK(contexts_left() == 0);
}

} // namespace OTPP_TEST_FILE
