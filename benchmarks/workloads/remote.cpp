// remote: messages between two OS processes over Erlang distribution on
// loopback: ping-pong round trips to {pong, Peer}, then casts to
// {sink, Peer} closed by a sync, then calls {add, X, Y} to a server
// {calc, Peer} (as many as round trips; an Erlang gen_server there). The peer is another
// bench_remote or an Erlang node running benchmarks/peers/erlang/remote.erl (same roles, same
// messages): benchmarks/run_remote.sh runs every pair.
// Usage: bench_remote serve NAME COOKIE
//        bench_remote client NAME PEER COOKIE [round_trips=100000] [casts=1000000]
// (epmd from ERL_EPMD_PORT.)
#include <otpp/dist/node.hpp>
#include <otpp/otpp.hpp>

#include "bench_common.hpp"

#include <chrono>
#include <string>
#include <thread>

namespace remote_bench {
struct ping {
  otpp::pid from;
  long n;
};
struct pong {
  long n;
};
struct cast {
  long n;
};
struct sync_req {
  otpp::pid from;
};
struct synced {
  long count;
};
struct add {
  double x, y;
};
} // namespace remote_bench
OTPP_TERM_TAG(remote_bench::ping, "ping");
OTPP_TERM_TAG(remote_bench::pong, "pong");
OTPP_TERM_TAG(remote_bench::cast, "cast");
OTPP_TERM_TAG(remote_bench::sync_req, "sync");
OTPP_TERM_TAG(remote_bench::synced, "synced");
OTPP_TERM_TAG(remote_bench::add, "add");

namespace {
using namespace remote_bench;
namespace tp = otpp::this_process;

std::shared_ptr<otpp::dist::node> start(const std::string& name, const std::string& cookie) {
  otpp::dist::node_options o;
  o.name = name;
  o.cookie = cookie;
  return otpp::dist::node::start(o);
}

int serve(const std::string& name, const std::string& cookie) {
  otpp::runtime rt({.schedulers = bench::schedulers(2)});
  otpp::scoped_process main_process(rt);
  auto n = start(name, cookie);
  otpp::register_name("pong", otpp::spawn([] {
                        for (;;)
                          tp::receive([](const ping& p) { otpp::send(p.from, pong{p.n}); });
                      }));
  otpp::register_name("sink", otpp::spawn([] {
                        long count = 0;
                        for (;;)
                          tp::receive(
                              [&](const cast&) { ++count; },
                              [&](const sync_req& s) { otpp::send(s.from, synced{count}); });
                      }));
  auto calc =
      otpp::start(otpp::start_options{.name = "calc"},
                  otpp::server<int>().on_call([](int&, const add& a) { return a.x + a.y; }));
  fmt::print("ready\n");
  std::fflush(stdout);
  for (;;)
    std::this_thread::sleep_for(std::chrono::seconds(1));
}

// The client runs in a process of its own, as a program's processes do
// (the main thread, a scoped_process, waits on a condition variable).
int client(const std::string& name, const std::string& peer, const std::string& cookie, long trips,
           long casts) {
  otpp::runtime rt({.schedulers = bench::schedulers(2)});
  otpp::scoped_process main_process(rt);
  auto n = start(name, cookie);
  const otpp::pid main_pid = tp::self();
  otpp::spawn([n, peer, trips, casts, main_pid] {
    const otpp::pid me = tp::self();
    const otpp::pid ponger = n->named(peer, "pong");
    const otpp::pid sink = n->named(peer, "sink");
    // Connect and warm up.
    otpp::send(ponger, ping{me, -1});
    tp::receive<pong>();
    auto t0 = bench::clock::now();
    for (long i = 0; i < trips; ++i) {
      otpp::send(ponger, ping{me, i});
      if (tp::receive<pong>().n != i)
        std::abort();
    }
    const double s1 = bench::seconds_since(t0);
    t0 = bench::clock::now();
    for (long i = 0; i < casts; ++i)
      otpp::send(sink, cast{i});
    otpp::send(sink, sync_req{me});
    const long got = tp::receive<synced>().count;
    const double s2 = bench::seconds_since(t0);
    const otpp::pid calc = n->named(peer, "calc");
    t0 = bench::clock::now();
    for (long i = 0; i < trips; ++i)
      if (otpp::call<double>(calc, add{static_cast<double>(i), 1.0}) !=
          static_cast<double>(i) + 1.0)
        std::abort();
    const double s3 = bench::seconds_since(t0);
    if (got != casts)
      fmt::print(stderr, "remote: the sink counted {} casts, not {}\n", got, casts);
    fmt::print("remote ping-pong: {} round trips in {:.3f} s: {:.1f}k round trips/s\n", trips, s1,
               static_cast<double>(trips) / s1 / 1e3);
    fmt::print("remote casts: {} in {:.3f} s: {:.2f}M casts/s\n", casts, s2,
               static_cast<double>(casts) / s2 / 1e6);
    fmt::print("remote calls: {} in {:.3f} s: {:.1f}k calls/s\n", trips, s3,
               static_cast<double>(trips) / s3 / 1e3);
    otpp::send(main_pid, synced{got});
  });
  const long got = tp::receive<synced>().count;
  n->stop();
  return got == casts ? 0 : 1;
}
} // namespace

int main(int argc, char** argv) {
  const std::string role = argc > 1 ? argv[1] : "";
  if (role == "serve" && argc >= 4)
    return serve(argv[2], argv[3]);
  if (role == "client" && argc >= 5)
    return client(argv[2], argv[3], argv[4], bench::arg(argc, argv, 5, 100000),
                  bench::arg(argc, argv, 6, 1000000));
  fmt::print(stderr, "usage: bench_remote serve NAME COOKIE\n"
                     "       bench_remote client NAME PEER COOKIE [round_trips] [casts]\n");
  return 2;
}
