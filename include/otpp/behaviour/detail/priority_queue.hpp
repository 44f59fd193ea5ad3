// The queue of a prioritised server: messages taken from the mailbox,
// highest priority first, arrival order within one priority.
// Distributed under the Boost Software License, Version 1.0.
#pragma once

#include <otpp/core/any_message.hpp>

#include <cstdint>
#include <queue>
#include <utility>
#include <vector>

namespace otpp::detail {

class priority_queue {
public:
  bool empty() const noexcept { return heap_.empty(); }
  std::size_t size() const noexcept { return heap_.size(); }
  void push(any_message& m, int priority) { heap_.push(entry{priority, seq_++, std::move(m)}); }
  any_message pop() {
    // top() is const: the message moves out through a const_cast of the
    // entry about to be popped (its key fields are untouched).
    any_message m = std::move(const_cast<entry&>(heap_.top()).message);
    heap_.pop();
    return m;
  }

private:
  struct entry {
    int priority;
    std::uint64_t seq;
    any_message message;
  };
  struct later {
    bool operator()(const entry& a, const entry& b) const noexcept {
      return a.priority != b.priority ? a.priority < b.priority : a.seq > b.seq;
    }
  };
  std::priority_queue<entry, std::vector<entry>, later> heap_;
  std::uint64_t seq_ = 0;
};

} // namespace otpp::detail
