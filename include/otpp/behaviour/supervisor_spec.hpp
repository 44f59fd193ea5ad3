// Supervisor specs: strategies, restart types, shutdown policies, child
// specs (worker / supervisor), restart intensity, auto_shutdown, backoff.
// Distributed under the Boost Software License, Version 1.0.
#pragma once

#include <otpp/behaviour/detail/traits.hpp>
#include <otpp/behaviour/handle.hpp>
#include <otpp/behaviour/start.hpp>
#include <otpp/core/duration.hpp>
#include <otpp/core/exit_reason.hpp>
#include <otpp/core/pid.hpp>
#include <otpp/core/runtime.hpp>

#include <fmt/format.h>

#include <any>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <tuple>
#include <type_traits>
#include <unordered_set>
#include <utility>
#include <vector>

namespace otpp {

/// Which children a supervisor restarts when one ends.
/// @par OTP
/// `one_for_one | one_for_all | rest_for_one | simple_one_for_one`.
enum class supervision_strategy { one_for_one, one_for_all, rest_for_one, simple_one_for_one };
/// Restart only the child that ended.
inline constexpr supervision_strategy one_for_one = supervision_strategy::one_for_one;
/// Stop all the others (in reverse start order), then restart all (in start order).
inline constexpr supervision_strategy one_for_all = supervision_strategy::one_for_all;
/// Stop the children started after it, then restart it and them.
inline constexpr supervision_strategy rest_for_one = supervision_strategy::rest_for_one;
/// One child template; children are added with `start_child(sup, args...)`.
inline constexpr supervision_strategy simple_one_for_one = supervision_strategy::simple_one_for_one;

/// When a child is restarted.
enum class restart_type { permanent, transient, temporary };
/// Always restarted.
inline constexpr restart_type permanent = restart_type::permanent;
/// Restarted only after an abnormal exit (not normal, shutdown or {shutdown, _}).
inline constexpr restart_type transient = restart_type::transient;
/// Never restarted.
inline constexpr restart_type temporary = restart_type::temporary;

/// A worker or a supervisor.
enum class child_type { worker, supervisor };

/// How a supervisor stops a child.
/// @par OTP
/// `brutal_kill | Timeout | infinity`.
class shutdown_policy {
public:
  enum class kind { brutal_kill, timeout, infinite };
  /// `exit(child, kill)` at once.
  static shutdown_policy brutal_kill() noexcept { return {kind::brutal_kill, {}}; }
  /// `exit(child, shutdown)`, then `kill` if it has not ended after `t`.
  template <class Rep, class Period>
  static shutdown_policy after(std::chrono::duration<Rep, Period> t) noexcept {
    return {kind::timeout, std::chrono::ceil<std::chrono::steady_clock::duration>(t)};
  }
  /// `exit(child, shutdown)` and wait as long as it takes (supervisor children).
  static shutdown_policy infinite() noexcept { return {kind::infinite, {}}; }

  kind which() const noexcept { return kind_; }
  std::chrono::steady_clock::duration timeout() const noexcept { return timeout_; }
  friend bool operator==(const shutdown_policy&, const shutdown_policy&) = default;

private:
  shutdown_policy(kind k, std::chrono::steady_clock::duration t) : kind_(k), timeout_(t) {}
  kind kind_;
  std::chrono::steady_clock::duration timeout_;
};

/// What a child's start function produced.
struct child_start {
  otpp::pid pid;                    ///< the child (linked to the supervisor)
  bool ignored = false;             ///< the start function chose not to start
  std::optional<exit_reason> error; ///< why the start failed
};

/// The options of one child.
struct child_options {
  restart_type restart = permanent;
  /// Default: 5 s for a worker, infinity for a supervisor.
  std::optional<shutdown_policy> shutdown{};
  /// Its exit may shut the supervisor down (see `auto_shutdown`); only for
  /// transient and temporary children.
  bool significant = false;
};

struct supervisor_spec;

/// A child specification: built with `worker(...)` or `supervisor(...)`.
struct child_spec {
  std::string id;
  child_type type = child_type::worker;
  child_options options;
  /// Starts the child, linked to the calling process (the supervisor).
  /// Receives the extra arguments of `start_child` for simple_one_for_one
  /// templates (null otherwise).
  std::function<child_start(std::any*)> start;
  /// Number of extra start arguments the function takes (templates only).
  std::size_t arity = 0;
  /// Their types, for error messages.
  std::string args_type;
  /// For a child made by `supervisor(id, spec)`: that spec, which
  /// `spec_tree` draws without starting anything (null otherwise).
  std::shared_ptr<const supervisor_spec> nested;

  shutdown_policy shutdown() const {
    if (options.shutdown)
      return *options.shutdown;
    return type == child_type::supervisor ? shutdown_policy::infinite()
                                          : shutdown_policy::after(std::chrono::seconds(5));
  }
};

/// When a supervisor shuts itself down because significant children ended.
/// @par OTP
/// `auto_shutdown`: `never | any_significant | all_significant` (OTP 24).
enum class auto_shutdown_mode { never, any_significant, all_significant };

/// Optional delay between a child's end and its restart, growing by
/// `factor` for each consecutive restart of that child (reset once it ran
/// for `period`) up to `max`. Off when `initial` is zero (the default, as in
/// OTP, which has no backoff).
struct restart_backoff {
  std::chrono::steady_clock::duration initial{};
  std::chrono::steady_clock::duration max = std::chrono::seconds(5);
  double factor = 2.0;
};

/// A supervisor: its strategy, restart intensity and children.
/// @par OTP
/// `{SupFlags, [ChildSpec]}` from `init/1`.
struct supervisor_spec {
  supervision_strategy strategy = one_for_one;
  /// More than `intensity` restarts within `period` end the supervisor (reason `shutdown`).
  int intensity = 1;
  std::chrono::steady_clock::duration period = std::chrono::seconds(5);
  std::vector<child_spec> children{};
  auto_shutdown_mode auto_shutdown = auto_shutdown_mode::never;
  restart_backoff backoff{};
  /// Register the supervisor under this name (empty: none); also used in reports.
  std::string name{};
};

namespace detail {

template <class T> struct is_handle : std::false_type {};
template <protocol D> struct is_handle<otpp::handle<D>> : std::true_type {};
template <class T> struct is_start_result : std::false_type {};
template <class H> struct is_start_result<start_result<H>> : std::true_type {};

// Normalise what a start function returned.
template <class R> child_start to_child_start(R&& r) {
  using T = std::remove_cvref_t<R>;
  if constexpr (std::is_same_v<T, pid>) {
    if (!r)
      return {{}, false, exit_reason::user("the start function returned no pid")};
    return {r, false, std::nullopt};
  } else if constexpr (is_handle<T>::value) {
    return to_child_start(pid(r.pid()));
  } else if constexpr (is_start_result<T>::value) {
    if (r.ignored())
      return {{}, true, std::nullopt};
    if (!r.ok())
      return {{}, false, r.error()};
    return to_child_start(pid(r.value()));
  } else if constexpr (std::is_same_v<T, child_start>) {
    return std::forward<R>(r);
  } else {
    static_assert(detail::always_false<T>,
                  "otpp::worker: a start function must return a pid, a server_ref, a "
                  "supervisor_ref, a start_result or a child_start");
    return {};
  }
}

// Run a start function, turning exceptions into a failed start.
template <class F> child_start guarded_start(F&& f) {
  try {
    return to_child_start(f());
  } catch (const start_error& e) {
    if (e.ignored())
      return {{}, true, std::nullopt};
    return {{}, false, e.reason()};
  } catch (...) {
    rethrow_if_exit();
    return {{}, false, exit_reason::from_exception(std::current_exception())};
  }
}

template <class F> struct start_args { using sig = detail::fn_sig<decltype(&F::operator())>; };

template <class Tuple> struct decayed;
template <class... A> struct decayed<std::tuple<A...>> {
  using type = std::tuple<std::decay_t<A>...>;
};

} // namespace detail

/// Validate child specs: an empty string if they are fine, else what is wrong.
/// @par OTP
/// `supervisor:check_childspecs/1`.
inline std::string check_childspecs(const std::vector<child_spec>& children,
                                    supervision_strategy strategy = one_for_one);

/// A worker child: `start()` starts it linked to the supervisor (e.g.
/// `[] { return otpp::start_link(def); }`). A start function with parameters
/// is a simple_one_for_one template: `start_child(sup, args...)` passes them.
template <class F> child_spec worker(std::string id, F start, child_options options = {}) {
  child_spec c;
  c.id = std::move(id);
  c.type = child_type::worker;
  c.options = options;
  if constexpr (std::is_invocable_v<F&>) {
    c.start = [fn = std::move(start)](std::any*) mutable {
      return detail::guarded_start([&] { return fn(); });
    };
  } else {
    static_assert(detail::has_plain_call<F>,
                  "otpp::worker: the start function must be callable with no arguments, or "
                  "(for a simple_one_for_one template) take concrete parameter types");
    using args = typename detail::decayed<typename detail::start_args<F>::sig::args>::type;
    c.arity = std::tuple_size_v<args>;
    c.args_type = std::string(otpp::type_name<args>());
    c.start = [fn = std::move(start)](std::any* a) mutable -> child_start {
      args* t = a != nullptr ? std::any_cast<args>(a) : nullptr;
      if (t == nullptr)
        return {{},
                false,
                exit_reason::user(
                    fmt::format("bad start arguments: the template takes {}, start_child gave {}",
                                otpp::type_name<args>(),
                                a != nullptr && a->has_value() ? std::string_view(a->type().name())
                                                               : std::string_view("nothing")))};
      return detail::guarded_start([&] { return std::apply(fn, *t); });
    };
  }
  return c;
}

/// What `which_children` reports about one child.
/// @par OTP
/// `{Id, Child | restarting | undefined, Type, Modules}`.
struct child_info {
  enum class status { running, restarting, stopped };
  std::string id;
  otpp::pid pid; ///< null unless running
  child_type type = child_type::worker;
  restart_type restart = permanent;
  status state = status::stopped;
  std::uint64_t restarts = 0; ///< times the supervisor restarted it
  bool significant = false;
};

/// What `count_children` reports.
struct child_counts {
  std::size_t specs = 0;       ///< child specs (1 for simple_one_for_one: the template)
  std::size_t active = 0;      ///< running children
  std::size_t supervisors = 0; ///< children of type supervisor
  std::size_t workers = 0;     ///< children of type worker
};

/// Validate a supervisor spec; throws `std::invalid_argument` saying what is wrong.
inline void validate(const supervisor_spec& spec) {
  if (spec.intensity < 0)
    throw std::invalid_argument(
        fmt::format("otpp::supervisor: intensity must be >= 0, not {}", spec.intensity));
  if (spec.period <= std::chrono::steady_clock::duration::zero())
    throw std::invalid_argument("otpp::supervisor: period must be positive");
  if (spec.backoff.initial < std::chrono::steady_clock::duration::zero() ||
      (spec.backoff.initial > std::chrono::steady_clock::duration::zero() &&
       (spec.backoff.factor < 1.0 || spec.backoff.max < spec.backoff.initial)))
    throw std::invalid_argument("otpp::supervisor: backoff needs factor >= 1 and max >= initial");
  if (spec.strategy == simple_one_for_one && spec.children.size() != 1)
    throw std::invalid_argument(fmt::format(
        "otpp::supervisor: simple_one_for_one takes exactly one child spec (the template), "
        "not {}",
        spec.children.size()));
  if (std::string why = check_childspecs(spec.children, spec.strategy); !why.empty())
    throw std::invalid_argument("otpp::supervisor: " + why);
  // OTP 24+: significant children need auto_shutdown; OTP 27: a
  // simple_one_for_one supervisor cannot shut itself down.
  if (spec.strategy == simple_one_for_one && spec.auto_shutdown != auto_shutdown_mode::never)
    throw std::invalid_argument(
        "otpp::supervisor: bad_combination: simple_one_for_one with auto_shutdown other than "
        "never");
  if (spec.auto_shutdown == auto_shutdown_mode::never)
    for (const child_spec& c : spec.children)
      if (c.options.significant)
        throw std::invalid_argument(fmt::format(
            "otpp::supervisor: bad_combination: child '{}' is significant but auto_shutdown is "
            "never",
            c.id));
}

inline std::string check_childspecs(const std::vector<child_spec>& children,
                                    supervision_strategy strategy) {
  std::unordered_set<std::string> ids;
  for (const child_spec& c : children) {
    if (c.id.empty())
      return "a child spec has an empty id";
    if (!ids.insert(c.id).second)
      return fmt::format("duplicate child id '{}'", c.id);
    if (!c.start)
      return fmt::format("child '{}' has no start function", c.id);
    if (c.options.significant && c.options.restart == permanent)
      return fmt::format("child '{}' is significant and permanent (significant children must "
                         "be transient or temporary)",
                         c.id);
    if (auto sd = c.options.shutdown; sd && sd->which() == shutdown_policy::kind::timeout &&
                                      sd->timeout() < std::chrono::steady_clock::duration::zero())
      return fmt::format("child '{}' has a negative shutdown timeout", c.id);
    if (c.arity != 0 && strategy != simple_one_for_one)
      return fmt::format("child '{}' takes start arguments ({}): only a simple_one_for_one "
                         "template can",
                         c.id, c.args_type);
  }
  return {};
}

namespace detail {
inline std::string_view name_of(supervision_strategy s) {
  constexpr std::string_view n[] = {"one_for_one", "one_for_all", "rest_for_one",
                                    "simple_one_for_one"};
  return n[static_cast<int>(s)];
}
inline std::string_view name_of(restart_type r) {
  constexpr std::string_view n[] = {"permanent", "transient", "temporary"};
  return n[static_cast<int>(r)];
}
inline std::string_view name_of(child_type t) {
  return t == child_type::worker ? "worker" : "supervisor";
}
inline std::string_view name_of(child_info::status s) {
  constexpr std::string_view n[] = {"running", "restarting", "stopped"};
  return n[static_cast<int>(s)];
}
} // namespace detail

} // namespace otpp

// Strategies, restart types, child types and statuses format as OTP's atoms.
template <> struct fmt::formatter<otpp::supervision_strategy> : fmt::formatter<std::string_view> {
  template <class Ctx> auto format(otpp::supervision_strategy v, Ctx& ctx) const {
    return fmt::formatter<std::string_view>::format(otpp::detail::name_of(v), ctx);
  }
};
template <> struct fmt::formatter<otpp::restart_type> : fmt::formatter<std::string_view> {
  template <class Ctx> auto format(otpp::restart_type v, Ctx& ctx) const {
    return fmt::formatter<std::string_view>::format(otpp::detail::name_of(v), ctx);
  }
};
template <> struct fmt::formatter<otpp::child_type> : fmt::formatter<std::string_view> {
  template <class Ctx> auto format(otpp::child_type v, Ctx& ctx) const {
    return fmt::formatter<std::string_view>::format(otpp::detail::name_of(v), ctx);
  }
};
template <> struct fmt::formatter<otpp::child_info::status> : fmt::formatter<std::string_view> {
  template <class Ctx> auto format(otpp::child_info::status v, Ctx& ctx) const {
    return fmt::formatter<std::string_view>::format(otpp::detail::name_of(v), ctx);
  }
};
