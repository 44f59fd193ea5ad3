// server call: synchronous calls from one client actor to a counter server
// actor, with CAF's request/response: request(server, infinite, ...).await(...),
// the client handling nothing else until the reply (or an error, e.g. the
// server being down) arrives. Checks every reply and the counter's final value.
// CAF peer of the FIRST figure of benchmarks/workloads/server_call.cpp.
// Usage: server_call [calls=1000000]
// CAF's work-stealing scheduler cannot pin actors to a worker thread, so
// "same scheduler" in the line is the otpp label, not a placement.
//
// Timeout: otpp::call and gen_server:call time out after 5 s, but CAF 0.17
// does not cancel a request's timeout when the reply arrives: every call
// leaves a timer entry behind (1M calls: ~190 MB), and once the first of them
// expire (a run longer than 5 s) each stale timeout error is skipped into the
// awaiting client's mailbox cache, which is rescanned for every later
// message, so the run goes quadratic (3M calls: killed after 100 s). The
// default is therefore `infinite`; CAF_CALL_TIMEOUT_MS=5000 gives the 5 s one.
#include "bench_caf.hpp"

using namespace caf;

namespace {

using increment_atom = atom_constant<atom("increment")>;
using done_atom = atom_constant<atom("done")>;

// The timeout of every call: infinite unless CAF_CALL_TIMEOUT_MS is set.
duration call_timeout() {
  static const duration timeout = [] {
    const char* ms = std::getenv("CAF_CALL_TIMEOUT_MS");
    return ms != nullptr ? duration{std::chrono::milliseconds(std::atol(ms))} : duration{infinite};
  }();
  return timeout;
}

struct counter_state {
  std::int64_t count = 0;
};

// increment -> the new count; get -> the current count.
behavior counter(stateful_actor<counter_state>* self) {
  return {
      [=](increment_atom) { return ++self->state.count; },
      [=](get_atom) { return self->state.count; },
  };
}

struct client_state {
  std::int64_t calls = 0; // made so far
  bool valid = true;      // every reply was the previous one + 1
  bench::clock::time_point t0;
};

using client_actor = stateful_actor<client_state>*;

void finish(client_actor self, const actor& main) {
  self->send(main, done_atom::value, bench::seconds_since(self->state.t0), self->state.valid);
  self->quit();
}

// Makes call number state.calls + 1, then the next one once its reply is in.
void call_next(client_actor self, actor server, actor main, std::int64_t total) {
  if (self->state.calls == total) {
    finish(self, main);
    return;
  }
  self->request(server, call_timeout(), increment_atom::value)
      .await(
          [=](std::int64_t count) {
            self->state.valid &= count == ++self->state.calls;
            call_next(self, server, main, total);
          },
          [=](error&) {
            self->state.valid = false;
            finish(self, main);
          });
}

void client(client_actor self, actor server, actor main, std::int64_t total) {
  self->state.t0 = bench::clock::now();
  call_next(self, server, main, total);
}

} // namespace

int main(int argc, char** argv) {
  const long calls = bench::arg(argc, argv, 1, 1000000);
  double s = 0;
  bool valid = false;
  std::int64_t final_count = -1;
  {
    bench::config cfg;
    actor_system sys{cfg};
    scoped_actor self{sys};
    auto server = sys.spawn(counter);
    sys.spawn(client, server, actor{self}, std::int64_t{calls});
    self->receive([&](done_atom, double seconds, bool ok) {
      s = seconds;
      valid = ok;
    });
    self->request(server, infinite, get_atom::value)
        .receive([&](std::int64_t count) { final_count = count; }, [](error&) {});
    self->send_exit(server, exit_reason::user_shutdown);
  }
  const bool ok = valid && final_count == calls;
  std::printf("server call: %ld calls (1 client, same scheduler) in %.3f s: %.2fM calls/s, %.0f ns "
              "per call%s\n",
              calls, s, static_cast<double>(calls) / s / 1e6, s / static_cast<double>(calls) * 1e9,
              ok ? "" : " WRONG COUNT");
  return ok ? 0 : 1;
}
