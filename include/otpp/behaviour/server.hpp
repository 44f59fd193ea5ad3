// Managed processes (gen_server): a process definition value with typed
// call / cast / info / exit handlers, and the client API to talk to it.
// Distributed under the Boost Software License, Version 1.0.
#pragma once

#include <otpp/behaviour/detail/server_traits.hpp>
#include <otpp/behaviour/report.hpp>
#include <otpp/core/any_message.hpp>
#include <otpp/core/exit_reason.hpp>
#include <otpp/core/link.hpp>
#include <otpp/core/message.hpp>
#include <otpp/core/pid.hpp>
#include <otpp/core/process.hpp>
#include <otpp/core/receive.hpp>
#include <otpp/core/request.hpp>
#include <otpp/core/runtime.hpp>

#include <boost/context/fiber.hpp>
#include <fmt/format.h>

#include <any>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <functional>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <tuple>
#include <type_traits>
#include <utility>
#include <variant>

namespace otpp {

/// How long `call` waits for a reply unless told otherwise (OTP's default).
inline constexpr std::chrono::steady_clock::duration default_call_timeout = std::chrono::seconds(5);

// ---------------------------------------------------------------------------
// Actions: what a handler tells the server to do next.
// ---------------------------------------------------------------------------

/// What the server does after a handler: go on, go on with an inactivity
/// timeout, hibernate, run a continue handler first, or stop.
///
/// @par OTP
/// The tail of a callback's return tuple: `{noreply, S}`, `{noreply, S,
/// Timeout}`, `{noreply, S, hibernate}`, `{noreply, S, {continue, C}}`,
/// `{stop, Reason, S}`.
class action {
public:
  enum class kind : std::uint8_t { next, timeout, hibernate, continue_with, stop };

  action() noexcept = default;
  kind which() const noexcept { return kind_; }
  std::chrono::steady_clock::duration timeout() const noexcept { return timeout_; }
  const exit_reason& reason() const noexcept { return reason_; }
  /// The value given to `act::continue_with`.
  std::any& continuation() noexcept { return continue_; }

  /// @cond internal
  static action make(kind k, std::chrono::steady_clock::duration t = {}, exit_reason r = {},
                     std::any c = {}) {
    action a;
    a.kind_ = k;
    a.timeout_ = t;
    a.reason_ = std::move(r);
    a.continue_ = std::move(c);
    return a;
  }
  /// @endcond

private:
  kind kind_ = kind::next;
  std::chrono::steady_clock::duration timeout_{};
  exit_reason reason_;
  std::any continue_;
};

/// The actions a handler can return.
namespace act {
/// Wait for the next message.
inline action next() {
  return {};
}
/// Wait for the next message; if none arrives within `t`, the timeout
/// handler runs (a `server_timeout` info message).
template <class Rep, class Period> action timeout(std::chrono::duration<Rep, Period> t) {
  return action::make(action::kind::timeout,
                      std::chrono::ceil<std::chrono::steady_clock::duration>(t));
}
/// Release what can be released (the `on_hibernate` hook, unused stack
/// pages) and sleep until the next message.
inline action hibernate() {
  return action::make(action::kind::hibernate);
}
/// Run the continue handler for `value`'s type before any other message.
template <class T> action continue_with(T value) {
  return action::make(action::kind::continue_with, {}, {}, std::any(std::move(value)));
}
/// Stop: `on_terminate` runs, then the server ends with `reason`.
inline action stop(exit_reason reason = exit_reason::normal()) {
  return action::make(action::kind::stop, {}, std::move(reason));
}
} // namespace act

/// A call handler's result that replies and then acts (OTP's `{reply, R, S,
/// Action}` and `{stop, Reason, Reply, S}`). Make it with `reply_and`.
template <class R> struct reply_with_action {
  R value;
  action then;
};

/// Reply `value`, then do `then` (for `act::stop`, OTP's order: terminate
/// runs first, then the reply is sent).
template <class R> reply_with_action<std::decay_t<R>> reply_and(R&& value, action then) {
  return {std::forward<R>(value), std::move(then)};
}

// ---------------------------------------------------------------------------
// Messages on the wire
// ---------------------------------------------------------------------------

/// How a cast travels (so a cast and an info message of the same type go to
/// different handlers). @par OTP `{'$gen_cast', Msg}`.
template <class M> struct cast_message { M value; };

/// The reply that makes the caller's `call` fail with `reason` (see
/// `call_ref::fail`, unhandled calls).
struct call_failure {
  exit_reason reason;
};

/// Delivered to the timeout handler when an inactivity timeout expires.
struct server_timeout {};

namespace server_detail {
struct sys_get_state {};
struct sys_get_status {};
struct sys_trace {
  bool on;
};
struct sys_stop {
  exit_reason reason;
};
struct sys_state_unavailable {};
struct init_ack {
  std::uint64_t tag;
  int status; // 0 ok, 1 stop/error, 2 ignore
  exit_reason reason;
};
} // namespace server_detail

/// A deferred reply: a call handler that takes a `call_ref<R>` may return
/// without replying and answer later, from any handler or process, with
/// `reply`. Copyable; only the first reply is delivered.
///
/// @par Cloud Haskell / OTP
/// `handleCallFrom` + `replyTo`; gen_server's `From` + `gen_server:reply/2`.
template <class R> class call_ref {
public:
  call_ref() = default;
  explicit call_ref(reply_to to) : to_(std::move(to)) {}

  /// Answer the call with `value`.
  template <class V = R>
  requires(!std::is_void_v<R>) void reply(V&& value) const {
    send_reply(to_, R(std::forward<V>(value)));
  }
  /// Answer a call whose reply type is void.
  void reply() const requires std::is_void_v<R> { send_reply(to_, std::monostate{}); }
  /// Make the caller's `call` fail with `reason`.
  void fail(exit_reason reason) const { send_reply(to_, call_failure{std::move(reason)}); }

  /// The calling process.
  const pid& caller() const noexcept { return to_.pid; }
  const reply_to& address() const noexcept { return to_; }
  explicit operator bool() const noexcept { return static_cast<bool>(to_.pid); }
  friend bool operator==(const call_ref& a, const call_ref& b) noexcept { return a.to_ == b.to_; }

private:
  reply_to to_;
};

// ---------------------------------------------------------------------------
// Init results
// ---------------------------------------------------------------------------

struct init_stop_t {
  exit_reason reason;
};
struct init_ignore_t {};

/// What `init` returns: the first state (and an action), stop, or ignore.
///
/// @par OTP
/// `{ok, S}`, `{ok, S, Timeout | hibernate | {continue, C}}`, `{stop, Reason}`, `ignore`.
template <class S> class init_result {
public:
  enum class kind { ok, stop, ignore };
  init_result(S state, action then = act::next())
      : kind_(kind::ok), state_(std::move(state)), then_(std::move(then)) {}
  init_result(init_stop_t s) : kind_(kind::stop), reason_(std::move(s.reason)) {}
  init_result(init_ignore_t) : kind_(kind::ignore) {}

  kind which() const noexcept { return kind_; }
  std::optional<S>& state() noexcept { return state_; }
  action& then() noexcept { return then_; }
  const exit_reason& reason() const noexcept { return reason_; }

private:
  kind kind_;
  std::optional<S> state_;
  action then_;
  exit_reason reason_;
};

/// `init` succeeded: start with `state`, then `then` (a timeout, hibernate or continue).
template <class S> init_result<std::decay_t<S>> init_ok(S&& state, action then = act::next()) {
  return init_result<std::decay_t<S>>(std::forward<S>(state), std::move(then));
}
/// `init` failed: the server ends with `reason` without entering its loop;
/// start returns an error with `reason`.
inline init_stop_t init_stop(exit_reason reason) {
  return {std::move(reason)};
}
/// `init` decided not to run: the server ends with `normal`; start reports `ignored`.
inline init_ignore_t init_ignore() {
  return {};
}

// ---------------------------------------------------------------------------
// Unhandled-message policy
// ---------------------------------------------------------------------------

/// What a server does with a message no handler takes.
///
/// @par Cloud Haskell
/// `UnhandledMessagePolicy`: `Terminate | Drop | DeadLetter ProcessId | Log`.
class unhandled_policy {
public:
  enum class kind : std::uint8_t { terminate, drop, dead_letter, log };

  /// End the server (terminate runs) with reason `user("unhandled message: <type>")`.
  static const unhandled_policy terminate;
  /// Discard it. An unhandled call fails at once in the caller.
  static const unhandled_policy drop;
  /// Send a report (`report_kind::unhandled`), then discard it as `drop` does.
  static const unhandled_policy log;
  /// Forward it, unchanged, to `to`; a forwarded call is answered by `to`.
  static unhandled_policy dead_letter(pid to) {
    return unhandled_policy(kind::dead_letter, std::move(to));
  }

  kind which() const noexcept { return kind_; }
  const pid& target() const noexcept { return target_; }

private:
  explicit unhandled_policy(kind k, pid t = {}) : kind_(k), target_(std::move(t)) {}
  kind kind_;
  pid target_;
};
inline const unhandled_policy unhandled_policy::terminate{unhandled_policy::kind::terminate};
inline const unhandled_policy unhandled_policy::drop{unhandled_policy::kind::drop};
inline const unhandled_policy unhandled_policy::log{unhandled_policy::kind::log};

// ---------------------------------------------------------------------------
// Handler parts of a definition
// ---------------------------------------------------------------------------

namespace server_detail {

// A call handler: (S&, M) -> reply, or (S&, call_ref<R>, M) -> void / action.
template <class M, class F, bool Deferred> struct call_part {
  using key = request<M>;
  F fn;
};
template <class M, class F> struct cast_part {
  using key = cast_message<M>;
  F fn;
};
template <class M, class F> struct info_part {
  using key = M;
  F fn;
};
template <class F> struct any_part { F fn; };
template <class M, class F> struct continue_part { F fn; };
template <class F> struct init_part { F fn; };
template <class F> struct terminate_part { F fn; };
template <class F> struct hibernate_part { F fn; };

template <class T> struct is_call_ref : std::false_type {};
template <class R> struct is_call_ref<call_ref<R>> : std::true_type { using reply = R; };
template <class T> struct is_reply_with_action : std::false_type {};
template <class R> struct is_reply_with_action<reply_with_action<R>> : std::true_type {
  using reply = R;
};

// The reply type a call handler gives its caller.
template <class P, class S> struct call_reply;
template <class M, class F, class S> struct call_reply<call_part<M, F, true>, S> {
  using type = typename is_call_ref<typename arg_at<F, S, 1>::type>::reply;
};
template <class R> struct reply_type_of { using type = R; };
template <class R> struct reply_type_of<reply_with_action<R>> { using type = R; };
template <class M, class F, class S> struct call_reply<call_part<M, F, false>, S> {
  // As server_loop::invoke passes the message: an rvalue if f takes one, else an lvalue.
  using result =
      typename std::conditional_t<std::is_invocable_v<F&, S&, M&&>, std::invoke_result<F&, S&, M&&>,
                                  std::invoke_result<F&, S&, M&>>::type;
  using type = typename reply_type_of<std::remove_cvref_t<result>>::type; // sent as a value
};

template <class P> struct is_call_part : std::false_type {};
template <class M, class F, bool D> struct is_call_part<call_part<M, F, D>> : std::true_type {
  using message = M;
};
template <class P> struct is_cast_part : std::false_type {};
template <class M, class F> struct is_cast_part<cast_part<M, F>> : std::true_type {
  using message = M;
};
template <class P> struct is_info_part : std::false_type {};
template <class M, class F> struct is_info_part<info_part<M, F>> : std::true_type {
  using message = M;
};
template <class P> struct is_init_part : std::false_type {};
template <class F> struct is_init_part<init_part<F>> : std::true_type {};
template <class P> struct is_terminate_part : std::false_type {};
template <class F> struct is_terminate_part<terminate_part<F>> : std::true_type {};

template <class P, class M> constexpr bool calls_with() {
  if constexpr (is_call_part<P>::value)
    return std::is_same_v<typename is_call_part<P>::message, M>;
  else
    return false;
}
template <class P, class M> constexpr bool casts_with() {
  if constexpr (is_cast_part<P>::value)
    return std::is_same_v<typename is_cast_part<P>::message, M>;
  else
    return false;
}
template <class P> constexpr bool is_exit_part() {
  if constexpr (is_info_part<P>::value)
    return std::is_same_v<typename is_info_part<P>::message, exit_message>;
  else
    return false;
}

// The first call part for M (index), or -1.
template <class M, class... Ps> constexpr int find_call() {
  int i = 0, found = -1;
  ((found < 0 && calls_with<Ps, M>() ? (found = i) : 0, ++i), ...);
  return found;
}

template <class P, template <class> class T> struct is_instance_of : std::false_type {};
template <class F, template <class> class T> struct is_instance_of<T<F>, T> : std::true_type {};

template <class M, class Tuple> struct find_call_in;
template <class M, class... Ps> struct find_call_in<M, std::tuple<Ps...>> {
  static constexpr int value = find_call<M, Ps...>();
};

template <class R> using wire_t = std::conditional_t<std::is_void_v<R>, std::monostate, R>;

// A handler result that is not a reply: void or action.
template <class R> action to_action(R&& r) {
  return std::forward<R>(r);
}

} // namespace server_detail

/// The deduced message type of a handler (default template argument).
struct deduce_message {};

/// A server definition: the state type and the handlers, a value built with
/// `otpp::server<State>()` and its chainable members. Each member returns a
/// new definition (its type records the handlers, so calls and casts are
/// checked at compile time); the handlers run inside the server process.
///
/// Handlers take the state by reference first (`S&`, `const S&` or a generic
/// `auto&`), then the message by value or reference; the message type is
/// deduced from the last parameter (name it explicitly, `on_info<T>(f)`, for
/// a generic message parameter). The first handler whose type matches a
/// message takes it; dispatch is a chain of type-tag comparisons fixed at
/// compile time.
///
/// @par Cloud Haskell / OTP
/// `ProcessDefinition` (apiHandlers, infoHandlers, exitHandlers,
/// terminateHandler, unhandledMessagePolicy); a gen_server callback module.
template <class State, class... Parts> class server_definition {
public:
  using state_type = State;
  using parts_type = std::tuple<Parts...>;

  server_definition() = default;
  server_definition(parts_type parts, std::string name, unhandled_policy policy)
      : parts_(std::move(parts)), name_(std::move(name)), policy_(std::move(policy)) {}

  /// A call handler: `(S&, M) -> R` replies R (void: the call returns once
  /// handled); `-> reply_and(r, action)` replies and acts;
  /// `(S&, call_ref<R>, M) -> void | action` replies later through the ref.
  template <class M = deduce_message, class F> auto on_call(F f) const& {
    return copy().template add_call<M>(std::move(f));
  }
  template <class M = deduce_message, class F> auto on_call(F f) && {
    return std::move(*this).template add_call<M>(std::move(f));
  }
  /// A cast handler: `(S&, M) -> void | action`.
  template <class M = deduce_message, class F> auto on_cast(F f) const& {
    return copy().template add_simple<server_detail::cast_part, M>(std::move(f), "on_cast");
  }
  template <class M = deduce_message, class F> auto on_cast(F f) && {
    return std::move(*this).template add_simple<server_detail::cast_part, M>(std::move(f),
                                                                             "on_cast");
  }
  /// An info handler for any other message type `M` (down messages,
  /// timers, plain sends): `(S&, M) -> void | action`.
  template <class M = deduce_message, class F> auto on_info(F f) const& {
    return copy().template add_simple<server_detail::info_part, M>(std::move(f), "on_info");
  }
  template <class M = deduce_message, class F> auto on_info(F f) && {
    return std::move(*this).template add_simple<server_detail::info_part, M>(std::move(f),
                                                                             "on_info");
  }
  /// An exit handler `(S&, const exit_message&) -> void | action`. A server
  /// with one traps exits; an exit signal from its parent still stops it
  /// (terminate runs) without reaching this handler.
  template <class F> auto on_exit(F f) const& {
    return copy().template add_simple<server_detail::info_part, exit_message>(std::move(f),
                                                                              "on_exit");
  }
  template <class F> auto on_exit(F f) && {
    return std::move(*this).template add_simple<server_detail::info_part, exit_message>(
        std::move(f), "on_exit");
  }
  /// The inactivity-timeout handler `(S&) -> void | action` (see `act::timeout`).
  template <class F> auto on_timeout(F f) const& { return copy().add_timeout(std::move(f)); }
  template <class F> auto on_timeout(F f) && { return std::move(*this).add_timeout(std::move(f)); }
  /// A continue handler `(S&, M) -> void | action` for `act::continue_with(M)`.
  template <class M = deduce_message, class F> auto on_continue(F f) const& {
    return copy().template add_simple<server_detail::continue_part, M>(std::move(f), "on_continue");
  }
  template <class M = deduce_message, class F> auto on_continue(F f) && {
    return std::move(*this).template add_simple<server_detail::continue_part, M>(std::move(f),
                                                                                 "on_continue");
  }
  /// The catch-all `(S&, any_message&) -> void | action`: takes what no
  /// typed handler took, before the unhandled policy applies.
  template <class F> auto on_any(F f) const& { return copy().add_any(std::move(f)); }
  template <class F> auto on_any(F f) && { return std::move(*this).add_any(std::move(f)); }
  /// `init(args...) -> State | init_result<State>`: runs in the new process
  /// before start returns. Without it the state is `State(args...)`.
  template <class F> auto init(F f) const& {
    return copy().template add_unique<server_detail::init_part>(std::move(f));
  }
  template <class F> auto init(F f) && {
    return std::move(*this).template add_unique<server_detail::init_part>(std::move(f));
  }
  /// `(S&, const exit_reason&)`: runs when the server stops by an action,
  /// a handler exception, the unhandled policy, `stop()`, or an exit
  /// signal from its parent while it traps exits.
  template <class F> auto on_terminate(F f) const& {
    return copy().template add_unique<server_detail::terminate_part>(std::move(f));
  }
  template <class F> auto on_terminate(F f) && {
    return std::move(*this).template add_unique<server_detail::terminate_part>(std::move(f));
  }
  /// `(S&)`: runs before the server hibernates (shrink buffers here).
  template <class F> auto on_hibernate(F f) const& {
    return copy().template add_unique<server_detail::hibernate_part>(std::move(f));
  }
  template <class F> auto on_hibernate(F f) && {
    return std::move(*this).template add_unique<server_detail::hibernate_part>(std::move(f));
  }

  /// The policy for messages no handler takes (default: terminate).
  server_definition unhandled(unhandled_policy p) const& {
    auto d = *this;
    d.policy_ = std::move(p);
    return d;
  }
  server_definition unhandled(unhandled_policy p) && {
    policy_ = std::move(p);
    return std::move(*this);
  }
  /// The name in status reports and traces (default: the state's type name).
  server_definition name(std::string n) const& {
    auto d = *this;
    d.name_ = std::move(n);
    return d;
  }
  server_definition name(std::string n) && {
    name_ = std::move(n);
    return std::move(*this);
  }

  /// True if a call of `M` has a handler.
  template <class M>
  static constexpr bool handles_call = server_detail::find_call<M, Parts...>() >= 0;
  /// The reply type of a call of `M` (precondition: `handles_call<M>`).
  template <class M>
  using call_reply_t = typename server_detail::call_reply<
      std::tuple_element_t<static_cast<std::size_t>(server_detail::find_call<M, Parts...>()),
                           parts_type>,
      State>::type;
  /// True if a cast of `M` has a handler.
  template <class M>
  static constexpr bool handles_cast = (server_detail::casts_with<Parts, M>() || ...);
  /// True if the server traps exits (it has an exit handler).
  static constexpr bool traps_exits = (server_detail::is_exit_part<Parts>() || ...);

  /// @cond internal
  const parts_type& parts() const noexcept { return parts_; }
  parts_type& parts() noexcept { return parts_; }
  const std::string& display_name() const noexcept { return name_; }
  const unhandled_policy& policy() const noexcept { return policy_; }
  /// @endcond

private:
  template <class, class...> friend class server_definition;

  server_definition copy() const { return *this; }

  template <class P> auto with(P part) && {
    return server_definition<State, Parts..., P>(
        std::tuple_cat(std::move(parts_), std::tuple<P>(std::move(part))), std::move(name_),
        std::move(policy_));
  }

  template <class M, class F> auto add_call(F f) && {
    using namespace server_detail;
    if constexpr (!std::is_same_v<M, deduce_message>) {
      static_assert(std::is_invocable_v<F&, State&, M&&> || std::is_invocable_v<F&, State&, M&>,
                    "otpp::server::on_call<M>(f): f must be callable as f(State&, M)");
      return std::move(*this).with(call_part<M, F, false>{std::move(f)});
    } else if constexpr (!sig_known<F, State>) {
      static_assert(always_false<F>,
                    "otpp::server::on_call(f): cannot deduce the message type of f; take the "
                    "state first (S& or auto&) and a concrete message type last, or name it: "
                    "on_call<Message>(f)");
      return std::move(*this);
    } else if constexpr (!state_by_reference<F, State>()) {
      static_assert(always_false<F>,
                    "otpp::server: take the state by reference (S&, const S& or auto&): a handler "
                    "that takes it by value changes a copy");
      return std::move(*this);
    } else if constexpr (arity<F, State> == 2) {
      using Msg = typename last_arg<F, State>::type;
      using R = typename handler_sig<F, State>::result;
      static_assert(
          !std::is_same_v<std::remove_cvref_t<R>, action>,
          "otpp::server::on_call: a call handler returns its reply; to reply later take "
          "a call_ref<Reply> parameter (S&, call_ref<R>, M) and return void or an action");
      return std::move(*this).with(call_part<Msg, F, false>{std::move(f)});
    } else if constexpr (arity<F, State> == 3 &&
                         is_call_ref<typename arg_at<F, State, 1>::type>::value) {
      using Msg = typename last_arg<F, State>::type;
      using R = std::remove_cvref_t<typename handler_sig<F, State>::result>;
      static_assert(std::is_void_v<R> || std::is_same_v<R, action>,
                    "otpp::server::on_call: a handler taking a call_ref replies through it; it "
                    "must return void or an otpp::action");
      return std::move(*this).with(call_part<Msg, F, true>{std::move(f)});
    } else {
      static_assert(always_false<F>,
                    "otpp::server::on_call: a call handler takes (State&, Message) or (State&, "
                    "call_ref<Reply>, Message)");
      return std::move(*this);
    }
  }

  template <template <class, class> class Part, class M, class F>
  auto add_simple(F f, const char*) && {
    using namespace server_detail;
    if constexpr (!std::is_same_v<M, deduce_message>) {
      static_assert(std::is_invocable_v<F&, State&, M&&> || std::is_invocable_v<F&, State&, M&>,
                    "otpp::server: a handler for message type M must be callable as f(State&, M)");
      check_result<std::invoke_result_t<F&, State&, M&>>();
      return std::move(*this).with(Part<M, F>{std::move(f)});
    } else if constexpr (!sig_known<F, State>) {
      static_assert(always_false<F>,
                    "otpp::server: cannot deduce the message type of a cast/info/continue "
                    "handler; take the state first (S& or auto&) and a concrete message type "
                    "last, or name it: on_info<Message>(f)");
      return std::move(*this);
    } else if constexpr (arity<F, State> != 2) {
      static_assert(always_false<F>,
                    "otpp::server: a cast/info/exit/continue handler takes (State&, Message)");
      return std::move(*this);
    } else if constexpr (!state_by_reference<F, State>()) {
      static_assert(always_false<F>,
                    "otpp::server: take the state by reference (S&, const S& or auto&): a handler "
                    "that takes it by value changes a copy");
      return std::move(*this);
    } else {
      check_result<typename handler_sig<F, State>::result>();
      return std::move(*this).with(Part<typename last_arg<F, State>::type, F>{std::move(f)});
    }
  }

  template <class R> static constexpr void check_result() {
    static_assert(std::is_void_v<R> || std::is_same_v<std::remove_cvref_t<R>, action>,
                  "otpp::server: cast, info, exit, timeout, continue and catch-all handlers "
                  "return void or an otpp::action (only call handlers reply)");
  }

  template <class F> auto add_timeout(F f) && {
    static_assert(std::is_invocable_v<F&, State&>,
                  "otpp::server::on_timeout(f): f must be callable as f(State&)");
    check_result<std::invoke_result_t<F&, State&>>();
    auto g = [fn = std::move(f)](State& s, server_timeout) mutable { return fn(s); };
    return std::move(*this).with(
        server_detail::info_part<server_timeout, decltype(g)>{std::move(g)});
  }

  template <class F> auto add_any(F f) && {
    static_assert(std::is_invocable_v<F&, State&, any_message&>,
                  "otpp::server::on_any(f): f must be callable as f(State&, any_message&)");
    check_result<std::invoke_result_t<F&, State&, any_message&>>();
    return std::move(*this).with(server_detail::any_part<F>{std::move(f)});
  }

  template <template <class> class Part, class F> auto add_unique(F f) && {
    static_assert(!(server_detail::is_instance_of<Parts, Part>::value || ...),
                  "otpp::server: init, on_terminate and on_hibernate may be given once");
    return std::move(*this).with(Part<F>{std::move(f)});
  }

  parts_type parts_;
  std::string name_ = std::string(otpp::type_name<State>());
  unhandled_policy policy_ = unhandled_policy::terminate;
};

/// Start a server definition with state type `State` (default: no state).
template <class State = std::monostate> server_definition<State> server() {
  static_assert(std::is_move_constructible_v<State>,
                "otpp::server<State>: the state must be move-constructible");
  return {};
}

template <class T> struct is_server_definition : std::false_type {};
template <class S, class... Ps>
struct is_server_definition<server_definition<S, Ps...>> : std::true_type {};
template <class T>
concept server_definition_type = is_server_definition<std::remove_cvref_t<T>>::value;

// ---------------------------------------------------------------------------
// Handles, errors, results
// ---------------------------------------------------------------------------

/// A typed handle on a running server: `call` and `cast` check at compile
/// time that the definition handles the message type, and know the reply
/// type. Converts to its `pid`.
template <class Definition> class server_ref {
public:
  using definition = Definition;
  server_ref() = default;
  /// Wrap a pid known to run `Definition` (e.g. found with `whereis`).
  explicit server_ref(otpp::pid p) : pid_(std::move(p)) {}
  const otpp::pid& pid() const noexcept { return pid_; }
  operator const otpp::pid&() const noexcept { return pid_; }
  explicit operator bool() const noexcept { return static_cast<bool>(pid_); }
  friend bool operator==(const server_ref& a, const server_ref& b) noexcept {
    return a.pid_ == b.pid_;
  }

private:
  otpp::pid pid_;
};

/// What a failed call, stop or start reports: the exit reason says why
/// (`noproc`: no such process; `timeout`; the server's own exit reason if it
/// died meanwhile; `user("calling_self")`; a `call_ref::fail` reason).
class call_error : public std::runtime_error {
public:
  call_error(exit_reason reason, otpp::pid server, std::string_view what)
      : std::runtime_error(fmt::format("otpp::{} {} failed: {}", what, server, reason)),
        reason_(std::move(reason)), server_(std::move(server)) {}
  const exit_reason& reason() const noexcept { return reason_; }
  const otpp::pid& server() const noexcept { return server_; }

private:
  exit_reason reason_;
  otpp::pid server_;
};

/// A start that failed (init stopped, threw or timed out) or was ignored.
class start_error : public std::runtime_error {
public:
  start_error(exit_reason reason, bool ignored)
      : std::runtime_error(ignored ? std::string("otpp::start: init returned ignore")
                                   : fmt::format("otpp::start failed: {}", reason)),
        reason_(std::move(reason)), ignored_(ignored) {}
  const exit_reason& reason() const noexcept { return reason_; }
  bool ignored() const noexcept { return ignored_; }

private:
  exit_reason reason_;
  bool ignored_;
};

/// The outcome of a call that does not throw: the reply, or why there is none.
template <class R> class call_result {
  using stored = server_detail::wire_t<R>;

public:
  call_result(stored v) : v_(std::in_place_index<0>, std::move(v)) {}
  call_result(exit_reason why, otpp::pid server)
      : v_(std::in_place_index<1>, std::move(why)), server_(std::move(server)) {}

  bool ok() const noexcept { return v_.index() == 0; }
  explicit operator bool() const noexcept { return ok(); }
  /// The reply; throws `call_error` if there is none.
  decltype(auto) value() & {
    check();
    if constexpr (!std::is_void_v<R>)
      return std::get<0>(v_);
  }
  decltype(auto) value() && {
    check();
    if constexpr (!std::is_void_v<R>)
      return R(std::move(std::get<0>(v_)));
  }
  /// Why there is no reply (precondition: `!ok()`).
  const exit_reason& error() const { return std::get<1>(v_); }

private:
  void check() const {
    if (!ok())
      throw call_error(std::get<1>(v_), server_, "call to");
  }
  std::variant<stored, exit_reason> v_;
  otpp::pid server_;
};

// ---------------------------------------------------------------------------
// Calls
// ---------------------------------------------------------------------------

namespace server_detail {

template <class R> call_result<R> fail(exit_reason why, const pid& to) {
  return call_result<R>(std::move(why), to);
}

// Wait for the answer to request `tag` sent to `to` after mark `m`. On
// timeout: nothing, and the request stays in flight unless `cancel`.
template <class R>
std::optional<call_result<R>> await_reply(const pid& to, ref tag, mailbox_mark m,
                                          std::chrono::steady_clock::duration timeout,
                                          bool cancel) {
  using W = wire_t<R>;
  using O = std::optional<call_result<R>>;
  return this_process::receive(
      m,
      when([tag](const any_message& a) { return a.reply_tag() == tag; },
           [&to](any_message& a) -> O {
             if (auto* r = a.get_if<reply<W>>())
               return call_result<R>(std::move(r->value));
             if (auto* f = a.get_if<reply<call_failure>>())
               return fail<R>(std::move(f->value.reason), to);
             return fail<R>(
                 exit_reason::user(fmt::format("bad reply type: expected {}, got {}",
                                               otpp::type_name<reply<W>>(), a.type_name())),
                 to);
           }),
      when([tag](const down& d) { return d.monitor == tag; },
           [&to, tag](down& d) -> O {
             cancel_request(tag);
             return fail<R>(std::move(d.reason), to);
           }),
      after(timeout, [&to, tag, cancel]() -> O {
        if (!cancel)
          return std::nullopt;
        cancel_request(tag);
        return fail<R>(exit_reason::timeout(), to);
      }));
}

template <class R, class M>
call_result<R> call_impl(const pid& to, M&& msg, std::chrono::steady_clock::duration timeout) {
  if (to == this_process::self())
    return fail<R>(exit_reason::user("calling_self"), to);
  mailbox_mark m = this_process::mark();
  ref tag = send_request(to, std::forward<M>(msg));
  return *await_reply<R>(to, tag, m, timeout, true);
}

struct no_reply_type_named {};

} // namespace server_detail

/// A call in flight (see `call_async`): wait for it later. Move-only; used by
/// the process that made it. Destroying it unanswered cancels it (a late
/// reply is dropped).
///
/// @par OTP
/// `gen_server:send_request/2` + `wait_response/2` / `receive_response/2`.
template <class R> class pending_call {
public:
  pending_call() = default;
  pending_call(otpp::pid to, ref tag, mailbox_mark m) : to_(std::move(to)), tag_(tag), mark_(m) {}
  pending_call(pending_call&& o) noexcept
      : to_(std::move(o.to_)), tag_(std::exchange(o.tag_, ref())), mark_(o.mark_) {}
  pending_call& operator=(pending_call&& o) noexcept {
    if (this != &o) {
      drop();
      to_ = std::move(o.to_);
      tag_ = std::exchange(o.tag_, ref());
      mark_ = o.mark_;
    }
    return *this;
  }
  ~pending_call() { drop(); }

  /// Wait for the answer; `timeout` ends the call as `call` does (it is
  /// cancelled and the result is a `timeout` error).
  call_result<R> wait(std::chrono::steady_clock::duration timeout = infinity) {
    if (!tag_)
      return call_result<R>(exit_reason::user("no call in flight"), to_);
    return *server_detail::await_reply<R>(to_, std::exchange(tag_, ref()), mark_, timeout, true);
  }
  /// Wait at most `timeout`; nothing if no answer came yet (the call stays
  /// in flight: wait again later).
  std::optional<call_result<R>> wait_for(std::chrono::steady_clock::duration timeout) {
    if (!tag_)
      return call_result<R>(exit_reason::user("no call in flight"), to_);
    auto out = server_detail::await_reply<R>(to_, tag_, mark_, timeout, false);
    if (out)
      tag_ = ref();
    return out;
  }
  /// Give up: a later reply is dropped. True if it was still in flight.
  bool cancel() {
    if (!tag_)
      return false;
    return cancel_request(std::exchange(tag_, ref()));
  }
  /// True until `wait` returned or `cancel` was called.
  bool in_flight() const noexcept { return static_cast<bool>(tag_); }
  const otpp::pid& server() const noexcept { return to_; }

private:
  void drop() noexcept {
    if (tag_ && this_process::is_process()) {
      try {
        cancel_request(std::exchange(tag_, ref()));
      } catch (...) { // an exit signal: it will be applied at the next receive
      }
    }
  }
  otpp::pid to_;
  ref tag_;
  mailbox_mark mark_;
};

/// Call a typed server: send `msg` and wait up to `timeout` for the reply.
///
/// @par Errors
/// Throws `call_error` if the server is not running (`noproc`), ends before
/// replying (its exit reason), does not reply within `timeout` (`timeout`;
/// a late reply is dropped), or is the caller (`calling_self`).
/// `std::logic_error` outside a process.
/// @par OTP
/// `gen_server:call/3`.
template <class Def, class M>
auto call(const server_ref<Def>& server, M&& msg,
          std::chrono::steady_clock::duration timeout = default_call_timeout) {
  using T = std::decay_t<M>;
  if constexpr (!Def::template handles_call<T>) {
    static_assert(server_detail::always_false<T>,
                  "otpp::call: the server definition has no call handler (on_call) for this "
                  "message type");
  } else {
    using R = typename Def::template call_reply_t<T>;
    return server_detail::call_impl<R>(server.pid(), std::forward<M>(msg), timeout).value();
  }
}

/// Call any process running a server, naming the reply type: `call<R>(pid, msg)`.
template <class R = server_detail::no_reply_type_named, class M>
auto call(const pid& server, M&& msg,
          std::chrono::steady_clock::duration timeout = default_call_timeout) {
  static_assert(!std::is_same_v<R, server_detail::no_reply_type_named>,
                "otpp::call(pid, msg): name the reply type, call<Reply>(pid, msg), or call "
                "through a typed server_ref");
  return server_detail::call_impl<R>(server, std::forward<M>(msg), timeout).value();
}

/// `call` with an explicit timeout (same as passing it to `call`).
template <class Def, class M>
auto call_for(const server_ref<Def>& server, M&& msg, std::chrono::steady_clock::duration timeout) {
  return call(server, std::forward<M>(msg), timeout);
}
template <class R, class M>
auto call_for(const pid& server, M&& msg, std::chrono::steady_clock::duration timeout) {
  return call<R>(server, std::forward<M>(msg), timeout);
}

/// Like `call`, but returns a `call_result` instead of throwing.
template <class Def, class M>
auto try_call(const server_ref<Def>& server, M&& msg,
              std::chrono::steady_clock::duration timeout = default_call_timeout) {
  using T = std::decay_t<M>;
  if constexpr (!Def::template handles_call<T>) {
    static_assert(server_detail::always_false<T>,
                  "otpp::try_call: the server definition has no call handler (on_call) for this "
                  "message type");
  } else {
    using R = typename Def::template call_reply_t<T>;
    return server_detail::call_impl<R>(server.pid(), std::forward<M>(msg), timeout);
  }
}
template <class R, class M>
call_result<R> try_call(const pid& server, M&& msg,
                        std::chrono::steady_clock::duration timeout = default_call_timeout) {
  return server_detail::call_impl<R>(server, std::forward<M>(msg), timeout);
}

/// Send a call without waiting: several may be in flight; `wait` on each later.
/// @par OTP
/// `gen_server:send_request/2`.
template <class Def, class M> auto call_async(const server_ref<Def>& server, M&& msg) {
  using T = std::decay_t<M>;
  if constexpr (!Def::template handles_call<T>) {
    static_assert(server_detail::always_false<T>,
                  "otpp::call_async: the server definition has no call handler (on_call) for "
                  "this message type");
  } else {
    using R = typename Def::template call_reply_t<T>;
    mailbox_mark m = this_process::mark();
    ref tag = send_request(server.pid(), std::forward<M>(msg));
    return pending_call<R>(server.pid(), tag, m);
  }
}
template <class R = server_detail::no_reply_type_named, class M>
auto call_async(const pid& server, M&& msg) {
  static_assert(!std::is_same_v<R, server_detail::no_reply_type_named>,
                "otpp::call_async(pid, msg): name the reply type, call_async<Reply>(pid, msg), or "
                "call through a typed server_ref");
  mailbox_mark m = this_process::mark();
  ref tag = send_request(server, std::forward<M>(msg));
  return pending_call<R>(server, tag, m);
}

/// Cast to a typed server: send and go on. Never fails (a cast to an ended
/// server is lost silently).
/// @par OTP
/// `gen_server:cast/2`.
template <class Def, class M> void cast(const server_ref<Def>& server, M&& msg) {
  using T = std::decay_t<M>;
  if constexpr (!Def::template handles_cast<T>) {
    static_assert(server_detail::always_false<T>,
                  "otpp::cast: the server definition has no cast handler (on_cast) for this "
                  "message type");
  } else {
    send(server.pid(), cast_message<T>{std::forward<M>(msg)});
  }
}
/// Cast to any process running a server.
template <class M> void cast(const pid& server, M&& msg) {
  send(server, cast_message<std::decay_t<M>>{std::forward<M>(msg)});
}

/// Stop a server: it runs `on_terminate` with `reason` and ends with it;
/// returns once it has ended.
///
/// @par Errors
/// `call_error` with `noproc` if it is not running, with `timeout` if it has
/// not ended within `timeout` (it is not killed), or with the reason it
/// ended with if that differs from `reason`.
/// @par OTP
/// `gen_server:stop/3`.
inline void stop(const pid& server, exit_reason reason = exit_reason::normal(),
                 std::chrono::steady_clock::duration timeout = infinity) {
  if (server == this_process::self())
    throw call_error(exit_reason::user("calling_self"), server, "stop of");
  ref m = monitor(server);
  send(server, server_detail::sys_stop{reason});
  std::optional<exit_reason> ended = this_process::receive(
      when([m](const down& d) { return d.monitor == m; },
           [](down& d) -> std::optional<exit_reason> { return std::move(d.reason); }),
      after(timeout, [m]() -> std::optional<exit_reason> {
        demonitor(m, {.flush = true});
        return std::nullopt;
      }));
  if (!ended)
    throw call_error(exit_reason::timeout(), server, "stop of");
  if (*ended != reason)
    throw call_error(*ended, server, "stop of");
}

/// What `status` reports about a server.
/// @par OTP
/// `sys:get_status/1`.
struct server_status {
  otpp::pid pid;
  std::string name;           ///< the definition's name
  std::string state;          ///< the state, formatted with fmt if it can be
  std::size_t mailbox_length; ///< messages waiting in the server's mailbox
  std::uint64_t handled;      ///< messages handled so far
  bool tracing;               ///< see `trace`
};

/// The state of a server (a copy), by its type. Throws `call_error` as `call` does.
/// @par OTP
/// `sys:get_state/1`.
template <class S>
S get_state(const pid& server, std::chrono::steady_clock::duration timeout = default_call_timeout) {
  static_assert(std::is_copy_constructible_v<S>,
                "otpp::get_state: the state type must be copy-constructible");
  return call<S>(server, server_detail::sys_get_state{}, timeout);
}
template <class Def>
typename Def::state_type
get_state(const server_ref<Def>& server,
          std::chrono::steady_clock::duration timeout = default_call_timeout) {
  return get_state<typename Def::state_type>(server.pid(), timeout);
}

/// A status report of a server. Throws `call_error` as `call` does.
inline server_status status(const pid& server,
                            std::chrono::steady_clock::duration timeout = default_call_timeout) {
  return call<server_status>(server, server_detail::sys_get_status{}, timeout);
}

/// Turn tracing of handled messages on or off: each one is reported (kind
/// `report_kind::trace`) with its kind, type and the resulting action.
/// @par OTP
/// `sys:trace/2`.
inline void trace(const pid& server, bool on,
                  std::chrono::steady_clock::duration timeout = default_call_timeout) {
  call<void>(server, server_detail::sys_trace{on}, timeout);
}

// ---------------------------------------------------------------------------
// Starting
// ---------------------------------------------------------------------------

/// Options of a start.
struct start_options {
  /// Register the server under this name before `init` runs (empty: none).
  /// A name in use makes the start fail with `user("already_started")`.
  std::string name{}; // "{}": g++ -Wextra lets {.spawn = ...} omit it
  /// How long to wait for `init`; on expiry the server is killed and the start fails with
  /// `timeout`.
  std::chrono::steady_clock::duration timeout = infinity;
  /// Where and how to spawn the server process.
  spawn_options spawn{};
};

/// The outcome of a start: a handle, `ignored`, or an error with a reason.
/// @par OTP
/// `{ok, Pid} | ignore | {error, Reason}`.
template <class H> class start_result {
public:
  static start_result ok(H h) { return start_result(std::move(h), {}, false); }
  static start_result ignore() { return start_result({}, {}, true); }
  static start_result error(exit_reason r) { return start_result({}, std::move(r), false); }

  bool ok() const noexcept { return static_cast<bool>(handle_); }
  explicit operator bool() const noexcept { return ok(); }
  bool ignored() const noexcept { return ignored_; }
  /// The start's failure reason (`normal` if ignored or started).
  const exit_reason& error() const noexcept { return reason_; }
  /// The handle; throws `start_error` if the start failed or was ignored.
  const H& value() const {
    if (!ok())
      throw start_error(reason_, ignored_);
    return handle_;
  }

private:
  start_result(H h, exit_reason r, bool ignored)
      : handle_(std::move(h)), reason_(std::move(r)), ignored_(ignored) {}
  H handle_;
  exit_reason reason_;
  bool ignored_;
};

namespace server_detail {

template <class Def> class server_loop {
  using S = typename Def::state_type;

public:
  server_loop(Def def, pid parent) : def_(std::move(def)), parent_(std::move(parent)) {}

  // The body of the server process.
  template <class... Args>
  void run(pid starter, std::uint64_t ack_tag, std::string name, Args&... args) {
    if (Def::traps_exits)
      this_process::trap_exit(true);
    if (!name.empty()) {
      pid holder = this_process::get_runtime().whereis(name);
      bool registered = false;
      if (!holder) {
        try {
          this_process::get_runtime().register_name(name, this_process::self());
          registered = true;
        } catch (const std::invalid_argument&) {
          holder = this_process::get_runtime().whereis(name);
        }
      }
      if (!registered) {
        exit_reason r = exit_reason::user("already_started", holder);
        send(starter, init_ack{ack_tag, 1, r});
        this_process::exit(exit_reason::normal()); // OTP: a linked starter is not killed
      }
    }
    action first;
    std::optional<exit_reason> crash;
    try {
      auto result = call_init(args...);
      if (result.which() == init_result<S>::kind::stop) {
        send(starter, init_ack{ack_tag, 1, result.reason()});
        this_process::exit(result.reason());
      }
      if (result.which() == init_result<S>::kind::ignore) {
        send(starter, init_ack{ack_tag, 2, {}});
        this_process::exit(exit_reason::normal());
      }
      state_.emplace(std::move(*result.state()));
      first = std::move(result.then());
    } catch (const process_exit&) {
      throw;
    } catch (const boost::context::detail::forced_unwind&) {
      throw;
    } catch (...) {
      crash = exit_reason::from_exception(std::current_exception());
    }
    if (crash) { // out of the catch block: send may suspend (see loop)
      send(starter, init_ack{ack_tag, 1, *crash});
      this_process::exit(std::move(*crash));
    }
    send(starter, init_ack{ack_tag, 0, {}});
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
          auto d = next.timeout();
          any_message m = this_process::receive([](any_message& a) { return std::move(a); },
                                                after(d, [] { return any_message(); }));
          next = m ? dispatch(m) : on_timeout();
        } else {
          any_message m = this_process::receive([](any_message& a) { return std::move(a); });
          next = dispatch(m);
        }
      }
    } catch (const process_exit&) {
      throw; // exit signals and this_process::exit: no terminate (OTP's behaviour for signals)
    } catch (const boost::context::detail::forced_unwind&) {
      throw;
    } catch (...) {
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
    if (after_terminate)
      after_terminate();
    if (!reason.is_clean())
      send_report(report_kind::crash, this_process::self(),
                  fmt::format("server {} terminating with reason {}; state: {}",
                              def_.display_name(), reason, format_state()));
    this_process::exit(std::move(reason));
  }

  void run_terminate(exit_reason& reason) {
    constexpr int idx = index_of_part<terminate_part>();
    if constexpr (idx >= 0) {
      if (!state_)
        return;
      try {
        std::get<static_cast<std::size_t>(idx)>(def_.parts()).fn(*state_, std::as_const(reason));
      } catch (const process_exit&) {
        throw;
      } catch (const boost::context::detail::forced_unwind&) {
        throw;
      } catch (...) {
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

  std::string format_state() const {
    if constexpr (fmt::is_formattable<S>::value)
      return state_ ? fmt::format("{}", *state_) : std::string("(none)");
    else
      return fmt::format("<{}>", otpp::type_name<S>());
  }

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
    if (auto* sys = system_message(m))
      return *sys;
    ++handled_;
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

  action* system_message(any_message& m) {
    if (auto* r = m.get_if<request<sys_get_state>>()) {
      if constexpr (std::is_copy_constructible_v<S>)
        send_reply(r->from, S(*state_));
      else
        send_reply(r->from, call_failure{exit_reason::user("the state is not copyable")});
      return next_action();
    }
    if (auto* r = m.get_if<request<sys_get_status>>()) {
      send_reply(r->from, server_status{this_process::self(), def_.display_name(), format_state(),
                                        this_process::mailbox_length(), handled_, tracing_});
      return next_action();
    }
    if (auto* r = m.get_if<request<sys_trace>>()) {
      tracing_ = r->value.on;
      send_reply(r->from, std::monostate{});
      return next_action();
    }
    if (auto* r = m.get_if<sys_stop>()) {
      sys_action_ = act::stop(std::move(r->reason));
      return &sys_action_;
    }
    return nullptr;
  }
  action* next_action() {
    sys_action_ = act::next();
    return &sys_action_;
  }
  action sys_action_;

  template <std::size_t I> bool try_part(any_message& m, action& out) {
    using P = std::tuple_element_t<I, typename Def::parts_type>;
    auto& part = std::get<I>(def_.parts());
    if constexpr (is_call_part<P>::value) {
      using M = typename is_call_part<P>::message;
      auto* req = m.get_if<request<M>>();
      if (req == nullptr)
        return false;
      out = handle_call(part, *req);
      trace_event("call", type_name_of<M>, out);
      return true;
    } else if constexpr (is_cast_part<P>::value) {
      using M = typename is_cast_part<P>::message;
      auto* c = m.get_if<cast_message<M>>();
      if (c == nullptr)
        return false;
      out = to_action(part.fn, c->value);
      trace_event("cast", type_name_of<M>, out);
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

  template <class M, class F, bool Deferred>
  action handle_call(call_part<M, F, Deferred>& part, request<M>& req) {
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
        send_reply(req.from, std::monostate{});
        return {};
      } else if constexpr (is_reply_with_action<std::remove_cvref_t<R>>::value) {
        auto r = invoke(part.fn, req.value);
        if (r.then.which() == action::kind::stop) {
          // OTP: terminate runs first, then the caller gets its reply.
          reply_to from = req.from;
          stop_with(r.then.reason(), [&] { send_reply(from, std::move(r.value)); });
        }
        send_reply(req.from, std::move(r.value));
        return std::move(r.then);
      } else {
        send_reply(req.from, invoke(part.fn, req.value));
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
      send_report(report_kind::unhandled, this_process::self(),
                  fmt::format("server {} dropped an unhandled message of type {}",
                              def_.display_name(), type));
      [[fallthrough]];
    case unhandled_policy::kind::drop:
      if (const reply_to* from = m.requester())
        send_reply(*from, call_failure{exit_reason::user(fmt::format("unhandled call: {}", type))});
      return {};
    }
    return {};
  }

  template <class M> static constexpr std::string_view type_name_of = otpp::type_name<M>();

  void trace_event(std::string_view kind, std::string_view type, const action& a) {
    if (!tracing_)
      return;
    constexpr std::string_view names[] = {"next", "timeout", "hibernate", "continue", "stop"};
    std::string what(names[static_cast<int>(a.which())]);
    if (a.which() == action::kind::stop)
      what += fmt::format(" {}", a.reason());
    send_report(report_kind::trace, this_process::self(),
                fmt::format("server {}: {} {} -> {}", def_.display_name(), kind, type, what));
  }

  Def def_;
  pid parent_;
  std::optional<S> state_;
  std::uint64_t handled_ = 0;
  bool tracing_ = false;
};

} // namespace server_detail

namespace server_detail {

template <class Def, class... Args>
start_result<server_ref<std::decay_t<Def>>> start_impl(const Def& def, start_options opts,
                                                       bool link, Args&&... args) {
  using D = std::decay_t<Def>;
  using H = server_ref<D>;
  pid me = this_process::self();
  std::uint64_t tag = make_ref().value();
  spawn_options so = opts.spawn;
  so.link = link;
  auto body = [def = D(def), parent = link ? me : pid(), me, tag, name = opts.name,
               args = std::make_tuple(std::decay_t<Args>(std::forward<Args>(args))...)]() mutable {
    server_loop<D> loop(std::move(def), parent);
    std::apply([&](auto&... a) { loop.run(me, tag, std::move(name), a...); }, args);
  };
  // The ack and the down come after this mark: the wait costs the same
  // however many messages the caller (a busy supervisor) has queued.
  mailbox_mark mark = this_process::mark();
  spawned_monitor sm = spawn_monitor(std::move(body), so);
  ref mon = sm.monitor;
  bool down_seen = false;
  std::optional<init_ack> ack = this_process::receive(
      mark,
      when([tag](const init_ack& a) { return a.tag == tag; },
           [](init_ack& a) -> std::optional<init_ack> { return std::move(a); }),
      when([mon](const down& d) { return d.monitor == mon; },
           [&down_seen](down& d) -> std::optional<init_ack> {
             down_seen = true;
             return init_ack{0, 1, std::move(d.reason)};
           }),
      after(opts.timeout, []() -> std::optional<init_ack> { return std::nullopt; }));
  if (ack && ack->status == 0) {
    demonitor(mon, {.flush = true});
    return start_result<H>::ok(H(sm.pid));
  }
  const bool timed_out = !ack;
  if (timed_out) { // init took too long: the server is killed (OTP)
    if (link)
      unlink(sm.pid);
    kill(sm.pid);
    ack = init_ack{0, 1, exit_reason::timeout()};
  }
  // Return once the server has ended (OTP 26: a failed start is synchronous).
  if (!down_seen)
    this_process::receive(mark,
                          when([mon](const down& d) { return d.monitor == mon; }, [](down&) {}));
  if (timed_out) // an ack sent just before the kill came before the down: drop it
    this_process::receive(mark,
                          when([tag](const init_ack& a) { return a.tag == tag; }, [](init_ack&) {}),
                          after(std::chrono::steady_clock::duration::zero(), [] {}));
  if (link && this_process::trapping_exits()) // its exit message came before the down: drop it
    this_process::receive(
        when([p = sm.pid](const exit_message& e) { return e.from == p; }, [](exit_message&) {}),
        after(std::chrono::steady_clock::duration::zero(), [] {}));
  if (ack->status == 2)
    return start_result<H>::ignore();
  return start_result<H>::error(std::move(ack->reason));
}

} // namespace server_detail

/// Start a server, not linked to the caller, and wait until its `init` has
/// run. Returns `ok(handle)`, `ignored()` or `error(reason)` (init stopped,
/// threw, timed out, or the name was taken): the server has ended by then.
///
/// @par Errors
/// `std::logic_error` outside a process (use `start(runtime&, ...)`).
/// @par OTP
/// `gen_server:start/3,4`.
template <server_definition_type Def, class... Args>
auto try_start(const Def& def, Args&&... args) {
  return try_start(start_options{}, def, std::forward<Args>(args)...);
}
template <server_definition_type Def, class... Args>
auto try_start(start_options opts, const Def& def, Args&&... args) {
  return server_detail::start_impl(def, std::move(opts), false, std::forward<Args>(args)...);
}
/// Start a server linked to the caller (its parent). If `init` fails the
/// server ends with the reason; a caller that traps exits gets the error and
/// no exit message, one that does not dies with an abnormal reason (the
/// link), as in OTP.
/// @par OTP
/// `gen_server:start_link/3,4`.
template <server_definition_type Def, class... Args>
auto try_start_link(const Def& def, Args&&... args) {
  return try_start_link(start_options{}, def, std::forward<Args>(args)...);
}
template <server_definition_type Def, class... Args>
auto try_start_link(start_options opts, const Def& def, Args&&... args) {
  return server_detail::start_impl(def, std::move(opts), true, std::forward<Args>(args)...);
}

/// `try_start(...).value()`: the handle, or throws `start_error`.
template <server_definition_type Def, class... Args>
server_ref<std::decay_t<Def>> start(const Def& def, Args&&... args) {
  return start(start_options{}, def, std::forward<Args>(args)...);
}
template <server_definition_type Def, class... Args>
server_ref<std::decay_t<Def>> start(start_options opts, const Def& def, Args&&... args) {
  return try_start(std::move(opts), def, std::forward<Args>(args)...).value();
}
/// `try_start_link(...).value()`: the handle, or throws `start_error`.
template <server_definition_type Def, class... Args>
server_ref<std::decay_t<Def>> start_link(const Def& def, Args&&... args) {
  return start_link(start_options{}, def, std::forward<Args>(args)...);
}
template <server_definition_type Def, class... Args>
server_ref<std::decay_t<Def>> start_link(start_options opts, const Def& def, Args&&... args) {
  return try_start_link(std::move(opts), def, std::forward<Args>(args)...).value();
}

namespace server_detail {
// A process can start servers only on its own runtime (it waits for them).
inline void check_same_runtime(runtime& rt) {
  if (&this_process::get_runtime() != &rt)
    throw std::logic_error("otpp::start(runtime&, ...): a process can only start a server on "
                           "its own runtime");
}
} // namespace server_detail

/// Start a server on `rt` from any thread (a thread that is not a process
/// waits as a temporary scoped_process). Unlinked.
template <server_definition_type Def, class... Args>
server_ref<std::decay_t<Def>> start(runtime& rt, const Def& def, Args&&... args) {
  return start(rt, start_options{}, def, std::forward<Args>(args)...);
}
template <server_definition_type Def, class... Args>
server_ref<std::decay_t<Def>> start(runtime& rt, start_options opts, const Def& def,
                                    Args&&... args) {
  if (this_process::is_process()) {
    server_detail::check_same_runtime(rt);
    return start(std::move(opts), def, std::forward<Args>(args)...);
  }
  scoped_process waiter(rt);
  return start(std::move(opts), def, std::forward<Args>(args)...);
}

} // namespace otpp
