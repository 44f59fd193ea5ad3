// Compile-time configuration: sanitizer detection and defaults.
// Distributed under the Boost Software License, Version 1.0.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>

#if defined(__SANITIZE_ADDRESS__)
#define OTPP_DETAIL_ASAN 1
#endif
#if defined(__SANITIZE_THREAD__)
#define OTPP_DETAIL_TSAN 1
#endif
#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#ifndef OTPP_DETAIL_ASAN
#define OTPP_DETAIL_ASAN 1
#endif
#endif
#if __has_feature(thread_sanitizer)
#ifndef OTPP_DETAIL_TSAN
#define OTPP_DETAIL_TSAN 1
#endif
#endif
#endif

namespace otpp::config {

/// Default stack size of a process. Sanitizer builds need larger frames.
#if defined(OTPP_DETAIL_ASAN) || defined(OTPP_DETAIL_TSAN)
inline constexpr std::size_t default_stack_size = 256 * 1024;
#else
inline constexpr std::size_t default_stack_size = 64 * 1024;
#endif

/// Reductions (sends, receives, spawns) a process may use before it yields.
inline constexpr std::uint32_t default_reductions = 2000;

/// Processes a busy scheduler resumes between two reads of the clock; at
/// such a read it polls its io_context (timers, I/O completions, handlers
/// posted from other threads) if `io_poll_period` has passed since the last
/// poll. A poll is a system call (epoll_wait) whether or not anything is
/// ready, so it is paced by time rather than by the number of resumptions.
inline constexpr unsigned io_poll_interval = 64;
inline constexpr std::chrono::microseconds io_poll_period{50};

/// Rounds of an idle scheduler's spin (see idle_spins) between two polls
/// of its io_context.
inline constexpr unsigned idle_io_poll_spins = 64;

/// Ready processes a scheduler may queue before a process it spawns goes
/// to another scheduler that sleeps idle (instead of staying local).
inline constexpr std::size_t share_threshold = 16;

/// Fresh (spawned, not yet started) processes a scheduler runs in a row
/// while older ready processes wait (see scheduler::schedule_new). 1 means
/// the two alternate: spawn trees still run depth first, and a spawning loop
/// cannot hold back processes that became ready before.
inline constexpr std::size_t fresh_run_limit = 1;

/// Not-yet-started processes a scheduler keeps where idle schedulers can
/// steal them (see scheduler::schedule_new); more wait in a private list.
inline constexpr std::size_t stealable_capacity = 256;

/// How long a not-yet-started process waits on a busy scheduler before an
/// idle one may take it. A process about to run soon is left where it is
/// (its messages stay on one thread, its memory is freed where it was
/// allocated); work that a busy scheduler leaves waiting moves.
inline constexpr std::chrono::microseconds steal_age{500};

/// Times an idle scheduler checks for work before it sleeps in its io_context.
inline constexpr unsigned idle_spins = 4096;

/// Message memory (envelopes of up to 256 bytes) asks the system for
/// transparent huge pages: a region of 4 MiB is made resident in two faults
/// instead of a thousand, which made message bursts 35 % (all to all) to
/// 2x (fan-in) faster on a VM with costly page faults. The price is
/// resident memory in steps of 2 MiB: a program that sends any message
/// holds 2 MiB of it. Define OTPP_MESSAGE_HUGE_PAGES as 0 to keep 4 KiB
/// pages, the same in every translation unit (on the compiler's command
/// line: -DOTPP_MESSAGE_HUGE_PAGES=0). It has an effect only where the
/// system gives huge pages on request
/// (/sys/kernel/mm/transparent_hugepage/enabled "madvise" or "always").
#ifndef OTPP_MESSAGE_HUGE_PAGES
#define OTPP_MESSAGE_HUGE_PAGES 1
#endif
inline constexpr bool message_huge_pages = OTPP_MESSAGE_HUGE_PAGES != 0;

/// A metrics scrape reads each live process's resident stack (one mincore
/// system call, about 2 us each) while at most this many live; above it the
/// stack families are left out (`runtime::statistics({.stacks = true})`
/// still reads them all).
inline constexpr std::size_t metrics_stack_scan_limit = 10000;

} // namespace otpp::config
