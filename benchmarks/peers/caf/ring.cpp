// ring: N actors in a ring pass one token for M hops in total.
// CAF peer of benchmarks/workloads/ring.cpp.
// Usage: ring [processes=1000] [hops=10000000]
#include "bench_caf.hpp"

#include <vector>

using namespace caf;

namespace {

using next_atom = atom_constant<atom("next")>;
using token_atom = atom_constant<atom("token")>;
using started_atom = atom_constant<atom("started")>;
using done_atom = atom_constant<atom("done")>;

// A ring member first learns its successor, then forwards the token,
// decrementing it. The member that sees 0 reports to `main` and sends -1
// around the ring, which stops every member.
behavior ring_member(event_based_actor* self, actor main) {
  return {
      [=](next_atom, actor next) {
        self->become([=](token_atom, std::int64_t remaining) {
          if (remaining == 0) {
            self->send(main, done_atom::value);
            self->send(next, token_atom::value, std::int64_t{-1});
            self->quit();
          } else if (remaining < 0) {
            self->send(next, token_atom::value, remaining);
            self->quit();
          } else {
            self->send(next, token_atom::value, remaining - 1);
          }
        });
      },
  };
}

// Builds the ring and starts the token, as the otpp coordinator does.
void coordinator(event_based_actor* self, actor main, std::int64_t n, std::int64_t hops) {
  std::vector<actor> ring;
  ring.reserve(static_cast<std::size_t>(n));
  for (std::int64_t i = 0; i < n; ++i)
    ring.push_back(self->spawn(ring_member, main));
  for (std::int64_t i = 0; i < n; ++i)
    self->send(ring[static_cast<std::size_t>(i)], next_atom::value,
               ring[static_cast<std::size_t>((i + 1) % n)]);
  const std::int64_t now = bench::clock::now().time_since_epoch().count();
  self->send(main, started_atom::value, now);
  self->send(ring[0], token_atom::value, hops);
}

} // namespace

int main(int argc, char** argv) {
  const long n = bench::arg(argc, argv, 1, 1000);
  const long hops = bench::arg(argc, argv, 2, 10000000);
  double s = 0;
  {
    bench::config cfg;
    actor_system sys{cfg};
    scoped_actor self{sys};
    sys.spawn(coordinator, actor{self}, std::int64_t{n}, std::int64_t{hops});
    bench::clock::time_point t0;
    self->receive([&](started_atom, std::int64_t at) {
      t0 = bench::clock::time_point{bench::clock::duration{at}};
    });
    self->receive([](done_atom) {});
    s = bench::seconds_since(t0);
  }
  std::printf("ring: %ld processes, %ld hops in %.3f s: %.2fM hops/s\n", n, hops, s,
              static_cast<double>(hops) / s / 1e6);
  return 0;
}
