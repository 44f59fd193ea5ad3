// all-to-all: N goroutines; each sends a ping to every other and answers
// every ping with a pong: 2 N (N - 1) messages. Each goroutine's inbox is a
// channel with room for everything it can be sent (2 (N - 1)), so no send
// blocks, as no otpp send does.
// Usage: all_to_all [processes=1000]
package main

import (
	"fmt"
	"time"

	"otpp/benchmarks/peers/go/internal/bench"
)

type msg struct {
	ping bool
	from int
}

func main() {
	n := int(bench.Arg(1, 1000))
	inboxes := make([]chan msg, n)
	for i := range inboxes {
		inboxes[i] = make(chan msg, 2*(n-1))
	}
	done := make(chan struct{}, n)
	start := make(chan struct{})
	for i := 0; i < n; i++ {
		go func(me int) {
			<-start
			for other := 0; other < n; other++ {
				if other != me {
					inboxes[other] <- msg{true, me}
				}
			}
			pings, pongs := 0, 0
			for pings < n-1 || pongs < n-1 {
				m := <-inboxes[me]
				if m.ping {
					inboxes[m.from] <- msg{false, me}
					pings++
				} else {
					pongs++
				}
			}
			done <- struct{}{}
		}(i)
	}
	t0 := time.Now()
	close(start)
	for i := 0; i < n; i++ {
		<-done
	}
	s := bench.SecondsSince(t0)
	messages := 2 * float64(n) * float64(n-1)
	fmt.Printf("all-to-all: %d processes, %.0f messages in %.3f s: %.2fM messages/s\n",
		n, messages, s, messages/s/1e6)
}
