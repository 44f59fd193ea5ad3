// Selective receive: handlers by message type, guards, timeouts, marks.
// Distributed under the Boost Software License, Version 1.0.
#pragma once

#include <otpp/core/any_message.hpp>
#include <otpp/core/duration.hpp>
#include <otpp/core/process.hpp>
#include <otpp/core/runtime.hpp>

#include <chrono>
#include <cstdlib>
#include <optional>
#include <thread>
#include <tuple>
#include <type_traits>
#include <utility>

namespace otpp {

/// The timeout clause of a receive: run `fn()` when no message matched
/// within `timeout`. See `this_process::receive`.
template <class F> struct after_clause {
  std::chrono::steady_clock::duration timeout;
  F fn;
};

/// `after(timeout, fn)`: the last argument of a receive (`infinity`: never).
/// A negative timeout throws `std::invalid_argument`.
template <class F> after_clause<F> after(duration timeout, F fn) {
  detail::check_timeout(timeout, "otpp::after");
  return {timeout.get(), std::move(fn)};
}

/// A handler that takes a message only when `guard(message)` is true.
template <class G, class F> struct guarded_handler {
  G guard;
  F fn;
};

/// `when(guard, handler)`: match the handler's message type only if
/// `guard(const T&)` returns true (Erlang's `when` clause).
template <class G, class F> guarded_handler<G, F> when(G guard, F fn) {
  return {std::move(guard), std::move(fn)};
}

/// A position in the mailbox; see `this_process::mark`.
struct mailbox_mark {
  std::uint64_t id = 0;
};

namespace detail {

// The parameter and result of a handler. What has no single call operator of
// one parameter (a generic lambda, an overloaded operator(), two parameters)
// ends in the primary template, which names the mistake; its placeholder
// `arg` keeps the rest of receive from adding a wall of follow-up errors.
struct invalid_handler {};
template <class F>
concept has_call_operator = requires {
  &F::operator();
};
template <class F> struct callable_traits {
  static_assert(
      std::is_member_function_pointer_v<F> || std::is_pointer_v<F> || has_call_operator<F>,
      "otpp::receive: a handler must take one concrete message type (T, const T&, T& or T&&); "
      "generic lambdas (auto parameters) and overloaded call operators cannot be matched");
  static_assert(!std::is_member_function_pointer_v<F> && !std::is_pointer_v<F>,
                "otpp::receive: a handler must take exactly one message parameter");
  using result = void;
  using arg = invalid_handler&;
};
template <class F>
requires has_call_operator<F>
struct callable_traits<F> : callable_traits<decltype(&F::operator())> {
};
#define OTPP_DETAIL_CALLABLE(QUALS)                                                                \
  template <class R, class C, class A> struct callable_traits<R (C::*)(A) QUALS> {                 \
    using result = R;                                                                              \
    using arg = A;                                                                                 \
  };
OTPP_DETAIL_CALLABLE()
OTPP_DETAIL_CALLABLE(const)
OTPP_DETAIL_CALLABLE(noexcept)
OTPP_DETAIL_CALLABLE(const noexcept)
#undef OTPP_DETAIL_CALLABLE
template <class R, class A> struct callable_traits<R (*)(A)> {
  using result = R;
  using arg = A;
};
template <class R, class A> struct callable_traits<R (*)(A) noexcept> {
  using result = R;
  using arg = A;
};

template <class H> struct handler_traits {
  using fn_type = H;
  using arg = typename callable_traits<H>::arg;
  using message = std::remove_cvref_t<arg>;
  using result = typename callable_traits<H>::result;
  static bool accepts(H&, const message&) { return true; }
  static fn_type& fn(H& h) { return h; }
};
template <class G, class F> struct handler_traits<guarded_handler<G, F>> {
  using fn_type = F;
  using arg = typename callable_traits<F>::arg;
  using message = std::remove_cvref_t<arg>;
  using result = typename callable_traits<F>::result;
  static bool accepts(guarded_handler<G, F>& h, const message& m) {
    return static_cast<bool>(h.guard(m));
  }
  static fn_type& fn(guarded_handler<G, F>& h) { return h.fn; }
};

template <class T> struct is_after : std::false_type {};
template <class F> struct is_after<after_clause<F>> : std::true_type {};

struct no_after {
  static constexpr std::chrono::steady_clock::duration timeout =
      std::chrono::steady_clock::duration::max();
};

template <class H> decltype(auto) invoke_handler(H& h, typename handler_traits<H>::message& m) {
  using traits = handler_traits<H>;
  using A = typename traits::arg;
  if constexpr (std::is_lvalue_reference_v<A> && !std::is_const_v<std::remove_reference_t<A>>)
    return traits::fn(h)(m);
  else
    return traits::fn(h)(std::move(m));
}

template <class After> struct after_result { using type = void; };
template <class F> struct after_result<after_clause<F>> { using type = std::invoke_result_t<F&>; };

template <class T, class... Ts> inline constexpr bool all_same_v = (std::is_same_v<T, Ts> && ...);

struct envelope_guard {
  envelope* e;
  ~envelope_guard() { e->destroy_taken(); }
};

// Does handler `h` (message type M) take envelope `e`?
template <class H> bool handler_accepts(H& h, envelope& e) {
  using M = typename handler_traits<H>::message;
  if constexpr (std::is_same_v<M, any_message>) {
    const any_message view(&e, false);
    return handler_traits<H>::accepts(h, view);
  } else {
    return e.type == type_tag<M>() &&
           handler_traits<H>::accepts(h, static_cast<message_envelope<M>&>(e).value);
  }
}

template <std::size_t I, class R, class Tuple> R dispatch(int index, envelope* e, Tuple& hs) {
  if constexpr (I < std::tuple_size_v<Tuple>) {
    if (index == static_cast<int>(I)) {
      using H = std::remove_reference_t<std::tuple_element_t<I, Tuple>>;
      using M = typename handler_traits<H>::message;
      if constexpr (std::is_same_v<M, any_message>) {
        any_message m(e);
        return invoke_handler(std::get<I>(hs), m);
      } else {
        envelope_guard guard{e};
        return invoke_handler(std::get<I>(hs), static_cast<message_envelope<M>*>(e)->value);
      }
    }
    return dispatch<I + 1, R>(index, e, hs);
  } else {
    std::abort(); // unreachable: the matcher returned an index of a handler
  }
}

template <class After, class... Hs>
auto receive_with(envelope* start, After& after, std::tuple<Hs&...> hs) {
  using R0 = typename after_result<After>::type;
  using R = std::conditional_t<
      sizeof...(Hs) == 0, R0,
      std::tuple_element_t<0, std::tuple<typename handler_traits<Hs>::result..., R0>>>;
  static_assert(all_same_v<R, typename handler_traits<Hs>::result...>,
                "otpp::receive: every handler must return the same type");
  static_assert(
      !is_after<After>::value || std::is_same_v<R, R0>,
      "otpp::receive: the after() handler must return the same type as the message handlers");
  process& p = self_or_throw("otpp::this_process::receive");
  auto accept = [&hs](envelope& e) -> int {
    return [&]<std::size_t... I>(std::index_sequence<I...>) {
      int found = -1;
      (void)((handler_accepts(std::get<I>(hs), e) ? (found = static_cast<int>(I), true) : false) ||
             ...);
      return found;
    }
    (std::index_sequence_for<Hs...>{});
  };
  matcher m{&accept,
            [](void* ctx, envelope& e) { return (*static_cast<decltype(accept)*>(ctx))(e); }};
  auto [e, index] = receive_raw(p, m, after.timeout, start);
  if (e == nullptr) {
    if constexpr (is_after<After>::value)
      return after.fn();
    else
      std::abort(); // no deadline without an after clause
  }
  return dispatch<0, R>(index, e, hs);
}

template <class... Hs> auto receive_from(envelope* start, Hs&... hs) {
  constexpr bool after_last =
      sizeof...(Hs) > 0 &&
      is_after<std::tuple_element_t<sizeof...(Hs) - 1, std::tuple<Hs...>>>::value;
  constexpr int afters = (0 + ... + static_cast<int>(is_after<Hs>::value));
  if constexpr (afters != static_cast<int>(after_last)) {
    // Stop here: going on would take the misplaced after() for a handler.
    static_assert(afters == static_cast<int>(after_last),
                  "otpp::receive: after(...) must be the last argument");
  } else if constexpr (after_last) {
    auto all = std::tie(hs...);
    return [&]<std::size_t... I>(std::index_sequence<I...>) {
      return receive_with(start, std::get<sizeof...(Hs) - 1>(all), std::tie(std::get<I>(all)...));
    }
    (std::make_index_sequence<sizeof...(Hs) - 1>{});
  } else {
    no_after none;
    return receive_with(start, none, std::tie(hs...));
  }
}

} // namespace detail

namespace this_process {

/// Wait for the first message that one of `handlers` accepts, remove it
/// from the mailbox and run that handler; return what the handler returns.
///
/// Handlers are callables of one parameter (`T`, `const T&`, `T&` or
/// `T&&`): a message matches the first handler whose type is exactly its
/// type (and whose `when` guard, if any, returns true). A handler taking
/// `any_message` accepts a message of any type. Messages no handler
/// accepts stay in the mailbox, in order, for a later receive. The last
/// argument may be `after(timeout, fn)`: `fn()` runs if nothing matched in
/// time (`after(0ms, ...)` only looks at what is there).
///
/// @par Suspends
/// The calling process only; the scheduler thread runs others meanwhile.
/// While it waits, only newly arrived messages are examined.
/// @par Errors
/// Throws `process_exit` when an exit signal ends the process;
/// `std::logic_error` outside a process; what a handler throws.
/// @par OTP
/// `receive ... after ... end`.
template <class... Handlers> auto receive(Handlers&&... handlers) {
  return detail::receive_from(nullptr, handlers...);
}

/// Like `receive`, but skips the messages that were in the mailbox when
/// `mark` was taken: a reply matched by a reference made after the mark
/// costs the same however long the mailbox is.
template <class... Handlers> auto receive(mailbox_mark mark, Handlers&&... handlers) {
  detail::process& p = detail::self_or_throw("otpp::this_process::receive");
  detail::envelope* start = (mark.id != 0 && mark.id == p.mark_id) ? p.mark_node : nullptr;
  return detail::receive_from(start, handlers...);
}

/// Mark the current end of the mailbox (one mark per process: a new mark
/// replaces the old one). See `receive(mailbox_mark, ...)`.
/// @par OTP
/// The receive-mark optimisation Erlang's compiler applies to `make_ref()` + receive.
inline mailbox_mark mark() {
  detail::process& p = detail::self_or_throw("otpp::this_process::mark");
  detail::drain(p); // what has arrived (self-sends included) is before the mark
  p.mark_node = p.box.tail;
  p.mark_id = detail::next_unique();
  return {p.mark_id};
}

/// Receive the next message of type `T`.
template <class T> T receive() {
  return receive([](T& v) -> T { return std::move(v); });
}

/// Receive the next message of type `T`, or nothing after `timeout`.
template <class T> std::optional<T> receive_for(duration timeout) {
  detail::check_timeout(timeout, "otpp::this_process::receive_for");
  return receive([](T& v) -> std::optional<T> { return std::optional<T>(std::move(v)); },
                 after(timeout, [] { return std::optional<T>(); }));
}

/// Suspend the calling process for `d`; messages wait in the mailbox.
/// Outside a process, sleeps the calling thread.
inline void sleep_for(duration d) {
  detail::check_timeout(d, "otpp::this_process::sleep_for");
  if (!is_process()) {
    std::this_thread::sleep_for(d.get());
    return;
  }
  waiting_on note("sleep");
  receive(after(d, [] {}));
}

/// Wait, using as little memory as possible, until a message is in the
/// mailbox (it stays there for the next receive). Returns at once if the
/// mailbox is not empty. While it sleeps, the process is parked: the part
/// of its stack in use (usually under 1 KiB) is copied into a buffer
/// of that size and all its stack pages go back to the kernel; the bytes
/// return to the same addresses before it runs again, so pointers into its
/// stack stay valid. Nothing else may read or write memory on its stack
/// meanwhile (an I/O buffer, a pointer given to another thread): such a
/// write is found when it wakes and stops the program with a message.
/// (A scoped_process only waits.)
///
/// @par Suspends
/// The calling process only.
/// @par OTP
/// `erlang:hibernate/3`, except that the call stack survives: the caller
/// continues after the call.
inline void hibernate() {
  detail::process& p = detail::self_or_throw("otpp::this_process::hibernate");
  detail::check_exiting(p);
  detail::drain(p);
  if (p.box.head.next != nullptr)
    return;
  waiting_on note("hibernate");
  while (p.box.head.next == nullptr) {
    p.park_flags = static_cast<std::uint8_t>(p.park_flags | detail::park_at_once);
    detail::block(p);
    p.park_flags = static_cast<std::uint8_t>(p.park_flags & ~detail::park_at_once);
    detail::drain(p);
  }
}

/// Messages in the calling process's mailbox (after moving in what arrived).
inline std::size_t mailbox_length() {
  detail::process& p = detail::self_or_throw("otpp::this_process::mailbox_length");
  detail::drain(p);
  return p.box.size.load(std::memory_order_relaxed);
}

} // namespace this_process

} // namespace otpp
