#include <otpp/core/asio.hpp>

#include "otpp_test.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/buffer.hpp>
#include <boost/asio/error.hpp>
#include <boost/asio/ip/address_v4.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <boost/system/error_code.hpp>
#include <boost/system/system_error.hpp>
#include <catch2/catch.hpp>
#include <fmt/format.h>

#include <array>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <stdexcept>
#include <string>
#include <thread>
#include <tuple>
#include <utility>

namespace OTPP_TEST_FILE {

using namespace std::chrono_literals;
namespace asio = boost::asio;
namespace tp = otpp::this_process;
using asio::ip::tcp;
using boost::system::error_code;
using otpp::exit_reason;

namespace {
using otpp_test::count_on_destroy;
using otpp_test::ping;
using otpp_test::pong;

using otpp_test::down_reason;
using otpp_test::wait_until_waiting;

struct go {};
struct done {};
struct survived {};
struct stop_timer {};
struct armed {
  asio::steady_timer* timer;
};
struct cancel {
  asio::steady_timer* timer;
};
struct timer_done {
  error_code ec;
  std::chrono::steady_clock::duration waited;
};
struct errors {
  error_code thrown;
  error_code returned;
};
struct listening {
  unsigned short port;
};
struct echoed {
  std::string text;
};
struct tick {
  int id;
};
using tick_result = otpp::io_result<tick, error_code>;

// Ping `p` and wait for its answer.
void round_trip(const otpp::pid& p) {
  otpp::send(p, ping{tp::self()});
  CHECK(otpp_test::expect<pong>().from == p);
}

tcp::endpoint loopback(unsigned short port) {
  return {asio::ip::address_v4::loopback(), port};
}

} // namespace

TEST_CASE("use_process returns once the operation has completed", "[core][asio]") {
  const unsigned n = GENERATE(1u, 3u);
  OTPP_TEST_RUNTIME({.schedulers = n});
  const otpp::pid test = sp.self();

  rt.spawn([test] {
    // The clock is read before the timer is made: its 20 ms run from its
    // construction (ASan+UBSan at -O0 once measured 19.92 ms from a read
    // taken after it).
    const auto start = std::chrono::steady_clock::now();
    asio::steady_timer timer(tp::executor(), 20ms);
    timer.async_wait(otpp::use_process); // void: no error
    otpp::send(test, timer_done{{}, std::chrono::steady_clock::now() - start});
  });
  timer_done r = otpp_test::expect<timer_done>();
  CHECK_FALSE(r.ec);
  CHECK(r.waited >= 20ms); // a timer never completes early
}

TEST_CASE("use_process suspends only the calling process, others on its scheduler keep running",
          "[core][asio]") {
  const unsigned n = GENERATE(1u, 3u);
  OTPP_TEST_RUNTIME({.schedulers = n});
  const otpp::pid test = sp.self();

  // Both on scheduler 0: the helper can only answer if the sleeper's wait
  // leaves the thread free; it also owns the right to cancel the timer
  // (same thread as the timer's io_context).
  otpp::pid helper = rt.spawn(
      [test] {
        for (;;)
          tp::receive([](ping& p) { otpp::send(p.from, pong{tp::self()}); },
                      [test](cancel& c) {
                        c.timer->cancel();
                        otpp::send(test, done{});
                      });
      },
      {.scheduler = 0});
  otpp::pid sleeper = rt.spawn(
      [test] {
        asio::steady_timer timer(tp::executor(), std::chrono::hours(1));
        otpp::send(test, armed{&timer});
        auto [ec] = timer.async_wait(asio::as_tuple(otpp::use_process));
        otpp::send(test, timer_done{ec, {}});
      },
      {.scheduler = 0});
  asio::steady_timer* timer = otpp_test::expect<armed>().timer;
  wait_until_waiting(sleeper); // inside async_wait
  for (int i = 0; i < 3; ++i)
    round_trip(helper);
  CHECK(otpp::info(sleeper).status == otpp::process_status::waiting);
  CHECK(otpp_test::nothing<timer_done>(0ms));
  otpp::send(helper, cancel{timer});
  otpp_test::expect<done>();
  CHECK(otpp_test::expect<timer_done>().ec == asio::error::operation_aborted);
}

TEST_CASE("use_process throws system_error for a failed operation, as_tuple returns the error",
          "[core][asio]") {
  const unsigned n = GENERATE(1u, 3u);
  OTPP_TEST_RUNTIME({.schedulers = n});
  const otpp::pid test = sp.self();

  otpp::spawned_monitor s = otpp::spawn_monitor([test] {
    // A port nobody listens on any more.
    const tcp::endpoint closed = [] {
      tcp::acceptor a(tp::executor(), loopback(0));
      return a.local_endpoint();
    }();
    error_code thrown;
    try {
      tcp::socket sock(tp::executor());
      sock.async_connect(closed, otpp::use_process);
    } catch (const boost::system::system_error& e) {
      thrown = e.code();
    }
    tcp::socket sock(tp::executor());
    auto [returned] = sock.async_connect(closed, asio::as_tuple(otpp::use_process));
    otpp::send(test, errors{thrown, returned});
  });
  errors e = otpp_test::expect<errors>();
  CHECK(e.thrown == asio::error::connection_refused);
  CHECK(e.returned == asio::error::connection_refused);
  CHECK(down_reason(s.monitor) == exit_reason::normal());
}

TEST_CASE("TCP echo over loopback between two processes using use_process", "[core][asio]") {
  const unsigned n = GENERATE(1u, 3u);
  OTPP_TEST_RUNTIME({.schedulers = n});
  const otpp::pid test = sp.self();

  otpp::spawned_monitor server = otpp::spawn_monitor([test] {
    tcp::acceptor acceptor(tp::executor(), loopback(0));
    otpp::send(test, listening{acceptor.local_endpoint().port()});
    tcp::socket s = acceptor.async_accept(otpp::use_process);
    std::array<char, 16> buf{}; // smaller than the text: several reads
    for (;;) {
      auto [ec, got] = s.async_read_some(asio::buffer(buf), asio::as_tuple(otpp::use_process));
      if (ec == asio::error::eof)
        return;
      if (ec)
        throw boost::system::system_error(ec);
      std::size_t sent = asio::async_write(s, asio::buffer(buf.data(), got), otpp::use_process);
      if (sent != got)
        throw std::logic_error("short write");
    }
  });
  const unsigned short port = otpp_test::expect<listening>().port;
  otpp::spawned_monitor client = otpp::spawn_monitor([test, port] {
    tcp::socket c(tp::executor());
    c.async_connect(loopback(port), otpp::use_process);
    for (std::string text : {"hello, otpp", "a second line, longer than one read of the server"}) {
      asio::async_write(c, asio::buffer(text), otpp::use_process);
      std::string back(text.size(), '\0');
      std::size_t got = asio::async_read(c, asio::buffer(back), otpp::use_process);
      back.resize(got);
      otpp::send(test, echoed{back});
    }
  });
  CHECK(otpp_test::expect<echoed>().text == "hello, otpp");
  CHECK(otpp_test::expect<echoed>().text == "a second line, longer than one read of the server");
  CHECK(down_reason(client.monitor) == exit_reason::normal());
  CHECK(down_reason(server.monitor) == exit_reason::normal()); // it read end of file
}

TEST_CASE(
    "to_mailbox delivers the result as an io_result message while the process serves its mailbox",
    "[core][asio]") {
  const unsigned n = GENERATE(1u, 3u);
  OTPP_TEST_RUNTIME({.schedulers = n});
  const otpp::pid test = sp.self();

  otpp::spawned_monitor p = otpp::spawn_monitor([test] {
    asio::steady_timer long_timer(tp::executor(), std::chrono::hours(1));
    long_timer.async_wait(otpp::to_mailbox(tick{7}));
    otpp::send(test, done{});
    bool finished = false;
    while (!finished)
      finished = tp::receive(
          [](ping& pg) {
            otpp::send(pg.from, pong{tp::self()});
            return false;
          },
          [&long_timer](stop_timer&) {
            long_timer.cancel();
            return false;
          },
          [test](tick_result& r) {
            otpp::send(test, std::move(r));
            return true;
          });
    // A result can also go to another process.
    asio::steady_timer short_timer(tp::executor(), 1ms);
    short_timer.async_wait(otpp::to_mailbox(tick{8}, test));
    tp::receive<go>(); // keep the timer alive until the test has its result
  });
  otpp_test::expect<done>();
  for (int i = 0; i < 3; ++i)
    round_trip(p.pid);
  CHECK(otpp_test::nothing<tick_result>(0ms));
  otpp::send(p.pid, stop_timer{});
  tick_result aborted = otpp_test::expect<tick_result>();
  CHECK(aborted.tag.id == 7);
  CHECK(std::get<0>(aborted.args) == asio::error::operation_aborted);
  tick_result fired = otpp_test::expect<tick_result>();
  CHECK(fired.tag.id == 8);
  CHECK_FALSE(std::get<0>(fired.args));
  otpp::send(p.pid, go{});
  CHECK(down_reason(p.monitor) == exit_reason::normal());
}

TEST_CASE("a process killed while a use_process operation is pending ends with killed at once",
          "[core][asio]") {
  const unsigned n = GENERATE(1u, 3u);
  OTPP_TEST_RUNTIME({.schedulers = n});
  const otpp::pid test = sp.self();
  std::atomic<int> destroyed{0};
  otpp::spawned_monitor victim;

  SECTION("waiting on a one-hour timer") {
    victim = otpp::spawn_monitor([test, &destroyed] {
      count_on_destroy local{&destroyed};
      asio::steady_timer timer(tp::executor(), std::chrono::hours(1));
      otpp::send(test, done{});
      timer.async_wait(otpp::use_process);
      otpp::send(test, survived{});
    });
  }
  SECTION("reading a socket that gets no data") {
    victim = otpp::spawn_monitor([test, &destroyed] {
      count_on_destroy local{&destroyed};
      tcp::acceptor acceptor(tp::executor(), loopback(0));
      tcp::socket quiet(tp::executor());
      quiet.async_connect(acceptor.local_endpoint(),
                          otpp::use_process); // completes through the backlog
      tcp::socket s = acceptor.async_accept(otpp::use_process);
      std::array<char, 8> buf{};
      otpp::send(test, done{});
      asio::async_read(s, asio::buffer(buf), otpp::use_process);
      otpp::send(test, survived{});
    });
  }
  otpp_test::expect<done>();
  wait_until_waiting(victim.pid);
  otpp::kill(victim.pid);
  CHECK(down_reason(victim.monitor) == exit_reason::killed());
  CHECK(destroyed.load() == 1);
  CHECK(otpp_test::nothing<survived>(20ms));

  // The schedulers carry on (the aborted completion finds the process gone)...
  otpp::spawned_monitor later = otpp::spawn_monitor([] {
    asio::steady_timer timer(tp::executor(), 1ms);
    timer.async_wait(otpp::use_process);
  });
  CHECK(down_reason(later.monitor) == exit_reason::normal());
  // ...and the runtime shuts down cleanly.
  rt.shutdown();
  CHECK(rt.run() == 0);
  CHECK(rt.process_count() == 0);
}

} // namespace OTPP_TEST_FILE
