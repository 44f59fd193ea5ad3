// ring: N goroutines in a ring pass one token for M hops in total.
// Usage: ring [processes=1000] [hops=10000000]
package main

import (
	"fmt"
	"time"

	"otpp/benchmarks/peers/go/internal/bench"
)

// node forwards the token, counting it down. The node that sees 0 reports
// done and sends -1 round the ring, which makes every node return.
func node(in <-chan int64, next chan<- int64, done chan<- struct{}) {
	for {
		t := <-in
		switch {
		case t == 0:
			done <- struct{}{}
			next <- -1
			return
		case t < 0:
			next <- t
			return
		default:
			next <- t - 1
		}
	}
}

func main() {
	n := bench.Arg(1, 1000)
	hops := bench.Arg(2, 10000000)

	done := make(chan struct{}, 1)
	started := make(chan time.Time, 1)
	// A coordinator goroutine builds the ring and starts the token, as the
	// otpp and Erlang programs do. In Go the mailboxes (channels) exist
	// before the goroutines, so each node gets its successor when spawned
	// instead of in a next_is message.
	go func() {
		ring := make([]chan int64, n)
		for i := range ring {
			ring[i] = make(chan int64, 1) // one token in flight: room for it
		}
		for i := int64(0); i < n; i++ {
			go node(ring[i], ring[(i+1)%n], done)
		}
		started <- time.Now()
		ring[0] <- hops
	}()
	t0 := <-started
	<-done
	s := bench.SecondsSince(t0)
	fmt.Printf("ring: %d processes, %d hops in %.3f s: %.2fM hops/s\n", n, hops, s,
		float64(hops)/s/1e6)
}
