// asio_echo_server: a TCP echo server with one process per connection.
//
// Shows:    Asio I/O as straight-line code with the otpp::use_process token
//           (only the calling process waits, its scheduler runs the others), an
//           acceptor spawning a process per socket, clients in the same
//           program, and a clean shutdown.
// OTP idea: the gen_tcp acceptor pattern: gen_tcp:listen, a loop on
//           gen_tcp:accept that spawns a handler per socket, gen_tcp:recv /
//           gen_tcp:send in {active, false} mode, exit(Acceptor, shutdown).
// Run:      cmake --preset dev && cmake --build --preset dev --target asio_echo_server
//           && ./build/dev/examples/asio_echo_server
// Expected output (the port is chosen by the OS, pid numbers vary):
//   echo server listening on 127.0.0.1:41873
//   client 0: 5 of 5 lines echoed
//   client 1: 5 of 5 lines echoed
//   client 2: 5 of 5 lines echoed
//   client 3: 5 of 5 lines echoed
//   acceptor <0.2.0> down: shutdown
//   ok
#include <otpp/otpp.hpp>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/buffer.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/write.hpp>
#include <fmt/format.h>

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using namespace std::chrono_literals;
namespace tp = otpp::this_process;

namespace {

constexpr int clients = 4;
constexpr int lines_per_client = 5;

struct listening {
  std::uint16_t port;
};
struct client_done {
  int id;
  int echoed;
  std::string error; // empty on success
};

// A socket bound to one scheduler's io_context, as async_accept(executor, ...) makes it.
using server_socket = asio::basic_stream_socket<tcp, asio::io_context::executor_type>;

// One process per connection: echo whole lines until the client closes.
void connection(server_socket& sock) {
  std::string buf;
  for (;;) {
    auto [ec, n] = asio::async_read_until(sock, asio::dynamic_buffer(buf), '\n',
                                          asio::as_tuple(otpp::use_process));
    if (ec == asio::error::eof)
      return; // the client closed: end normally
    if (ec)
      throw boost::system::system_error(ec);
    asio::async_write(sock, asio::buffer(buf.data(), n), otpp::use_process);
    buf.erase(0, n);
  }
}

void acceptor(otpp::pid parent) {
  otpp::runtime& rt = tp::get_runtime();
  tcp::acceptor acc(tp::executor(), tcp::endpoint(asio::ip::address_v4::loopback(), 0));
  otpp::send(parent, listening{acc.local_endpoint().port()});
  for (unsigned n = 0;; ++n) {
    // An I/O object is used only by processes of the scheduler whose
    // io_context it belongs to. So we pick the scheduler k of the next
    // connection first, accept the socket straight onto k's io_context
    // (async_accept(executor, token)) and spawn its process on k: connections
    // spread over all schedulers and no socket changes thread. (Accepting onto
    // our own executor and spawning on our own scheduler is also correct, but
    // puts every connection on the acceptor's thread.)
    const unsigned k = n % rt.scheduler_count();
    server_socket sock = acc.async_accept(rt.executor(k), otpp::use_process);
    otpp::spawn([s = std::move(sock)]() mutable { connection(s); }, {.scheduler = k});
  } // until an exit signal ends the process; unwinding closes `acc`
}

void client(int id, std::uint16_t port, otpp::pid parent) {
  client_done result{id, 0, {}};
  try {
    tcp::socket sock(tp::executor()); // our scheduler's io_context
    sock.async_connect(tcp::endpoint(asio::ip::address_v4::loopback(), port), otpp::use_process);
    std::string buf;
    for (int i = 0; i < lines_per_client; ++i) {
      const std::string line = fmt::format("client {} says hello #{}\n", id, i);
      asio::async_write(sock, asio::buffer(line), otpp::use_process);
      const std::size_t n =
          asio::async_read_until(sock, asio::dynamic_buffer(buf), '\n', otpp::use_process);
      if (buf.compare(0, n, line) == 0)
        ++result.echoed;
      buf.erase(0, n);
    }
  } catch (const boost::system::system_error& e) {
    result.error = e.what();
  }
  otpp::send(parent, std::move(result)); // the socket is closed: its connection process ends
}

} // namespace

int main() {
  otpp::runtime rt({.schedulers = 2});
  bool ok = true;
  {
    otpp::scoped_process main_process(rt);
    const otpp::pid me = main_process.self();
    const auto acc = otpp::spawn_monitor([me] { acceptor(me); });
    const std::uint16_t port = tp::receive([](listening& l) { return l.port; },
                                           otpp::after(10s, [] { return std::uint16_t{0}; }));
    ok = port != 0;
    if (ok)
      fmt::print("echo server listening on 127.0.0.1:{}\n", port);

    std::vector<client_done> results(clients); // indexed by client id
    for (int id = 0; ok && id < clients; ++id)
      otpp::spawn([=] { client(id, port, me); });
    for (int received = 0; ok && received < clients; ++received)
      ok = tp::receive(
          [&](client_done& d) {
            results.at(static_cast<std::size_t>(d.id)) = std::move(d);
            return true;
          },
          otpp::after(30s, [] { return false; }));
    for (const auto& r : results) {
      fmt::print("client {}: {} of {} lines echoed{}\n", r.id, r.echoed, lines_per_client,
                 r.error.empty() ? "" : " (" + r.error + ")");
      ok = ok && r.echoed == lines_per_client && r.error.empty();
    }

    otpp::exit(acc.pid, otpp::exit_reason::shutdown()); // stop accepting
    ok = tp::receive(otpp::when([&](const otpp::down& d) { return d.monitor == acc.monitor; },
                                [&](otpp::down& d) {
                                  fmt::print("acceptor {} down: {}\n", d.process, d.reason);
                                  return ok && d.reason == otpp::exit_reason::shutdown();
                                }),
                     otpp::after(10s, [] { return false; }));
  }
  if (!ok)
    rt.shutdown(); // on failure, do not wait for stuck processes
  rt.run();        // connection processes end when their client has closed
  fmt::print("{}\n", ok ? "ok" : "FAILED");
  return ok ? 0 : 1;
}
