// selective receive: request/reply round trips while the requester's
// mailbox holds 0, 1k or 100k unrelated messages. With the receive mark the
// cost per round trip stays flat.
// Usage: bench_selective_receive [round_trips=100000]
#include <otpp/otpp.hpp>

#include "bench_common.hpp"

#include <vector>

namespace {
struct request {
  otpp::pid from;
  otpp::ref tag;
};
struct reply {
  otpp::ref tag;
};
struct junk {
  long n;
};
struct stop {};
struct result {
  double rate;
};

double measure(otpp::runtime& rt, long backlog, long trips) {
  otpp::pid server = rt.spawn(
      [] {
        bool running = true;
        while (running)
          otpp::this_process::receive([](request& r) { otpp::send(r.from, reply{r.tag}); },
                                      [&](stop) { running = false; });
      },
      {.scheduler = 0});
  otpp::pid self = otpp::this_process::self();
  rt.spawn(
      [=] {
        otpp::pid me = otpp::this_process::self();
        for (long i = 0; i < backlog; ++i)
          otpp::send(me, junk{i});
        auto t0 = bench::clock::now();
        for (long i = 0; i < trips; ++i) {
          auto mark = otpp::this_process::mark();
          otpp::ref tag = otpp::make_ref();
          otpp::send(server, request{me, tag});
          otpp::this_process::receive(
              mark, otpp::when([tag](const reply& r) { return r.tag == tag; }, [](reply&) {}));
        }
        double s = bench::seconds_since(t0);
        otpp::send(server, stop{});
        otpp::send(self, result{static_cast<double>(trips) / s});
      },
      {.scheduler = 0});
  return otpp::this_process::receive<result>().rate;
}
} // namespace

int main(int argc, char** argv) {
  const long trips = bench::arg(argc, argv, 1, 100000);
  otpp::runtime rt({.schedulers = bench::schedulers(1)});
  otpp::scoped_process main_process(rt);
  std::vector<double> rates;
  for (long backlog : {0L, 1000L, 100000L})
    rates.push_back(measure(rt, backlog, trips));
  fmt::print("selective receive: {:.2f}M / {:.2f}M / {:.2f}M round trips/s with 0 / 1k / 100k "
             "queued messages\n",
             rates[0] / 1e6, rates[1] / 1e6, rates[2] / 1e6);
  return 0;
}
