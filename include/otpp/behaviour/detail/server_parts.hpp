// The handler parts a server definition is made of, and what the
// definition's type tells about them (call handlers, reply types).
// Distributed under the Boost Software License, Version 1.0.
#pragma once

#include <otpp/behaviour/call.hpp>
#include <otpp/behaviour/call_chan.hpp>
#include <otpp/behaviour/call_ref.hpp>
#include <otpp/behaviour/control_channel.hpp>
#include <otpp/behaviour/detail/traits.hpp>
#include <otpp/behaviour/server_action.hpp>
#include <otpp/core/any_message.hpp>
#include <otpp/core/link.hpp>
#include <otpp/core/request.hpp>

#include <tuple>
#include <type_traits>
#include <utility>

namespace otpp {

namespace detail {

// The guard of an unconditional handler: always taken.
struct no_guard {
  template <class S, class M> constexpr bool operator()(const S&, const M&) const noexcept {
    return true;
  }
};

// A call handler: (S&, M) -> reply, or (S&, call_ref<R>, M) -> void / action;
// taken only when guard(state, message) holds (on_call_if).
template <class M, class F, bool Deferred, class G = no_guard> struct call_part {
  using key = request<M>;
  F fn;
  G guard{};
};
template <class M, class F, class G = no_guard> struct cast_part {
  using key = cast_message<M>;
  F fn;
  G guard{};
};
template <class M, class F> using plain_cast_part = cast_part<M, F>;
template <class G> struct guarded_cast {
  template <class M, class F> using part = cast_part<M, F, G>;
};
template <class M, class F> struct info_part {
  using key = M;
  F fn;
};
template <class F> struct any_part { F fn; };
// A control channel's handler: control messages on `chan` only.
template <class M, class F> struct control_part {
  control_channel<M> chan;
  F fn;
};
template <class P> struct is_control_part : std::false_type {};
template <class M, class F> struct is_control_part<control_part<M, F>> : std::true_type {
  using message = M;
};
// A priority rule: messages of type M (as info, cast or call) for which
// guard(state, message) holds are handled at `level` (others at 0).
template <class M, class G = no_guard> struct priority_part {
  int level;
  G guard{};
};
template <class P> struct is_priority_part : std::false_type {};
template <class M, class G> struct is_priority_part<priority_part<M, G>> : std::true_type {};

template <class M, class G, class S>
bool priority_matches(const priority_part<M, G>& p, const S& s, any_message& a) {
  if (const M* v = a.get_if<M>())
    return p.guard(s, *v);
  if (const auto* c = a.get_if<cast_message<M>>())
    return p.guard(s, c->value);
  if (const auto* r = a.get_if<request<M>>())
    return p.guard(s, r->value);
  return false;
}
template <class M, class F> struct continue_part { F fn; };
template <class F> struct init_part { F fn; };
template <class F> struct terminate_part { F fn; };
template <class F> struct hibernate_part { F fn; };

// The reply type a call handler gives its caller.
template <class P, class S> struct call_reply;
template <class M, class F, class G, class S> struct call_reply<call_part<M, F, true, G>, S> {
  using type = typename is_call_ref<typename arg_at<F, S, 1>::type>::reply;
};
template <class M, class F, class G, class S> struct call_reply<call_part<M, F, false, G>, S> {
  // As server_loop::invoke passes the message: an rvalue if f takes one, else an lvalue.
  using result =
      typename std::conditional_t<std::is_invocable_v<F&, S&, M&&>, std::invoke_result<F&, S&, M&&>,
                                  std::invoke_result<F&, S&, M&>>::type;
  using type = typename reply_type_of<std::remove_cvref_t<result>>::type; // sent as a value
};

template <class P> struct is_call_part : std::false_type {};
template <class M, class F, bool D, class G>
struct is_call_part<call_part<M, F, D, G>> : std::true_type {
  using message = M;
};
template <class P> struct is_cast_part : std::false_type {};
template <class M, class F, class G> struct is_cast_part<cast_part<M, F, G>> : std::true_type {
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

// An info part taking the channel calls of M (on_call_chan).
template <class P, class M> constexpr bool chan_calls_with() {
  if constexpr (is_info_part<P>::value) {
    using T = typename is_info_part<P>::message;
    if constexpr (is_chan_request<T>::value)
      return std::is_same_v<typename is_chan_request<T>::message, M>;
    else
      return false;
  } else {
    return false;
  }
}
template <class M, class... Ps> constexpr int find_chan_call() {
  int i = 0, found = -1;
  ((found < 0 && chan_calls_with<Ps, M>() ? (found = i) : 0, ++i), ...);
  return found;
}

// The first call part for M (index), or -1.
template <class M, class... Ps> constexpr int find_call() {
  int i = 0, found = -1;
  ((found < 0 && calls_with<Ps, M>() ? (found = i) : 0, ++i), ...);
  return found;
}

template <class M, class Tuple> struct find_call_in;
template <class M, class... Ps> struct find_call_in<M, std::tuple<Ps...>> {
  static constexpr int value = find_call<M, Ps...>();
};

// A handler result that is not a reply: void or action.
template <class R> action to_action(R&& r) {
  return std::forward<R>(r);
}

} // namespace detail

} // namespace otpp
