// Event managers (gen_event): a process holding event handlers; start it
// with the shared start functions, add, delete and swap handlers, notify
// them, call one of them.
// Distributed under the Boost Software License, Version 1.0.
#pragma once

#include <otpp/behaviour/call.hpp>
#include <otpp/behaviour/call_result.hpp>
#include <otpp/behaviour/detail/event_handler_host.hpp>
#include <otpp/behaviour/detail/event_manager_loop.hpp>
#include <otpp/behaviour/detail/traits.hpp>
#include <otpp/behaviour/event_handler.hpp>
#include <otpp/behaviour/handle.hpp>
#include <otpp/behaviour/start.hpp>
#include <otpp/behaviour/start_family.hpp>
#include <otpp/behaviour/sys.hpp>
#include <otpp/core/duration.hpp>
#include <otpp/core/pid.hpp>
#include <otpp/core/process.hpp>

#include <memory>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

namespace otpp {

/// An event manager definition. `Events...` (optional) are the event types
/// it accepts: `notify` of another type through a typed handle is a compile
/// error; with none, any event type is accepted.
///
/// @par OTP
/// `gen_event:start_link/0,1,2`; the manager traps exits, as OTP's does.
template <class... Events> class event_manager_definition {
public:
  explicit event_manager_definition(std::string name) : name_(std::move(name)) {}
  /// The name in status reports and the process label.
  event_manager_definition name(std::string n) const {
    return event_manager_definition(std::move(n));
  }
  const std::string& display_name() const noexcept { return name_; }
  /// @cond internal
  const std::string& loop_config() const noexcept { return name_; }
  /// @endcond

  /// A manager takes no calls or casts of its own (see `call_handler`).
  template <class M> static constexpr bool handles_call = false;
  template <class M> static constexpr bool handles_cast = false;
  /// True if `notify` may send an `E`.
  template <class E>
  static constexpr bool accepts = sizeof...(Events) == 0 || (std::is_same_v<E, Events> || ...);
  /// `get_state` of a manager: its handlers.
  using state_type = std::vector<handler_info>;

private:
  std::string name_;
};

/// An event manager definition (start it with `start_link(def)`, put it in a
/// supervision tree as any behaviour).
template <class... Events>
event_manager_definition<Events...> event_manager(std::string name = "event_manager") {
  return event_manager_definition<Events...>(std::move(name));
}

template <class T> struct is_event_manager_definition : std::false_type {};
template <class... Es>
struct is_event_manager_definition<event_manager_definition<Es...>> : std::true_type {};

/// A typed handle on a running event manager.
template <class Definition> using event_manager_ref = handle<Definition>;

namespace detail {

template <class... Es> struct loop_of<event_manager_definition<Es...>> {
  using type = argless_loop<event_manager_loop>;
};

// A request to a manager; throws call_error naming `op` if it failed.
template <class R, class T, class M>
R manager_request(const char* op, const T& mgr, M msg, duration timeout) {
  auto r = call_impl<R>(op, mgr, std::move(msg), timeout);
  if (!r.ok())
    throw call_error(r.error(), r.server(), fmt::format("{} to", op), target_of<T>::describe(mgr));
  if constexpr (!std::is_void_v<R>)
    return std::move(r).value();
}

template <class T, class E> constexpr void check_event() {
  if constexpr (is_typed_target<T>)
    static_assert(protocol_of<T>::template accepts<std::decay_t<E>>,
                  "otpp::notify: the event manager's definition does not list this event type "
                  "(event_manager<Events...>())");
}

} // namespace detail

/// A handler installed in a manager: its manager and id, typed by its
/// definition so that `call_handler` and `delete_handler` know the types.
template <class H> class handler_ref {
public:
  using definition = H;
  handler_ref() = default;
  handler_ref(pid manager, handler_id id) : manager_(std::move(manager)), id_(std::move(id)) {}
  const pid& manager() const noexcept { return manager_; }
  const handler_id& id() const noexcept { return id_; }
  explicit operator bool() const noexcept { return static_cast<bool>(manager_); }

private:
  pid manager_;
  handler_id id_;
};

namespace detail {
template <class H, class From, class T, class... Args>
handler_ref<std::decay_t<H>> add_handler_impl(const char* op, const T& mgr, const H& def,
                                              pid supervisor, Args&&... args) {
  using D = std::decay_t<H>;
  using F = eh_factory_of<D, From, std::decay_t<Args>...>;
  static_assert(F::buildable(),
                "otpp::add_handler: the handler's init (or, without one, its state's "
                "constructor) cannot be called with these arguments");
  auto make = std::make_unique<F>(def, std::forward<Args>(args)...);
  handler_id id = manager_request<handler_id>(
      op, mgr, em_add{std::move(make), std::move(supervisor)}, infinity);
  return handler_ref<D>(target_of<T>::resolve(mgr), std::move(id));
}
} // namespace detail

/// Install a handler made from `def` in the manager: its init (or its
/// state's constructor) runs in the manager with `args`. Returns its ref.
/// @par Errors
/// `call_error` if init threw (its reason) or the manager is not running.
/// @par OTP
/// `gen_event:add_handler/3`.
template <process_target T, event_handler_definition_type H, class... Args>
handler_ref<std::decay_t<H>> add_handler(const T& mgr, const H& def, Args&&... args) {
  return detail::add_handler_impl<H, void>("add_handler", mgr, def, pid(),
                                           std::forward<Args>(args)...);
}

/// As `add_handler`, and the manager links to the caller: when the handler
/// is removed the caller receives a `handler_removed` (unless the caller's
/// own end removed it); when the caller ends, the handler is removed (its
/// terminate gets `supervisor_exited`). Once none of the caller's handlers
/// is left the manager unlinks from it.
/// @par OTP
/// `gen_event:add_sup_handler/3` (OTP keeps the link).
template <process_target T, event_handler_definition_type H, class... Args>
handler_ref<std::decay_t<H>> add_sup_handler(const T& mgr, const H& def, Args&&... args) {
  detail::check_caller("add_sup_handler");
  return detail::add_handler_impl<H, void>("add_sup_handler", mgr, def, this_process::self(),
                                           std::forward<Args>(args)...);
}

/// Remove a handler: its terminate runs with `deleted`, and its result is
/// returned (nothing if it has none or returns void).
/// @par Errors
/// `call_error` with `user("no_such_handler")` if it is not installed,
/// `noproc` if the manager is not running.
/// @par OTP
/// `gen_event:delete_handler/3`.
template <class H>
auto delete_handler(const handler_ref<H>& h, duration timeout = default_call_timeout) {
  using T = detail::eh_terminate_result_t<H>;
  auto box = detail::manager_request<std::shared_ptr<void>>(
      "delete_handler", h.manager(), detail::em_delete{h.id().serial}, timeout);
  if constexpr (!std::is_void_v<T>)
    return T(std::move(*static_cast<T*>(box.get())));
}
/// Remove the handler `id` (from `which_handlers`), dropping terminate's result.
template <process_target T>
void delete_handler(const T& mgr, const handler_id& id, duration timeout = default_call_timeout) {
  detail::manager_request<std::shared_ptr<void>>("delete_handler", mgr,
                                                 detail::em_delete{id.serial}, timeout);
}

namespace detail {
template <class Old, class New, class... Args>
handler_ref<std::decay_t<New>> swap_impl(const char* op, const handler_ref<Old>& old,
                                         const New& def, bool supervised, Args&&... args) {
  using D = std::decay_t<New>;
  using From = eh_terminate_result_t<Old>;
  using F = eh_factory_of<D, From, std::decay_t<Args>...>;
  static_assert(F::buildable(),
                "otpp::swap_handler: the new handler's init (or its state's constructor) cannot be "
                "called with the old handler's terminate result followed by these arguments");
  check_caller(op);
  auto make = std::make_unique<F>(def, std::forward<Args>(args)...);
  handler_id id = manager_request<handler_id>(
      op, old.manager(),
      em_swap{old.id().serial, std::move(make), supervised, this_process::self()}, infinity);
  return handler_ref<D>(old.manager(), std::move(id));
}
} // namespace detail

/// Replace a handler: the old one's terminate runs with `swapped`, its
/// result (if any) is the first argument of the new one's init (then
/// `args`); the new one takes the old one's place and its supervisor, if it
/// had one (who is told `swapped`).
/// @par Errors
/// `call_error`: `no_such_handler` if the old one is not installed (nothing
/// is added), or the new init's failure (the old one is gone then, as in OTP).
/// @par OTP
/// `gen_event:swap_handler/3`.
template <class Old, event_handler_definition_type New, class... Args>
handler_ref<std::decay_t<New>> swap_handler(const handler_ref<Old>& old, const New& def,
                                            Args&&... args) {
  return detail::swap_impl("swap_handler", old, def, false, std::forward<Args>(args)...);
}
/// As `swap_handler`; the caller supervises the new handler (see `add_sup_handler`).
/// @par OTP
/// `gen_event:swap_sup_handler/3`.
template <class Old, event_handler_definition_type New, class... Args>
handler_ref<std::decay_t<New>> swap_sup_handler(const handler_ref<Old>& old, const New& def,
                                                Args&&... args) {
  return detail::swap_impl("swap_sup_handler", old, def, true, std::forward<Args>(args)...);
}

/// The handlers installed, in the order they run.
/// @par OTP
/// `gen_event:which_handlers/1`.
template <process_target T>
std::vector<handler_id> which_handlers(const T& mgr, duration timeout = default_call_timeout) {
  return detail::manager_request<std::vector<handler_id>>("which_handlers", mgr, detail::em_which{},
                                                          timeout);
}

/// Send `event` to every handler that has an `on_event` for its type, in
/// the order they were added; returns at once. Events from one sender reach
/// each handler in the order sent. Lost silently if the manager is not running.
/// @par OTP
/// `gen_event:notify/2`.
template <process_target T, class E> void notify(const T& mgr, E&& event) {
  detail::check_event<T, E>();
  send(pid(detail::target_of<T>::resolve(mgr)),
       detail::em_event<std::decay_t<E>>{std::forward<E>(event)});
}

/// As `notify`, and return once every handler has run it.
/// @par Errors
/// `call_error` if the manager is not running or ends meanwhile.
/// @par OTP
/// `gen_event:sync_notify/2` (no timeout, as OTP's).
template <process_target T, class E>
void sync_notify(const T& mgr, E&& event, duration timeout = infinity) {
  detail::check_event<T, E>();
  detail::check_caller("sync_notify");
  pid to = detail::target_of<T>::resolve(mgr);
  if (!to && detail::target_of<T>::by_name)
    throw call_error(exit_reason::noproc(), to, "sync_notify to",
                     detail::target_of<T>::describe(mgr));
  send(to, detail::em_event<std::decay_t<E>>{std::forward<E>(event)});
  detail::manager_request<void>("sync_notify", to, detail::em_sync{}, timeout); // after the event
}

/// Call one handler: its `on_call` for `M` runs in the manager and its
/// reply is returned.
/// @par Errors
/// `call_error`: `no_such_handler` if it is not installed, the callback's
/// error if it threw (the handler is removed then), `timeout`, or the
/// manager's end.
/// @par OTP
/// `gen_event:call/3,4`.
template <class H, class M>
auto call_handler(const handler_ref<H>& h, M&& msg, duration timeout = default_call_timeout) {
  using U = std::decay_t<M>;
  if constexpr (!H::template handles_call<U>) {
    static_assert(detail::always_false<U>,
                  "otpp::call_handler: the handler's definition has no on_call for this message "
                  "type");
  } else {
    using R = typename H::template call_reply_t<U>;
    return detail::manager_request<R>(
        "call_handler", h.manager(),
        detail::em_call{h.id().serial,
                        std::make_unique<detail::eh_payload<U>>(std::forward<M>(msg))},
        timeout);
  }
}

} // namespace otpp
