// Starting behaviour processes: options, the init-ack protocol every
// behaviour loop uses, and the result of a start.
// Distributed under the Boost Software License, Version 1.0.
#pragma once

#include <otpp/core/duration.hpp>
#include <otpp/core/exit_reason.hpp>
#include <otpp/core/link.hpp>
#include <otpp/core/monitor.hpp>
#include <otpp/core/pid.hpp>
#include <otpp/core/process.hpp>
#include <otpp/core/receive.hpp>
#include <otpp/core/registry.hpp>
#include <otpp/core/runtime.hpp>

#include <fmt/format.h>

#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>

namespace otpp {

/// Options of a start (the same for every behaviour).
struct start_options {
  /// Register the process under this name before its init runs (empty:
  /// none). A name in use makes the start fail with `user("already_started")`
  /// carrying the holder's pid as payload.
  std::string name{}; // "{}": g++ -Wextra lets {.spawn = ...} omit it
  /// How long to wait for init; on expiry the process is killed and the
  /// start fails with `timeout`.
  duration timeout = infinity;
  /// Where and how to spawn the process.
  spawn_options spawn{};
};

/// Why a start did not give a running process: a value to switch on.
/// @par OTP
/// `ignore`, `{error, {already_started, Pid}}`, `{error, timeout}`,
/// `{error, Reason}`.
enum class start_errc : std::uint8_t {
  ignored,         ///< init returned ignore
  already_started, ///< the name is held (the reason's payload: the holder's pid)
  timeout,         ///< init did not acknowledge within `start_options::timeout`
  init_failed,     ///< init stopped, threw, or the process ended before acknowledging
};

/// The OTP spelling of `e`.
constexpr std::string_view otp_name(start_errc e) noexcept {
  constexpr std::string_view names[] = {"ignore", "already_started", "timeout", "init_failed"};
  return names[static_cast<std::uint8_t>(e)];
}

namespace detail {
inline start_errc start_errc_of(const exit_reason& r, bool ignored) noexcept {
  if (ignored)
    return start_errc::ignored;
  if (r.which() == exit_reason::kind::timeout)
    return start_errc::timeout;
  if (r.which() == exit_reason::kind::user && r.detail() == "already_started")
    return start_errc::already_started;
  return start_errc::init_failed;
}
} // namespace detail

/// A start that failed (init stopped, threw or timed out, the name was
/// taken) or was ignored.
class start_error : public std::runtime_error {
public:
  start_error(exit_reason reason, bool ignored)
      : std::runtime_error(ignored ? std::string("otpp::start: init returned ignore")
                                   : fmt::format("otpp::start failed: {}", reason)),
        reason_(std::move(reason)), code_(detail::start_errc_of(reason_, ignored)) {}
  const exit_reason& reason() const noexcept { return reason_; }
  bool ignored() const noexcept { return code_ == start_errc::ignored; }
  /// Why: ignored, name taken, timeout or init failure.
  start_errc code() const noexcept { return code_; }

private:
  exit_reason reason_;
  start_errc code_;
};

/// A started process's handle with the monitor `start_monitor` set on it.
template <class H> struct monitored {
  H handle;
  ref monitor;
};

/// The outcome of a start: a handle, `ignored`, or an error with a reason.
/// @par OTP
/// `{ok, Pid} | ignore | {error, Reason}`.
template <class H> class start_result {
public:
  using handle_type = H;
  static start_result ok(H h) { return start_result(std::move(h), {}, state::ok); }
  static start_result ignore() { return start_result({}, {}, state::ignored); }
  static start_result error(exit_reason r) { return start_result({}, std::move(r), state::failed); }

  bool ok() const noexcept { return state_ == state::ok; }
  explicit operator bool() const noexcept { return ok(); }
  bool ignored() const noexcept { return state_ == state::ignored; }
  /// The start's failure reason (`normal` if ignored or started).
  const exit_reason& error() const noexcept { return reason_; }
  /// Why the start gave no process; empty if it did.
  std::optional<start_errc> errc() const noexcept {
    if (ok())
      return std::nullopt;
    return detail::start_errc_of(reason_, ignored());
  }
  /// The handle; throws `start_error` if the start failed or was ignored.
  const H& value() const {
    if (!ok())
      throw start_error(reason_, ignored());
    return handle_;
  }
  /// The same outcome with the handle made into another type.
  template <class H2, class F> start_result<H2> map(F&& f) const {
    if (ok())
      return start_result<H2>::ok(f(handle_));
    return ignored() ? start_result<H2>::ignore() : start_result<H2>::error(reason_);
  }

private:
  enum class state : std::uint8_t { ok, ignored, failed };
  start_result(H h, exit_reason r, state s)
      : handle_(std::move(h)), reason_(std::move(r)), state_(s) {}
  H handle_;
  exit_reason reason_;
  state state_;
};

/// How a start ties the new process to its starter: not at all, a link
/// (`start_link`), or a monitor (`start_monitor`).
enum class start_mode : std::uint8_t { plain, link, monitor };

namespace detail {
struct init_ack {
  std::uint64_t tag;
  int status; // 0 ok, 1 stop/error, 2 ignore
  exit_reason reason;
};
} // namespace detail

/// What a behaviour's process body gets from `start_process`: who started
/// it, and the one acknowledgement it owes before entering its loop.
///
/// @par OTP
/// `proc_lib:init_ack/1`, `proc_lib:init_fail/2` (OTP 26) and the parent
/// argument of `proc_lib:start_link`.
class init_context {
public:
  /// The starter if it linked to the new process (`start_link`), else a
  /// null pid. An exit signal from the parent stops a trapping behaviour.
  const pid& parent() const noexcept { return parent_; }
  /// The process waiting in start.
  const pid& starter() const noexcept { return starter_; }

  /// Init succeeded: start returns the handle; the body goes on.
  void ack() { send(starter_, detail::init_ack{tag_, 0, {}}); }
  /// Init failed: start returns `error(reason)`; the process ends with `reason`.
  [[noreturn]] void fail(exit_reason reason) {
    send(starter_, detail::init_ack{tag_, 1, reason});
    this_process::exit(std::move(reason));
  }
  /// Init chose not to run: start returns `ignored`; the process ends `normal`.
  [[noreturn]] void ignore() {
    send(starter_, detail::init_ack{tag_, 2, {}});
    this_process::exit(exit_reason::normal());
  }
  /// Fail as `fail` does, but end the process `normal` (so a linked starter
  /// is not taken down), as OTP does for a name already taken.
  [[noreturn]] void fail_quietly(exit_reason reason) {
    send(starter_, detail::init_ack{tag_, 1, std::move(reason)});
    this_process::exit(exit_reason::normal());
  }

  /// @cond internal
  init_context(pid starter, pid parent, std::uint64_t tag)
      : starter_(std::move(starter)), parent_(std::move(parent)), tag_(tag) {}
  /// @endcond

private:
  pid starter_;
  pid parent_;
  std::uint64_t tag_;
};

namespace detail {

// Register `name` for the calling process, or fail the start as OTP does.
inline void register_for_start(init_context& ctx, const std::string& name) {
  if (name.empty())
    return;
  runtime& rt = this_process::get_runtime();
  pid holder = rt.whereis(name);
  if (!holder) {
    try {
      rt.register_name(name, this_process::self());
      return;
    } catch (const std::invalid_argument&) {
      holder = rt.whereis(name);
    }
  }
  ctx.fail_quietly(exit_reason::user("already_started", holder));
}

// Wait for the init ack of the process `sm` spawned; on anything but
// success, return once it has ended (OTP 26: a failed start is synchronous).
inline std::pair<init_ack, ref> await_init(const spawned_monitor& sm, std::uint64_t tag,
                                           mailbox_mark mark, start_mode mode, duration timeout) {
  const bool link = mode == start_mode::link;
  ref mon = sm.monitor;
  bool down_seen = false;
  this_process::waiting_on note("start (init of the new process)", sm.pid);
  std::optional<init_ack> ack = this_process::receive(
      mark,
      when([tag](const init_ack& a) { return a.tag == tag; },
           [](init_ack& a) -> std::optional<init_ack> { return std::move(a); }),
      when([mon](const down& d) { return d.monitor == mon; },
           [&down_seen](down& d) -> std::optional<init_ack> {
             down_seen = true;
             return init_ack{0, 1, std::move(d.reason)};
           }),
      after(timeout, []() -> std::optional<init_ack> { return std::nullopt; }));
  if (ack && ack->status == 0) {
    if (mode != start_mode::monitor)
      demonitor(mon, {.flush = true});
    return {std::move(*ack), mon};
  }
  const bool timed_out = !ack;
  if (timed_out) { // init took too long: the process is killed (OTP)
    if (link)
      unlink(sm.pid);
    kill(sm.pid);
    ack = init_ack{0, 1, exit_reason::timeout()};
  }
  if (!down_seen)
    this_process::receive(mark,
                          when([mon](const down& d) { return d.monitor == mon; }, [](down&) {}));
  if (timed_out) // an ack sent just before the kill came before the down: drop it
    this_process::receive(mark,
                          when([tag](const init_ack& a) { return a.tag == tag; }, [](init_ack&) {}),
                          after(duration(), [] {}));
  if (link && this_process::trapping_exits()) // its exit message came before the down: drop it
    this_process::receive(
        when([p = sm.pid](const exit_message& e) { return e.from == p; }, [](exit_message&) {}),
        after(duration(), [] {}));
  return {std::move(*ack), ref()};
}

} // namespace detail

/// Spawn a behaviour process and wait until it acknowledges its init: the
/// one start protocol every behaviour uses (and users writing their own
/// loops). `body(init_context&)` runs in the new process after its name (if
/// any) is registered; it must call `ctx.ack()` (then run its loop),
/// `ctx.fail(reason)` or `ctx.ignore()`. If it ends or throws before
/// acknowledging, the start fails with its exit reason; if it does not
/// acknowledge within `opts.timeout`, it is killed and the start fails with
/// `timeout`. On failure the process has ended when this returns.
///
/// `H` is the handle type made from the new pid. With `mode ==
/// start_mode::monitor` the returned ref is a monitor on the process.
///
/// @par Suspends
/// The calling process, until the ack or the end of the new process. The
/// wait starts at a mailbox mark: it costs the same however many messages
/// the caller has queued.
/// @par OTP
/// `proc_lib:start/3`, `start_link/3`, `start_monitor/3` with `init_ack`.
template <class H, class Body>
std::pair<start_result<H>, ref> start_process(start_options opts, start_mode mode, Body body) {
  detail::check_timeout(opts.timeout, "otpp::start");
  pid me = this_process::self();
  std::uint64_t tag = make_ref().value();
  spawn_options so = opts.spawn;
  so.link = mode == start_mode::link;
  auto run = [body = std::move(body), parent = so.link ? me : pid(), me, tag,
              name = std::move(opts.name)]() mutable {
    init_context ctx(me, parent, tag);
    detail::register_for_start(ctx, name);
    body(ctx);
  };
  mailbox_mark mark = this_process::mark();
  spawned_monitor sm = spawn_monitor(std::move(run), so);
  auto [ack, mon] = detail::await_init(sm, tag, mark, mode, opts.timeout);
  if (ack.status == 0)
    return {start_result<H>::ok(H(sm.pid)), mon};
  if (ack.status == 2)
    return {start_result<H>::ignore(), ref()};
  return {start_result<H>::error(std::move(ack.reason)), ref()};
}

namespace detail {
// Run `fn` in a process of `rt`: the caller's own (it must be of `rt`), or a
// temporary scoped_process for a thread that is not a process.
template <class F> decltype(auto) in_process_of(runtime& rt, const char* api, F&& fn) {
  if (this_process::is_process()) {
    if (&this_process::get_runtime() != &rt)
      throw std::logic_error(
          fmt::format("otpp::{}(runtime&, ...): a process can only start on its own runtime", api));
    return fn();
  }
  scoped_process waiter(rt);
  return fn();
}
} // namespace detail

} // namespace otpp

template <> struct fmt::formatter<otpp::start_errc> : fmt::formatter<std::string_view> {
  template <class Ctx> auto format(otpp::start_errc e, Ctx& ctx) const {
    return fmt::formatter<std::string_view>::format(otpp::otp_name(e), ctx);
  }
};
