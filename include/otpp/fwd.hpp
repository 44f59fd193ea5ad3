// Forward declarations of otpp's public types.
// Distributed under the Boost Software License, Version 1.0.
#pragma once

namespace otpp {
class pid;
class ref;
class exit_reason;
class runtime;
class scoped_process;
class timer_ref;
struct runtime_options;
struct spawn_options;
struct down;
struct exit_message;
struct process_info;
class process_exit;
} // namespace otpp
