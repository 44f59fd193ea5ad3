// Causal traces, the state of a process: the spans it has open. What a
// message carries is in detail/envelope_contexts.hpp; the hooks that use
// both are in detail/causal_hooks.hpp.
// Distributed under the Boost Software License, Version 1.0.
#pragma once

#include <otpp/core/span_context.hpp>

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

namespace otpp::detail {

struct type_descriptor;

// How a span began: by taking a message (ends when the process takes its
// next message that is not a reply), by taking a request (the same), or by
// a trace_span (ends when that object does).
enum class span_origin : std::uint8_t { message, request, user };

struct open_span {
  span_context ctx;
  std::uint64_t parent = 0; // the parent span's id (0: a root)
  std::chrono::steady_clock::time_point start;
  // When the process last went idle in this span (max: it has not): a span
  // begun by a message ends there if the process takes new work next.
  std::chrono::steady_clock::time_point idle_since = std::chrono::steady_clock::time_point::max();
  const type_descriptor* type = nullptr; // the message it began with (none: a trace_span)
  std::string name;                      // a trace_span's name
  span_origin origin = span_origin::message;
};

// A process's open spans, innermost last. Only the process touches it.
struct causal_state {
  std::vector<open_span> spans;
};

} // namespace otpp::detail
