// Causal traces, the context a message carries from its send to the
// receive that takes it, kept beside the envelope. Included at the end of
// detail/process.hpp (it needs the complete process and envelope).
// Distributed under the Boost Software License, Version 1.0.
#pragma once

#include <otpp/core/span_context.hpp>
#include <otpp/detail/process.hpp>

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <mutex>
#include <unordered_map>

namespace otpp::detail {

// What a message carries: the sender's span and when it was sent.
struct message_context {
  span_context ctx;
  std::uint64_t flow = 0; // unique per message: the flow arrow's id
  process_ref sender;
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

inline void forget_envelope_context(const void* e) noexcept {
  envelope_contexts::instance().forget(e);
}

} // namespace otpp::detail
