// The runtime's definitions: every detail header core/runtime.hpp needs, in order.
// Distributed under the Boost Software License, Version 1.0.
#pragma once

// Included at the end of core/runtime.hpp, once the runtime class is
// complete. Each header includes the others it needs (signals <- wait <-
// lifecycle), and opens with an include of core/runtime.hpp outside its
// guard, so any of them may also be included first.
#include <otpp/core/runtime.hpp>

#include <otpp/detail/causal_hooks.hpp>       // causal traces: contexts, spans
#include <otpp/detail/lifecycle.hpp>          // spawn, process_main, finish_process
#include <otpp/detail/registry_impl.hpp>      // register_name, whereis
#include <otpp/detail/runtime_members.hpp>    // runtime threads, run, shutdown, placement
#include <otpp/detail/runtime_statistics.hpp> // statistics, the runtime's metrics
#include <otpp/detail/signals.hpp>            // delivery, signals, die
#include <otpp/detail/wait.hpp>               // drain, yield, block, deadlines, receive_raw
