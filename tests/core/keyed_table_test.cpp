// The link and monitor tables (detail/keyed_table.hpp): constant-time
// insert, find and take at every size, checked against a reference.
#include <otpp/detail/keyed_table.hpp>

#include "otpp_test.hpp"

#include <otpp/core/monitor.hpp>
#include <otpp/core/process.hpp>
#include <otpp/core/receive.hpp>
#include <otpp/core/runtime.hpp>

#include <catch2/catch.hpp>

#include <algorithm>
#include <cstdint>
#include <iterator>
#include <map>
#include <random>
#include <set>
#include <utility>
#include <vector>

namespace OTPP_TEST_FILE {

namespace tp = otpp::this_process;

namespace {

struct entry {
  std::uint64_t key;
  int value;
};
struct key_of {
  std::uint64_t operator()(const entry& e) const noexcept { return e.key; }
};
using table = otpp::detail::keyed_table<entry, key_of>;

// The table holds exactly the reference's (key, value) pairs.
void check_same(table& t, const std::multimap<std::uint64_t, int>& ref) {
  REQUIRE(t.size() == ref.size());
  std::vector<std::pair<std::uint64_t, int>> seen, want(ref.begin(), ref.end());
  for (const entry& e : t)
    seen.emplace_back(e.key, e.value);
  std::sort(seen.begin(), seen.end());
  std::sort(want.begin(), want.end());
  REQUIRE(seen == want);
  for (const auto& [k, v] : ref) {
    const entry* e = t.find(k);
    REQUIRE(e != nullptr);
    CHECK(e->key == k);
  }
}

} // namespace

TEST_CASE("keyed_table: random inserts and takes match a reference at every size",
          "[core][keyed_table]") {
  // Keys from a small range collide often (and repeat: a key may be in the
  // table more than once); the table grows past its index threshold and
  // shrinks below it again, several times.
  const std::uint64_t key_range = GENERATE(8u, 64u, 100000u);
  std::mt19937_64 rng(key_range);
  table t;
  std::multimap<std::uint64_t, int> ref;
  int next_value = 0;
  for (int round = 0; round < 6; ++round) {
    const std::size_t target = round % 2 == 0 ? 3000 : 4;
    while (ref.size() != target) {
      if (ref.size() < target) {
        const std::uint64_t k = rng() % key_range * 0x10000; // spaced like addresses
        t.insert({k, next_value});
        ref.emplace(k, next_value++);
      } else {
        auto it = ref.begin();
        std::advance(it, static_cast<long>(rng() % ref.size()));
        const std::uint64_t k = it->first;
        auto taken = t.take(k);
        REQUIRE(taken.has_value());
        CHECK(taken->key == k);
        // Which of several equal keys goes is the table's choice.
        auto range = ref.equal_range(k);
        bool found = false;
        for (auto r = range.first; r != range.second; ++r)
          if (r->second == taken->value) {
            ref.erase(r);
            found = true;
            break;
          }
        REQUIRE(found);
      }
      if (ref.size() % 97 == 0)
        check_same(t, ref);
    }
    check_same(t, ref);
    CHECK_FALSE(t.take(0x123456789abcdefULL).has_value()); // never inserted
  }
  auto all = t.release();
  CHECK(all.size() == ref.size());
  CHECK(t.empty());
  CHECK(t.find(all.empty() ? 0 : all.front().key) == nullptr);
}

TEST_CASE("a process monitoring 10,000 others gets each down and demonitors any of them",
          "[core][keyed_table]") {
  OTPP_TEST_RUNTIME({.schedulers = 1});
  constexpr int n = 10000;
  std::vector<otpp::pid> targets;
  std::vector<otpp::ref> refs;
  for (int i = 0; i < n; ++i) {
    targets.push_back(rt.spawn([] { tp::receive<int>(); }));
    refs.push_back(otpp::monitor(targets.back()));
  }
  CHECK(otpp::info(sp.self()).monitors.size() == static_cast<std::size_t>(n));
  // Every other one demonitored (from the middle of the table), then all end.
  for (int i = 0; i < n; i += 2)
    CHECK(otpp::demonitor(refs[static_cast<std::size_t>(i)]));
  for (auto& p : targets)
    otpp::send(p, 0);
  std::set<std::uint64_t> waiting_for; // the monitors left in place
  for (int k = 1; k < n; k += 2)
    waiting_for.insert(refs[static_cast<std::size_t>(k)].value());
  for (int i = 0; i < n / 2; ++i)
    CHECK(waiting_for.erase(otpp_test::expect<otpp::down>().monitor.value()) == 1);
  CHECK(waiting_for.empty());
  CHECK(otpp_test::nothing<otpp::down>());
  CHECK(otpp::info(sp.self()).monitors.empty());
}

} // namespace OTPP_TEST_FILE
