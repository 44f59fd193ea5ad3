// ping-pong: two goroutines exchange a message back and forth.
// Usage: ping_pong [round_trips=1000000] [same_scheduler=1]
// Go cannot pin a goroutine to a P, so the second argument only picks the
// label ("same"/"cross") printed; both goroutines run wherever Go puts them.
package main

import (
	"fmt"
	"time"

	"otpp/benchmarks/peers/go/internal/bench"
)

type ping struct {
	from chan<- pong
	n    int64
}

type pong struct {
	n int64
}

func main() {
	trips := bench.Arg(1, 1000000)
	same := bench.Arg(2, 1) != 0

	// The ponger's mailbox; closing it is the stop message.
	pings := make(chan ping, 1)
	go func() {
		for p := range pings {
			p.from <- pong{p.n}
		}
	}()

	done := make(chan struct{})
	t0 := time.Now()
	go func() {
		me := make(chan pong, 1) // the pinger's mailbox
		for i := int64(0); i < trips; i++ {
			pings <- ping{me, i}
			if (<-me).n != i {
				bench.Fail("ping-pong: wrong reply in round trip %d", i)
			}
		}
		close(pings)
		done <- struct{}{}
	}()
	<-done
	s := bench.SecondsSince(t0)

	label := "cross"
	if same {
		label = "same"
	}
	fmt.Printf("ping-pong: %d round trips (%s scheduler) in %.3f s: %.2fM round trips/s\n",
		trips, label, s, float64(trips)/s/1e6)
}
