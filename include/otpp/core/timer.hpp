// Timers: send_after, cancel_timer.
// Distributed under the Boost Software License, Version 1.0.
#pragma once

#include <otpp/core/pid.hpp>
#include <otpp/core/process.hpp>
#include <otpp/core/runtime.hpp>

#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>

#include <atomic>
#include <chrono>
#include <memory>
#include <stdexcept>
#include <type_traits>
#include <utility>

namespace otpp {

namespace detail {
struct timer_state {
  std::atomic<bool> done{false};                  // fired or cancelled
  std::weak_ptr<boost::asio::steady_timer> timer; // none in virtual time
  process_ref dest; // a timer to an ended process counts as cancelled (Erlang)
  bool dest_gone() const noexcept { return dest && dest->status.load() == process_status::exited; }
};

// send_after in virtual time: a timer of the scheduler's heap. A cancelled
// one is skipped (the clock does not stop there).
template <class F>
void add_virtual_timer(scheduler& s, std::chrono::steady_clock::time_point at,
                       std::shared_ptr<timer_state> state, F on_fire) {
  struct timer final : scheduler::virtual_timer {
    std::shared_ptr<timer_state> state;
    F fn;
    timer(std::shared_ptr<timer_state> st, F f) : state(std::move(st)), fn(std::move(f)) {}
    void fire() override { fn(); }
    bool cancelled() const noexcept override { return state->done.load(); }
  };
  s.set_virtual_timer(at, std::make_unique<timer>(std::move(state), std::move(on_fire)));
}
} // namespace detail

/// Names a timer started by `send_after`.
class timer_ref {
public:
  timer_ref() = default;
  /// True while the timer has neither fired nor been cancelled (a timer
  /// whose destination process has ended counts as cancelled).
  bool pending() const noexcept { return s_ && !s_->done.load() && !s_->dest_gone(); }

  /// @cond internal
  explicit timer_ref(std::shared_ptr<detail::timer_state> s) : s_(std::move(s)) {}
  const std::shared_ptr<detail::timer_state>& state() const noexcept { return s_; }
  /// @endcond

private:
  std::shared_ptr<detail::timer_state> s_;
};

/// Send `msg` to `dest` after `delay`, on an Asio timer of the calling
/// process's scheduler (or, from a thread that is not a fiber process, of
/// the destination's runtime); in a runtime with virtual time, on its
/// virtual clock. Sending to a process that has ended by then does nothing.
/// @par OTP
/// `erlang:send_after/3`.
template <class Rep, class Period, class T>
timer_ref send_after(const pid& dest, std::chrono::duration<Rep, Period> delay, T&& msg) {
  static_assert(std::is_move_constructible_v<std::decay_t<T>>,
                "otpp::send_after: a message must be a move-constructible type");
  if (delay < std::chrono::duration<Rep, Period>::zero())
    throw std::invalid_argument("otpp::send_after: negative delay; give a duration >= 0");
  detail::process* me = detail::current_process;
  detail::scheduler* s = me != nullptr ? me->sched : nullptr;
  if (s == nullptr) {
    runtime* rt = me != nullptr ? me->rt : (dest ? dest.get()->rt : nullptr);
    if (rt == nullptr)
      throw std::logic_error(
          "otpp::send_after: no runtime (call it from a process, or give a live pid)");
    s = &rt->scheduler_at(0);
  }
  auto state = std::make_shared<detail::timer_state>();
  state->dest = dest.ref_ptr();
  auto* e = new detail::message_envelope<std::decay_t<T>>(std::forward<T>(msg));
  // In a span (causal traces), the timer's message carries its context.
  if (me != nullptr && detail::traced(*me, detail::causal_bit)) [[unlikely]]
    detail::attach_context(*me, *e);
  struct owned {
    detail::envelope* e;
    owned(detail::envelope* x) : e(x) {}
    owned(owned&& o) noexcept : e(std::exchange(o.e, nullptr)) {}
    owned(const owned&) = delete;
    ~owned() {
      if (e != nullptr)
        e->destroy();
    }
  };
  // When the timer fires: the message goes, unless it was cancelled.
  auto fire = [state, dest, m = owned(e)]() mutable {
    if (state->done.exchange(true))
      return;
    if (dest)
      detail::push_or_drop(dest.get(), std::exchange(m.e, nullptr));
  };
  const auto ticks = std::chrono::ceil<std::chrono::steady_clock::duration>(delay);
  if (detail::virtual_clock* vc = s->virtual_time()) [[unlikely]] {
    detail::add_virtual_timer(*s, detail::deadline_from(vc->now(), ticks), state, std::move(fire));
    return timer_ref(std::move(state));
  }
  auto timer = std::make_shared<boost::asio::steady_timer>(s->io(), ticks);
  state->timer = timer;
  auto arm = [timer, fire = std::move(fire)]() mutable {
    timer->async_wait([timer, fire = std::move(fire)](const boost::system::error_code& ec) mutable {
      if (!ec)
        fire();
    });
  };
  // Timers are not thread-safe: arm it on its scheduler thread.
  if (detail::scheduler::current_scheduler() == s)
    arm();
  else
    boost::asio::post(s->io(), std::move(arm));
  return timer_ref(std::move(state));
}

/// Cancel a timer. Returns true if it was still pending (the message will
/// not be sent), false if it had fired or was cancelled already.
/// @par OTP
/// `erlang:cancel_timer/1`. As in Erlang, a timer whose destination process
/// has ended is cancelled: `pending()` is false and this returns false.
inline bool cancel_timer(const timer_ref& t) {
  const auto& s = t.state();
  if (!s || s->done.exchange(true))
    return false;
  if (auto timer = s->timer.lock()) {
    // Free the timer early; the cancel runs on the timer's own thread.
    boost::asio::post(timer->get_executor(), [timer] { timer->cancel(); });
  }
  return !s->dest_gone();
}

} // namespace otpp
