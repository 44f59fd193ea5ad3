// server call: one client makes N synchronous calls to a counter server
// goroutine: a request carries the client's reply channel, the server
// increments its count and replies with it. Each reply must be the previous
// one + 1, and the server's final count must be N.
// Then the same number of calls spread over many concurrent clients, each
// with its own reply channel: the replies are distinct counts, so they must
// sum to 1 + 2 + ... + calls.
// Prints the first two of otpp's three lines (1 client, many clients).
// Usage: server_call [calls=1000000] [clients=100]
package main

import (
	"fmt"
	"os"
	"runtime"
	"time"

	"otpp/benchmarks/peers/go/internal/bench"
)

type increment struct {
	reply chan<- int64
}

// counter serves increments until its request channel is closed, then
// reports its final count.
func counter(requests <-chan increment, final chan<- int64) {
	var n int64
	for req := range requests {
		n++
		req.reply <- n
	}
	final <- n
}

// call is a synchronous request/reply to the counter.
func call(server chan<- increment, reply chan int64) int64 {
	server <- increment{reply}
	return <-reply
}

type done struct {
	seconds float64
	valid   bool
}

func main() {
	calls := bench.Arg(1, 1000000)
	clients := bench.Arg(2, 100)
	ok := single(calls)
	ok = concurrent(calls, clients) && ok
	if !ok {
		os.Exit(1)
	}
}

// concurrent: `calls` calls in all from `clients` goroutines at once.
func concurrent(calls, clients int64) bool {
	requests := make(chan increment)
	final := make(chan int64, 1)
	go counter(requests, final)

	each := calls / clients
	total := each * clients
	sums := make(chan int64, clients)
	t0 := time.Now()
	for c := int64(0); c < clients; c++ {
		go func() {
			reply := make(chan int64, 1)
			var sum int64
			for i := int64(0); i < each; i++ {
				sum += call(requests, reply)
			}
			sums <- sum
		}()
	}
	var sum int64
	for c := int64(0); c < clients; c++ {
		sum += <-sums
	}
	seconds := bench.SecondsSince(t0)
	close(requests)
	finalCount := <-final

	ok := finalCount == total && sum == total*(total+1)/2
	wrong := ""
	if !ok {
		wrong = " WRONG COUNT"
	}
	fmt.Printf("server call: %d calls (%d clients, %d schedulers) in %.3f s: %.2fM calls/s%s\n",
		total, clients, runtime.GOMAXPROCS(0), seconds, float64(total)/seconds/1e6, wrong)
	return ok
}

// single: `calls` calls from one client; each reply must be the previous one + 1.
func single(calls int64) bool {

	requests := make(chan increment)
	final := make(chan int64, 1)
	go counter(requests, final)

	result := make(chan done, 1)
	go func() {
		reply := make(chan int64, 1) // the client's mailbox, reused by each call
		valid := true
		t0 := time.Now()
		for i := int64(1); i <= calls; i++ {
			if call(requests, reply) != i {
				valid = false
			}
		}
		result <- done{bench.SecondsSince(t0), valid}
	}()
	d := <-result
	close(requests)
	finalCount := <-final

	ok := d.valid && finalCount == calls
	wrong := ""
	if !ok {
		wrong = " WRONG COUNT"
	}
	fmt.Printf("server call: %d calls (1 client, same scheduler) in %.3f s: %.2fM calls/s, %.0f ns per call%s\n",
		calls, d.seconds, float64(calls)/d.seconds/1e6, d.seconds/float64(calls)*1e9, wrong)
	return ok
}
