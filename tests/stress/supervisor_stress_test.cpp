// Stress: supervised servers crashing at random while clients call them.
// Distributed under the Boost Software License, Version 1.0.
#include <otpp/behaviour/supervisor.hpp>

#include "otpp_test.hpp"
#include "supervisor_probe.hpp"

#include <otpp/core/monitor.hpp>

#include <catch2/catch.hpp>

#include <chrono>
#include <cstddef>
#include <random>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace OTPP_TEST_FILE {

using namespace std::chrono_literals;
namespace tp = otpp::this_process;
using otpp::exit_reason;

namespace {

// How many crashes a round waits for; sanitizer builds wait for fewer.
#if defined(OTPP_DETAIL_TSAN) || defined(OTPP_DETAIL_ASAN)
constexpr int crashes_per_round = 600;
constexpr int rounds = 6;
#else
constexpr int crashes_per_round = 1000;
constexpr int rounds = 6;
#endif
constexpr std::size_t servers = 4;
constexpr int clients = 6;

using otpp_test::report_guard;

// A server that counts calls and dies when told to (a cast that throws).
struct get {};
struct crash_now {};
auto flaky() {
  return otpp::server<int>()
      .on_call([](int& n, get) { return ++n; })
      .on_cast([](int&, crash_now) -> void { throw std::runtime_error("chaos"); });
}

// What a client reports: every call it made ended with a reply or an error.
struct tally {
  int calls = 0;
  int replies = 0;
  int errors = 0;
};
// Ends a client's or the chaos process's loop.
struct enough {};
// The chaos process: crashes servers, one at a time, until told to stop;
// says when it has crashed `crashes_per_round` of them.
struct chaos_done {
  int crashes;
};
struct milestone {};

bool told_to_stop(std::chrono::milliseconds wait = 0ms) {
  return tp::receive([](enough&) { return true; }, otpp::after(wait, [] { return false; }));
}

std::vector<std::string> names_of(int round) {
  std::vector<std::string> v;
  for (std::size_t i = 0; i < servers; ++i)
    v.push_back(fmt::format("flaky{}_{}", round, i));
  return v;
}

otpp::supervisor_spec storm_spec(const std::vector<std::string>& names) {
  otpp::supervisor_spec s{.strategy = otpp::one_for_one, .intensity = 1000000, .period = 1s};
  for (const auto& name : names)
    s.children.push_back(otpp::worker(
        name, [name] { return otpp::try_start_link(otpp::start_options{.name = name}, flaky()); }));
  return s;
}

// Call random servers until told to stop (at least once).
void client(otpp::pid test, std::vector<std::string> names, unsigned seed) {
  std::minstd_rand rng(seed);
  tally t;
  do {
    otpp::pid p = tp::get_runtime().whereis(names[rng() % names.size()]); // null while restarting
    auto r = otpp::try_call<int>(p, get{}, 20ms);
    ++t.calls;
    if (r.ok())
      ++t.replies;
    else
      ++t.errors;
  } while (!told_to_stop());
  otpp::send(test, t);
}

// Crash random servers in random ways until told to stop.
void chaos(otpp::pid test, std::vector<std::string> names, unsigned seed) {
  std::minstd_rand rng(seed);
  int crashes = 0;
  for (;;) {
    otpp::pid p = tp::get_runtime().whereis(names[rng() % names.size()]);
    if (told_to_stop(p ? 0ms : 1ms))
      break;
    if (!p)
      continue;
    // Each crash is waited for: the supervisor has its exit message before
    // anyone hears of the milestone.
    otpp::ref m = otpp::monitor(p);
    switch (rng() % 3) {
    case 0:
      otpp::cast(p, crash_now{});
      break;
    case 1:
      otpp::exit(p, exit_reason::user("chaos"));
      break;
    default:
      otpp::kill(p);
    }
    otpp_test::down_reason(m);
    if (++crashes == crashes_per_round)
      otpp::send(test, milestone{});
    otpp_test::yield_n(rng() % 4); // let some calls through
  }
  otpp::send(test, chaos_done{crashes});
}

using otpp_test::wait_count;

} // namespace

TEST_CASE("crash storm: servers crashing at random under calling clients, every call ends and "
          "no process leaks",
          "[stress][supervisor]") {
  const unsigned n = GENERATE(1u, 3u);
  OTPP_TEST_RUNTIME({.schedulers = n});
  report_guard g([](const otpp::report&) {});
  otpp::pid me = tp::self();
  const std::size_t baseline = rt.process_count();

  for (int round = 0; round < rounds; ++round) {
    INFO("round " << round << " on " << n << " schedulers");
    // Odd rounds stop the supervisor in the middle of the storm.
    const bool stop_mid = round % 2 == 1;
    auto names = names_of(round);
    auto sup = otpp::start(rt, storm_spec(names));
    auto base = static_cast<unsigned>(round * 100);
    otpp::pid ch = otpp::spawn([me, names, base] { chaos(me, names, base); });
    std::vector<otpp::pid> callers;
    for (int c = 0; c < clients; ++c)
      callers.push_back(otpp::spawn(
          [me, names, seed = base + 1 + static_cast<unsigned>(c)] { client(me, names, seed); }));

    otpp_test::expect<milestone>();
    if (stop_mid) // while the clients still call
      otpp::stop(sup, exit_reason::shutdown(), otpp_test::patience);
    for (auto& c : callers)
      otpp::send(c, enough{});
    int replies = 0;
    for (int c = 0; c < clients; ++c) {
      tally t = otpp_test::expect<tally>();
      CHECK(t.calls > 0);
      CHECK(t.replies + t.errors == t.calls);
      replies += t.replies;
    }
    CHECK(replies > 0);
    otpp::send(ch, enough{});
    CHECK(otpp_test::expect<chaos_done>().crashes >= crashes_per_round);
    if (!stop_mid) {
      // The supervisor survived the storm and restarted every crashed child.
      auto counts = otpp::count_children(sup);
      CHECK(counts.specs == servers);
      CHECK(counts.active == servers);
      std::uint64_t restarts = 0;
      for (auto& k : otpp::which_children(sup))
        restarts += k.restarts;
      CHECK(restarts >= crashes_per_round);
      otpp::stop(sup, exit_reason::shutdown(), otpp_test::patience);
    }
    wait_count(rt, baseline);
    for (auto& name : names)
      CHECK_FALSE(rt.whereis(name));
  }
}

} // namespace OTPP_TEST_FILE
