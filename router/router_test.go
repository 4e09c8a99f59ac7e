package router

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"runtime"
	"slices"
	"strings"
	"testing"
	"unsafe"
	"weak"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

func mustNew[S comparable](t testing.TB, o Options) *Router[S] {
	t.Helper()
	r, err := New[S](o)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func sorted[S interface{ ~int | ~string }](s []S) []S {
	s = slices.Clone(s)
	slices.Sort(s)
	return s
}

func TestMatchSemantics(t *testing.T) {
	r := mustNew[string](t, Options{})
	r.Subscribe("a", "A")
	r.Subscribe("alice", "Alice")
	r.Subscribe("al", "Multi")
	r.Subscribe("ali", "Multi") // a second prefix on the same path
	r.Subscribe("bob/", "Bob")
	r.Subscribe("", "All")
	for _, tc := range []struct {
		topic string
		want  []string
	}{
		{"alice", []string{"A", "Alice", "All", "Multi"}},
		{"alice/x", []string{"A", "Alice", "All", "Multi"}},
		{"alic", []string{"A", "All", "Multi"}},
		{"al", []string{"A", "All", "Multi"}},
		{"a", []string{"A", "All"}},
		{"", []string{"All"}},
		{"bob", []string{"All"}},
		{"bob/", []string{"All", "Bob"}},
		{"b", []string{"All"}},
		{"zed", []string{"All"}},
	} {
		for pass := range 2 { // the second pass is served from the cache
			if got := sorted(r.MatchString(tc.topic, nil)); !slices.Equal(got, tc.want) {
				t.Errorf("pass %d: Match(%q) = %q, want %q", pass, tc.topic, got, tc.want)
			}
		}
	}
}

func TestBinaryTopics(t *testing.T) {
	r := mustNew[int](t, Options{})
	r.Subscribe("\x00\xff", 1)
	r.Subscribe("\x00", 2)
	if got := sorted(r.Match([]byte{0, 0xff, 0}, nil)); !slices.Equal(got, []int{1, 2}) {
		t.Fatalf("got %v", got)
	}
	if got := r.Match([]byte{0xff}, nil); len(got) != 0 {
		t.Fatalf("got %v", got)
	}
}

func TestChangeReporting(t *testing.T) {
	r := mustNew[int](t, Options{})
	gen := r.Metrics().Generation
	if !r.Subscribe("a", 1) || r.Subscribe("a", 1) {
		t.Fatal("Subscribe must report true once, then false")
	}
	if r.Unsubscribe("a", 2) || r.Unsubscribe("b", 1) {
		t.Fatal("Unsubscribe of an absent pair must report false")
	}
	if got := r.Metrics().Generation; got != gen+1 {
		t.Fatalf("no-op writes must not publish: generation %d, want %d", got, gen+1)
	}
	if !r.Unsubscribe("a", 1) || r.Unsubscribe("a", 1) {
		t.Fatal("Unsubscribe must report true once, then false")
	}
	n := r.Apply([]Change[int]{
		{Op: OpSubscribe, Prefix: "x", Sub: 1},
		{Op: OpSubscribe, Prefix: "x", Sub: 1},   // duplicate: no effect
		{Op: OpUnsubscribe, Prefix: "y", Sub: 1}, // absent: no effect
		{Op: OpSubscribe, Prefix: "y", Sub: 1},
		{Op: OpUnsubscribe, Prefix: "y", Sub: 1},
	})
	if n != 3 || r.Len() != 1 {
		t.Fatalf("Apply = %d, Len = %d; want 3, 1", n, r.Len())
	}
	if r.Apply(nil) != 0 {
		t.Fatal("empty Apply")
	}
}

func TestApplyInvalidOp(t *testing.T) {
	r := mustNew[int](t, Options{})
	func() {
		defer func() {
			if recover() == nil {
				t.Error("Apply with Op 0 did not panic")
			}
		}()
		r.Apply([]Change[int]{{Op: OpSubscribe, Prefix: "a", Sub: 1}, {Prefix: "b", Sub: 1}})
	}()
	if r.Len() != 0 || r.Count(1) != 0 {
		t.Fatal("a rejected batch must change nothing")
	}
	if got := Op(7).String(); got != "Op(7)" {
		t.Fatal(got)
	}
}

func TestSubscriberQueries(t *testing.T) {
	r := mustNew[string](t, Options{})
	// More prefixes than subState keeps in its list, so the map form is used.
	var want []string
	for i := range 20 {
		p := fmt.Sprintf("peer/%02d", i)
		want = append(want, p)
		r.Subscribe(p, "peer")
	}
	r.Subscribe("local", "app")
	if got := r.Prefixes("peer"); !slices.Equal(got, want) {
		t.Fatalf("Prefixes = %q", got)
	}
	if r.Count("peer") != 20 || r.Count("nobody") != 0 || r.Prefixes("nobody") != nil {
		t.Fatal("Count/Prefixes")
	}
	if m := r.Metrics(); m.Subscribers != 2 || m.Prefixes != 21 || m.Subscriptions != 21 {
		t.Fatalf("Metrics = %+v", m)
	}
	r.Unsubscribe("peer/03", "peer")
	if r.Count("peer") != 19 || slices.Contains(r.Prefixes("peer"), "peer/03") {
		t.Fatal("Unsubscribe from map form")
	}
	if n := r.RemoveSubscriber("peer"); n != 19 {
		t.Fatalf("RemoveSubscriber = %d", n)
	}
	if n := r.RemoveSubscriber("peer"); n != 0 {
		t.Fatalf("second RemoveSubscriber = %d", n)
	}
	if r.Len() != 1 || len(r.MatchString("peer/05", nil)) != 0 {
		t.Fatal("peer not removed")
	}
	if m := r.Metrics(); m.Nodes != 2 || m.Subscribers != 1 {
		t.Fatalf("trie not compacted: %+v", m)
	}
}

func TestIDReuse(t *testing.T) {
	r := mustNew[int](t, Options{})
	for s := range 100 {
		r.Subscribe("a", s)
		r.Subscribe("ab", s)
	}
	for s := range 100 {
		r.RemoveSubscriber(s)
	}
	for s := 100; s < 200; s++ {
		r.Subscribe("a", s)
	}
	if lim := r.snap.Load().idLimit; lim != 100 {
		t.Fatalf("idLimit = %d, want ids reused (100)", lim)
	}
}

// TestDedupLarge exercises the pooled bitset, used beyond 4096 subscriber ids.
func TestDedupLarge(t *testing.T) {
	r := mustNew[int](t, Options{CacheSize: -1})
	const n = 3 * 64 * stackBitsWords
	var cs []Change[int]
	for s := range n {
		cs = append(cs, Change[int]{OpSubscribe, "x", s}, Change[int]{OpSubscribe, "xy", s})
		if s%3 == 0 {
			cs = append(cs, Change[int]{OpSubscribe, "xyz", s})
		}
	}
	r.Apply(cs)
	for range 3 { // the pooled bitset must come back clean
		got := r.MatchString("xyz", nil)
		if len(got) != n {
			t.Fatalf("len = %d, want %d", len(got), n)
		}
		got = sorted(got)
		for i, s := range got {
			if s != i {
				t.Fatalf("got[%d] = %d", i, s)
			}
		}
	}
}

func TestCacheInvalidation(t *testing.T) {
	r := mustNew[int](t, Options{CacheSize: 8})
	topic := []byte("weir/x")
	r.Subscribe("weir/", 1)
	r.Match(topic, nil)
	before := r.Metrics().CacheMisses
	if got := r.Match(topic, nil); !slices.Equal(got, []int{1}) {
		t.Fatalf("got %v", got)
	}
	if r.Metrics().CacheMisses != before {
		t.Fatal("second Match of a topic missed the cache")
	}
	r.Subscribe("weir/x", 2)
	if got := sorted(r.Match(topic, nil)); !slices.Equal(got, []int{1, 2}) {
		t.Fatalf("after Subscribe: %v", got)
	}
	r.Unsubscribe("weir/", 1)
	if got := r.Match(topic, nil); !slices.Equal(got, []int{2}) {
		t.Fatalf("after Unsubscribe: %v", got)
	}
	// The topic buffer is a view the caller reuses: the cache must not keep it.
	copy(topic, "zzzz/x")
	if got := r.Match([]byte("weir/x"), nil); !slices.Equal(got, []int{2}) {
		t.Fatalf("cache kept the caller's buffer: %v", got)
	}
}

func TestCacheLimits(t *testing.T) {
	r := mustNew[int](t, Options{CacheMaxTopic: 4, CacheMaxResult: 1})
	r.Subscribe("a", 1)
	r.Subscribe("ab", 2)
	r.Subscribe("ab", 3)
	misses := func() uint64 { return r.Metrics().CacheMisses }
	r.MatchString("abcdef", nil) // too long: never cached, never counted
	if misses() != 0 {
		t.Fatal("long topic went through the cache")
	}
	// "ab" merges two nodes (3 subscribers > CacheMaxResult): not stored.
	r.MatchString("ab", nil)
	r.MatchString("ab", nil)
	if misses() != 2 {
		t.Fatalf("misses = %d, want 2 (large merged result not cached)", misses())
	}
	// "a" has one subscriber, within CacheMaxResult: cached.
	r.MatchString("a", nil)
	r.MatchString("a", nil)
	if misses() != 3 {
		t.Fatalf("misses = %d, want 3", misses())
	}
}

func TestOptions(t *testing.T) {
	var o Options
	o.EnsureDefaults()
	if o.CacheSize != DefaultCacheSize || o.CacheMaxTopic != DefaultCacheMaxTopic || o.CacheMaxResult != DefaultCacheMaxResult {
		t.Fatalf("defaults: %+v", o)
	}
	for _, bad := range []Options{{CacheSize: MaxCacheSize + 1}, {CacheMaxTopic: -1}, {CacheMaxResult: -1}} {
		if _, err := New[int](bad); !errors.Is(err, ErrInvalidOptions) {
			t.Errorf("New(%+v) error = %v", bad, err)
		}
	}
	for size, slots := range map[int]int{1: 2, 3: 4, 4096: 4096, 5000: 8192, -1: 0} {
		r := mustNew[int](t, Options{CacheSize: size})
		if 2*len(r.sets) != slots {
			t.Errorf("CacheSize %d: %d slots, want %d", size, 2*len(r.sets), slots)
		}
	}
}

// TestLeftSubscriberUnreachable checks that the router keeps no reference
// to a subscriber once it has left, though the trie's arrays still hold the
// garbage of the writes that removed it: they hold ids, and the id table's
// new version no longer names it.
func TestLeftSubscriberUnreachable(t *testing.T) {
	// Subscribers of 64 bytes: the allocator may pack objects of 16 bytes
	// or less into one block, which keep would then keep alive.
	type sub [64]byte
	r := mustNew[*sub](t, Options{CacheSize: -1}) // a cache entry would hold the result
	keep := new(sub)
	r.Subscribe("a", keep)
	gone := new(sub)
	wp := weak.Make(gone)
	r.Subscribe("ab", gone)
	r.Subscribe("b", gone)
	if got := r.MatchString("abc", nil); len(got) != 2 {
		t.Fatalf("Match = %v, want both subscribers", got)
	}
	if r.RemoveSubscriber(gone) != 2 {
		t.Fatal("RemoveSubscriber did not remove both prefixes")
	}
	gone = nil
	runtime.GC()
	if wp.Value() != nil {
		t.Error("the router still references a subscriber that left")
	}
	if got := r.MatchString("abc", nil); len(got) != 1 || got[0] != keep {
		t.Errorf("Match = %v, want the remaining subscriber", got)
	}
}

// TestCacheSets checks the 2-slot sets: two topics that share a set (here
// the only one) are both cached; a third evicts one of them, not both; after
// a write, a topic re-fills its own slot rather than taking a second one.
func TestCacheSets(t *testing.T) {
	r := mustNew[int](t, Options{CacheSize: 2})
	r.Subscribe("", 1)
	misses := func() uint64 { return r.Metrics().CacheMisses }
	r.MatchString("x", nil)
	r.MatchString("y", nil)
	for range 3 {
		r.MatchString("x", nil)
		r.MatchString("y", nil)
	}
	if misses() != 2 {
		t.Fatalf("misses = %d, want 2: two topics in one set must both stay cached", misses())
	}
	r.MatchString("z", nil) // evicts x or y
	topics := []string{r.sets[0][0].Load().topic, r.sets[0][1].Load().topic}
	slices.Sort(topics)
	if topics[0] == topics[1] || topics[1] != "z" {
		t.Fatalf("after an eviction the set holds %q, want z and one of x, y", topics)
	}
	r.Subscribe("w", 2) // invalidates both slots
	r.MatchString("w", nil)
	r.MatchString("w", nil)
	if e0, e1 := r.sets[0][0].Load(), r.sets[0][1].Load(); e0.topic == e1.topic {
		t.Fatalf("topic %q in both slots of its set", e0.topic)
	}
}

// TestMatchStringAddressReuse checks that MatchString's address hints stay
// exact when different topics live at the same address over time (a string
// viewing a reused buffer; normally a freed and reallocated string). The
// topics have 13 bytes (the hint compares with sameBytes) or 29 (it
// compares words, inline), and the ones that differ do so in their first
// and in their last 8 bytes.
func TestMatchStringAddressReuse(t *testing.T) {
	for _, tail := range []string{"", "/0123456789abcdef"} {
		r, err := New[int](Options{})
		if err != nil {
			t.Fatal(err)
		}
		r.Subscribe("alpha/", 1)
		r.Subscribe("bravo/", 2)
		buf := []byte("alpha/event-x" + tail)
		s := unsafe.String(&buf[0], len(buf))
		for i, tc := range []struct {
			topic string
			want  []int
		}{
			{"alpha/event-x", []int{1}},
			{"bravo/event-x", []int{2}},
			{"alpha/event-x", []int{1}},
			{"charl/event-x", nil},
			{"bravo/event-y", []int{2}},
		} {
			copy(buf, tc.topic+tail)
			for range 2 { // the second call hits the hint the first one left
				if got := sorted(r.MatchString(s, nil)); !slices.Equal(got, tc.want) {
					t.Fatalf("step %d: MatchString(%q) = %v, want %v", i, tc.topic+tail, got, tc.want)
				}
			}
		}
		// A write invalidates hints as it does cache entries.
		copy(buf, "alpha/event-x"+tail)
		r.Subscribe("alpha/event", 3)
		if got := sorted(r.MatchString(s, nil)); !slices.Equal(got, []int{1, 3}) {
			t.Fatalf("after a write: MatchString = %v, want [1 3]", got)
		}
	}
}

func TestSameBytes(t *testing.T) {
	for n := range 40 {
		a := strings.Repeat("x", n)
		if !sameBytes(a, strings.Clone(a)) {
			t.Fatalf("len %d: equal strings differ", n)
		}
		for i := range n {
			b := []byte(a)
			b[i] = 'y'
			if sameBytes(a, string(b)) {
				t.Fatalf("len %d: differing byte %d not seen", n, i)
			}
		}
		if sameBytes(a, a+"x") {
			t.Fatalf("len %d: different lengths equal", n)
		}
	}
}

// TestCompaction checks the writer's rebuild of the trie's arrays: it
// happens (the arrays move), it keeps them within compactFactor times the
// live trie (checkTrie), it never reuses arrays that a walk has pinned, it
// does reuse them once they are free, and when the router shrinks the
// arrays shrink with it.
func TestCompaction(t *testing.T) {
	r := mustNew[int](t, Options{})
	r.mu.slack = 0
	rng := rand.New(rand.NewPCG(5, 5))
	var live []Change[int]
	fresh := func() Change[int] {
		return Change[int]{Op: OpSubscribe, Prefix: randString(rng, 1+rng.IntN(12), "abcdefghij/"), Sub: rng.IntN(37)}
	}
	for len(live) < 2000 {
		if c := fresh(); r.Apply([]Change[int]{c}) == 1 {
			live = append(live, c)
		}
	}
	drop := func() {
		k := rng.IntN(len(live))
		r.Unsubscribe(live[k].Prefix, live[k].Sub)
		live[k] = live[len(live)-1]
		live = live[:len(live)-1]
	}
	backing := func() *uint64 { st := r.snap.Load().st; return &st.words[:cap(st.words)][0] }
	cur := backing()
	seen := map[*uint64]bool{cur: true}
	var moves, reuses int // compactions onto new arrays, and onto ones seen before
	var pinned *uint64    // arrays that must not be reused
	churn := func(n int) {
		for range n {
			drop()
			for {
				if c := fresh(); r.Apply([]Change[int]{c}) == 1 {
					live = append(live, c)
					break
				}
			}
			b := backing()
			switch {
			case b == cur:
			case b == pinned:
				t.Fatal("a compaction reused arrays that a walk pins")
			case seen[b]:
				reuses++
			default:
				moves++
				seen[b] = true
			}
			cur = b
		}
	}

	// A walk in progress pins its snapshot's arrays: however many
	// compactions pass, they are not reused, and the snapshot still gives
	// the results it gave.
	// (Pin a snapshot just after a compaction, so that its arrays are the
	// ones the writer goes on appending to, and retires.)
	for m := moves; moves == m; {
		churn(1)
	}
	old := r.snap.Load()
	pin := &old.arrs.pins[3].n
	pin.Add(1)
	pinned = cur
	topics := make([]string, 200)
	oldWant := make(map[string][]int)
	for i := range topics {
		topics[i] = randString(rng, 1+rng.IntN(16), "abcdefghij/")
		oldWant[topics[i]] = sortedMatch(r, topics[i])
	}
	moves, reuses = 0, 0
	churn(20000)
	if moves+reuses < 3 || !old.arrs.retired.Load() {
		t.Fatalf("%d compactions, old arrays retired %v: want 3 or more, and retired", moves+reuses, old.arrs.retired.Load())
	}
	for _, topic := range topics {
		got := collect(old, []byte(topic), nil)
		slices.Sort(got)
		if !slices.Equal(got, oldWant[topic]) {
			t.Fatalf("pinned snapshot: Match(%q) = %v, want %v", topic, got, oldWant[topic])
		}
	}
	pin.Add(-1)

	// Free arrays are reused: the writer alternates between two sets.
	pinned, reuses = nil, 0
	churn(20000)
	if reuses == 0 {
		t.Fatalf("no compaction reused the arrays (%d allocated new ones)", moves)
	}
	if err := checkTrie(r); err != nil {
		t.Fatal(err)
	}

	for len(live) > 10 {
		drop()
		if len(live)%100 == 0 {
			if err := checkTrie(r); err != nil {
				t.Fatalf("%d subscriptions: %v", len(live), err)
			}
		}
	}
	st := r.snap.Load().st
	if n := len(st.words); n > 3*recSize(8)*(2*len(live)+1) {
		t.Errorf("%d subscriptions left in %d words", len(live), n)
	}
	// Nor does the writer keep the large arrays of before as a spare.
	r.mu.Lock()
	defer r.mu.Unlock()
	if c := cap(r.mu.spare.words); c > 2*arrayRoom(r.mu.live.words, r.mu.slack) {
		t.Errorf("%d subscriptions left, a spare of %d words", len(live), c)
	}
}

// sortedMatch returns r's result for topic, sorted.
func sortedMatch(r *Router[int], topic string) []int {
	got := r.MatchString(topic, nil)
	slices.Sort(got)
	return got
}

// TestApplyUncomparable checks that a batch with a subscriber the index
// cannot hold (an interface value of a slice type) panics before it changes
// anything, leaving the router consistent.
func TestApplyUncomparable(t *testing.T) {
	r := mustNew[any](t, Options{})
	func() {
		defer func() {
			if recover() == nil {
				t.Fatal("Apply with an uncomparable subscriber did not panic")
			}
		}()
		r.Apply([]Change[any]{{OpSubscribe, "a", 1}, {OpSubscribe, "b", []int{1}}})
	}()
	if r.Len() != 0 || r.Count(1) != 0 {
		t.Fatalf("after the panic: Len %d, Count(1) %d; want nothing applied", r.Len(), r.Count(1))
	}
	if !r.Subscribe("a", 1) || len(r.MatchString("ab", nil)) != 1 || !r.Unsubscribe("a", 1) {
		t.Fatal("the router does not work after the panic")
	}
}
