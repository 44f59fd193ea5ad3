// A blocking HTTP/1.1 client on 127.0.0.1 for tests of otpp's endpoints.
// Distributed under the Boost Software License, Version 1.0.
#pragma once

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/streambuf.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>

#include <cstdint>
#include <istream>
#include <iterator>
#include <string>

namespace otpp_test {

struct reply {
  unsigned status = 0;
  std::string content_type;
  std::string body;
};

// One request on 127.0.0.1:port: `method target` (with an Authorization
// header when given), or the bytes of `raw` when not empty.
inline reply http_request(std::uint16_t port, const std::string& method, const std::string& target,
                          const std::string& authorization = {}, const std::string& raw = {}) {
  namespace bhttp = boost::beast::http;
  boost::asio::io_context io;
  boost::asio::ip::tcp::socket s(io);
  s.connect({boost::asio::ip::make_address("127.0.0.1"), port});
  if (raw.empty()) {
    bhttp::request<bhttp::string_body> req(bhttp::string_to_verb(method), target, 11);
    req.set(bhttp::field::host, "127.0.0.1");
    if (!authorization.empty())
      req.set(bhttp::field::authorization, authorization);
    req.prepare_payload();
    bhttp::write(s, req);
  } else {
    boost::asio::write(s, boost::asio::buffer(raw));
  }
  boost::beast::flat_buffer buf;
  bhttp::response<bhttp::string_body> res;
  bhttp::read(s, buf, res);
  return {res.result_int(), std::string(res[bhttp::field::content_type]), res.body()};
}

inline reply http_get(std::uint16_t port, const std::string& target,
                      const std::string& authorization = {}, const std::string& raw = {}) {
  return http_request(port, "GET", target, authorization, raw);
}

// The response header and the first server-sent event of a GET of `target`
// (everything up to the first blank line after the header).
inline std::string first_event(std::uint16_t port, const std::string& target) {
  boost::asio::io_context io;
  boost::asio::ip::tcp::socket s(io);
  s.connect({boost::asio::ip::make_address("127.0.0.1"), port});
  const std::string req = "GET " + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
  boost::asio::write(s, boost::asio::buffer(req));
  boost::asio::streambuf buf;
  boost::asio::read_until(s, buf, "\r\n\r\n");
  boost::asio::read_until(s, buf, "\n\n");
  return {std::istreambuf_iterator<char>(&buf), std::istreambuf_iterator<char>()};
}

} // namespace otpp_test
