// worker_pool: a pool of 4 workers with up to 4 more on overflow serving
// 100 clients while workers crash; then a scatter/gather over a group.
//
// Shows:    otpp::pool({.size, .max_overflow}, start_worker) started under a
//           supervisor by name; pool_call (check a worker out, call it,
//           check it in); a worker that crashes on a poisoned job is
//           replaced by the pool and its borrower gets the error (and a
//           pool_worker_exit); clients queue first come first served when
//           all 8 are busy; overflow workers end once the rush is over;
//           scatter_call over a group of shard servers in a pg group: every
//           reply, the first two, and a deadline, each missing reply with why.
// OTP idea: poolboy (size, max_overflow, checkout/checkin, transaction);
//           the distributed-agents note's elastic pools and shard groups
//           with broadcast and reduce.
// Run:      cmake --preset dev && cmake --build --preset dev --target worker_pool
//           && ./build/dev/examples/worker_pool
// Expected output:
//   100 clients: 1000 jobs done, 10 failed with the worker's crash
//   workers started: enough (4, then extras and replacements), extra at the peak: 4
//   after the rush: 4 free, 0 busy, 0 extra, 0 waiting
//   shards: 4 replied, sum 10000; missing: shard 4: noproc
//   first two: 2 replied, 2 not awaited
//   with a 20 ms deadline: shard 3: timeout
// (the peak of extra workers is sampled: on a busy machine it may read lower;
// "not awaited" can be 3 when the ended shard's noproc comes last)
//   ok
#include <otpp/otpp.hpp>

#include <fmt/format.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <stdexcept>
#include <string>
#include <vector>

using namespace std::chrono_literals;
namespace tp = otpp::this_process;
namespace pg = otpp::pg;

namespace {

// ---------------------------------------------------------------------------
// The pool's workers: square a number, slowly; a poisoned job crashes them.
// ---------------------------------------------------------------------------
struct job {
  long n;
  bool poisoned;
};
std::atomic<int> workers_started{0};

auto worker_def() {
  return otpp::server<>().name("worker").on_call([](std::monostate&, job j) {
    if (j.poisoned)
      throw std::runtime_error("poisoned job");
    tp::sleep_for(1ms); // the work
    return j.n * j.n;
  });
}
auto start_worker() {
  ++workers_started;
  return otpp::start_link(worker_def());
}
using pool_def = decltype(otpp::pool({}, start_worker));

// ---------------------------------------------------------------------------
// Shards for the scatter/gather: each holds a number, one answers slowly.
// ---------------------------------------------------------------------------
struct sum_query {
  int delay_ms;
};
auto shard_def(long value, bool slow) {
  return otpp::server<>().on_call([value, slow](std::monostate&, sum_query q) {
    if (slow)
      tp::sleep_for(std::chrono::milliseconds(q.delay_ms));
    return value;
  });
}

struct client_result {
  int done;
  int failed;
};

} // namespace

int main() {
  otpp::runtime rt;
  otpp::scoped_process main_process(rt);
  otpp::set_report_handler([](const otpp::report&) {}); // the crashes are counted instead
  auto sup = otpp::start(otpp::supervisor_spec{
      .strategy = otpp::one_for_one,
      .children = {otpp::worker("jobs",
                                [] {
                                  return otpp::start_link(
                                      otpp::start_options{.name = "jobs"},
                                      otpp::pool({.size = 4, .max_overflow = 4, .name = "jobs"},
                                                 start_worker));
                                }),
                   otpp::worker("pg", [] { return otpp::start_link(pg::scope_def()); })},
      .name = "app"});
  auto jobs = otpp::by_name<pool_def>("jobs");

  // 100 clients, 10 jobs each; every 100th job is poisoned.
  const otpp::pid me = tp::self();
  std::size_t peak_overflow = 0;
  for (int c = 0; c < 100; ++c)
    otpp::spawn([jobs, me, c] {
      client_result r{0, 0};
      for (int k = 0; k < 10; ++k) {
        const long n = c * 10 + k;
        try {
          long sq = otpp::pool_call(jobs, job{n, n % 100 == 42}, 10s);
          r.done += sq == n * n ? 1 : 0;
        } catch (const otpp::call_error& e) {
          if (e.reason().to_string().find("poisoned job") != std::string::npos)
            ++r.failed;
        }
        while (tp::receive_for<otpp::pool_worker_exit>(0ms)) {
        }
      }
      otpp::send(me, r);
    });
  client_result total{0, 0};
  for (int c = 0; c < 100; ++c) {
    peak_overflow = std::max(peak_overflow, otpp::pool_status(jobs).overflow);
    auto r = tp::receive<client_result>();
    total.done += r.done;
    total.failed += r.failed;
  }
  fmt::print("100 clients: {} jobs done, {} failed with the worker's crash\n",
             total.done + total.failed, total.failed);
  fmt::print("workers started: {} (4, then extras and replacements), extra at the peak: {}\n",
             workers_started.load() >= 4 + total.failed ? "enough" : "too few", peak_overflow);
  otpp::pool_stats st{};
  for (int i = 0; i < 1000; ++i) { // the extra workers end as they are checked in
    st = otpp::pool_status(jobs);
    if (st.overflow == 0 && st.busy == 0)
      break;
    tp::sleep_for(1ms);
  }
  fmt::print("after the rush: {} free, {} busy, {} extra, {} waiting\n", st.free, st.busy,
             st.overflow, st.waiting);

  // Shards in a process group; shard 4 has ended, shard 3 is slow.
  std::vector<otpp::pid> shards;
  for (int i = 0; i < 5; ++i)
    shards.push_back(otpp::start(shard_def((i + 1) * 1000L, i == 3)).pid());
  pg::join("shards", std::vector<otpp::pid>(shards.begin(), shards.begin() + 4));
  otpp::stop(otpp::server_ref<decltype(shard_def(0, false))>(shards[4]));
  auto members = pg::get_members("shards");
  members.push_back(shards[4]); // a member that has ended: its reply is missing
  auto all = otpp::scatter_call<long>(members, sum_query{1});
  long sum = 0;
  std::string missing;
  for (std::size_t i = 0; i < all.members.size(); ++i) {
    if (all.members[i].result.ok())
      sum += all.members[i].result.value();
    else
      missing += fmt::format("shard {}: {}", i, all.members[i].result.error());
  }
  fmt::print("shards: {} replied, sum {}; missing: {}\n", all.ok_count(), sum, missing);
  auto two = otpp::scatter_call<long>(members, sum_query{1}, {.want = 2});
  std::size_t not_awaited = 0;
  for (auto& m : two.members)
    if (!m.result.ok() && m.result.error() == otpp::exit_reason::user("not_awaited"))
      ++not_awaited;
  fmt::print("first two: {} replied, {} not awaited\n", two.ok_count(), not_awaited);
  auto late = otpp::scatter_call<long>(std::vector<otpp::pid>(shards.begin(), shards.begin() + 4),
                                       sum_query{500}, {.timeout = 20ms});
  std::string late_ones;
  for (std::size_t i = 0; i < late.members.size(); ++i)
    if (!late.members[i].result.ok())
      late_ones += fmt::format("shard {}: {}", i, late.members[i].result.error());
  fmt::print("with a 20 ms deadline: {}\n", late_ones);

  otpp::stop(sup);
  for (std::size_t i = 0; i < 4; ++i)
    otpp::stop(otpp::server_ref<decltype(shard_def(0, false))>(shards[i]));
  const bool ok = total.done + total.failed == 1000 && total.failed == 10 && st.overflow == 0 &&
                  st.free == 4 && all.ok_count() == 4 && sum == 10000 && two.ok_count() == 2 &&
                  late_ones == "shard 3: timeout";
  fmt::print("{}\n", ok ? "ok" : "FAILED");
  return ok ? 0 : 1;
}
