// Worker pools and group calls: checkout/checkin, leases, FIFO waiters,
// checkout timeouts, overflow and its shrinking, a worker crashing while
// lent, a borrower dying; scatter/gather (all, first N, deadline),
// call_any, cast_all; on one and on several schedulers.
// Distributed under the Boost Software License, Version 1.0.
#include <otpp/behaviour/pool.hpp>
#include <otpp/behaviour/scatter.hpp>
#include <otpp/behaviour/server.hpp>
#include <otpp/behaviour/supervisor.hpp>

#include "otpp_test.hpp"

#include <otpp/core/monitor.hpp>

#include <catch2/catch.hpp>

#include <chrono>
#include <stdexcept>
#include <string>
#include <vector>

namespace OTPP_TEST_FILE {

using namespace std::chrono_literals;
namespace tp = otpp::this_process;
using otpp::exit_reason;
using otpp::pid;
using otpp_test::expect;

namespace {
struct whoami {};
struct echo {
  int n;
};
struct crash {};
struct nap {
  int ms;
};
struct note {
  pid to;
  int n;
};

auto worker_def() {
  return otpp::server<int>()
      .on_call([](int&, whoami) { return tp::self(); })
      .on_call([](int&, echo e) { return e.n; })
      .on_call([](int&, crash) -> int { throw std::runtime_error("worker crashed"); })
      .on_call([](int&, nap n) {
        tp::sleep_for(std::chrono::milliseconds(n.ms));
        return n.ms;
      })
      .on_cast([](int& count, note n) { otpp::send(n.to, echo{n.n + ++count}); });
}
auto start_pool(std::size_t size, std::size_t overflow = 0) {
  return otpp::start(otpp::pool({.size = size, .max_overflow = overflow, .name = "workers"},
                                [] { return otpp::start_link(worker_def(), 0); }));
}
struct got {
  int who;
  pid worker;
};
} // namespace

TEST_CASE("pool: checkout lends a worker, a lease checks it in on every path", "[pool]") {
  const unsigned n = GENERATE(1u, 3u);
  OTPP_TEST_RUNTIME({.schedulers = n});
  auto pool = start_pool(2);
  auto st = otpp::pool_status(pool);
  CHECK((st.size == 2 && st.free == 2 && st.busy == 0 && st.overflow == 0 && st.waiting == 0));
  {
    auto a = otpp::checkout(pool);
    auto b = otpp::checkout(pool);
    CHECK(a.worker() != b.worker());
    CHECK(otpp::call(a.worker_handle(), whoami{}) == a.worker());
    CHECK(otpp::pool_status(pool).busy == 2);
    CHECK_FALSE(otpp::try_checkout(pool).has_value()); // full, no overflow
  }
  CHECK(otpp::pool_status(pool).free == 2);
  try {
    otpp::transaction(pool,
                      [](const pid&) -> int { throw std::logic_error("in the transaction"); });
  } catch (const std::logic_error&) {
  }
  CHECK(otpp::pool_status(pool).free == 2);
  CHECK(otpp::transaction(pool, [](const pid& w) { return otpp::call<int>(w, echo{7}); }) == 7);
  CHECK(otpp::pool_call(pool, echo{8}) == 8); // typed: the workers' definition is known
  otpp::pool_cast(pool, note{tp::self(), 10});
  CHECK(expect<echo>().n == 11);
  // Explicit checkin, as poolboy's.
  auto lease = otpp::checkout(pool);
  pid w = lease.worker();
  lease = otpp::pool_lease<decltype(worker_def())>();
  CHECK(otpp::pool_status(pool).free == 2);
  (void)w;
  otpp::stop(pool);
}

TEST_CASE("pool: waiters get workers first come first served, and a timeout lends nothing",
          "[pool]") {
  const unsigned n = GENERATE(1u, 2u);
  OTPP_TEST_RUNTIME({.schedulers = n});
  auto pool = start_pool(1);
  auto held = otpp::checkout(pool);
  const pid test = tp::self();
  for (int i = 0; i < 4; ++i) {
    otpp::spawn([pool, test, i] {
      auto l = otpp::checkout(pool, otpp::infinity);
      otpp::send(test, got{i, l.worker()});
      tp::sleep_for(1ms);
    });
    // Queue them one by one, so the order they asked in is known.
    const auto until = std::chrono::steady_clock::now() + otpp_test::patience;
    while (otpp::pool_status(pool).waiting != static_cast<std::size_t>(i + 1) &&
           std::chrono::steady_clock::now() < until)
      tp::sleep_for(1ms);
  }
  CHECK(otpp::pool_status(pool).waiting == 4);
  // A checkout that gives up leaves the queue.
  try {
    (void)otpp::checkout(pool, 30ms);
    FAIL("checkout should have timed out");
  } catch (const otpp::call_error& e) {
    CHECK(e.reason() == exit_reason::timeout());
    CHECK(std::string(e.what()).find("checkout") != std::string::npos);
  }
  CHECK(otpp::pool_status(pool).waiting == 4);
  const pid w = held.worker();
  held.release();
  for (int i = 0; i < 4; ++i) {
    auto g = expect<got>();
    CHECK(g.who == i);
    CHECK(g.worker == w);
  }
  const auto until = std::chrono::steady_clock::now() + otpp_test::patience;
  while (otpp::pool_status(pool).free != 1 && std::chrono::steady_clock::now() < until)
    tp::sleep_for(1ms);
  auto st = otpp::pool_status(pool);
  CHECK((st.free == 1 && st.busy == 0 && st.waiting == 0));
  otpp::stop(pool);
}

TEST_CASE("pool: overflow workers start when all are busy and end when checked in", "[pool]") {
  const unsigned n = GENERATE(1u, 2u);
  OTPP_TEST_RUNTIME({.schedulers = n});
  auto pool = start_pool(1, 2);
  auto a = otpp::checkout(pool);
  auto b = otpp::checkout(pool);
  auto c = otpp::checkout(pool);
  CHECK_FALSE(otpp::try_checkout(pool).has_value());
  auto st = otpp::pool_status(pool);
  CHECK((st.busy == 3 && st.overflow == 2 && st.free == 0));
  auto mb = otpp::monitor(b.worker());
  auto mc = otpp::monitor(c.worker());
  b.release();
  c.release();
  CHECK(otpp_test::down_reason(mb) == exit_reason::shutdown());
  CHECK(otpp_test::down_reason(mc) == exit_reason::shutdown());
  st = otpp::pool_status(pool);
  CHECK((st.busy == 1 && st.overflow == 0 && st.free == 0));
  a.release();
  CHECK(otpp::pool_status(pool).free == 1); // the fixed one stays
  otpp::stop(pool);
}

TEST_CASE("pool: a worker that ends while lent is replaced and its borrower told", "[pool]") {
  const unsigned n = GENERATE(1u, 2u);
  OTPP_TEST_RUNTIME({.schedulers = n});
  otpp_test::report_guard quiet(otpp_test::quiet());
  auto pool = start_pool(2);
  auto l = otpp::checkout(pool);
  const pid w = l.worker();
  CHECK_THROWS_AS(otpp::call(l.worker_handle(), crash{}), otpp::call_error);
  auto told = expect<otpp::pool_worker_exit>();
  CHECK(told.pool == pool.pid());
  CHECK(told.worker == w);
  CHECK(told.reason.to_string().find("worker crashed") != std::string::npos);
  l.release(); // a dead worker's checkin: ignored
  auto st = otpp::pool_status(pool);
  CHECK((st.free == 2 && st.busy == 0));
  auto x = otpp::checkout(pool);
  auto y = otpp::checkout(pool);
  CHECK(x.worker() != w);
  CHECK(y.worker() != w);
  otpp::stop(pool);
}

TEST_CASE("pool: a borrower's end returns its worker", "[pool]") {
  OTPP_TEST_RUNTIME({.schedulers = 2});
  auto pool = start_pool(1);
  const pid test = tp::self();
  // The borrower checks out by the pool's protocol, without a lease, so
  // that only the pool's monitor can bring the worker back.
  pid borrower = otpp::spawn([pool, test] {
    otpp::ref tag = otpp::send_request(pool.pid(), otpp::detail::pool_checkout{true});
    pid w = tp::receive(otpp::when([tag](const otpp::reply<pid>& r) { return r.tag == tag; },
                                   [](otpp::reply<pid>& r) { return r.value; }));
    otpp::send(test, got{0, w});
    tp::receive([](otpp_test::never) {});
  });
  auto g = expect<got>();
  CHECK(otpp::pool_status(pool).busy == 1);
  otpp::kill(borrower);
  auto l = otpp::checkout(pool); // waits until the pool has taken it back
  CHECK(l.worker() == g.worker);
  otpp::stop(pool);
}

TEST_CASE("pool: in a supervision tree, and stopping it ends every worker", "[pool]") {
  OTPP_TEST_RUNTIME({.schedulers = 2});
  otpp::supervisor_spec spec{.strategy = otpp::one_for_one,
                             .children = {otpp::worker("pool", [] {
                               return otpp::start_link(otpp::start_options{.name = "pool"},
                                                       otpp::pool({.size = 3}, [] {
                                                         return otpp::start_link(worker_def(), 0);
                                                       }));
                             })}};
  auto sup = otpp::start(spec);
  auto named = otpp::by_name("pool");
  std::vector<otpp::ref> mons;
  {
    auto a = otpp::checkout(named);
    auto b = otpp::checkout(named);
    auto c = otpp::checkout(named);
    for (const pid& w : {a.worker(), b.worker(), c.worker()})
      mons.push_back(otpp::monitor(w));
  }
  CHECK(otpp::status(named).behaviour == "pool");
  otpp::stop(sup);
  for (auto m : mons)
    CHECK(otpp_test::down_reason(m) == exit_reason::shutdown());
}

TEST_CASE("scatter_call: every reply, the first N, or until the deadline, and why each is missing",
          "[pool][scatter]") {
  const unsigned n = GENERATE(1u, 3u);
  OTPP_TEST_RUNTIME({.schedulers = n});
  using def = decltype(worker_def());
  std::vector<otpp::server_ref<def>> group;
  for (int i = 0; i < 4; ++i)
    group.push_back(otpp::start(worker_def(), 0));
  otpp::server_ref<def> dead = otpp::start(worker_def(), 0);
  otpp::stop(dead);
  group.push_back(dead);

  auto all = otpp::scatter_call(group, echo{5});
  REQUIRE(all.members.size() == 5);
  CHECK(all.ok_count() == 4);
  CHECK_FALSE(all.complete);
  for (int i = 0; i < 4; ++i)
    CHECK(all.members[static_cast<std::size_t>(i)].result.value() == 5);
  CHECK(all.members[4].member == dead.pid());
  CHECK(all.members[4].result.error() == exit_reason::noproc());

  auto two = otpp::scatter_call(group, echo{6}, {.want = 2});
  CHECK(two.complete);
  CHECK(two.ok_count() == 2);
  std::size_t not_awaited = 0, noproc = 0;
  for (const auto& m : two.members)
    if (!m.result.ok())
      (m.result.error() == exit_reason::noproc() ? noproc : not_awaited) += 1;
  CHECK(not_awaited + noproc + 2 == 5);
  CHECK(noproc <= 1);

  // One member too slow for the deadline: timeout, and its late reply never arrives.
  auto slow =
      otpp::scatter_call<int>(std::vector<pid>{group[0].pid()}, nap{300}, {.timeout = 30ms});
  CHECK(slow.members[0].result.error() == exit_reason::timeout());
  CHECK_FALSE(slow.complete);
  CHECK(otpp_test::nothing<otpp::reply<int>>(400ms));

  CHECK(otpp::call_any(group, echo{9}) == 9);
  std::vector<otpp::server_ref<def>> only_dead{dead, dead};
  CHECK_THROWS_AS(otpp::call_any(only_dead, echo{1}), otpp::call_error);
  otpp::cast_all(group, note{tp::self(), 100});
  int notes = 0;
  while (tp::receive_for<echo>(100ms))
    ++notes;
  CHECK(notes == 4);
  for (int i = 0; i < 4; ++i)
    otpp::stop(group[static_cast<std::size_t>(i)]);
}

} // namespace OTPP_TEST_FILE
