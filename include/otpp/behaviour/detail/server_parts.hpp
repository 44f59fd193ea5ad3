// The handler parts a server definition is made of, and what the
// definition's type tells about them (call handlers, reply types).
// Distributed under the Boost Software License, Version 1.0.
#pragma once

#include <otpp/behaviour/call.hpp>
#include <otpp/behaviour/call_ref.hpp>
#include <otpp/behaviour/detail/traits.hpp>
#include <otpp/behaviour/server_action.hpp>
#include <otpp/core/link.hpp>
#include <otpp/core/request.hpp>

#include <tuple>
#include <type_traits>
#include <utility>

namespace otpp {

namespace detail {

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

// The reply type a call handler gives its caller.
template <class P, class S> struct call_reply;
template <class M, class F, class S> struct call_reply<call_part<M, F, true>, S> {
  using type = typename is_call_ref<typename arg_at<F, S, 1>::type>::reply;
};
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

// A handler result that is not a reply: void or action.
template <class R> action to_action(R&& r) {
  return std::forward<R>(r);
}

} // namespace detail

} // namespace otpp
