// A server definition: the state type and the typed handlers, built as a
// value with otpp::server<State>() and its chainable members.
// Distributed under the Boost Software License, Version 1.0.
#pragma once

#include <otpp/behaviour/call_chan.hpp>
#include <otpp/behaviour/control_channel.hpp>
#include <otpp/behaviour/detail/server_parts.hpp>
#include <otpp/behaviour/detail/traits.hpp>
#include <otpp/behaviour/server_action.hpp>
#include <otpp/behaviour/unhandled_policy.hpp>
#include <otpp/core/any_message.hpp>
#include <otpp/core/link.hpp>

#include <cstddef>
#include <string>
#include <tuple>
#include <type_traits>
#include <utility>

namespace otpp {

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
  server_definition(parts_type parts, std::string name, unhandled_policy policy,
                    std::string behaviour)
      : parts_(std::move(parts)), name_(std::move(name)), policy_(std::move(policy)),
        behaviour_(std::move(behaviour)) {}

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
    return copy().template add_simple<detail::plain_cast_part, M>(std::move(f), "on_cast");
  }
  template <class M = deduce_message, class F> auto on_cast(F f) && {
    return std::move(*this).template add_simple<detail::plain_cast_part, M>(std::move(f),
                                                                            "on_cast");
  }
  /// A conditional call handler: taken only when `pred(const S&, const M&)`
  /// is true; otherwise the message goes on to the next handler for its
  /// type, then the catch-all, then the unhandled policy.
  /// @par Cloud Haskell
  /// `handleCallIf` (with `condition`/`state`/`input` predicates).
  template <class M = deduce_message, class P, class F> auto on_call_if(P pred, F f) const& {
    return copy().template add_call<M>(std::move(f), guard_of(std::move(pred)));
  }
  template <class M = deduce_message, class P, class F> auto on_call_if(P pred, F f) && {
    return std::move(*this).template add_call<M>(std::move(f), guard_of(std::move(pred)));
  }
  /// A conditional cast handler (`handleCastIf`), as `on_call_if`.
  template <class M = deduce_message, class P, class F> auto on_cast_if(P pred, F f) const& {
    return copy().template add_simple<detail::guarded_cast<P>::template part, M>(
        std::move(f), "on_cast_if", std::move(pred));
  }
  template <class M = deduce_message, class P, class F> auto on_cast_if(P pred, F f) && {
    return std::move(*this).template add_simple<detail::guarded_cast<P>::template part, M>(
        std::move(f), "on_cast_if", std::move(pred));
  }
  /// A priority rule: queued messages of type `M` (an info message, a cast
  /// or a call of `M`) are handled before those of lower priority (default
  /// 0; negative levels go after). The first rule that matches a message
  /// gives its priority; within one priority, arrival order. System
  /// messages, exit messages and downs always come first. A definition with
  /// a rule moves what arrives into its own queue (`status().mailbox_length`
  /// counts both).
  /// @par Cloud Haskell
  /// `PrioritisedProcessDefinition` with `prioritiseCall_` / `prioritiseCast_`
  /// / `prioritiseInfo_`.
  template <class M> auto prioritise(int level) const& {
    return copy().with(detail::priority_part<M>{level});
  }
  template <class M> auto prioritise(int level) && {
    return std::move(*this).with(detail::priority_part<M>{level});
  }
  /// A priority rule that applies when `pred(const S&, const M&)` holds.
  template <class M, class P> auto prioritise_if(P pred, int level) const& {
    return copy().with(detail::priority_part<M, P>{level, std::move(pred)});
  }
  template <class M, class P> auto prioritise_if(P pred, int level) && {
    return std::move(*this).with(detail::priority_part<M, P>{level, std::move(pred)});
  }
  /// A channel call handler `(S&, send_port<R>, M) -> void | action`: the
  /// caller (`call_chan`) passes a typed channel and the reply goes on it,
  /// now or later, from any process holding the port.
  /// @par Cloud Haskell
  /// `handleRpcChan`.
  template <class F> auto on_call_chan(F f) const& { return copy().add_call_chan(std::move(f)); }
  template <class F> auto on_call_chan(F f) && {
    return std::move(*this).add_call_chan(std::move(f));
  }
  /// A control channel's handler `(S&, M) -> void | action`: messages sent
  /// on `chan.port()` are handled before anything waiting in the mailbox
  /// (after system messages). Starting the server binds the channel to it.
  /// @par Cloud Haskell
  /// `handleControlChan`.
  template <class M, class F> auto on_control(control_channel<M> chan, F f) const& {
    return copy().add_control(std::move(chan), std::move(f));
  }
  template <class M, class F> auto on_control(control_channel<M> chan, F f) && {
    return std::move(*this).add_control(std::move(chan), std::move(f));
  }
  /// An info handler for any other message type `M` (down messages,
  /// timers, plain sends): `(S&, M) -> void | action`.
  template <class M = deduce_message, class F> auto on_info(F f) const& {
    return copy().template add_simple<detail::info_part, M>(std::move(f), "on_info");
  }
  template <class M = deduce_message, class F> auto on_info(F f) && {
    return std::move(*this).template add_simple<detail::info_part, M>(std::move(f), "on_info");
  }
  /// An exit handler `(S&, const exit_message&) -> void | action`. A server
  /// with one traps exits; an exit signal from its parent still stops it
  /// (terminate runs) without reaching this handler.
  template <class F> auto on_exit(F f) const& {
    return copy().template add_simple<detail::info_part, exit_message>(std::move(f), "on_exit");
  }
  template <class F> auto on_exit(F f) && {
    return std::move(*this).template add_simple<detail::info_part, exit_message>(std::move(f),
                                                                                 "on_exit");
  }
  /// The inactivity-timeout handler `(S&) -> void | action` (see `act::timeout`).
  template <class F> auto on_timeout(F f) const& { return copy().add_timeout(std::move(f)); }
  template <class F> auto on_timeout(F f) && { return std::move(*this).add_timeout(std::move(f)); }
  /// A continue handler `(S&, M) -> void | action` for `act::continue_with(M)`.
  template <class M = deduce_message, class F> auto on_continue(F f) const& {
    return copy().template add_simple<detail::continue_part, M>(std::move(f), "on_continue");
  }
  template <class M = deduce_message, class F> auto on_continue(F f) && {
    return std::move(*this).template add_simple<detail::continue_part, M>(std::move(f),
                                                                          "on_continue");
  }
  /// The catch-all `(S&, any_message&) -> void | action`: takes what no
  /// typed handler took, before the unhandled policy applies.
  template <class F> auto on_any(F f) const& { return copy().add_any(std::move(f)); }
  template <class F> auto on_any(F f) && { return std::move(*this).add_any(std::move(f)); }
  /// `init(args...) -> State | init_result<State>`: runs in the new process
  /// before start returns. Without it the state is `State(args...)`.
  template <class F> auto init(F f) const& {
    return copy().template add_unique<detail::init_part>(std::move(f));
  }
  template <class F> auto init(F f) && {
    return std::move(*this).template add_unique<detail::init_part>(std::move(f));
  }
  /// `(S&, const exit_reason&)`: runs when the server stops by an action,
  /// a handler exception, the unhandled policy, `stop()`, or an exit
  /// signal from its parent while it traps exits.
  template <class F> auto on_terminate(F f) const& {
    return copy().template add_unique<detail::terminate_part>(std::move(f));
  }
  template <class F> auto on_terminate(F f) && {
    return std::move(*this).template add_unique<detail::terminate_part>(std::move(f));
  }
  /// `(S&)`: runs before the server hibernates (shrink buffers here).
  template <class F> auto on_hibernate(F f) const& {
    return copy().template add_unique<detail::hibernate_part>(std::move(f));
  }
  template <class F> auto on_hibernate(F f) && {
    return std::move(*this).template add_unique<detail::hibernate_part>(std::move(f));
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
  /// The behaviour named by `status` (default "server"; a behaviour built
  /// on a server definition, as the supervisor is, names itself).
  server_definition behaviour(std::string b) const& {
    auto d = *this;
    d.behaviour_ = std::move(b);
    return d;
  }
  server_definition behaviour(std::string b) && {
    behaviour_ = std::move(b);
    return std::move(*this);
  }

  /// True if a call of `M` has a handler.
  template <class M> static constexpr bool handles_call = detail::find_call<M, Parts...>() >= 0;
  /// The reply type of a call of `M` (precondition: `handles_call<M>`).
  template <class M>
  using call_reply_t = typename detail::call_reply<
      std::tuple_element_t<static_cast<std::size_t>(detail::find_call<M, Parts...>()), parts_type>,
      State>::type;
  /// True if a cast of `M` has a handler.
  template <class M> static constexpr bool handles_cast = (detail::casts_with<Parts, M>() || ...);
  /// True if a channel call (`call_chan`) of `M` has a handler.
  template <class M>
  static constexpr bool handles_call_chan = detail::find_chan_call<M, Parts...>() >= 0;
  /// The reply type of a channel call of `M` (precondition: `handles_call_chan<M>`).
  template <class M>
  using call_chan_reply_t = typename detail::is_chan_request<typename detail::is_info_part<
      std::tuple_element_t<static_cast<std::size_t>(detail::find_chan_call<M, Parts...>()),
                           parts_type>>::message>::reply;
  /// True if the definition has control channels (`on_control`).
  static constexpr bool has_control = (detail::is_control_part<Parts>::value || ...);
  /// True if the definition has priority rules (`prioritise`).
  static constexpr bool prioritised = (detail::is_priority_part<Parts>::value || ...);
  /// True if the server traps exits (it has an exit handler).
  static constexpr bool traps_exits = (detail::is_exit_part<Parts>() || ...);

  /// @cond internal
  const parts_type& parts() const noexcept { return parts_; }
  parts_type& parts() noexcept { return parts_; }
  const std::string& display_name() const noexcept { return name_; }
  const std::string& behaviour_name() const noexcept { return behaviour_; }
  const unhandled_policy& policy() const noexcept { return policy_; }
  /// @endcond

private:
  template <class, class...> friend class server_definition;

  server_definition copy() const { return *this; }

  template <class P> static P guard_of(P pred) {
    static_assert(std::is_copy_constructible_v<P> || std::is_move_constructible_v<P>,
                  "otpp::server::on_call_if: the predicate must be movable");
    return pred;
  }

  template <class P> auto with(P part) && {
    return server_definition<State, Parts..., P>(
        std::tuple_cat(std::move(parts_), std::tuple<P>(std::move(part))), std::move(name_),
        std::move(policy_), std::move(behaviour_));
  }

  template <class M, class F, class G = detail::no_guard> auto add_call(F f, G g = {}) && {
    using namespace detail;
    if constexpr (!std::is_same_v<M, deduce_message>) {
      static_assert(std::is_invocable_v<F&, State&, M&&> || std::is_invocable_v<F&, State&, M&>,
                    "otpp::server::on_call<M>(f): f must be callable as f(State&, M)");
      return std::move(*this).with(call_part<M, F, false, G>{std::move(f), std::move(g)});
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
      return std::move(*this).with(call_part<Msg, F, false, G>{std::move(f), std::move(g)});
    } else if constexpr (arity<F, State> == 3 &&
                         is_call_ref<typename arg_at<F, State, 1>::type>::value) {
      using Msg = typename last_arg<F, State>::type;
      using R = std::remove_cvref_t<typename handler_sig<F, State>::result>;
      static_assert(std::is_void_v<R> || std::is_same_v<R, action>,
                    "otpp::server::on_call: a handler taking a call_ref replies through it; it "
                    "must return void or an otpp::action");
      return std::move(*this).with(call_part<Msg, F, true, G>{std::move(f), std::move(g)});
    } else {
      static_assert(always_false<F>,
                    "otpp::server::on_call: a call handler takes (State&, Message) or (State&, "
                    "call_ref<Reply>, Message)");
      return std::move(*this);
    }
  }

  template <template <class, class> class Part, class M, class F, class... Guard>
  auto add_simple(F f, const char*, Guard... guard) && {
    using namespace detail;
    if constexpr (!std::is_same_v<M, deduce_message>) {
      static_assert(std::is_invocable_v<F&, State&, M&&> || std::is_invocable_v<F&, State&, M&>,
                    "otpp::server: a handler for message type M must be callable as f(State&, M)");
      check_result<std::invoke_result_t<F&, State&, M&>>();
      return std::move(*this).with(Part<M, F>{std::move(f), std::move(guard)...});
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
      return std::move(*this).with(
          Part<typename last_arg<F, State>::type, F>{std::move(f), std::move(guard)...});
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
    return std::move(*this).with(detail::info_part<server_timeout, decltype(g)>{std::move(g)});
  }

  template <class F> auto add_call_chan(F f) && {
    using namespace detail;
    if constexpr (!sig_known<F, State> || arity<F, State> != 3) {
      static_assert(always_false<F>,
                    "otpp::server::on_call_chan(f): f takes (State&, send_port<Reply>, Message)");
      return std::move(*this);
    } else {
      using Port = typename arg_at<F, State, 1>::type;
      using Msg = typename last_arg<F, State>::type;
      static_assert(is_send_port<Port>::value,
                    "otpp::server::on_call_chan(f): the second parameter is the reply's "
                    "send_port<Reply>");
      using R = typename is_send_port<Port>::value_type;
      check_result<typename handler_sig<F, State>::result>();
      auto g = [fn = std::move(f)](State& s, chan_request<Msg, R>& r) mutable {
        return fn(s, std::move(r.reply), std::move(r.value));
      };
      return std::move(*this).with(info_part<chan_request<Msg, R>, decltype(g)>{std::move(g)});
    }
  }

  template <class M, class F> auto add_control(control_channel<M> chan, F f) && {
    static_assert(std::is_invocable_v<F&, State&, M&&> || std::is_invocable_v<F&, State&, M&>,
                  "otpp::server::on_control(chan, f): f must be callable as f(State&, M)");
    using R = typename std::conditional_t<std::is_invocable_v<F&, State&, M&&>,
                                          std::invoke_result<F&, State&, M&&>,
                                          std::invoke_result<F&, State&, M&>>::type;
    check_result<R>();
    return std::move(*this).with(detail::control_part<M, F>{std::move(chan), std::move(f)});
  }

  template <class F> auto add_any(F f) && {
    static_assert(std::is_invocable_v<F&, State&, any_message&>,
                  "otpp::server::on_any(f): f must be callable as f(State&, any_message&)");
    check_result<std::invoke_result_t<F&, State&, any_message&>>();
    return std::move(*this).with(detail::any_part<F>{std::move(f)});
  }

  template <template <class> class Part, class F> auto add_unique(F f) && {
    static_assert(!(detail::is_instance_of<Parts, Part>::value || ...),
                  "otpp::server: init, on_terminate and on_hibernate may be given once");
    return std::move(*this).with(Part<F>{std::move(f)});
  }

  parts_type parts_;
  std::string name_ = std::string(otpp::type_name<State>());
  unhandled_policy policy_ = unhandled_policy::terminate;
  std::string behaviour_ = "server";
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

} // namespace otpp
