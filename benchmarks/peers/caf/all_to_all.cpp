// all-to-all: N actors; each sends a ping to every other and answers every
// ping with a pong: 2 N (N - 1) messages.
// CAF peer of benchmarks/workloads/all_to_all.cpp.
// Usage: all_to_all [processes=1000]
#include "bench_caf.hpp"

#include <memory>
#include <vector>

using namespace caf;

namespace {

using ping_atom = atom_constant<atom("ping")>;
using pong_atom = atom_constant<atom("pong")>;
using done_atom = atom_constant<atom("done")>;
using peers_atom = atom_constant<atom("peers")>;
using peer_list = std::shared_ptr<const std::vector<actor>>;

struct node_state {
  long pings = 0;
  long pongs = 0;
};

behavior node(stateful_actor<node_state>* self, actor main, long n) {
  auto check = [=] {
    if (self->state.pings == n - 1 && self->state.pongs == n - 1) {
      self->send(main, done_atom::value);
      self->quit();
    }
  };
  return {
      [=](peers_atom, const peer_list& all) {
        for (const actor& other : *all)
          if (other != actor{self})
            self->send(other, ping_atom::value, actor{self});
      },
      [=](ping_atom, const actor& from) {
        self->send(from, pong_atom::value);
        ++self->state.pings;
        check();
      },
      [=](pong_atom) {
        ++self->state.pongs;
        check();
      },
  };
}

} // namespace

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(peer_list)

int main(int argc, char** argv) {
  const long n = bench::arg(argc, argv, 1, 1000);
  double s = 0;
  {
    bench::config cfg;
    actor_system sys{cfg};
    scoped_actor self{sys};
    auto all = std::make_shared<std::vector<actor>>();
    for (long i = 0; i < n; ++i)
      all->push_back(sys.spawn(node, actor{self}, n));
    auto t0 = bench::clock::now();
    peer_list list = all;
    for (const actor& a : *list)
      self->send(a, peers_atom::value, list);
    for (long i = 0; i < n; ++i)
      self->receive([](done_atom) {});
    s = bench::seconds_since(t0);
  }
  const double messages = 2.0 * static_cast<double>(n) * static_cast<double>(n - 1);
  std::printf("all-to-all: %ld processes, %.0f messages in %.3f s: %.2fM messages/s\n", n, messages,
              s, messages / s / 1e6);
  return 0;
}
