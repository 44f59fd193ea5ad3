// The watchdog (processes that run without yielding), the blocking report,
// and what a shutdown that did not end in time does with what is left.
// Distributed under the Boost Software License, Version 1.0.

// Part of the runtime's definitions (see detail/runtime_impl.hpp). The
// runtime include comes before the guard so that this header also compiles
// on its own: core/runtime.hpp then includes it, in its place, through
// detail/runtime_impl.hpp.
#include <otpp/core/runtime.hpp>

#ifndef OTPP_DETAIL_WATCHDOG_HPP
#define OTPP_DETAIL_WATCHDOG_HPP

#include <otpp/core/report.hpp>
#include <otpp/detail/process.hpp>
#include <otpp/detail/scheduler.hpp>

#include <fmt/format.h>

#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace otpp::detail {

// Schedulers given up by a shutdown that did not end: their threads are
// parked in them for good, so they are kept (reachable, never destroyed).
inline void keep_abandoned(std::unique_ptr<scheduler> s) {
  static auto* kept = new std::vector<std::unique_ptr<scheduler>>(); // never freed, on purpose
  static std::mutex m;
  std::lock_guard lock(m);
  kept->push_back(std::move(s));
}

// The signal that stops an abandoned scheduler thread where it is: its
// handler (on the thread's alternate signal stack) never returns, so the
// process it was running never continues and touches nothing again.
inline int park_signal() noexcept {
  return SIGRTMAX - 2;
}
inline std::atomic<unsigned>& parked_threads() noexcept {
  static std::atomic<unsigned> n{0};
  return n;
}
inline void park_handler(int) noexcept {
  parked_threads().fetch_add(1);
  for (;;)
    ::pause();
}
inline void install_park_handler() {
  static std::once_flag once;
  std::call_once(once, [] {
    struct sigaction sa {};
    sa.sa_handler = &park_handler;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_ONSTACK;
    ::sigaction(park_signal(), &sa, nullptr);
  });
}

} // namespace otpp::detail

namespace otpp {

/// A blocking report as text: one line per process, e.g.
/// `<0.9.0> on scheduler 1: waiting in call to <0.7.0> (with a timeout)`.
inline std::string format_blockers(const std::vector<blocking_process>& all) {
  std::string out;
  for (const auto& b : all) {
    out += fmt::format("{} on scheduler {}: {}", detail::pid_and_name(b.pid, b.name, b.label),
                       b.scheduler, b.state);
    if (b.state == "waiting") {
      out += fmt::format(" in {}", b.waits_on);
      if (b.waits_for != 0)
        out += fmt::format(" to <0.{}.0>", b.waits_for);
      if (b.with_timeout)
        out += " (with a timeout)";
    } else if (b.state == "running" && b.running_for.count() > 0) {
      out += fmt::format(" for at least {} ms without yielding", b.running_for.count());
    }
    out += '\n';
  }
  return out;
}

inline std::vector<blocking_process> runtime::blockers() {
  const auto now = std::chrono::steady_clock::now();
  std::vector<watch_state> seen;
  {
    std::lock_guard lock(watch_mutex_);
    seen = watches_;
  }
  std::vector<blocking_process> out;
  for (unsigned i = 0; i < schedulers_.size(); ++i) {
    detail::scheduler& s = *schedulers_[i];
    if (s.abandoned())
      continue; // its thread may be stopped holding the list's lock
    detail::process* running = s.running();
    s.for_each_process([&](detail::process* p) {
      blocking_process b;
      b.pid = pid(detail::process_ref(p));
      b.scheduler = i;
      {
        std::lock_guard lock(p->meta);
        b.name = p->name;
        b.label = p->label;
      }
      const auto st = p->status.load(std::memory_order_relaxed);
      if (p == running || st == detail::process_status::running) {
        b.state = "running";
        if (p == running && i < seen.size() && seen[i].running == p)
          b.running_for =
              std::chrono::duration_cast<std::chrono::milliseconds>(now - seen[i].since);
      } else if (st == detail::process_status::waiting) {
        b.state = "waiting";
        const char* what = p->wait_what.load(std::memory_order_relaxed);
        b.waits_on = what != nullptr ? what : "receive";
        b.waits_for = p->wait_whom.load(std::memory_order_relaxed);
        b.with_timeout = p->wait_timed.load(std::memory_order_relaxed);
      } else {
        b.state = "ready";
      }
      out.push_back(std::move(b));
    });
  }
  return out;
}

inline std::string runtime::blockers_text() {
  return format_blockers(blockers());
}

// Looks at every scheduler a few times per threshold: a process still
// running on it, with no switch since the last look, for the threshold or
// more is reported once. It never reports early: the stretch is measured
// from the first look that saw it.
inline void runtime::watchdog_loop() {
  using namespace std::chrono;
  const milliseconds threshold = options_.watchdog_threshold;
  const milliseconds tick =
      std::clamp<milliseconds>(threshold / 4, milliseconds(1), milliseconds(50));
  std::unique_lock lock(watch_mutex_);
  while (!watch_cv_.wait_for(lock, tick, [&] { return watch_stop_; })) {
    const auto now = steady_clock::now();
    for (unsigned i = 0; i < schedulers_.size(); ++i) {
      detail::scheduler& s = *schedulers_[i];
      watch_state& w = watches_[i];
      detail::process* p = s.running();
      const std::uint64_t r = s.resumes();
      if (p == nullptr || p != w.running || r != w.resumes) {
        w = watch_state{r, p, now, false};
        continue;
      }
      if (w.reported || now - w.since < threshold || s.abandoned())
        continue;
      w.reported = true;
      detail::process_ref alive = s.find_live(p);
      if (!alive || s.running() != p || s.resumes() != r)
        continue; // it ended or switched meanwhile
      std::string name, label;
      {
        std::lock_guard meta(alive->meta);
        name = alive->name;
        label = alive->label;
      }
      const pid who{std::move(alive)};
      const auto ms = duration_cast<milliseconds>(now - w.since).count();
      lock.unlock();
      send_report(report_kind::watchdog, who,
                  fmt::format("process {} has run for at least {} ms on scheduler {} without "
                              "yielding: the processes queued on that scheduler wait meanwhile. "
                              "Long computations should call this_process::yield() now and then; "
                              "blocking calls belong on a thread of their own (threshold: "
                              "runtime_options::watchdog_threshold, {} ms)",
                              detail::pid_and_name(who, name, label), ms, i, threshold.count()));
      lock.lock();
    }
  }
}

// The first processes of a blocking report (the running ones first), and
// how many more there are: a report of a million lines helps nobody.
inline std::string listing(std::vector<blocking_process> all, std::size_t max = 50) {
  std::stable_partition(all.begin(), all.end(),
                        [](const blocking_process& b) { return b.state == "running"; });
  const std::size_t more = all.size() > max ? all.size() - max : 0;
  if (more != 0)
    all.resize(max);
  std::string out = format_blockers(all);
  if (more != 0)
    out += fmt::format("... and {} more (runtime::blockers() lists them all)\n", more);
  return out;
}

// The shutdown timeout passed with processes left: report them, then stop
// the scheduler threads that host them where they are (a signal whose
// handler never returns), so that none of those processes runs again and
// the runtime can go. Their memory is left to the end of the program.
inline void runtime::abandon() {
  {
    std::lock_guard lock(run_mutex_);
    if (abandoned_)
      return;
    abandoned_ = true;
  }
  std::vector<blocking_process> left = blockers();
  if (left.empty())
    return;
  std::vector<bool> hosts(schedulers_.size(), false);
  for (const auto& b : left)
    hosts[b.scheduler] = true;
  detail::install_park_handler();
  const unsigned before = detail::parked_threads().load();
  unsigned sent = 0;
  for (unsigned i = 0; i < schedulers_.size(); ++i) {
    if (!hosts[i])
      continue;
    schedulers_[i]->mark_abandoned();
    if (::pthread_kill(schedulers_[i]->thread().native_handle(), detail::park_signal()) == 0)
      ++sent;
  }
  // A thread takes the signal at once, unless a sanitizer defers it to its
  // next system call.
  const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(1);
  while (detail::parked_threads().load() < before + sent &&
         std::chrono::steady_clock::now() < give_up)
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  const unsigned parked = detail::parked_threads().load() - before;
  std::string text = fmt::format(
      "shutdown made no progress for {} ms (runtime_options::shutdown_timeout): {} process{} "
      "abandoned, never to run again; {} scheduler thread{} stopped where {} (their memory is "
      "left to the end of the program):\n{}",
      options_.shutdown_timeout.count(), left.size(), left.size() == 1 ? " is" : "es are", sent,
      sent == 1 ? " is" : "s are", sent == 1 ? "it is" : "they are", listing(left));
  if (parked < sent)
    text += fmt::format("{} of those threads did not stop yet (a sanitizer delays the signal to "
                        "its next system call): their process goes on until then\n",
                        sent - parked);
  send_report(report_kind::error, pid(), std::move(text));
}

} // namespace otpp

#endif // OTPP_DETAIL_WATCHDOG_HPP
