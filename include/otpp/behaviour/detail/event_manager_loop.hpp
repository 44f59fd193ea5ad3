// The event manager process: its handlers in the order added, the
// requests that change them, events and info messages run through every
// handler, a failing handler removed alone, supervised handlers, system
// messages and the manager's stop.
// Distributed under the Boost Software License, Version 1.0.
#pragma once

#include <otpp/behaviour/call_ref.hpp>
#include <otpp/behaviour/detail/event_handler_host.hpp>
#include <otpp/behaviour/event_handler.hpp>
#include <otpp/behaviour/start.hpp>
#include <otpp/behaviour/sys.hpp>
#include <otpp/core/any_message.hpp>
#include <otpp/core/exit_reason.hpp>
#include <otpp/core/link.hpp>
#include <otpp/core/process.hpp>
#include <otpp/core/receive.hpp>
#include <otpp/core/report.hpp>
#include <otpp/core/request.hpp>
#include <otpp/core/runtime.hpp>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <variant>
#include <vector>

namespace otpp {

/// One handler as `get_state` / `status` of a manager show it.
struct handler_info {
  handler_id id;
  pid supervisor; ///< the process that added it with add_sup_handler (null if none)
  std::string state;
};

namespace detail {

inline exit_reason no_such_handler(std::uint64_t serial) {
  return exit_reason::user("no_such_handler", serial);
}

class event_manager_loop {
public:
  event_manager_loop(std::string name, pid parent)
      : parent_(std::move(parent)), sys_("event_manager", std::move(name)) {}

  [[noreturn]] void run(init_context& ctx) {
    this_process::trap_exit(true); // supervised handlers and the parent (OTP)
    ctx.ack();
    for (;;) {
      any_message m = this_process::receive([](any_message& a) { return std::move(a); });
      dispatch(m);
      if (hibernate_) {
        hibernate_ = false;
        this_process::hibernate();
      }
    }
  }

private:
  using slot = std::unique_ptr<handler_base>;

  void dispatch(any_message& m) {
    if (is_system_message(m)) {
      std::vector<handler_info> snapshot = info();
      exit_reason reason;
      if (sys_.handle(m, &snapshot, parent_, reason) == sys_handler::outcome::stop)
        stop(std::move(reason));
      return;
    }
    sys_.count();
    if (sys_.tracing())
      send_report(report_kind::trace, this_process::self(),
                  fmt::format("event_manager {}: {} to {} handler(s)", sys_.name(), m.type_name(),
                              handlers_.size()));
    if (auto* e = m.get_if<exit_message>()) {
      if (parent_ && e->from == parent_)
        stop(e->reason);
      supervisor_exited(e->from, e->reason); // then the others see it as info (OTP)
      deliver(m);
    } else if (auto* add = m.get_if<request<em_add>>()) {
      on_add(*add);
    } else if (auto* del = m.get_if<request<em_delete>>()) {
      on_delete(*del);
    } else if (auto* sw = m.get_if<request<em_swap>>()) {
      on_swap(*sw);
    } else if (auto* c = m.get_if<request<em_call>>()) {
      on_call(*c);
    } else if (auto* s = m.get_if<request<em_sync>>()) {
      send_reply(s->from, std::monostate{});
    } else if (auto* w = m.get_if<request<em_which>>()) {
      std::vector<handler_id> ids;
      ids.reserve(handlers_.size());
      for (const slot& h : handlers_)
        ids.push_back(h->id);
      send_reply(w->from, std::move(ids));
    } else {
      deliver(m);
      fail_unhandled_call(m); // nobody answers a foreign call
    }
  }

  // Run `f` (a handler's callback) and return why it failed, if it did.
  template <class F> static std::optional<exit_reason> guarded(F&& f) {
    try {
      f();
      return std::nullopt;
    } catch (const process_exit& e) {
      if (!this_process::catch_exit(e))
        throw; // an exit signal: the manager itself ends
      return e.reason();
    } catch (...) {
      rethrow_if_exit();
      return exit_reason::from_exception(std::current_exception());
    }
  }

  // An event or info message: every handler that takes it, in order. A
  // handler that fails or asks to go is removed; the others still run.
  void deliver(any_message& m) {
    bool removed = false;
    for (std::size_t i = 0; i < handlers_.size(); ++i) {
      handler_action a;
      bool took = false;
      std::optional<exit_reason> crash = guarded([&] { took = handlers_[i]->handle(m, a); });
      if (crash) {
        remove(i, {handler_exit::kind::crashed, std::move(*crash)});
        removed = true;
      } else if (took) {
        removed = after(i, a) || removed;
      }
    }
    if (removed)
      compact();
  }

  // Apply a callback's action to handler i (its slot emptied if it goes).
  bool after(std::size_t i, handler_action a) {
    if (a.which() == handler_action::kind::hibernate)
      hibernate_ = true;
    if (a.which() != handler_action::kind::remove)
      return false;
    remove(i, {handler_exit::kind::removed});
    return true;
  }

  void compact() {
    std::erase_if(handlers_, [](const slot& h) { return h == nullptr; });
    for (pid& p : to_unlink_)
      if (std::none_of(handlers_.begin(), handlers_.end(),
                       [&](const slot& h) { return h->supervisor == p; }))
        unlink(p);
    to_unlink_.clear();
  }

  // Take handler i out (its slot stays empty until compact), run its
  // terminate with `why`, tell its supervisor; returns terminate's result.
  std::shared_ptr<void> remove(std::size_t i, handler_exit why, handler_id swapped_to = {}) {
    slot h = std::move(handlers_[i]);
    if (why.why == handler_exit::kind::crashed)
      send_report(report_kind::error, this_process::self(),
                  fmt::format("event_manager {}: handler {} removed: {}; state: {}", sys_.name(),
                              h->id, why.reason, h->state_text()));
    std::shared_ptr<void> result;
    if (auto failed = guarded([&] { result = h->terminate(why); }))
      send_report(report_kind::error, this_process::self(),
                  fmt::format("event_manager {}: terminate of handler {} failed: {}", sys_.name(),
                              h->id, *failed));
    if (h->supervisor && why.why != handler_exit::kind::supervisor_exited) {
      send(h->supervisor, handler_removed{this_process::self(), h->id, why.why, removal_reason(why),
                                          std::move(swapped_to)});
      to_unlink_.push_back(h->supervisor);
    }
    return result;
  }

  static exit_reason removal_reason(const handler_exit& why) {
    switch (why.why) {
    case handler_exit::kind::deleted:
    case handler_exit::kind::removed:
      return exit_reason::normal();
    case handler_exit::kind::stopped:
      return exit_reason::shutdown();
    case handler_exit::kind::swapped:
      return exit_reason::user("swapped");
    default:
      return why.reason;
    }
  }

  std::optional<std::size_t> find(std::uint64_t serial) const {
    for (std::size_t i = 0; i < handlers_.size(); ++i)
      if (handlers_[i]->id.serial == serial)
        return i;
    return std::nullopt;
  }

  // Build a handler with its factory; why it failed, if it did.
  static std::optional<exit_reason> build(eh_factory& f, void* from, slot& out) {
    return guarded([&] { out = f.make(from); });
  }

  handler_id install(slot h, pid supervisor, std::optional<std::size_t> at = {}) {
    h->id.serial = next_serial_++;
    h->supervisor = std::move(supervisor);
    if (h->supervisor)
      link(h->supervisor); // a dead one: its exit message removes the handler (OTP)
    handler_id id = h->id;
    if (at)
      handlers_[*at] = std::move(h);
    else
      handlers_.push_back(std::move(h));
    return id;
  }

  void on_add(request<em_add>& r) {
    slot h;
    if (auto failed = build(*r.value.make, nullptr, h)) {
      send_reply(r.from, call_failure{std::move(*failed)});
      return;
    }
    send_reply(r.from, install(std::move(h), std::move(r.value.supervisor)));
  }

  void on_delete(request<em_delete>& r) {
    auto i = find(r.value.serial);
    if (!i) {
      send_reply(r.from, call_failure{no_such_handler(r.value.serial)});
      return;
    }
    std::shared_ptr<void> result = remove(*i, {handler_exit::kind::deleted});
    compact();
    send_reply(r.from, std::move(result));
  }

  // The old handler's terminate result goes to the new one's init; the new
  // one takes the old one's place (and, for swap_handler, its supervisor).
  void on_swap(request<em_swap>& r) {
    auto i = find(r.value.old_serial);
    if (!i) {
      send_reply(r.from, call_failure{no_such_handler(r.value.old_serial)});
      return;
    }
    pid sup = r.value.supervised ? r.value.caller : handlers_[*i]->supervisor;
    std::string old_name = handlers_[*i]->id.name;
    slot old = std::move(handlers_[*i]);
    handlers_[*i] = nullptr;
    std::shared_ptr<void> result;
    std::optional<exit_reason> failed =
        guarded([&] { result = old->terminate({handler_exit::kind::swapped}); });
    slot fresh;
    if (!failed)
      failed = build(*r.value.make, result.get(), fresh);
    handler_id to = failed ? handler_id{} : install(std::move(fresh), sup, *i);
    if (old->supervisor) {
      send(old->supervisor,
           handler_removed{this_process::self(), old->id, handler_exit::kind::swapped,
                           exit_reason::user("swapped"), to});
      to_unlink_.push_back(old->supervisor);
    }
    compact();
    if (failed)
      send_reply(r.from, call_failure{std::move(*failed)});
    else
      send_reply(r.from, std::move(to));
  }

  void on_call(request<em_call>& r) {
    auto i = find(r.value.serial);
    if (!i) {
      send_reply(r.from, call_failure{no_such_handler(r.value.serial)});
      return;
    }
    handler_action a;
    bool took = false;
    std::optional<exit_reason> crash =
        guarded([&] { took = handlers_[*i]->call(*r.value.payload, r.from, a); });
    if (crash) {
      send_reply(r.from, call_failure{*crash});
      remove(*i, {handler_exit::kind::crashed, std::move(*crash)});
      compact();
    } else if (!took) {
      send_reply(r.from,
                 call_failure{exit_reason::user(fmt::format(
                     "handler {} has no call callback for this message", handlers_[*i]->id))});
    } else if (after(*i, a)) {
      compact();
    }
  }

  // A process that added supervised handlers ended: they go, told why.
  void supervisor_exited(const pid& who, const exit_reason& why) {
    bool removed = false;
    for (std::size_t i = 0; i < handlers_.size(); ++i)
      if (handlers_[i]->supervisor == who) {
        remove(i, {handler_exit::kind::supervisor_exited, why});
        removed = true;
      }
    if (removed)
      compact();
  }

  std::vector<handler_info> info() const {
    std::vector<handler_info> out;
    out.reserve(handlers_.size());
    for (const slot& h : handlers_)
      out.push_back({h->id, h->supervisor, h->state_text()});
    return out;
  }

  // Every handler terminates with `stopped` (their supervisors are told
  // `shutdown`), then the manager ends with `reason`.
  [[noreturn]] void stop(exit_reason reason) {
    for (std::size_t i = 0; i < handlers_.size(); ++i)
      remove(i, {handler_exit::kind::stopped, reason});
    handlers_.clear();
    if (!reason.is_clean())
      send_report(report_kind::crash, this_process::self(),
                  fmt::format("event_manager {} terminating with reason {}", sys_.name(), reason));
    this_process::exit(std::move(reason));
  }

  pid parent_;
  sys_handler sys_;
  std::vector<slot> handlers_;
  std::vector<pid> to_unlink_; // supervisors that may have no handler left
  std::uint64_t next_serial_ = 1;
  bool hibernate_ = false;
};

} // namespace detail

} // namespace otpp

template <> struct fmt::formatter<otpp::handler_info> : fmt::formatter<std::string_view> {
  template <class Ctx> auto format(const otpp::handler_info& h, Ctx& ctx) const {
    return fmt::format_to(ctx.out(), "{} {}", h.id, h.state);
  }
};
