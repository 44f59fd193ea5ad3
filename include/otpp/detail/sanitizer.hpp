// Fiber-switch announcements for AddressSanitizer and ThreadSanitizer.
// Distributed under the Boost Software License, Version 1.0.
#pragma once

#include <otpp/config.hpp>

#include <cstddef>

#if defined(OTPP_DETAIL_ASAN)
#include <sanitizer/asan_interface.h>
#include <sanitizer/common_interface_defs.h>
#endif
#if defined(OTPP_DETAIL_TSAN)
#include <sanitizer/tsan_interface.h>
#endif

// Debian's Boost.Context is the fcontext build: it tells no sanitizer that a
// stack switch happened. Every switch between a scheduler and a process goes
// through these hooks so ASan knows which stack is live and TSan keeps one
// shadow state per fiber.
namespace otpp::detail::sanitizer {

// The stack a switch goes to: bounds for ASan, fiber handle for TSan.
struct fiber_info {
  const void* stack_bottom = nullptr;
  std::size_t stack_size = 0;
  bool guarded = false;         // its lowest page is a guard page
  const void* canary = nullptr; // else: where its canary is (see overflow.hpp)
  void* tsan_fiber = nullptr;
};

inline void* tsan_current_fiber() noexcept {
#if defined(OTPP_DETAIL_TSAN)
  return __tsan_get_current_fiber();
#else
  return nullptr;
#endif
}

inline void* tsan_create_fiber() noexcept {
#if defined(OTPP_DETAIL_TSAN)
  return __tsan_create_fiber(0);
#else
  return nullptr;
#endif
}

inline void tsan_destroy_fiber(void* f) noexcept {
#if defined(OTPP_DETAIL_TSAN)
  if (f != nullptr)
    __tsan_destroy_fiber(f);
#else
  (void)f;
#endif
}

// Before a switch. `fake_stack` is null when the current fiber is finishing.
inline void start_switch(void** fake_stack, const fiber_info& to) noexcept {
#if defined(OTPP_DETAIL_ASAN)
  __sanitizer_start_switch_fiber(fake_stack, to.stack_bottom, to.stack_size);
#else
  (void)fake_stack;
#endif
#if defined(OTPP_DETAIL_TSAN)
  __tsan_switch_to_fiber(to.tsan_fiber, 0);
#else
  (void)to;
#endif
}

// After a switch, on the new stack; reports the stack we came from.
inline void finish_switch(void* fake_stack, const void** from_bottom = nullptr,
                          std::size_t* from_size = nullptr) noexcept {
#if defined(OTPP_DETAIL_ASAN)
  __sanitizer_finish_switch_fiber(fake_stack, from_bottom, from_size);
#else
  (void)fake_stack;
  (void)from_bottom;
  (void)from_size;
#endif
}

inline void unpoison(void* p, std::size_t n) noexcept {
#if defined(OTPP_DETAIL_ASAN)
  ASAN_UNPOISON_MEMORY_REGION(p, n);
#else
  (void)p;
  (void)n;
#endif
}

} // namespace otpp::detail::sanitizer
