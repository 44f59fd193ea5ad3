// Stress: processes joining, leaving and dying on several schedulers while
// readers read the groups and a monitor follows every change.
// Distributed under the Boost Software License, Version 1.0.
#include <otpp/behaviour/pg.hpp>

#include "otpp_test.hpp"

#include <otpp/core/process.hpp>
#include <otpp/core/runtime.hpp>

#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <map>
#include <string>
#include <thread>
#include <vector>

namespace OTPP_TEST_FILE {

using namespace std::chrono_literals;
namespace tp = otpp::this_process;
namespace pg = otpp::pg;

namespace {
#if defined(OTPP_DETAIL_TSAN) || defined(OTPP_DETAIL_ASAN)
constexpr int rounds = 5;
constexpr int members = 40;
#else
constexpr int rounds = 20;
constexpr int members = 200;
#endif
struct finished {};
} // namespace

TEST_CASE("pg stress: joins, leaves and exits race readers, and a monitor's view ends equal to the "
          "table",
          "[stress][pg]") {
  OTPP_TEST_RUNTIME({.schedulers = 2});
  for (int round = 0; round < rounds; ++round) {
    auto scope = otpp::start(pg::scope_def("stress"));
    auto mon = pg::monitor_scope("stress");
    std::map<std::string, std::map<std::uint64_t, int>> view; // group -> pid id -> joins
    const otpp::pid test = tp::self();
    std::atomic<bool> reading{true};
    std::atomic<long> reads{0};
    // A thread reading through a scope found once, all along.
    auto s = pg::scope::find("stress");
    std::thread reader([&] {
      while (reading.load()) {
        for (const char* g : {"a", "b"})
          (void)s.get_members(g);
        (void)s.which_groups();
        ++reads;
      }
    });
    // Reading before the churn starts (under ASan a late thread once read
    // nothing before the test ended).
    otpp::testing::wait_until([&] { return reads.load() > 0; }, "the reader thread to read",
                              otpp_test::patience);
    // What the table must end as: only the stayers (every 5th), each in its
    // own group and in "a" as many times as it joined and did not leave.
    std::map<std::string, std::map<std::uint64_t, int>> expected;
    for (int i = 0; i < members; ++i) {
      const otpp::pid p = otpp::spawn([i, test] {
        const std::string g = i % 2 == 0 ? "a" : "b";
        pg::join("stress", g, tp::self());
        pg::join("stress", "a", tp::self());
        if (i % 3 == 0)
          pg::leave("stress", "a", tp::self());
        (void)pg::get_members("stress", g);
        otpp::send(test, finished{});
        if (i % 5 == 0)
          tp::receive([](otpp_test::never) {}); // stays, then is killed below
      });
      if (i % 5 == 0) {
        ++expected[i % 2 == 0 ? "a" : "b"][p.id()];
        if (i % 3 != 0)
          ++expected["a"][p.id()];
      }
    }
    for (int i = 0; i < members; ++i)
      otpp_test::expect<finished>();
    // Follow the notifications until the table holds only the stayers (every
    // process that ended is gone: the table cannot change after that) and the
    // view built from the notifications says the same. Comparing view and
    // table alone is not enough: they can agree for a moment while a process
    // that sent `finished` has not yet exited.
    auto apply = [&](const pg::notification& n) {
      for (const auto& p : n.pids) {
        int& c = view[n.group][p.id()];
        c += n.what == pg::notification::kind::join ? 1 : -1;
        if (c == 0)
          view[n.group].erase(p.id());
      }
    };
    auto table_view = [&] {
      std::map<std::string, std::map<std::uint64_t, int>> t;
      for (const auto& g : s.which_groups())
        for (const auto& p : s.get_members(g))
          ++t[g][p.id()];
      return t;
    };
    auto nonempty_view = [&] {
      std::map<std::string, std::map<std::uint64_t, int>> v;
      for (const auto& [g, m] : view)
        if (!m.empty())
          v[g] = m;
      return v;
    };
    auto settled = [&] { return table_view() == expected && nonempty_view() == expected; };
    const auto deadline = std::chrono::steady_clock::now() + otpp_test::patience;
    while (!settled() && std::chrono::steady_clock::now() < deadline)
      if (auto n = tp::receive_for<pg::notification>(10ms))
        apply(*n);
    CHECK(table_view() == expected);
    CHECK(nonempty_view() == expected);
    // Only the stayers (every 5th) remain; kill them: the groups empty.
    std::size_t left = 0;
    for (const auto& g : s.which_groups())
      left += s.get_members(g).size();
    CHECK(left > 0);
    for (const auto& g : s.which_groups())
      for (const auto& p : s.get_members(g))
        otpp::kill(p);
    while (!s.which_groups().empty() && std::chrono::steady_clock::now() < deadline)
      if (auto n = tp::receive_for<pg::notification>(10ms))
        apply(*n);
    CHECK(s.which_groups().empty());
    reading = false;
    reader.join();
    CHECK(reads.load() > 0);
    pg::demonitor("stress", mon.monitor);
    otpp::stop(scope);
  }
}

} // namespace OTPP_TEST_FILE
