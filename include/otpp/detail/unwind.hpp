// The exception Boost.Context throws to unwind a fiber's stack.
// Distributed under the Boost Software License, Version 1.0.
#pragma once

#include <boost/context/detail/exception.hpp>

namespace otpp::detail {

// Thrown through a killed or abandoned process's stack so its destructors
// run; it must never be swallowed (see otpp::rethrow_if_exit).
using fiber_unwind = boost::context::detail::forced_unwind;

} // namespace otpp::detail
