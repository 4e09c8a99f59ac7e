package router_test

import (
	"fmt"
	"slices"

	"github.com/weirio/weir/router"
)

// A router's subscribers can be anything comparable; here, names.
func Example() {
	r, err := router.New[string](router.Options{})
	if err != nil {
		panic(err)
	}
	r.Subscribe("zeek/event/", "logger")
	r.Subscribe("zeek/", "manager")
	r.Subscribe("zeek/event/conn", "manager") // a second prefix on the same path
	r.Subscribe("", "tap")                    // the empty prefix matches everything

	// The node matches topics that are views into a network buffer, into a
	// slice it reuses: neither allocates.
	var dst []string
	dst = r.Match([]byte("zeek/event/conn_established"), dst[:0])
	slices.Sort(dst) // results come in no particular order
	fmt.Println(dst)

	dst = r.MatchString("weir/store/x", dst[:0])
	fmt.Println(dst)
	// Output:
	// [logger manager tap]
	// [tap]
}

// Subscribe and Unsubscribe report whether they changed anything, which is
// what decides whether peers need to hear about it.
func ExampleRouter_Subscribe() {
	r, _ := router.New[int](router.Options{})
	fmt.Println(r.Subscribe("a", 1)) // new
	fmt.Println(r.Subscribe("a", 1)) // already there
	fmt.Println(r.Unsubscribe("b", 1))
	fmt.Println(r.MatchString("alice", nil)) // a plain byte prefix
	// Output:
	// true
	// false
	// false
	// [1]
}

// Apply changes many subscriptions in one update: readers see all of them
// or none, and the trie's upper levels are copied once for the whole batch.
func ExampleRouter_Apply() {
	r, _ := router.New[string](router.Options{})
	r.Subscribe("zeek/cluster/", "peer-1")
	n := r.Apply([]router.Change[string]{
		{Op: router.OpUnsubscribe, Prefix: "zeek/cluster/", Sub: "peer-1"},
		{Op: router.OpSubscribe, Prefix: "zeek/cluster/node/", Sub: "peer-1"},
		{Op: router.OpSubscribe, Prefix: "zeek/cluster/node/", Sub: "peer-1"}, // duplicate: no effect
	})
	fmt.Println(n, r.Len())
	// Output:
	// 2 1
}

// A peer's filter: its prefixes for the handshake, and its removal when it
// leaves.
func ExampleRouter_Prefixes() {
	r, _ := router.New[string](router.Options{})
	r.Subscribe("zeek/event/", "peer-1")
	r.Subscribe("zeek/logs/", "peer-1")
	r.Subscribe("zeek/logs/", "peer-2")
	fmt.Println(r.Prefixes("peer-1"), r.Count("peer-2"))
	fmt.Println(r.RemoveSubscriber("peer-1"), r.MatchString("zeek/logs/conn", nil))
	// Output:
	// [zeek/event/ zeek/logs/] 1
	// 2 [peer-2]
}

// Each is the callback form of Match.
func ExampleRouter_Each() {
	r, _ := router.New[int](router.Options{})
	r.Subscribe("x/", 7)
	r.Each([]byte("x/y"), func(s int) { fmt.Println("deliver to", s) })
	// Output:
	// deliver to 7
}

// A connection's frames mostly repeat a topic: a Memo per connection, used
// only by the goroutine reading it, answers a repeat with a compare.
func ExampleRouter_MatchMemo() {
	r, _ := router.New[string](router.Options{})
	r.Subscribe("zeek/event/", "logger")
	var memo router.Memo[string] // e.g. one per peer connection
	var dst []string
	for range 3 {
		dst = r.MatchMemo(&memo, []byte("zeek/event/dns_request"), dst[:0])
	}
	fmt.Println(dst)
	r.Subscribe("zeek/", "manager") // a write: the memo is stale and recomputes
	dst = r.MatchMemo(&memo, []byte("zeek/event/dns_request"), dst[:0])
	slices.Sort(dst)
	fmt.Println(dst)
	// Output:
	// [logger]
	// [logger manager]
}
