// Calls to a group of processes: scatter a call to every member and gather
// the replies (all, the first N, or until a deadline), each missing reply
// with why; a call to any one member; a cast to all.
// Distributed under the Boost Software License, Version 1.0.
#pragma once

#include <otpp/behaviour/call.hpp>
#include <otpp/behaviour/call_ref.hpp>
#include <otpp/behaviour/call_result.hpp>
#include <otpp/behaviour/handle.hpp>
#include <otpp/core/any_message.hpp>
#include <otpp/core/clock.hpp>
#include <otpp/core/duration.hpp>
#include <otpp/core/exit_reason.hpp>
#include <otpp/core/message.hpp>
#include <otpp/core/pid.hpp>
#include <otpp/core/process.hpp>
#include <otpp/core/receive.hpp>
#include <otpp/core/request.hpp>

#include <fmt/format.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <random>
#include <ranges>
#include <type_traits>
#include <unordered_map>
#include <utility>
#include <vector>

namespace otpp {

/// How `scatter_call` gathers.
struct gather_options {
  /// Stop once this many members replied (0: wait for every member).
  std::size_t want = 0;
  /// From the start: a member that has not replied by then is `timeout`.
  duration timeout = default_call_timeout;
};

/// One member's outcome in a gather: its reply, or why there is none:
/// its exit reason (`noproc` if it was not running), `timeout` (past the
/// deadline), `user("not_awaited")` (enough others replied first), or its
/// call failure.
template <class R> struct gathered {
  pid member;
  call_result<R> result;
};

/// What `scatter_call` returns: every member's outcome in the members'
/// order, and which replied, in the order they did.
template <class R> struct gather_result {
  std::vector<gathered<R>> members;
  std::vector<std::size_t> replied; ///< indices into `members`, in arrival order
  std::size_t ok_count() const noexcept { return replied.size(); }
  /// True if as many replied as were wanted (every member, or `want`).
  bool complete = false;
};

namespace detail {
template <class T> pid member_pid(const T& m) {
  return pid(target_of<T>::resolve(m));
}
template <class Named, class Range, class M>
using scatter_reply_t = reply_type_t<Named, std::ranges::range_value_t<Range>, M>;
} // namespace detail

/// Send `msg` as a call to every member at once, then gather the replies
/// as they come, until every member answered (or `opts.want` did), or
/// until `opts.timeout` from the start. Nothing for this gather reaches
/// the mailbox afterwards. Members are pids (name the reply type:
/// `scatter_call<R>(pids, msg)`) or typed handles (the reply type is the
/// definition's).
/// @par Suspends
/// The calling process, until the gather ends.
/// @par OTP
/// What `gen_server:multi_call` does for names on nodes, and
/// `gen_server:send_request/4` + `receive_response/3` on a request
/// collection do for any set of servers.
template <class R = detail::no_reply_type_named, class Range, class M>
requires std::ranges::input_range<Range> && process_target<std::ranges::range_value_t<Range>>
auto scatter_call(const Range& members, const M& msg, gather_options opts = {}) {
  using Reply = detail::scatter_reply_t<R, Range, M>;
  if constexpr (std::is_same_v<Reply, detail::no_reply_type_named>) {
    static_assert(detail::always_false<M>,
                  "otpp::scatter_call(pids, msg): name the reply type, scatter_call<Reply>(...), "
                  "or pass typed handles");
  } else {
    using W = detail::wire_t<Reply>;
    detail::check_caller("scatter_call");
    detail::check_timeout(opts.timeout, "scatter_call", "otpp::");
    gather_result<Reply> out;
    std::unordered_map<std::uint64_t, std::size_t> pending; // tag -> index
    mailbox_mark mark = this_process::mark();
    for (const auto& m : members) {
      pid p = detail::member_pid(m);
      ref tag = send_request(p, msg); // a dead one: a down with noproc follows
      pending.emplace(tag.value(), out.members.size());
      out.members.push_back({p, call_result<Reply>(exit_reason::timeout(), p)});
    }
    const std::size_t want =
        opts.want == 0 ? out.members.size() : std::min(opts.want, out.members.size());
    const bool bounded = !opts.timeout.is_infinite();
    const runtime_clock::time_point deadline =
        bounded ? runtime_clock::now() + opts.timeout.get() : runtime_clock::time_point::max();
    std::size_t answered = 0; // replies and failures
    auto remaining = [&]() -> duration {
      if (!bounded)
        return infinity;
      auto left = deadline - runtime_clock::now();
      return left > left.zero() ? duration(left) : duration();
    };
    while (out.replied.size() < want && answered < out.members.size()) {
      bool timed_out = this_process::receive(
          mark,
          when(
              [&](const any_message& a) {
                auto t = a.reply_tag();
                return t && pending.contains(t->value());
              },
              [&](any_message& a) {
                auto it = pending.find(a.reply_tag()->value());
                const std::size_t i = it->second;
                pending.erase(it);
                ++answered;
                auto& slot = out.members[i];
                if (auto* r = a.get_if<reply<W>>()) {
                  slot.result = call_result<Reply>(std::move(r->value));
                  out.replied.push_back(i);
                } else if (auto* f = a.get_if<reply<call_failure>>()) {
                  slot.result = call_result<Reply>(std::move(f->value.reason), slot.member);
                } else {
                  slot.result = call_result<Reply>(
                      exit_reason::user(fmt::format("bad reply type: expected {}, got {}",
                                                    otpp::type_name<reply<W>>(), a.type_name())),
                      slot.member);
                }
                return false;
              }),
          when([&](const down& d) { return pending.contains(d.monitor.value()); },
               [&](down& d) {
                 auto it = pending.find(d.monitor.value());
                 auto& slot = out.members[it->second];
                 cancel_request(d.monitor);
                 pending.erase(it);
                 ++answered;
                 slot.result = call_result<Reply>(std::move(d.reason), slot.member);
                 return false;
               }),
          after(remaining(), [] { return true; }));
      if (timed_out)
        break;
    }
    out.complete = out.replied.size() >= want;
    for (auto& [tag, i] : pending) { // late or not needed: nothing arrives after this
      cancel_request(ref(tag));
      if (out.complete)
        out.members[i].result =
            call_result<Reply>(exit_reason::user("not_awaited"), out.members[i].member);
    }
    return out;
  }
}

/// Call one member, chosen at random, and return its reply; a member that
/// is not running is skipped for the next one. A member that fails
/// otherwise (it crashed, timed out) fails the call: it may have acted on
/// the message.
/// @par Errors
/// `call_error`: `noproc` if no member runs (or there is none), else as `call`.
template <class R = detail::no_reply_type_named, class Range, class M>
requires std::ranges::forward_range<Range> && process_target<std::ranges::range_value_t<Range>>
auto call_any(const Range& members, const M& msg, duration timeout = default_call_timeout) {
  using Reply = detail::scatter_reply_t<R, Range, M>;
  if constexpr (std::is_same_v<Reply, detail::no_reply_type_named>) {
    static_assert(detail::always_false<M>,
                  "otpp::call_any(pids, msg): name the reply type, call_any<Reply>(...), or pass "
                  "typed handles");
  } else {
    std::vector<pid> all;
    for (const auto& m : members)
      all.push_back(detail::member_pid(m));
    if (!all.empty()) {
      thread_local std::minstd_rand pick(std::random_device{}());
      const std::size_t start = pick() % all.size();
      for (std::size_t k = 0; k < all.size(); ++k) {
        const pid& p = all[(start + k) % all.size()];
        auto r = detail::call_impl<Reply>("call_any", p, msg, timeout);
        if (r.ok() || r.error() != exit_reason::noproc())
          return std::move(r).value();
      }
    }
    throw call_error(exit_reason::noproc(), pid(), "call_any to", "a group with no running member");
  }
}

/// Cast `msg` to every member (lost silently for those not running).
template <class Range, class M>
requires std::ranges::input_range<Range> && process_target<std::ranges::range_value_t<Range>>
void cast_all(const Range& members, const M& msg) {
  for (const auto& m : members)
    cast(m, msg);
}

} // namespace otpp
