// Control channels: a typed channel into a server that only the holders of
// its port can send on, served before the server's mailbox.
// Distributed under the Boost Software License, Version 1.0.
#pragma once

#include <otpp/core/pid.hpp>
#include <otpp/core/process.hpp>

#include <memory>
#include <mutex>
#include <type_traits>
#include <utility>

namespace otpp {

template <class M> class control_port;

/// What a control port delivers. Only a `control_port` makes one.
template <class M> class control_message {
public:
  const ref& channel() const noexcept { return channel_; }
  M& value() noexcept { return value_; }
  const M& value() const noexcept { return value_; }

private:
  friend class control_port<M>;
  control_message(ref c, M v) : channel_(c), value_(std::move(v)) {}
  ref channel_;
  M value_;
};

namespace detail {
struct control_binding {
  std::mutex mutex;
  pid server;
  ref channel = make_ref();
};
} // namespace detail

/// A control channel of message type `M`: give it to a server definition
/// with `.on_control(channel, handler)`, and its `port()` to the processes
/// allowed to send on it. The channel follows the server it is bound to: a
/// server restarted from the same definition (by a supervisor) takes its
/// messages from then on. Copies share the channel.
///
/// @par Cloud Haskell
/// `ControlChannel m`, `newControlChan`, `channelControlPort`,
/// `handleControlChan`.
template <class M> class control_channel {
public:
  static_assert(std::is_move_constructible_v<M>,
                "otpp::control_channel<M>: the message type must be move-constructible");
  control_channel() : b_(std::make_shared<detail::control_binding>()) {}

  /// The sending end: copyable, may be sent to other processes.
  control_port<M> port() const { return control_port<M>(b_); }
  /// The server it is bound to (null before that server started).
  pid server() const {
    std::lock_guard lock(b_->mutex);
    return b_->server;
  }

  /// @cond internal
  const ref& channel() const noexcept { return b_->channel; }
  void bind(pid server) const {
    std::lock_guard lock(b_->mutex);
    b_->server = std::move(server);
  }
  /// @endcond

private:
  std::shared_ptr<detail::control_binding> b_;
};

/// The sending end of a control channel.
template <class M> class control_port {
public:
  /// Send `value` to the server the channel is bound to. Lost silently if
  /// that server has ended or has not started yet, as a send to an ended
  /// pid is.
  template <class V = M> void send(V&& value) const {
    pid to;
    {
      std::lock_guard lock(b_->mutex);
      to = b_->server;
    }
    otpp::send(to, control_message<M>(b_->channel, M(std::forward<V>(value))));
  }

private:
  friend class control_channel<M>;
  explicit control_port(std::shared_ptr<detail::control_binding> b) : b_(std::move(b)) {}
  std::shared_ptr<detail::control_binding> b_;
};

} // namespace otpp
