// The server process: init, the receive/dispatch loop, system messages,
// continue/timeout/hibernate, unhandled messages and terminate.
// Distributed under the Boost Software License, Version 1.0.
#pragma once

#include <otpp/behaviour/call.hpp>
#include <otpp/behaviour/detail/priority_queue.hpp>
#include <otpp/behaviour/detail/server_parts.hpp>
#include <otpp/behaviour/server_action.hpp>
#include <otpp/behaviour/server_definition.hpp>
#include <otpp/behaviour/server_init.hpp>
#include <otpp/behaviour/start.hpp>
#include <otpp/behaviour/sys.hpp>
#include <otpp/behaviour/unhandled_policy.hpp>
#include <otpp/core/any_message.hpp>
#include <otpp/core/exit_reason.hpp>
#include <otpp/core/link.hpp>
#include <otpp/core/metrics.hpp>
#include <otpp/core/process.hpp>
#include <otpp/core/receive.hpp>
#include <otpp/core/report.hpp>
#include <otpp/core/request.hpp>
#include <otpp/core/runtime.hpp>

#include <boost/core/demangle.hpp>
#include <fmt/format.h>

#include <any>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <tuple>
#include <type_traits>
#include <utility>

namespace otpp {

namespace detail {

template <class Def> class server_loop {
  using S = typename Def::state_type;

public:
  server_loop(Def def, pid parent)
      : def_(std::move(def)), parent_(std::move(parent)),
        sys_(def_.behaviour_name(), def_.display_name()) {}

  // The body of the server process, after start_process registered its name.
  template <class... Args> void run(init_context& ctx, Args&... args) {
    if (Def::traps_exits)
      this_process::trap_exit(true);
    action first;
    std::optional<exit_reason> crash;
    try {
      auto result = call_init(args...);
      if (result.which() == init_result<S>::kind::stop)
        ctx.fail(result.reason());
      if (result.which() == init_result<S>::kind::ignore)
        ctx.ignore();
      state_.emplace(std::move(*result.state()));
      first = std::move(result.then());
    } catch (...) {
      rethrow_if_exit();
      crash = exit_reason::from_exception(std::current_exception());
    }
    if (crash) // out of the catch block: send may suspend (see loop)
      ctx.fail(std::move(*crash));
    bind_controls();
    ctx.ack();
    loop(std::move(first));
  }

private:
  template <class... Args> init_result<S> call_init(Args&... args) {
    constexpr int idx = index_of_init();
    if constexpr (idx >= 0) {
      auto& f = std::get<static_cast<std::size_t>(idx)>(def_.parts()).fn;
      static_assert(std::is_invocable_v<decltype(f)&, Args&&...>,
                    "otpp::start: the init function cannot be called with the start arguments");
      using R = std::invoke_result_t<decltype(f)&, Args&&...>;
      static_assert(std::is_convertible_v<R, init_result<S>>,
                    "otpp::server::init: init must return the state, init_ok(state[, action]), "
                    "init_stop(reason) or init_ignore() (give the lambda a return type of "
                    "otpp::init_result<State> to mix them)");
      return f(std::move(args)...);
    } else {
      static_assert(std::is_constructible_v<S, Args&&...>,
                    "otpp::start: without an init function the state is built from the start "
                    "arguments, and State(args...) does not compile");
      return init_result<S>(S(std::move(args)...));
    }
  }

  static constexpr int index_of_init() { return index_of_part<init_part>(); }
  template <template <class> class Part> static constexpr int index_of_part() {
    return []<std::size_t... I>(std::index_sequence<I...>) {
      int found = -1;
      ((found < 0 && is_instance_of<std::tuple_element_t<I, typename Def::parts_type>, Part>::value
            ? (found = static_cast<int>(I))
            : 0),
       ...);
      return found;
    }
    (std::make_index_sequence<std::tuple_size_v<typename Def::parts_type>>{});
  }

  // Control channels deliver to this process from now on.
  void bind_controls() {
    if constexpr (Def::has_control) {
      [&]<std::size_t... I>(std::index_sequence<I...>) {
        (bind_control<I>(), ...);
      }
      (std::make_index_sequence<std::tuple_size_v<typename Def::parts_type>>{});
    }
  }
  template <std::size_t I> void bind_control() {
    if constexpr (is_control_part<std::tuple_element_t<I, typename Def::parts_type>>::value)
      std::get<I>(def_.parts()).chan.bind(this_process::self());
  }
  // Is `m` a message on one of this server's control channels?
  bool is_control(const any_message& m) const {
    return [&]<std::size_t... I>(std::index_sequence<I...>) {
      return (control_of<I>(m) || ...);
    }
    (std::make_index_sequence<std::tuple_size_v<typename Def::parts_type>>{});
  }
  template <std::size_t I> bool control_of(const any_message& m) const {
    using P = std::tuple_element_t<I, typename Def::parts_type>;
    if constexpr (is_control_part<P>::value) {
      const auto* c = m.get_if<control_message<typename is_control_part<P>::message>>();
      return c != nullptr && c->channel() == std::get<I>(def_.parts()).chan.channel();
    } else {
      return false;
    }
  }

  // The next message to handle, or an empty one after `timeout`. A
  // prioritised definition moves what has arrived into its own queue and
  // takes the highest priority first (arrival order within a priority).
  any_message next_message(duration timeout) {
    if constexpr (!Def::prioritised) {
      if constexpr (Def::has_control) { // control channels before the mailbox
        any_message c =
            this_process::receive(when([this](const any_message& a) { return is_control(a); },
                                       [](any_message& a) { return std::move(a); }),
                                  after(duration(), [] { return any_message(); }));
        if (c)
          return c;
      }
      return this_process::receive([](any_message& a) { return std::move(a); },
                                   after(timeout, [] { return any_message(); }));
    } else {
      take_arrived();
      if (queue_.empty()) {
        any_message m = this_process::receive([](any_message& a) { return std::move(a); },
                                              after(timeout, [] { return any_message(); }));
        if (!m)
          return m;
        queue_.push(m, priority_of(m));
        take_arrived();
      }
      return queue_.pop();
    }
  }
  // System messages and signals first, then the first matching rule, else 0.
  int priority_of(any_message& m) {
    if (detail::is_system_message(m) || m.is<exit_message>() || m.is<down>())
      return std::numeric_limits<int>::max();
    if (is_control(m))
      return std::numeric_limits<int>::max() - 1;
    int level = 0;
    [&]<std::size_t... I>(std::index_sequence<I...>) {
      (void)(priority_rule<I>(m, level) || ...);
    }
    (std::make_index_sequence<std::tuple_size_v<typename Def::parts_type>>{});
    return level;
  }
  template <std::size_t I> bool priority_rule(any_message& m, int& level) {
    using P = std::tuple_element_t<I, typename Def::parts_type>;
    if constexpr (is_priority_part<P>::value) {
      const auto& rule = std::get<I>(def_.parts());
      if (priority_matches(rule, std::as_const(*state_), m)) {
        level = rule.level;
        return true;
      }
    }
    return false;
  }
  void take_arrived() {
    if constexpr (Def::prioritised) {
      for (;;) {
        any_message m = this_process::receive([](any_message& a) { return std::move(a); },
                                              after(duration(), [] { return any_message(); }));
        if (!m)
          return;
        queue_.push(m, priority_of(m));
      }
    }
  }

  [[noreturn]] void loop(action next) {
    exit_reason crash;
    try {
      for (;;) {
        while (next.which() == action::kind::continue_with)
          next = run_continue(next.continuation());
        if (next.which() == action::kind::stop)
          stop_with(next.reason());
        if (next.which() == action::kind::hibernate)
          hibernate();
        if (next.which() == action::kind::timeout) {
          any_message m = next_message(next.timeout());
          next = m ? dispatch(m) : on_timeout();
        } else {
          any_message m = next_message(infinity);
          next = dispatch(m);
        }
      }
    } catch (const process_exit& e) {
      if (terminated_ || !this_process::catch_exit(e))
        throw;            // an exit signal (no terminate, OTP), or the end after terminate
      crash = e.reason(); // this_process::exit in a handler: terminate runs (OTP)
    } catch (...) {
      rethrow_if_exit(); // the unwinding of a killed process
      crash = exit_reason::from_exception(std::current_exception());
    }
    // terminate runs out of the catch block: a process must not suspend
    // inside one (the C++ runtime keeps its caught exceptions per thread,
    // shared by the processes of a scheduler, and ending catch blocks out
    // of order frees another process's exception).
    stop_with(std::move(crash));
  }

  [[noreturn]] void stop_with(exit_reason reason,
                              const std::function<void()>& after_terminate = {}) {
    run_terminate(reason);
    terminated_ = true;
    if (after_terminate)
      after_terminate();
    if (!reason.is_clean())
      send_report(report_kind::crash, this_process::self(),
                  fmt::format("server {} terminating with reason {}; state: {}", sys_.name(),
                              reason, format_state()));
    this_process::exit(std::move(reason));
  }

  void run_terminate(exit_reason& reason) {
    constexpr int idx = index_of_part<terminate_part>();
    if constexpr (idx >= 0) {
      if (!state_)
        return;
      try {
        std::get<static_cast<std::size_t>(idx)>(def_.parts()).fn(*state_, std::as_const(reason));
      } catch (...) {
        rethrow_if_exit();
        reason = exit_reason::from_exception(std::current_exception());
      }
    }
  }

  void hibernate() {
    constexpr int idx = index_of_part<hibernate_part>();
    if constexpr (idx >= 0)
      std::get<static_cast<std::size_t>(idx)>(def_.parts()).fn(*state_);
    this_process::hibernate();
  }

  std::string format_state() const { return detail::format_state<S>(state_ ? &*state_ : nullptr); }

  // Invoke f(state, extra..., value), passing the value as an lvalue only
  // if f takes it by non-const lvalue reference.
  template <class F, class M, class... Extra>
  decltype(auto) invoke(F& f, M& value, Extra&... extra) {
    if constexpr (std::is_invocable_v<F&, S&, Extra&..., M&&>)
      return f(*state_, extra..., std::move(value));
    else
      return f(*state_, extra..., value);
  }

  // The inactivity timeout: handled as an info message of type server_timeout.
  action on_timeout() {
    send(this_process::self(), server_timeout{});
    any_message m =
        this_process::receive(when([](const any_message& a) { return a.is<server_timeout>(); },
                                   [](any_message& a) { return std::move(a); }));
    return dispatch(m);
  }

  action run_continue(std::any& c) {
    action out;
    bool done = false;
    [&]<std::size_t... I>(std::index_sequence<I...>) {
      (void)((try_continue<I>(c, out, done)) || ...);
    }
    (std::make_index_sequence<std::tuple_size_v<typename Def::parts_type>>{});
    if (!done)
      return act::stop(exit_reason::user(
          fmt::format("no continue handler for a {}", demangled(c.type().name()))));
    return out;
  }
  static std::string demangled(const char* n) { return boost::core::demangle(n); }

  template <std::size_t I> bool try_continue(std::any& c, action& out, bool& done) {
    using P = std::tuple_element_t<I, typename Def::parts_type>;
    if constexpr (is_continue<P>::value) {
      using M = typename is_continue<P>::message;
      if (M* v = std::any_cast<M>(&c)) {
        out = to_action(std::get<I>(def_.parts()).fn, *v);
        done = true;
        trace_event("continue", type_name_of<M>, out);
        return true;
      }
    }
    return false;
  }
  template <class P> struct is_continue : std::false_type {};
  template <class M, class F> struct is_continue<continue_part<M, F>> : std::true_type {
    using message = M;
  };

  action dispatch(any_message& m) {
    exit_reason sys_reason;
    if constexpr (Def::prioritised)
      sys_.held(queue_.size());
    switch (sys_.handle(m, state_ ? &*state_ : nullptr, parent_, sys_reason)) {
    case sys_handler::outcome::stop:
      return act::stop(std::move(sys_reason));
    case sys_handler::outcome::handled:
      return act::next();
    case sys_handler::outcome::not_system:
      break;
    }
    sys_.count();
    // An exit signal from the parent of a trapping server stops it (OTP),
    // whether it traps because of on_exit or because init asked to.
    if (auto* e = m.get_if<exit_message>(); e != nullptr && parent_ && e->from == parent_)
      return act::stop(e->reason);
    action out;
    bool done = [&]<std::size_t... I>(std::index_sequence<I...>) {
      // Typed handlers first; a catch-all only takes what they all leave.
      return (try_part<I>(m, out) || ...) || (try_any<I>(m, out) || ...);
    }
    (std::make_index_sequence<std::tuple_size_v<typename Def::parts_type>>{});
    if (!done)
      out = unhandled(m);
    return out;
  }

  template <std::size_t I> bool try_part(any_message& m, action& out) {
    using P = std::tuple_element_t<I, typename Def::parts_type>;
    auto& part = std::get<I>(def_.parts());
    if constexpr (is_call_part<P>::value) {
      using M = typename is_call_part<P>::message;
      auto* req = m.get_if<request<M>>();
      if (req == nullptr || !part.guard(std::as_const(*state_), std::as_const(req->value)))
        return false;
      out = timed_call([&] { return handle_call(part, *req); });
      trace_event("call", type_name_of<M>, out);
      return true;
    } else if constexpr (is_cast_part<P>::value) {
      using M = typename is_cast_part<P>::message;
      auto* c = m.get_if<cast_message<M>>();
      if (c == nullptr || !part.guard(std::as_const(*state_), std::as_const(c->value)))
        return false;
      out = to_action(part.fn, c->value);
      trace_event("cast", type_name_of<M>, out);
      return true;
    } else if constexpr (is_control_part<P>::value) {
      using M = typename is_control_part<P>::message;
      auto* c = m.get_if<control_message<M>>();
      if (c == nullptr || c->channel() != part.chan.channel())
        return false;
      out = to_action(part.fn, c->value());
      trace_event("control", type_name_of<M>, out);
      return true;
    } else if constexpr (is_info_part<P>::value) {
      using M = typename is_info_part<P>::message;
      auto* v = m.get_if<M>();
      if (v == nullptr)
        return false;
      out = to_action(part.fn, *v);
      trace_event("info", type_name_of<M>, out);
      return true;
    } else {
      return false;
    }
  }
  template <std::size_t I> bool try_any(any_message& m, action& out) {
    using P = std::tuple_element_t<I, typename Def::parts_type>;
    auto& part = std::get<I>(def_.parts());
    if constexpr (is_any<P>::value) {
      std::string_view type = m.type_name();
      std::string t(type); // the handler may forward the message
      if constexpr (std::is_void_v<std::invoke_result_t<decltype(part.fn)&, S&, any_message&>>) {
        part.fn(*state_, m);
        out = {};
      } else {
        out = part.fn(*state_, m);
      }
      trace_event("any", t, out);
      return true;
    } else {
      return false;
    }
  }
  template <class P> struct is_any : std::false_type {};
  template <class F> struct is_any<any_part<F>> : std::true_type {};

  template <class F, class M> action to_action(F& f, M& value) {
    if constexpr (std::is_void_v<decltype(invoke(f, value))>) {
      invoke(f, value);
      return {};
    } else {
      return invoke(f, value);
    }
  }

  // Run a call's handler; with the runtime's timings on, its time (from
  // taking the call to the reply; a deferred call: to the handler's return)
  // goes in otpp_server_call_duration_seconds{server=<display name>}.
  // Counted before the reply goes out (observe_call), so a caller that has
  // its answer finds its call counted.
  template <class F> action timed_call(F&& f) {
    metric_registry& reg = this_process::get_runtime().metrics();
    if (!reg.timings()) [[likely]]
      return f();
    if (call_time_ == nullptr)
      call_time_ = &reg.histogram(
          "otpp_server_call_duration_seconds", "Time a server took to handle a call.",
          {{"server", def_.display_name()}}, metric_histogram::exponential(1e-6, 4, 11));
    call_started_ = std::chrono::steady_clock::now();
    timing_call_ = true;
    action a = f();
    observe_call();
    return a;
  }
  void observe_call() {
    if (!timing_call_) [[likely]]
      return;
    timing_call_ = false;
    call_time_->observe(
        std::chrono::duration<double>(std::chrono::steady_clock::now() - call_started_).count());
  }

  template <class M, class F, bool Deferred, class G>
  action handle_call(call_part<M, F, Deferred, G>& part, request<M>& req) {
    if constexpr (Deferred) {
      using C = typename arg_at<F, S, 1>::type;
      C ref(req.from);
      if constexpr (std::is_void_v<decltype(invoke(part.fn, req.value, ref))>) {
        invoke(part.fn, req.value, ref);
        return {};
      } else {
        return invoke(part.fn, req.value, ref);
      }
    } else {
      using R = decltype(invoke(part.fn, req.value));
      if constexpr (std::is_void_v<R>) {
        invoke(part.fn, req.value);
        observe_call();
        send_reply(req.from, std::monostate{});
        return {};
      } else if constexpr (is_reply_with_action<std::remove_cvref_t<R>>::value) {
        auto r = invoke(part.fn, req.value);
        observe_call();
        if (r.then.which() == action::kind::stop) {
          // OTP: terminate runs first, then the caller gets its reply.
          reply_to from = req.from;
          stop_with(r.then.reason(), [&] { send_reply(from, std::move(r.value)); });
        }
        send_reply(req.from, std::move(r.value));
        return std::move(r.then);
      } else {
        decltype(auto) v = invoke(part.fn, req.value);
        observe_call();
        send_reply(req.from, std::forward<decltype(v)>(v));
        return {};
      }
    }
  }

  action unhandled(any_message& m) {
    const unhandled_policy& p = def_.policy();
    std::string type(m.type_name());
    trace_event("unhandled", type, {});
    switch (p.which()) {
    case unhandled_policy::kind::terminate:
      return act::stop(exit_reason::user(fmt::format("unhandled message: {}", type)));
    case unhandled_policy::kind::dead_letter:
      std::move(m).forward(p.target());
      return {};
    case unhandled_policy::kind::log:
      send_report(
          report_kind::unhandled, this_process::self(),
          fmt::format("server {} dropped an unhandled message of type {}", sys_.name(), type));
      [[fallthrough]];
    case unhandled_policy::kind::drop:
      fail_unhandled_call(m);
      return {};
    }
    return {};
  }

  template <class M> static constexpr std::string_view type_name_of = otpp::type_name<M>();

  void trace_event(std::string_view kind, std::string_view type, const action& a) {
    if (!sys_.tracing())
      return;
    constexpr std::string_view names[] = {"next", "timeout", "hibernate", "continue", "stop"};
    std::string what(names[static_cast<int>(a.which())]);
    if (a.which() == action::kind::stop)
      what += fmt::format(" {}", a.reason());
    send_report(report_kind::trace, this_process::self(),
                fmt::format("server {}: {} {} -> {}", sys_.name(), kind, type, what));
  }

  Def def_;
  pid parent_;
  std::optional<S> state_;
  sys_handler sys_;
  metric_histogram* call_time_ = nullptr; // see timed_call
  std::chrono::steady_clock::time_point call_started_{};
  bool timing_call_ = false;
  bool terminated_ = false; // terminate has run: what ends the process now passes
  [[no_unique_address]] std::conditional_t<Def::prioritised, priority_queue, std::monostate> queue_;
};

} // namespace detail

} // namespace otpp
