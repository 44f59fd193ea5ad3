// statem: events through a two-state machine (on / off, each event toggles
// the state), three figures, one line each:
//   1. `events` casts from one process on the machine's scheduler, then a
//      call that checks the count;
//   2. `events` calls (OTP call semantics) from one process;
//   3. postpone-heavy: `postponed` casts postponed in state `off`, then one
//      transition to `on` releases them all, oldest first.
// Each checks the machine's count and state.
// Usage: bench_statem [events=1000000] [postponed=100000]
#include <otpp/behaviour/statem.hpp>
#include <otpp/otpp.hpp>

#include "bench_common.hpp"

#include <variant>

namespace {

namespace sm = otpp::sm;

struct on {};
struct off {};
struct flip {};
struct count_query {
  using reply_type = long;
};
struct flip_call {
  using reply_type = long;
};
struct item {
  long n;
};
struct release {};
struct data {
  long flips = 0;
  long items = 0;
  long last = 0;
  bool ordered = true;
};

auto toggle() {
  using V = std::variant<off, on>;
  return otpp::statem<data, off, on>()
      .on<off>([](off&, data& d, flip) {
        ++d.flips;
        return sm::next_state(on{});
      })
      .on<on>([](on&, data& d, flip) {
        ++d.flips;
        return sm::next_state(off{});
      })
      .on_any_state([](V& s, data& d, sm::call_of<flip_call> q) {
        ++d.flips;
        if (s.index() == 0)
          return sm::next<off, on>(sm::next_state(on{}, sm::reply(q, d.flips)));
        return sm::next<off, on>(sm::next_state(off{}, sm::reply(q, d.flips)));
      })
      .on_any_state(
          [](V&, data& d, sm::call_of<count_query> q) { return sm::reply(q, d.flips + d.items); })
      .postpone<off, item>()
      .on<on>([](on&, data& d, item i) {
        d.ordered &= i.n == d.last + 1;
        d.last = i.n;
        ++d.items;
      })
      .on<off>([](off&, data&, release) { return sm::next_state(on{}); });
}
using toggle_ref = otpp::statem_ref<decltype(toggle())>;

toggle_ref start_machine() {
  return otpp::start(otpp::start_options{.spawn = {.scheduler = 0}}, toggle());
}

} // namespace

int main(int argc, char** argv) {
  const long events = bench::arg(argc, argv, 1, 1000000);
  const long postponed = bench::arg(argc, argv, 2, 100000);
  otpp::runtime rt({.schedulers = bench::schedulers()});
  otpp::scoped_process main_process(rt);
  const otpp::pid self = otpp::this_process::self();
  bool ok = true;

  { // 1. casts
    auto m = start_machine();
    rt.spawn(
        [=] {
          auto t0 = bench::clock::now();
          for (long i = 0; i < events; ++i)
            otpp::cast(m, flip{});
          const long n = otpp::call(m, count_query{});
          otpp::send(self, std::pair<double, long>(bench::seconds_since(t0), n));
        },
        {.scheduler = 0});
    auto [s, n] = otpp::this_process::receive<std::pair<double, long>>();
    ok &= n == events;
    fmt::print("statem cast: {} events in {:.3f} s: {:.2f}M events/s{}\n", events, s,
               static_cast<double>(events) / s / 1e6, n == events ? "" : " WRONG COUNT");
    otpp::stop(m);
  }
  { // 2. calls
    auto m = start_machine();
    rt.spawn(
        [=] {
          bool valid = true;
          auto t0 = bench::clock::now();
          for (long i = 1; i <= events; ++i)
            valid &= otpp::call(m, flip_call{}) == i;
          otpp::send(self, std::pair<double, long>(bench::seconds_since(t0), valid ? events : -1));
        },
        {.scheduler = 0});
    auto [s, n] = otpp::this_process::receive<std::pair<double, long>>();
    ok &= n == events;
    fmt::print("statem call: {} calls in {:.3f} s: {:.2f}M calls/s, {:.0f} ns per call{}\n", events,
               s, static_cast<double>(events) / s / 1e6, s / static_cast<double>(events) * 1e9,
               n == events ? "" : " WRONG");
    otpp::stop(m);
  }
  { // 3. postponed, then released by one transition
    auto m = start_machine();
    rt.spawn(
        [=] {
          auto t0 = bench::clock::now();
          for (long i = 1; i <= postponed; ++i)
            otpp::cast(m, item{i});
          otpp::cast(m, release{});
          const long n = otpp::call(m, count_query{});
          otpp::send(self, std::pair<double, long>(bench::seconds_since(t0), n));
        },
        {.scheduler = 0});
    auto [s, n] = otpp::this_process::receive<std::pair<double, long>>();
    const auto st = otpp::get_state(m);
    const bool valid = n == postponed && st.data.ordered;
    ok &= valid;
    fmt::print(
        "statem postpone: {} events postponed and released in {:.3f} s: {:.2f}M events/s{}\n",
        postponed, s, static_cast<double>(postponed) / s / 1e6, valid ? "" : " WRONG");
    otpp::stop(m);
  }
  return ok ? 0 : 1;
}
