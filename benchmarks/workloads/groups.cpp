// groups: process groups (pg), three figures, one line each:
//   1. `ops` join + leave pairs of one process to one group (each a call to
//      the scope, as in OTP);
//   2. `reads` get_members of a 100-member group by scope name (a name
//      lookup, then the table under a reader lock; no message);
//   3. the same through a pg::scope found once, as a shared snapshot
//      (`members`: no copy of the 100 pids).
// The scope and the caller share scheduler 0 (as Erlang's run).
// Usage: bench_groups [ops=200000] [reads=1000000]
#include <otpp/behaviour/pg.hpp>
#include <otpp/otpp.hpp>

#include "bench_common.hpp"

#include <vector>

namespace pg = otpp::pg;

int main(int argc, char** argv) {
  const long ops = bench::arg(argc, argv, 1, 200000);
  const long reads = bench::arg(argc, argv, 2, 1000000);
  otpp::runtime rt({.schedulers = bench::schedulers()});
  otpp::scoped_process main_process(rt);
  const otpp::pid self = otpp::this_process::self();
  rt.spawn(
      [=] {
        auto scope =
            otpp::start(otpp::start_options{.spawn = {.scheduler = 0}}, pg::scope_def("bench"));
        const otpp::pid me = otpp::this_process::self();
        bool ok = true;
        auto t0 = bench::clock::now();
        for (long i = 0; i < ops; ++i) {
          pg::join("bench", "g", me);
          ok &= pg::leave("bench", "g", me);
        }
        double s = bench::seconds_since(t0);
        ok &= pg::which_groups("bench").empty();
        fmt::print("pg join+leave: {} pairs in {:.3f} s: {:.2f}M pairs/s, {:.0f} ns per pair{}\n",
                   ops, s, static_cast<double>(ops) / s / 1e6, s / static_cast<double>(ops) * 1e9,
                   ok ? "" : " WRONG");

        std::vector<otpp::pid> members;
        for (int i = 0; i < 100; ++i)
          members.push_back(otpp::spawn([] { otpp::this_process::receive([](int) {}); }));
        pg::join("bench", "big", members);
        std::size_t total = 0;
        t0 = bench::clock::now();
        for (long i = 0; i < reads; ++i)
          total += pg::get_members("bench", "big").size();
        s = bench::seconds_since(t0);
        bool right = total == static_cast<std::size_t>(reads) * 100;
        ok &= right;
        fmt::print(
            "pg get_members by name: {} reads of 100 members in {:.3f} s: {:.2f}M reads/s{}\n",
            reads, s, static_cast<double>(reads) / s / 1e6, right ? "" : " WRONG");
        auto found = pg::scope::find("bench");
        total = 0;
        t0 = bench::clock::now();
        for (long i = 0; i < reads; ++i)
          total += found.members("big")->size();
        s = bench::seconds_since(t0);
        right = total == static_cast<std::size_t>(reads) * 100;
        ok &= right;
        fmt::print("pg members via scope: {} reads of 100 members in {:.3f} s: {:.2f}M "
                   "reads/s{}\n",
                   reads, s, static_cast<double>(reads) / s / 1e6, right ? "" : " WRONG");
        for (auto& p : members)
          otpp::send(p, 0);
        otpp::stop(scope);
        otpp::send(self, ok);
      },
      {.scheduler = 0});
  return otpp::this_process::receive<bool>() ? 0 : 1;
}
