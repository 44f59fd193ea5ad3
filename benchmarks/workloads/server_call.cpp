// server call: synchronous calls (otpp::call, OTP semantics: monitor, tagged
// reply, 5 s timeout) to a counter server. Three figures, one line each:
//   1. one client, client and server on the same scheduler;
//   2. the same number of calls spread over many concurrent clients (default
//      scheduler count, default placement);
//   3. one client whose mailbox holds 0, 1k or 100k unrelated messages: with
//      the receive mark a call does not scan them, so the rate stays flat.
// Each checks the replies and the counter's final value.
// Usage: bench_server_call [calls=1000000] [clients=100] [backlog_calls=100000]
// (backlog_calls 0 leaves the third figure out)
#include <otpp/otpp.hpp>

#include "bench_common.hpp"
#include "bench_trace.hpp"

#include <optional>
#include <vector>

namespace {

struct increment {}; // call -> the new count

auto counter() {
  return otpp::server<long>().on_call([](long& n, increment) { return ++n; });
}
using counter_ref = otpp::server_ref<decltype(counter())>;

struct junk {
  long n;
};
struct done {
  double seconds;
  long sum;   // of the replies
  bool valid; // replies as expected, backlog untouched
};

counter_ref start_counter(std::optional<unsigned> scheduler) {
  return otpp::start(otpp::start_options{.spawn = {.scheduler = scheduler}}, counter());
}

// 1. `calls` calls from one client on the server's scheduler; each reply
// must be the previous one + 1.
bool single(otpp::runtime& rt, long calls) {
  const otpp::pid self = otpp::this_process::self();
  const counter_ref srv = start_counter(0);
  rt.spawn(
      [=] {
        auto span = bench::causal_span("client"); // OTPP_CAUSAL: see bench_trace.hpp
        bool valid = true;
        auto t0 = bench::clock::now();
        for (long i = 1; i <= calls; ++i)
          valid &= otpp::call(srv, increment{}) == i;
        otpp::send(self, done{bench::seconds_since(t0), 0, valid});
      },
      {.scheduler = 0});
  const done d = otpp::this_process::receive<done>();
  const long final_count = otpp::get_state(srv);
  otpp::stop(srv);
  const bool ok = d.valid && final_count == calls;
  fmt::print("server call: {} calls (1 client, same scheduler) in {:.3f} s: {:.2f}M calls/s, "
             "{:.0f} ns per call{}\n",
             calls, d.seconds, static_cast<double>(calls) / d.seconds / 1e6,
             d.seconds / static_cast<double>(calls) * 1e9, ok ? "" : " WRONG COUNT");
  return ok;
}

// 2. `calls` calls in all from `clients` concurrent clients. Every reply is
// a distinct count, so the replies must sum to 1 + 2 + ... + calls.
bool concurrent(otpp::runtime& rt, long calls, long clients) {
  const otpp::pid self = otpp::this_process::self();
  const counter_ref srv = start_counter(std::nullopt);
  const long each = calls / clients;
  const long total = each * clients;
  auto t0 = bench::clock::now();
  for (long c = 0; c < clients; ++c)
    rt.spawn([=] {
      auto span = bench::causal_span("client"); // OTPP_CAUSAL: see bench_trace.hpp
      long sum = 0;
      for (long i = 0; i < each; ++i)
        sum += otpp::call(srv, increment{});
      otpp::send(self, done{0, sum, true});
    });
  long sum = 0;
  for (long c = 0; c < clients; ++c)
    sum += otpp::this_process::receive<done>().sum;
  const double s = bench::seconds_since(t0);
  const long final_count = otpp::get_state(srv);
  otpp::stop(srv);
  const bool ok = final_count == total && sum == total * (total + 1) / 2;
  fmt::print("server call: {} calls ({} clients, {} schedulers) in {:.3f} s: {:.2f}M calls/s{}\n",
             total, clients, rt.scheduler_count(), s, static_cast<double>(total) / s / 1e6,
             ok ? "" : " WRONG COUNT");
  return ok;
}

// 3. `calls` calls from one client holding `backlog` unrelated messages;
// returns calls per second, or 0 if a reply or the backlog was wrong.
double with_backlog(otpp::runtime& rt, long backlog, long calls) {
  const otpp::pid self = otpp::this_process::self();
  const counter_ref srv = start_counter(0);
  rt.spawn(
      [=] {
        const otpp::pid me = otpp::this_process::self();
        for (long i = 0; i < backlog; ++i)
          otpp::send(me, junk{i});
        otpp::this_process::mailbox_length(); // move the backlog into the mailbox first
        bool valid = true;
        auto t0 = bench::clock::now();
        for (long i = 1; i <= calls; ++i)
          valid &= otpp::call(srv, increment{}) == i;
        const double s = bench::seconds_since(t0);
        valid &= otpp::this_process::mailbox_length() == static_cast<std::size_t>(backlog);
        otpp::send(self, done{s, 0, valid});
      },
      {.scheduler = 0});
  const done d = otpp::this_process::receive<done>();
  const long final_count = otpp::get_state(srv);
  otpp::stop(srv);
  return d.valid && final_count == calls ? static_cast<double>(calls) / d.seconds : 0.0;
}

} // namespace

int main(int argc, char** argv) {
  const long calls = bench::arg(argc, argv, 1, 1000000);
  const long clients = bench::arg(argc, argv, 2, 100);
  const long backlog_calls = bench::arg(argc, argv, 3, 100000);
  otpp::runtime rt(
      {.schedulers = bench::schedulers(), .hibernate_after = bench::hibernate_after()});
  otpp::scoped_process main_process(rt);
  bench::trace_from_env tracing(rt); // OTPP_TRACE: see bench_trace.hpp

  bool ok = single(rt, calls);
  ok &= concurrent(rt, calls, clients);

  if (backlog_calls == 0) // the third figure left out
    return ok ? 0 : 1;
  std::vector<double> rates;
  for (long backlog : {0L, 1000L, 100000L})
    rates.push_back(with_backlog(rt, backlog, backlog_calls));
  const bool backlog_ok = rates[0] > 0 && rates[1] > 0 && rates[2] > 0;
  fmt::print("server call: {:.2f}M / {:.2f}M / {:.2f}M calls/s ({:.0f} / {:.0f} / {:.0f} ns per "
             "call) with 0 / 1k / 100k queued messages{}\n",
             rates[0] / 1e6, rates[1] / 1e6, rates[2] / 1e6, 1e9 / rates[0], 1e9 / rates[1],
             1e9 / rates[2], backlog_ok ? "" : " WRONG COUNT");
  return ok && backlog_ok ? 0 : 1;
}
