// Tracing on in a workload benchmark, to measure what it costs:
// OTPP_TRACE=all (or a sum of trace_flags bits, e.g. 3 for send + receive)
// installs a tracer that counts events (one relaxed atomic add each) and
// traces every process spawned from then on with those flags.
// OTPP_TIMINGS=1 turns on the runtime's timing metrics
// (runtime::enable_timing_metrics: scheduler wall time, call times).
// Distributed under the Boost Software License, Version 1.0.
#pragma once

#include <otpp/core/runtime.hpp>
#include <otpp/core/trace.hpp>

#include <fmt/format.h>

#include <atomic>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string_view>

namespace bench {

struct event_counter final : otpp::tracer {
  void on_event(const otpp::trace_event&) override { n.fetch_add(1, std::memory_order_relaxed); }
  std::atomic<std::uint64_t> n{0};
};

// Turns tracing on as OTPP_TRACE says; on destruction prints how many
// events the tracer saw (to stderr, so result parsers do not see it).
class trace_from_env {
public:
  explicit trace_from_env(otpp::runtime& rt) : rt_(rt) {
    if (const char* t = std::getenv("OTPP_TIMINGS"); t != nullptr && *t == '1')
      rt_.enable_timing_metrics();
    const char* s = std::getenv("OTPP_TRACE");
    if (s == nullptr || *s == '\0')
      return;
    const auto flags = std::string_view(s) == "all"
                           ? otpp::trace_flags::all
                           : static_cast<otpp::trace_flags::type>(std::strtoul(s, nullptr, 0));
    counter_ = std::make_shared<event_counter>();
    rt_.set_tracer(counter_);
    rt_.trace_new_processes(flags);
  }
  trace_from_env(const trace_from_env&) = delete;
  trace_from_env& operator=(const trace_from_env&) = delete;
  ~trace_from_env() {
    if (!counter_)
      return;
    rt_.trace_new_processes(otpp::trace_flags::none);
    rt_.set_tracer(nullptr);
    fmt::print(stderr, "trace events: {}\n", counter_->n.load());
  }

private:
  otpp::runtime& rt_;
  std::shared_ptr<event_counter> counter_;
};

} // namespace bench
