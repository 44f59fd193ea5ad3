// Shared helpers of the workload benchmarks: timing, resident memory, output.
// Distributed under the Boost Software License, Version 1.0.
#pragma once

#include <fmt/format.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <unistd.h>

namespace bench {

using clock = std::chrono::steady_clock;

inline double seconds_since(clock::time_point t0) {
  return std::chrono::duration<double>(clock::now() - t0).count();
}

// Resident set size of this process, in bytes (from /proc/self/statm).
inline long resident_bytes() {
  long pages_total = 0, pages_resident = 0;
  if (std::FILE* f = std::fopen("/proc/self/statm", "r")) {
    if (std::fscanf(f, "%ld %ld", &pages_total, &pages_resident) != 2)
      pages_resident = 0;
    std::fclose(f);
  }
  return pages_resident * sysconf(_SC_PAGESIZE);
}

// Peak resident set size (VmHWM), in bytes.
inline long peak_resident_bytes() {
  long kb = 0;
  if (std::FILE* f = std::fopen("/proc/self/status", "r")) {
    char line[256];
    while (std::fgets(line, sizeof line, f) != nullptr)
      if (std::sscanf(line, "VmHWM: %ld kB", &kb) == 1)
        break;
    std::fclose(f);
  }
  return kb * 1024;
}

// argv[i] as a number, or `fallback`.
inline long arg(int argc, char** argv, int i, long fallback) {
  return argc > i ? std::strtol(argv[i], nullptr, 10) : fallback;
}

// Scheduler count: OTPP_SCHEDULERS from the environment, else `fallback`.
inline unsigned schedulers(unsigned fallback = 0) {
  const char* s = std::getenv("OTPP_SCHEDULERS");
  return s != nullptr ? static_cast<unsigned>(std::strtoul(s, nullptr, 10)) : fallback;
}

// Guard pages (the runtime's default: on): OTPP_GUARD_PAGES=0 turns them off.
inline bool guard_pages() {
  const char* s = std::getenv("OTPP_GUARD_PAGES");
  return s == nullptr || std::strtoul(s, nullptr, 10) != 0;
}

// runtime_options::hibernate_after: OTPP_HIBERNATE_AFTER_MS from the
// environment, else `fallback` (0: never).
inline std::chrono::milliseconds hibernate_after(long fallback = 0) {
  const char* s = std::getenv("OTPP_HIBERNATE_AFTER_MS");
  return std::chrono::milliseconds(s != nullptr ? std::strtol(s, nullptr, 10) : fallback);
}

} // namespace bench
