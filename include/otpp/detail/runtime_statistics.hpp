// The runtime's statistics and its own metrics (the otpp_* families).
// Distributed under the Boost Software License, Version 1.0.

// Part of the runtime's definitions (see detail/runtime_impl.hpp); the
// runtime include comes before the guard, as in runtime_members.hpp.
#include <otpp/core/runtime.hpp>

#ifndef OTPP_DETAIL_RUNTIME_STATISTICS_HPP
#define OTPP_DETAIL_RUNTIME_STATISTICS_HPP

#include <otpp/core/metrics.hpp>
#include <otpp/core/statistics.hpp>
#include <otpp/detail/process.hpp>
#include <otpp/detail/scheduler.hpp>

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

namespace otpp {

inline runtime_statistics runtime::statistics(const statistics_options& opts) {
  runtime_statistics out;
  out.mailbox_bounds = opts.mailbox_buckets;
  std::sort(out.mailbox_bounds.begin(), out.mailbox_bounds.end());
  std::vector<std::uint64_t> buckets(out.mailbox_bounds.size() + 1, 0);
  // The longest mailboxes so far: a min-heap of at most `top`, holding a
  // reference so that the names can be read after the walk.
  using entry = std::pair<std::size_t, detail::process_ref>;
  auto shorter = [](const entry& a, const entry& b) { return a.first > b.first; };
  std::vector<entry> top;
  detail::process_counts live;
  const std::int64_t now = std::chrono::duration_cast<std::chrono::nanoseconds>(
                               std::chrono::steady_clock::now().time_since_epoch())
                               .count();
  for (auto& s : schedulers_) {
    scheduler_statistics ss;
    ss.index = s->index();
    if (s->abandoned()) { // its thread may be stopped holding its list's lock
      out.schedulers.push_back(ss);
      continue;
    }
    const detail::scheduler_counts counts = s->for_each_process_counted([&](detail::process* p) {
      ++ss.processes;
      live += detail::process_counts::of(*p);
      const std::size_t n = p->box.size.load(std::memory_order_relaxed);
      out.mailbox_sum += n;
      const auto b = static_cast<std::size_t>(
          std::lower_bound(out.mailbox_bounds.begin(), out.mailbox_bounds.end(), n) -
          out.mailbox_bounds.begin());
      ++buckets[b];
      if (n == 0 || opts.top == 0)
        return;
      if (top.size() < opts.top) {
        top.emplace_back(n, detail::process_ref(p));
        std::push_heap(top.begin(), top.end(), shorter);
      } else if (n > top.front().first) {
        std::pop_heap(top.begin(), top.end(), shorter);
        top.back() = {n, detail::process_ref(p)};
        std::push_heap(top.begin(), top.end(), shorter);
      }
    });
    out.processes += ss.processes;
    out.spawned += counts.spawned;
    for (std::size_t i = 0; i < out.exits.size(); ++i)
      out.exits[i] += counts.exits[i];
    live += counts.ended;
    ss.run_queue = s->run_queue();
    const auto [active, wall] = s->wall_time().read(now);
    if (wall > 0) {
      ss.active = std::chrono::nanoseconds(active);
      ss.wall = std::chrono::nanoseconds(wall);
    }
    out.schedulers.push_back(ss);
  }
  out.messages_sent = live.sent;
  out.messages_received = live.received;
  out.messages_dropped = live.dropped;
  out.reductions = live.reductions;
  std::uint64_t run = 0;
  for (std::uint64_t& b : buckets)
    b = run += b;
  out.mailbox_buckets = std::move(buckets);
  std::sort_heap(top.begin(), top.end(), shorter); // longest first
  for (auto& [n, p] : top) {
    mailbox_entry e;
    e.length = n;
    {
      std::lock_guard lock(p->meta);
      e.name = !p->name.empty() ? p->name : p->label;
    }
    e.pid = pid(std::move(p));
    out.longest_mailboxes.push_back(std::move(e));
  }
  return out;
}

inline void runtime::enable_timing_metrics() {
  const std::int64_t now = std::chrono::duration_cast<std::chrono::nanoseconds>(
                               std::chrono::steady_clock::now().time_since_epoch())
                               .count();
  std::call_once(timing_once_, [&] {
    for (auto& s : schedulers_) {
      s->wall_time().since.store(now);
      s->wall_time().on.store(true);
    }
  });
  metrics_.set_timings(true);
}

} // namespace otpp

namespace otpp::detail {

// The runtime's own families, from one statistics() snapshot.
inline void write_runtime_metrics(runtime& rt, metric_writer& w) {
  const runtime_statistics st = rt.statistics();
  auto one = [&](const char* name, const char* help, const char* type, double v) {
    w.family(name, help, type);
    w.sample(name, {}, v);
  };
  one("otpp_processes", "Processes alive now.", "gauge", static_cast<double>(st.processes));
  one("otpp_spawns_total", "Processes spawned.", "counter", static_cast<double>(st.spawned));
  w.family("otpp_exits_total",
           "Processes ended, by class of exit reason (normal, shutdown, killed, error).",
           "counter");
  for (std::size_t i = 0; i < st.exits.size(); ++i)
    w.sample("otpp_exits_total", {{"reason", exit_class_names[i]}},
             static_cast<double>(st.exits[i]));
  one("otpp_messages_sent_total", "Messages, requests and replies sent by processes.", "counter",
      static_cast<double>(st.messages_sent));
  one("otpp_messages_received_total", "Messages that entered a mailbox.", "counter",
      static_cast<double>(st.messages_received));
  one("otpp_messages_dropped_total", "Messages dropped or refused by full bounded mailboxes.",
      "counter", static_cast<double>(st.messages_dropped));
  one("otpp_reductions_total", "Reductions (sends, receives, spawns) of processes.", "counter",
      static_cast<double>(st.reductions));

  w.family("otpp_scheduler_processes", "Live processes placed on a scheduler.", "gauge");
  for (const auto& s : st.schedulers)
    w.sample("otpp_scheduler_processes", {{"scheduler", std::to_string(s.index)}},
             static_cast<double>(s.processes));
  w.family("otpp_scheduler_run_queue", "Ready processes waiting for their turn on a scheduler.",
           "gauge");
  for (const auto& s : st.schedulers)
    w.sample("otpp_scheduler_run_queue", {{"scheduler", std::to_string(s.index)}},
             static_cast<double>(s.run_queue));
  if (!st.schedulers.empty() && st.schedulers.front().wall) {
    w.family("otpp_scheduler_active_seconds_total",
             "Time a scheduler ran processes since its wall time was turned on.", "counter");
    for (const auto& s : st.schedulers)
      w.sample(
          "otpp_scheduler_active_seconds_total", {{"scheduler", std::to_string(s.index)}},
          std::chrono::duration<double>(s.active.value_or(std::chrono::nanoseconds(0))).count());
    w.family("otpp_scheduler_wall_seconds_total",
             "Time since a scheduler's wall time was turned on (active / wall: utilisation).",
             "counter");
    for (const auto& s : st.schedulers)
      w.sample("otpp_scheduler_wall_seconds_total", {{"scheduler", std::to_string(s.index)}},
               std::chrono::duration<double>(s.wall.value_or(std::chrono::nanoseconds(0))).count());
  }

  w.family("otpp_mailbox_length", "Mailbox lengths of the live processes.", "histogram");
  std::vector<double> bounds(st.mailbox_bounds.begin(), st.mailbox_bounds.end());
  w.histogram("otpp_mailbox_length", {}, bounds, st.mailbox_buckets,
              static_cast<double>(st.mailbox_sum));
  w.family("otpp_process_mailbox_length", "The longest mailboxes (the top 10 processes).", "gauge");
  for (const auto& e : st.longest_mailboxes)
    w.sample("otpp_process_mailbox_length", {{"pid", fmt::format("{}", e.pid)}, {"name", e.name}},
             static_cast<double>(e.length));
}

} // namespace otpp::detail

#endif // OTPP_DETAIL_RUNTIME_STATISTICS_HPP
