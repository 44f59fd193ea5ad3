#include <otpp/core/channel.hpp>

#include <otpp/core/process.hpp>
#include <otpp/core/receive.hpp>
#include <otpp/core/runtime.hpp>

#include "otpp_test.hpp"

#include <catch2/catch.hpp>

#include <chrono>
#include <string>

namespace OTPP_TEST_FILE {

using namespace std::chrono_literals;
namespace tp = otpp::this_process;

TEST_CASE("a value sent on a send port reaches only its channel's receive port, in order",
          "[core][channel]") {
  const unsigned n = GENERATE(1u, 3u);
  OTPP_TEST_RUNTIME({.schedulers = n});
  auto [a_send, a_recv] = otpp::make_channel<int>();
  auto [b_send, b_recv] = otpp::make_channel<int>();
  CHECK(a_send.owner() == tp::self());
  CHECK_FALSE(a_send == b_send);
  auto writer = otpp::spawn_monitor([a = a_send, b = b_send] {
    a.send(1);
    b.send(10);
    a.send(2);
  });
  CHECK(otpp_test::down_reason(writer.monitor) == otpp::exit_reason::normal());
  CHECK(b_recv.receive() == 10); // the other channel's values stay queued
  CHECK(a_recv.receive() == 1);
  CHECK(a_recv.receive() == 2);
  CHECK_FALSE(a_recv.receive_for(10ms).has_value());
  CHECK(tp::mailbox_length() == 0);
}

TEST_CASE("a receive port's handler combines with other receive handlers", "[core][channel]") {
  const unsigned n = GENERATE(1u, 3u);
  OTPP_TEST_RUNTIME({.schedulers = n});
  auto [out, in] = otpp::make_channel<std::string>();
  otpp::send(tp::self(), 5);
  out.send("hello");
  std::string got = tp::receive(in.handler([](std::string& s) { return s; }),
                                [](int) { return std::string("int"); });
  CHECK(got == "int"); // the int came first
  got = tp::receive(in.handler([](std::string& s) { return s; }),
                    [](int) { return std::string("int"); });
  CHECK(got == "hello");
}

TEST_CASE("sending on the port of an ended process is a silent no-op", "[core][channel]") {
  OTPP_TEST_RUNTIME({.schedulers = 1});
  auto owner = otpp::spawn_monitor([me = tp::self()] {
    auto [s, r] = otpp::make_channel<int>();
    otpp::send(me, s);
  });
  auto port = tp::receive<otpp::send_port<int>>();
  CHECK(otpp_test::down_reason(owner.monitor) == otpp::exit_reason::normal());
  port.send(3);
  CHECK(port.owner() == owner.pid);
}

} // namespace OTPP_TEST_FILE
