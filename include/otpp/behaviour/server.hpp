// Managed processes (gen_server): start a server definition; the pieces
// (definition, actions, init results, calls, sys) come with this header.
// Distributed under the Boost Software License, Version 1.0.
#pragma once

#include <otpp/behaviour/call.hpp>
#include <otpp/behaviour/call_ref.hpp>
#include <otpp/behaviour/call_result.hpp>
#include <otpp/behaviour/detail/server_loop.hpp>
#include <otpp/behaviour/handle.hpp>
#include <otpp/behaviour/pending_call.hpp>
#include <otpp/behaviour/server_action.hpp>
#include <otpp/behaviour/server_definition.hpp>
#include <otpp/behaviour/server_init.hpp>
#include <otpp/behaviour/start.hpp>
#include <otpp/behaviour/start_family.hpp>
#include <otpp/behaviour/sys.hpp>
#include <otpp/behaviour/unhandled_policy.hpp>
#include <otpp/core/report.hpp>
#include <otpp/core/runtime.hpp>

#include <tuple>
#include <type_traits>
#include <utility>

namespace otpp {

/// A typed handle on a running server: `call` and `cast` through it check
/// at compile time that `Definition` handles the message type, and know the
/// reply type (see `handle`).
template <class Definition> using server_ref = handle<Definition>;

namespace detail {
template <server_definition_type Def> struct loop_of<Def> { using type = server_loop<Def>; };
} // namespace detail

// try_start, start, start_link, start_monitor, ...: behaviour/start_family.hpp.

} // namespace otpp
