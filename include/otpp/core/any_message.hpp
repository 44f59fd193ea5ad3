// any_message: a received message of any type, owned and type-erased.
// Distributed under the Boost Software License, Version 1.0.
#pragma once

#include <otpp/core/message.hpp>
#include <otpp/core/pid.hpp>
#include <otpp/core/process.hpp>
#include <otpp/core/runtime.hpp>

#include <fmt/format.h>

#include <optional>
#include <stdexcept>
#include <string_view>
#include <utility>

namespace otpp {

/// The name of `T` as the compiler spells it (for logs and reports).
template <class T> constexpr std::string_view type_name() noexcept {
  return detail::type_name<T>();
}

/// A message of any type taken from the mailbox by a receive handler that
/// takes `any_message` (such a handler accepts every message). It owns the
/// message: test its type with `is<T>()`, reach the value with `get<T>()`,
/// or pass it on unchanged with `forward`.
///
/// @par OTP
/// A receive clause matching any term (`Msg -> ...`).
class any_message {
public:
  any_message() noexcept = default;
  any_message(any_message&& o) noexcept : e_(std::exchange(o.e_, nullptr)), owned_(o.owned_) {}
  any_message& operator=(any_message&& o) noexcept {
    if (this != &o) {
      reset();
      e_ = std::exchange(o.e_, nullptr);
      owned_ = o.owned_;
    }
    return *this;
  }
  any_message(const any_message&) = delete;
  any_message& operator=(const any_message&) = delete;
  ~any_message() { reset(); }

  /// False for a default-constructed or forwarded message.
  explicit operator bool() const noexcept { return e_ != nullptr; }

  /// True if the message's type is exactly `T`.
  template <class T> bool is() const noexcept {
    return e_ != nullptr && e_->type == detail::type_tag<T>();
  }
  /// The value if the type is exactly `T`, else null.
  template <class T> T* get_if() noexcept {
    return is<T>() ? &static_cast<detail::message_envelope<T>*>(e_)->value : nullptr;
  }
  template <class T> const T* get_if() const noexcept {
    return is<T>() ? &static_cast<const detail::message_envelope<T>*>(e_)->value : nullptr;
  }
  /// The value; throws `std::logic_error` naming both types if it is not a `T`.
  template <class T> T& get() {
    if (T* v = get_if<T>())
      return *v;
    throw std::logic_error(fmt::format("otpp::any_message::get: the message is a {}, not a {}",
                                       type_name(), detail::type_name<T>()));
  }

  /// The type's name as the compiler spells it (for logs).
  std::string_view type_name() const noexcept {
    return e_ != nullptr ? e_->type->name : std::string_view("(none)");
  }

  /// If this is the reply to a `send_request` of this process: its tag.
  std::optional<ref> reply_tag() const noexcept {
    if (e_ == nullptr || (e_->flags & detail::reply_flag) == 0)
      return std::nullopt;
    return ref(detail::reply_tag(e_));
  }

  /// If this is a request (see `send_request`): who waits for the answer.
  const reply_to* requester() const noexcept {
    if (e_ == nullptr || (e_->flags & detail::request_flag) == 0)
      return nullptr;
    return &detail::request_origin(e_);
  }

  /// Send the message on to `to` as it is, without copying it; this object
  /// is empty afterwards. Forwarding a request hands it over: its requester
  /// now waits on `to` (and gets a `down` with `noproc` if `to` is gone).
  void forward(const pid& to) && {
    if (e_ == nullptr || !owned_)
      return;
    detail::envelope* e = std::exchange(e_, nullptr);
    e->next = nullptr;
    e->kind = detail::signal::message;
    bool is_request = (e->flags & detail::request_flag) != 0;
    if (is_request) {
      if (detail::process* me = detail::current_process)
        detail::take_monitor(me->monitored_by, me->meta, detail::request_origin(e).tag.value());
    } else {
      e->flags = 0; // a reply travels on as a plain message
    }
    // In a span (causal traces), what it forwards carries its context.
    if (detail::process* me = detail::current_process;
        me != nullptr && detail::traced(*me, detail::causal_bit)) [[unlikely]]
      detail::attach_context(*me, *e);
    const bool admitted = to && detail::admit(*to.get(), *e) == detail::admission::queue;
    if (admitted && detail::push(to.get(), e)) {
      if (detail::process* me = detail::current_process)
        detail::count_send(*me);
      return;
    }
    if (is_request) {
      reply_to& from = detail::request_origin(e);
      detail::send_down(from.pid.get(), from.tag.value(), to.ref_ptr(),
                        to && !admitted ? exit_reason::mailbox_full() : exit_reason::noproc());
    }
    e->destroy();
  }

  /// @cond internal
  explicit any_message(detail::envelope* e, bool owned = true) noexcept : e_(e), owned_(owned) {}
  /// @endcond

private:
  void reset() noexcept {
    if (e_ != nullptr && owned_)
      e_->destroy();
    e_ = nullptr;
  }

  detail::envelope* e_ = nullptr;
  bool owned_ = true;
};

} // namespace otpp
