// Managed processes (gen_server): start a server definition; the pieces
// (definition, actions, init results, calls, sys) come with this header.
// Distributed under the Boost Software License, Version 1.0.
#pragma once

#include <otpp/behaviour/call.hpp>
#include <otpp/behaviour/call_ref.hpp>
#include <otpp/behaviour/call_result.hpp>
#include <otpp/behaviour/detail/server_loop.hpp>
#include <otpp/behaviour/handle.hpp>
#include <otpp/behaviour/pending_call.hpp>
#include <otpp/behaviour/server_action.hpp>
#include <otpp/behaviour/server_definition.hpp>
#include <otpp/behaviour/server_init.hpp>
#include <otpp/behaviour/start.hpp>
#include <otpp/behaviour/sys.hpp>
#include <otpp/behaviour/unhandled_policy.hpp>
#include <otpp/core/report.hpp>
#include <otpp/core/runtime.hpp>

#include <tuple>
#include <type_traits>
#include <utility>

namespace otpp {

/// A typed handle on a running server: `call` and `cast` through it check
/// at compile time that `Definition` handles the message type, and know the
/// reply type (see `handle`).
template <class Definition> using server_ref = handle<Definition>;

namespace detail {

template <class Def, class... Args>
std::pair<start_result<server_ref<std::decay_t<Def>>>, ref>
start_server(const Def& def, start_options opts, start_mode mode, Args&&... args) {
  using D = std::decay_t<Def>;
  auto body = [def = D(def), args = std::make_tuple(std::decay_t<Args>(
                                 std::forward<Args>(args))...)](init_context& ctx) mutable {
    server_loop<D> loop(std::move(def), ctx.parent());
    std::apply([&](auto&... a) { loop.run(ctx, a...); }, args);
  };
  return start_process<server_ref<D>>(std::move(opts), mode, std::move(body));
}

} // namespace detail

/// Start a server, not linked to the caller, and wait until its `init` has
/// run. Returns `ok(handle)`, `ignored()` or `error(reason)` (init stopped,
/// threw, timed out, or the name was taken): the server has ended by then.
///
/// @par Suspends
/// The calling process, while the server's `init` runs.
/// @par Errors
/// `std::logic_error` outside a process (use `start(runtime&, ...)`).
/// @par OTP
/// `gen_server:start/3,4`.
template <server_definition_type Def, class... Args>
auto try_start(start_options opts, const Def& def, Args&&... args) {
  return detail::start_server(def, std::move(opts), start_mode::plain, std::forward<Args>(args)...)
      .first;
}
template <server_definition_type Def, class... Args>
auto try_start(const Def& def, Args&&... args) {
  return try_start(start_options{}, def, std::forward<Args>(args)...);
}

/// Start a server linked to the caller (its parent). If `init` fails the
/// server ends with the reason; a caller that traps exits gets the error and
/// no exit message, one that does not dies with an abnormal reason (the
/// link), as in OTP.
/// @par OTP
/// `gen_server:start_link/3,4`.
template <server_definition_type Def, class... Args>
auto try_start_link(start_options opts, const Def& def, Args&&... args) {
  return detail::start_server(def, std::move(opts), start_mode::link, std::forward<Args>(args)...)
      .first;
}
template <server_definition_type Def, class... Args>
auto try_start_link(const Def& def, Args&&... args) {
  return try_start_link(start_options{}, def, std::forward<Args>(args)...);
}

/// Start a server monitored by the caller: the result holds the handle and
/// the monitor (a `down` arrives when the server ends). A failed start
/// leaves no `down` behind.
/// @par OTP
/// `gen_server:start_monitor/3,4` (OTP 23).
template <server_definition_type Def, class... Args>
auto try_start_monitor(start_options opts, const Def& def, Args&&... args) {
  using H = server_ref<std::decay_t<Def>>;
  auto started =
      detail::start_server(def, std::move(opts), start_mode::monitor, std::forward<Args>(args)...);
  ref mon = started.second;
  return started.first.template map<monitored<H>>([mon](const H& h) {
    return monitored<H>{h, mon};
  });
}
template <server_definition_type Def, class... Args>
auto try_start_monitor(const Def& def, Args&&... args) {
  return try_start_monitor(start_options{}, def, std::forward<Args>(args)...);
}

/// `try_start(...).value()`: the handle, or throws `start_error`.
template <server_definition_type Def, class... Args>
server_ref<std::decay_t<Def>> start(start_options opts, const Def& def, Args&&... args) {
  return try_start(std::move(opts), def, std::forward<Args>(args)...).value();
}
template <server_definition_type Def, class... Args>
server_ref<std::decay_t<Def>> start(const Def& def, Args&&... args) {
  return start(start_options{}, def, std::forward<Args>(args)...);
}
/// `try_start_link(...).value()`: the handle, or throws `start_error`.
template <server_definition_type Def, class... Args>
server_ref<std::decay_t<Def>> start_link(start_options opts, const Def& def, Args&&... args) {
  return try_start_link(std::move(opts), def, std::forward<Args>(args)...).value();
}
template <server_definition_type Def, class... Args>
server_ref<std::decay_t<Def>> start_link(const Def& def, Args&&... args) {
  return start_link(start_options{}, def, std::forward<Args>(args)...);
}
/// `try_start_monitor(...).value()`: the handle and monitor, or throws `start_error`.
template <server_definition_type Def, class... Args>
monitored<server_ref<std::decay_t<Def>>> start_monitor(start_options opts, const Def& def,
                                                       Args&&... args) {
  return try_start_monitor(std::move(opts), def, std::forward<Args>(args)...).value();
}
template <server_definition_type Def, class... Args>
monitored<server_ref<std::decay_t<Def>>> start_monitor(const Def& def, Args&&... args) {
  return start_monitor(start_options{}, def, std::forward<Args>(args)...);
}

/// Start a server on `rt` from any thread (a thread that is not a process
/// waits as a temporary scoped_process). Unlinked.
/// @par Errors
/// `start_error` as `start`; `std::logic_error` from a process of another runtime.
template <server_definition_type Def, class... Args>
server_ref<std::decay_t<Def>> start(runtime& rt, start_options opts, const Def& def,
                                    Args&&... args) {
  return detail::in_process_of(
      rt, "start", [&] { return start(std::move(opts), def, std::forward<Args>(args)...); });
}
template <server_definition_type Def, class... Args>
server_ref<std::decay_t<Def>> start(runtime& rt, const Def& def, Args&&... args) {
  return start(rt, start_options{}, def, std::forward<Args>(args)...);
}

} // namespace otpp
