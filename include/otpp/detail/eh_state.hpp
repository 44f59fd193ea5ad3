// Per-process C++ exception-handling state.
// Distributed under the Boost Software License, Version 1.0.
#pragma once

#include <cxxabi.h>

namespace otpp::detail {

// The C++ runtime keeps the stack of caught exceptions and the count of
// uncaught ones per thread (`__cxa_eh_globals`). Processes of one scheduler
// share its thread, so a process that suspends inside a catch block (or while
// unwinding) would otherwise see, and free, another process's exceptions.
// Every switch swaps this state in and out with the process's own copy.
//
// The layout is the Itanium C++ ABI's (libstdc++ and libc++abi alike on
// x86-64 and AArch64): the caught-exception chain, then the uncaught count.
struct eh_state {
  void* caught = nullptr;
  unsigned int uncaught = 0;
};

// Install `next` as this thread's exception state; return the previous one.
inline eh_state swap_eh_state(eh_state next) noexcept {
  auto* globals = reinterpret_cast<eh_state*>(abi::__cxa_get_globals());
  eh_state previous = *globals;
  *globals = next;
  return previous;
}

} // namespace otpp::detail
