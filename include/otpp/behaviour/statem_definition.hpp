// A state machine definition (gen_statem): the data, the states (types),
// and typed handlers per state and event, enter calls, postpone rules,
// init and terminate. Built as a value, started by otpp::start*. The
// type-erased events are in detail/statem_event.hpp, init results in
// statem_init.hpp.
// Distributed under the Boost Software License, Version 1.0.
#pragma once

#include <otpp/behaviour/call.hpp>
#include <otpp/behaviour/detail/statem_event.hpp>
#include <otpp/behaviour/detail/traits.hpp>
#include <otpp/behaviour/statem_actions.hpp>
#include <otpp/behaviour/statem_events.hpp>
#include <otpp/behaviour/statem_init.hpp>
#include <otpp/behaviour/statem_task.hpp>
#include <otpp/behaviour/unhandled_policy.hpp>
#include <otpp/core/any_message.hpp>
#include <otpp/core/message.hpp>
#include <otpp/core/request.hpp>

#include <fmt/format.h>

#include <any>
#include <coroutine>
#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <tuple>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

namespace otpp::sm {

/// A machine's state and data together: what `get_state` returns and
/// `replace_state` changes. `status` shows the current state's type (or
/// value, if it can be formatted).
template <class Data, class... States> struct snapshot {
  std::variant<States...> state;
  Data data;
  /// The current state as text.
  std::string state_name() const {
    return std::visit(
        [](const auto& s) -> std::string {
          using S = std::decay_t<decltype(s)>;
          if constexpr (fmt::is_formattable<S>::value)
            return fmt::format("{}", s);
          else
            return std::string(otpp::detail::type_name<S>());
        },
        state);
  }
};

namespace detail {

template <class T> struct is_next : std::false_type {};
template <class... Ts> struct is_next<next<Ts...>> : std::true_type {
  template <class... States> static constexpr bool within = (one_of<Ts, States...> && ...);
};
template <class T> struct is_next_state : std::false_type {};
template <class S> struct is_next_state<next_state_t<S>> : std::true_type { using state = S; };

template <class V, class S, class... Rest> V any_to_state_impl(std::any& a) {
  if (auto* s = std::any_cast<S>(&a))
    return V(std::move(*s));
  if constexpr (sizeof...(Rest) > 0)
    return any_to_state_impl<V, Rest...>(a);
  else
    throw std::logic_error("otpp::sm: a transition to a state the machine does not have");
}
template <class V, class... States> V any_to_state(std::any& a) {
  return any_to_state_impl<V, States...>(a);
}

// A handler result as an outcome; the checks say what each result may be.
template <class V, class... States, class R> outcome<V> to_outcome(R&& r) {
  using U = std::decay_t<R>;
  outcome<V> o;
  if constexpr (std::is_same_v<U, keep_state_t>) {
    o.actions = std::move(r.actions);
  } else if constexpr (std::is_same_v<U, repeat_state_t>) {
    o.which = step::repeat;
    o.actions = std::move(r.actions);
  } else if constexpr (std::is_same_v<U, stop_t>) {
    o.which = step::stop;
    o.reason = std::move(r.reason);
    o.actions = std::move(r.actions);
  } else if constexpr (std::is_same_v<U, action> || std::is_same_v<U, enter_action>) {
    o.actions.push_back(std::move(r.data()));
  } else if constexpr (is_next_state<U>::value) {
    o.which = step::next;
    o.actions = std::move(r.actions);
    o.target.emplace(std::move(r.state));
  } else {
    o.which = r.which();
    o.actions = std::move(r.actions());
    o.reason = std::move(r.reason());
    if (o.which == step::next)
      o.target = any_to_state<V, States...>(r.target());
  }
  return o;
}

template <class R, class... States> constexpr void check_result() {
  using U = std::decay_t<R>;
  if constexpr (is_next<U>::value) {
    static_assert(is_next<U>::template within<States...>,
                  "otpp::sm: a handler's next<...> names a state that is not one of the "
                  "machine's states (statem<Data, States...>)");
  } else if constexpr (is_next_state<U>::value) {
    static_assert(one_of<typename is_next_state<U>::state, States...>,
                  "otpp::sm: a handler returns next_state(s) for an s that is not one of the "
                  "machine's states (statem<Data, States...>)");
  } else {
    static_assert(std::is_void_v<U> || std::is_same_v<U, keep_state_t> ||
                      std::is_same_v<U, repeat_state_t> || std::is_same_v<U, stop_t> ||
                      std::is_same_v<U, action> || std::is_same_v<U, enter_action>,
                  "otpp::sm: a handler returns void, an action, keep_state(...), "
                  "repeat_state(...), next_state(s, ...), stop(...) or next<Targets...>");
  }
}

template <class V, class D> struct tables {
  struct handler {
    std::size_t state; // variant index; npos: every state (on_all)
    event::kind kind;
    std::function<bool(const event&)> accepts;
    std::function<outcome<V>(V&, D&, event&, await_host&)> run;
  };
  std::vector<handler> handlers;
  std::vector<std::function<outcome<V>(V&, D&, const V&)>> enter; // per state index, may be empty
  std::function<void(V&, D&, const exit_reason&)> terminate;
  std::function<std::any(D&)> init; // returns an init_result<...>
  std::string name;
  unhandled_policy policy = unhandled_policy::drop;
  bool enter_calls = false;
};

// Which (state, event) pairs the handlers and postpone rules take, in the
// definition's type (for exhaustive()); any_state: on_any_state.
struct any_state {};
template <class S, class E> struct covers {};
template <class S, class E, class... C>
inline constexpr bool covered = (std::is_same_v<C, covers<S, E>> || ...) ||
                                (std::is_same_v<C, covers<any_state, E>> || ...);

// Instantiated for a pair no handler takes: the compiler names S and E.
template <class S, class E> struct unhandled_pair {
  static_assert(sizeof(S) == 0,
                "otpp::statem: exhaustive(): no handler takes event E in state S (both named "
                "in otpp::sm::detail::unhandled_pair<S, E> here): add on<S>(...) for it, an "
                "on_any_state(...) handler, or postpone<S, E>()");
};
template <class S, class E, class... C> constexpr bool check_pair() {
  if constexpr (!covered<S, E, C...>)
    return sizeof(unhandled_pair<S, E>) > 0;
  return true;
}

template <class T, class S> inline constexpr std::size_t index_in = 0;
template <class T, class... S>
inline constexpr std::size_t index_in<T, std::variant<S...>> = [] {
  std::size_t i = 0;
  bool found = false;
  ((found = found || std::is_same_v<T, S>, i += found ? 0 : 1), ...);
  return i;
}();

template <class E> struct call_reply { using type = void; };
template <class Q, class R> struct call_reply<call_of<Q, R>> { using type = R; };
template <class M, class E> inline constexpr bool is_call_for = false;
template <class M, class R> inline constexpr bool is_call_for<M, call_of<M, R>> = true;

template <class M, class E, class... Es> constexpr auto reply_of_call() {
  if constexpr (is_call_for<M, E>)
    return std::type_identity<typename call_reply<E>::type>{};
  else if constexpr (sizeof...(Es) > 0)
    return reply_of_call<M, Es...>();
  else
    return std::type_identity<void>{};
}

} // namespace detail

template <class Data, class States, class Events = std::tuple<>, class Covered = std::tuple<>>
class definition;

/// A state machine definition: `Data` (shared by every state), the state
/// types, and the event types its handlers take (the protocol a typed
/// handle checks). Make one with `otpp::statem<Data, States...>()`.
template <class Data, class... States, class... Events, class... Covered>
class definition<Data, std::tuple<States...>, std::tuple<Events...>, std::tuple<Covered...>> {
  template <class, class, class, class> friend class definition;

  static_assert(sizeof...(States) > 0, "otpp::statem<Data, States...>: give at least one state");

public:
  using data_type = Data;
  using state_variant = std::variant<States...>;
  /// What `get_state` returns: the state and the data.
  using state_type = snapshot<Data, States...>;
  /// What an init function returns.
  using init_type = init_result<Data, States...>;

  /// The protocol (see `otpp::protocol`): casts and calls some handler takes.
  template <class M> static constexpr bool handles_cast = detail::one_of<M, Events...>;
  template <class M> static constexpr bool handles_call = (detail::is_call_for<M, Events> || ...);
  template <class M>
  using call_reply_t = typename decltype(detail::reply_of_call<M, Events..., void>())::type;

  definition() : t_(std::make_shared<tables>()) { t_->enter.resize(sizeof...(States)); }

  /// Handle events of the type of `fn`'s last parameter in state `S`:
  /// `fn(S&, Data&, E)` where `E` is `M` (a cast), `call_of<Q, R>`,
  /// `info_of<M>`, `internal_of<M>` or `timeout_of<M>`. The first handler
  /// registered for a (state, event) pair takes it.
  /// @par OTP
  /// `state_functions`: `StateName(EventType, Event, Data)`.
  template <class S, class F> auto on(F fn) && {
    static_assert(detail::one_of<S, States...>,
                  "otpp::statem: on<S>: S is not one of the machine's states");
    using sig = otpp::detail::handler_sig<F, S>;
    static_assert(sig::valid && std::tuple_size_v<typename sig::args> == 3,
                  "otpp::statem: on<S>(fn): fn must be callable as fn(S&, Data&, Event)");
    using E = std::decay_t<std::tuple_element_t<2, typename sig::args>>;
    static_assert(std::is_invocable_v<F&, S&, Data&, E>,
                  "otpp::statem: on<S>(fn): fn must be callable as fn(S&, Data&, Event)");
    using R = typename sig::result;
    detail::check_result<R, States...>();
    add<E>(detail::index_in<S, state_variant>,
           [fn = std::move(fn)](state_variant& v, Data& d, E ev, detail::await_host&) mutable {
             return call_handler(fn, std::get<S>(v), d, std::move(ev));
           });
    return std::move(*this).template with_event<S, E>();
  }

  /// Handle events of `fn`'s event type in every state, with the whole
  /// state: `fn(state_variant&, Data&, E)` (std::visit it, or keep one state
  /// type that is a plain value such as an enum). Per-state handlers
  /// registered before take precedence.
  /// @par OTP
  /// `handle_event_function`: `handle_event(EventType, Event, State, Data)`.
  template <class F> auto on_any_state(F fn) && {
    using sig = otpp::detail::handler_sig<F, state_variant>;
    static_assert(sig::valid && std::tuple_size_v<typename sig::args> == 3,
                  "otpp::statem: on_any_state(fn): fn must be callable as "
                  "fn(std::variant<States...>&, Data&, Event)");
    using E = std::decay_t<std::tuple_element_t<2, typename sig::args>>;
    static_assert(std::is_invocable_v<F&, state_variant&, Data&, E>,
                  "otpp::statem: on_any_state(fn): fn's first parameter must be the machine's "
                  "std::variant<States...>& (the states in the order statem<Data, States...> "
                  "names them) and its second Data&");
    using R = typename sig::result;
    detail::check_result<R, States...>();
    add<E>(npos,
           [fn = std::move(fn)](state_variant& v, Data& d, E ev, detail::await_host&) mutable {
             return call_handler(fn, v, d, std::move(ev));
           });
    return std::move(*this).template with_event<detail::any_state, E>();
  }

  /// An awaiting handler for events of `fn`'s event type in state `S`: a
  /// coroutine `fn(sm::context<Data, States...>& cx, E) -> sm::task<R>`. It
  /// may `co_await cx.await(op)` (an Asio operation made with
  /// `asio::deferred`, such as `otpp::file`'s `async_*`) or
  /// `co_await cx.blocking(f)`: the machine then handles other events
  /// until the operation completes, and the handler resumes with the
  /// machine's state and data as they are then (see `sm::context`). Its
  /// `co_return` value (as any handler's result, checked the same way) is
  /// applied when it finishes, to the state the machine is in then.
  /// Several awaiting handlers may be in flight at once.
  template <class S, class F> auto on_async(F fn) && {
    static_assert(detail::one_of<S, States...>,
                  "otpp::statem: on_async<S>: S is not one of the machine's states");
    using cx = context<Data, States...>;
    using sig = otpp::detail::handler_sig<F, cx>;
    static_assert(sig::valid && std::tuple_size_v<typename sig::args> == 2,
                  "otpp::statem: on_async<S>(fn): fn must be callable as "
                  "fn(sm::context<Data, States...>&, Event) and return sm::task<R>");
    using E = std::decay_t<std::tuple_element_t<1, typename sig::args>>;
    using T = std::decay_t<typename sig::result>;
    static_assert(is_task<T>, "otpp::statem: on_async<S>(fn): fn must return sm::task<R> "
                              "(a coroutine; use on<S> for a plain handler)");
    using R = decltype(std::declval<T&>().take());
    detail::check_result<R, States...>();
    add<E>(detail::index_in<S, state_variant>,
           [fn = std::move(fn)](state_variant& v, Data& d, E ev, detail::await_host& host) mutable {
             auto c = std::make_unique<cx>(v, d, host);
             T t = fn(*c, std::move(ev));
             return finish_or_keep<R>(std::move(t), std::move(c));
           });
    return std::move(*this).template with_event<S, E>();
  }

  /// Postpone events of type `E` (as a handler parameter: `M` for a cast,
  /// `call_of<Q, R>`, `info_of<M>`) in state `S`: each is retried after the
  /// next change of state.
  template <class S, class E> auto postpone() && {
    static_assert(detail::one_of<S, States...>,
                  "otpp::statem: postpone<S, E>: S is not one of the machine's states");
    own();
    t_->handlers.push_back(
        typename tables::handler{detail::index_in<S, state_variant>, detail::event_traits<E>::kind,
                                 [](const detail::event& e) { return detail::matches<E>(e); },
                                 [](state_variant&, Data&, detail::event&, detail::await_host&) {
                                   return action_outcome(sm::postpone());
                                 }});
    return std::move(*this).template with_event<S, E>();
  }

  /// An enter call for state `S`: `fn(S&, Data&, const state_variant& old)`
  /// runs on entering `S` by a change of state, by `repeat_state`, and on
  /// the initial state (with itself as `old`). It returns void, an
  /// `enter_action` or an `enter_result`: it cannot change state, postpone
  /// or insert events.
  /// @par OTP
  /// `state_enter` calls.
  template <class S, class F> auto on_enter(F fn) && {
    static_assert(detail::one_of<S, States...>,
                  "otpp::statem: on_enter<S>: S is not one of the machine's states");
    static_assert(std::is_invocable_v<F&, S&, Data&, const state_variant&>,
                  "otpp::statem: on_enter<S>(fn): fn must be callable as "
                  "fn(S&, Data&, const std::variant<States...>& old_state)");
    using R = std::decay_t<std::invoke_result_t<F&, S&, Data&, const state_variant&>>;
    static_assert(std::is_void_v<R> || std::is_same_v<R, enter_action> ||
                      std::is_same_v<R, enter_result>,
                  "otpp::statem: an enter call cannot change state, postpone or insert events: "
                  "return void, an sm::enter_action (reply, timeouts, hibernate) or an "
                  "sm::enter_result");
    own();
    t_->enter_calls = true;
    t_->enter[detail::index_in<S, state_variant>] =
        [fn = std::move(fn)](state_variant& v, Data& d, const state_variant& old) mutable {
          detail::outcome<state_variant> o;
          if constexpr (std::is_void_v<R>) {
            fn(std::get<S>(v), d, old);
          } else if constexpr (std::is_same_v<R, enter_action>) {
            o.actions.push_back(std::move(fn(std::get<S>(v), d, old).data()));
          } else {
            o.actions = std::move(fn(std::get<S>(v), d, old).actions());
          }
          return o;
        };
    return std::move(*this);
  }

  /// How the machine starts: `fn(Data&)` returns `init_ok(state, actions...)`,
  /// `init_stop(reason)` or `init_ignore()`. Without it the machine starts in
  /// its first state, default-constructed.
  template <class F> auto on_init(F fn) && {
    static_assert(std::is_invocable_v<F&, Data&>,
                  "otpp::statem: on_init(fn): fn must be callable as fn(Data&)");
    own();
    t_->init = [fn = std::move(fn)](Data& d) mutable {
      return std::any(init_result<Data, States...>(fn(d)));
    };
    return std::move(*this);
  }

  /// Runs when the machine stops (by a `stop` result, `otpp::stop`, a crash
  /// or an exit from its parent): `fn(state_variant&, Data&, const exit_reason&)`.
  template <class F> auto on_terminate(F fn) && {
    static_assert(std::is_invocable_v<F&, state_variant&, Data&, const exit_reason&>,
                  "otpp::statem: on_terminate(fn): fn must be callable as "
                  "fn(std::variant<States...>&, Data&, const exit_reason&)");
    own();
    t_->terminate = std::move(fn);
    return std::move(*this);
  }

  /// Make a (state, event) pair that no handler takes a compile error:
  /// every state must take every event type `Es...` (by `on<S>`,
  /// `on_any_state` or `postpone<S, E>`), or, with no `Es`, every event type
  /// any handler of the machine takes. Call it last: it checks the
  /// handlers registered before it. (Timeouts and inserted events that only
  /// some states see are usually left out: name the events to check.)
  template <class... Es> auto exhaustive() && {
    if constexpr (sizeof...(Es) == 0)
      static_assert((check_events<States, Events...>() && ...));
    else
      static_assert((check_events<States, Es...>() && ...));
    return std::move(*this);
  }

  /// The name shown by `status` and reports.
  auto named(std::string n) && {
    own();
    t_->name = std::move(n);
    return std::move(*this);
  }
  /// What an event no handler takes does (default `drop`: an unhandled
  /// call fails in its caller).
  auto unhandled(unhandled_policy p) && {
    own();
    t_->policy = std::move(p);
    return std::move(*this);
  }

  /// @cond internal
  using tables = detail::tables<state_variant, Data>;
  static constexpr std::size_t npos = static_cast<std::size_t>(-1);
  const tables& table() const noexcept { return *t_; }
  std::string display_name() const { return t_->name; }
  explicit definition(std::shared_ptr<tables> t) : t_(std::move(t)) {}
  std::shared_ptr<tables> release() && { return std::move(t_); }
  /// @endcond

private:
  // The definition with event E known, handled in state S (or any_state).
  template <class S, class E> auto with_event() && {
    using C = std::tuple<Covered..., detail::covers<S, E>>;
    if constexpr (detail::one_of<E, Events...>)
      return definition<Data, std::tuple<States...>, std::tuple<Events...>, C>(std::move(t_));
    else
      return definition<Data, std::tuple<States...>, std::tuple<Events..., E>, C>(std::move(t_));
  }
  template <class S, class... Es> static constexpr bool check_events() {
    return (detail::check_pair<S, Es, Covered...>() && ...);
  }
  // The tables are shared by copies: copy them before a change.
  void own() {
    if (t_.use_count() > 1)
      t_ = std::make_shared<tables>(*t_);
  }
  template <class E, class Run> void add(std::size_t state, Run run) {
    own();
    t_->handlers.push_back(
        typename tables::handler{state, detail::event_traits<E>::kind,
                                 [](const detail::event& e) { return detail::matches<E>(e); },
                                 [run = std::move(run)](state_variant& v, Data& d, detail::event& e,
                                                        detail::await_host& host) mutable {
                                   return run(v, d, std::move(*detail::as_param<E>(e)), host);
                                 }});
  }
  template <class R, class T, class C> struct task_of final : detail::running_task<state_variant> {
    task_of(T t, std::unique_ptr<C> c) : job(std::move(t)), cx(std::move(c)) {}
    bool done() const noexcept override { return job.done(); }
    std::coroutine_handle<> handle() const noexcept override { return job.handle(); }
    detail::outcome<state_variant> finish() override {
      if constexpr (std::is_void_v<R>) {
        job.take();
        return {};
      } else {
        return detail::to_outcome<state_variant, States...>(job.take());
      }
    }
    T job;
    std::unique_ptr<C> cx; // what the frame refers to
  };
  // A task that finished before its first co_await is a plain result.
  template <class R, class T, class C>
  static detail::outcome<state_variant> finish_or_keep(T t, std::unique_ptr<C> c) {
    auto run = std::make_unique<task_of<R, T, C>>(std::move(t), std::move(c));
    if (run->done())
      return run->finish();
    detail::outcome<state_variant> o;
    o.pending = std::move(run);
    return o;
  }
  static detail::outcome<state_variant> action_outcome(action a) {
    detail::outcome<state_variant> o;
    o.actions.push_back(std::move(a.data()));
    return o;
  }
  template <class F, class S, class E>
  static detail::outcome<state_variant> call_handler(F& fn, S& s, Data& d, E ev) {
    using R = decltype(fn(s, d, std::move(ev)));
    if constexpr (std::is_void_v<R>) {
      fn(s, d, std::move(ev));
      return {};
    } else {
      return detail::to_outcome<state_variant, States...>(fn(s, d, std::move(ev)));
    }
  }

  std::shared_ptr<tables> t_;
};

} // namespace otpp::sm

namespace otpp {

/// A state machine definition with shared data `Data` and the state types
/// `States...` (with one state type that is a plain value, an enum say, it
/// is OTP's handle_event_function style).
template <class Data, class... States> sm::definition<Data, std::tuple<States...>> statem() {
  return {};
}

/// Matches the state machine definitions.
template <class T> inline constexpr bool is_statem_definition = false;
template <class D, class... S, class... E, class... C>
inline constexpr bool
    is_statem_definition<sm::definition<D, std::tuple<S...>, std::tuple<E...>, std::tuple<C...>>> =
        true;
template <class T>
concept statem_definition_type = is_statem_definition<std::decay_t<T>>;

} // namespace otpp

template <class D, class... S>
struct fmt::formatter<otpp::sm::snapshot<D, S...>> : fmt::formatter<std::string_view> {
  template <class Ctx> auto format(const otpp::sm::snapshot<D, S...>& s, Ctx& ctx) const {
    std::string text = fmt::format("state {}", s.state_name());
    if constexpr (fmt::is_formattable<D>::value)
      text += fmt::format(", data {}", s.data);
    return fmt::formatter<std::string_view>::format(text, ctx);
  }
};
