// Shared helpers of the CAF peer workloads: arguments, timing, resident
// memory, and the actor system configuration (2 scheduler worker threads).
// Mirrors benchmarks/workloads/bench_common.hpp; printf replaces fmt so the
// programs need nothing but CAF.
#pragma once

#include <caf/all.hpp>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
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

// The actor system configuration of every workload: CAF's default
// work-stealing scheduler with 2 worker threads (CAF_SCHEDULER_THREADS=n
// overrides). Command-line arguments are the workload's own, so they are not
// passed to CAF's option parser.
struct config : caf::actor_system_config {
  config() {
    const char* s = std::getenv("CAF_SCHEDULER_THREADS");
    set("scheduler.max-threads", s != nullptr ? std::atoi(s) : 2);
  }
};

} // namespace bench
