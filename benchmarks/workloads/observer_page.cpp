// The observer page under restarts: a supervisor restarts crashing workers
// as fast as it can (or at a target rate), while a client reads the page's
// server-sent events. Reports the restart rate, the events the page got
// per second, what each carried and how long a snapshot takes.
// Usage: bench_observer_page [seconds=5] [workers=20] [interval_ms=100]
//        [restarts_per_s=10000, 0: as fast as they come]
#include <otpp/http/observer.hpp>
#include <otpp/otpp.hpp>

#include "bench_common.hpp"

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/streambuf.hpp>
#include <boost/asio/write.hpp>

#include <atomic>
#include <istream>
#include <string>
#include <thread>
#include <vector>

using namespace std::chrono_literals;
namespace tp = otpp::this_process;

int main(int argc, char** argv) {
  const double seconds = static_cast<double>(bench::arg(argc, argv, 1, 5));
  const long workers = bench::arg(argc, argv, 2, 20);
  const long interval_ms = bench::arg(argc, argv, 3, 100);
  const long rate = bench::arg(argc, argv, 4, 10000);
  otpp::set_report_handler([](const otpp::report&) {});
  otpp::runtime rt({.schedulers = bench::schedulers(0)});
  // Each worker crashes after a pause that makes the whole tree restart
  // about `rate` children a second (none: at once).
  const auto pause = rate > 0 ? std::chrono::microseconds(1000000L * workers / rate)
                              : std::chrono::microseconds(0);
  std::vector<otpp::child_spec> kids;
  for (long i = 0; i < workers; ++i)
    kids.push_back(otpp::worker(fmt::format("w{}", i), [pause] {
      return otpp::spawn_link([pause] {
        if (pause.count() > 0)
          tp::sleep_for(pause);
        tp::exit(otpp::exit_reason::user("crash"));
      });
    }));
  otpp::start(rt, otpp::supervisor_spec{.strategy = otpp::one_for_one,
                                        .intensity = 1000000000,
                                        .period = 1s,
                                        .children = std::move(kids),
                                        .name = "crashy"});
  otpp::http::observer page(
      rt, {.require_token = false, .interval = std::chrono::milliseconds(interval_ms)});

  // The page's stream, read as a browser would.
  std::atomic<bool> stop{false};
  std::atomic<long> events{0}, bytes{0};
  std::thread reader([&] {
    boost::asio::io_context io;
    boost::asio::ip::tcp::socket s(io);
    s.connect({boost::asio::ip::make_address("127.0.0.1"), page.port()});
    const std::string req = "GET /api/events HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
    boost::asio::write(s, boost::asio::buffer(req));
    boost::asio::streambuf buf;
    boost::asio::read_until(s, buf, "\r\n\r\n");
    buf.consume(buf.size());
    while (!stop.load()) {
      const std::size_t n = boost::asio::read_until(s, buf, "\n\n");
      ++events;
      bytes += static_cast<long>(n);
      buf.consume(n);
    }
  });

  auto restarts = [&] {
    return rt.metrics()
        .counter("otpp_supervisor_restarts_total", "Children restarted by a supervisor.",
                 {{"supervisor", "crashy"}})
        .value();
  };
  const std::uint64_t r0 = restarts();
  const auto t0 = bench::clock::now();
  std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
  const double elapsed = bench::seconds_since(t0);
  const std::uint64_t r1 = restarts();
  const long ev = events.load();
  const long by = bytes.load();
  // A snapshot's cost, measured beside the stream.
  const auto s0 = bench::clock::now();
  for (int i = 0; i < 20; ++i)
    (void)page.snapshot_json();
  const double snap_ms = bench::seconds_since(s0) * 1000 / 20;
  stop.store(true);
  rt.shutdown(); // the tree goes: one more event ends the reader's wait
  reader.join();
  fmt::print(
      "observer page: {:.0f} restarts/s, {:.1f} events/s (interval {} ms), {:.0f} bytes/event, "
      "snapshot {:.2f} ms, {} workers\n",
      static_cast<double>(r1 - r0) / elapsed, static_cast<double>(ev) / elapsed, interval_ms,
      ev > 0 ? static_cast<double>(by) / static_cast<double>(ev) : 0.0, snap_ms, workers);
  return 0;
}
