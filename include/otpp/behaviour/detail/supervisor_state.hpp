// The supervisor process's state: its children, restarts, strategies,
// intensity, backoff, the dynamic API and shutdown.
// Distributed under the Boost Software License, Version 1.0.
#pragma once

#include <otpp/behaviour/call_result.hpp>
#include <otpp/behaviour/detail/child_shutdown.hpp>
#include <otpp/behaviour/detail/supervisor_messages.hpp>
#include <otpp/behaviour/server_action.hpp>
#include <otpp/behaviour/supervisor_error.hpp>
#include <otpp/behaviour/supervisor_spec.hpp>
#include <otpp/core/clock.hpp>
#include <otpp/core/duration.hpp>
#include <otpp/core/exit_reason.hpp>
#include <otpp/core/link.hpp>
#include <otpp/core/monitor.hpp>
#include <otpp/core/pid.hpp>
#include <otpp/core/process.hpp>
#include <otpp/core/receive.hpp>
#include <otpp/core/report.hpp>
#include <otpp/core/timer.hpp>

#include <fmt/format.h>

#include <algorithm>
#include <any>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

namespace otpp {

namespace detail {

class supervisor_state {
public:
  explicit supervisor_state(std::shared_ptr<const supervisor_spec> spec) : spec_(std::move(spec)) {
    self_ = this_process::self();
  }

  // Start the static children in order; on a failure stop those started (in
  // reverse order) and return the reason.
  std::optional<exit_reason> start_children() {
    if (spec_->strategy == simple_one_for_one) {
      tmpl_ = spec_->children.front();
      return std::nullopt;
    }
    for (const child_spec& cs : spec_->children) {
      children_.push_back(child{cs, {}, false, 0, 0, {}, {}, 0, {}});
      child& c = children_.back();
      child_start r = start(c);
      if (r.error) {
        children_.pop_back();
        report_error("start_error", *r.error, cs.id, {});
        terminate_all();
        return exit_reason::shutdown(fmt::format("failed_to_start_child {}: {}", cs.id, *r.error));
      }
      if (r.ignored && c.spec.options.restart == temporary)
        children_.pop_back(); // OTP: an ignored temporary child is not kept
    }
    return std::nullopt;
  }

  // A linked process ended.
  action on_exit(const exit_message& e) {
    if (spec_->strategy == simple_one_for_one) {
      auto it = dynamic_.find(e.from.id());
      if (it == dynamic_.end())
        return act::next();
      return child_ended_dynamic(it, e.reason);
    }
    auto it = std::find_if(children_.begin(), children_.end(),
                           [&](const child& c) { return c.pid_ == e.from; });
    if (it == children_.end())
      return act::next();
    return child_ended(static_cast<std::size_t>(it - children_.begin()), e.reason);
  }

  // A delayed restart (backoff), or another try after a failed restart
  // (which counts towards the intensity, as in OTP).
  action on_try_again(const try_again_restart& t) {
    if (spec_->strategy == simple_one_for_one) {
      auto it = std::find_if(dynamic_.begin(), dynamic_.end(),
                             [&](auto& kv) { return kv.second.seq == t.dynamic_seq; });
      if (it == dynamic_.end() || !it->second.restarting)
        return act::next();
      if (!t.counted && !add_restart())
        return intensity_reached();
      return restart_dynamic(it);
    }
    auto i = index_of(t.id);
    if (!i || !children_[*i].restarting)
      return act::next();
    if (!t.counted && !add_restart())
      return intensity_reached();
    return restart_static(*i);
  }

  // The supervisor is ending: stop every child, in reverse start order.
  void terminate_all() {
    if (spec_->strategy == simple_one_for_one) {
      terminate_dynamic_all();
      return;
    }
    for (std::size_t i = children_.size(); i-- > 0;)
      terminate(children_[i]);
  }

  call_result<pid> start_child(child_spec cs) {
    if (spec_->strategy == simple_one_for_one)
      return fail<pid>(supervisor_errc::wrong_strategy,
                       "use start_child(sup, args...) with a simple_one_for_one supervisor");
    if (std::string why = check_childspecs({cs}, spec_->strategy); !why.empty())
      return fail<pid>(supervisor_errc::bad_child_spec, std::move(why));
    if (cs.options.significant && spec_->auto_shutdown == auto_shutdown_mode::never)
      return fail<pid>(supervisor_errc::bad_child_spec,
                       fmt::format("bad_combination: child '{}' is significant but "
                                   "auto_shutdown is never",
                                   cs.id));
    if (auto i = index_of(cs.id)) {
      if (children_[*i].pid_)
        return call_result<pid>(exit_reason::user("already_started", children_[*i].pid_), self_);
      return fail<pid>(supervisor_errc::already_present);
    }
    children_.push_back(child{std::move(cs), {}, false, 0, 0, {}, {}, 0, {}});
    child_start r = start(children_.back());
    if (r.error) {
      children_.pop_back();
      return call_result<pid>(std::move(*r.error), self_);
    }
    if (r.ignored && children_.back().spec.options.restart == temporary)
      children_.pop_back();
    return call_result<pid>(r.pid);
  }

  call_result<pid> start_dynamic(std::shared_ptr<std::any> args) {
    if (spec_->strategy != simple_one_for_one)
      return fail<pid>(supervisor_errc::wrong_strategy,
                       "start_child(sup, args...) needs a simple_one_for_one supervisor");
    child c{*tmpl_, {}, false, 0, ++seq_, std::move(args), {}, 0, {}};
    child_start r = c.spec.start(c.args.get());
    if (r.error)
      return call_result<pid>(std::move(*r.error), self_);
    if (r.ignored)
      return call_result<pid>(pid());
    link(r.pid);
    c.pid_ = r.pid;
    c.started = otpp::runtime_clock::now();
    report_progress(c);
    dynamic_.emplace(r.pid.id(), std::move(c));
    return call_result<pid>(r.pid);
  }

  call_result<void> terminate_child(const terminate_child_req& r) {
    if (spec_->strategy == simple_one_for_one) {
      // OTP: by pid only; a pid that is no child is not_found while it
      // lives, and ok once it has ended (the child it was is gone).
      if (!r.child)
        return fail<void>(supervisor_errc::on_simple_one_for_one);
      auto it = dynamic_.find(r.child.id());
      if (it == dynamic_.end()) {
        if (info(r.child).status == otpp::process_status::exited)
          return call_result<void>(std::monostate{});
        return fail<void>(supervisor_errc::not_found);
      }
      terminate(it->second);
      dynamic_.erase(it);
      return call_result<void>(std::monostate{});
    }
    auto i = index_of(r.id);
    if (!i)
      return fail<void>(supervisor_errc::not_found);
    child& c = children_[*i];
    terminate(c);
    c.restarting = false;
    if (c.spec.options.restart == temporary)
      children_.erase(children_.begin() + static_cast<std::ptrdiff_t>(*i));
    return call_result<void>(std::monostate{});
  }

  call_result<pid> restart_child(const std::string& id) {
    if (spec_->strategy == simple_one_for_one)
      return fail<pid>(supervisor_errc::on_simple_one_for_one);
    auto i = index_of(id);
    if (!i)
      return fail<pid>(supervisor_errc::not_found);
    child& c = children_[*i];
    if (c.pid_)
      return fail<pid>(supervisor_errc::running);
    if (c.restarting)
      return fail<pid>(supervisor_errc::restarting);
    child_start r = start(c);
    if (r.error)
      return call_result<pid>(std::move(*r.error), self_);
    return call_result<pid>(r.pid);
  }

  call_result<void> delete_child(const std::string& id) {
    if (spec_->strategy == simple_one_for_one)
      return fail<void>(supervisor_errc::on_simple_one_for_one);
    auto i = index_of(id);
    if (!i)
      return fail<void>(supervisor_errc::not_found);
    if (children_[*i].pid_)
      return fail<void>(supervisor_errc::running);
    if (children_[*i].restarting)
      return fail<void>(supervisor_errc::restarting);
    children_.erase(children_.begin() + static_cast<std::ptrdiff_t>(*i));
    return call_result<void>(std::monostate{});
  }

  // OTP order: the most recently started first.
  std::vector<child_info> which_children() const {
    std::vector<child_info> out;
    auto info = [](const child& c) {
      return child_info{c.spec.id,
                        c.pid_,
                        c.spec.type,
                        c.spec.options.restart,
                        c.pid_         ? child_info::status::running
                        : c.restarting ? child_info::status::restarting
                                       : child_info::status::stopped,
                        c.restarts,
                        c.spec.options.significant};
    };
    if (spec_->strategy == simple_one_for_one) {
      std::vector<const child*> v;
      for (auto& [k, c] : dynamic_)
        v.push_back(&c);
      std::sort(v.begin(), v.end(), [](const child* a, const child* b) { return a->seq > b->seq; });
      for (const child* c : v)
        out.push_back(info(*c));
      return out;
    }
    for (std::size_t i = children_.size(); i-- > 0;)
      out.push_back(info(children_[i]));
    return out;
  }

  child_counts count_children() const {
    child_counts n;
    auto add = [&](const child& c) {
      ++n.specs;
      if (c.pid_)
        ++n.active;
      if (c.spec.type == child_type::supervisor)
        ++n.supervisors;
      else
        ++n.workers;
    };
    for (auto& c : children_)
      add(c);
    for (auto& [k, c] : dynamic_)
      add(c);
    if (spec_->strategy == simple_one_for_one)
      n.specs = 1; // OTP: the template is the one spec, however many children run
    return n;
  }

  supervisor_summary summary() {
    prune_restarts(otpp::runtime_clock::now());
    return {spec_->strategy, spec_->intensity, spec_->period, restarts_.size(), spec_->name};
  }

private:
  template <class T> call_result<T> fail(supervisor_errc code, std::string text = {}) const {
    return call_result<T>(make_supervisor_error(code, std::move(text)), self_);
  }

  std::optional<std::size_t> index_of(const std::string& id) const {
    for (std::size_t i = 0; i < children_.size(); ++i)
      if (children_[i].spec.id == id)
        return i;
    return std::nullopt;
  }

  // Start a static child; on success it is running.
  child_start start(child& c) {
    child_start r = c.spec.start(nullptr);
    if (r.error || r.ignored) {
      c.pid_ = pid();
      return r;
    }
    link(r.pid); // a start function that did not link still gives a supervised child
    c.pid_ = r.pid;
    c.restarting = false;
    c.started = otpp::runtime_clock::now();
    report_progress(c);
    return r;
  }

  static bool should_restart(const child& c, const exit_reason& reason) {
    switch (c.spec.options.restart) {
    case permanent:
      return true;
    case transient:
      return !reason.is_clean();
    case temporary:
      return false;
    }
    return false;
  }

  action child_ended(std::size_t i, const exit_reason& reason) {
    child& c = children_[i];
    c.pid_ = pid();
    c.last_exit = reason;
    bool restart = should_restart(c, reason);
    if (restart || !reason.is_clean())
      report_error("child_terminated", reason, c.spec.id, {});
    if (!restart) {
      bool significant = c.spec.options.significant;
      if (c.spec.options.restart == temporary)
        children_.erase(children_.begin() + static_cast<std::ptrdiff_t>(i));
      if (significant)
        return auto_shutdown_check();
      return act::next();
    }
    update_backoff(c);
    if (!add_restart())
      return intensity_reached();
    if (auto d = backoff_delay(c)) {
      c.restarting = true;
      send_after(self_, *d, try_again_restart{c.spec.id, 0, true});
      return act::next();
    }
    return restart_static(i);
  }

  action child_ended_dynamic(std::unordered_map<std::uint64_t, child>::iterator it,
                             const exit_reason& reason) {
    child& c = it->second;
    c.pid_ = pid();
    c.last_exit = reason;
    bool restart = should_restart(c, reason);
    if (restart || !reason.is_clean())
      report_error("child_terminated", reason, c.spec.id, {});
    if (!restart) {
      bool significant = c.spec.options.significant;
      dynamic_.erase(it); // a dynamic child that is not restarted is forgotten
      if (significant)
        return auto_shutdown_check();
      return act::next();
    }
    update_backoff(c);
    if (!add_restart())
      return intensity_reached();
    if (auto d = backoff_delay(c)) {
      c.restarting = true;
      send_after(self_, *d, try_again_restart{c.spec.id, c.seq, true});
      return act::next();
    }
    return restart_dynamic(it);
  }

  // Restart child `i` as the strategy says (its exit was counted already).
  action restart_static(std::size_t i) {
    std::size_t first = i;
    if (spec_->strategy != one_for_one) {
      // Stop the others (one_for_all) or those after it (rest_for_one), in
      // reverse start order; temporary ones are not restarted.
      std::size_t from = spec_->strategy == one_for_all ? 0 : i;
      std::string failed_id = children_[i].spec.id;
      for (std::size_t k = children_.size(); k-- > from;) {
        if (k == i)
          continue;
        terminate(children_[k]);
        children_[k].last_exit = exit_reason::shutdown();
      }
      std::erase_if(children_, [&](const child& c) {
        return c.spec.id != failed_id && c.spec.options.restart == temporary && !c.pid_ &&
               !c.restarting;
      });
      i = *index_of(failed_id);
      first = spec_->strategy == one_for_all ? 0 : i;
    }
    std::size_t last = spec_->strategy == one_for_one ? i + 1 : children_.size();
    for (std::size_t k = first; k < last; ++k) {
      child& c = children_[k];
      if (c.pid_)
        continue;
      bool restarted = k == i || spec_->strategy != one_for_one;
      child_start r = start(c);
      if (r.error) {
        report_error("start_error", *r.error, c.spec.id, {});
        // Try again later (each try counts towards the intensity), as OTP:
        // the retry is for the child that failed (for one_for_all it stops
        // and restarts the others again).
        c.restarting = true;
        send(self_, try_again_restart{c.spec.id, 0, false});
        return act::next();
      }
      if (restarted)
        c.count_restart(spec_->name);
    }
    return act::next();
  }

  action restart_dynamic(std::unordered_map<std::uint64_t, child>::iterator it) {
    child c = std::move(it->second);
    dynamic_.erase(it);
    child_start r = c.spec.start(c.args.get());
    if (r.error) {
      report_error("start_error", *r.error, c.spec.id, {});
      c.restarting = true;
      std::uint64_t key = ~c.seq; // not a pid id: parked until the try-again
      send(self_, try_again_restart{c.spec.id, c.seq, false});
      dynamic_.emplace(key, std::move(c));
      return act::next();
    }
    if (r.ignored)
      return act::next();
    link(r.pid);
    c.pid_ = r.pid;
    c.restarting = false;
    c.started = otpp::runtime_clock::now();
    c.count_restart(spec_->name);
    report_progress(c);
    dynamic_.emplace(r.pid.id(), std::move(c));
    return act::next();
  }

  action intensity_reached() {
    report_error("shutdown", exit_reason::user("reached_max_restart_intensity"), "", {});
    return act::stop(exit_reason::shutdown());
  }

  action auto_shutdown_check() {
    switch (spec_->auto_shutdown) {
    case auto_shutdown_mode::never:
      return act::next();
    case auto_shutdown_mode::any_significant:
      return act::stop(exit_reason::shutdown());
    case auto_shutdown_mode::all_significant: {
      auto alive = [](const child& c) {
        return c.spec.options.significant && (c.pid_ || c.restarting);
      };
      bool any =
          std::any_of(children_.begin(), children_.end(), alive) ||
          std::any_of(dynamic_.begin(), dynamic_.end(), [&](auto& kv) { return alive(kv.second); });
      return any ? act::next() : act::stop(exit_reason::shutdown());
    }
    }
    return act::next();
  }

  // Restart intensity: false if this restart is one too many.
  bool add_restart() {
    auto now = otpp::runtime_clock::now();
    restarts_.push_back(now);
    prune_restarts(now);
    return restarts_.size() <= static_cast<std::size_t>(std::max(spec_->intensity, 0));
  }
  void prune_restarts(std::chrono::steady_clock::time_point now) {
    while (!restarts_.empty() && now - restarts_.front() >= spec_->period)
      restarts_.pop_front();
  }

  void update_backoff(child& c) {
    if (spec_->backoff.initial <= std::chrono::steady_clock::duration::zero())
      return;
    if (otpp::runtime_clock::now() - c.started >= spec_->period)
      c.backoff_level = 0;
  }
  std::optional<std::chrono::steady_clock::duration> backoff_delay(child& c) {
    const restart_backoff& b = spec_->backoff;
    if (b.initial <= std::chrono::steady_clock::duration::zero())
      return std::nullopt;
    double d = static_cast<double>(b.initial.count());
    for (unsigned k = 0; k < c.backoff_level && d < static_cast<double>(b.max.count()); ++k)
      d *= b.factor;
    ++c.backoff_level;
    auto delay = std::chrono::steady_clock::duration(static_cast<std::chrono::steady_clock::rep>(
        std::min(d, static_cast<double>(b.max.count()))));
    return delay;
  }

  // Stop one child as its shutdown policy says (OTP's shutdown/1): monitor
  // it, unlink it (an exit message already there means it had ended: its
  // reason is the result), then exit(shutdown) and kill after the timeout,
  // or kill at once for brutal_kill. A result other than the expected
  // reason (normal is fine for a child that is not permanent) is reported.
  void terminate(child& c) {
    if (!c.pid_)
      return;
    pid p = std::exchange(c.pid_, pid());
    ref m = monitor(p);
    std::optional<exit_reason> reason = unlink_flush(p);
    shutdown_policy sp = c.spec.shutdown();
    exit_reason expected = exit_reason::shutdown();
    if (reason) {
      wait_down(m, shutdown_policy::infinite());
    } else if (sp.which() == shutdown_policy::kind::brutal_kill) {
      expected = exit_reason::killed();
      exit(p, exit_reason::kill());
      reason = wait_down(m, shutdown_policy::infinite());
    } else {
      exit(p, exit_reason::shutdown());
      reason = wait_down(m, sp);
      if (!reason) { // the shutdown timeout passed: kill it
        exit(p, exit_reason::kill());
        reason = wait_down(m, shutdown_policy::infinite());
      }
    }
    if (*reason == expected || (reason->is_normal() && c.spec.options.restart != permanent))
      return;
    report_error("shutdown_error", *reason, c.spec.id, p);
  }

  // simple_one_for_one: stop all at once (OTP does it concurrently too).
  void terminate_dynamic_all() {
    struct pending {
      pid p;
      ref m;
      std::string id;
    };
    std::vector<pending> v;
    shutdown_policy sp = tmpl_ ? tmpl_->shutdown() : shutdown_policy::infinite();
    // The downs arrive after this mark: each wait below is O(1) however many
    // children there are. After unlink no exit message of a child arrives;
    // one already there is dropped with the supervisor.
    mailbox_mark mark = this_process::mark();
    for (auto& [k, c] : dynamic_) {
      if (!c.pid_)
        continue;
      pid p = std::exchange(c.pid_, pid());
      unlink(p);
      v.push_back({p, monitor(p), c.spec.id});
      exit(p, sp.which() == shutdown_policy::kind::brutal_kill ? exit_reason::kill()
                                                               : exit_reason::shutdown());
    }
    // A flag and a plain time point, not an optional: g++ 12 -O3 warns that
    // the optional's value "may be used uninitialized".
    const bool timed = sp.which() == shutdown_policy::kind::timeout;
    const auto deadline = otpp::runtime_clock::now() +
                          (timed ? sp.timeout() : std::chrono::steady_clock::duration::zero());
    std::unordered_set<std::uint64_t> open;
    for (auto& x : v)
      open.insert(x.m.value());
    bool killed = false;
    while (!open.empty()) {
      duration left = timed && !killed
                          ? duration(std::max(deadline - otpp::runtime_clock::now(),
                                              std::chrono::steady_clock::duration::zero()))
                          : infinity;
      bool got = this_process::receive(
          mark,
          when([&open](const down& d) { return open.count(d.monitor.value()) != 0; },
               [&open](down& d) {
                 open.erase(d.monitor.value());
                 return true;
               }),
          after(left, [] { return false; }));
      if (!got && !killed) {
        for (auto& x : v)
          if (open.count(x.m.value()) != 0)
            exit(x.p, exit_reason::kill());
        killed = true;
      }
    }
    dynamic_.clear();
  }

  void report_error(std::string_view context, const exit_reason& reason, const std::string& id,
                    const pid& p) const {
    send_report(report_kind::supervisor, self_,
                fmt::format("supervisor {}: {}, reason: {}, child: {}{}", display_name(), context,
                            reason, id.empty() ? std::string("-") : id,
                            p ? fmt::format(" ({})", p) : std::string()));
  }
  void report_progress(const child& c) const {
    send_report(report_kind::progress, self_,
                fmt::format("supervisor {}: started child {} ({}, {})", display_name(), c.spec.id,
                            c.pid_, name_of(c.spec.type)));
  }
  std::string display_name() const {
    return spec_->name.empty() ? fmt::format("{}", self_) : spec_->name;
  }

  std::shared_ptr<const supervisor_spec> spec_;
  pid self_;
  std::vector<child> children_;                      // static children, in start order
  std::unordered_map<std::uint64_t, child> dynamic_; // simple_one_for_one, by pid id
  std::optional<child_spec> tmpl_;
  std::uint64_t seq_ = 0;
  std::deque<std::chrono::steady_clock::time_point> restarts_;
};

} // namespace detail

} // namespace otpp
