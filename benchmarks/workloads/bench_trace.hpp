// Tracing on in a workload benchmark, to measure what it costs:
// OTPP_TRACE=all (or a sum of trace_flags bits, e.g. 3 for send + receive)
// installs a tracer that counts events (one relaxed atomic add each) and
// traces every process spawned from then on with those flags.
// OTPP_TIMINGS=1 turns on the runtime's timing metrics
// (runtime::enable_timing_metrics: scheduler wall time, call times).
// OTPP_CAUSAL=1 installs the same counting tracer, and the workload's
// client opens a trace_span for its lifetime (causal_span): every message
// then carries a context, every message taken is a flow event and begins
// a span.
// Distributed under the Boost Software License, Version 1.0.
#pragma once

#include <otpp/core/causal.hpp>
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
    if (const char* c = std::getenv("OTPP_CAUSAL"); c != nullptr && *c == '1') {
      counter_ = std::make_shared<event_counter>();
      rt_.set_tracer(counter_);
    }
    const char* s = std::getenv("OTPP_TRACE");
    if (s == nullptr || *s == '\0')
      return;
    const auto flags = std::string_view(s) == "all"
                           ? otpp::trace_flags::all
                           : static_cast<otpp::trace_flags::type>(std::strtoul(s, nullptr, 0));
    if (!counter_) {
      counter_ = std::make_shared<event_counter>();
      rt_.set_tracer(counter_);
    }
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

// With OTPP_CAUSAL=1, a span the calling process holds until the result is
// destroyed (the root of a causal trace); else nothing.
inline std::unique_ptr<otpp::trace_span> causal_span(std::string_view name) {
  const char* c = std::getenv("OTPP_CAUSAL");
  if (c == nullptr || *c != '1')
    return nullptr;
  return std::make_unique<otpp::trace_span>(name);
}

} // namespace bench
