// Pids of other nodes: proxies hand what is sent to them to their endpoint,
// and signals from the endpoint act on local processes.
// Distributed under the Boost Software License, Version 1.0.
#include <otpp/core/remote.hpp>

#include "otpp_test.hpp"

#include <otpp/core/link.hpp>
#include <otpp/core/monitor.hpp>
#include <otpp/core/registry.hpp>
#include <otpp/core/request.hpp>

#include <catch2/catch.hpp>

#include <fmt/format.h>

#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace OTPP_TEST_FILE {

using namespace std::chrono_literals;
namespace tp = otpp::this_process;
using otpp::exit_reason;
using kind = otpp::remote_delivery::kind;

namespace {
struct hello {
  int n;
};
struct go {};

// Records every delivery; `wait` takes the next one (or throws after patience).
// It keeps the key of the proxy a delivery went to, not the proxy: a
// proxy holds its endpoint, so an endpoint holding one would never go.
class recording_endpoint final : public otpp::remote_endpoint {
public:
  void deliver(const otpp::pid& to, otpp::remote_delivery d) noexcept override {
    std::lock_guard lock(mutex_);
    got_.push_back({otpp::remote::key_of(to), std::move(d)});
    cv_.notify_all();
  }
  std::string node_name() const override { return "far@127.0.0.1"; }

  struct entry {
    std::uint64_t to; // the proxy's key
    otpp::remote_delivery d;
  };
  entry wait() {
    std::unique_lock lock(mutex_);
    if (!cv_.wait_for(lock, otpp_test::patience, [&] { return !got_.empty(); }))
      throw std::runtime_error("recording_endpoint: nothing was delivered");
    entry e = std::move(got_.front());
    got_.erase(got_.begin());
    return e;
  }
  bool idle(std::chrono::milliseconds window = 50ms) {
    std::unique_lock lock(mutex_);
    return !cv_.wait_for(lock, window, [&] { return !got_.empty(); });
  }

private:
  std::mutex mutex_;
  std::condition_variable cv_;
  std::vector<entry> got_;
};
} // namespace

TEST_CASE("a proxy pid is interned per key while a pid to it exists, and prints as its node says",
          "[remote]") {
  auto ep = std::make_shared<recording_endpoint>();
  otpp::pid a = ep->proxy(7);
  otpp::pid b = ep->proxy(7);
  otpp::pid c = ep->proxy(8);
  CHECK(a == b);
  CHECK(a != c);
  CHECK_FALSE(a.is_local());
  CHECK(otpp::remote::is_remote(a));
  CHECK(otpp::remote::key_of(a) == 7);
  CHECK(otpp::remote::endpoint_of(a) == ep.get());
  CHECK(fmt::format("{}", a) == "<far@127.0.0.1.7>");
  CHECK(ep->proxy_count() == 2);
  const auto old_id = a.id();
  a = {};
  b = {};
  CHECK(ep->proxy_count() == 1); // the proxy of 7 went with its last pid
  CHECK(ep->proxy(7).id() != old_id);
  c = {};
  CHECK(ep->proxy_count() == 0);
}

TEST_CASE("what a process sends to a remote pid reaches its endpoint: messages, requests, exits",
          "[remote]") {
  OTPP_TEST_RUNTIME({.schedulers = 2});
  auto ep = std::make_shared<recording_endpoint>();
  const otpp::pid far = ep->proxy(1);
  const otpp::pid me = tp::self();
  CHECK(me.is_local());

  otpp::send(far, hello{42});
  auto e = ep->wait();
  CHECK(e.to == otpp::remote::key_of(far));
  REQUIRE(e.d.what == kind::message);
  REQUIRE(e.d.message.is<hello>());
  CHECK(e.d.message.get<hello>().n == 42);

  // From another process, and from a timer.
  otpp::spawn([far] { otpp::send(far, hello{1}); });
  CHECK(ep->wait().d.message.get<hello>().n == 1);
  otpp::send_after(far, 1ms, hello{2});
  CHECK(ep->wait().d.message.get<hello>().n == 2);

  const otpp::ref tag = otpp::send_request(far, hello{3});
  e = ep->wait();
  REQUIRE(e.d.message.requester() != nullptr);
  CHECK(e.d.message.requester()->pid == me);
  CHECK(e.d.message.requester()->tag == tag);
  CHECK(e.d.message.is<otpp::request<hello>>());
  otpp::cancel_request(tag); // the request's implicit monitor goes too
  e = ep->wait();
  CHECK(e.d.what == kind::demonitor);
  CHECK(e.d.monitor == tag);

  otpp::exit(far, exit_reason::shutdown("bye"));
  e = ep->wait();
  CHECK(e.d.what == kind::exit);
  CHECK(e.d.from == me);
  CHECK(e.d.reason == exit_reason::shutdown("bye"));
  CHECK(ep->idle());
}

TEST_CASE("links and monitors to a remote pid go to its endpoint, and so does the linked process's "
          "exit",
          "[remote]") {
  OTPP_TEST_RUNTIME({.schedulers = 2});
  auto ep = std::make_shared<recording_endpoint>();
  const otpp::pid far = ep->proxy(1);
  const otpp::pid me = tp::self();

  const otpp::pid worker = otpp::spawn([far, me] {
    otpp::link(far);
    const otpp::ref m = otpp::monitor(far);
    otpp::send(me, m);
    tp::receive([](go) {});
    throw std::runtime_error("worker failed");
  });
  auto e = ep->wait();
  CHECK(e.d.what == kind::link);
  CHECK(e.d.from == worker);
  e = ep->wait();
  CHECK(e.d.what == kind::monitor);
  CHECK(e.d.from == worker);
  CHECK(e.d.monitor == otpp_test::expect<otpp::ref>());
  CHECK(otpp::info(worker).links == std::vector<otpp::pid>{far});
  otpp::send(worker, go{});
  // The worker ends: its link hears the exit, its monitor is dropped.
  std::vector<otpp::remote_delivery> last;
  last.push_back(ep->wait().d);
  last.push_back(ep->wait().d);
  const std::size_t link_exit = last[0].what == kind::link_exit ? 0 : 1;
  REQUIRE(last[link_exit].what == kind::link_exit);
  CHECK(last[link_exit].from == worker);
  CHECK(last[link_exit].reason.exception_type() == "std::runtime_error");
  CHECK(last[1 - link_exit].what == kind::demonitor);

  // unlink and demonitor before the end: nothing more is sent at the end.
  const otpp::pid calm = otpp::spawn([far] {
    otpp::link(far);
    const otpp::ref m = otpp::monitor(far);
    otpp::unlink(far);
    otpp::demonitor(m);
  });
  CHECK(ep->wait().d.what == kind::link);
  CHECK(ep->wait().d.what == kind::monitor);
  e = ep->wait();
  CHECK(e.d.what == kind::unlink);
  CHECK(e.d.from == calm);
  CHECK(ep->wait().d.what == kind::demonitor);
  CHECK(ep->idle());
}

TEST_CASE("signals from another node act on local processes as if the remote pid sent them",
          "[remote]") {
  OTPP_TEST_RUNTIME({.schedulers = 2});
  auto ep = std::make_shared<recording_endpoint>();
  const otpp::pid far = ep->proxy(1);

  SECTION("a remote link: the local exit goes back, and the remote exit kills the local process") {
    const otpp::pid victim = otpp::spawn(otpp_test::wait_forever);
    const otpp::ref m = otpp::monitor(victim);
    CHECK(otpp::remote::link(victim, far));
    otpp_test::wait_until_waiting(victim);
    CHECK(otpp::info(victim).links == std::vector<otpp::pid>{far});
    CHECK(otpp::remote::link_exit(victim, far, exit_reason::noconnection()));
    CHECK(otpp_test::down_reason(m) == exit_reason::noconnection());
    CHECK(ep->idle()); // the link was used up by the exit: nothing goes back

    const otpp::pid failing = otpp::spawn([] {
      tp::receive([](go) {});
      throw std::logic_error("local failure");
    });
    CHECK(otpp::remote::link(failing, far));
    otpp::send(failing, go{});
    auto e = ep->wait();
    CHECK(e.to == otpp::remote::key_of(far));
    CHECK(e.d.what == kind::link_exit);
    CHECK(e.d.from == failing);
    CHECK(e.d.reason.exception_type() == "std::logic_error");
    // Linking to a process that has ended fails: the node answers noproc.
    CHECK_FALSE(otpp::remote::link(failing, far));
  }

  SECTION("a trapping process gets the remote exit as a message from the remote pid") {
    const otpp::pid me = tp::self();
    const otpp::pid trapper = otpp::spawn([me] {
      tp::trap_exit(true);
      otpp::send(me, go{});
      otpp::send(me, tp::receive<otpp::exit_message>());
      otpp::send(me, tp::receive<otpp::exit_message>());
    });
    otpp_test::expect<go>();
    CHECK(otpp::remote::link(trapper, far));
    CHECK(otpp::remote::link_exit(trapper, far, exit_reason::noconnection()));
    auto x = otpp_test::expect<otpp::exit_message>();
    CHECK(x.from == far);
    CHECK(x.reason == exit_reason::noconnection());
    CHECK(otpp::remote::exit(trapper, far, exit_reason::user("stop")));
    x = otpp_test::expect<otpp::exit_message>();
    CHECK(x.from == far);
    CHECK(x.reason == exit_reason::user("stop"));
  }

  SECTION("a remote monitor hears the local process's end, with the remote side's ref") {
    const otpp::pid worker = otpp::spawn([] {
      tp::receive([](go) {});
      tp::exit(exit_reason::shutdown("done"));
    });
    CHECK(otpp::remote::monitor(worker, far, otpp::ref(99)));
    CHECK(otpp::remote::monitor(worker, far, otpp::ref(100)));
    otpp::remote::demonitor(worker, far, otpp::ref(100));
    otpp::send(worker, go{});
    auto e = ep->wait();
    CHECK(e.to == otpp::remote::key_of(far));
    CHECK(e.d.what == kind::down);
    CHECK(e.d.monitor == otpp::ref(99));
    CHECK(e.d.from == worker);
    CHECK(e.d.reason == exit_reason::shutdown("done"));
    CHECK(ep->idle());
    CHECK_FALSE(otpp::remote::monitor(worker, far, otpp::ref(101)));
  }

  SECTION("a local monitor of a remote pid gets the down the node reports") {
    const otpp::ref m = otpp::monitor(far);
    auto e = ep->wait();
    CHECK(e.d.what == kind::monitor);
    CHECK(e.d.monitor == m);
    otpp::remote::down(tp::self(), m, far, exit_reason::noproc());
    auto d = otpp_test::expect<otpp::down>();
    CHECK(d.monitor == m);
    CHECK(d.process == far);
    CHECK(d.reason == exit_reason::noproc());
    // A down for a monitor already dropped is never delivered.
    const otpp::ref m2 = otpp::monitor(far);
    otpp::demonitor(m2);
    otpp::remote::down(tp::self(), m2, far, exit_reason::noproc());
    CHECK(otpp_test::nothing<otpp::down>());
  }
}

TEST_CASE("remote pids are refused where only local processes fit", "[remote]") {
  OTPP_TEST_RUNTIME({.schedulers = 1});
  auto ep = std::make_shared<recording_endpoint>();
  const otpp::pid far = ep->proxy(1);
  CHECK_THROWS_WITH(otpp::register_name("far", far),
                    Catch::Contains("is a process of another node"));
  CHECK_THROWS_WITH(otpp::remote::link(far, far), Catch::Contains("is not a local process"));
  CHECK_THROWS_WITH(otpp::remote::link(tp::self(), tp::self()),
                    Catch::Contains("is not a remote pid"));
  CHECK(otpp::info(far).self == far);
  CHECK(otpp::info(far).links.empty());
}

} // namespace OTPP_TEST_FILE
