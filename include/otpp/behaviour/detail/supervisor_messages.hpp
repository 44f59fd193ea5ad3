// What a supervisor keeps per child, and the messages of its dynamic API
// and of delayed restarts.
// Distributed under the Boost Software License, Version 1.0.
#pragma once

#include <otpp/behaviour/supervisor_spec.hpp>
#include <otpp/core/exit_reason.hpp>
#include <otpp/core/metrics.hpp>
#include <otpp/core/pid.hpp>
#include <otpp/core/process.hpp>
#include <otpp/core/runtime.hpp>
#include <otpp/core/trace.hpp>

#include <any>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

namespace otpp {

namespace detail {

struct child {
  child_spec spec;
  pid pid_;
  bool restarting = false;
  std::uint64_t restarts = 0;
  std::uint64_t seq = 0;          // start order (dynamic children)
  std::shared_ptr<std::any> args; // dynamic children: their start arguments
  std::chrono::steady_clock::time_point started{};
  unsigned backoff_level = 0;
  exit_reason last_exit; // why it last ended (a restart's trace event)

  // It was restarted (now `pid_`) by the supervisor named `supervisor`
  // (its spec's name): count it, in the runtime's
  // otpp_supervisor_restarts_total too (unnamed supervisors share the
  // series "unnamed": a pid per label would grow without bound), and emit
  // trace_kind::restart if the supervisor is traced with
  // trace_flags::behaviour.
  void count_restart(const std::string& supervisor) {
    ++restarts;
    this_process::get_runtime()
        .metrics()
        .counter("otpp_supervisor_restarts_total", "Children restarted by a supervisor.",
                 {{"supervisor", supervisor.empty() ? std::string("unnamed") : supervisor}})
        .inc();
    if (this_process::traced(trace_flags::behaviour))
      trace_behaviour(trace_kind::restart, spec.id, {}, pid_, &last_exit);
  }
};

// Messages to the supervisor process.
struct start_child_req {
  child_spec spec;
};
struct start_dynamic_req {
  std::shared_ptr<std::any> args;
};
struct terminate_child_req {
  std::string id;
  pid child; // simple_one_for_one: by pid
};
struct restart_child_req {
  std::string id;
};
struct delete_child_req {
  std::string id;
};
struct which_children_req {};
struct count_children_req {};
struct get_spec_req {};
struct try_again_restart {
  std::string id;
  std::uint64_t dynamic_seq; // simple_one_for_one: which child
  bool counted;              // a backoff delay: the restart was counted already
};
struct supervisor_summary {
  supervision_strategy strategy;
  int intensity;
  std::chrono::steady_clock::duration period;
  std::size_t recent_restarts;
  std::string name;
};

// The state of a supervisor process.

} // namespace detail

} // namespace otpp
