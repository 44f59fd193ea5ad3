// A small embedded HTTP/1.1 server (Boost.Beast) for otpp's endpoints:
// metrics now, the observer page later. Loopback by default, an optional
// access token, bounded requests and timeouts.
// Distributed under the Boost Software License, Version 1.0.
#pragma once

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>

#include <fmt/format.h>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

namespace otpp::http {

/// Where and how a `server` listens.
struct server_options {
  /// The address to bind: loopback unless you mean to expose it.
  std::string address = "127.0.0.1";
  /// The port; 0 picks a free one (see `server::port`).
  std::uint16_t port = 0;
  /// When not empty, every request must carry it, as `Authorization:
  /// Bearer <token>` or as the query parameter `token=<token>`; others get
  /// 401.
  std::string token{};
  /// Requests larger than this (headers and body) are refused (413/400).
  std::size_t max_request_bytes = 16 * 1024;
  /// A connection idle (or a request unfinished) this long is closed.
  std::chrono::milliseconds timeout{10000};
  /// Connections open at once at most (event streams included); more get
  /// 503 and are closed.
  std::size_t max_connections = 64;
};

/// What a handler sees of a request.
struct request {
  std::string_view method; ///< "GET", ...
  std::string_view path;   ///< the target without its query
  std::string_view query;  ///< after '?', empty if none
  std::string_view body;
  /// The value of query parameter `name` (not decoded), empty if absent.
  std::string_view param(std::string_view name) const noexcept {
    std::string_view q = query;
    while (!q.empty()) {
      const std::size_t amp = q.find('&');
      const std::string_view pair = q.substr(0, amp);
      const std::size_t eq = pair.find('=');
      if (pair.substr(0, eq) == name)
        return eq == std::string_view::npos ? std::string_view() : pair.substr(eq + 1);
      if (amp == std::string_view::npos)
        break;
      q.remove_prefix(amp + 1);
    }
    return {};
  }
};

/// What a handler answers.
struct response {
  unsigned status = 200;
  std::string content_type = "text/plain; charset=utf-8";
  std::string body;
};

/// A handler: runs on the server's own thread, one request at a time.
/// An exception becomes a 500 with its message.
using handler = std::function<response(const request&)>;

/// An event stream's source: called every `interval` on the server's
/// thread; what it returns is sent as one server-sent event when it differs
/// from what it returned last (so an unchanged view costs no traffic).
using event_source = std::function<std::string()>;

/// An HTTP/1.1 server on its own thread (its own io_context: a busy
/// scheduler never delays it), serving registered paths. Started by the
/// constructor, stopped (connections closed, thread joined) by the
/// destructor.
///
/// @par Thread safety
/// `route` and the accessors may be called from any thread.
class server {
public:
  /// Binds and starts listening; throws `boost::system::system_error` if
  /// the address cannot be bound.
  explicit server(server_options opts = {})
      : opts_(std::move(opts)), state_(std::make_shared<shared>()),
        acceptor_(io_, {boost::asio::ip::make_address(opts_.address), opts_.port}) {
    port_ = acceptor_.local_endpoint().port();
    accept();
    thread_ = std::thread([this] { io_.run(); });
  }
  server(const server&) = delete;
  server& operator=(const server&) = delete;
  ~server() { stop(); }

  /// Serve `path` (exact match) with `h`, replacing any handler it had.
  void route(std::string path, handler h) {
    std::lock_guard lock(state_->mutex);
    state_->routes[std::move(path)] = {std::move(h), {}, {}};
  }
  /// Serve `path` as a stream of server-sent events (`text/event-stream`,
  /// for a browser's EventSource): each GET gets its own stream, polled
  /// every `interval`, with a comment line every 15 s to keep it open.
  void route_events(std::string path, event_source source, std::chrono::milliseconds interval) {
    std::lock_guard lock(state_->mutex);
    state_->routes[std::move(path)] = {{}, std::move(source), interval};
  }

  std::uint16_t port() const noexcept { return port_; }
  /// `http://address:port` followed by `path`.
  std::string url(std::string_view path = "/") const {
    return fmt::format("http://{}:{}{}", opts_.address, port_, path);
  }
  const server_options& options() const noexcept { return opts_; }

  /// Stop serving: close the listener and every connection, join the thread.
  void stop() {
    if (!thread_.joinable())
      return;
    io_.stop();
    thread_.join();
  }

private:
  struct route_entry {
    handler h;
    event_source events;
    std::chrono::milliseconds interval{};
  };
  struct shared {
    std::mutex mutex;
    std::map<std::string, route_entry, std::less<>> routes;
    std::size_t open = 0; // sessions alive (the server's thread only)
  };

  // One connection: read a request, answer it, again while it keeps alive.
  struct session : std::enable_shared_from_this<session> {
    session(boost::asio::ip::tcp::socket s, const server_options& o, std::shared_ptr<shared> st)
        : stream(std::move(s)), opts(o), state(std::move(st)) {
      ++state->open;
    }
    session(const session&) = delete;
    session& operator=(const session&) = delete;
    ~session() { --state->open; }

    void start() {
      if (state->open > opts.max_connections) {
        reply(503, "text/plain; charset=utf-8", "too many connections\n", false, 11);
        return;
      }
      read();
    }

    void read() {
      parser.emplace();
      parser->header_limit(static_cast<std::uint32_t>(opts.max_request_bytes));
      parser->body_limit(opts.max_request_bytes);
      stream.expires_after(opts.timeout);
      boost::beast::http::async_read(
          stream, buffer, *parser,
          [self = this->shared_from_this()](boost::beast::error_code ec, std::size_t) {
            self->on_read(ec);
          });
    }

    void on_read(boost::beast::error_code ec) {
      namespace bhttp = boost::beast::http;
      if (ec == bhttp::error::end_of_stream || ec == boost::asio::error::operation_aborted ||
          ec == boost::beast::error::timeout) {
        close();
        return;
      }
      if (ec) { // malformed or too large: answer, then close
        const bool too_large = ec == bhttp::error::body_limit || ec == bhttp::error::header_limit;
        reply(too_large ? 413 : 400, "text/plain; charset=utf-8", fmt::format("{}\n", ec.message()),
              false, 11);
        return;
      }
      const auto& req = parser->get();
      const std::string_view target(req.target().data(), req.target().size());
      const std::size_t q = target.find('?');
      request r;
      r.method = std::string_view(req.method_string().data(), req.method_string().size());
      r.path = target.substr(0, q);
      r.query = q == std::string_view::npos ? std::string_view() : target.substr(q + 1);
      r.body = req.body();
      const bool keep = req.keep_alive();
      const unsigned version = req.version();
      if (!authorised(req, r)) {
        reply(401, "text/plain; charset=utf-8", "a valid access token is required\n", keep,
              version);
        return;
      }
      route_entry route;
      {
        std::lock_guard lock(state->mutex);
        if (auto it = state->routes.find(r.path); it != state->routes.end())
          route = it->second;
      }
      if (route.events && r.method == "GET") {
        stream_events(std::move(route.events), route.interval);
        return;
      }
      handler h = std::move(route.h);
      if (!h) {
        reply(404, "text/plain; charset=utf-8", fmt::format("no such path: {}\n", r.path), keep,
              version);
        return;
      }
      response out;
      try {
        out = h(r);
      } catch (const std::exception& e) {
        out = {500, "text/plain; charset=utf-8", fmt::format("handler failed: {}\n", e.what())};
      } catch (...) {
        out = {500, "text/plain; charset=utf-8", "handler failed (not a std::exception)\n"};
      }
      reply(out.status, out.content_type, std::move(out.body), keep, version);
    }

    template <class Req> bool authorised(const Req& req, const request& r) const {
      if (opts.token.empty())
        return true;
      const auto auth = req[boost::beast::http::field::authorization];
      const std::string_view given(auth.data(), auth.size());
      constexpr std::string_view bearer = "Bearer ";
      if (given.substr(0, bearer.size()) == bearer && same(given.substr(bearer.size()), opts.token))
        return true;
      return same(r.param("token"), opts.token);
    }
    // Compares in time that depends on the lengths only.
    static bool same(std::string_view a, std::string_view b) noexcept {
      if (a.size() != b.size())
        return false;
      unsigned char diff = 0;
      for (std::size_t i = 0; i < a.size(); ++i)
        diff = static_cast<unsigned char>(diff | (a[i] ^ b[i]));
      return diff == 0;
    }

    void reply(unsigned status, std::string_view type, std::string body, bool keep,
               unsigned version) {
      namespace bhttp = boost::beast::http;
      auto res = std::make_shared<bhttp::response<bhttp::string_body>>(
          static_cast<bhttp::status>(status), version);
      res->set(bhttp::field::server, "otpp");
      res->set(bhttp::field::content_type, type);
      res->set(bhttp::field::cache_control, "no-store");
      res->keep_alive(keep);
      res->body() = std::move(body);
      res->prepare_payload();
      stream.expires_after(opts.timeout);
      bhttp::async_write(
          stream, *res,
          [self = this->shared_from_this(), res](boost::beast::error_code ec, std::size_t) {
            if (ec || !res->keep_alive())
              self->close();
            else
              self->read();
          });
    }

    // A server-sent event stream: the header, then an event each time the
    // source's text changes (each of its lines as a `data:` line).
    void stream_events(event_source source, std::chrono::milliseconds interval) {
      events = std::move(source);
      every = interval;
      timer.emplace(stream.get_executor());
      stream.expires_never();
      tick("HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: no-store\r\n"
           "Connection: close\r\nServer: otpp\r\n\r\n");
    }
    // Send `out` and the source's text if it changed (or a keep-alive).
    void tick(std::string out = {}) {
      std::string text;
      try {
        text = events();
      } catch (...) {
        text = "{\"error\": \"the event source failed\"}";
      }
      const auto now = std::chrono::steady_clock::now();
      if (text != last_event) {
        last_event = text;
        std::string_view rest = text;
        while (!rest.empty()) {
          const std::size_t nl = rest.find('\n');
          out += "data: ";
          out += rest.substr(0, nl);
          out += '\n';
          rest = nl == std::string_view::npos ? std::string_view() : rest.substr(nl + 1);
        }
        out += '\n';
        last_sent = now;
        send(std::move(out));
      } else if (!out.empty() || now - last_sent >= std::chrono::seconds(15)) {
        last_sent = now;
        send(out + ": keep-alive\n\n");
      } else {
        wait_tick();
      }
    }
    void send(std::string text) {
      auto data = std::make_shared<std::string>(std::move(text));
      boost::asio::async_write(
          stream.socket(), boost::asio::buffer(*data),
          [self = this->shared_from_this(), data](boost::beast::error_code ec, std::size_t) {
            if (ec)
              self->close();
            else
              self->wait_tick();
          });
    }
    void wait_tick() {
      timer->expires_after(every);
      timer->async_wait([self = this->shared_from_this()](boost::beast::error_code ec) {
        if (!ec)
          self->tick();
      });
    }

    void close() {
      if (timer)
        timer->cancel();
      boost::beast::error_code ignored;
      stream.socket().shutdown(boost::asio::ip::tcp::socket::shutdown_both, ignored);
      stream.socket().close(ignored);
    }

    boost::beast::tcp_stream stream;
    const server_options& opts;
    std::shared_ptr<shared> state;
    boost::beast::flat_buffer buffer;
    std::optional<boost::beast::http::request_parser<boost::beast::http::string_body>> parser;
    // A server-sent event stream (stream_events).
    event_source events;
    std::chrono::milliseconds every{};
    std::optional<boost::asio::steady_timer> timer;
    std::string last_event;
    std::chrono::steady_clock::time_point last_sent{};
  };

  void accept() {
    acceptor_.async_accept([this](boost::beast::error_code ec, boost::asio::ip::tcp::socket s) {
      if (ec == boost::asio::error::operation_aborted)
        return;
      if (!ec)
        std::make_shared<session>(std::move(s), opts_, state_)->start();
      accept();
    });
  }

  server_options opts_;
  std::shared_ptr<shared> state_;
  boost::asio::io_context io_{1};
  boost::asio::ip::tcp::acceptor acceptor_;
  std::uint16_t port_ = 0;
  std::thread thread_;
};

} // namespace otpp::http
