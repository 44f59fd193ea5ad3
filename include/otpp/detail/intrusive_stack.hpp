// Lock-free multi-producer single-consumer queues built on an atomic LIFO.
// Distributed under the Boost Software License, Version 1.0.
#pragma once

#include <atomic>
#include <cstdint>

namespace otpp::detail {

// Reverse a LIFO chain into FIFO order.
template <class Node> Node* reverse_chain(Node* n) noexcept {
  Node* out = nullptr;
  while (n != nullptr) {
    Node* next = n->next;
    n->next = out;
    out = n;
    n = next;
  }
  return out;
}

// Any number of producers push; one consumer takes everything at once, in
// push order. `Node` has a plain `Node* next`.
template <class Node> class mpsc_stack {
public:
  // Returns true if the stack was empty before (the consumer may need a wake-up).
  bool push(Node* n) noexcept {
    Node* h = head_.load(std::memory_order_relaxed);
    do {
      n->next = h;
    } while (
        !head_.compare_exchange_weak(h, n, std::memory_order_seq_cst, std::memory_order_relaxed));
    return h == nullptr;
  }
  Node* take_all() noexcept {
    if (head_.load(std::memory_order_relaxed) == nullptr)
      return nullptr;
    return reverse_chain(head_.exchange(nullptr, std::memory_order_acquire));
  }
  bool empty() const noexcept { return head_.load(std::memory_order_seq_cst) == nullptr; }

private:
  std::atomic<Node*> head_{nullptr};
};

// A process's inbox: mpsc_stack plus two tags in the head pointer, after
// CAF's lifo_inbox. `blocked`: empty, and the reader waits, so the producer
// whose push replaces the tag must wake it (exactly one does). `closed`: the
// process exited; pushes fail and the producer keeps its node.
template <class Node> class closable_inbox {
public:
  enum class push_result { ok, woke_reader, closed };

  push_result push(Node* n) noexcept {
    Node* h = head_.load(std::memory_order_relaxed);
    for (;;) {
      if (h == closed_tag())
        return push_result::closed;
      n->next = (h == blocked_tag()) ? nullptr : h;
      if (head_.compare_exchange_weak(h, n, std::memory_order_seq_cst, std::memory_order_relaxed))
        return h == blocked_tag() ? push_result::woke_reader : push_result::ok;
    }
  }

  // Consumer: everything pushed so far, FIFO; null when empty.
  Node* take_all() noexcept {
    Node* h = head_.load(std::memory_order_acquire);
    if (is_tag(h))
      return nullptr;
    h = head_.exchange(nullptr, std::memory_order_acquire);
    return reverse_chain(h);
  }

  // Consumer: switch empty -> blocked. False if something arrived meanwhile.
  bool try_block() noexcept {
    Node* expected = nullptr;
    return head_.compare_exchange_strong(expected, blocked_tag(), std::memory_order_seq_cst);
  }

  // Consumer: switch blocked -> empty (giving up a wait). False if a producer
  // already replaced the tag: that producer is waking the reader.
  bool try_unblock() noexcept {
    Node* expected = blocked_tag();
    return head_.compare_exchange_strong(expected, nullptr, std::memory_order_seq_cst);
  }

  // Consumer: refuse all later pushes; returns what was left, FIFO.
  Node* close() noexcept {
    Node* h = head_.exchange(closed_tag(), std::memory_order_acq_rel);
    return is_tag(h) ? nullptr : reverse_chain(h);
  }

private:
  static Node* blocked_tag() noexcept { return reinterpret_cast<Node*>(std::uintptr_t{1}); }
  static Node* closed_tag() noexcept { return reinterpret_cast<Node*>(std::uintptr_t{2}); }
  static bool is_tag(Node* n) noexcept {
    return n == nullptr || n == blocked_tag() || n == closed_tag();
  }

  std::atomic<Node*> head_{nullptr};
};

// A tiny spin lock for rarely contended metadata (introspection vs. owner).
class spinlock {
public:
  void lock() noexcept {
    while (flag_.exchange(true, std::memory_order_acquire)) {
      while (flag_.load(std::memory_order_relaxed)) {
      }
    }
  }
  void unlock() noexcept { flag_.store(false, std::memory_order_release); }

private:
  std::atomic<bool> flag_{false};
};

} // namespace otpp::detail
