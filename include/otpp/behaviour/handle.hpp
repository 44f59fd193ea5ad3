// Handles on behaviour processes: a pid typed by the protocol its
// definition declares, and addressing by registered name.
// Distributed under the Boost Software License, Version 1.0.
#pragma once

#include <otpp/core/pid.hpp>
#include <otpp/core/registry.hpp>

#include <fmt/format.h>

#include <concepts>
#include <string>
#include <type_traits>
#include <utility>

namespace otpp {

namespace detail {
struct protocol_probe {};
} // namespace detail

/// What a behaviour's definition declares about the messages it takes, so
/// that a handle on it can check calls and casts at compile time:
/// `P::handles_call<M>`, `P::handles_cast<M>` (both `bool`) and
/// `P::call_reply_t<M>` (the reply type of a call of `M`).
///
/// Server, supervisor and every other behaviour definition model it; a
/// user-written behaviour does the same to get typed handles.
template <class P>
concept protocol = requires {
  { P::template handles_call<detail::protocol_probe> } -> std::convertible_to<bool>;
  { P::template handles_cast<detail::protocol_probe> } -> std::convertible_to<bool>;
};

/// A handle on a running process whose definition is `P`: `call` and `cast`
/// through it check at compile time that `P` handles the message type, and
/// know the reply type. Converts to its `pid`; a value, cheap to copy.
///
/// `server_ref<Def>` and `supervisor_ref` are handles.
template <protocol P> class handle {
public:
  using definition = P;

  handle() = default;
  /// Wrap a pid known to run `P` (e.g. found with `whereis`).
  explicit handle(otpp::pid p) : pid_(std::move(p)) {}

  const otpp::pid& pid() const noexcept { return pid_; }
  operator const otpp::pid&() const noexcept { return pid_; } // NOLINT: a handle is a pid
  explicit operator bool() const noexcept { return static_cast<bool>(pid_); }
  friend bool operator==(const handle& a, const handle& b) noexcept { return a.pid_ == b.pid_; }

private:
  otpp::pid pid_;
};

/// The protocol of a process known only by its pid or an untyped name:
/// calls name their reply type (`call<R>(pid, msg)`), nothing is checked.
struct untyped {};

/// A process addressed by its registered name, looked up on each use (as
/// `gen_server:call(Name, ...)` does). Typed by `P` when made with
/// `by_name<Def>(name)`. A name that nobody holds makes calls fail with
/// `noproc` and an error naming it; casts and sends to it are lost.
template <class P = untyped> class named {
public:
  using definition = P;
  explicit named(std::string name) : name_(std::move(name)) {}
  const std::string& name() const noexcept { return name_; }
  /// The process holding the name now (a null pid if none).
  otpp::pid resolve() const { return whereis(name_); }

private:
  std::string name_;
};

/// Address the process registered as `name`; `by_name<Def>(name)` checks
/// messages against `Def` as a `handle<Def>` does.
template <class P = untyped> named<P> by_name(std::string name) {
  return named<P>(std::move(name));
}

namespace detail {

// What a call, cast or stop may be addressed to: a pid, a handle or a name.
template <class T> struct target_traits { static constexpr bool valid = false; };
template <> struct target_traits<pid> {
  static constexpr bool valid = true;
  static constexpr bool by_name = false;
  using protocol = untyped;
  static const pid& resolve(const pid& p) noexcept { return p; }
  static std::string describe(const pid& p) { return fmt::format("{}", p); }
};
template <protocol P> struct target_traits<otpp::handle<P>> {
  static constexpr bool valid = true;
  static constexpr bool by_name = false;
  using protocol = P;
  static const pid& resolve(const otpp::handle<P>& h) noexcept { return h.pid(); }
  static std::string describe(const otpp::handle<P>& h) { return fmt::format("{}", h.pid()); }
};
template <class P> struct target_traits<named<P>> {
  static constexpr bool valid = true;
  static constexpr bool by_name = true;
  using protocol = P;
  static pid resolve(const named<P>& n) { return n.resolve(); }
  static std::string describe(const named<P>& n) { return fmt::format("\"{}\"", n.name()); }
};

template <class T> using target_of = target_traits<std::remove_cvref_t<T>>;
template <class T> using protocol_of = typename target_of<T>::protocol;
template <class T> inline constexpr bool is_typed_target = !std::is_same_v<protocol_of<T>, untyped>;

} // namespace detail

/// Anything a call, cast or stop can be addressed to: a `pid`, a
/// `handle<P>` (`server_ref<Def>`, `supervisor_ref`, ...) or a `named<P>`.
template <class T>
concept process_target = detail::target_of<T>::valid;

} // namespace otpp
