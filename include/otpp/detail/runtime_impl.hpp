// The process life cycle: delivery, signal handling, waiting, exit.
// Distributed under the Boost Software License, Version 1.0.
#pragma once

// Included at the end of core/runtime.hpp.
#include <otpp/core/message.hpp>
#include <otpp/core/runtime.hpp>

#include <boost/asio/steady_timer.hpp>

#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <exception>
#include <mutex>
#include <optional>

namespace otpp::detail {

// ---------------------------------------------------------------------------
// Delivery
// ---------------------------------------------------------------------------

// Make a process that waits on its inbox run again. Any thread.
inline void wake(process* p) noexcept {
  if (p->waiter) {
    std::lock_guard lock(p->waiter->mutex);
    p->waiter->woken = true;
    p->waiter->cv.notify_one();
    return;
  }
  p->status.store(process_status::ready, std::memory_order_relaxed);
  p->sched->schedule(p);
}

// Push `e` into `to`'s inbox. False if `to` has ended: `e` is still the caller's.
inline bool push(process* to, envelope* e) noexcept {
  switch (to->inbox.push(e)) {
  case closable_inbox<envelope>::push_result::ok:
    return true;
  case closable_inbox<envelope>::push_result::woke_reader:
    wake(to);
    return true;
  case closable_inbox<envelope>::push_result::closed:
    return false;
  }
  return false;
}

inline void push_or_drop(process* to, envelope* e) noexcept {
  if (!push(to, e))
    e->destroy();
}

inline void send_signal(process* to, signal k, process_ref from, exit_reason r = {},
                        std::uint64_t ref = 0) {
  push_or_drop(to, new signal_envelope(k, std::move(from), std::move(r), ref));
}

inline void send_down(process* to, std::uint64_t ref, process_ref who, exit_reason r) {
  auto* e = new message_envelope<down>(down{otpp::ref(ref), pid(std::move(who)), std::move(r)});
  e->kind = signal::down;
  push_or_drop(to, e);
}

template <class T> void post_message(process* to, T&& msg) {
  push_or_drop(to, new message_envelope<std::decay_t<T>>(std::forward<T>(msg)));
}

// ---------------------------------------------------------------------------
// Owner-side tables (links, monitors); writes under `meta` for readers.
// ---------------------------------------------------------------------------

inline bool has_link(process& p, process* other) noexcept {
  return std::any_of(p.links.begin(), p.links.end(),
                     [&](const link_entry& l) { return l.other.get() == other; });
}
inline void add_link(process& p, process_ref other) {
  if (other.get() == &p || has_link(p, other.get()))
    return;
  std::lock_guard lock(p.meta);
  p.links.push_back({std::move(other)});
}
inline bool remove_link(process& p, process* other) {
  auto it = std::find_if(p.links.begin(), p.links.end(),
                         [&](const link_entry& l) { return l.other.get() == other; });
  if (it == p.links.end())
    return false;
  std::lock_guard lock(p.meta);
  *it = std::move(p.links.back()); // the order of links does not matter
  p.links.pop_back();
  return true;
}
inline std::optional<monitor_entry> take_monitor(std::vector<monitor_entry>& table, spinlock& meta,
                                                 std::uint64_t ref) {
  auto it = std::find_if(table.begin(), table.end(),
                         [&](const monitor_entry& m) { return m.ref == ref; });
  if (it == table.end())
    return std::nullopt;
  std::lock_guard lock(meta);
  monitor_entry out = std::move(*it);
  *it = std::move(table.back()); // the order of monitors does not matter
  table.pop_back();
  return out;
}

// ---------------------------------------------------------------------------
// Signals
// ---------------------------------------------------------------------------

inline void append_message(process& p, envelope* e) noexcept {
  p.box.push_back(e);
}

// The reply_to of a request envelope / the tag of a reply envelope.
inline reply_to& request_origin(envelope* e) noexcept {
  return *reinterpret_cast<reply_to*>(reinterpret_cast<char*>(e) + e->origin);
}
inline std::uint64_t reply_tag(const envelope* e) noexcept {
  return reinterpret_cast<const otpp::ref*>(reinterpret_cast<const char*>(e) + e->origin)->value();
}

// A request arriving: the requester now monitors us (one envelope for
// monitor + message). A reply arriving: delivered only if its request is
// still pending (the requester did not give up), which also ends the
// request's monitor. False: drop it.
inline bool accept_tagged(process& p, envelope* e) {
  if ((e->flags & request_flag) != 0) {
    reply_to& from = request_origin(e);
    std::lock_guard lock(p.meta);
    p.monitored_by.push_back({from.tag.value(), from.pid.ref_ptr()});
    return true;
  }
  std::uint64_t tag = reply_tag(e);
  auto it = std::find(p.requests.begin(), p.requests.end(), tag);
  if (it == p.requests.end())
    return false; // a late reply: its requester gave up
  *it = p.requests.back();
  p.requests.pop_back();
  auto m = take_monitor(p.monitors, p.meta, tag);
  if (m && m->other && (e->flags & monitor_cleared) == 0)
    send_signal(m->other.get(), signal::demonitor, process_ref(&p), {}, tag);
  return true;
}

inline void append_exit_message(process& p, process_ref from, exit_reason r) {
  append_message(
      p, new message_envelope<exit_message>(exit_message{pid(std::move(from)), std::move(r)}));
}

// Apply one envelope from the inbox. An exit the process must die of is
// recorded in `die` (the first one wins); the caller throws after the batch.
inline void handle(process& p, envelope* e, std::optional<exit_reason>& die) {
  auto set_die = [&](exit_reason r) {
    if (!die)
      die = std::move(r);
  };
  if (e->kind == signal::message) {
    if (e->flags != 0 && !accept_tagged(p, e))
      e->destroy();
    else
      append_message(p, e);
    return;
  }
  if (e->kind == signal::down) {
    auto* m = static_cast<message_envelope<down>*>(e);
    if (take_monitor(p.monitors, p.meta, m->value.monitor.value())) {
      e->kind = signal::message;
      append_message(p, e);
    } else {
      e->destroy(); // demonitored meanwhile: never delivered
    }
    return;
  }
  auto* s = static_cast<signal_envelope*>(e);
  switch (s->kind) {
  case signal::exit:
    if (s->reason.which() == exit_reason::kind::kill)
      set_die(exit_reason::killed());
    else if (p.trap_exit.load(std::memory_order_relaxed))
      append_exit_message(p, s->from, s->reason);
    else if (s->reason.is_normal()) {
      if (s->from.get() == &p)
        set_die(exit_reason::normal());
    } else
      set_die(s->reason);
    break;
  case signal::link_exit:
    if (!remove_link(p, s->from.get()))
      break; // unlinked meanwhile
    if (p.trap_exit.load(std::memory_order_relaxed))
      append_exit_message(p, s->from, s->reason);
    else if (!s->reason.is_normal())
      set_die(s->reason);
    break;
  case signal::forced_exit:
    set_die(s->reason);
    break;
  case signal::link:
    add_link(p, s->from);
    break;
  case signal::unlink:
    remove_link(p, s->from.get());
    break;
  case signal::monitor: {
    std::lock_guard lock(p.meta);
    p.monitored_by.push_back({s->ref, s->from});
    break;
  }
  case signal::demonitor:
    take_monitor(p.monitored_by, p.meta, s->ref);
    break;
  case signal::timeout:
    if (s->ref == p.recv_gen)
      p.timed_out = true;
    break;
  default:
    break; // wake: the waiter checks its own state
  }
  s->destroy();
}

// End the calling process with `r` (throws process_exit).
[[noreturn]] inline void die(process& p, exit_reason r) {
  p.reason = r;
  p.exiting = true;
  throw process_exit(std::move(r));
}

// Move everything from the inbox into the mailbox, applying signals.
// Throws process_exit if a signal ends the process.
inline void drain(process& p) {
  envelope* chain = p.inbox.take_all();
  if (chain == nullptr)
    return;
  std::optional<exit_reason> dying;
  while (chain != nullptr) {
    envelope* next = chain->next;
    handle(p, chain, dying);
    chain = next;
  }
  if (dying && !p.exiting)
    die(p, std::move(*dying));
}

// A process that swallowed its process_exit is made to exit again.
inline void check_exiting(process& p) {
  if (p.exiting && std::uncaught_exceptions() == 0)
    throw process_exit(p.reason);
}

// ---------------------------------------------------------------------------
// Waiting
// ---------------------------------------------------------------------------

// Let the other ready processes of this scheduler run first.
inline void reschedule(process& p) noexcept {
  p.budget = p.rt->options().reductions;
  if (p.is_foreign())
    return;
  p.status.store(process_status::ready, std::memory_order_relaxed);
  p.sched->push_local(&p);
  p.sched->suspend(p);
}

// this_process::yield(): reschedule, then apply signals (may end the process).
inline void yield_now(process& p) {
  check_exiting(p);
  reschedule(p);
  drain(p);
}

// One reduction; reschedules when the budget is spent. Never throws, so
// `send` is safe in destructors: exit signals wait for the next receive or
// yield().
inline void count_reduction(process& p) noexcept {
  p.reductions.store(p.reductions.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
  if (--p.budget == 0)
    reschedule(p);
}

// Sleep until the inbox is not empty. Precondition: it was drained.
// Returns false only for a foreign process whose deadline passed.
inline bool block(process& p, const std::chrono::steady_clock::time_point* deadline = nullptr) {
  p.status.store(process_status::waiting, std::memory_order_relaxed);
  if (!p.inbox.try_block()) {
    p.status.store(process_status::running, std::memory_order_relaxed);
    return true;
  }
  if (p.is_foreign()) {
    foreign_waiter& w = *p.waiter;
    std::unique_lock lock(w.mutex);
    auto woken = [&] { return w.woken; };
    if (deadline != nullptr) {
      if (!w.cv.wait_until(lock, *deadline, woken) && p.inbox.try_unblock()) {
        p.status.store(process_status::running, std::memory_order_relaxed);
        return false;
      }
    }
    w.cv.wait(lock, woken); // a producer replaced the tag: its wake-up is coming
    w.woken = false;
    p.status.store(process_status::running, std::memory_order_relaxed);
    return true;
  }
  p.sched->suspend(p);
  return true;
}

// Return the pages of `p`'s stack below `frame` (the caller's frame, with two
// pages of margin) to the kernel; they read as zeros when touched again.
inline void release_stack_below(process& p, void* frame) noexcept {
  const auto page = static_cast<std::uintptr_t>(::sysconf(_SC_PAGESIZE));
  auto low = reinterpret_cast<std::uintptr_t>(p.self_stack.stack_bottom);
  if (low == 0)
    return;
  if (p.rt->options().guard_pages)
    low += page;
  auto high = (reinterpret_cast<std::uintptr_t>(frame) & ~(page - 1));
  if (high < low + 3 * page)
    return;
  high -= 2 * page; // room for the frames of this call and the switch that follows
  ::madvise(reinterpret_cast<void*>(low), high - low, MADV_DONTNEED);
}

// ---------------------------------------------------------------------------
// Receive deadlines (a heap per scheduler; see scheduler::add_deadline)
// ---------------------------------------------------------------------------

inline void scheduler::add_deadline(process& p, std::chrono::steady_clock::time_point at) {
  p.deadline = at;
  if (at >= p.deadline_entry)
    return;
  insert_deadline(p, at);
}

inline void scheduler::insert_deadline(process& p, std::chrono::steady_clock::time_point at) {
  p.deadline_entry = at;
  deadlines_.push_back({at, process_ref(&p)});
  std::push_heap(deadlines_.begin(), deadlines_.end(), later);
  if (at < armed_)
    arm(at);
}
inline void scheduler::arm(std::chrono::steady_clock::time_point at) {
  armed_ = at;
  deadline_timer_.expires_at(at);
  deadline_timer_.async_wait([this](const boost::system::error_code& ec) {
    if (!ec)
      expire_deadlines();
  });
}

inline void scheduler::expire_deadlines() {
  using clock = std::chrono::steady_clock;
  armed_ = clock::time_point::max();
  const auto now = clock::now();
  while (!deadlines_.empty() && deadlines_.front().at <= now) {
    std::pop_heap(deadlines_.begin(), deadlines_.end(), later);
    deadline_entry e = std::move(deadlines_.back());
    deadlines_.pop_back();
    process& p = *e.p;
    if (p.deadline_entry == e.at)
      p.deadline_entry = clock::time_point::max();
    if (p.deadline == clock::time_point::max())
      continue; // not waiting with a deadline (any more)
    if (p.deadline <= now) {
      p.deadline = clock::time_point::max();
      send_signal(&p, signal::timeout, nullptr, {}, p.recv_gen);
    } else if (p.deadline < p.deadline_entry) {
      insert_deadline(p, p.deadline); // waits again, with a later deadline
    }
  }
  if (!deadlines_.empty() && deadlines_.front().at < armed_)
    arm(deadlines_.front().at);
}

// Decides whether a mailbox entry matches a receive: the index of the
// handler that takes it, or -1. Type-erased so the wait loop is not a template.
struct matcher {
  void* ctx;
  int (*fn)(void* ctx, envelope& e);
};

using clock = std::chrono::steady_clock;

// The selective receive: find, unlink and return the first envelope after
// `start` that `m` accepts (with the handler index), or {nullptr, -1} when
// the deadline passes. Unmatched envelopes stay in order. While waiting only
// new arrivals are examined.
// The deadline `timeout` from now; never earlier than `timeout` from now.
// Long timeouts read the coarse clock (a few ns, where the precise one costs
// tens on these VMs) and add its resolution: they may end a few milliseconds
// late, never early.
inline clock::time_point deadline_after(clock::duration timeout) noexcept {
  static const clock::duration coarse_resolution = [] {
    timespec res{};
    ::clock_getres(CLOCK_MONOTONIC_COARSE, &res);
    return std::chrono::seconds(res.tv_sec) + std::chrono::nanoseconds(res.tv_nsec);
  }();
  clock::time_point now;
  clock::duration pad{};
  if (timeout >= std::chrono::milliseconds(100) &&
      coarse_resolution <= std::chrono::milliseconds(10)) {
    timespec ts{};
    ::clock_gettime(CLOCK_MONOTONIC_COARSE, &ts); // the epoch of steady_clock (CLOCK_MONOTONIC)
    now = clock::time_point(std::chrono::duration_cast<clock::duration>(
        std::chrono::seconds(ts.tv_sec) + std::chrono::nanoseconds(ts.tv_nsec)));
    pad = coarse_resolution;
  } else {
    now = clock::now();
  }
  if (timeout >= clock::time_point::max() - now - pad)
    return clock::time_point::max();
  return now + timeout + pad;
}

// `timeout`: duration::max() waits for ever, zero only looks.
inline std::pair<envelope*, int> receive_raw(process& p, matcher m, clock::duration timeout,
                                             envelope* start) {
  check_exiting(p);
  count_reduction(p);
  drain(p);
  envelope* prev = start != nullptr ? start : &p.box.head;
  auto scan = [&]() -> std::pair<envelope*, int> {
    while (envelope* e = prev->next) {
      if (e->kind == signal::message) {
        int i = m.fn(m.ctx, *e);
        if (i >= 0) {
          if (p.mark_node == e)
            p.mark_node = prev;
          p.box.unlink_after(prev);
          return {e, i};
        }
      }
      prev = e;
    }
    return {nullptr, -1};
  };
  if (auto r = scan(); r.first != nullptr)
    return r;
  if (timeout <= clock::duration::zero())
    return {nullptr, -1};
  std::optional<clock::time_point> deadline;
  if (timeout != clock::duration::max())
    deadline = deadline_after(timeout);

  ++p.recv_gen;
  p.timed_out = false;
  struct deadline_guard {
    process* p;
    ~deadline_guard() {
      if (p != nullptr)
        p->deadline = clock::time_point::max();
    }
  } guard{nullptr};
  if (deadline && !p.is_foreign()) {
    p.sched->add_deadline(p, *deadline);
    guard.p = &p;
  }
  for (;;) {
    if (!block(p, deadline && p.is_foreign() ? &*deadline : nullptr))
      return {nullptr, -1};
    drain(p);
    if (auto r = scan(); r.first != nullptr)
      return r;
    if (p.timed_out)
      return {nullptr, -1};
  }
}

// ---------------------------------------------------------------------------
// Exit
// ---------------------------------------------------------------------------

// Everything a process owes the others when it ends: refuse new signals,
// answer pending link/monitor requests with noproc, send exit signals to
// links and down messages to monitors, drop its name and its mailbox.
inline void finish_process(process& p, exit_reason reason) {
  p.exiting = true;
  envelope* rest = p.inbox.close();
  p.reason = reason;
  p.status.store(process_status::exited);
  // Free the name before any link or monitor hears of the exit, as Erlang
  // does: a supervisor restarts a named child as soon as it is told.
  if (p.named.load())
    p.rt->unregister_dead(&p); // see register_name
  process_ref self(&p);

  while (rest != nullptr) {
    envelope* next = rest->next;
    if (rest->kind == signal::link) {
      send_signal(static_cast<signal_envelope*>(rest)->from.get(), signal::link_exit, self,
                  exit_reason::noproc());
    } else if (rest->kind == signal::monitor) {
      auto* s = static_cast<signal_envelope*>(rest);
      send_down(s->from.get(), s->ref, self, exit_reason::noproc());
    } else if (rest->kind == signal::message && (rest->flags & request_flag) != 0) {
      // A request that arrived while we were alive: its requester learns
      // why it will get no answer.
      reply_to& from = request_origin(rest);
      send_down(from.pid.get(), from.tag.value(), self, reason);
    }
    rest->destroy();
    rest = next;
  }

  std::vector<link_entry> links;
  std::vector<monitor_entry> monitors, monitored_by;
  {
    std::lock_guard lock(p.meta);
    links.swap(p.links);
    monitors.swap(p.monitors);
    monitored_by.swap(p.monitored_by);
  }
  for (auto& l : links)
    send_signal(l.other.get(), signal::link_exit, self, reason);
  for (auto& m : monitored_by)
    send_down(m.other.get(), m.ref, self, reason);
  for (auto& m : monitors)
    send_signal(m.other.get(), signal::demonitor, self, {}, m.ref);
  p.box.clear();
  p.mark_node = nullptr;
  if (!p.is_foreign())
    p.rt->process_ended(p);
}

// The main function of every process fiber.
inline boost::context::fiber process_main(process* p, boost::context::fiber&& sched) {
  p->sched_ctx = std::move(sched);
  p->sched->entered(*p);
  exit_reason reason;
  try {
    drain(*p); // exit signals sent before the first run
    p->body->run();
  } catch (const process_exit& e) {
    reason = e.reason();
  } catch (const boost::context::detail::forced_unwind&) {
    throw;
  } catch (...) {
    reason = exit_reason::from_exception(std::current_exception());
  }
  p->exiting = true;
  p->body.reset();
  finish_process(*p, std::move(reason));
  return p->sched->finish(*p);
}

} // namespace otpp::detail

namespace otpp {

// ---------------------------------------------------------------------------
// runtime
// ---------------------------------------------------------------------------

inline runtime::runtime(runtime_options options) : options_(options) {
  if (options_.schedulers == 0)
    options_.schedulers = std::max(1u, std::thread::hardware_concurrency());
  if (options_.reductions == 0)
    options_.reductions = 1;
  if (options_.stack_size == 0)
    options_.stack_size = config::default_stack_size;
  schedulers_.reserve(options_.schedulers);
  for (unsigned i = 0; i < options_.schedulers; ++i)
    schedulers_.push_back(
        std::make_unique<detail::scheduler>(i, options_.stack_size, options_.guard_pages));
  for (auto& s : schedulers_)
    s->start();
}

inline runtime::~runtime() {
  shutdown();
  run();
  for (auto& s : schedulers_)
    s->stop();
  for (auto& s : schedulers_)
    s->join();
}

inline int runtime::run() {
  for (std::size_t n = live_.load(); n != 0; n = live_.load())
    live_.wait(n);
  return 0;
}

inline void runtime::shutdown() {
  shutting_down_.store(true);
  for (auto& s : schedulers_)
    s->for_each_process([](detail::process* p) {
      detail::send_signal(p, detail::signal::forced_exit, nullptr, exit_reason::shutdown());
    });
}

inline std::vector<pid> runtime::processes() {
  std::vector<pid> out;
  for (auto& s : schedulers_)
    s->for_each_process([&](detail::process* p) { out.emplace_back(detail::process_ref(p)); });
  return out;
}

inline detail::scheduler& runtime::pick(const spawn_options& opts) {
  if (opts.scheduler) {
    if (*opts.scheduler >= schedulers_.size())
      throw std::invalid_argument(
          fmt::format("otpp::spawn: scheduler {} does not exist (the runtime has {})",
                      *opts.scheduler, schedulers_.size()));
    return *schedulers_[*opts.scheduler];
  }
  // From a process: stay on its scheduler (messages between parent and
  // child stay on one thread), unless that one has a backlog and another
  // sleeps idle. From any other thread: round robin.
  detail::process* parent = detail::current_process;
  if (parent != nullptr && parent->sched != nullptr) {
    detail::scheduler& local = *parent->sched;
    if (local.ready_count() >= config::share_threshold)
      for (auto& s : schedulers_)
        if (s.get() != &local && s->sleeping())
          return *s;
    return local;
  }
  thread_local std::size_t next = 0;
  return *schedulers_[next++ % schedulers_.size()];
}

template <class F> spawned_monitor runtime::spawn_and_monitor(F&& f, spawn_options opts) {
  static_assert(std::is_invocable_v<std::decay_t<F>&>,
                "otpp::spawn: the process function must be callable with no arguments");
  detail::process* parent = detail::current_process;
  if ((opts.link || opts.monitor) && parent == nullptr)
    throw std::logic_error(
        "otpp::spawn: link or monitor requested from a thread that is not a process");
  detail::scheduler& sched = pick(opts); // may throw: before anything is allocated
  auto owner = std::make_unique<detail::process>();
  detail::process* p = owner.get();
  p->id = detail::next_unique();
  p->rt = this;
  p->body = std::make_unique<detail::body_impl<std::decay_t<F>>>(std::forward<F>(f));
  p->entry = &detail::process_main;
  p->stack_size = opts.stack_size;
  p->trap_exit.store(opts.trap_exit, std::memory_order_relaxed);
  p->budget = options_.reductions;
  p->sched = &sched;
  return start(owner.release(), opts);
}

inline spawned_monitor runtime::start(detail::process* p, const spawn_options& opts) {
  detail::process* parent = detail::current_process;
  if (opts.link) {
    p->links.push_back({detail::process_ref(parent)});
    std::lock_guard lock(parent->meta);
    parent->links.push_back({detail::process_ref(p)});
  }
  std::uint64_t r = 0;
  if (opts.monitor) {
    r = detail::next_unique();
    p->monitored_by.push_back({r, detail::process_ref(parent)});
    std::lock_guard lock(parent->meta);
    parent->monitors.push_back({r, detail::process_ref(p)});
  }
  live_.fetch_add(1);
  p->sched->add(p);
  if (shutting_down_.load())
    detail::send_signal(p, detail::signal::forced_exit, nullptr, exit_reason::shutdown());
  pid result{detail::process_ref(p)};
  p->sched->schedule_new(p); // from here on the process may run (and end)
  if (parent != nullptr)
    detail::count_reduction(*parent);
  return {result, ref(r)};
}

inline void runtime::process_ended(detail::process& p) {
  p.sched->remove(&p);
  if (live_.fetch_sub(1) == 1)
    live_.notify_all();
}

inline void runtime::register_name(const std::string& name, const pid& p) {
  if (name.empty())
    throw std::invalid_argument("otpp::register_name: the name is empty");
  if (!p)
    throw std::invalid_argument(
        fmt::format("otpp::register_name: no process given for '{}'", name));
  std::lock_guard lock(names_mutex_);
  detail::process* proc = p.get();
  if (names_.count(name) != 0)
    throw std::invalid_argument(
        fmt::format("otpp::register_name: '{}' is already registered", name));
  std::lock_guard meta(proc->meta);
  if (!proc->name.empty())
    throw std::invalid_argument(
        fmt::format("otpp::register_name: {} is already registered as '{}'", p, proc->name));
  // Store `named`, then load the status; an ending process stores its status,
  // then loads `named`: one of the two sees the other, so no name outlives
  // its process.
  proc->named.store(true);
  if (proc->status.load() == detail::process_status::exited)
    throw std::invalid_argument(fmt::format("otpp::register_name: {} is not alive", p));
  proc->name = name;
  names_.emplace(name, p.ref_ptr());
}

inline void runtime::unregister_name(const std::string& name) {
  std::lock_guard lock(names_mutex_);
  auto it = names_.find(name);
  if (it == names_.end())
    throw std::invalid_argument(fmt::format("otpp::unregister_name: '{}' is not registered", name));
  {
    std::lock_guard meta(it->second->meta);
    it->second->name.clear();
  }
  names_.erase(it);
}

inline void runtime::unregister_dead(detail::process* p) {
  std::lock_guard lock(names_mutex_);
  std::lock_guard meta(p->meta);
  if (p->name.empty())
    return;
  auto it = names_.find(p->name);
  if (it != names_.end() && it->second.get() == p)
    names_.erase(it);
  p->name.clear();
}

inline pid runtime::whereis(const std::string& name) {
  std::lock_guard lock(names_mutex_);
  auto it = names_.find(name);
  return it == names_.end() ? pid() : pid(it->second);
}

inline std::vector<std::string> runtime::registered() {
  std::lock_guard lock(names_mutex_);
  std::vector<std::string> out;
  out.reserve(names_.size());
  for (auto& [n, p] : names_)
    out.push_back(n);
  return out;
}

} // namespace otpp
