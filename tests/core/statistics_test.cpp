#include <otpp/core/metrics.hpp>
#include <otpp/core/statistics.hpp>

#include <otpp/core/registry.hpp>

#include "otpp_test.hpp"

#include <catch2/catch.hpp>

#include <chrono>
#include <cstddef>
#include <limits>
#include <stdexcept>
#include <string>
#include <vector>

namespace OTPP_TEST_FILE {

using namespace std::chrono_literals;
namespace tp = otpp::this_process;
using otpp::exit_reason;

namespace {

struct never {};

// Wait (polling) until `p`'s mailbox holds `n` messages.
bool contains(const std::string& text, const std::string& line) {
  return text.find(line) != std::string::npos;
}

} // namespace

TEST_CASE("statistics: spawns, exits by class and messages are counted exactly, on 2 schedulers",
          "[statistics]") {
  otpp_test::report_guard quiet(otpp_test::quiet());
  otpp::runtime rt({.schedulers = 2});
  {
    const otpp::runtime_statistics before = rt.statistics();
    CHECK(before.spawned == 0);
    CHECK(before.processes == 0);
    REQUIRE(before.schedulers.size() == 2);
    CHECK_FALSE(before.schedulers[0].wall.has_value()); // wall time is off
  }
  std::vector<otpp::pid> sinks, victims;
  for (int i = 0; i < 20; ++i)
    sinks.push_back(rt.spawn([] {
      for (int k = 0; k < 3; ++k)
        tp::receive<int>();
    }));
  rt.spawn([sinks] {
    for (const auto& s : sinks)
      for (int k = 0; k < 3; ++k)
        otpp::send(s, k);
  });
  for (int i = 0; i < 5; ++i)
    rt.spawn([] { throw std::runtime_error("on purpose"); });
  for (int i = 0; i < 3; ++i)
    victims.push_back(rt.spawn([] { tp::receive<never>(); }));
  rt.spawn([victims] {
    for (const auto& v : victims)
      otpp::exit(v, exit_reason::kill());
  });
  for (int i = 0; i < 2; ++i)
    rt.spawn([] { tp::exit(exit_reason::shutdown("done")); });
  REQUIRE(otpp_test::run_or_abort(rt) == 0);

  const otpp::runtime_statistics st = rt.statistics();
  CHECK(st.processes == 0);
  CHECK(st.spawned == 32);
  CHECK(st.exits[0] == 22); // 20 sinks, the feeder, the killer
  CHECK(st.exits[1] == 2);
  CHECK(st.exits[2] == 3);
  CHECK(st.exits[3] == 5);
  CHECK(st.messages_sent == 60);
  CHECK(st.messages_received == 60);
  CHECK(st.messages_dropped == 0);
  CHECK(st.reductions >= 120); // a send and a receive each at least

  const std::string text = rt.metrics().render();
  CHECK(contains(text, "otpp_spawns_total 32\n"));
  CHECK(contains(text, "otpp_exits_total{reason=\"normal\"} 22\n"));
  CHECK(contains(text, "otpp_exits_total{reason=\"shutdown\"} 2\n"));
  CHECK(contains(text, "otpp_exits_total{reason=\"killed\"} 3\n"));
  CHECK(contains(text, "otpp_exits_total{reason=\"error\"} 5\n"));
  CHECK(contains(text, "otpp_messages_sent_total 60\n"));
  CHECK(contains(text, "otpp_messages_received_total 60\n"));
  CHECK(contains(text, "# TYPE otpp_processes gauge\notpp_processes 0\n"));
}

TEST_CASE("statistics: the longest mailboxes, the mailbox histogram and dropped messages",
          "[statistics]") {
  otpp_test::report_guard quiet(otpp_test::quiet()); // the full mailbox's report
  otpp::runtime rt({.schedulers = 2});
  otpp::scoped_process sp(rt);
  const otpp::pid big = rt.spawn([] { tp::receive<never>(); });
  const otpp::pid small = rt.spawn([] { tp::receive<never>(); });
  const otpp::pid bounded =
      rt.spawn([] { tp::receive<never>(); },
               {.mailbox_limit = 2, .on_overflow = otpp::overflow_policy::drop_new});
  rt.register_name("big_one", big);
  for (int i = 0; i < 25; ++i)
    otpp::send(big, i);
  for (int i = 0; i < 3; ++i)
    otpp::send(small, i);
  for (int i = 0; i < 5; ++i)
    otpp::send(bounded, i);
  otpp_test::wait_mailbox(big, 25);
  otpp_test::wait_mailbox(small, 3);
  otpp_test::wait_mailbox(bounded, 2);

  const otpp::runtime_statistics st = rt.statistics({.top = 2, .mailbox_buckets = {0, 1, 10, 100}});
  CHECK(st.processes == 3);
  REQUIRE(st.longest_mailboxes.size() == 2);
  CHECK(st.longest_mailboxes[0].pid == big);
  CHECK(st.longest_mailboxes[0].length == 25);
  CHECK(st.longest_mailboxes[0].name == "big_one");
  CHECK(st.longest_mailboxes[1].pid == small);
  CHECK(st.longest_mailboxes[1].length == 3);
  CHECK(st.mailboxes.bounds == std::vector<std::size_t>{0, 1, 10, 100});
  // Cumulative: none empty, none of 1, two up to 10 (3 and 2), all three up to 100.
  CHECK(st.mailboxes.buckets == std::vector<std::uint64_t>{0, 0, 2, 3, 3});
  CHECK(st.mailboxes.sum == 30);
  CHECK(st.largest_stacks.empty()); // not asked for
  CHECK(st.stacks.buckets.empty());
  CHECK(st.messages_received == 30);
  CHECK(st.messages_dropped == 3);

  const std::string text = rt.metrics().render();
  CHECK(contains(
      text, fmt::format("otpp_process_mailbox_length{{pid=\"{}\",name=\"big_one\"}} 25\n", big)));
  CHECK(contains(text, "otpp_mailbox_length_bucket{le=\"10\"} 2\n"));
  CHECK(contains(text, "otpp_mailbox_length_bucket{le=\"+Inf\"} 3\n"));
  CHECK(contains(text, "otpp_mailbox_length_count 3\n"));
  CHECK(contains(text, "otpp_messages_dropped_total 3\n"));
  for (const auto& p : {big, small, bounded})
    otpp::exit(p, exit_reason::kill());
}

namespace {
// Touch about `depth` KiB of stack, then wait.
[[gnu::noinline]] void deep(int depth) {
  volatile char frame[1024];
  for (std::size_t i = 0; i < sizeof frame; i += 64)
    frame[i] = static_cast<char>(depth);
  if (depth > 0)
    deep(depth - 1);
  else
    tp::receive<never>();
  frame[0] = frame[64]; // keeps the frame live until the call returns
}
} // namespace

TEST_CASE("statistics: resident stack bytes (high-water marks) of live processes, in info and "
          "as the largest stacks",
          "[statistics]") {
  otpp::runtime rt({.schedulers = 1, .stack_size = 256 * 1024});
  otpp::scoped_process sp(rt);
  const otpp::pid shallow = rt.spawn([] { tp::receive<never>(); });
  const otpp::pid deep_one = rt.spawn([] { deep(96); });
  otpp_test::wait_until_waiting(shallow);
  otpp_test::wait_until_waiting(deep_one);
  const otpp::process_info di = otpp::info(deep_one);
  CHECK(di.stack_size >= 250 * 1024);
  CHECK(di.stack_resident >= 96 * 1024);
  CHECK(di.stack_resident <= di.stack_size + 4096);
  CHECK(di.memory > di.stack_resident);
  CHECK(otpp::info(sp.self()).stack_resident == 0); // a scoped process has no pooled stack

  const otpp::runtime_statistics st = rt.statistics({.top = 1, .stacks = true});
  REQUIRE(st.largest_stacks.size() == 1);
  CHECK(st.largest_stacks[0].pid == deep_one);
  CHECK(st.largest_stacks[0].length == otpp::info(deep_one).stack_resident);
  REQUIRE(st.stacks.buckets.size() == 9);
  CHECK(st.stacks.buckets.back() == 2);
  CHECK(st.stacks.sum >= 96 * 1024);
  const std::string text = rt.metrics().render();
  CHECK(contains(
      text, fmt::format("otpp_process_stack_resident_bytes{{pid=\"{}\",name=\"\"}} ", deep_one)));
  CHECK(contains(text, "otpp_stack_resident_bytes_count 2\n"));
  otpp::exit(shallow, exit_reason::kill());
  otpp::exit(deep_one, exit_reason::kill());
}

TEST_CASE("statistics: scheduler wall time counts a busy process as active time", "[statistics]") {
  otpp::runtime rt({.schedulers = 2});
  rt.enable_timing_metrics();
  CHECK(rt.metrics().timings());
  rt.spawn([] {
    const auto until = std::chrono::steady_clock::now() + 60ms;
    while (std::chrono::steady_clock::now() < until)
      tp::yield();
  });
  REQUIRE(otpp_test::run_or_abort(rt) == 0);
  const otpp::runtime_statistics st = rt.statistics();
  std::chrono::nanoseconds active{0};
  for (const auto& s : st.schedulers) {
    REQUIRE(s.active.has_value());
    REQUIRE(s.wall.has_value());
    CHECK(*s.active <= *s.wall);
    active += *s.active;
  }
  CHECK(active >= 60ms);
  const std::string text = rt.metrics().render();
  CHECK(contains(text, "# TYPE otpp_scheduler_active_seconds_total counter\n"));
  CHECK(contains(text, "otpp_scheduler_wall_seconds_total{scheduler=\"1\"} "));
}

TEST_CASE("metric_registry: counters, gauges, histograms and collectors in the text format",
          "[statistics]") {
  otpp::metric_registry reg;
  otpp::metric_counter& c = reg.counter("jobs_total", "Jobs done.", {{"queue", "a\"b\\c\nd"}});
  c.inc();
  c.inc(4);
  CHECK(&reg.counter("jobs_total", "Jobs done.", {{"queue", "a\"b\\c\nd"}}) == &c);
  reg.counter("jobs_total", "Jobs done.", {{"queue", "other"}}).inc();
  reg.gauge("temperature", "Degrees.\nLine two \\ end").set(-1.5);
  otpp::metric_histogram& h = reg.histogram("wait_seconds", "Waits.", {}, {0.125, 1});
  h.observe(0.125); // on a bound: counted in it (le)
  h.observe(0.5);
  h.observe(7);
  const auto key = reg.add_collector([](otpp::metric_writer& w) {
    w.family("collected", "From a collector.", "gauge");
    w.sample("collected", {}, 42);
  });
  CHECK(reg.render() == "# HELP collected From a collector.\n"
                        "# TYPE collected gauge\n"
                        "collected 42\n"
                        "# HELP jobs_total Jobs done.\n"
                        "# TYPE jobs_total counter\n"
                        "jobs_total{queue=\"a\\\"b\\\\c\\nd\"} 5\n"
                        "jobs_total{queue=\"other\"} 1\n"
                        "# HELP temperature Degrees.\\nLine two \\\\ end\n"
                        "# TYPE temperature gauge\n"
                        "temperature -1.5\n"
                        "# HELP wait_seconds Waits.\n"
                        "# TYPE wait_seconds histogram\n"
                        "wait_seconds_bucket{le=\"0.125\"} 1\n"
                        "wait_seconds_bucket{le=\"1\"} 2\n"
                        "wait_seconds_bucket{le=\"+Inf\"} 3\n"
                        "wait_seconds_sum 7.625\n"
                        "wait_seconds_count 3\n");
  reg.remove_collector(key);
  CHECK_FALSE(contains(reg.render(), "collected"));

  // Misuse is refused with a reason.
  CHECK_THROWS_AS(reg.gauge("jobs_total", "Jobs done."), std::invalid_argument);
  CHECK_THROWS_AS(reg.counter("jobs_total", "Other help."), std::invalid_argument);
  CHECK_THROWS_AS(reg.counter("9lives", "x"), std::invalid_argument);
  CHECK_THROWS_AS(reg.counter("ok_total", "x", {{"__reserved", "v"}}), std::invalid_argument);
  CHECK_THROWS_AS(reg.histogram("h", "x", {{"le", "1"}}, {1}), std::invalid_argument);
  CHECK_THROWS_AS(reg.histogram("h2", "x", {}, {2, 1}), std::invalid_argument);
  CHECK(otpp::metric_writer::number(std::numeric_limits<double>::infinity()) == "+Inf");
}

} // namespace OTPP_TEST_FILE
