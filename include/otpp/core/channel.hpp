// Typed channels: a send port any process may hold and a receive port only
// its creator reads, as Cloud Haskell's SendPort / ReceivePort.
// Distributed under the Boost Software License, Version 1.0.
#pragma once

#include <otpp/core/duration.hpp>
#include <otpp/core/pid.hpp>
#include <otpp/core/process.hpp>
#include <otpp/core/receive.hpp>

#include <optional>
#include <type_traits>
#include <utility>

namespace otpp {

template <class T> class send_port;

/// What a send port delivers: a value tagged with its channel. Only a
/// `send_port` makes one, so a channel carries only what its holders sent.
template <class T> class channel_message {
public:
  const ref& channel() const noexcept { return channel_; }
  T& value() noexcept { return value_; }
  const T& value() const noexcept { return value_; }

private:
  friend class send_port<T>;
  channel_message(ref c, T v) : channel_(c), value_(std::move(v)) {}
  ref channel_;
  T value_;
};

/// The sending end of a typed channel: copyable, may be sent to other
/// processes; `send(v)` delivers `v` to the channel's owner. Sending after
/// the owner ended is a silent no-op, as `send` is.
/// @par Cloud Haskell
/// `SendPort a`, `sendChan`.
template <class T> class send_port {
public:
  static_assert(std::is_move_constructible_v<T>,
                "otpp::send_port<T>: a channel's type must be move-constructible");
  send_port() = default;

  /// Deliver `value` to the owner of the channel.
  template <class V = T> void send(V&& value) const {
    otpp::send(owner_, channel_message<T>(channel_, T(std::forward<V>(value))));
  }
  /// The process that reads the channel.
  const pid& owner() const noexcept { return owner_; }
  const ref& channel() const noexcept { return channel_; }
  explicit operator bool() const noexcept { return static_cast<bool>(owner_); }
  friend bool operator==(const send_port& a, const send_port& b) noexcept {
    return a.channel_ == b.channel_;
  }

  /// @cond internal
  send_port(pid owner, ref channel) : owner_(std::move(owner)), channel_(channel) {}
  /// @endcond

private:
  pid owner_;
  ref channel_;
};

/// The receiving end of a typed channel, for the process that made it.
/// @par Cloud Haskell
/// `ReceivePort a`, `receiveChan`, `receiveChanTimeout`.
template <class T> class receive_port {
public:
  receive_port() = default;
  explicit receive_port(ref channel) : channel_(channel) {}

  /// Wait for the next value on this channel (other messages stay queued).
  /// @par Suspends
  /// The calling process, which must be the channel's creator.
  T receive() const {
    return this_process::receive(
        when([c = channel_](const channel_message<T>& m) { return m.channel() == c; },
             [](channel_message<T>& m) -> T { return std::move(m.value()); }));
  }
  /// The next value, or nothing after `timeout`.
  std::optional<T> receive_for(duration timeout) const {
    detail::check_timeout(timeout, "otpp::receive_port::receive_for");
    return this_process::receive(
        when([c = channel_](const channel_message<T>& m) { return m.channel() == c; },
             [](channel_message<T>& m) -> std::optional<T> { return std::move(m.value()); }),
        after(timeout, [] { return std::optional<T>(); }));
  }
  /// A guarded receive handler for this channel, to combine in a
  /// `this_process::receive` with other handlers: `fn(T&)`.
  template <class F> auto handler(F fn) const {
    return when([c = channel_](const channel_message<T>& m) { return m.channel() == c; },
                [f = std::move(fn)](channel_message<T>& m) mutable { return f(m.value()); });
  }
  const ref& channel() const noexcept { return channel_; }

private:
  ref channel_;
};

namespace detail {
template <class T> struct is_send_port : std::false_type {};
template <class T> struct is_send_port<send_port<T>> : std::true_type { using value_type = T; };
} // namespace detail

/// A new typed channel owned by the calling process: its send port (give
/// it to others) and its receive port.
/// @par Cloud Haskell
/// `newChan`.
template <class T> std::pair<send_port<T>, receive_port<T>> make_channel() {
  ref c = make_ref();
  return {send_port<T>(this_process::self(), c), receive_port<T>(c)};
}

} // namespace otpp
