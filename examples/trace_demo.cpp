// trace_demo: a request through three processes, recorded as one causal
// trace and written to files that Perfetto, chrome://tracing or Jaeger open.
//
// Shows:    a trace_span around each request (the root of its trace); the
//           context every message then carries (calls, replies and casts
//           through a gateway, a pricing server and a ledger); a
//           trace_recorder writing Chrome trace events and OTLP/JSON; the
//           W3C traceparent a request could pass on to another system.
// OTP idea: seq_trace's token, with OpenTelemetry's ids and exports.
// Run:      build the `trace_demo` target and run it (`--out DIR` chooses
//           where the two files go; the current directory by default).
#include <otpp/otpp.hpp>

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

using namespace std::chrono_literals;
namespace tp = otpp::this_process;

namespace {

struct quote {
  std::string item;
  int quantity;
};
struct price_of {
  std::string item;
};
struct book {
  std::string item;
  int amount;
};
struct booked {
  std::string item;
};

// The ledger books amounts (and takes a moment doing it).
auto ledger_def = otpp::server<int>().name("ledger").on_call([](int& total, book b) {
  tp::sleep_for(2ms);
  total += b.amount;
  return total;
});

// Pricing knows the prices, and books each quote with the ledger.
struct pricing_state {
  otpp::pid ledger;
  std::map<std::string, int> prices{{"apple", 3}, {"pear", 4}};
};
auto pricing_def = otpp::server<pricing_state>()
                       .name("pricing")
                       .init([](otpp::pid ledger) {
                         pricing_state s;
                         s.ledger = ledger;
                         return s;
                       })
                       .on_call([](pricing_state& s, price_of p) {
                         const int unit = s.prices.at(p.item);
                         otpp::call<int>(s.ledger, book{p.item, unit});
                         return unit;
                       });

// The gateway answers quotes: a call to pricing, then a cast to the
// notifier that tells the customer.
struct gateway_state {
  otpp::pid pricing;
  otpp::pid notifier;
};
auto gateway_def = otpp::server<gateway_state>()
                       .name("gateway")
                       .init([](otpp::pid pricing, otpp::pid notifier) {
                         return gateway_state{pricing, notifier};
                       })
                       .on_call([](gateway_state& s, quote q) {
                         const int total =
                             q.quantity * otpp::call<int>(s.pricing, price_of{q.item});
                         otpp::send(s.notifier, booked{q.item});
                         return total;
                       });

void notifier() {
  tp::set_label("notifier");
  for (;;) {
    tp::receive<booked>();
    tp::sleep_for(1ms); // sends an e-mail, say
  }
}

// The spans of each trace as an indented tree, children after parents.
void print_traces(const std::vector<otpp::recorded_span>& spans) {
  std::map<std::uint64_t, std::vector<const otpp::recorded_span*>> children;
  std::vector<const otpp::recorded_span*> roots;
  for (const auto& s : spans)
    (s.parent == 0 ? roots : children[s.parent]).push_back(&s);
  auto by_start = [](const otpp::recorded_span* a, const otpp::recorded_span* b) {
    return a->start < b->start;
  };
  std::sort(roots.begin(), roots.end(), by_start);
  auto print = [&](auto& self, const otpp::recorded_span* s, int depth) -> void {
    fmt::print("  {:{}}{} {} ({:.3f} ms)\n", "", depth * 2, s->process, s->name,
               std::chrono::duration<double, std::milli>(s->end - s->start).count());
    auto& kids = children[s->context.span_id];
    std::sort(kids.begin(), kids.end(), by_start);
    for (const auto* k : kids)
      self(self, k, depth + 1);
  };
  for (const auto* r : roots) {
    fmt::print("trace {}\n", r->context.trace_id_hex());
    print(print, r, 0);
  }
}

} // namespace

int main(int argc, char** argv) {
  std::string out = ".";
  for (int i = 1; i + 1 < argc; ++i)
    if (std::string_view(argv[i]) == "--out")
      out = argv[i + 1];

  otpp::runtime rt;
  auto recorder = std::make_shared<otpp::trace_recorder>();
  rt.set_tracer(recorder);
  otpp::scoped_process main_process(rt);

  auto ledger = otpp::start(ledger_def);
  auto pricing = otpp::start(pricing_def, ledger.pid());
  const otpp::pid notify = otpp::spawn(notifier);
  auto gateway = otpp::start(gateway_def, pricing.pid(), notify);

  bool ok = true;
  for (const auto& [item, quantity] : {std::pair{"apple", 10}, std::pair{"pear", 5}}) {
    otpp::trace_span request(fmt::format("quote {}", item));
    // What an HTTP client of this service would send on as `traceparent`.
    fmt::print("request {} x{}: traceparent {}\n", item, quantity, request.context().traceparent());
    const int total = otpp::call<int>(gateway.pid(), quote{item, quantity});
    fmt::print("  total {}\n", total);
    ok = ok && total == quantity * (std::string_view(item) == "apple" ? 3 : 4);
  }

  // Each process's last span ends when it takes its next work, or ends.
  tp::sleep_for(20ms); // the notifier finishes its last message
  otpp::stop(gateway);
  otpp::stop(pricing);
  otpp::stop(ledger);
  const otpp::ref m = otpp::monitor(notify);
  otpp::exit(notify, otpp::exit_reason::shutdown());
  tp::receive(otpp::when([m](const otpp::down& d) { return d.monitor == m; }, [](otpp::down&) {}));
  rt.set_tracer(nullptr);

  const auto spans = recorder->spans();
  print_traces(spans);
  const std::string chrome = out + "/trace.json";
  const std::string otlp = out + "/trace.otlp.json";
  recorder->write_chrome_json(chrome);
  recorder->write_otlp_json(otlp, "trace_demo");
  fmt::print("\n{} spans, {} messages\n", spans.size(), recorder->flows().size());
  fmt::print("wrote {}: Chrome trace events; open https://ui.perfetto.dev and drop the file\n"
             "  there (or chrome://tracing, Load): a track per process, a slice per span,\n"
             "  an arrow per message\n",
             chrome);
  fmt::print("wrote {}: OTLP/JSON spans; send them to Jaeger (1.35+) or an OpenTelemetry\n"
             "  collector: curl -H 'Content-Type: application/json' --data @{}\n"
             "  http://localhost:4318/v1/traces\n",
             otlp, otlp);
  // Two requests: each a root, the gateway, pricing, the ledger, the
  // notifier (five spans), in two traces.
  ok = ok && spans.size() == 10;
  return ok ? 0 : 1;
}
