// A state machine's events, type-erased: what the loop carries (a mailbox
// message or a value), the handler kinds, how an event becomes a handler's
// parameter, and what a handler decided (outcome).
// Distributed under the Boost Software License, Version 1.0.
#pragma once

#include <otpp/behaviour/call.hpp>
#include <otpp/behaviour/statem_actions.hpp>
#include <otpp/behaviour/statem_events.hpp>
#include <otpp/core/any_message.hpp>
#include <otpp/core/exit_reason.hpp>
#include <otpp/core/request.hpp>

#include <any>
#include <coroutine>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <typeinfo>

namespace otpp::sm::detail {

// One event, type-erased: what came from the mailbox (call, cast, info), or
// a value (inserted event, timeout).
struct event {
  enum class kind : std::uint8_t { call, cast, info, internal, timeout };
  kind k = kind::info;
  any_message msg;
  std::any value;
  std::string_view type_name;
  timeout_kind tk = timeout_kind::event;
  std::string name;
  std::string_view kind_name() const {
    constexpr std::string_view names[] = {"call", "cast", "info", "internal", "timeout"};
    if (k == kind::info && type_name.find("otpp::cast_message<") != std::string_view::npos)
      return "cast"; // (for reports only)
    return names[static_cast<int>(k)];
  }
};

template <class V> struct outcome;

// An awaiting handler still running: its frame, its context, and how to
// turn its result into an outcome.
template <class V> class running_task {
public:
  running_task() = default;
  running_task(const running_task&) = delete;
  running_task& operator=(const running_task&) = delete;
  virtual ~running_task() = default;
  virtual bool done() const noexcept = 0;
  virtual std::coroutine_handle<> handle() const noexcept = 0;
  virtual outcome<V> finish() = 0; // rethrows the handler's exception
};

// What a handler decided, type-erased; `target` holds the new state.
// `pending`: an awaiting handler that has not finished yet (no decision).
template <class V> struct outcome {
  step which = step::keep;
  action_list actions;
  std::optional<V> target;
  exit_reason reason;
  std::unique_ptr<running_task<V>> pending;
};

// Whether a handler for events of kind `handler` may take an event of kind
// `ev`: a mailbox message that is not a call arrives as `info`, and cast
// handlers tell a cast from it by type.
constexpr bool takes_kind(event::kind handler, event::kind ev) noexcept {
  return handler == ev || (handler == event::kind::cast && ev == event::kind::info);
}

template <class T, class... Ts> inline constexpr bool one_of = (std::is_same_v<T, Ts> || ...);

template <class T> struct event_traits {
  static constexpr event::kind kind = event::kind::cast;
  using message = T;
};
template <class Q, class R> struct event_traits<call_of<Q, R>> {
  static constexpr event::kind kind = event::kind::call;
  using message = Q;
};
template <class M> struct event_traits<info_of<M>> {
  static constexpr event::kind kind = event::kind::info;
  using message = M;
};
template <class M> struct event_traits<internal_of<M>> {
  static constexpr event::kind kind = event::kind::internal;
  using message = M;
};
template <class M> struct event_traits<timeout_of<M>> {
  static constexpr event::kind kind = event::kind::timeout;
  using message = M;
};

// A handler's view of a message: a copy when it can be copied, so that an
// event the handler postpones keeps its value; else the value itself.
template <class M> decltype(auto) take(M& m) {
  if constexpr (std::is_copy_constructible_v<M>)
    return static_cast<const M&>(m);
  else
    return std::move(m);
}

// Take event `e` as a handler parameter of type E, if it is one.
template <class E> std::optional<E> as_param(event& e) {
  using T = event_traits<E>;
  using M = typename T::message;
  if (!takes_kind(T::kind, e.k))
    return std::nullopt;
  if constexpr (T::kind == event::kind::call) {
    if (auto* r = e.msg.get_if<request<M>>())
      return E{take(r->value), call_ref<typename E::reply_type>(r->from)};
  } else if constexpr (T::kind == event::kind::cast) {
    if (auto* c = e.msg.get_if<cast_message<M>>())
      return E{take(c->value)};
  } else if constexpr (T::kind == event::kind::info) {
    if (auto* m = e.msg.get_if<M>())
      return E{take(*m)};
  } else if constexpr (T::kind == event::kind::internal) {
    if (auto* v = std::any_cast<M>(&e.value))
      return E{take(*v)};
  } else {
    if (auto* v = std::any_cast<M>(&e.value))
      return E{take(*v), e.tk, e.name};
  }
  return std::nullopt;
}
// Whether event `e` would match a parameter of type E (without taking it).
template <class E> bool matches(const event& e) {
  using T = event_traits<E>;
  using M = typename T::message;
  if (!takes_kind(T::kind, e.k))
    return false;
  if constexpr (T::kind == event::kind::call)
    return e.msg.is<request<M>>();
  else if constexpr (T::kind == event::kind::cast)
    return e.msg.is<cast_message<M>>();
  else if constexpr (T::kind == event::kind::info)
    return e.msg.is<M>();
  else
    return e.value.type() == typeid(M);
}

} // namespace otpp::sm::detail
