// The runtime's statistics and its own metrics (the otpp_* families).
// Distributed under the Boost Software License, Version 1.0.

// Part of the runtime's definitions (see detail/runtime_impl.hpp); the
// runtime include comes before the guard, as in runtime_members.hpp.
#include <otpp/core/runtime.hpp>

#ifndef OTPP_DETAIL_RUNTIME_STATISTICS_HPP
#define OTPP_DETAIL_RUNTIME_STATISTICS_HPP

#include <otpp/config.hpp>
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

namespace otpp::detail {

// A value of each live process, gathered into a histogram and a top list
// (a min-heap of at most `top`, holding references so that names can be
// read after the walk, out of the list locks).
class process_ranking {
public:
  process_ranking(std::vector<std::size_t> bounds, std::size_t top) : top_(top) {
    hist_.bounds = std::move(bounds);
    std::sort(hist_.bounds.begin(), hist_.bounds.end());
    hist_.buckets.assign(hist_.bounds.size() + 1, 0);
  }
  void add(process* p, std::size_t v) {
    hist_.sum += v;
    ++hist_.buckets[static_cast<std::size_t>(
        std::lower_bound(hist_.bounds.begin(), hist_.bounds.end(), v) - hist_.bounds.begin())];
    if (v == 0 || top_ == 0)
      return;
    if (heap_.size() < top_) {
      heap_.emplace_back(v, process_ref(p));
      std::push_heap(heap_.begin(), heap_.end(), smaller);
    } else if (v > heap_.front().first) {
      std::pop_heap(heap_.begin(), heap_.end(), smaller);
      heap_.back() = {v, process_ref(p)};
      std::push_heap(heap_.begin(), heap_.end(), smaller);
    }
  }
  // The histogram (cumulative) and the top list, largest first.
  void finish(process_histogram& hist, std::vector<mailbox_entry>& top) {
    std::uint64_t run = 0;
    for (std::uint64_t& b : hist_.buckets)
      b = run += b;
    hist = std::move(hist_);
    std::sort_heap(heap_.begin(), heap_.end(), smaller);
    for (auto& [v, p] : heap_) {
      mailbox_entry e;
      e.length = v;
      {
        std::lock_guard lock(p->meta);
        e.name = !p->name.empty() ? p->name : p->label;
      }
      e.pid = pid(std::move(p));
      top.push_back(std::move(e));
    }
  }

private:
  using entry = std::pair<std::size_t, process_ref>;
  static bool smaller(const entry& a, const entry& b) noexcept { return a.first > b.first; }
  std::size_t top_;
  process_histogram hist_;
  std::vector<entry> heap_;
};

} // namespace otpp::detail

namespace otpp {

inline runtime_statistics runtime::statistics(const statistics_options& opts) {
  runtime_statistics out;
  detail::process_ranking mailboxes(opts.mailbox_buckets, opts.top);
  detail::process_ranking stacks(opts.stack_buckets, opts.top);
  detail::process_counts live;
  std::vector<detail::process_ref> with_stacks;
  const std::int64_t now = detail::scheduler::clock_ticks();
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
      mailboxes.add(p, p->box.size.load(std::memory_order_relaxed));
      if (const std::uint32_t b = p->parked_bytes.load(std::memory_order_relaxed); b != 0) {
        ++out.parked;
        out.parked_bytes += b;
      }
      if (opts.stacks)
        with_stacks.emplace_back(p); // read below, out of the list's lock
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
  mailboxes.finish(out.mailboxes, out.longest_mailboxes);
  if (opts.stacks) {
    // A system call each (mincore), so not under a list lock: spawns and
    // exits go on meanwhile. The references keep the processes (and their
    // stacks, which stay mapped in their pools) valid.
    for (const detail::process_ref& p : with_stacks)
      stacks.add(p.get(), detail::stack_resident(*p));
    with_stacks.clear();
    stacks.finish(out.stacks, out.largest_stacks);
  }
  return out;
}

inline void runtime::enable_timing_metrics() {
  const std::int64_t now = detail::scheduler::clock_ticks();
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
  // Resident stacks cost a system call per process: read up to
  // config::metrics_stack_scan_limit live processes, left out above.
  const runtime_statistics st =
      rt.statistics({.stacks = rt.process_count() <= config::metrics_stack_scan_limit});
  auto one = [&](const char* name, const char* help, const char* type, double v) {
    w.family(name, help, type);
    w.sample(name, {}, v);
  };
  one("otpp_processes", "Processes alive now.", "gauge", static_cast<double>(st.processes));
  one("otpp_processes_parked",
      "Processes parked now (their stack copied aside, its pages given back).", "gauge",
      static_cast<double>(st.parked));
  one("otpp_parked_stack_bytes", "Bytes of the parked processes' stack copies.", "gauge",
      static_cast<double>(st.parked_bytes));
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

  auto histogram = [&](const char* name, const char* help, const process_histogram& h) {
    w.family(name, help, "histogram");
    w.histogram(name, {}, std::vector<double>(h.bounds.begin(), h.bounds.end()), h.buckets,
                static_cast<double>(h.sum));
  };
  auto top = [&](const char* name, const char* help, const std::vector<mailbox_entry>& list) {
    w.family(name, help, "gauge");
    for (const auto& e : list)
      w.sample(name, {{"pid", fmt::format("{}", e.pid)}, {"name", e.name}},
               static_cast<double>(e.length));
  };
  histogram("otpp_mailbox_length", "Mailbox lengths of the live processes.", st.mailboxes);
  top("otpp_process_mailbox_length", "The longest mailboxes (the top 10 processes).",
      st.longest_mailboxes);
  histogram("otpp_stack_resident_bytes",
            "Resident stack bytes (high-water marks) of the live processes.", st.stacks);
  top("otpp_process_stack_resident_bytes",
      "The largest resident stacks (the top 10 processes, bytes).", st.largest_stacks);
}

} // namespace otpp::detail

#endif // OTPP_DETAIL_RUNTIME_STATISTICS_HPP
