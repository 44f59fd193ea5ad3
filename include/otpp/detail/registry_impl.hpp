// The registry: the runtime's members behind register_name and whereis.
// Distributed under the Boost Software License, Version 1.0.

// Part of the runtime's definitions (see detail/runtime_impl.hpp). The
// runtime include comes before the guard so that this header also compiles
// on its own: core/runtime.hpp then includes it, in its place, through
// detail/runtime_impl.hpp.
#include <otpp/core/runtime.hpp>

#ifndef OTPP_DETAIL_REGISTRY_IMPL_HPP
#define OTPP_DETAIL_REGISTRY_IMPL_HPP

#include <otpp/core/pid.hpp>
#include <otpp/detail/process.hpp>
#include <otpp/detail/trace_hooks.hpp>

#include <fmt/format.h>

#include <mutex>
#include <stdexcept>
#include <string>
#include <vector>

namespace otpp {

inline void runtime::register_name(const std::string& name, const pid& p) {
  if (name.empty())
    throw std::invalid_argument("otpp::register_name: the name is empty");
  if (!p)
    throw std::invalid_argument(
        fmt::format("otpp::register_name: no process given for '{}'", name));
  if (p.get()->remote)
    throw std::invalid_argument(fmt::format(
        "otpp::register_name: {} is a process of another node; only local ones take names", p));
  detail::process* proc = p.get();
  {
    std::lock_guard lock(names_mutex_);
    if (names_.count(name) != 0)
      throw std::invalid_argument(
          fmt::format("otpp::register_name: '{}' is already registered", name));
    std::lock_guard meta(proc->meta);
    if (!proc->name.empty())
      throw std::invalid_argument(
          fmt::format("otpp::register_name: {} is already registered as '{}'", p, proc->name));
    // Store `named`, then load the status; an ending process stores its
    // status, then loads `named`: one of the two sees the other, so no name
    // outlives its process.
    proc->named.store(true);
    if (proc->status.load() == detail::process_status::exited)
      throw std::invalid_argument(fmt::format("otpp::register_name: {} is not alive", p));
    proc->name = name;
    names_.emplace(name, p.ref_ptr());
  }
  if (detail::traced(*proc, trace_flags::procs)) [[unlikely]] // out of the locks
    detail::trace_name(*proc, trace_kind::register_name, name);
}

inline void runtime::unregister_name(const std::string& name) {
  detail::process_ref holder;
  {
    std::lock_guard lock(names_mutex_);
    auto it = names_.find(name);
    if (it == names_.end())
      throw std::invalid_argument(
          fmt::format("otpp::unregister_name: '{}' is not registered", name));
    {
      std::lock_guard meta(it->second->meta);
      it->second->name.clear();
    }
    holder = std::move(it->second);
    names_.erase(it);
  }
  if (detail::traced(*holder, trace_flags::procs)) [[unlikely]] // out of the locks
    detail::trace_name(*holder, trace_kind::unregister_name, name);
}

inline void runtime::unregister_dead(detail::process* p) {
  std::string name;
  {
    std::lock_guard lock(names_mutex_);
    std::lock_guard meta(p->meta);
    if (p->name.empty())
      return;
    auto it = names_.find(p->name);
    if (it != names_.end() && it->second.get() == p)
      names_.erase(it);
    name = std::move(p->name);
    p->name.clear();
  }
  if (detail::traced(*p, trace_flags::procs)) [[unlikely]] // out of the locks
    detail::trace_name(*p, trace_kind::unregister_name, name);
}

inline pid runtime::whereis(const std::string& name) {
  std::lock_guard lock(names_mutex_);
  auto it = names_.find(name);
  return it == names_.end() ? pid() : pid(it->second);
}

inline std::vector<std::string> runtime::registered() {
  std::lock_guard lock(names_mutex_);
  std::vector<std::string> out;
  out.reserve(names_.size());
  for (auto& [n, p] : names_)
    out.push_back(n);
  return out;
}

} // namespace otpp

#endif // OTPP_DETAIL_REGISTRY_IMPL_HPP
