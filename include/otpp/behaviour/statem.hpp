// State machines (gen_statem): start a definition; the pieces (events,
// actions, the definition) come with this header.
// Distributed under the Boost Software License, Version 1.0.
#pragma once

#include <otpp/behaviour/call.hpp>
#include <otpp/behaviour/detail/statem_loop.hpp>
#include <otpp/behaviour/handle.hpp>
#include <otpp/behaviour/start.hpp>
#include <otpp/behaviour/statem_actions.hpp>
#include <otpp/behaviour/statem_definition.hpp>
#include <otpp/behaviour/statem_events.hpp>
#include <otpp/behaviour/sys.hpp>
#include <otpp/core/runtime.hpp>

#include <tuple>
#include <type_traits>
#include <utility>

namespace otpp {

/// A typed handle on a running state machine (see `handle`).
template <class Definition> using statem_ref = handle<Definition>;

namespace sm::detail {
template <class Def, class... Args>
std::pair<start_result<statem_ref<std::decay_t<Def>>>, ref>
start_statem(const Def& def, start_options opts, start_mode mode, Args&&... args) {
  using D = std::decay_t<Def>;
  auto body = [def = D(def), args = std::make_tuple(std::decay_t<Args>(
                                 std::forward<Args>(args))...)](init_context& ctx) mutable {
    statem_loop<D> loop(std::move(def), ctx.parent());
    std::apply([&](auto&... a) { loop.run(ctx, a...); }, args);
  };
  return start_process<statem_ref<D>>(std::move(opts), mode, std::move(body));
}
} // namespace sm::detail

/// Start a state machine, not linked to the caller; `args` build its data.
/// Returns `ok(handle)`, `ignored()` or `error(reason)`.
/// @par OTP
/// `gen_statem:start/3,4`.
template <statem_definition_type Def, class... Args>
auto try_start(start_options opts, const Def& def, Args&&... args) {
  return sm::detail::start_statem(def, std::move(opts), start_mode::plain,
                                  std::forward<Args>(args)...)
      .first;
}
template <statem_definition_type Def, class... Args>
auto try_start(const Def& def, Args&&... args) {
  return try_start(start_options{}, def, std::forward<Args>(args)...);
}
/// Start a state machine linked to the caller. @par OTP `gen_statem:start_link/3,4`.
template <statem_definition_type Def, class... Args>
auto try_start_link(start_options opts, const Def& def, Args&&... args) {
  return sm::detail::start_statem(def, std::move(opts), start_mode::link,
                                  std::forward<Args>(args)...)
      .first;
}
template <statem_definition_type Def, class... Args>
auto try_start_link(const Def& def, Args&&... args) {
  return try_start_link(start_options{}, def, std::forward<Args>(args)...);
}
/// Start a state machine monitored by the caller. @par OTP `gen_statem:start_monitor/3,4`.
template <statem_definition_type Def, class... Args>
auto try_start_monitor(start_options opts, const Def& def, Args&&... args) {
  using H = statem_ref<std::decay_t<Def>>;
  auto started = sm::detail::start_statem(def, std::move(opts), start_mode::monitor,
                                          std::forward<Args>(args)...);
  ref mon = started.second;
  return started.first.template map<monitored<H>>([mon](const H& h) {
    return monitored<H>{h, mon};
  });
}
/// `try_start(...).value()`.
template <statem_definition_type Def, class... Args>
statem_ref<std::decay_t<Def>> start(start_options opts, const Def& def, Args&&... args) {
  return try_start(std::move(opts), def, std::forward<Args>(args)...).value();
}
template <statem_definition_type Def, class... Args>
statem_ref<std::decay_t<Def>> start(const Def& def, Args&&... args) {
  return start(start_options{}, def, std::forward<Args>(args)...);
}
/// `try_start_link(...).value()`.
template <statem_definition_type Def, class... Args>
statem_ref<std::decay_t<Def>> start_link(start_options opts, const Def& def, Args&&... args) {
  return try_start_link(std::move(opts), def, std::forward<Args>(args)...).value();
}
template <statem_definition_type Def, class... Args>
statem_ref<std::decay_t<Def>> start_link(const Def& def, Args&&... args) {
  return start_link(start_options{}, def, std::forward<Args>(args)...);
}
/// `try_start_monitor(...).value()`.
template <statem_definition_type Def, class... Args>
monitored<statem_ref<std::decay_t<Def>>> start_monitor(const Def& def, Args&&... args) {
  return try_start_monitor(start_options{}, def, std::forward<Args>(args)...).value();
}
/// Start a state machine on `rt` from any thread. Unlinked.
template <statem_definition_type Def, class... Args>
statem_ref<std::decay_t<Def>> start(runtime& rt, start_options opts, const Def& def,
                                    Args&&... args) {
  return detail::in_process_of(
      rt, "start", [&] { return start(std::move(opts), def, std::forward<Args>(args)...); });
}
template <statem_definition_type Def, class... Args>
statem_ref<std::decay_t<Def>> start(runtime& rt, const Def& def, Args&&... args) {
  return start(rt, start_options{}, def, std::forward<Args>(args)...);
}

} // namespace otpp
