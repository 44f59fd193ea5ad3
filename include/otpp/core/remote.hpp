// Pids of processes on other nodes: proxies, the endpoint that carries what
// is sent to them, and the signals that come back.
// Distributed under the Boost Software License, Version 1.0.
#pragma once

#include <otpp/core/any_message.hpp>
#include <otpp/core/exit_reason.hpp>
#include <otpp/core/message.hpp>
#include <otpp/core/pid.hpp>
#include <otpp/core/process.hpp>
#include <otpp/core/runtime.hpp>

#include <fmt/format.h>

#include <cstdint>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>

namespace otpp {

/// One thing a local process (or thread) sent to a process on another
/// node, as the node's transport receives it from `remote_endpoint::deliver`.
struct remote_delivery {
  enum class kind : std::uint8_t {
    message,   ///< `message` (a request or a reply keeps its flags: see any_message)
    link,      ///< `from` links to the remote process
    unlink,    ///< `from` unlinks from it
    exit,      ///< `exit(to, reason)` from `from` (null from a thread)
    link_exit, ///< `from`, linked to it, ended with `reason`
    monitor,   ///< `from` monitors it under `monitor`
    demonitor, ///< `from` no longer monitors it under `monitor`
    down,      ///< `from`, monitored by it under `monitor`, ended with `reason`
  };
  kind what = kind::message;
  pid from;
  exit_reason reason;
  ref monitor;
  any_message message;
};

/// The other end of every proxy pid of one remote node: what local code
/// sends to a pid made by `proxy(key)` reaches `deliver`, on the sender's
/// thread. The distribution layer implements it (one per known node);
/// tests may implement it to watch what a process sends.
///
/// The `key` of a process is the endpoint's own name for it (a node packs
/// a pid's id, serial and creation into it). Proxies are interned: while
/// any pid made by `proxy(key)` exists, `proxy(key)` returns an equal pid,
/// so pids compare as numbers whatever node they name.
///
/// A proxy holds its endpoint alive. An endpoint that keeps proxies of its
/// own (tables of links and monitors) must drop them when it is done, or
/// the two keep each other.
class remote_endpoint : public std::enable_shared_from_this<remote_endpoint> {
public:
  remote_endpoint() = default;
  remote_endpoint(const remote_endpoint&) = delete;
  remote_endpoint& operator=(const remote_endpoint&) = delete;
  virtual ~remote_endpoint() = default;

  /// Takes what a local sender sent to `to` (one of this endpoint's
  /// proxies). Must not throw; should not block.
  virtual void deliver(const pid& to, remote_delivery d) noexcept = 0;
  /// The node's name (`name@host`).
  virtual std::string node_name() const = 0;
  /// How a pid of this node prints (fmt, logs): `<node.key>` unless overridden.
  virtual std::string describe(std::uint64_t key) const {
    return fmt::format("<{}.{}>", node_name(), key);
  }

  /// The pid standing for the process this endpoint names `key`.
  pid proxy(std::uint64_t key) {
    std::lock_guard lock(mutex_);
    auto it = proxies_.find(key);
    if (it != proxies_.end()) {
      // Revive only a proxy that still has a pid: one whose count reached
      // zero is being destroyed (its forget waits for this lock).
      detail::process* p = it->second;
      std::uint32_t n = p->refs.load(std::memory_order_relaxed);
      while (n != 0)
        if (p->refs.compare_exchange_weak(n, n + 1, std::memory_order_acq_rel))
          return pid(detail::process_ref(p, false));
    }
    auto info = std::make_unique<detail::remote_info>();
    info->ops = &ops;
    info->endpoint = shared_from_this();
    info->key = key;
    auto* p = new detail::process;
    p->id = detail::next_unique();
    p->inbox.close();
    p->remote = std::move(info);
    proxies_[key] = p;
    return pid(detail::process_ref(p, false));
  }

  /// How many proxies of this endpoint exist.
  std::size_t proxy_count() const {
    std::lock_guard lock(mutex_);
    return proxies_.size();
  }

private:
  static remote_endpoint& of(const detail::process& p) noexcept { return *p.remote->endpoint; }

  static bool deliver_envelope(detail::process* to, detail::envelope* e) noexcept {
    remote_delivery d;
    switch (e->kind) {
    case detail::signal::message:
      d.message = any_message(e);
      break;
    case detail::signal::down: {
      auto* m = static_cast<detail::message_envelope<down>*>(e);
      d.what = remote_delivery::kind::down;
      d.from = std::move(m->value.process);
      d.reason = std::move(m->value.reason);
      d.monitor = m->value.monitor;
      e->destroy();
      break;
    }
    default: {
      auto* s = static_cast<detail::signal_envelope*>(e);
      switch (s->kind) {
      case detail::signal::link:
        d.what = remote_delivery::kind::link;
        break;
      case detail::signal::unlink:
        d.what = remote_delivery::kind::unlink;
        break;
      case detail::signal::exit:
        d.what = remote_delivery::kind::exit;
        break;
      case detail::signal::link_exit:
        d.what = remote_delivery::kind::link_exit;
        break;
      case detail::signal::monitor:
        d.what = remote_delivery::kind::monitor;
        break;
      case detail::signal::demonitor:
        d.what = remote_delivery::kind::demonitor;
        break;
      default: // forced_exit, timeout, wake: never sent to another node
        e->destroy();
        return true;
      }
      d.from = pid(std::move(s->from));
      d.reason = std::move(s->reason);
      d.monitor = ref(s->ref);
      e->destroy();
      break;
    }
    }
    const pid self{detail::process_ref(to)};
    of(*to).deliver(self, std::move(d));
    return true;
  }
  static void forget(detail::process* p) noexcept {
    remote_endpoint& ep = of(*p);
    std::lock_guard lock(ep.mutex_);
    auto it = ep.proxies_.find(p->remote->key);
    if (it != ep.proxies_.end() && it->second == p)
      ep.proxies_.erase(it);
  }
  static std::string describe_proxy(const detail::process& p) {
    return of(p).describe(p.remote->key);
  }
  static constexpr detail::remote_ops ops{&deliver_envelope, &forget, &describe_proxy};

  mutable std::mutex mutex_;
  std::unordered_map<std::uint64_t, detail::process*> proxies_;
};

/// Pids of other nodes, and signals from them to local processes.
///
/// A node's transport calls these when a control message arrives: each
/// acts on the local process `to` as if the proxy `from` (a pid of
/// `remote_endpoint::proxy`) had sent the signal, so links, exit traps,
/// monitors and supervisors work unchanged. The ones returning bool return
/// false if `to` has ended: the transport answers as Erlang does (an exit
/// or down with `noproc`).
namespace remote {

/// What a caller expects as the reply of the request it is sending:
/// while one is in scope on a thread, a request sent from it to a remote
/// pid tells the endpoint the reply type's name (`type_name<R>()`), so
/// that the node can turn the reply term into a `reply<R>`. The call
/// layer (`otpp::call` and friends) sets it.
class expecting_reply {
public:
  explicit expecting_reply(std::string_view reply_type) noexcept
      : prev_(std::exchange(current_, reply_type)) {}
  expecting_reply(const expecting_reply&) = delete;
  expecting_reply& operator=(const expecting_reply&) = delete;
  ~expecting_reply() { current_ = prev_; }
  /// The reply type of the request being sent on this thread (empty: not known).
  static std::string_view current() noexcept { return current_; }

private:
  static inline thread_local std::string_view current_{};
  std::string_view prev_;
};

/// True if `p` names a process on another node.
inline bool is_remote(const pid& p) noexcept {
  return p && p.get()->remote != nullptr;
}
/// The endpoint of a remote pid (null for a local or null pid).
inline remote_endpoint* endpoint_of(const pid& p) noexcept {
  return is_remote(p) ? p.get()->remote->endpoint.get() : nullptr;
}
/// The endpoint's key of a remote pid (0 for a local or null pid).
inline std::uint64_t key_of(const pid& p) noexcept {
  return is_remote(p) ? p.get()->remote->key : 0;
}

namespace detail {
inline void check(const pid& to, const pid& from, const char* what) {
  if (!to || is_remote(to))
    throw std::invalid_argument(
        fmt::format("otpp::remote::{}: {} is not a local process", what, to));
  if (!is_remote(from))
    throw std::invalid_argument(
        fmt::format("otpp::remote::{}: {} is not a remote pid", what, from));
}
inline bool signal(const pid& to, const pid& from, otpp::detail::signal k, exit_reason r,
                   std::uint64_t ref, const char* what) {
  check(to, from, what);
  auto* e = new otpp::detail::signal_envelope(k, from.ref_ptr(), std::move(r), ref);
  if (otpp::detail::push(to.get(), e))
    return true;
  e->destroy();
  return false;
}
} // namespace detail

/// `from` links to `to` (Erlang's LINK).
inline bool link(const pid& to, const pid& from) {
  return detail::signal(to, from, otpp::detail::signal::link, {}, 0, "link");
}
/// `from` unlinks from `to` (UNLINK_ID).
inline void unlink(const pid& to, const pid& from) {
  detail::signal(to, from, otpp::detail::signal::unlink, {}, 0, "unlink");
}
/// `from`, linked to `to`, ended with `reason` (EXIT; `noconnection` when the
/// node is lost). Ignored if they are no longer linked.
inline bool link_exit(const pid& to, const pid& from, exit_reason reason) {
  return detail::signal(to, from, otpp::detail::signal::link_exit, std::move(reason), 0,
                        "link_exit");
}
/// `exit(to, reason)` called by `from` (EXIT2).
inline bool exit(const pid& to, const pid& from, exit_reason reason) {
  return detail::signal(to, from, otpp::detail::signal::exit, std::move(reason), 0, "exit");
}
/// `from` monitors `to` under `monitor` (MONITOR_P); when `to` ends, a
/// `down` delivery reaches `from`'s endpoint with the same ref.
inline bool monitor(const pid& to, const pid& from, ref monitor) {
  return detail::signal(to, from, otpp::detail::signal::monitor, {}, monitor.value(), "monitor");
}
/// `from` drops its monitor `monitor` of `to` (DEMONITOR_P).
inline void demonitor(const pid& to, const pid& from, ref monitor) {
  detail::signal(to, from, otpp::detail::signal::demonitor, {}, monitor.value(), "demonitor");
}
/// `from`, which `to` monitors under `monitor`, ended with `reason`
/// (MONITOR_P_EXIT): `to` receives a `down` unless it demonitored meanwhile.
inline void down(const pid& to, ref monitor, const pid& from, exit_reason reason) {
  detail::check(to, from, "down");
  otpp::detail::send_down(to.get(), monitor.value(), from.ref_ptr(), std::move(reason));
}

} // namespace remote

} // namespace otpp
