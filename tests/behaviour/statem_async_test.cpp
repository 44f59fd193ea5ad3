// State machines: awaiting handlers (sm::on_async, sm::task): a handler
// awaits I/O in the middle of its code while the machine handles other
// events, then resumes with the machine's state and data as they are then.
// Distributed under the Boost Software License, Version 1.0.
#include <otpp/behaviour/statem.hpp>

#include "otpp_test.hpp"

#include <otpp/behaviour/call.hpp>
#include <otpp/core/blocking.hpp>
#include <otpp/core/monitor.hpp>
#include <otpp/io/file.hpp>

#include <boost/asio/deferred.hpp>
#include <boost/asio/steady_timer.hpp>
#include <catch2/catch.hpp>
#include <fmt/format.h>

#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <future>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

namespace OTPP_TEST_FILE {

using namespace std::chrono_literals;
namespace tp = otpp::this_process;
namespace sm = otpp::sm;
namespace asio = boost::asio;
using otpp::exit_reason;
using otpp_test::expect;

namespace {

struct serving {};
struct closing {};

struct put {
  std::string key;
  int value;
  using reply_type = std::string;
};
struct get {
  std::string key;
  using reply_type = int;
};
struct close_now {};
struct report {
  std::string what;
};
struct kv {
  std::map<std::string, int> table;
  std::shared_future<void> gate; // the "disk": a write completes when it opens
  otpp::pid test;
  std::vector<std::string> log;
};

// A put awaits its "write" (a blocking call that waits for the gate), then
// stores the value and replies; gets are answered meanwhile.
auto store() {
  return otpp::statem<kv, serving, closing>()
      .on_async<serving>([](sm::context<kv, serving, closing>& cx,
                            sm::call_of<put> p) -> sm::task<sm::keep_state_t> {
        const std::string key = p.value.key;
        cx.data().log.push_back("write " + key);
        const int written = co_await cx.blocking([gate = cx.data().gate, v = p.value.value] {
          gate.wait();
          return v;
        });
        // Resumed: the state may have changed meanwhile, and it says so.
        cx.data().table[key] = written;
        cx.data().log.push_back(fmt::format("stored {} ({})", key,
                                            cx.state_changed() ? "state changed" : "same state"));
        co_return sm::keep_state(sm::reply(p, cx.state_if<closing>() != nullptr ? "late" : "ok"));
      })
      .on<serving>([](serving&, kv& d, sm::call_of<get> g) {
        auto it = d.table.find(g.value.key);
        return sm::reply(g, it == d.table.end() ? -1 : it->second);
      })
      .on<serving>([](serving&, kv&, close_now) { return sm::next_state(closing{}); })
      .on<closing>([](closing&, kv& d, sm::call_of<get> g) {
        return sm::reply(g, static_cast<int>(d.table.size()));
      });
}

struct boom {};
struct crash_after_await : std::runtime_error {
  using std::runtime_error::runtime_error;
};

} // namespace

TEST_CASE("statem on_async: reads are answered while a write awaits, then the write resumes with "
          "the current data",
          "[statem][statem_async]") {
  const unsigned n = GENERATE(1u, 2u);
  OTPP_TEST_RUNTIME({.schedulers = n});
  auto gate = std::make_shared<std::promise<void>>();
  auto h = otpp::start(store(), kv{{{"x", 1}}, gate->get_future().share(), tp::self(), {}});
  // The put's reply comes only after the gate opens.
  auto pending = otpp::call_async(h, put{"y", 2});
  CHECK(otpp::call(h, get{"x"}) == 1);  // served while the put awaits
  CHECK(otpp::call(h, get{"y"}) == -1); // not written yet
  gate->set_value();
  CHECK(pending.wait().value() == "ok");
  CHECK(otpp::call(h, get{"y"}) == 2);
  auto st = otpp::get_state(h);
  CHECK(st.data.log == std::vector<std::string>{"write y", "stored y (same state)"});
}

TEST_CASE("statem on_async: a handler resumed after a change of state sees the new state",
          "[statem][statem_async]") {
  OTPP_TEST_RUNTIME({.schedulers = 1});
  auto gate = std::make_shared<std::promise<void>>();
  auto h = otpp::start(store(), kv{{}, gate->get_future().share(), tp::self(), {}});
  auto pending = otpp::call_async(h, put{"k", 7});
  otpp::cast(h, close_now{});          // handled while the put awaits
  CHECK(otpp::call(h, get{"k"}) == 0); // closing: the count, nothing stored yet
  gate->set_value();
  CHECK(pending.wait().value() == "late");
  CHECK(otpp::call(h, get{"k"}) == 1);
  CHECK(otpp::get_state(h).data.log.back() == "stored k (state changed)");
}

TEST_CASE("statem on_async: several awaiting handlers in flight finish in their completion order",
          "[statem][statem_async]") {
  OTPP_TEST_RUNTIME({.schedulers = 2});
  struct idle {};
  struct job {
    int ms;
    using reply_type = int;
  };
  struct order {
    std::vector<int> done;
  };
  auto def = otpp::statem<order, idle>().on_async<idle>(
      [](sm::context<order, idle>& cx, sm::call_of<job> j) -> sm::task<sm::action> {
        asio::steady_timer t(tp::executor(), std::chrono::milliseconds(j.value.ms));
        co_await cx.await(t.async_wait(asio::deferred));
        cx.data().done.push_back(j.value.ms);
        co_return sm::reply(j, j.value.ms);
      });
  auto h = otpp::start(def, order{});
  auto slow = otpp::call_async(h, job{120});
  auto fast = otpp::call_async(h, job{10});
  CHECK(fast.wait().value() == 10);
  CHECK(slow.wait().value() == 120);
  CHECK(otpp::get_state(h).data.done == std::vector<int>{10, 120});
}

TEST_CASE("statem on_async: an exception after an await is the machine's exit reason",
          "[statem][statem_async]") {
  OTPP_TEST_RUNTIME({.schedulers = 1});
  struct only {};
  struct nothing_data {};
  auto def = otpp::statem<nothing_data, only>().on_async<only>(
      [](sm::context<nothing_data, only>& cx, boom) -> sm::task<> {
        co_await cx.blocking([] { return 1; });
        throw crash_after_await("disk on fire");
      });
  otpp_test::report_guard quiet([](const otpp::report&) {});
  auto h = otpp::start(def, nothing_data{});
  otpp::ref m = otpp::monitor(h.pid());
  otpp::cast(h, boom{});
  exit_reason r = otpp_test::down_reason(m);
  CHECK(r.to_string().find("crash_after_await") != std::string::npos);
  CHECK(r.to_string().find("disk on fire") != std::string::npos);
}

TEST_CASE("statem on_async: a machine stopped while a handler awaits ends cleanly, its caller "
          "is told",
          "[statem][statem_async]") {
  const unsigned n = GENERATE(1u, 2u);
  OTPP_TEST_RUNTIME({.schedulers = n});
  auto gate = std::make_shared<std::promise<void>>();
  auto h = otpp::start(store(), kv{{}, gate->get_future().share(), tp::self(), {}});
  otpp::ref m = otpp::monitor(h.pid());
  auto pending = otpp::call_async(h, put{"a", 1});
  CHECK(otpp::call(h, get{"a"}) == -1); // the put was taken first: it awaits
  otpp::stop(h);
  CHECK(otpp_test::down_reason(m) == exit_reason::normal());
  auto r = pending.wait();
  REQUIRE_FALSE(r.ok());
  CHECK(r.error() == exit_reason::normal()); // the machine ended without replying
  gate->set_value(); // the write ends after the machine: its result goes nowhere
}

TEST_CASE("statem on_async: awaiting otpp::file appends (the seed's journal)",
          "[statem][statem_async][file]") {
  OTPP_TEST_RUNTIME({.schedulers = 1});
  struct up {};
  struct line {
    std::string text;
    using reply_type = std::uint64_t;
  };
  struct journal {
    std::filesystem::path path;
    otpp::file f;
  };
  const auto path = std::filesystem::temp_directory_path() /
                    fmt::format("otpp-statem-journal-{}.log", ::getpid());
  std::filesystem::remove(path);
  auto def = otpp::statem<journal, up>()
                 .on_init([](journal& j) {
                   j.f = otpp::file::open(j.path, otpp::file::read_write | otpp::file::create);
                   return sm::init_ok(up{});
                 })
                 .on_async<up>([](sm::context<journal, up>& cx,
                                  sm::call_of<line> l) -> sm::task<sm::action> {
                   const std::uint64_t at = cx.data().f.end();
                   co_await cx.await(cx.data().f.async_append(l.value.text + "\n", asio::deferred));
                   co_await cx.await(cx.data().f.async_sync_data(asio::deferred));
                   co_return sm::reply(l, at);
                 });
  auto h = otpp::start(def, journal{path, {}});
  std::vector<otpp::pending_call<std::uint64_t>> acks;
  for (int i = 0; i < 20; ++i)
    acks.push_back(otpp::call_async(h, line{fmt::format("entry {:02}", i)}));
  for (int i = 0; i < 20; ++i)
    CHECK(acks[static_cast<std::size_t>(i)].wait().value() == static_cast<std::uint64_t>(i) * 9);
  otpp::stop(h);
  auto f = otpp::file::open(path, otpp::file::read_only);
  const std::string all = f.read_all();
  CHECK(all.size() == 180);
  CHECK(all.substr(0, 18) == "entry 00\nentry 01\n");
  std::filesystem::remove(path);
}

} // namespace OTPP_TEST_FILE
