// The umbrella header: all of otpp's public API.
// Distributed under the Boost Software License, Version 1.0.
#pragma once

#include <otpp/config.hpp>
#include <otpp/fwd.hpp>
#include <otpp/version.hpp>

#include <otpp/behaviour/async_call.hpp>
#include <otpp/behaviour/call.hpp>
#include <otpp/behaviour/call_chan.hpp>
#include <otpp/behaviour/control_channel.hpp>
#include <otpp/behaviour/event_manager.hpp>
#include <otpp/behaviour/handle.hpp>
#include <otpp/behaviour/pg.hpp>
#include <otpp/behaviour/pool.hpp>
#include <otpp/behaviour/report.hpp>
#include <otpp/behaviour/scatter.hpp>
#include <otpp/behaviour/server.hpp>
#include <otpp/behaviour/start.hpp>
#include <otpp/behaviour/supervision_tree.hpp>
#include <otpp/behaviour/supervisor.hpp>
#include <otpp/behaviour/sys.hpp>
#include <otpp/behaviour/task.hpp>
#include <otpp/behaviour/task_stream.hpp>
#include <otpp/behaviour/task_supervisor.hpp>
#include <otpp/behaviour/tree_diff.hpp>

#include <otpp/core/any_message.hpp>
#include <otpp/core/asio.hpp>
#include <otpp/core/blocking.hpp>
#include <otpp/core/causal.hpp>
#include <otpp/core/channel.hpp>
#include <otpp/core/clock.hpp>
#include <otpp/core/duration.hpp>
#include <otpp/core/exit_reason.hpp>
#include <otpp/core/link.hpp>
#include <otpp/core/message.hpp>
#include <otpp/core/metrics.hpp>
#include <otpp/core/monitor.hpp>
#include <otpp/core/pid.hpp>
#include <otpp/core/process.hpp>
#include <otpp/core/receive.hpp>
#include <otpp/core/registry.hpp>
#include <otpp/core/remote.hpp>
#include <otpp/core/report.hpp>
#include <otpp/core/request.hpp>
#include <otpp/core/runtime.hpp>
#include <otpp/core/statistics.hpp>
#include <otpp/core/timer.hpp>
#include <otpp/core/trace.hpp>
#include <otpp/core/trace_event.hpp>
#include <otpp/core/trace_export.hpp>
#include <otpp/io/file.hpp>
