// State machines (gen_statem): start a definition; the pieces (events,
// actions, the definition) come with this header.
// Distributed under the Boost Software License, Version 1.0.
#pragma once

#include <otpp/behaviour/call.hpp>
#include <otpp/behaviour/detail/statem_loop.hpp>
#include <otpp/behaviour/handle.hpp>
#include <otpp/behaviour/start.hpp>
#include <otpp/behaviour/start_family.hpp>
#include <otpp/behaviour/statem_actions.hpp>
#include <otpp/behaviour/statem_definition.hpp>
#include <otpp/behaviour/statem_events.hpp>
#include <otpp/behaviour/sys.hpp>
#include <otpp/core/runtime.hpp>

#include <tuple>
#include <type_traits>
#include <utility>

namespace otpp {

/// A typed handle on a running state machine (see `handle`).
template <class Definition> using statem_ref = handle<Definition>;

namespace detail {
template <statem_definition_type Def> struct loop_of<Def> {
  using type = sm::detail::statem_loop<Def>;
};
} // namespace detail

// try_start, start, start_link, start_monitor, ...: behaviour/start_family.hpp.

} // namespace otpp
