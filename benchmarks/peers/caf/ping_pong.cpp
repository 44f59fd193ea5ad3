// ping-pong: two actors exchange a message back and forth.
// CAF peer of benchmarks/workloads/ping_pong.cpp.
// Usage: ping_pong [round_trips=1000000] [same_scheduler=1]
// CAF's work-stealing scheduler cannot pin an actor to a worker thread, so
// the second argument only sets the label ("same"/"cross") of the line.
#include "bench_caf.hpp"

using namespace caf;

namespace {

using stop_atom = atom_constant<atom("stop")>;
using done_atom = atom_constant<atom("done")>;

// Answers every (ping, n) with (pong, n) until told to stop.
behavior ponger(event_based_actor* self) {
  return {
      [](ping_atom, std::int64_t n) { return std::make_tuple(pong_atom_v, n); },
      [=](stop_atom) { self->quit(); },
  };
}

struct pinger_state {
  std::int64_t sent = 0; // number of the ping in flight
};

// Sends ping 0, 1, ..., trips-1, each after the previous pong came back.
behavior pinger(stateful_actor<pinger_state>* self, actor ponger, actor main, std::int64_t trips) {
  auto finish = [=] {
    self->send(ponger, stop_atom::value);
    self->send(main, done_atom::value);
    self->quit();
  };
  if (trips <= 0) {
    finish();
    return {};
  }
  self->send(ponger, ping_atom_v, std::int64_t{0});
  return {
      [=](pong_atom, std::int64_t n) {
        if (n != self->state.sent)
          std::abort();
        if (++self->state.sent == trips)
          finish();
        else
          self->send(ponger, ping_atom_v, self->state.sent);
      },
  };
}

} // namespace

int main(int argc, char** argv) {
  const long trips = bench::arg(argc, argv, 1, 1000000);
  const bool same = bench::arg(argc, argv, 2, 1) != 0;
  double s = 0;
  {
    bench::config cfg;
    actor_system sys{cfg};
    scoped_actor self{sys};
    auto pong = sys.spawn(ponger);
    auto t0 = bench::clock::now();
    sys.spawn(pinger, pong, actor{self}, std::int64_t{trips});
    self->receive([](done_atom) {});
    s = bench::seconds_since(t0);
  }
  std::printf("ping-pong: %ld round trips (%s scheduler) in %.3f s: %.2fM round trips/s\n", trips,
              same ? "same" : "cross", s, static_cast<double>(trips) / s / 1e6);
  return 0;
}
