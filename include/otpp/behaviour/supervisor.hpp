// Supervisors: OTP supervision trees with child specs, the four restart
// strategies, restart intensity, dynamic children and tree export.
// Distributed under the Boost Software License, Version 1.0.
#pragma once

#include <otpp/behaviour/detail/server_traits.hpp>
#include <otpp/behaviour/report.hpp>
#include <otpp/behaviour/server.hpp>
#include <otpp/core/exit_reason.hpp>
#include <otpp/core/link.hpp>
#include <otpp/core/message.hpp>
#include <otpp/core/pid.hpp>
#include <otpp/core/process.hpp>
#include <otpp/core/receive.hpp>
#include <otpp/core/runtime.hpp>
#include <otpp/core/timer.hpp>

#include <fmt/format.h>

#include <algorithm>
#include <any>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <tuple>
#include <type_traits>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

namespace otpp {

// ---------------------------------------------------------------------------
// Specs
// ---------------------------------------------------------------------------

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

/// A handle on a running supervisor. Converts to its pid.
class supervisor_ref {
public:
  supervisor_ref() = default;
  explicit supervisor_ref(otpp::pid p) : pid_(std::move(p)) {}
  const otpp::pid& pid() const noexcept { return pid_; }
  operator const otpp::pid&() const noexcept { return pid_; }
  explicit operator bool() const noexcept { return static_cast<bool>(pid_); }
  friend bool operator==(const supervisor_ref& a, const supervisor_ref& b) noexcept {
    return a.pid_ == b.pid_;
  }

private:
  otpp::pid pid_;
};

namespace sup_detail {

template <class T> struct is_server_ref : std::false_type {};
template <class D> struct is_server_ref<server_ref<D>> : std::true_type {};
template <class T> struct is_start_result : std::false_type {};
template <class H> struct is_start_result<start_result<H>> : std::true_type {};

// Normalise what a start function returned.
template <class R> child_start to_child_start(R&& r) {
  using T = std::remove_cvref_t<R>;
  if constexpr (std::is_same_v<T, pid>) {
    if (!r)
      return {{}, false, exit_reason::user("the start function returned no pid")};
    return {r, false, std::nullopt};
  } else if constexpr (is_server_ref<T>::value || std::is_same_v<T, supervisor_ref>) {
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
    static_assert(server_detail::always_false<T>,
                  "otpp::worker: a start function must return a pid, a server_ref, a "
                  "supervisor_ref, a start_result or a child_start");
    return {};
  }
}

// Run a start function, turning exceptions into a failed start.
template <class F> child_start guarded_start(F&& f) {
  try {
    return to_child_start(f());
  } catch (const process_exit&) {
    throw;
  } catch (const start_error& e) {
    if (e.ignored())
      return {{}, true, std::nullopt};
    return {{}, false, e.reason()};
  } catch (...) {
    return {{}, false, exit_reason::from_exception(std::current_exception())};
  }
}

template <class F> struct start_args {
  using sig = server_detail::fn_sig<decltype(&F::operator())>;
};

template <class Tuple> struct decayed;
template <class... A> struct decayed<std::tuple<A...>> {
  using type = std::tuple<std::decay_t<A>...>;
};

} // namespace sup_detail

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
      return sup_detail::guarded_start([&] { return fn(); });
    };
  } else {
    static_assert(server_detail::has_plain_call<F>,
                  "otpp::worker: the start function must be callable with no arguments, or "
                  "(for a simple_one_for_one template) take concrete parameter types");
    using args = typename sup_detail::decayed<typename sup_detail::start_args<F>::sig::args>::type;
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
      return sup_detail::guarded_start([&] { return std::apply(fn, *t); });
    };
  }
  return c;
}

/// A supervisor child: a nested tree started from `spec`.
inline child_spec supervisor(std::string id, supervisor_spec spec, child_options options = {});

/// Validate child specs: an empty string if they are fine, else what is wrong.
/// @par OTP
/// `supervisor:check_childspecs/1`.
inline std::string check_childspecs(const std::vector<child_spec>& children,
                                    supervision_strategy strategy = one_for_one);

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
  std::size_t specs = 0;       ///< child specs (dynamic children for simple_one_for_one)
  std::size_t active = 0;      ///< running children
  std::size_t supervisors = 0; ///< children of type supervisor
  std::size_t workers = 0;     ///< children of type worker
};

namespace sup_detail {

struct child {
  child_spec spec;
  pid pid_;
  bool restarting = false;
  std::uint64_t restarts = 0;
  std::uint64_t seq = 0;          // start order (dynamic children)
  std::shared_ptr<std::any> args; // dynamic children: their start arguments
  std::chrono::steady_clock::time_point started{};
  unsigned backoff_level = 0;
};

// Messages to the supervisor process.
struct start_child_req {
  child_spec spec;
};
struct start_dynamic_req {
  std::shared_ptr<std::any> args;
};
struct terminate_child_req {
  std::string id;
  pid child; // simple_one_for_one: by pid
};
struct restart_child_req {
  std::string id;
};
struct delete_child_req {
  std::string id;
};
struct which_children_req {};
struct count_children_req {};
struct get_spec_req {};
struct try_again_restart {
  std::string id;
  std::uint64_t dynamic_seq; // simple_one_for_one: which child
  bool counted;              // a backoff delay: the restart was counted already
};
struct supervisor_summary {
  supervision_strategy strategy;
  int intensity;
  std::chrono::steady_clock::duration period;
  std::size_t recent_restarts;
  std::string name;
};

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

// The state of a supervisor process.
class state {
public:
  explicit state(std::shared_ptr<const supervisor_spec> spec) : spec_(std::move(spec)) {
    self_ = this_process::self();
  }

  // Start the static children in order; on a failure stop those started (in
  // reverse order) and return the reason.
  std::optional<exit_reason> start_children() {
    if (spec_->strategy == simple_one_for_one) {
      tmpl_ = spec_->children.front();
      return std::nullopt;
    }
    for (const child_spec& cs : spec_->children) {
      children_.push_back(child{cs, {}, false, 0, 0, {}, {}, 0});
      child& c = children_.back();
      child_start r = start(c);
      if (r.error) {
        children_.pop_back();
        report_error("start_error", *r.error, cs.id, {});
        terminate_all();
        return exit_reason::shutdown(fmt::format("failed_to_start_child {}: {}", cs.id, *r.error));
      }
      if (r.ignored && c.spec.options.restart == temporary)
        children_.pop_back(); // OTP: an ignored temporary child is not kept
    }
    return std::nullopt;
  }

  // A linked process ended.
  action on_exit(const exit_message& e) {
    if (spec_->strategy == simple_one_for_one) {
      auto it = dynamic_.find(e.from.id());
      if (it == dynamic_.end())
        return act::next();
      return child_ended_dynamic(it, e.reason);
    }
    auto it = std::find_if(children_.begin(), children_.end(),
                           [&](const child& c) { return c.pid_ == e.from; });
    if (it == children_.end())
      return act::next();
    return child_ended(static_cast<std::size_t>(it - children_.begin()), e.reason);
  }

  // A delayed restart (backoff), or another try after a failed restart
  // (which counts towards the intensity, as in OTP).
  action on_try_again(const try_again_restart& t) {
    if (spec_->strategy == simple_one_for_one) {
      auto it = std::find_if(dynamic_.begin(), dynamic_.end(),
                             [&](auto& kv) { return kv.second.seq == t.dynamic_seq; });
      if (it == dynamic_.end() || !it->second.restarting)
        return act::next();
      if (!t.counted && !add_restart())
        return intensity_reached();
      return restart_dynamic(it);
    }
    auto i = index_of(t.id);
    if (!i || !children_[*i].restarting)
      return act::next();
    if (!t.counted && !add_restart())
      return intensity_reached();
    return restart_static(*i);
  }

  // The supervisor is ending: stop every child, in reverse start order.
  void terminate_all() {
    if (spec_->strategy == simple_one_for_one) {
      terminate_dynamic_all();
      return;
    }
    for (std::size_t i = children_.size(); i-- > 0;)
      terminate(children_[i]);
  }

  call_result<pid> start_child(child_spec cs) {
    if (spec_->strategy == simple_one_for_one)
      return fail<pid>("use start_child(sup, args...) with a simple_one_for_one supervisor");
    if (std::string why = check_childspecs({cs}, spec_->strategy); !why.empty())
      return fail<pid>(why);
    if (auto i = index_of(cs.id)) {
      if (children_[*i].pid_)
        return call_result<pid>(exit_reason::user("already_started", children_[*i].pid_), self_);
      return fail<pid>("already_present");
    }
    children_.push_back(child{std::move(cs), {}, false, 0, 0, {}, {}, 0});
    child_start r = start(children_.back());
    if (r.error) {
      children_.pop_back();
      return call_result<pid>(std::move(*r.error), self_);
    }
    if (r.ignored && children_.back().spec.options.restart == temporary)
      children_.pop_back();
    return call_result<pid>(r.pid);
  }

  call_result<pid> start_dynamic(std::shared_ptr<std::any> args) {
    if (spec_->strategy != simple_one_for_one)
      return fail<pid>("start_child(sup, args...) needs a simple_one_for_one supervisor");
    child c{*tmpl_, {}, false, 0, ++seq_, std::move(args), {}, 0};
    child_start r = c.spec.start(c.args.get());
    if (r.error)
      return call_result<pid>(std::move(*r.error), self_);
    if (r.ignored)
      return call_result<pid>(pid());
    link(r.pid);
    c.pid_ = r.pid;
    c.started = std::chrono::steady_clock::now();
    report_progress(c);
    dynamic_.emplace(r.pid.id(), std::move(c));
    return call_result<pid>(r.pid);
  }

  call_result<void> terminate_child(const terminate_child_req& r) {
    if (spec_->strategy == simple_one_for_one) {
      auto it = r.child ? dynamic_.find(r.child.id()) : dynamic_.end();
      if (it == dynamic_.end())
        return fail<void>("not_found");
      terminate(it->second);
      dynamic_.erase(it);
      return call_result<void>(std::monostate{});
    }
    auto i = index_of(r.id);
    if (!i)
      return fail<void>("not_found");
    child& c = children_[*i];
    terminate(c);
    c.restarting = false;
    if (c.spec.options.restart == temporary)
      children_.erase(children_.begin() + static_cast<std::ptrdiff_t>(*i));
    return call_result<void>(std::monostate{});
  }

  call_result<pid> restart_child(const std::string& id) {
    if (spec_->strategy == simple_one_for_one)
      return fail<pid>("simple_one_for_one");
    auto i = index_of(id);
    if (!i)
      return fail<pid>("not_found");
    child& c = children_[*i];
    if (c.pid_)
      return fail<pid>("running");
    if (c.restarting)
      return fail<pid>("restarting");
    child_start r = start(c);
    if (r.error)
      return call_result<pid>(std::move(*r.error), self_);
    return call_result<pid>(r.pid);
  }

  call_result<void> delete_child(const std::string& id) {
    if (spec_->strategy == simple_one_for_one)
      return fail<void>("simple_one_for_one");
    auto i = index_of(id);
    if (!i)
      return fail<void>("not_found");
    if (children_[*i].pid_)
      return fail<void>("running");
    if (children_[*i].restarting)
      return fail<void>("restarting");
    children_.erase(children_.begin() + static_cast<std::ptrdiff_t>(*i));
    return call_result<void>(std::monostate{});
  }

  // OTP order: the most recently started first.
  std::vector<child_info> which_children() const {
    std::vector<child_info> out;
    auto info = [](const child& c) {
      return child_info{c.spec.id,
                        c.pid_,
                        c.spec.type,
                        c.spec.options.restart,
                        c.pid_         ? child_info::status::running
                        : c.restarting ? child_info::status::restarting
                                       : child_info::status::stopped,
                        c.restarts,
                        c.spec.options.significant};
    };
    if (spec_->strategy == simple_one_for_one) {
      std::vector<const child*> v;
      for (auto& [k, c] : dynamic_)
        v.push_back(&c);
      std::sort(v.begin(), v.end(), [](const child* a, const child* b) { return a->seq > b->seq; });
      for (const child* c : v)
        out.push_back(info(*c));
      return out;
    }
    for (std::size_t i = children_.size(); i-- > 0;)
      out.push_back(info(children_[i]));
    return out;
  }

  child_counts count_children() const {
    child_counts n;
    auto add = [&](const child& c) {
      ++n.specs;
      if (c.pid_)
        ++n.active;
      if (c.spec.type == child_type::supervisor)
        ++n.supervisors;
      else
        ++n.workers;
    };
    for (auto& c : children_)
      add(c);
    for (auto& [k, c] : dynamic_)
      add(c);
    return n;
  }

  supervisor_summary summary() {
    prune_restarts(std::chrono::steady_clock::now());
    return {spec_->strategy, spec_->intensity, spec_->period, restarts_.size(), spec_->name};
  }

private:
  template <class T> call_result<T> fail(std::string why) const {
    return call_result<T>(exit_reason::user(std::move(why)), self_);
  }

  std::optional<std::size_t> index_of(const std::string& id) const {
    for (std::size_t i = 0; i < children_.size(); ++i)
      if (children_[i].spec.id == id)
        return i;
    return std::nullopt;
  }

  // Start a static child; on success it is running.
  child_start start(child& c) {
    child_start r = c.spec.start(nullptr);
    if (r.error || r.ignored) {
      c.pid_ = pid();
      return r;
    }
    link(r.pid); // a start function that did not link still gives a supervised child
    c.pid_ = r.pid;
    c.restarting = false;
    c.started = std::chrono::steady_clock::now();
    report_progress(c);
    return r;
  }

  static bool should_restart(const child& c, const exit_reason& reason) {
    switch (c.spec.options.restart) {
    case permanent:
      return true;
    case transient:
      return !reason.is_clean();
    case temporary:
      return false;
    }
    return false;
  }

  action child_ended(std::size_t i, const exit_reason& reason) {
    child& c = children_[i];
    c.pid_ = pid();
    bool restart = should_restart(c, reason);
    if (restart || !reason.is_clean())
      report_error("child_terminated", reason, c.spec.id, {});
    if (!restart) {
      bool significant = c.spec.options.significant;
      if (c.spec.options.restart == temporary)
        children_.erase(children_.begin() + static_cast<std::ptrdiff_t>(i));
      if (significant)
        return auto_shutdown_check();
      return act::next();
    }
    update_backoff(c);
    if (!add_restart())
      return intensity_reached();
    if (auto d = backoff_delay(c)) {
      c.restarting = true;
      send_after(self_, *d, try_again_restart{c.spec.id, 0, true});
      return act::next();
    }
    return restart_static(i);
  }

  action child_ended_dynamic(std::unordered_map<std::uint64_t, child>::iterator it,
                             const exit_reason& reason) {
    child& c = it->second;
    c.pid_ = pid();
    bool restart = should_restart(c, reason);
    if (restart || !reason.is_clean())
      report_error("child_terminated", reason, c.spec.id, {});
    if (!restart) {
      bool significant = c.spec.options.significant;
      dynamic_.erase(it); // a dynamic child that is not restarted is forgotten
      if (significant)
        return auto_shutdown_check();
      return act::next();
    }
    update_backoff(c);
    if (!add_restart())
      return intensity_reached();
    if (auto d = backoff_delay(c)) {
      c.restarting = true;
      send_after(self_, *d, try_again_restart{c.spec.id, c.seq, true});
      return act::next();
    }
    return restart_dynamic(it);
  }

  // Restart child `i` as the strategy says (its exit was counted already).
  action restart_static(std::size_t i) {
    std::size_t first = i;
    if (spec_->strategy != one_for_one) {
      // Stop the others (one_for_all) or those after it (rest_for_one), in
      // reverse start order; temporary ones are not restarted.
      std::size_t from = spec_->strategy == one_for_all ? 0 : i;
      std::string failed_id = children_[i].spec.id;
      for (std::size_t k = children_.size(); k-- > from;) {
        if (k == i)
          continue;
        terminate(children_[k]);
      }
      std::erase_if(children_, [&](const child& c) {
        return c.spec.id != failed_id && c.spec.options.restart == temporary && !c.pid_ &&
               !c.restarting;
      });
      i = *index_of(failed_id);
      first = spec_->strategy == one_for_all ? 0 : i;
    }
    std::size_t last = spec_->strategy == one_for_one ? i + 1 : children_.size();
    for (std::size_t k = first; k < last; ++k) {
      child& c = children_[k];
      if (c.pid_)
        continue;
      bool restarted = k == i || spec_->strategy != one_for_one;
      child_start r = start(c);
      if (r.error) {
        report_error("start_error", *r.error, c.spec.id, {});
        // Try again later (each try counts towards the intensity), as OTP:
        // the retry is for the child that failed (for one_for_all it stops
        // and restarts the others again).
        c.restarting = true;
        send(self_, try_again_restart{c.spec.id, 0, false});
        return act::next();
      }
      if (restarted)
        ++c.restarts;
    }
    return act::next();
  }

  action restart_dynamic(std::unordered_map<std::uint64_t, child>::iterator it) {
    child c = std::move(it->second);
    dynamic_.erase(it);
    child_start r = c.spec.start(c.args.get());
    if (r.error) {
      report_error("start_error", *r.error, c.spec.id, {});
      c.restarting = true;
      std::uint64_t key = ~c.seq; // not a pid id: parked until the try-again
      send(self_, try_again_restart{c.spec.id, c.seq, false});
      dynamic_.emplace(key, std::move(c));
      return act::next();
    }
    if (r.ignored)
      return act::next();
    link(r.pid);
    c.pid_ = r.pid;
    c.restarting = false;
    c.started = std::chrono::steady_clock::now();
    ++c.restarts;
    report_progress(c);
    dynamic_.emplace(r.pid.id(), std::move(c));
    return act::next();
  }

  action intensity_reached() {
    report_error("shutdown", exit_reason::user("reached_max_restart_intensity"), "", {});
    return act::stop(exit_reason::shutdown());
  }

  action auto_shutdown_check() {
    switch (spec_->auto_shutdown) {
    case auto_shutdown_mode::never:
      return act::next();
    case auto_shutdown_mode::any_significant:
      return act::stop(exit_reason::shutdown());
    case auto_shutdown_mode::all_significant: {
      auto alive = [](const child& c) {
        return c.spec.options.significant && (c.pid_ || c.restarting);
      };
      bool any =
          std::any_of(children_.begin(), children_.end(), alive) ||
          std::any_of(dynamic_.begin(), dynamic_.end(), [&](auto& kv) { return alive(kv.second); });
      return any ? act::next() : act::stop(exit_reason::shutdown());
    }
    }
    return act::next();
  }

  // Restart intensity: false if this restart is one too many.
  bool add_restart() {
    auto now = std::chrono::steady_clock::now();
    restarts_.push_back(now);
    prune_restarts(now);
    return restarts_.size() <= static_cast<std::size_t>(std::max(spec_->intensity, 0));
  }
  void prune_restarts(std::chrono::steady_clock::time_point now) {
    while (!restarts_.empty() && now - restarts_.front() >= spec_->period)
      restarts_.pop_front();
  }

  void update_backoff(child& c) {
    if (spec_->backoff.initial <= std::chrono::steady_clock::duration::zero())
      return;
    if (std::chrono::steady_clock::now() - c.started >= spec_->period)
      c.backoff_level = 0;
  }
  std::optional<std::chrono::steady_clock::duration> backoff_delay(child& c) {
    const restart_backoff& b = spec_->backoff;
    if (b.initial <= std::chrono::steady_clock::duration::zero())
      return std::nullopt;
    double d = static_cast<double>(b.initial.count());
    for (unsigned k = 0; k < c.backoff_level && d < static_cast<double>(b.max.count()); ++k)
      d *= b.factor;
    ++c.backoff_level;
    auto delay = std::chrono::steady_clock::duration(static_cast<std::chrono::steady_clock::rep>(
        std::min(d, static_cast<double>(b.max.count()))));
    return delay;
  }

  // Stop one child as its shutdown policy says (OTP's shutdown/1): monitor
  // it, unlink it (an exit message already there means it had ended: its
  // reason is the result), then exit(shutdown) and kill after the timeout,
  // or kill at once for brutal_kill. A result other than the expected
  // reason (normal is fine for a child that is not permanent) is reported.
  void terminate(child& c) {
    if (!c.pid_)
      return;
    pid p = std::exchange(c.pid_, pid());
    ref m = monitor(p);
    std::optional<exit_reason> reason = unlink_flush(p);
    shutdown_policy sp = c.spec.shutdown();
    exit_reason expected = exit_reason::shutdown();
    if (reason) {
      wait_down(m, shutdown_policy::infinite());
    } else if (sp.which() == shutdown_policy::kind::brutal_kill) {
      expected = exit_reason::killed();
      exit(p, exit_reason::kill());
      reason = wait_down(m, shutdown_policy::infinite());
    } else {
      exit(p, exit_reason::shutdown());
      reason = wait_down(m, sp);
      if (!reason) { // the shutdown timeout passed: kill it
        exit(p, exit_reason::kill());
        reason = wait_down(m, shutdown_policy::infinite());
      }
    }
    if (*reason == expected || (reason->is_normal() && c.spec.options.restart != permanent))
      return;
    report_error("shutdown_error", *reason, c.spec.id, p);
  }

  // simple_one_for_one: stop all at once (OTP does it concurrently too).
  void terminate_dynamic_all() {
    struct pending {
      pid p;
      ref m;
      std::string id;
    };
    std::vector<pending> v;
    shutdown_policy sp = tmpl_ ? tmpl_->shutdown() : shutdown_policy::infinite();
    // The downs arrive after this mark: each wait below is O(1) however many
    // children there are. After unlink no exit message of a child arrives;
    // one already there is dropped with the supervisor.
    mailbox_mark mark = this_process::mark();
    for (auto& [k, c] : dynamic_) {
      if (!c.pid_)
        continue;
      pid p = std::exchange(c.pid_, pid());
      unlink(p);
      v.push_back({p, monitor(p), c.spec.id});
      exit(p, sp.which() == shutdown_policy::kind::brutal_kill ? exit_reason::kill()
                                                               : exit_reason::shutdown());
    }
    auto deadline = sp.which() == shutdown_policy::kind::timeout
                        ? std::optional(std::chrono::steady_clock::now() + sp.timeout())
                        : std::nullopt;
    std::unordered_set<std::uint64_t> open;
    for (auto& x : v)
      open.insert(x.m.value());
    bool killed = false;
    while (!open.empty()) {
      duration left = deadline && !killed
                          ? duration(std::max(*deadline - std::chrono::steady_clock::now(),
                                              std::chrono::steady_clock::duration::zero()))
                          : infinity;
      bool got = this_process::receive(
          mark,
          when([&open](const down& d) { return open.count(d.monitor.value()) != 0; },
               [&open](down& d) {
                 open.erase(d.monitor.value());
                 return true;
               }),
          after(left, [] { return false; }));
      if (!got && !killed) {
        for (auto& x : v)
          if (open.count(x.m.value()) != 0)
            exit(x.p, exit_reason::kill());
        killed = true;
      }
    }
    dynamic_.clear();
  }

  // Unlink `p` and remove its exit message if one is already there: its
  // reason, if so.
  static std::optional<exit_reason> unlink_flush(const pid& p) {
    (void)this_process::mailbox_length(); // move in what has arrived: its exit message stays
    unlink(p);
    return this_process::receive(
        when([&p](const exit_message& e) { return e.from == p; },
             [](exit_message& e) -> std::optional<exit_reason> { return std::move(e.reason); }),
        after(std::chrono::steady_clock::duration::zero(),
              []() -> std::optional<exit_reason> { return std::nullopt; }));
  }

  static std::optional<exit_reason> wait_down(ref m, const shutdown_policy& sp) {
    duration t = sp.which() == shutdown_policy::kind::timeout ? duration(sp.timeout()) : infinity;
    return this_process::receive(
        when([m](const down& d) { return d.monitor == m; },
             [](down& d) -> std::optional<exit_reason> { return std::move(d.reason); }),
        after(t, []() -> std::optional<exit_reason> { return std::nullopt; }));
  }

  void report_error(std::string_view context, const exit_reason& reason, const std::string& id,
                    const pid& p) const {
    send_report(report_kind::supervisor, self_,
                fmt::format("supervisor {}: {}, reason: {}, child: {}{}", display_name(), context,
                            reason, id.empty() ? std::string("-") : id,
                            p ? fmt::format(" ({})", p) : std::string()));
  }
  void report_progress(const child& c) const {
    send_report(report_kind::progress, self_,
                fmt::format("supervisor {}: started child {} ({}, {})", display_name(), c.spec.id,
                            c.pid_, name_of(c.spec.type)));
  }
  std::string display_name() const {
    return spec_->name.empty() ? fmt::format("{}", self_) : spec_->name;
  }

  std::shared_ptr<const supervisor_spec> spec_;
  pid self_;
  std::vector<child> children_;                      // static children, in start order
  std::unordered_map<std::uint64_t, child> dynamic_; // simple_one_for_one, by pid id
  std::optional<child_spec> tmpl_;
  std::uint64_t seq_ = 0;
  std::deque<std::chrono::steady_clock::time_point> restarts_;
};

inline auto definition() {
  return server<state>()
      .name("supervisor")
      .init([](std::shared_ptr<const supervisor_spec> spec) -> init_result<state> {
        state s(std::move(spec));
        if (auto failed = s.start_children())
          return init_stop(std::move(*failed));
        return init_ok(std::move(s));
      })
      .on_exit([](state& s, const exit_message& e) { return s.on_exit(e); })
      .on_info([](state& s, try_again_restart& t) { return s.on_try_again(t); })
      .on_call([](state& s, start_child_req& r) { return s.start_child(std::move(r.spec)); })
      .on_call([](state& s, start_dynamic_req& r) { return s.start_dynamic(std::move(r.args)); })
      .on_call([](state& s, const terminate_child_req& r) { return s.terminate_child(r); })
      .on_call([](state& s, const restart_child_req& r) { return s.restart_child(r.id); })
      .on_call([](state& s, const delete_child_req& r) { return s.delete_child(r.id); })
      .on_call([](state& s, which_children_req) { return s.which_children(); })
      .on_call([](state& s, count_children_req) { return s.count_children(); })
      .on_call([](state& s, get_spec_req) { return s.summary(); })
      .on_terminate([](state& s, const exit_reason&) { s.terminate_all(); })
      .unhandled(unhandled_policy::log);
}
using definition_type = decltype(definition());

} // namespace sup_detail

// ---------------------------------------------------------------------------
// Starting
// ---------------------------------------------------------------------------

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

/// Start a supervisor linked to the calling process (its parent).
/// @par Errors
/// `std::invalid_argument` for an invalid spec (nothing is started);
/// `start_error` if a child failed to start (the reason names it; the children
/// started before it were stopped in reverse order).
/// @par OTP
/// `supervisor:start_link/2,3`.
inline supervisor_ref start_link_supervisor(const supervisor_spec& spec) {
  validate(spec);
  start_options opts;
  opts.name = spec.name;
  auto h = start_link(std::move(opts), sup_detail::definition(),
                      std::make_shared<const supervisor_spec>(spec));
  return supervisor_ref(h.pid());
}

/// `start_link_supervisor` returning a `start_result` instead of throwing
/// `start_error` (what a parent supervisor uses).
inline start_result<supervisor_ref> try_start_link_supervisor(const supervisor_spec& spec) {
  validate(spec);
  start_options opts;
  opts.name = spec.name;
  auto r = try_start_link(std::move(opts), sup_detail::definition(),
                          std::make_shared<const supervisor_spec>(spec));
  if (r.ok())
    return start_result<supervisor_ref>::ok(supervisor_ref(r.value().pid()));
  if (r.ignored())
    return start_result<supervisor_ref>::ignore();
  return start_result<supervisor_ref>::error(r.error());
}

/// Start a top-level supervisor on `rt` (unlinked), from any thread.
inline supervisor_ref start_supervisor(runtime& rt, const supervisor_spec& spec) {
  validate(spec);
  start_options opts;
  opts.name = spec.name;
  auto h = start(rt, std::move(opts), sup_detail::definition(),
                 std::make_shared<const supervisor_spec>(spec));
  return supervisor_ref(h.pid());
}

inline child_spec supervisor(std::string id, supervisor_spec spec, child_options options) {
  if (!options.shutdown)
    options.shutdown = shutdown_policy::infinite();
  auto shared = std::make_shared<const supervisor_spec>(std::move(spec));
  child_spec c = worker(
      std::move(id), [shared] { return try_start_link_supervisor(*shared); }, options);
  c.type = child_type::supervisor;
  return c;
}

// ---------------------------------------------------------------------------
// The dynamic API (calls to the supervisor; they wait as long as it takes, as OTP's do)
// ---------------------------------------------------------------------------

/// Add a child and start it. Errors: `already_present` (the id exists, not
/// running), `already_started` (payload: its pid), the start's reason.
inline call_result<pid> start_child(const pid& sup, child_spec spec) {
  return call<call_result<pid>>(sup, sup_detail::start_child_req{std::move(spec)}, infinity);
}

/// simple_one_for_one: start a child from the template with `args` (their
/// decayed types must be exactly the template's parameter types).
template <class... Args>
requires(!(sizeof...(Args) == 1 && (std::is_same_v<std::decay_t<Args>, child_spec> && ...)))
    call_result<pid> start_child(const pid& sup, Args&&... args) {
  auto a =
      std::make_shared<std::any>(std::tuple<std::decay_t<Args>...>(std::forward<Args>(args)...));
  return call<call_result<pid>>(sup, sup_detail::start_dynamic_req{std::move(a)}, infinity);
}

/// Stop a child (it stays as a spec unless temporary). Errors: `not_found`.
inline call_result<void> terminate_child(const pid& sup, const std::string& id) {
  return call<call_result<void>>(sup, sup_detail::terminate_child_req{id, {}}, infinity);
}
/// simple_one_for_one: stop the child `child` (it is forgotten). Errors: `not_found`.
inline call_result<void> terminate_child(const pid& sup, const pid& child) {
  return call<call_result<void>>(sup, sup_detail::terminate_child_req{{}, child}, infinity);
}
/// Start a stopped child again. Errors: `running`, `restarting`, `not_found`, the start's reason.
inline call_result<pid> restart_child(const pid& sup, const std::string& id) {
  return call<call_result<pid>>(sup, sup_detail::restart_child_req{id}, infinity);
}
/// Remove a stopped child's spec. Errors: `running`, `restarting`, `not_found`.
inline call_result<void> delete_child(const pid& sup, const std::string& id) {
  return call<call_result<void>>(sup, sup_detail::delete_child_req{id}, infinity);
}
/// The children, most recently started first (OTP's order).
inline std::vector<child_info> which_children(const pid& sup) {
  return call<std::vector<child_info>>(sup, sup_detail::which_children_req{}, infinity);
}
/// Counts of specs, running children, supervisors and workers.
inline child_counts count_children(const pid& sup) {
  return call<child_counts>(sup, sup_detail::count_children_req{}, infinity);
}

// ---------------------------------------------------------------------------
// Tree export
// ---------------------------------------------------------------------------

/// One node of a supervision tree snapshot.
struct tree_node {
  std::string id;
  otpp::pid pid;
  child_type type = child_type::supervisor;
  restart_type restart = permanent;
  child_info::status state = child_info::status::running;
  std::uint64_t restarts = 0;
  /// For supervisors: their strategy and children (in start order).
  std::optional<supervision_strategy> strategy;
  std::vector<tree_node> children;
};

/// A snapshot of the live tree under supervisor `sup` (children in start order).
inline tree_node supervision_tree(const pid& sup, std::string id = "root") {
  tree_node root;
  root.id = std::move(id);
  root.pid = sup;
  auto summary = call<sup_detail::supervisor_summary>(sup, sup_detail::get_spec_req{}, infinity);
  root.strategy = summary.strategy;
  auto kids = which_children(sup);
  std::reverse(kids.begin(), kids.end());
  for (auto& k : kids) {
    tree_node n;
    if (k.type == child_type::supervisor && k.pid) {
      try {
        n = supervision_tree(k.pid, k.id);
      } catch (const call_error&) { // it ended meanwhile
        n.id = k.id;
      }
    } else {
      n.id = k.id;
    }
    n.pid = k.pid;
    n.type = k.type;
    n.restart = k.restart;
    n.state = k.state;
    n.restarts = k.restarts;
    root.children.push_back(std::move(n));
  }
  return root;
}

namespace sup_detail {
inline void json_escape(std::string& out, std::string_view s) {
  for (char ch : s) {
    switch (ch) {
    case '"':
      out += "\\\"";
      break;
    case '\\':
      out += "\\\\";
      break;
    case '\n':
      out += "\\n";
      break;
    default:
      if (static_cast<unsigned char>(ch) < 0x20)
        out += fmt::format("\\u{:04x}", static_cast<unsigned>(static_cast<unsigned char>(ch)));
      else
        out += ch;
    }
  }
}
inline void to_json(std::string& out, const tree_node& n, int depth) {
  std::string pad(static_cast<std::size_t>(depth) * 2, ' ');
  out += pad + "{\"id\": \"";
  json_escape(out, n.id);
  out += fmt::format("\", \"pid\": {}, \"type\": \"{}\", \"restart\": \"{}\", \"status\": \"{}\", "
                     "\"restarts\": {}",
                     n.pid ? fmt::format("\"{}\"", n.pid) : std::string("null"), name_of(n.type),
                     name_of(n.restart), name_of(n.state), n.restarts);
  if (n.strategy)
    out += fmt::format(", \"strategy\": \"{}\"", name_of(*n.strategy));
  if (n.type == child_type::supervisor) {
    out += ", \"children\": [";
    if (!n.children.empty()) {
      out += "\n";
      for (std::size_t i = 0; i < n.children.size(); ++i) {
        to_json(out, n.children[i], depth + 1);
        out += i + 1 < n.children.size() ? ",\n" : "\n";
      }
      out += pad;
    }
    out += "]";
  }
  out += "}";
}
// An id inside a DOT quoted string: '"' and '\\' escaped (a bare '\\' could
// escape the closing quote).
inline std::string dot_escape(std::string_view s) {
  std::string out;
  for (char ch : s) {
    if (ch == '"' || ch == '\\')
      out += '\\';
    out += ch;
  }
  return out;
}
inline void to_dot(std::string& out, const tree_node& n, const std::string& path) {
  std::string label = fmt::format(
      "{}\\n{}{}", dot_escape(n.id), n.pid ? fmt::format("{}", n.pid) : std::string("-"),
      n.restarts ? fmt::format("\\nrestarts: {}", n.restarts) : std::string());
  if (n.strategy)
    label += fmt::format("\\n{}", name_of(*n.strategy));
  out += fmt::format("  \"{}\" [label=\"{}\", shape={}, style={}];\n", path, label,
                     n.type == child_type::supervisor ? "box" : "ellipse",
                     n.state == child_info::status::running ? "solid" : "dashed");
  // Siblings of one id (simple_one_for_one children) are told apart by their
  // rank among themselves, so node names stay unique and stable.
  std::unordered_map<std::string, std::size_t> total, seen;
  for (auto& c : n.children)
    ++total[c.id];
  for (auto& c : n.children) {
    std::string child_path = path + "/" + dot_escape(c.id);
    if (total[c.id] > 1)
      child_path += fmt::format("#{}", ++seen[c.id]);
    to_dot(out, c, child_path);
    out += fmt::format("  \"{}\" -> \"{}\";\n", path, child_path);
  }
}
} // namespace sup_detail

/// The tree as JSON (one object per node: id, pid, type, restart, status,
/// restarts, strategy and children for supervisors).
inline std::string to_json(const tree_node& tree) {
  std::string out;
  sup_detail::to_json(out, tree, 0);
  out += "\n";
  return out;
}

/// The tree as a Graphviz digraph (supervisors as boxes, workers as
/// ellipses, stopped or restarting children dashed). Node names are id
/// paths, so two snapshots of one tree diff line by line.
inline std::string to_dot(const tree_node& tree) {
  std::string out = "digraph supervision_tree {\n";
  sup_detail::to_dot(out, tree, sup_detail::dot_escape(tree.id));
  out += "}\n";
  return out;
}

} // namespace otpp
