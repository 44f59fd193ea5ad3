// Functions Erlang runs on an otpp node (rpc:call, erpc:call, spawn/4):
// the registry of C++ functions by {Module, Function}, their typed
// wrapping (arguments converted with from_term, the result with to_term),
// and what a SPAWN_REQUEST asks and how its process ends.
// Distributed under the Boost Software License, Version 1.0.
#pragma once

#include <otpp/core/exit_reason.hpp>
#include <otpp/core/process.hpp>
#include <otpp/dist/atom.hpp>
#include <otpp/dist/control.hpp>
#include <otpp/dist/convert.hpp>
#include <otpp/dist/exit_reason_term.hpp>
#include <otpp/dist/term.hpp>

#include <boost/callable_traits/args.hpp>
#include <fmt/format.h>

#include <cstddef>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string_view>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

namespace otpp::detail {

template <class F, class... A>
term call_typed(F& f, const std::vector<term>& a, std::tuple<A...>* /*types*/) {
  if (a.size() != sizeof...(A))
    throw bad_term(
        fmt::format("badarg: {} arguments given, the function takes {}", a.size(), sizeof...(A)));
  return [&]<std::size_t... I>(std::index_sequence<I...>) {
    using R = std::invoke_result_t<F&, std::remove_cvref_t<A>...>;
    if constexpr (std::is_void_v<R>) {
      f(term_cast<std::remove_cvref_t<A>>(a[I])...);
      return term(atom("ok"));
    } else {
      return to_term(f(term_cast<std::remove_cvref_t<A>>(a[I])...));
    }
  }
  (std::index_sequence_for<A...>{});
}
} // namespace otpp::detail

namespace otpp::dist {

/// A function Erlang can call: its arguments as terms, its result a term.
using rpc_function = std::function<term(const std::vector<term>&)>;

/// `f` as an rpc_function: taking `const std::vector<term>&` it is used as
/// it is; otherwise each argument converts with `from_term` (a mismatch
/// throws `bad_term`) and the result with `to_term` (`void`: `ok`).
template <class F> rpc_function make_rpc_function(F f) {
  if constexpr (std::is_invocable_r_v<term, F&, const std::vector<term>&>) {
    return rpc_function(std::move(f));
  } else {
    using args = boost::callable_traits::args_t<F>;
    return [f = std::move(f)](const std::vector<term>& a) mutable -> term {
      return otpp::detail::call_typed(f, a, static_cast<args*>(nullptr));
    };
  }
}

/// The functions registered on a node, by {Module, Function}.
class rpc_registry {
public:
  void add(atom module, atom function, rpc_function f) {
    std::lock_guard lock(mutex_);
    fns_[{module, function}] = std::make_shared<const rpc_function>(std::move(f));
  }
  /// Null if nobody registered it.
  std::shared_ptr<const rpc_function> find(atom module, atom function) const {
    std::lock_guard lock(mutex_);
    auto it = fns_.find({module, function});
    return it == fns_.end() ? nullptr : it->second;
  }

private:
  mutable std::mutex mutex_;
  std::map<std::pair<atom, atom>, std::shared_ptr<const rpc_function>> fns_;
};

/// What a SPAWN_REQUEST asks: erpc (rpc:call) spawns
/// `erpc:execute_call(Ref, M, F, A)`, which must end with `{Ref, return,
/// Result}` (or `{Ref, error, Reason, Stack}`); any other `{M, F, Args}`
/// runs `M:F(Args)` as a process.
struct rpc_request {
  atom module, function;
  std::vector<term> args;
  std::optional<term> erpc_ref; ///< an erpc call: its ref
  bool link = false, monitor = false;
  atom reply_mode{"yes"}; ///< the spawn reply wanted: yes, no, success_only, error_only

  static rpc_request from(const spawn_request_msg& v) {
    rpc_request r;
    for (const term& o : v.options.elements()) {
      if (o.is_atom("link"))
        r.link = true;
      else if (o.is_atom("monitor"))
        r.monitor = true;
      else if (o.is_tuple() && o.size() == 2 && o[0].is_atom("reply") && o[1].is_atom())
        r.reply_mode = *o[1].get_if<atom>();
    }
    const auto& a = v.args.elements();
    const bool erpc = v.module == atom("erpc") && v.function == atom("execute_call") &&
                      a.size() == 4 && a[1].is_atom() && a[2].is_atom() && a[3].is_proper_list();
    r.module = erpc ? *a[1].get_if<atom>() : v.module;
    r.function = erpc ? *a[2].get_if<atom>() : v.function;
    for (const term& x : erpc ? a[3].elements() : v.args.elements())
      r.args.push_back(x);
    if (erpc)
      r.erpc_ref = a[0];
    return r;
  }
  bool wants_reply() const {
    return reply_mode == atom("yes") || reply_mode == atom("success_only");
  }
};

/// Run `fn` (null: nobody registered it) for `rq` in the calling process,
/// and end it as Erlang's would: an erpc call with its outcome as the exit
/// reason (`{Ref, return, Result}`, `{Ref, error, Reason, []}`), a plain
/// spawn normally, or with `undef`, `{badarg, What}` or the C++ exception
/// as `{exception, Type, What}`.
[[noreturn]] inline void run_rpc(const std::shared_ptr<const rpc_function>& fn,
                                 const rpc_request& rq) {
  const bool erpc = rq.erpc_ref.has_value();
  auto failed = [&](term why, term stack) {
    return erpc ? term::tuple({*rq.erpc_ref, term(atom("error")), std::move(why), std::move(stack)})
                : why;
  };
  term outcome;
  if (!fn) {
    const term mfa = term::list(
        {term::tuple({term(rq.module), term(rq.function), term::list(rq.args), term::list({})})});
    outcome = erpc ? failed(term(atom("undef")), mfa) : term::tuple({term(atom("undef")), mfa});
  } else {
    try {
      term result = (*fn)(rq.args);
      if (!erpc)
        this_process::exit(exit_reason::normal());
      outcome = term::tuple({*rq.erpc_ref, term(atom("return")), std::move(result)});
    } catch (const process_exit&) {
      throw;
    } catch (const bad_term& e) {
      outcome = failed(term::tuple({term(atom("badarg")), term::binary(e.what())}), term::list({}));
    } catch (...) {
      outcome = failed(reason_to_term(exit_reason::from_exception(std::current_exception())),
                       term::list({}));
    }
  }
  this_process::exit(exit_reason::user(to_string(outcome), outcome));
}

} // namespace otpp::dist
