// Causal traces, the state: the spans a process has open, and the context
// a message carries from its send to the receive that takes it. The hooks
// that use them are in detail/causal_hooks.hpp.
// Distributed under the Boost Software License, Version 1.0.
#pragma once

#include <otpp/core/span_context.hpp>

#include <boost/smart_ptr/intrusive_ptr.hpp>

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

namespace otpp::detail {

struct process;
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

// What a message carries: the sender's span and when it was sent.
struct message_context {
  span_context ctx;
  std::uint64_t flow = 0; // unique per message: the flow arrow's id
  boost::intrusive_ptr<process> sender;
  std::chrono::steady_clock::time_point sent;
};

// Contexts of messages in flight, by envelope address (an envelope has no
// room for one, and only traced messages need it): sharded maps under
// mutexes, touched only when a message carries a context. An envelope
// flagged `causal_flag` has an entry; taking it or destroying it removes it.
class envelope_contexts {
public:
  // Never destroyed: an envelope freed during static destruction (a
  // runtime in a static) may still look itself up.
  static envelope_contexts& instance() {
    static envelope_contexts* table = new envelope_contexts;
    return *table;
  }
  void put(const void* e, const message_context& c) {
    shard& s = shard_of(e);
    std::lock_guard lock(s.mutex);
    s.map[e] = c;
  }
  bool take(const void* e, message_context& out) {
    shard& s = shard_of(e);
    std::lock_guard lock(s.mutex);
    auto it = s.map.find(e);
    if (it == s.map.end())
      return false;
    out = it->second;
    s.map.erase(it);
    return true;
  }
  void forget(const void* e) noexcept {
    shard& s = shard_of(e);
    std::lock_guard lock(s.mutex);
    s.map.erase(e);
  }
  std::size_t size() {
    std::size_t n = 0;
    for (shard& s : shards_) {
      std::lock_guard lock(s.mutex);
      n += s.map.size();
    }
    return n;
  }

private:
  struct shard {
    std::mutex mutex;
    std::unordered_map<const void*, message_context> map;
  };
  shard& shard_of(const void* e) noexcept {
    // Envelopes are 16-byte aligned blocks: skip the low bits.
    return shards_[(std::hash<const void*>{}(e) >> 4) % shards_.size()];
  }
  std::array<shard, 16> shards_;
};

} // namespace otpp::detail
