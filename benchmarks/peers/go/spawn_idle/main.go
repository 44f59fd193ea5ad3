// spawn-idle: spawn N goroutines that each wait on their own channel; report
// the spawn rate (until all are waiting, as far as Go can tell: each has
// counted itself just before it blocks) and the resident bytes per waiting
// goroutine, (RSS after - RSS before) / N from /proc/self/statm.
// Usage: spawn_idle [processes=1000000]
// (otpp's second argument, the stack size, has no Go equivalent: goroutine
// stacks start at the runtime's minimum and grow on demand.)
package main

import (
	"fmt"
	"runtime"
	"sync/atomic"
	"time"

	"otpp/benchmarks/peers/go/internal/bench"
)

func main() {
	n := bench.Arg(1, 1000000)
	var waiting atomic.Int64

	rss0 := bench.ResidentBytes()
	t0 := time.Now()
	for i := int64(0); i < n; i++ {
		wake := make(chan struct{}) // the goroutine's mailbox
		go func() {
			waiting.Add(1)
			<-wake
		}()
	}
	for waiting.Load() < n {
		runtime.Gosched()
	}
	s := bench.SecondsSince(t0)
	rss1 := bench.ResidentBytes()
	fmt.Printf("spawn-idle: %d waiting processes in %.3f s (%.2fM spawns/s), %.0f resident bytes each\n",
		n, s, float64(n)/s/1e6, float64(rss1-rss0)/float64(n))
}
