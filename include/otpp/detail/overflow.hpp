// Stack overflow is never silent: guard pages with a SIGSEGV handler on an
// alternate signal stack, and, where the kernel's mapping limit leaves no
// room for more guard pages, a canary checked at every switch.
// Distributed under the Boost Software License, Version 1.0.
#pragma once

#include <otpp/detail/process.hpp>
#include <otpp/detail/sanitizer.hpp>

#include <signal.h>
#include <sys/mman.h>
#include <ucontext.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>

namespace otpp::detail {

// Written at the lowest bytes of a stack that has no guard page; an
// overflow runs over it first.
inline constexpr std::uint64_t stack_canary = 0x6f7470705f736b21ULL;

inline std::size_t page_size() noexcept {
  static const auto page = static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
  return page;
}

// Guard pages cost kernel mappings (each splits its slab's mapping in two);
// Linux allows vm.max_map_count per OS process (65,530 by default). Guarded
// stacks stop at half of what is left after room for everything else.
class guard_budget {
public:
  static guard_budget& get() {
    static guard_budget b;
    return b;
  }
  // Reserve guards for `n` stacks; false (and nothing reserved) when that
  // would go past the budget. Says so once, on stderr.
  bool take(std::size_t n) noexcept {
    std::size_t used = used_.load(std::memory_order_relaxed);
    do {
      if (used + n > limit_) {
        if (!warned_.exchange(true))
          std::fprintf(stderr,
                       "otpp: %zu stacks have guard pages, as many as vm.max_map_count allows; "
                       "further stacks have none and are checked by a canary at every switch "
                       "(an overflow is then found later, and may already have hurt a "
                       "neighbour)\n",
                       used);
        return false;
      }
    } while (!used_.compare_exchange_weak(used, used + n, std::memory_order_relaxed));
    return true;
  }
  void give_back(std::size_t n) noexcept { used_.fetch_sub(n, std::memory_order_relaxed); }

private:
  guard_budget() {
    std::size_t max_maps = 65530;
    if (std::FILE* f = std::fopen("/proc/sys/vm/max_map_count", "r")) {
      unsigned long v = 0;
      if (std::fscanf(f, "%lu", &v) == 1 && v > 0)
        max_maps = v;
      std::fclose(f);
    }
    constexpr std::size_t others = 8192; // libraries, heaps, thread stacks, sockets
    // A guard page splits its slab's mapping: two mappings per stack.
    limit_ = max_maps > 2 * others ? (max_maps - others) / 2 : 0;
#if defined(OTPP_DETAIL_TSAN)
    // TSan maps shadow memory for every fiber, guarded or not (20,000
    // waiting fibers nearly fill the default limit by themselves): keep
    // guard pages for the first few thousand stacks only.
    limit_ = std::min<std::size_t>(limit_, 2048);
#endif
  }
  std::atomic<std::size_t> used_{0};
  std::atomic<bool> warned_{false};
  std::size_t limit_ = 0;
};

// What a failing process is, written with write(2) only (we are in a
// signal handler, or about to abort).
class crash_text {
public:
  void add(const char* s) noexcept {
    while (*s != '\0' && len_ + 1 < sizeof buf_)
      buf_[len_++] = *s++;
  }
  void add(std::uint64_t v) noexcept {
    char digits[24];
    int n = 0;
    do {
      digits[n++] = static_cast<char>('0' + v % 10);
      v /= 10;
    } while (v != 0);
    while (n > 0 && len_ + 1 < sizeof buf_)
      buf_[len_++] = digits[--n];
  }
  void flush() noexcept {
    std::size_t off = 0;
    while (off < len_) {
      ssize_t w = ::write(2, buf_ + off, len_ - off);
      if (w <= 0)
        break;
      off += static_cast<std::size_t>(w);
    }
    len_ = 0;
  }

private:
  char buf_[1024];
  std::size_t len_ = 0;
};

[[noreturn]] inline void report_overflow(const process& p, const char* how) noexcept {
  crash_text t;
  t.add("otpp: stack overflow in process <0.");
  t.add(p.id);
  t.add(".0>");
  // The name is only read: the faulting process is the one that could change it.
  if (p.named.load(std::memory_order_relaxed) && !p.name.empty()) {
    t.add(" (registered as \"");
    t.add(p.name.c_str());
    t.add("\")");
  }
  if (!p.label.empty()) { // only the faulting process sets it
    t.add(" [");
    t.add(p.label.c_str());
    t.add("]");
  }
  t.add(" ");
  t.add(how);
  t.add("; its stack is ");
  t.add(static_cast<std::uint64_t>((p.self_stack.stack_size + 1023) / 1024));
  t.add(" KiB. Give it a larger one (spawn_options::stack_size, "
        "runtime_options::stack_size), recurse less, or keep large objects on the heap "
        "(a large by-value message or local lives on the stack). Aborting.\n");
  t.flush();
  std::abort();
}

// True if `p`'s canary (stacks without a guard page) is intact.
inline bool canary_intact(const process& p) noexcept {
  if (p.self_stack.canary == nullptr)
    return true;
  std::uint64_t v;
  std::memcpy(&v, p.self_stack.canary, sizeof v);
  return v == stack_canary;
}

// True if `p`'s canary holds something else than itself or zero. (It
// reads as zero while the stack below, which holds it, is parked: see
// scheduler::park.)
inline bool canary_clobbered(const process& p) noexcept {
  if (p.self_stack.canary == nullptr)
    return false;
  std::uint64_t v;
  std::memcpy(&v, p.self_stack.canary, sizeof v);
  return v != stack_canary && v != 0;
}

// The handler each of SIGSEGV and SIGBUS had before ours.
inline struct sigaction& previous_action(int sig) {
  static struct sigaction segv {
  }, bus{};
  return sig == SIGBUS ? bus : segv;
}

// The stack pointer of the interrupted code, where the platform says.
inline std::uintptr_t interrupted_sp(void* uc) noexcept {
#if defined(__x86_64__)
  return static_cast<std::uintptr_t>(static_cast<ucontext_t*>(uc)->uc_mcontext.gregs[REG_RSP]);
#elif defined(__aarch64__)
  return static_cast<std::uintptr_t>(static_cast<ucontext_t*>(uc)->uc_mcontext.sp);
#else
  (void)uc;
  return 0;
#endif
}

// The SIGSEGV handler: a fault in the guard page of the process running
// on this thread, up to 64 KiB below its stack (where a large frame that
// stepped over the guard lands), or anywhere while its stack pointer is
// below its stack (a huge by-value object) is an overflow of that process;
// any other fault goes to the handler that was there before (by default:
// the crash).
inline void on_segv(int sig, siginfo_t* info, void* uc) {
  process* p = current_process;
  if (p != nullptr && !p->is_foreign() && p->self_stack.stack_bottom != nullptr) {
    const auto low = reinterpret_cast<std::uintptr_t>(p->self_stack.stack_bottom);
    const auto addr = reinterpret_cast<std::uintptr_t>(info->si_addr);
    const std::uintptr_t page = page_size();
    if (p->self_stack.guarded && addr >= low && addr < low + page)
      report_overflow(*p, "(it ran into its guard page)");
    if (addr < low && low - addr <= 64 * 1024)
      report_overflow(*p, "(a fault just below its stack)");
    if (const std::uintptr_t sp = interrupted_sp(uc); sp != 0 && sp < low + page)
      report_overflow(*p, "(its stack pointer is past the end of its stack: a local or a "
                          "by-value argument larger than the stack)");
    if (canary_clobbered(*p))
      report_overflow(*p, "(its stack canary was overwritten)");
  }
  struct sigaction& prev = previous_action(sig);
  if ((prev.sa_flags & SA_SIGINFO) != 0 && prev.sa_sigaction != nullptr) {
    prev.sa_sigaction(sig, info, uc);
    return;
  }
  // Not ours, no handler before: the default action, on the next fault.
  ::signal(sig, prev.sa_handler == SIG_IGN ? SIG_DFL : prev.sa_handler);
}

// Install the handler once per OS process.
inline void install_overflow_handler() {
  static std::once_flag once;
  std::call_once(once, [] {
    struct sigaction a {};
    a.sa_sigaction = &on_segv;
    sigemptyset(&a.sa_mask);
    a.sa_flags = SA_SIGINFO | SA_ONSTACK;
    ::sigaction(SIGSEGV, &a, &previous_action(SIGSEGV));
    ::sigaction(SIGBUS, &a, &previous_action(SIGBUS));
  });
}

// An alternate signal stack for the calling (scheduler) thread: a handler
// cannot run on a stack that has just overflowed.
class alt_signal_stack {
public:
  alt_signal_stack() {
    constexpr std::size_t size = 64 * 1024;
    void* mem = ::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (mem == MAP_FAILED)
      return;
    stack_t ss{};
    ss.ss_sp = mem;
    ss.ss_size = size;
    if (::sigaltstack(&ss, &old_) != 0) {
      ::munmap(mem, size);
      return;
    }
    mem_ = mem;
    size_ = size;
  }
  alt_signal_stack(const alt_signal_stack&) = delete;
  alt_signal_stack& operator=(const alt_signal_stack&) = delete;
  ~alt_signal_stack() {
    if (mem_ == nullptr)
      return;
    ::sigaltstack(&old_, nullptr);
    ::munmap(mem_, size_);
  }

private:
  void* mem_ = nullptr;
  std::size_t size_ = 0;
  stack_t old_{};
};

} // namespace otpp::detail
