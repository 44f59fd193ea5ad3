// skynet: 1,111,111 goroutines in a tree of fan-out 10; leaves send their
// number, each parent sums its 10 children. Expected sum 499999500000.
// Usage: skynet [leaves=1000000]
package main

import (
	"fmt"
	"os"
	"time"

	"otpp/benchmarks/peers/go/internal/bench"
)

// skynet reports the sum of num .. num+size-1 on parent. An inner node's
// mailbox is a channel with room for its 10 children's results, so (as with
// an actor's mailbox) a child's send never blocks.
func skynet(parent chan<- int64, num, size int64) {
	if size == 1 {
		parent <- num
		return
	}
	results := make(chan int64, 10)
	child := size / 10
	for i := int64(0); i < 10; i++ {
		go skynet(results, num+i*child, child)
	}
	var total int64
	for i := 0; i < 10; i++ {
		total += <-results
	}
	parent <- total
}

func main() {
	leaves := bench.Arg(1, 1000000)
	result := make(chan int64, 1)
	t0 := time.Now()
	go skynet(result, 0, leaves)
	sum := <-result
	s := bench.SecondsSince(t0)
	expected := leaves * (leaves - 1) / 2
	procs := leaves + leaves/9
	wrong := ""
	if sum != expected {
		wrong = " WRONG SUM"
	}
	fmt.Printf("skynet: %d processes, sum %d in %.3f s (%.2fM processes/s), peak RSS %d MiB%s\n",
		procs, sum, s, float64(procs)/s/1e6, bench.PeakResidentBytes()>>20, wrong)
	if sum != expected {
		os.Exit(1)
	}
}
