// Package bench holds the helpers every Go peer workload shares: positional
// arguments, timing and resident memory, as in benchmarks/workloads/bench_common.hpp.
package bench

import (
	"bufio"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// Arg returns os.Args[i] as a number, or fallback when it is absent
// (like strtol in bench::arg: a malformed argument reads as 0).
func Arg(i int, fallback int64) int64 {
	if len(os.Args) <= i {
		return fallback
	}
	v, _ := strconv.ParseInt(strings.TrimSpace(os.Args[i]), 10, 64)
	return v
}

// SecondsSince is the elapsed wall time since t0 in seconds (monotonic clock).
func SecondsSince(t0 time.Time) float64 {
	return time.Since(t0).Seconds()
}

// ResidentBytes is this process's resident set size from /proc/self/statm.
func ResidentBytes() int64 {
	b, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		return 0
	}
	f := strings.Fields(string(b))
	if len(f) < 2 {
		return 0
	}
	pages, _ := strconv.ParseInt(f[1], 10, 64)
	return pages * int64(os.Getpagesize())
}

// PeakResidentBytes is VmHWM from /proc/self/status.
func PeakResidentBytes() int64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		var kb int64
		if _, err := fmt.Sscanf(s.Text(), "VmHWM: %d kB", &kb); err == nil {
			return kb * 1024
		}
	}
	return 0
}

// Fail prints a diagnostic to stderr and exits with status 1.
func Fail(format string, a ...any) {
	fmt.Fprintf(os.Stderr, format+"\n", a...)
	os.Exit(1)
}
