// Signature deduction for behaviour handlers (the state first, the message last).
// Distributed under the Boost Software License, Version 1.0.
#pragma once

#include <tuple>
#include <type_traits>

namespace otpp::detail {

template <class...> inline constexpr bool always_false = false;

// Is P an instance of the one-parameter template T?
template <class P, template <class> class T> struct is_instance_of : std::false_type {};
template <class F, template <class> class T> struct is_instance_of<T<F>, T> : std::true_type {};

// The parameters and result of a callable with one call operator.
template <class T> struct fn_sig { static constexpr bool valid = false; };
#define OTPP_DETAIL_SIG(QUALS)                                                                     \
  template <class R, class C, class... A> struct fn_sig<R (C::*)(A...) QUALS> {                    \
    static constexpr bool valid = true;                                                            \
    using result = R;                                                                              \
    using args = std::tuple<A...>;                                                                 \
  };
OTPP_DETAIL_SIG()
OTPP_DETAIL_SIG(const)
OTPP_DETAIL_SIG(noexcept)
OTPP_DETAIL_SIG(const noexcept)
OTPP_DETAIL_SIG(&)
OTPP_DETAIL_SIG(const&)
#undef OTPP_DETAIL_SIG
template <class R, class... A> struct fn_sig<R (*)(A...)> {
  static constexpr bool valid = true;
  using result = R;
  using args = std::tuple<A...>;
};
template <class R, class... A> struct fn_sig<R (*)(A...) noexcept> : fn_sig<R (*)(A...)> {};

template <class F>
concept has_plain_call = requires {
  &F::operator();
};
// A generic lambda whose only `auto` parameter is the state: `[](auto& s, add a)`.
template <class F, class S>
concept has_state_generic_call = requires {
  &F::template operator()<S>;
};

// The signature of handler `F` of a server whose state is `S`.
template <class F, class S> struct handler_sig : fn_sig<void> {};
template <class F, class S>
requires has_plain_call<F>
struct handler_sig<F, S> : fn_sig<decltype(&F::operator())> {
};
template <class F, class S>
requires(!has_plain_call<F> && has_state_generic_call<F, S>) struct handler_sig<F, S>
    : fn_sig<decltype(&F::template operator()<S>)> {
};
template <class F, class S>
requires(
    std::is_pointer_v<F>&& std::is_function_v<std::remove_pointer_t<F>>) struct handler_sig<F, S>
    : fn_sig<F> {
};

template <class F, class S> inline constexpr bool sig_known = handler_sig<F, S>::valid;
template <class F, class S>
inline constexpr std::size_t arity = [] {
  if constexpr (sig_known<F, S>)
    return std::tuple_size_v<typename handler_sig<F, S>::args>;
  else
    return std::size_t{0};
}();

// True if the handler's first parameter (the state) is a reference.
template <class F, class S> constexpr bool state_by_reference() {
  if constexpr (arity<F, S> == 0)
    return true; // reported elsewhere
  else
    return std::is_reference_v<std::tuple_element_t<0, typename handler_sig<F, S>::args>>;
}

// The last parameter's type without cv/ref: the message type.
template <class F, class S> struct last_arg {
  using args = typename handler_sig<F, S>::args;
  using type = std::remove_cvref_t<std::tuple_element_t<std::tuple_size_v<args> - 1, args>>;
};
template <class F, class S, std::size_t I> struct arg_at {
  using type = std::remove_cvref_t<std::tuple_element_t<I, typename handler_sig<F, S>::args>>;
};

} // namespace otpp::detail
