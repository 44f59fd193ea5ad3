// circuit_breaker: a closed / open / half-open breaker in front of a flaky
// server, written as a state machine.
//
// Shows:    calls answered from the state they arrive in (closed: forwarded;
//           open: refused at once; half-open: one trial), a state timeout
//           that moves open -> half-open, data shared by every state (the
//           failure count), and typed calls through the breaker's handle.
// OTP idea: gen_statem with {state_timeout, Cooldown, try_again} in front of
//           a gen_server (the "fuse" pattern).
// Run:      build the `circuit_breaker` target and run it.
#include <otpp/behaviour/statem.hpp>
#include <otpp/otpp.hpp>

#include <fmt/format.h>

#include <chrono>
#include <string>
#include <variant>

using namespace std::chrono_literals;
namespace sm = otpp::sm;
namespace tp = otpp::this_process;

namespace {

// The flaky backend: fails while `broken` is set.
struct work {
  int n;
};
struct set_broken {
  bool on;
};
auto backend_def = otpp::server<bool>() // state: broken?
                       .name("backend")
                       .on_call([](bool& broken, work w) -> int {
                         if (broken)
                           throw std::runtime_error("backend down");
                         return w.n * 2;
                       })
                       .on_cast([](bool& broken, set_broken b) { broken = b.on; });
using backend_ref = otpp::server_ref<decltype(backend_def)>;

// The breaker.
struct closed {};
struct open_circuit {};
struct half_open {};
struct try_again {};
struct request {
  using reply_type = std::string;
  int n;
};
struct breaker_data {
  backend_ref backend;
  int failures = 0;
  static constexpr int threshold = 3;
};
using states = std::variant<closed, open_circuit, half_open>;

std::string forward(breaker_data& d, int n) {
  auto r = otpp::try_call(d.backend, work{n}, 100ms);
  return r ? fmt::format("ok {}", r.value()) : std::string("failed");
}

auto breaker() {
  return otpp::statem<breaker_data, closed, open_circuit, half_open>()
      .named("breaker")
      .on<closed>([](closed&, breaker_data& d, sm::call_of<request> q) -> sm::next<open_circuit> {
        std::string r = forward(d, q.value.n);
        if (r != "failed") {
          d.failures = 0;
          return sm::reply(q, r);
        }
        if (++d.failures < breaker_data::threshold)
          return sm::reply(q, r);
        fmt::print("  breaker: {} failures, opening\n", d.failures);
        return sm::next_state(open_circuit{}, sm::reply(q, r),
                              sm::state_timeout(150ms, try_again{}));
      })
      .on<open_circuit>([](open_circuit&, breaker_data&, sm::call_of<request> q) {
        return sm::reply(q, std::string("refused (circuit open)"));
      })
      .on<open_circuit>([](open_circuit&, breaker_data&, sm::timeout_of<try_again>) {
        fmt::print("  breaker: half-open, the next call is a trial\n");
        return sm::next_state(half_open{});
      })
      .on<half_open>([](half_open&, breaker_data& d,
                        sm::call_of<request> q) -> sm::next<closed, open_circuit> {
        std::string r = forward(d, q.value.n);
        if (r == "failed") {
          fmt::print("  breaker: trial failed, open again\n");
          return sm::next_state(open_circuit{}, sm::reply(q, r),
                                sm::state_timeout(150ms, try_again{}));
        }
        fmt::print("  breaker: trial passed, closed\n");
        d.failures = 0;
        return sm::next_state(closed{}, sm::reply(q, r));
      });
}

} // namespace

int main() {
  otpp::runtime rt;
  otpp::scoped_process main_process(rt);
  otpp::set_report_handler([](const otpp::report&) {}); // the backend's crashes are expected
  // The backend crashes on a call while broken (under a supervisor it would
  // be restarted); the breaker's later calls to it then fail at once.
  auto backend = otpp::start(backend_def, false);
  auto b = otpp::start(breaker(), breaker_data{backend});

  auto ask = [&](int n) {
    std::string r = otpp::call(b, request{n});
    fmt::print("request {}: {}\n", n, r);
    return r;
  };
  bool ok = ask(1) == "ok 2";
  // Break the backend: calls fail.
  otpp::cast(backend, set_broken{true});
  for (int i = 2; i <= 4; ++i)
    ok = ask(i) == "failed" && ok;
  ok = ask(5) == "refused (circuit open)" && ok; // fails fast, the backend is not called
  // A healthy backend again; after the cool-down the trial passes.
  auto healthy = otpp::start(backend_def, false);
  otpp::replace_state<otpp::sm::snapshot<breaker_data, closed, open_circuit, half_open>>(
      b, [healthy](auto& s) { s.data.backend = healthy; });
  tp::sleep_for(200ms);
  ok = ask(6) == "ok 12" && ok;
  ok = ask(7) == "ok 14" && ok;
  otpp::stop(b);
  otpp::stop(healthy);
  otpp::set_report_handler({});
  return ok ? 0 : 1;
}
