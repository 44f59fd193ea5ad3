// How an event manager holds its handlers: one type-erased instance per
// installed handler (its definition and state), the factories that build
// them inside the manager, and the messages between clients and manager.
// Distributed under the Boost Software License, Version 1.0.
#pragma once

#include <otpp/behaviour/call_ref.hpp>
#include <otpp/behaviour/event_handler.hpp>
#include <otpp/behaviour/sys.hpp>
#include <otpp/core/any_message.hpp>
#include <otpp/core/pid.hpp>
#include <otpp/core/request.hpp>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <tuple>
#include <type_traits>
#include <typeinfo>
#include <utility>
#include <variant>
#include <vector>

namespace otpp::detail {

// An event on its way to the handlers (notify, and sync_notify before its barrier).
template <class E> struct em_event { E value; };

// A call's message, its type erased so that the manager can route it by
// serial; the handler compares the type with its call callbacks'.
struct eh_payload_base {
  virtual ~eh_payload_base() = default;
  virtual const std::type_info& type() const noexcept = 0;
};
template <class M> struct eh_payload final : eh_payload_base {
  explicit eh_payload(M v) : value(std::move(v)) {}
  const std::type_info& type() const noexcept override { return typeid(M); }
  M value;
};

// One installed handler, as the manager sees it. Callbacks may throw: the
// manager catches around each one.
class handler_base {
public:
  handler_base() = default;
  handler_base(const handler_base&) = delete;
  handler_base& operator=(const handler_base&) = delete;
  virtual ~handler_base() = default;

  // Run the event or info callback for `m`, if the handler has one.
  virtual bool handle(any_message& m, handler_action& out) = 0;
  // Run the call callback for `p` and reply to `from`; false if it has none.
  virtual bool call(eh_payload_base& p, const reply_to& from, handler_action& out) = 0;
  // Run terminate; its result (null if none or void).
  virtual std::shared_ptr<void> terminate(const handler_exit& why) = 0;
  virtual std::string state_text() const = 0;

  handler_id id;
  pid supervisor; // the add_sup_handler caller, if any
};

template <class Def> class handler_impl final : public handler_base {
  using S = typename Def::state_type;
  using parts = typename Def::parts_type;
  static constexpr std::size_t n_parts = std::tuple_size_v<parts>;

public:
  handler_impl(Def def, S state) : def_(std::move(def)), state_(std::move(state)) {
    id.name = def_.handler_name();
  }

  bool handle(any_message& m, handler_action& out) override {
    return [&]<std::size_t... I>(std::index_sequence<I...>) {
      return (try_handle<I>(m, out) || ...);
    }
    (std::make_index_sequence<n_parts>{});
  }

  bool call(eh_payload_base& p, const reply_to& from, handler_action& out) override {
    return [&]<std::size_t... I>(std::index_sequence<I...>) {
      return (try_call<I>(p, from, out) || ...);
    }
    (std::make_index_sequence<n_parts>{});
  }

  std::shared_ptr<void> terminate(const handler_exit& why) override {
    std::shared_ptr<void> result;
    [&]<std::size_t... I>(std::index_sequence<I...>) {
      (try_terminate<I>(why, result), ...);
    }
    (std::make_index_sequence<n_parts>{});
    return result;
  }

  std::string state_text() const override { return format_state<S>(&state_); }

private:
  template <class F, class M> static handler_action act(F& f, S& s, const M& m) {
    if constexpr (std::is_void_v<std::invoke_result_t<F&, S&, const M&>>) {
      f(s, m);
      return {};
    } else {
      return f(s, m);
    }
  }

  template <std::size_t I> bool try_handle(any_message& m, handler_action& out) {
    using P = std::tuple_element_t<I, parts>;
    auto& part = std::get<I>(def_.parts());
    if constexpr (is_event_part<P>::value) {
      const auto* e = m.get_if<em_event<typename is_event_part<P>::type>>();
      if (e == nullptr)
        return false;
      out = act(part.fn, state_, e->value);
      return true;
    } else if constexpr (is_info_part<P>::value) {
      const auto* v = m.get_if<typename is_info_part<P>::type>();
      if (v == nullptr)
        return false;
      out = act(part.fn, state_, *v);
      return true;
    } else {
      return false;
    }
  }

  template <std::size_t I>
  bool try_call(eh_payload_base& p, const reply_to& from, handler_action& out) {
    using P = std::tuple_element_t<I, parts>;
    if constexpr (is_call_part<P>::value) {
      using M = typename is_call_part<P>::type;
      if (p.type() != typeid(M))
        return false;
      auto& f = std::get<I>(def_.parts()).fn;
      M& msg = static_cast<eh_payload<M>&>(p).value;
      using R = std::remove_cvref_t<std::invoke_result_t<decltype(f)&, S&, M&&>>;
      if constexpr (std::is_void_v<R>) {
        f(state_, std::move(msg));
        send_reply(from, std::monostate{});
      } else if constexpr (is_handler_reply<R>::value) {
        R r = f(state_, std::move(msg));
        send_reply(from, std::move(r.value));
        out = r.then;
      } else {
        send_reply(from, f(state_, std::move(msg)));
      }
      return true;
    } else {
      return false;
    }
  }

  template <std::size_t I> void try_terminate(const handler_exit& why, std::shared_ptr<void>& out) {
    using P = std::tuple_element_t<I, parts>;
    if constexpr (eh_terminate_of<P>::value) {
      auto& f = std::get<I>(def_.parts()).fn;
      using T = std::invoke_result_t<decltype(f)&, S&, const handler_exit&>;
      if constexpr (std::is_void_v<T>)
        f(state_, why);
      else
        out = std::make_shared<std::decay_t<T>>(f(state_, why));
    }
  }

  template <class P> struct is_event_part : std::false_type {};
  template <class E, class F> struct is_event_part<eh_event_part<E, F>> : std::true_type {
    using type = E;
  };
  template <class P> struct is_info_part : std::false_type {};
  template <class M, class F> struct is_info_part<eh_info_part<M, F>> : std::true_type {
    using type = M;
  };
  template <class P> struct is_call_part : std::false_type {};
  template <class M, class F> struct is_call_part<eh_call_part<M, F>> : std::true_type {
    using type = M;
  };
  template <class R> struct is_handler_reply : std::false_type {};
  template <class R> struct is_handler_reply<handler_reply<R>> : std::true_type {};

  Def def_;
  S state_;
};

// The terminate result of a handler definition (void without on_terminate).
template <class S, class P> struct eh_term_type { using type = void; };
template <class S, class F> struct eh_term_type<S, eh_terminate_part<F>> {
  using type = std::decay_t<std::invoke_result_t<F&, S&, const handler_exit&>>;
};
template <class... Ts> struct first_non_void { using type = void; };
template <class T, class... Ts> struct first_non_void<T, Ts...> {
  using type = std::conditional_t<std::is_void_v<T>, typename first_non_void<Ts...>::type, T>;
};
template <class S, class Parts> struct eh_terminate_result;
template <class S, class... Ps> struct eh_terminate_result<S, std::tuple<Ps...>> {
  using type = typename first_non_void<typename eh_term_type<S, Ps>::type...>::type;
};
template <class Def>
using eh_terminate_result_t =
    typename eh_terminate_result<typename Def::state_type, typename Def::parts_type>::type;

// Builds a handler inside the manager: runs init (or the state's
// constructor) with the start arguments and, after a swap, the old
// handler's terminate result (`From`) first. Throws what init throws.
class eh_factory {
public:
  virtual ~eh_factory() = default;
  virtual std::unique_ptr<handler_base> make(void* from) = 0;
};

template <class Def, class From, class... Args> class eh_factory_of final : public eh_factory {
  using S = typename Def::state_type;

public:
  eh_factory_of(Def def, Args... args) : def_(std::move(def)), args_(std::move(args)...) {}

  std::unique_ptr<handler_base> make(void* from) override {
    S state = std::apply([&](Args&... a) { return build(from, a...); }, args_);
    return std::make_unique<handler_impl<Def>>(std::move(def_), std::move(state));
  }

  // Can this definition be built from the arguments (and `From`)?
  static constexpr bool buildable() {
    if constexpr (has_init)
      return invocable_init<decltype(init_fn(std::declval<Def&>()))>();
    else if constexpr (std::is_void_v<From>)
      return std::is_constructible_v<S, Args&&...>;
    else
      return std::is_constructible_v<S, From&&, Args&&...>;
  }

private:
  static constexpr bool has_init = [] {
    return []<class... Ps>(std::tuple<Ps...>*) {
      return (is_instance_of<Ps, eh_init_part>::value || ...);
    }(static_cast<typename Def::parts_type*>(nullptr));
  }();

  template <class F> static constexpr bool invocable_init() {
    using Fn = std::remove_reference_t<F>;
    if constexpr (std::is_void_v<From>)
      return std::is_invocable_v<Fn&, Args&&...> &&
             std::is_convertible_v<std::invoke_result_t<Fn&, Args&&...>, S>;
    else
      return std::is_invocable_v<Fn&, From&&, Args&&...> &&
             std::is_convertible_v<std::invoke_result_t<Fn&, From&&, Args&&...>, S>;
  }

  static auto& init_fn(Def& d) {
    return []<class... Ps>(std::tuple<Ps...> & t) -> auto& {
      constexpr std::size_t idx = [] {
        std::size_t i = 0, at = 0;
        ((is_instance_of<Ps, eh_init_part>::value ? (at = i) : 0, ++i), ...);
        return at;
      }();
      return std::get<idx>(t).fn;
    }
    (d.parts());
  }

  S build(void* from, Args&... a) {
    if constexpr (has_init) {
      auto& f = init_fn(def_);
      if constexpr (std::is_void_v<From>)
        return S(f(std::move(a)...));
      else
        return S(f(std::move(*static_cast<From*>(from)), std::move(a)...));
    } else if constexpr (std::is_void_v<From>) {
      (void)from;
      return S(std::move(a)...);
    } else {
      return S(std::move(*static_cast<From*>(from)), std::move(a)...);
    }
  }

  Def def_;
  std::tuple<Args...> args_;
};

// Requests to the manager (each a request<...>; the reply type in the comment).
struct em_add { // -> handler_id
  std::unique_ptr<eh_factory> make;
  pid supervisor;
};
struct em_delete { // -> std::shared_ptr<void> (the terminate result)
  std::uint64_t serial;
};
struct em_swap { // -> handler_id
  std::uint64_t old_serial;
  std::unique_ptr<eh_factory> make;
  bool supervised; // swap_sup_handler: the caller supervises the new handler
  pid caller;
};
struct em_which {}; // -> std::vector<handler_id>
struct em_call {    // -> the callback's reply
  std::uint64_t serial;
  std::unique_ptr<eh_payload_base> payload;
};
struct em_sync {}; // -> void, once the events sent before it have been handled

} // namespace otpp::detail
