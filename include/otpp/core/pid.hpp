// Process identifiers and unique references.
// Distributed under the Boost Software License, Version 1.0.
#pragma once

#include <otpp/detail/process.hpp>

#include <fmt/format.h>

#include <compare>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <utility>

namespace otpp {

/// Identifies a process; a cheap, copyable value.
///
/// A pid stays valid after its process ended: sending to it is a silent
/// no-op, monitoring it reports `noproc`, nothing dangles. A default
/// constructed pid names no process.
///
/// @par Thread safety
/// A pid may be copied and used from any thread.
class pid {
public:
  pid() noexcept = default;

  /// True if this pid names a process (alive or not).
  explicit operator bool() const noexcept { return p_ != nullptr; }
  /// A number unique within the program run: the `N` of `<0.N.0>`. A pid
  /// of another node (see core/remote.hpp) has one too, while any copy of
  /// it exists.
  std::uint64_t id() const noexcept { return p_ ? p_->id : 0; }
  /// True if this pid names a process of this program (false for a null
  /// pid and for a pid of another node).
  bool is_local() const noexcept { return p_ && !p_->remote; }

  friend bool operator==(const pid& a, const pid& b) noexcept { return a.id() == b.id(); }
  friend std::strong_ordering operator<=>(const pid& a, const pid& b) noexcept {
    return a.id() <=> b.id();
  }

  /// @cond internal
  explicit pid(detail::process_ref p) noexcept : p_(std::move(p)) {}
  detail::process* get() const noexcept { return p_.get(); }
  const detail::process_ref& ref_ptr() const noexcept { return p_; }
  /// @endcond

private:
  detail::process_ref p_;
};

/// A reference unique within the program run (Erlang's `make_ref()`):
/// names monitors and matches replies to requests.
class ref {
public:
  constexpr ref() noexcept = default;
  constexpr explicit ref(std::uint64_t v) noexcept : v_(v) {}
  constexpr std::uint64_t value() const noexcept { return v_; }
  constexpr explicit operator bool() const noexcept { return v_ != 0; }
  friend constexpr bool operator==(ref, ref) noexcept = default;
  friend constexpr std::strong_ordering operator<=>(ref, ref) noexcept = default;

private:
  std::uint64_t v_ = 0;
};

namespace detail {
// Per-thread block of a global counter: no shared cache line per make_ref.
inline std::uint64_t next_unique() noexcept {
  static std::atomic<std::uint64_t> blocks{0};
  constexpr std::uint64_t block = 1u << 16;
  thread_local std::uint64_t next = 0;
  thread_local std::uint64_t end = 0;
  if (next == end) {
    next = blocks.fetch_add(1, std::memory_order_relaxed) * block + 1;
    end = next + block - 1;
  }
  return next++;
}
} // namespace detail

/// A fresh unique reference.
inline ref make_ref() noexcept {
  return ref(detail::next_unique());
}

} // namespace otpp

template <> struct std::hash<otpp::pid> {
  std::size_t operator()(const otpp::pid& p) const noexcept {
    return std::hash<std::uint64_t>()(p.id());
  }
};
template <> struct std::hash<otpp::ref> {
  std::size_t operator()(otpp::ref r) const noexcept {
    return std::hash<std::uint64_t>()(r.value());
  }
};

// Both honour the string format spec (width, fill, alignment): "{:>12}".
template <> struct fmt::formatter<otpp::pid> : fmt::formatter<std::string_view> {
  template <class FormatContext> auto format(const otpp::pid& p, FormatContext& ctx) const {
    if (p && p.get()->remote) // a pid of another node: as its endpoint says
      return fmt::formatter<std::string_view>::format(p.get()->remote->ops->describe(*p.get()),
                                                      ctx);
    char buf[32];
    auto end = fmt::format_to_n(buf, sizeof buf, "<0.{}.0>", p.id()).out;
    return fmt::formatter<std::string_view>::format(
        std::string_view(buf, static_cast<std::size_t>(end - buf)), ctx);
  }
};
template <> struct fmt::formatter<otpp::ref> : fmt::formatter<std::string_view> {
  template <class FormatContext> auto format(otpp::ref r, FormatContext& ctx) const {
    char buf[40];
    auto end = fmt::format_to_n(buf, sizeof buf, "#Ref<0.{}>", r.value()).out;
    return fmt::formatter<std::string_view>::format(
        std::string_view(buf, static_cast<std::size_t>(end - buf)), ctx);
  }
};
