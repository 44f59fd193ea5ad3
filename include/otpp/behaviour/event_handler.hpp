// An event handler definition: a value with its own state and typed event,
// call and info handlers, installed in an event manager (event_manager.hpp),
// and what a handler's callbacks return and are told.
// Distributed under the Boost Software License, Version 1.0.
#pragma once

#include <otpp/behaviour/detail/traits.hpp>
#include <otpp/core/any_message.hpp>
#include <otpp/core/exit_reason.hpp>
#include <otpp/core/message.hpp>
#include <otpp/core/pid.hpp>

#include <fmt/format.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <tuple>
#include <type_traits>
#include <utility>
#include <variant>

namespace otpp {

/// Which handler of a manager: the definition's name and a serial number
/// the manager gives each handler it installs (unique per manager, never
/// reused). Formats as `audit#3`.
/// @par OTP
/// `Module` or `{Module, Id}`.
struct handler_id {
  std::string name;
  std::uint64_t serial = 0;
  friend bool operator==(const handler_id&, const handler_id&) = default;
};

/// What a handler's event or info callback asks for after it ran.
/// @par OTP
/// `{ok, State}`, `remove_handler`, `{ok, State, hibernate}`.
class handler_action {
public:
  enum class kind : std::uint8_t { ok, remove, hibernate };
  constexpr handler_action() noexcept = default;
  /// Keep the handler.
  static constexpr handler_action ok() noexcept { return handler_action(kind::ok); }
  /// Remove this handler: its terminate runs with `handler_exit::kind::removed`,
  /// its supervisor (if any) is told `normal`.
  static constexpr handler_action remove() noexcept { return handler_action(kind::remove); }
  /// Keep the handler; the manager hibernates once this event is handled.
  static constexpr handler_action hibernate() noexcept { return handler_action(kind::hibernate); }
  constexpr kind which() const noexcept { return kind_; }

private:
  constexpr explicit handler_action(kind k) noexcept : kind_(k) {}
  kind kind_ = kind::ok;
};

/// A call handler's reply with what to do next: `handler_reply(r,
/// handler_action::remove())` replies and removes the handler.
/// @par OTP
/// `{ok, Reply, State}`, `{remove_handler, Reply}`.
template <class R> struct handler_reply {
  handler_reply(R v, handler_action a) : value(std::move(v)), then(a) {}
  R value;
  handler_action then;
};

/// Why a handler's terminate runs (its second argument).
/// @par OTP
/// The `Arg` of `Module:terminate/2`: the `delete_handler` argument,
/// `remove_handler`, `{swapped, ...}`, `stop`, `{stop, Reason}`,
/// `{error, {'EXIT', Reason}}`.
struct handler_exit {
  enum class kind : std::uint8_t {
    deleted,           ///< `delete_handler`
    removed,           ///< a callback returned `handler_action::remove()`
    swapped,           ///< `swap_handler`: the terminate result goes to the new handler
    stopped,           ///< the manager stops (`reason`: its exit reason)
    supervisor_exited, ///< the process that added it with `add_sup_handler` ended (`reason`)
    crashed,           ///< a callback threw or exited (`reason`: the error)
  };
  kind why;
  exit_reason reason{};
};

/// What the process that added a handler with `add_sup_handler` receives
/// when that handler is removed for any reason but its own end. `reason` is
/// `normal` (deleted, or a callback removed it), `shutdown` (the manager
/// stopped), `user("swapped")` (`swapped_to` names the new handler; serial 0
/// if its init failed), or the error that removed it.
/// @par OTP
/// `{gen_event_EXIT, Handler, Reason}`.
struct handler_removed {
  pid manager;
  handler_id handler;
  handler_exit::kind why;
  exit_reason reason;
  handler_id swapped_to{};
};

namespace detail {

template <class F> struct eh_init_part { F fn; };
template <class F> struct eh_terminate_part { F fn; };
template <class E, class F> struct eh_event_part { F fn; };
template <class M, class F> struct eh_call_part { F fn; };
template <class M, class F> struct eh_info_part { F fn; };

template <class P, class E> struct eh_is_event : std::false_type {};
template <class E, class F> struct eh_is_event<eh_event_part<E, F>, E> : std::true_type {};
template <class P, class M> struct eh_is_call : std::false_type {};
template <class M, class F> struct eh_is_call<eh_call_part<M, F>, M> : std::true_type {};
template <class P> struct eh_terminate_of : std::false_type {};
template <class F> struct eh_terminate_of<eh_terminate_part<F>> : std::true_type {};

template <class M, class... Parts> constexpr int eh_find_call() {
  int i = 0;
  int found = -1;
  ((eh_is_call<Parts, M>::value && found < 0 ? (found = i) : 0, ++i), ...);
  return found;
}

// What a handler callback may return: void or a handler_action.
template <class R> constexpr bool eh_valid_result() {
  return std::is_void_v<R> || std::is_same_v<std::remove_cvref_t<R>, handler_action>;
}

template <class R> struct eh_reply_of { using type = R; };
template <class R> struct eh_reply_of<handler_reply<R>> { using type = R; };

} // namespace detail

/// The deduced event/message type of a handler callback.
struct deduce_event {};

/// An event handler definition: the handler's state type and its
/// callbacks, built with `otpp::event_handler<State>("name")` and chainable
/// members (each returns a new definition whose type records the callbacks,
/// so notifies and calls are checked at compile time).
///
/// Callbacks take the state by reference first, then the event (by value
/// or `const&`: every handler of the manager sees the same event). A
/// handler sees only the event types it has `on_event` for; others pass it
/// by (OTP sends every event to every handler).
///
/// @par OTP
/// A `gen_event` callback module: `init/1`, `handle_event/2`,
/// `handle_call/2`, `handle_info/2`, `terminate/2`.
template <class State, class... Parts> class event_handler_definition {
public:
  using state_type = State;
  using parts_type = std::tuple<Parts...>;

  event_handler_definition(parts_type parts, std::string name)
      : parts_(std::move(parts)), name_(std::move(name)) {}

  /// An event callback `(S&, const E&) -> void | handler_action`, run for
  /// every `notify`/`sync_notify` of an `E`.
  template <class E = deduce_event, class F> auto on_event(F f) const {
    using Ev = message_type<E, F>;
    static_assert(std::is_invocable_v<F&, State&, const Ev&>,
                  "otpp::event_handler::on_event(f): f must be callable as f(State&, const E&) "
                  "(an event is shared by all handlers: take it by value or const&)");
    static_assert(detail::eh_valid_result<std::invoke_result_t<F&, State&, const Ev&>>(),
                  "otpp::event_handler::on_event(f): f returns void or an otpp::handler_action");
    return with(detail::eh_event_part<Ev, F>{std::move(f)});
  }
  /// A call callback `(S&, M) -> R | handler_reply<R>`: `call_handler(ref,
  /// M{...})` returns the R.
  template <class M = deduce_event, class F> auto on_call(F f) const {
    using Msg = message_type<M, F>;
    static_assert(std::is_invocable_v<F&, State&, Msg&&>,
                  "otpp::event_handler::on_call(f): f must be callable as f(State&, M)");
    static_assert(!std::is_same_v<std::remove_cvref_t<std::invoke_result_t<F&, State&, Msg&&>>,
                                  handler_action>,
                  "otpp::event_handler::on_call(f): a call callback returns its reply, or "
                  "handler_reply(reply, action) to act too");
    return with(detail::eh_call_part<Msg, F>{std::move(f)});
  }
  /// An info callback `(S&, M) -> void | handler_action` for any other
  /// message the manager receives (an `exit_message` of a linked process,
  /// a `down`, a timer...): every handler with one for `M` runs.
  template <class M = deduce_event, class F> auto on_info(F f) const {
    using Msg = message_type<M, F>;
    static_assert(std::is_invocable_v<F&, State&, const Msg&>,
                  "otpp::event_handler::on_info(f): f must be callable as f(State&, const M&)");
    static_assert(detail::eh_valid_result<std::invoke_result_t<F&, State&, const Msg&>>(),
                  "otpp::event_handler::on_info(f): f returns void or an otpp::handler_action");
    return with(detail::eh_info_part<Msg, F>{std::move(f)});
  }
  /// `init(args...) -> State`: builds the state when the handler is added
  /// (in the manager); an exception makes the add fail with it. Without
  /// it the state is `State(args...)`. After a swap it gets the old
  /// handler's terminate result first: `init(result, args...)`.
  template <class F> auto init(F f) const {
    static_assert(!(detail::is_instance_of<Parts, detail::eh_init_part>::value || ...),
                  "otpp::event_handler: init may be given once");
    return with(detail::eh_init_part<F>{std::move(f)});
  }
  /// `(S&, const handler_exit&) -> T`: runs whenever the handler leaves
  /// the manager; `delete_handler` returns the T, a swap hands it to the
  /// new handler's init.
  template <class F> auto on_terminate(F f) const {
    static_assert(!(detail::eh_terminate_of<Parts>::value || ...),
                  "otpp::event_handler: on_terminate may be given once");
    static_assert(std::is_invocable_v<F&, State&, const handler_exit&>,
                  "otpp::event_handler::on_terminate(f): f must be callable as "
                  "f(State&, const handler_exit&)");
    return with(detail::eh_terminate_part<F>{std::move(f)});
  }
  /// The handler's name (in `handler_id`, `which_handlers`, reports).
  event_handler_definition name(std::string n) const {
    auto d = *this;
    d.name_ = std::move(n);
    return d;
  }

  /// True if the handler has an event callback for `E`.
  template <class E>
  static constexpr bool handles_event = (detail::eh_is_event<Parts, std::decay_t<E>>::value || ...);
  /// True if the handler has a call callback for `M`.
  template <class M>
  static constexpr bool handles_call = detail::eh_find_call<std::decay_t<M>, Parts...>() >= 0;
  /// The reply type of a call of `M` (precondition: `handles_call<M>`).
  template <class M>
  using call_reply_t = typename detail::eh_reply_of<std::remove_cvref_t<std::invoke_result_t<
      decltype(std::tuple_element_t<static_cast<std::size_t>(
                                        detail::eh_find_call<std::decay_t<M>, Parts...>()),
                                    parts_type>::fn)&,
      State&, std::decay_t<M>&&>>>::type;

  /// @cond internal
  const parts_type& parts() const noexcept { return parts_; }
  parts_type& parts() noexcept { return parts_; }
  const std::string& handler_name() const noexcept { return name_; }
  /// @endcond

private:
  template <class, class...> friend class event_handler_definition;

  template <class Named, class F> static constexpr auto deduce() {
    if constexpr (!std::is_same_v<Named, deduce_event>) {
      return std::type_identity<Named>{};
    } else {
      static_assert(detail::sig_known<F, State> && detail::arity<F, State> == 2,
                    "otpp::event_handler: cannot deduce the event type of a callback; take the "
                    "state first (S& or auto&) and a concrete type last, or name it: "
                    "on_event<Event>(f)");
      static_assert(detail::state_by_reference<F, State>(),
                    "otpp::event_handler: take the state by reference (S&, const S& or auto&): a "
                    "callback that takes it by value changes a copy");
      return std::type_identity<typename detail::last_arg<F, State>::type>{};
    }
  }
  template <class Named, class F> using message_type = typename decltype(deduce<Named, F>())::type;

  template <class P> auto with(P part) const {
    return event_handler_definition<State, Parts..., P>(
        std::tuple_cat(parts_, std::tuple<P>(std::move(part))), name_);
  }

  parts_type parts_;
  std::string name_;
};

/// Start an event handler definition with state type `State` (default: no
/// state), named `name` (default: the state's type name).
template <class State = std::monostate>
event_handler_definition<State> event_handler(std::string name = {}) {
  static_assert(std::is_move_constructible_v<State>,
                "otpp::event_handler<State>: the state must be move-constructible");
  if (name.empty())
    name = std::string(otpp::type_name<State>());
  return {{}, std::move(name)};
}

template <class T> struct is_event_handler_definition : std::false_type {};
template <class S, class... Ps>
struct is_event_handler_definition<event_handler_definition<S, Ps...>> : std::true_type {};
/// A definition made with `otpp::event_handler<State>()`.
template <class T>
concept event_handler_definition_type = is_event_handler_definition<std::remove_cvref_t<T>>::value;

} // namespace otpp

template <> struct fmt::formatter<otpp::handler_id> : fmt::formatter<std::string_view> {
  template <class Ctx> auto format(const otpp::handler_id& h, Ctx& ctx) const {
    return fmt::format_to(ctx.out(), "{}#{}", h.name, h.serial);
  }
};
