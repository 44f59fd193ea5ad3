// The start functions every behaviour definition shares: try_start,
// try_start_link, try_start_monitor, start, start_link, start_monitor and
// start(runtime&, ...), once for every definition whose behaviour names its
// process loop (detail::loop_of).
// Distributed under the Boost Software License, Version 1.0.
#pragma once

#include <otpp/behaviour/handle.hpp>
#include <otpp/behaviour/start.hpp>
#include <otpp/core/pid.hpp>
#include <otpp/core/runtime.hpp>

#include <tuple>
#include <type_traits>
#include <utility>

namespace otpp {

namespace detail {

// A behaviour specialises this for its definitions: `type` is the loop
// class that runs one (constructed from the definition and the parent,
// then `run(init_context&, Args&...)`).
template <class Def> struct loop_of {};

// The loop_of type of a behaviour whose process takes no start arguments:
// its loop is built from `def.loop_config()` and the parent.
template <class Loop> class argless_loop {
public:
  template <class Def>
  argless_loop(const Def& def, pid parent) : loop_(def.loop_config(), std::move(parent)) {}
  template <class... Args> void run(init_context& ctx, Args&...) {
    static_assert(sizeof...(Args) == 0,
                  "otpp::start(def, args...): this behaviour (an event manager, a pg scope, a "
                  "pool) takes no start arguments");
    loop_.run(ctx);
  }

private:
  Loop loop_;
};

template <class Def, class... Args>
std::pair<start_result<otpp::handle<std::decay_t<Def>>>, ref>
start_behaviour(const Def& def, start_options opts, start_mode mode, Args&&... args) {
  using D = std::decay_t<Def>;
  using loop = typename loop_of<D>::type;
  auto body = [def = D(def), args = std::make_tuple(std::decay_t<Args>(
                                 std::forward<Args>(args))...)](init_context& ctx) mutable {
    loop l(std::move(def), ctx.parent());
    std::apply([&](auto&... a) { l.run(ctx, a...); }, args);
  };
  return start_process<otpp::handle<D>>(std::move(opts), mode, std::move(body));
}

} // namespace detail

/// A behaviour definition that the start functions below take: a server
/// (`server<State>()`), a state machine (`statem<Data, States...>()`), ...
template <class T>
concept startable_definition = requires {
  typename detail::loop_of<std::decay_t<T>>::type;
};

/// Start a behaviour process, not linked to the caller, and wait until its
/// init has run; `args` build its state (or data). Returns `ok(handle)`,
/// `ignored()` or `error(reason)` (init stopped, threw, timed out, or the
/// name was taken): the process has ended by then.
///
/// @par Suspends
/// The calling process, while the new one's init runs.
/// @par Errors
/// `std::logic_error` outside a process (use `start(runtime&, ...)`).
/// @par OTP
/// `gen_server:start/3,4`, `gen_statem:start/3,4`.
template <startable_definition Def, class... Args>
auto try_start(start_options opts, const Def& def, Args&&... args) {
  return detail::start_behaviour(def, std::move(opts), start_mode::plain,
                                 std::forward<Args>(args)...)
      .first;
}
template <startable_definition Def, class... Args> auto try_start(const Def& def, Args&&... args) {
  return try_start(start_options{}, def, std::forward<Args>(args)...);
}

/// Start linked to the caller (its parent). If init fails the process ends
/// with the reason; a caller that traps exits gets the error and no exit
/// message, one that does not dies with an abnormal reason (the link), as
/// in OTP.
/// @par OTP
/// `gen_server:start_link/3,4`, `gen_statem:start_link/3,4`.
template <startable_definition Def, class... Args>
auto try_start_link(start_options opts, const Def& def, Args&&... args) {
  return detail::start_behaviour(def, std::move(opts), start_mode::link,
                                 std::forward<Args>(args)...)
      .first;
}
template <startable_definition Def, class... Args>
auto try_start_link(const Def& def, Args&&... args) {
  return try_start_link(start_options{}, def, std::forward<Args>(args)...);
}

/// Start monitored by the caller: the result holds the handle and the
/// monitor (a `down` arrives when the process ends). A failed start leaves
/// no `down` behind.
/// @par OTP
/// `gen_server:start_monitor/3,4`, `gen_statem:start_monitor/3,4` (OTP 23).
template <startable_definition Def, class... Args>
auto try_start_monitor(start_options opts, const Def& def, Args&&... args) {
  using H = handle<std::decay_t<Def>>;
  auto started = detail::start_behaviour(def, std::move(opts), start_mode::monitor,
                                         std::forward<Args>(args)...);
  ref mon = started.second;
  return started.first.template map<monitored<H>>([mon](const H& h) {
    return monitored<H>{h, mon};
  });
}
template <startable_definition Def, class... Args>
auto try_start_monitor(const Def& def, Args&&... args) {
  return try_start_monitor(start_options{}, def, std::forward<Args>(args)...);
}

/// `try_start(...).value()`: the handle, or throws `start_error`.
template <startable_definition Def, class... Args>
handle<std::decay_t<Def>> start(start_options opts, const Def& def, Args&&... args) {
  return try_start(std::move(opts), def, std::forward<Args>(args)...).value();
}
template <startable_definition Def, class... Args>
handle<std::decay_t<Def>> start(const Def& def, Args&&... args) {
  return start(start_options{}, def, std::forward<Args>(args)...);
}
/// `try_start_link(...).value()`: the handle, or throws `start_error`.
template <startable_definition Def, class... Args>
handle<std::decay_t<Def>> start_link(start_options opts, const Def& def, Args&&... args) {
  return try_start_link(std::move(opts), def, std::forward<Args>(args)...).value();
}
template <startable_definition Def, class... Args>
handle<std::decay_t<Def>> start_link(const Def& def, Args&&... args) {
  return start_link(start_options{}, def, std::forward<Args>(args)...);
}
/// `try_start_monitor(...).value()`: the handle and monitor, or throws `start_error`.
template <startable_definition Def, class... Args>
monitored<handle<std::decay_t<Def>>> start_monitor(start_options opts, const Def& def,
                                                   Args&&... args) {
  return try_start_monitor(std::move(opts), def, std::forward<Args>(args)...).value();
}
template <startable_definition Def, class... Args>
monitored<handle<std::decay_t<Def>>> start_monitor(const Def& def, Args&&... args) {
  return start_monitor(start_options{}, def, std::forward<Args>(args)...);
}

/// Start on `rt` from any thread (a thread that is not a process waits as
/// a temporary scoped_process). Unlinked.
/// @par Errors
/// `start_error` as `start`; `std::logic_error` from a process of another runtime.
template <startable_definition Def, class... Args>
handle<std::decay_t<Def>> start(runtime& rt, start_options opts, const Def& def, Args&&... args) {
  return detail::in_process_of(
      rt, "start", [&] { return start(std::move(opts), def, std::forward<Args>(args)...); });
}
template <startable_definition Def, class... Args>
handle<std::decay_t<Def>> start(runtime& rt, const Def& def, Args&&... args) {
  return start(rt, start_options{}, def, std::forward<Args>(args)...);
}

} // namespace otpp
