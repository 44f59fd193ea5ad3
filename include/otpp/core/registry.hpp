// Registered names: register_name, unregister_name, whereis, send by name.
// Distributed under the Boost Software License, Version 1.0.
#pragma once

#include <otpp/core/pid.hpp>
#include <otpp/core/process.hpp>
#include <otpp/core/runtime.hpp>

#include <fmt/format.h>

#include <stdexcept>
#include <string>
#include <utility>

namespace otpp {

/// Register `name` for `p` in the calling process's runtime. The name is
/// freed when `p` ends.
/// @par Errors
/// `std::invalid_argument` if the name is taken or empty, `p` is not alive
/// or already has a name; `std::logic_error` outside a process (use
/// `runtime::register_name` there).
/// @par OTP
/// `register/2` (`register` is a C++ keyword).
inline void register_name(const std::string& name, const pid& p) {
  detail::self_or_throw("otpp::register_name").rt->register_name(name, p);
}

/// Remove the registration of `name`.
/// @par Errors
/// `std::invalid_argument` if `name` is not registered.
inline void unregister_name(const std::string& name) {
  detail::self_or_throw("otpp::unregister_name").rt->unregister_name(name);
}

/// The process registered as `name`, or a null pid.
inline pid whereis(const std::string& name) {
  return detail::self_or_throw("otpp::whereis").rt->whereis(name);
}

/// Send `msg` to the process registered as `name`.
/// @par Errors
/// `std::invalid_argument` if no process has that name (Erlang's badarg).
template <class T> void send(const std::string& name, T&& msg) {
  pid to = whereis(name);
  if (!to)
    throw std::invalid_argument(fmt::format("otpp::send: no process is registered as '{}'", name));
  send(to, std::forward<T>(msg));
}

} // namespace otpp
