// The worker pool process (poolboy's model): N workers it starts and
// links, overflow workers up to a bound, borrowers monitored, waiters
// served first come first served, a worker that ends replaced and its
// borrower told.
// Distributed under the Boost Software License, Version 1.0.
#pragma once

#include <otpp/behaviour/call_ref.hpp>
#include <otpp/behaviour/start.hpp>
#include <otpp/behaviour/sys.hpp>
#include <otpp/core/any_message.hpp>
#include <otpp/core/exit_reason.hpp>
#include <otpp/core/link.hpp>
#include <otpp/core/message.hpp>
#include <otpp/core/monitor.hpp>
#include <otpp/core/pid.hpp>
#include <otpp/core/process.hpp>
#include <otpp/core/receive.hpp>
#include <otpp/core/report.hpp>
#include <otpp/core/request.hpp>

#include <fmt/format.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

namespace otpp {

/// How a pool hands out its free workers.
enum class pool_strategy : std::uint8_t {
  lifo, ///< the last checked in first (warm caches; poolboy's default)
  fifo, ///< the longest idle first (spreads the work)
};

/// A pool's counts now (`pool_status`). @par poolboy `poolboy:status/1`.
struct pool_stats {
  std::size_t size;     ///< the pool's fixed workers
  std::size_t free;     ///< workers ready to be checked out
  std::size_t busy;     ///< workers checked out
  std::size_t overflow; ///< extra workers running now (at most max_overflow)
  std::size_t waiting;  ///< borrowers queued for a worker
};

/// What a borrower receives when its worker ends while checked out (the
/// pool has replaced it).
struct pool_worker_exit {
  pid pool;
  pid worker;
  exit_reason reason;
};

namespace detail {

struct pool_checkout { // -> pid (null: full, for a non-blocking checkout)
  bool block;
};
struct pool_checkin {
  pid worker;
};
struct pool_cancel { // the borrower gave up on the checkout with this tag
  ref tag;
};
struct pool_get_stats {}; // -> pool_stats

struct pool_config {
  std::size_t size;
  std::size_t max_overflow;
  pool_strategy strategy;
  std::string name;
  std::function<pid()> start_worker; // in the pool process; links it
};

class pool_loop {
public:
  pool_loop(pool_config cfg, pid parent)
      : cfg_(std::move(cfg)), parent_(std::move(parent)), sys_("pool", cfg_.name) {}

  [[noreturn]] void run(init_context& ctx) {
    this_process::trap_exit(true); // workers are linked; the parent's exit stops the pool
    std::optional<exit_reason> failed;
    try {
      for (std::size_t i = 0; i < cfg_.size; ++i)
        free_.push_back(new_worker(false));
    } catch (...) {
      rethrow_if_exit();
      failed = exit_reason::from_exception(std::current_exception());
    }
    if (failed) { // out of the catch block (ending workers may suspend)
      dismiss_all();
      ctx.fail(std::move(*failed));
    }
    ctx.ack();
    for (;;) {
      any_message m = this_process::receive([](any_message& a) { return std::move(a); });
      dispatch(m);
    }
  }

private:
  struct lent {
    pid borrower;
    ref tag; // of the checkout request
    ref mon; // on the borrower
  };
  struct waiter {
    reply_to from;
    ref mon;
  };
  struct worker {
    pid w;
    bool overflow = false;
  };

  pid new_worker(bool overflow) {
    pid w = cfg_.start_worker();
    link(w); // (a start_link worker is linked already)
    all_[w.id()] = worker{w, overflow};
    if (overflow)
      ++overflow_;
    return w;
  }

  void dispatch(any_message& m) {
    if (is_system_message(m)) {
      pool_stats st = stats();
      exit_reason reason;
      if (sys_.handle(m, &st, parent_, reason) == sys_handler::outcome::stop)
        stop(std::move(reason));
      return;
    }
    sys_.count();
    if (auto* c = m.get_if<request<pool_checkout>>()) {
      checkout(*c);
    } else if (auto* in = m.get_if<pool_checkin>()) {
      checkin(in->worker);
    } else if (auto* x = m.get_if<pool_cancel>()) {
      cancel(x->tag);
    } else if (auto* e = m.get_if<exit_message>()) {
      if (parent_ && e->from == parent_)
        stop(e->reason);
      worker_exited(e->from, e->reason);
    } else if (auto* d = m.get_if<down>()) {
      borrower_down(*d);
    } else if (auto* s = m.get_if<request<pool_get_stats>>()) {
      send_reply(s->from, stats());
    } else {
      fail_unhandled_call(m);
    }
  }

  pid take_free() {
    pid w;
    if (cfg_.strategy == pool_strategy::lifo) {
      w = std::move(free_.back());
      free_.pop_back();
    } else {
      w = std::move(free_.front());
      free_.pop_front();
    }
    return w;
  }

  void lend(pid w, const reply_to& to) {
    ref mon = otpp::monitor(to.pid);
    lent_[w.id()] = lent{to.pid, to.tag, mon};
    by_borrower_mon_[mon.value()] = w.id();
    send_reply(to, w);
  }

  void checkout(request<pool_checkout>& r) {
    if (!free_.empty()) {
      lend(take_free(), r.from);
    } else if (overflow_ < cfg_.max_overflow) {
      lend(new_worker(true), r.from);
    } else if (r.value.block) {
      waiting_.push_back({r.from, otpp::monitor(r.from.pid)});
    } else {
      send_reply(r.from, pid());
    }
  }

  // A worker back: to the first waiter, else dismissed if it is an extra
  // one, else free.
  void returned(pid w) {
    if (!waiting_.empty()) {
      waiter next = std::move(waiting_.front());
      waiting_.pop_front();
      otpp::demonitor(next.mon, {.flush = true});
      lend(std::move(w), next.from);
    } else if (all_[w.id()].overflow) {
      dismiss(w);
    } else {
      free_.push_back(std::move(w));
    }
  }

  // Take w back from its borrower; false if it was not lent.
  bool unlend(const pid& w) {
    auto it = lent_.find(w.id());
    if (it == lent_.end())
      return false;
    by_borrower_mon_.erase(it->second.mon.value());
    otpp::demonitor(it->second.mon, {.flush = true});
    lent_.erase(it);
    return true;
  }

  void checkin(const pid& w) {
    if (unlend(w)) // a worker that ended meanwhile, or checked in twice: nothing
      returned(w);
  }

  void cancel(ref tag) {
    auto w = std::find_if(waiting_.begin(), waiting_.end(),
                          [&](const waiter& x) { return x.from.tag == tag; });
    if (w != waiting_.end()) {
      otpp::demonitor(w->mon, {.flush = true});
      waiting_.erase(w);
      return;
    }
    // The worker was lent just before the borrower gave up: take it back.
    for (auto& [id, l] : lent_)
      if (l.tag == tag) {
        pid lent_worker = all_[id].w;
        checkin(lent_worker);
        return;
      }
  }

  void borrower_down(const down& d) {
    auto b = by_borrower_mon_.find(d.monitor.value());
    if (b != by_borrower_mon_.end()) { // a borrower ended: its worker comes back (poolboy)
      pid w = all_[b->second].w;
      checkin(w);
      return;
    }
    std::erase_if(waiting_, [&](const waiter& x) { return x.mon == d.monitor; });
  }

  void worker_exited(const pid& w, const exit_reason& why) {
    auto rec = all_.find(w.id());
    if (rec == all_.end())
      return; // not ours (a dismissed worker's late exit, a stray link)
    const bool was_overflow = rec->second.overflow;
    all_.erase(rec);
    if (was_overflow)
      --overflow_;
    auto l = lent_.find(w.id());
    if (l != lent_.end()) {
      send(l->second.borrower, pool_worker_exit{this_process::self(), w, why});
      unlend(w);
    } else {
      std::erase(free_, w);
    }
    if (!was_overflow) // keep `size` workers: a new one, to a waiter or free
      returned(new_worker(false));
    else if (!waiting_.empty() && overflow_ < cfg_.max_overflow)
      returned(new_worker(true));
  }

  void dismiss(const pid& w) {
    all_.erase(w.id());
    --overflow_;
    unlink(w);
    otpp::exit(w, exit_reason::shutdown());
  }

  // Every worker, free, lent or extra, ends with `shutdown`.
  void dismiss_all() {
    for (auto& [id, rec] : all_) {
      (void)id;
      unlink(rec.w);
      otpp::exit(rec.w, exit_reason::shutdown());
    }
    all_.clear();
  }

  [[noreturn]] void stop(exit_reason reason) {
    dismiss_all();
    if (!reason.is_clean())
      send_report(report_kind::crash, this_process::self(),
                  fmt::format("pool {} terminating with reason {}", sys_.name(), reason));
    this_process::exit(std::move(reason));
  }

  pool_stats stats() const {
    return {cfg_.size, free_.size(), lent_.size(), overflow_, waiting_.size()};
  }

  pool_config cfg_;
  pid parent_;
  sys_handler sys_;
  std::deque<pid> free_;
  std::unordered_map<std::uint64_t, lent> lent_;                     // worker id -> borrower
  std::unordered_map<std::uint64_t, std::uint64_t> by_borrower_mon_; // monitor -> worker id
  std::unordered_map<std::uint64_t, worker> all_;                    // every worker, by pid id
  std::deque<waiter> waiting_;                                       // FIFO
  std::size_t overflow_ = 0;
};

} // namespace detail

} // namespace otpp
