// The state machine process: init, the event queue (inserted and
// postponed events before the mailbox), transitions, enter calls, the
// three kinds of timeouts, system messages, unhandled events and terminate.
// Distributed under the Boost Software License, Version 1.0.
#pragma once

#include <otpp/behaviour/call.hpp>
#include <otpp/behaviour/start.hpp>
#include <otpp/behaviour/statem_actions.hpp>
#include <otpp/behaviour/statem_definition.hpp>
#include <otpp/behaviour/statem_task.hpp>
#include <otpp/behaviour/sys.hpp>
#include <otpp/behaviour/unhandled_policy.hpp>
#include <otpp/core/any_message.hpp>
#include <otpp/core/clock.hpp>
#include <otpp/core/exit_reason.hpp>
#include <otpp/core/process.hpp>
#include <otpp/core/receive.hpp>
#include <otpp/core/report.hpp>
#include <otpp/core/trace.hpp>

#include <fmt/format.h>

#include <any>
#include <chrono>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

namespace otpp::sm::detail {

template <class V> bool same_state(const V& a, const V& b) {
  if (a.index() != b.index())
    return false;
  return std::visit(
      [&](const auto& x) {
        using S = std::decay_t<decltype(x)>;
        if constexpr (std::equality_comparable<S>)
          return x == std::get<S>(b);
        else
          return true; // a state type without == : the same type is the same state
      },
      a);
}

template <class Def> class statem_loop final : public await_host {
  using V = typename Def::state_variant;
  using D = typename Def::data_type;
  using clock = otpp::runtime_clock;
  using snap = typename Def::state_type;

  struct timer {
    clock::time_point at;
    std::any value;
    std::string_view type_name;
  };

public:
  statem_loop(Def def, pid parent)
      : def_(std::move(def)), t_(def_.table()), parent_(std::move(parent)),
        sys_("statem", def_.display_name()) {}

  template <class... Args> void run(init_context& ctx, Args&... args) {
    std::optional<exit_reason> crash;
    action_list first;
    try {
      st_.emplace(snap{V{}, D(std::move(args)...)});
      if (t_.init) {
        auto r = std::any_cast<init_result_of>(t_.init(st_->data));
        if (r.which() == init_result_of::kind::stop)
          crash = r.reason();
        else if (r.which() == init_result_of::kind::ignore)
          ignored_ = true;
        else {
          st_->state = std::move(*r.state());
          first = std::move(r.actions());
        }
      }
    } catch (...) {
      rethrow_if_exit();
      crash = exit_reason::from_exception(std::current_exception());
    }
    if (ignored_)
      ctx.ignore();
    if (crash)
      ctx.fail(std::move(*crash));
    ctx.ack();
    loop(std::move(first));
  }

private:
  using init_result_of = typename Def::init_type;

  [[noreturn]] void loop(action_list first) {
    exit_reason crash;
    try {
      // The initial state's enter call, then init's actions.
      apply_actions(first, nullptr);
      if (t_.enter_calls)
        run_enter(V(st_->state));
      for (;;) {
        event e = next_event();
        handle(e);
      }
    } catch (const process_exit& ex) {
      if (terminated_ || !this_process::catch_exit(ex))
        throw;
      crash = ex.reason();
    } catch (...) {
      rethrow_if_exit();
      crash = exit_reason::from_exception(std::current_exception());
    }
    stop_with(std::move(crash)); // out of the catch block (see server_loop)
  }

  // ---- events -------------------------------------------------------------

  // The next event: inserted and retried ones first, then the mailbox,
  // waiting until the earliest timer.
  event next_event() {
    for (;;) {
      if (!queue_.empty()) {
        event e = std::move(queue_.front());
        queue_.pop_front();
        return e;
      }
      if (hibernate_) {
        hibernate_ = false;
        this_process::hibernate();
      }
      const auto deadline = earliest();
      duration wait = infinity;
      if (deadline) {
        const auto now = clock::now();
        wait = *deadline > now ? duration(*deadline - now) : duration();
      }
      any_message m = this_process::receive([](any_message& a) { return std::move(a); },
                                            after(wait, [] { return any_message(); }));
      if (!m) {
        if (auto e = fire_due())
          return std::move(*e);
        continue;
      }
      if (!awaits_.empty() && resume_await(m))
        continue;
      exit_reason why;
      switch (sys_.handle(m, &*st_, parent_, why)) {
      case sys_handler::outcome::stop:
        stop_with(std::move(why));
      case sys_handler::outcome::handled:
        continue;
      case sys_handler::outcome::not_system:
        break;
      }
      if (auto* x = m.get_if<exit_message>(); x != nullptr && parent_ && x->from == parent_)
        stop_with(x->reason);
      // A message from the mailbox is a call or not; cast and info
      // handlers tell casts from other messages by type (see handle).
      event e;
      e.type_name = m.type_name();
      e.k = m.requester() != nullptr ? event::kind::call : event::kind::info;
      e.msg = std::move(m);
      return e;
    }
  }

  std::optional<clock::time_point> earliest() const {
    std::optional<clock::time_point> at;
    auto consider = [&](const timer& t) {
      if (!at || t.at < *at)
        at = t.at;
    };
    if (event_timer_)
      consider(*event_timer_);
    if (state_timer_)
      consider(*state_timer_);
    for (const auto& [name, t] : generic_)
      consider(t);
    return at;
  }
  // The timer that is due (earliest first) as an event, if one is.
  std::optional<event> fire_due() {
    const auto now = clock::now();
    if (event_timer_ && event_timer_->at <= now) {
      event e = timeout_event(*event_timer_, timeout_kind::event, {});
      event_timer_.reset();
      return e;
    }
    if (state_timer_ && state_timer_->at <= now) {
      event e = timeout_event(*state_timer_, timeout_kind::state, {});
      state_timer_.reset();
      return e;
    }
    for (auto it = generic_.begin(); it != generic_.end(); ++it) {
      if (it->second.at <= now) {
        event e = timeout_event(it->second, timeout_kind::generic, it->first);
        generic_.erase(it);
        return e;
      }
    }
    return std::nullopt;
  }

  // ---- one event ----------------------------------------------------------

  void handle(event& e) {
    sys_.count();
    event_timer_.reset(); // any event cancels the event timeout
    const std::size_t here = st_->state.index();
    for (const auto& h : t_.handlers) {
      if ((h.state != Def::npos && h.state != here) || !takes_kind(h.kind, e.k) || !h.accepts(e))
        continue;
      outcome<V> o = h.run(st_->state, st_->data, e, *this);
      if (o.pending) {
        // An awaiting handler is suspended: it decides when it finishes.
        tasks_.push_back(in_flight{std::move(o.pending), std::move(e)});
        return;
      }
      transition(e, std::move(o));
      return;
    }
    unhandled(e);
  }

  void transition(event& e, outcome<V> o) {
    std::optional<V> old; // for the enter call, after a change or a repeat
    if (o.which == step::next || o.which == step::repeat)
      old = st_->state;
    if (o.which == step::stop) {
      if (sys_.tracing())
        trace(e, fmt::format("stop {}", o.reason));
      for (auto& a : o.actions)
        if (a.k == action_data::kind::reply)
          run_reply(a); // OTP: the replies, then terminate
      stop_with(std::move(o.reason));
    }
    bool changed = false;
    // trace_kind::state_change, for a state machine traced with
    // trace_flags::behaviour: the names of both states.
    const bool trace_change = o.which == step::next && this_process::traced(trace_flags::behaviour);
    std::string old_name = trace_change ? st_->state_name() : std::string();
    if (o.which == step::next) {
      changed = !same_state(*old, *o.target);
      st_->state = std::move(*o.target);
    }
    if (changed && trace_change)
      trace_behaviour(trace_kind::state_change, st_->state_name(), old_name);
    if (sys_.tracing())
      trace(e, o.which == step::next     ? fmt::format("next {}", st_->state_name())
               : o.which == step::repeat ? std::string("repeat")
                                         : std::string("keep"));
    if (changed) {
      ++changes_;
      state_timer_.reset(); // a change of state cancels the state timeout
    }
    std::deque<event> inserted;
    bool postponed = apply_actions(o.actions, &inserted);
    if (postponed)
      postponed_.push_back(std::move(e));
    // Inserted events first, then (after a change) the postponed ones,
    // oldest first, then what was queued.
    if (changed) {
      while (!postponed_.empty()) {
        queue_.push_front(std::move(postponed_.back()));
        postponed_.pop_back();
      }
    }
    while (!inserted.empty()) {
      queue_.push_front(std::move(inserted.back()));
      inserted.pop_back();
    }
    if (t_.enter_calls && (changed || o.which == step::repeat))
      run_enter(*old);
    settle_event_timer();
  }

  // ---- awaiting handlers --------------------------------------------------

  std::uint64_t add_await(pending_await& a) override {
    const std::uint64_t id = ++await_ids_;
    awaits_.emplace(id, &a);
    return id;
  }
  void drop_await(std::uint64_t id) noexcept override { awaits_.erase(id); }
  std::uint64_t changes() const noexcept override { return changes_; }

  // If `m` completes an await: resume its handler (up to its next await or
  // its end, whose result is applied now as any handler's).
  bool resume_await(any_message& m) {
    for (auto it = awaits_.begin(); it != awaits_.end(); ++it) {
      pending_await* a = it->second;
      if (!a->complete(m))
        continue;
      awaits_.erase(it);
      const std::coroutine_handle<> h = a->waiter;
      h.resume();
      for (auto t = tasks_.begin(); t != tasks_.end(); ++t) {
        if (t->task->handle() != h || !t->task->done())
          continue;
        in_flight done = std::move(*t);
        tasks_.erase(t);
        sys_.count();
        transition(done.e, done.task->finish());
        break;
      }
      return true;
    }
    return false;
  }

  void run_enter(const V& old) {
    const auto& fn = t_.enter[st_->state.index()];
    if (!fn)
      return;
    outcome<V> o = fn(st_->state, st_->data, old);
    apply_actions(o.actions, nullptr);
    settle_event_timer();
  }

  // An event timeout is cancelled when an event is queued already; one
  // that is due (zero) is queued now, before any message not yet received.
  void settle_event_timer() {
    if (!event_timer_)
      return;
    if (!queue_.empty()) {
      event_timer_.reset();
      return;
    }
    if (event_timer_->at <= clock::now()) {
      queue_.push_back(timeout_event(*event_timer_, timeout_kind::event, {}));
      event_timer_.reset();
    }
  }
  static event timeout_event(timer& t, timeout_kind k, std::string name) {
    event e;
    e.k = event::kind::timeout;
    e.value = std::move(t.value);
    e.type_name = t.type_name;
    e.tk = k;
    e.name = std::move(name);
    return e;
  }

  // Apply the actions in order; true if the event is postponed.
  bool apply_actions(action_list& actions, std::deque<event>* inserted) {
    bool postponed = false;
    for (auto& a : actions) {
      switch (a.k) {
      case action_data::kind::reply:
        run_reply(a);
        break;
      case action_data::kind::postpone:
        postponed = true;
        break;
      case action_data::kind::next_event: {
        event e;
        e.k = event::kind::internal;
        e.value = std::move(a.value);
        e.type_name = a.type_name;
        if (inserted != nullptr)
          inserted->push_back(std::move(e));
        else
          queue_.push_back(std::move(e)); // from init: before any message
        break;
      }
      case action_data::kind::set_timeout:
        set_timer(a);
        break;
      case action_data::kind::cancel_timeout:
        if (a.tk == timeout_kind::state)
          state_timer_.reset();
        else
          generic_.erase(a.name);
        break;
      case action_data::kind::update_timeout:
        update_timer(a);
        break;
      case action_data::kind::hibernate:
        hibernate_ = true;
        break;
      }
    }
    return postponed;
  }

  void set_timer(action_data& a) {
    timer t{a.at ? *a.at : deadline_from_now(a.after), std::move(a.value), a.type_name};
    // A zero state or generic timeout is queued at once, after what is
    // queued (OTP); it replaces a running one of the same kind and name.
    if (!a.at && a.after.get() == duration::clock_duration::zero() && a.tk != timeout_kind::event) {
      if (a.tk == timeout_kind::state)
        state_timer_.reset();
      else
        generic_.erase(a.name);
      queue_.push_back(timeout_event(t, a.tk, a.name));
      return;
    }
    if (a.tk == timeout_kind::event)
      event_timer_ = std::move(t);
    else if (a.tk == timeout_kind::state)
      state_timer_ = std::move(t);
    else
      generic_.insert_or_assign(a.name, std::move(t));
  }
  void update_timer(action_data& a) {
    std::optional<timer>* slot = a.tk == timeout_kind::state ? &state_timer_ : nullptr;
    timer* running = nullptr;
    if (slot != nullptr && *slot)
      running = &**slot;
    if (slot == nullptr) {
      auto it = generic_.find(a.name);
      if (it != generic_.end())
        running = &it->second;
    }
    if (running != nullptr) {
      running->value = std::move(a.value);
      running->type_name = a.type_name;
      return;
    }
    // Not running: the timeout event comes at once (OTP).
    timer now{clock::now(), std::move(a.value), a.type_name};
    queue_.push_back(timeout_event(now, a.tk, a.name));
  }
  static clock::time_point deadline_from_now(duration d) {
    if (d.is_infinite())
      return clock::time_point::max();
    const auto now = clock::now();
    return d.get() >= clock::time_point::max() - now ? clock::time_point::max() : now + d.get();
  }

  void unhandled(event& e) {
    const unhandled_policy& p = t_.policy;
    trace(e, "unhandled");
    const std::string what = fmt::format("unhandled {} event {} in state {}", e.kind_name(),
                                         e.type_name, st_->state_name());
    switch (p.which()) {
    case unhandled_policy::kind::terminate:
      stop_with(exit_reason::user(what));
    case unhandled_policy::kind::dead_letter:
      if (e.msg) {
        std::move(e.msg).forward(p.target());
        return;
      }
      break;
    case unhandled_policy::kind::log:
      send_report(report_kind::unhandled, this_process::self(),
                  fmt::format("statem {} dropped an {}", sys_.name(), what));
      break;
    case unhandled_policy::kind::drop:
      break;
    }
    if (const reply_to* from = e.msg ? e.msg.requester() : nullptr)
      send_reply(*from, call_failure{exit_reason::user(what)});
  }

  void trace(const event& e, const std::string& what) {
    if (!sys_.tracing())
      return;
    send_report(report_kind::trace, this_process::self(),
                fmt::format("statem {}: state {}: {} {} -> {}", sys_.name(), st_->state_name(),
                            e.kind_name(), e.type_name, what));
  }

  [[noreturn]] void stop_with(exit_reason reason) {
    if (t_.terminate && st_) {
      try {
        t_.terminate(st_->state, st_->data, std::as_const(reason));
      } catch (...) {
        rethrow_if_exit();
        reason = exit_reason::from_exception(std::current_exception());
      }
    }
    terminated_ = true;
    if (!reason.is_clean())
      send_report(report_kind::crash, this_process::self(),
                  fmt::format("statem {} terminating with reason {}; {}", sys_.name(), reason,
                              st_ ? fmt::format("{}", *st_) : std::string("(no state)")));
    this_process::exit(std::move(reason));
  }

  Def def_;
  const typename Def::tables& t_;
  pid parent_;
  std::optional<snap> st_;
  sys_handler sys_;
  std::deque<event> queue_;     // inserted and retried events, before the mailbox
  std::deque<event> postponed_; // oldest first
  std::optional<timer> event_timer_;
  std::optional<timer> state_timer_;
  std::map<std::string, timer> generic_;
  struct in_flight {
    std::unique_ptr<running_task<V>> task;
    event e;
  };
  std::vector<in_flight> tasks_;                   // awaiting handlers in flight
  std::map<std::uint64_t, pending_await*> awaits_; // their awaits, by id
  std::uint64_t await_ids_ = 0;
  std::uint64_t changes_ = 0;
  bool hibernate_ = false;
  bool terminated_ = false;
  bool ignored_ = false;
};

} // namespace otpp::sm::detail
