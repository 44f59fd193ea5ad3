// fan-in: P producer goroutines each send M messages to one consumer.
// Usage: fan_in [producers=1000] [messages=1000]
package main

import (
	"fmt"
	"os"
	"time"

	"otpp/benchmarks/peers/go/internal/bench"
)

type item struct {
	value int64
}

type done struct {
	count, sum int64
}

// mailbox is the consumer's channel capacity. Go channels are bounded, so
// producers block when it is full (otpp's mailbox is unbounded).
const mailbox = 1024

func main() {
	producers := bench.Arg(1, 1000)
	messages := bench.Arg(2, 1000)
	total := producers * messages

	inbox := make(chan item, mailbox)
	result := make(chan done, 1)
	go func() {
		var sum int64
		for i := int64(0); i < total; i++ {
			sum += (<-inbox).value
		}
		result <- done{total, sum}
	}()

	t0 := time.Now()
	for p := int64(0); p < producers; p++ {
		go func() {
			for i := int64(0); i < messages; i++ {
				inbox <- item{1}
			}
		}()
	}
	d := <-result
	s := bench.SecondsSince(t0)
	wrong := ""
	if d.sum != total {
		wrong = " WRONG COUNT"
	}
	fmt.Printf("fan-in: %d producers x %d messages in %.3f s: %.2fM messages/s%s\n",
		producers, messages, s, float64(total)/s/1e6, wrong)
	if d.sum != total {
		os.Exit(1)
	}
}
