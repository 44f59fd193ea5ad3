// The process control block, envelopes and the private mailbox queue.
// Distributed under the Boost Software License, Version 1.0.
#pragma once

#include <otpp/config.hpp>
#include <otpp/core/clock.hpp>
#include <otpp/core/exit_reason.hpp>
#include <otpp/detail/block_cache.hpp>
#include <otpp/detail/causal_state.hpp>
#include <otpp/detail/eh_state.hpp>
#include <otpp/detail/intrusive_stack.hpp>
#include <otpp/detail/keyed_table.hpp>
#include <otpp/detail/sanitizer.hpp>

#include <boost/context/fiber.hpp>
#include <boost/smart_ptr/intrusive_ptr.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <new>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <sys/mman.h>
#include <unistd.h>

namespace otpp {
class runtime;
class remote_endpoint;
} // namespace otpp

namespace otpp::detail {

class scheduler;
struct process;
using process_ref = boost::intrusive_ptr<process>;

// What an envelope carries. Everything a process receives, messages and
// signals alike, travels through one inbox, so signals keep their order
// relative to messages from the same sender.
enum class signal : std::uint8_t {
  message,     // a user message
  down,        // a monitor notification (a message once it passes the monitor table)
  exit,        // exit(pid, reason) from another process
  link_exit,   // the exit signal a linked process sends when it ends
  forced_exit, // runtime shutdown: untrappable, reason in the envelope
  link,        // link request
  unlink,      // unlink request
  monitor,     // monitor request: `from` watches us under `ref`
  demonitor,   // monitor removal
  timeout,     // a receive timer fired (ref = receive generation)
  wake,        // an Asio completion for a waiting process
};

// The name of a type as the compiler spells it (for logs and errors).
template <class T> constexpr std::string_view parse_type_name() noexcept {
#if defined(__clang__) || defined(__GNUC__)
  std::string_view f = __PRETTY_FUNCTION__;
  auto start = f.find("T = ");
  if (start == std::string_view::npos)
    return f;
  start += 4;
  auto end = f.find_first_of(";]", start);
  return f.substr(start, end - start);
#else
  return "?";
#endif
}
// Parsed once, at compile time: a call of the constexpr function where no
// constant is required ran the search at run time (every otpp::call names
// its reply type: 10 % of a 100-client call's profile went to memchr).
template <class T> inline constexpr std::string_view type_name_v = parse_type_name<T>();
template <class T> constexpr std::string_view type_name() noexcept {
  return type_name_v<T>;
}

struct envelope;
template <class T> void destroy_message(envelope* e) noexcept;
template <class T> const void* message_value(const envelope* e) noexcept;

// One per message type; its address is the type test of a selective receive.
// It also frees the type's envelopes (so an envelope needs no pointer of its
// own for that), and finds the value in one (for tracers).
struct type_descriptor {
  std::string_view name;
  void (*destroy)(envelope*) noexcept;
  const void* (*value)(const envelope*) noexcept;
};
template <class T>
inline constexpr type_descriptor type_tag_v{type_name<T>(), &destroy_message<T>, &message_value<T>};

template <class T> const type_descriptor* type_tag() noexcept {
  return &type_tag_v<T>;
}

// Envelope flags: what a message envelope carries besides its value.
enum envelope_flags : std::uint8_t {
  request_flag = 1,    // a request: a `request_header` at offset `origin` (implicit monitor)
  reply_flag = 2,      // a reply: its tag (a std::uint64_t) at offset `origin`
  monitor_cleared = 4, // a reply whose sender already dropped the requester's monitor
  counted_flag = 8,    // counts against its receiver's mailbox limit until received
  causal_flag = 16,    // carries a trace context (envelope_contexts) until taken
};

// Frees the context of an envelope that carried one (causal traces); in
// detail/envelope_contexts.hpp, included at the end of this header.
inline void forget_envelope_context(const void* e) noexcept;

struct envelope {
  // Envelopes (messages and signals alike) come from the per-thread block
  // caches; over-aligned ones from the global allocator.
  static void* operator new(std::size_t size) { return blocks::allocate(size); }
  static void operator delete(void* p, std::size_t size) noexcept { blocks::deallocate(p, size); }
  static void* operator new(std::size_t size, std::align_val_t a) {
    return ::operator new(size, a);
  }
  static void operator delete(void* p, std::size_t size, std::align_val_t a) noexcept {
    static_cast<void>(size);
    ::operator delete(p, a);
  }

  // Frees the envelope and what it carries (and its trace context, if it
  // was never taken: a test of a byte in the line `type` is read from).
  // Always inlined: out of line, the call cost every message 20
  // instructions.
  [[gnu::always_inline]] void destroy() noexcept {
    if ((flags & causal_flag) != 0) [[unlikely]]
      forget_context(this);
    type->destroy(this);
  }
  // Frees an envelope a receive took: its context, if it had one, went to
  // the receiver then (causal_take), so there is nothing else to test.
  void destroy_taken() noexcept { type->destroy(this); }
  [[gnu::cold, gnu::noinline]] static void forget_context(const envelope* e) noexcept {
    forget_envelope_context(e);
  }

  envelope* next = nullptr;
  const type_descriptor* type = nullptr; // a message's type (signals have their own)
  signal kind = signal::message;
  std::uint8_t flags = 0;
  std::uint32_t origin = 0; // byte offset of the request header / reply tag (see flags)
};

template <class T> struct message_envelope final : envelope {
  template <class... Args>
  explicit message_envelope(Args&&... args) : value(std::forward<Args>(args)...) {
    type = type_tag<T>();
  }
  T value;
};

template <class T> void destroy_message(envelope* e) noexcept {
  delete static_cast<message_envelope<T>*>(e);
}
template <class T> const void* message_value(const envelope* e) noexcept {
  return &static_cast<const message_envelope<T>*>(e)->value;
}

struct signal_envelope final : envelope {
  signal_envelope(signal k, process_ref f, exit_reason r = {}, std::uint64_t rf = 0)
      : from(std::move(f)), reason(std::move(r)), ref(rf) {
    kind = k;
    type = &descriptor;
  }
  process_ref from;
  exit_reason reason;
  std::uint64_t ref;

  static void destroy_signal(envelope* e) noexcept { delete static_cast<signal_envelope*>(e); }
  static const void* no_value(const envelope*) noexcept { return nullptr; }
  static constexpr type_descriptor descriptor{"otpp::detail::signal_envelope", &destroy_signal,
                                              &no_value};
};

inline void destroy_chain(envelope* e) noexcept {
  while (e != nullptr) {
    envelope* next = e->next;
    e->destroy();
    e = next;
  }
}

// The private, owner-only FIFO of received messages, with a sentinel head.
struct mailbox_queue {
  envelope head;
  envelope* tail = &head;
  std::atomic<std::size_t> size{0};    // written by the owner, read by introspection
  std::atomic<std::uint64_t> total{0}; // every message that entered it (statistics)

  mailbox_queue() = default;
  mailbox_queue(const mailbox_queue&) = delete;
  mailbox_queue& operator=(const mailbox_queue&) = delete;
  ~mailbox_queue() { clear(); }

  void push_back(envelope* e) noexcept {
    e->next = nullptr;
    tail->next = e;
    tail = e;
    size.store(size.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
    total.store(total.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
  }
  envelope* unlink_after(envelope* prev) noexcept {
    envelope* e = prev->next;
    prev->next = e->next;
    if (tail == e)
      tail = prev;
    size.store(size.load(std::memory_order_relaxed) - 1, std::memory_order_relaxed);
    return e;
  }
  void clear() noexcept {
    destroy_chain(head.next);
    head.next = nullptr;
    tail = &head;
    size.store(0, std::memory_order_relaxed);
  }
};

enum class process_status : std::uint8_t { ready, running, waiting, exited };

// When a suspended process's stack may be parked (process::park_flags).
// Only waits in which nothing but the process itself touches its stack:
// a receive (the sweep parks it once it waited hibernate_after) and
// hibernate (parked at once); never an Asio or blocking-pool wait, whose
// operation may write into buffers on the stack. A process suspended with
// status `waiting` waits in a receive unless `park_not_now` says otherwise
// (yield() suspends it `ready`).
enum park_flag : std::uint8_t {
  park_when_idle = 1, // it has a park_after: a receive it waits in may park (set at spawn)
  park_at_once = 2,   // it hibernates (set around that wait)
  park_not_now = 4,   // it waits on an operation that may write into its stack
};

// Where a process that is not a fiber (a thread using scoped_process) sleeps.
struct foreign_waiter {
  std::mutex mutex;
  std::condition_variable cv;
  bool woken = false;
  // The runtime's virtual clock (runtime_options::virtual_time), or null:
  // the thread holds it while it runs (see virtual_clock::holds).
  virtual_clock* vclock = nullptr;
};

// The body of a process: the user's callable, type-erased.
struct body_base {
  virtual ~body_base() = default;
  virtual void run() = 0;
};
template <class F> struct body_impl final : body_base {
  explicit body_impl(F f) : fn(std::move(f)) {}
  void run() override { fn(); }
  F fn;
};

struct link_entry {
  process_ref other;
};
struct monitor_entry {
  std::uint64_t ref;
  process_ref other;
};
// Links keyed by the other process, monitors by their ref.
inline std::uint64_t link_key_of(const process* p) noexcept {
  return reinterpret_cast<std::uintptr_t>(p);
}
struct link_key {
  std::uint64_t operator()(const link_entry& l) const noexcept {
    return link_key_of(l.other.get());
  }
};
struct monitor_key {
  std::uint64_t operator()(const monitor_entry& m) const noexcept { return m.ref; }
};
using link_table = keyed_table<link_entry, link_key>;
using monitor_table = keyed_table<monitor_entry, monitor_key>;

// What makes a control block the proxy of a process on another node (see
// core/remote.hpp): its inbox is always closed, and `push` hands what it
// refuses to `ops->deliver`, which passes it to the endpoint.
struct remote_ops {
  bool (*deliver)(process* to, envelope* e) noexcept;
  void (*forget)(process* proxy) noexcept; // the last pid to it is gone
  std::string (*describe)(const process& proxy);
};
struct remote_info {
  const remote_ops* ops = nullptr;
  std::shared_ptr<otpp::remote_endpoint> endpoint;
  std::uint64_t key = 0; // the endpoint's name for the process
};

// The process control block. It outlives the process while any pid refers
// to it (a pid stays a valid value after its process died).
//
// Thread ownership: `inbox` and the atomics are shared. Everything else is
// touched only by the owning thread (the scheduler thread the process runs
// on, or the thread of a scoped_process), except the link/monitor tables
// and the name, which introspection reads under `meta`.
struct process {
  std::atomic<std::uint32_t> refs{1};
  std::atomic<process_status> status{process_status::ready};
  std::atomic<bool> trap_exit{false}; // written by the owner, read by introspection
  bool exiting = false;               // an exit is being unwound: do not throw again
  bool finished = false;              // the fiber returned
  bool timed_out = false;
  // Parking (see scheduler::park): when it may be parked (park_flag bits;
  // zero for a process that never parks, which then costs one test of this
  // byte after each switch), and whether its stack is parked now. Owner
  // thread.
  std::uint8_t park_flags = 0;
  bool parked = false;
  bool idle_listed = false; // in an idle list of its scheduler (see park_after)
  std::uint32_t budget = config::default_reductions;
  std::uint64_t id = 0;
  runtime* rt = nullptr;
  // Null for a scoped_process. Changes (under `meta`) only before the first
  // run, when another scheduler steals the process (scheduler::steal).
  scheduler* sched = nullptr;
  std::unique_ptr<foreign_waiter> waiter; // set for a scoped_process

  closable_inbox<envelope> inbox;
  // The mailbox limit (0: none) and its otpp::overflow_policy, set before
  // the process can be sent to; in the inbox's cache line, which a sender
  // writes anyway.
  std::size_t mailbox_limit = 0;
  std::uint8_t overflow = 0;
  // Which events of this process are traced (otpp::trace_flags; 0: none):
  // read on every send and every message taken in. In the line of `box`,
  // which only the owner touches: the first line takes other processes'
  // reference counting, and a read there on every message taken in would
  // miss.
  std::atomic<std::uint16_t> trace_flags{0};
  mailbox_queue box;
  envelope* mark_node = nullptr; // receive mark (see receive.hpp)
  std::uint64_t mark_id = 0;
  std::uint64_t recv_gen = 0;
  std::vector<std::uint64_t> requests; // tags of send_request()s still awaiting a reply
  // The deadline of the receive the process waits in (max: none), and the
  // earliest entry it has in its scheduler's deadline heap (max: none).
  std::chrono::steady_clock::time_point deadline = std::chrono::steady_clock::time_point::max();
  std::chrono::steady_clock::time_point deadline_entry =
      std::chrono::steady_clock::time_point::max();
  // A receive's timeout whose deadline the scheduler has yet to take (see
  // scheduler::add_timeout): linked in its scheduler's list while it waits.
  std::chrono::steady_clock::duration pending_timeout{};
  process* pending_prev = nullptr;
  process* pending_next = nullptr;
  bool timeout_pending = false;
  std::atomic<std::uint64_t> reductions{0};
  std::atomic<std::uint64_t> sent{0}; // messages it sent (statistics), next to `reductions`
  // What the process waits on while it is blocked (this_process::waiting_on;
  // null: a plain receive), the pid number it waits for (0: none), and
  // whether that wait has a timeout. Written by the owner, read by
  // runtime::blockers().
  std::atomic<const char*> wait_what{nullptr};
  std::atomic<std::uint64_t> wait_whom{0};
  std::atomic<bool> wait_timed{false};
  // A bounded mailbox (spawn_options::mailbox_limit, next to the inbox:
  // every send reads it). `queued` counts the
  // counted messages (counted_flag) in the inbox and the mailbox: senders
  // add, the owner takes away as they leave the mailbox.
  std::atomic<std::size_t> queued{0};
  std::atomic<std::uint64_t> dropped{0};
  std::atomic<bool> overflowed{false}; // reported (once)
  std::uint64_t trims = 0;             // drop_oldest passes: a receive's scan restarts

  exit_reason reason; // valid once status == exited (written before it)

  std::unique_ptr<body_base> body;
  boost::context::fiber (*entry)(process*, boost::context::fiber&&) = nullptr; // the fiber's main
  std::size_t stack_size = 0;
  // Its stack once it has one (null before its first run), published by
  // the owner for introspection (stack_resident).
  std::atomic<const char*> stack_low{nullptr};
  std::atomic<std::size_t> stack_bytes{0};
  boost::context::fiber ctx;       // the process's fiber while it is suspended
  boost::context::fiber sched_ctx; // the scheduler's continuation while it runs
  eh_state eh;                     // its exception state while it is suspended
  void* asan_fake_stack = nullptr;
  sanitizer::fiber_info self_stack;
  // While parked: the copy of the used part of its stack (from its saved
  // context up), and its size, also read by introspection (any thread).
  char* parked_copy = nullptr;
  std::atomic<std::uint32_t> parked_bytes{0};
  std::uint32_t idle_list = 0; // see park_after
  // Parked once it has waited this long in a receive, in ns (0: never;
  // spawn_options / runtime_options::hibernate_after). While it may park it
  // is in one of its scheduler's idle lists (the one for this threshold,
  // `idle_list`): the sweep epoch of its last wait, the epoch it was last
  // queued in the list (both compared modulo 2^32), and the links.
  std::int64_t park_after = 0;
  std::uint32_t idle_epoch = 0;
  std::uint32_t idle_queued = 0;
  process* idle_prev = nullptr;
  process* idle_next = nullptr;

  process* next = nullptr; // ready queue link
  process* list_prev = nullptr;
  process* list_next = nullptr;

  spinlock meta;
  link_table links;
  monitor_table monitors;     // processes this one monitors
  monitor_table monitored_by; // processes monitoring this one
  std::string name;
  std::string label;              // this_process::set_label ("server math"): reports, overflow
  std::atomic<bool> named{false}; // set before a registration checks liveness

  std::unique_ptr<remote_info> remote; // set (before it is shared) for a proxy
  // Its open spans (causal traces), while it has any; then its trace_flags
  // have causal_bit. Only the process touches it.
  std::unique_ptr<causal_state> causal;

  process() = default;
  process(const process&) = delete;
  process& operator=(const process&) = delete;
  ~process() {
    if (remote)
      remote->ops->forget(this);
  }

  bool is_foreign() const noexcept { return sched == nullptr; }
};

// Bytes of `p`'s stack resident in memory (mincore): the most that it, or
// an earlier process that had the same pooled stack, has touched. 0 before
// it has a stack. Any thread.
inline std::size_t stack_resident(const process& p) noexcept {
  const char* low = p.stack_low.load(std::memory_order_acquire);
  if (low == nullptr)
    return 0;
  const auto page = static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
  const std::size_t bytes =
      (p.stack_bytes.load(std::memory_order_relaxed) + page - 1) / page * page;
  constexpr std::size_t max_pages = 512; // 2 MiB of 4 KiB pages at a time
  unsigned char in[max_pages];
  std::size_t resident = 0;
  for (std::size_t off = 0; off < bytes; off += max_pages * page) {
    const std::size_t len = std::min(bytes - off, max_pages * page);
    if (::mincore(const_cast<char*>(low + off), len, in) != 0)
      return 0;
    for (std::size_t i = 0; i < len / page; ++i)
      resident += (in[i] & 1u) != 0 ? page : 0;
  }
  return resident;
}

// Unlink and return the envelope after `prev` in `p`'s mailbox. A receive
// mark on that envelope moves back to `prev`, so a later
// receive(mark, ...) still starts right after what was there when the mark
// was taken. The one way envelopes leave the mailbox before it is cleared.
inline envelope* unlink_message(process& p, envelope* prev) noexcept {
  if (p.mark_node == prev->next)
    p.mark_node = prev;
  envelope* e = p.box.unlink_after(prev);
  if ((e->flags & counted_flag) != 0) {
    e->flags = static_cast<std::uint8_t>(e->flags & ~counted_flag);
    p.queued.fetch_sub(1, std::memory_order_relaxed);
  }
  return e;
}

inline void intrusive_ptr_add_ref(process* p) noexcept {
  p->refs.fetch_add(1, std::memory_order_relaxed);
}
inline void intrusive_ptr_release(process* p) noexcept {
  if (p->refs.fetch_sub(1, std::memory_order_acq_rel) == 1)
    delete p;
}

// The process running on this thread (a fiber, or a scoped_process).
inline thread_local process* current_process = nullptr;

} // namespace otpp::detail

#include <otpp/detail/envelope_contexts.hpp> // IWYU pragma: export
