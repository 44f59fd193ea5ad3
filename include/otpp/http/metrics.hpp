// The runtime's metrics over HTTP, in the Prometheus text exposition format
// 0.0.4 (what a Prometheus server scrapes).
// Distributed under the Boost Software License, Version 1.0.
#pragma once

#include <otpp/core/runtime.hpp>
#include <otpp/http/server.hpp>

#include <string>
#include <utility>

namespace otpp::http {

/// The content type of the text exposition format.
inline constexpr const char* metrics_content_type = "text/plain; version=0.0.4; charset=utf-8";

/// Serve `rt.metrics()` on `srv` at `path` (GET). `rt` must outlive the
/// route (destroy the server first).
inline void serve_metrics(server& srv, runtime& rt, std::string path = "/metrics") {
  srv.route(std::move(path), [&rt](const request& r) {
    if (r.method != "GET" && r.method != "HEAD")
      return response{405, "text/plain; charset=utf-8", "GET only\n"};
    return response{200, metrics_content_type, rt.metrics().render()};
  });
}

/// A server of its own that serves `rt`'s metrics at `/metrics`, for as
/// long as it lives (destroy it before the runtime).
///
/// @code
/// otpp::http::metrics_endpoint metrics(rt, {.port = 9464});
/// fmt::print("metrics: {}\n", metrics.url());
/// @endcode
class metrics_endpoint {
public:
  explicit metrics_endpoint(runtime& rt, server_options opts = {}) : server_(std::move(opts)) {
    serve_metrics(server_, rt);
  }
  std::uint16_t port() const noexcept { return server_.port(); }
  /// The metrics' URL (`http://127.0.0.1:PORT/metrics`).
  std::string url() const { return server_.url("/metrics"); }
  http::server& server() noexcept { return server_; }

private:
  http::server server_;
};

} // namespace otpp::http
