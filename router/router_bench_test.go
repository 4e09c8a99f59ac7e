package router

import (
	"fmt"
	"math/rand/v2"
	"runtime"
	"runtime/metrics"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Benchmark data: topics shaped like a Zeek cluster's (a few roots, a
// second level of names, a numeric third level), subscribed by 64 peers.
var benchRoots = []string{"zeek/event/", "zeek/cluster/node/", "zeek/logs/", "weir/store/", "weir/pool/", "app/", "x/", "metrics/"}

const benchPeers = 64

// benchPairs returns n distinct (prefix, subscriber) pairs.
func benchPairs(rng *rand.Rand, n int) []Change[int] {
	seen := make(map[string]bool, n)
	out := make([]Change[int], 0, n)
	for len(out) < n {
		p := fmt.Sprintf("%sname%d/%d", benchRoots[rng.IntN(len(benchRoots))], rng.IntN(64), rng.IntN(1<<20))
		if rng.IntN(4) == 0 {
			p = p[:len(p)-rng.IntN(6)] // shorter prefixes too, so some nest
		}
		if seen[p] {
			continue
		}
		seen[p] = true
		out = append(out, Change[int]{Op: OpSubscribe, Prefix: p, Sub: rng.IntN(benchPeers)})
	}
	return out
}

// benchRouter returns a router with the given pairs and n topics that each
// extend one subscribed prefix, so every match has a result.
func benchRouter(b *testing.B, o Options, pairs []Change[int], rng *rand.Rand, n int) (*Router[int], [][]byte) {
	r, err := New[int](o)
	if err != nil {
		b.Fatal(err)
	}
	r.Apply(pairs)
	topics := make([][]byte, n)
	for i := range topics {
		topics[i] = []byte(pairs[rng.IntN(len(pairs))].Prefix + "/event")
	}
	return r, topics
}

func BenchmarkMatch(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 1))
	pairs := benchPairs(rng, 10_000)
	// A hit costs a hash and a compare of the topic, so it grows with the
	// topic's length: a typical cluster topic (30 bytes), a short and a
	// long one. The topics are fixed, not drawn, so that every run of a
	// case measures the same thing; each has one subscriber.
	cached := func(b *testing.B, topic string) *Router[int] {
		r, _ := benchRouter(b, Options{}, pairs, rng, 1)
		r.Subscribe(benchCachedPrefix, 1)
		b.ReportMetric(float64(len(topic)), "topic-bytes")
		return r
	}
	b.Run("cached", func(b *testing.B) {
		benchCached(b, cached(b, benchTopic), []byte(benchTopic))
	})
	b.Run("cached-short", func(b *testing.B) {
		benchCached(b, cached(b, benchTopicShort), []byte(benchTopicShort))
	})
	b.Run("cached-long", func(b *testing.B) {
		benchCached(b, cached(b, benchTopicLong), []byte(benchTopicLong))
	})
	b.Run("cached-string", func(b *testing.B) {
		r := cached(b, benchTopic)
		topic := benchTopic
		dst := make([]int, 0, benchPeers)
		b.ReportAllocs()
		for b.Loop() {
			dst = r.MatchString(topic, dst[:0])
		}
		if len(dst) != 1 {
			b.Fatalf("%d subscribers, want 1", len(dst))
		}
	})
	for _, tc := range []struct{ name, topic string }{
		{"cached-memo", benchTopic}, {"cached-memo-short", benchTopicShort}, {"cached-memo-long", benchTopicLong},
	} {
		b.Run(tc.name, func(b *testing.B) {
			r := cached(b, tc.topic)
			topic := []byte(tc.topic)
			var m Memo[int]
			dst := make([]int, 0, benchPeers)
			b.ReportAllocs()
			for b.Loop() {
				dst = r.MatchMemo(&m, topic, dst[:0])
			}
			if len(dst) != 1 {
				b.Fatalf("%d subscribers, want 1", len(dst))
			}
		})
	}
	// The cache is disabled: every call walks the 10k-prefix trie.
	b.Run("uncached-10k", func(b *testing.B) {
		r, topics := benchRouter(b, Options{CacheSize: -1}, pairs, rng, 4096)
		dst := make([]int, 0, benchPeers)
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			dst = r.Match(topics[i&4095], dst[:0])
			i++
		}
	})
	// Topics with several subscribed prefixes on their path need dedup.
	b.Run("uncached-dedup", func(b *testing.B) {
		r, topics := benchRouter(b, Options{CacheSize: -1}, pairs, rng, 4096)
		for s := range benchPeers {
			r.Subscribe("zeek/", s)
			r.Subscribe("zeek/event/", s)
		}
		dst := make([]int, 0, benchPeers)
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			dst = r.Match(topics[i&4095], dst[:0])
			i++
		}
	})
	// Every 256 matches an Apply that changes none of their results: each
	// entry is stale afterwards, and each topic's next match walks the trie
	// and refreshes its entry in place (an op is one match, and a 256th of
	// the Apply of one change to the 10k-prefix trie).
	b.Run("refill", func(b *testing.B) {
		r, topics := benchRouter(b, Options{}, pairs, rng, 256)
		flip := []Change[int]{{Op: OpSubscribe, Prefix: "unrelated/", Sub: 1}}
		dst := make([]int, 0, benchPeers)
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			if i&255 == 0 {
				r.Apply(flip)
				flip[0].Op ^= OpSubscribe ^ OpUnsubscribe
			}
			dst = r.Match(topics[i&255], dst[:0])
			i++
		}
	})
	// Far more distinct topics than cache slots: every call misses and
	// stores an entry (the allocation a miss may make).
	b.Run("miss", func(b *testing.B) {
		r, topics := benchRouter(b, Options{CacheSize: 256}, pairs, rng, 1<<14)
		dst := make([]int, 0, benchPeers)
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			dst = r.Match(topics[i&(1<<14-1)], dst[:0])
			i++
		}
	})
	b.Run("cached-parallel", func(b *testing.B) {
		r, topics := benchRouter(b, Options{}, pairs, rng, 256)
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			dst := make([]int, 0, benchPeers)
			i := 0
			for pb.Next() {
				dst = r.Match(topics[i&255], dst[:0])
				i++
			}
		})
	})
}

// The cached benchmarks' prefix and topics: no pair of benchPairs is a
// prefix of them.
const (
	benchCachedPrefix = "zeek/broker/"
	benchTopic        = "zeek/broker/node-12/new_conn/1"                 // 30 bytes
	benchTopicShort   = "zeek/broker/"                                   // 12 bytes
	benchTopicLong    = "zeek/broker/node-12/new_connection/weird/event" // 46 bytes
)

func benchCached(b *testing.B, r *Router[int], topic []byte) {
	dst := make([]int, 0, benchPeers)
	b.ReportAllocs()
	for b.Loop() {
		dst = r.Match(topic, dst[:0])
	}
	if len(dst) != 1 {
		b.Fatalf("%d subscribers, want 1", len(dst))
	}
}

// BenchmarkWrite measures changes per second, one change per call and 1000
// per Apply, on routers of 10k subscriptions and, to show what a working
// set that fits in the CPU cache gives, 1k. Each change is an unsubscribe or
// subscribe of a random pair, the worst case for locality.
func BenchmarkWrite(b *testing.B) {
	for _, tc := range []struct{ size, batch int }{{10_000, 1}, {10_000, 1000}, {1_000, 1000}} {
		b.Run(fmt.Sprintf("size=%dk/batch=%d", tc.size/1000, tc.batch), func(b *testing.B) {
			rng := rand.New(rand.NewPCG(2, 2))
			c := newChurner(b, rng, tc.size)
			b.ReportAllocs()
			n := 0
			start := time.Now()
			for b.Loop() {
				n += c.step(max(2, tc.batch), tc.batch)
			}
			b.ReportMetric(float64(n)/time.Since(start).Seconds(), "changes/s")
		})
	}
}

// BenchmarkJoinLeave measures a subscriber leaving and another joining, one
// Apply each, on routers of 1k and 100k subscribers with one prefix each
// (the node's local subscriptions): the changes that copy the path to an id
// in the id table as well as the trie's. ns/op and B/op are per join or
// leave.
func BenchmarkJoinLeave(b *testing.B) {
	for _, n := range []int{1_000, 100_000} {
		b.Run(fmt.Sprintf("size=%dk", n/1000), func(b *testing.B) {
			r, err := New[*int](Options{})
			if err != nil {
				b.Fatal(err)
			}
			subs := make([]*int, n)
			prefixes := make([]string, n)
			cs := make([]Change[*int], n)
			for i := range n {
				subs[i], prefixes[i] = new(int), fmt.Sprintf("local/topic/%d", i)
				cs[i] = Change[*int]{Op: OpSubscribe, Prefix: prefixes[i], Sub: subs[i]}
			}
			r.Apply(cs)
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				// Subscriber k leaves, then joins again: the router keeps
				// its size.
				k := i / 2 % n
				if i%2 == 0 {
					r.Unsubscribe(prefixes[k], subs[k])
				} else {
					r.Subscribe(prefixes[k], subs[k])
				}
				i++
			}
		})
	}
}

// churner keeps a router at a steady size: each step unsubscribes random
// live pairs and subscribes as many fresh ones.
type churner struct {
	r          *Router[int]
	rng        *rand.Rand
	live, dead []Change[int]
	buf        []Change[int]
}

func newChurner(b *testing.B, rng *rand.Rand, size int) *churner {
	pairs := benchPairs(rng, 2*size)
	c := &churner{rng: rng, live: pairs[:size], dead: pairs[size:]}
	var err error
	if c.r, err = New[int](Options{}); err != nil {
		b.Fatal(err)
	}
	c.r.Apply(c.live)
	return c
}

// step builds n changes (n even: n/2 unsubscribes of live pairs, n/2
// subscribes of fresh ones), applies them perCall at a time and returns n.
func (c *churner) step(n, perCall int) int {
	c.buf = c.buf[:0]
	for i := 0; i < n; i += 2 {
		li, di := c.rng.IntN(len(c.live)), c.rng.IntN(len(c.dead))
		out, in := c.live[li], c.dead[di]
		c.live[li], c.dead[di] = in, out
		c.buf = append(c.buf, Change[int]{OpUnsubscribe, out.Prefix, out.Sub}, Change[int]{OpSubscribe, in.Prefix, in.Sub})
	}
	for i := 0; i < n; i += perCall {
		if c.r.Apply(c.buf[i:i+perCall]) != perCall {
			panic("churn change had no effect")
		}
	}
	return n
}

// BenchmarkChurn measures readers matching (a working set of 256 topics,
// so mostly cache hits) while one writer applies batches of 1000 random
// changes to a router of 10k (or 1k) subscriptions. There are GOMAXPROCS-1
// readers (at least one), so on 2 cores reader and writer each have a core,
// and what the readers lose is what the writer costs them through memory
// traffic, GC and cache invalidation. ns/op is per match per reader;
// matches/s is the readers' total, to be compared with writer=none;
// changes/s is the writer's.
//
//   - writer=none:  no writer (the baseline).
//   - writer=busy:  a control: the writer's goroutine burns CPU without
//     touching the router or allocating, so what readers lose here is the
//     machine's cost of a second busy core (shared caches, memory, a
//     hypervisor's scheduling), not the router's.
//   - writer=1M/s:  the writer paced at 1M changes/s (a batch per ms), or
//     flat out if it cannot keep that pace.
//   - writer=max:   the writer unpaced.
func BenchmarkChurn(b *testing.B) {
	for _, size := range []int{10_000, 1_000} {
		for _, mode := range []struct {
			name string
			rate int // changes/s; 0 none, -1 unpaced
		}{{"none", 0}, {"busy", busyWriter}, {"1M/s", 1_000_000}, {"max", -1}} {
			b.Run(fmt.Sprintf("size=%dk/writer=%s", size/1000, mode.name), func(b *testing.B) {
				benchChurn(b, size, mode.rate)
			})
		}
	}
}

// BenchmarkChurnRatio measures what BenchmarkChurn's writer=1M/s case
// costs the readers within one run, as a ratio: the writer cycles through
// 50 ms of rest, 50 ms of churn (paced at 1.1M changes/s, or flat out if it
// cannot keep that pace) and 50 ms of busy work that touches no memory (the
// writer=busy control) while the readers match throughout, and
// readers-kept-% is the readers' rate during churn over their rate at
// rest. busy-kept-% is their rate during the busy phases over their rate at
// rest: what a second busy core costs them on this machine whatever it does
// (on a VM whose vCPUs share a physical core, a lot), which the churn
// phases pay too. Comparing separate runs (writer=none against
// writer=1M/s) mixes in the machine's drift between them, which on a
// shared VM is as large as the effect; alternating phases share it.
// changes/s is the writer's rate during its churn phases, each counted
// until its next batch was due (or until its last batch ended, if that was
// later): a writer that keeps the pace shows 1.1M, and the sleep past a
// phase's end, which the timer stretches by a fraction of a millisecond,
// does not count against it.
// (The pace is 10% above the goal of 1M so that a writer that keeps the
// goal's pace shows it: a late timer at the end of a phase costs up to a
// batch, 1-2% of the phase.)
//
// readers-kept-median-% is the median over the run's pairs of adjacent
// phases (rest, then churn) of the same ratio within each pair, the first
// and last cycles left out (the readers start and stop within them). It is
// the figure to read on a shared VM: a host that stops the VM's vCPU for a
// tenth of a second, which this one does, takes two points off a whole
// 2-second run's readers-kept-% if it falls in a churn phase, but changes
// one pair of thirteen.
//
// readers-kept-cpu-% (Linux) is the ratio of the readers' matches per
// second of their own threads' CPU time (CLOCK_THREAD_CPUTIME_ID, read at
// each phase change), churn over rest: what the writer costs each match,
// the router's share of the loss, without the time the host or the kernel
// took the readers' cores away. The wall-clock figures less this one are
// the machine's share.
func BenchmarkChurnRatio(b *testing.B) {
	for _, size := range []int{10_000, 1_000} {
		b.Run(fmt.Sprintf("size=%dk", size/1000), func(b *testing.B) { benchChurnRatio(b, size) })
	}
}

func benchChurnRatio(b *testing.B, size int) {
	const (
		batch = 1000
		rate  = 1_100_000
		half  = 50 * time.Millisecond // each phase
		every = 256                   // matches between a reader's phase checks
		most  = 1 << 12               // phases tracked one by one (200 s)
	)
	c, topics, readers := churnSetup(b, size)
	var phase atomic.Uint64 // its kind is phase%3: rest, churn or busy
	var done atomic.Bool
	var phaseNs [3]int64
	perNs := make([]int64, most) // each phase's length
	var changes, writerNs int64
	var ctl sync.WaitGroup
	ctl.Go(func() {
		period := time.Second * batch / rate
		for !done.Load() {
			start := time.Now()
			switch phase.Load() % 3 {
			case churnPhase:
				next, end := start, start
				for time.Since(start) < half && !done.Load() {
					changes += int64(c.step(batch, batch))
					end, next = time.Now(), next.Add(period)
					if d := next.Sub(end); d > 0 {
						time.Sleep(d)
					}
				}
				if end.After(next) {
					next = end // behind the pace: the time it took
				}
				writerNs += int64(next.Sub(start))
			case busyPhase:
				busyWork(func() bool { return time.Since(start) >= half || done.Load() })
			case restPhase:
				time.Sleep(half)
			}
			p := phase.Load()
			phaseNs[p%3] += int64(time.Since(start))
			if p < most {
				perNs[p] = int64(time.Since(start))
			}
			phase.Add(1)
		}
	})
	counts := make([][3]int64, readers)
	perCount := make([][]int64, readers) // matches per reader per phase
	for g := range perCount {
		perCount[g] = make([]int64, most)
	}
	cpu := make([][3]int64, readers) // each reader's thread CPU time per kind of phase
	b.ReportAllocs()
	b.ResetTimer()
	var wg sync.WaitGroup
	for g := range readers {
		wg.Go(func() {
			runtime.LockOSThread()
			defer runtime.UnlockOSThread()
			dst := make([]int, 0, benchPeers)
			p := phase.Load()
			t, _ := threadCPU()
			n := 0
			for i := range b.N {
				dst = c.r.Match(topics[(i+g*64)&255], dst[:0])
				if n++; n == every {
					counts[g][p%3] += int64(n)
					if p < most {
						perCount[g][p] += int64(n)
					}
					n = 0
					if q := phase.Load(); q != p {
						now, _ := threadCPU()
						cpu[g][p%3] += now - t
						t, p = now, q
					}
				}
			}
			counts[g][p%3] += int64(n)
			now, _ := threadCPU()
			cpu[g][p%3] += now - t
		})
	}
	wg.Wait()
	b.StopTimer()
	done.Store(true)
	ctl.Wait()
	var rest, churn, busy int64
	for _, c := range counts {
		rest, churn, busy = rest+c[restPhase], churn+c[churnPhase], busy+c[busyPhase]
	}
	if slices.Contains(phaseNs[:], 0) || rest == 0 {
		return // too short a run for every kind of phase (the framework's first tries)
	}
	restRate := float64(rest) / float64(phaseNs[restPhase])
	churnRate := float64(churn) / float64(phaseNs[churnPhase])
	b.ReportMetric(100*churnRate/restRate, "readers-kept-%")
	b.ReportMetric(100*float64(busy)/float64(phaseNs[busyPhase])/restRate, "busy-kept-%")
	// The same by the readers' own CPU time: what the writer costs each
	// match, without the time the host gave the readers' threads to others.
	var restCPU, churnCPU int64
	for _, c := range cpu {
		restCPU, churnCPU = restCPU+c[restPhase], churnCPU+c[churnPhase]
	}
	if _, ok := threadCPU(); ok && restCPU > 0 && churnCPU > 0 {
		b.ReportMetric(100*(float64(churn)/float64(churnCPU))/(float64(rest)/float64(restCPU)), "readers-kept-cpu-%")
	}
	last := 0 // the last phase, which the readers left before it ended
	for p, ns := range perNs {
		if ns > 0 {
			last = p
		}
	}
	var pairs []float64
	for p := 3; p+1 < last; p += 3 {
		var rest, churn int64
		for g := range perCount {
			rest, churn = rest+perCount[g][p], churn+perCount[g][p+1]
		}
		if rest > 0 && perNs[p] > 0 && perNs[p+1] > 0 {
			pairs = append(pairs, 100*(float64(churn)/float64(perNs[p+1]))/(float64(rest)/float64(perNs[p])))
		}
	}
	if len(pairs) >= 3 {
		slices.Sort(pairs)
		b.ReportMetric(pairs[len(pairs)/2], "readers-kept-median-%")
	}
	b.ReportMetric(float64(changes)/(float64(writerNs)/1e9), "changes/s")
}

// busyWriter is the rate of benchChurn's writer=busy control.
const busyWriter = -2

// The kinds of benchChurnRatio's phases, phase%3.
const (
	restPhase = iota
	churnPhase
	busyPhase
)

// busySink keeps the busy writer's arithmetic from being optimized away.
var busySink atomic.Uint64

// busyWork keeps its core busy without touching memory (a chain of
// multiplies, in steps of 1000) until stop reports true: the busy control
// of the churn benchmarks.
func busyWork(stop func() bool) {
	x := uint64(1)
	for !stop() {
		for range 1000 {
			x = x*6364136223846793005 + 1442695040888963407
		}
	}
	busySink.Store(x)
}

// churnSetup returns the churn benchmarks' router of size subscriptions
// (with its churner), their readers' 256 topics (each extends a live
// prefix) and the number of readers: GOMAXPROCS-1, at least one, so that
// on 2 cores reader and writer each have a core.
func churnSetup(b *testing.B, size int) (*churner, [][]byte, int) {
	rng := rand.New(rand.NewPCG(3, 3))
	c := newChurner(b, rng, size)
	topics := make([][]byte, 256)
	for i := range topics {
		topics[i] = []byte(c.live[rng.IntN(len(c.live))].Prefix + "/event")
	}
	return c, topics, max(1, runtime.GOMAXPROCS(0)-1)
}

func benchChurn(b *testing.B, size, rate int) {
	const batch = 1000
	c, topics, readers := churnSetup(b, size)

	var stop atomic.Bool
	var changes atomic.Int64
	var writer sync.WaitGroup
	switch rate {
	case 0:
	case busyWriter:
		writer.Go(func() { busyWork(stop.Load) })
	default:
		writer.Go(func() {
			var period time.Duration
			if rate > 0 {
				period = time.Second * batch / time.Duration(rate)
			}
			next := time.Now()
			for !stop.Load() {
				changes.Add(int64(c.step(batch, batch)))
				if period > 0 {
					next = next.Add(period)
					if d := time.Until(next); d > 0 {
						time.Sleep(d)
					}
				}
			}
		})
	}
	b.ReportAllocs()
	b.ResetTimer()
	changes.Store(0)
	start := time.Now()
	var wg sync.WaitGroup
	for g := range readers {
		wg.Go(func() {
			dst := make([]int, 0, benchPeers)
			for i := range b.N {
				dst = c.r.Match(topics[(i+g*64)&255], dst[:0])
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start).Seconds()
	n := changes.Load()
	b.StopTimer()
	stop.Store(true)
	writer.Wait()
	b.ReportMetric(float64(b.N*readers)/elapsed, "matches/s")
	b.ReportMetric(float64(n)/elapsed, "changes/s")
}

// BenchmarkMemory reports the router's heap per subscription at 100k
// subscriptions (B/sub), for a peer-filter shape (64 subscribers with many
// prefixes each) and a local-subscriber shape (one prefix each). The prefix
// strings are the caller's and exist before the measurement: the subscriber
// index keeps references to them, so they are not counted, but the trie's
// copies of their bytes (its labels) are. The figure includes the trie's
// garbage and spare arrays as they are at the end, which is up to about
// three times the live trie's size (see the package doc).
func BenchmarkMemory(b *testing.B) {
	const n = 100_000
	for _, shape := range []struct {
		name string
		sub  func(i int, c Change[int]) int
	}{
		{"peers", func(_ int, c Change[int]) int { return c.Sub }},
		{"local", func(i int, _ Change[int]) int { return i }},
	} {
		b.Run(shape.name, func(b *testing.B) {
			pairs := benchPairs(rand.New(rand.NewPCG(4, 4)), n)
			for i := range pairs {
				pairs[i].Sub = shape.sub(i, pairs[i])
			}
			var perSub, prefixLen float64
			for _, p := range pairs {
				prefixLen += float64(len(p.Prefix))
			}
			for b.Loop() {
				var before, after runtime.MemStats
				runtime.GC()
				runtime.ReadMemStats(&before)
				r, err := New[int](Options{})
				if err != nil {
					b.Fatal(err)
				}
				for i := 0; i < n; i += 1000 {
					r.Apply(pairs[i : i+1000])
				}
				runtime.GC()
				runtime.ReadMemStats(&after)
				perSub = float64(after.HeapAlloc-before.HeapAlloc) / n
				if r.Len() != n {
					b.Fatalf("Len = %d", r.Len())
				}
				runtime.KeepAlive(r)
			}
			b.ReportMetric(perSub, "B/sub")
			b.ReportMetric(prefixLen/n, "prefix-bytes")
		})
	}
}

// BenchmarkMemoryChurn reports the heap in use per subscription (live and
// not yet collected objects, and the unused parts of their spans: what the
// process holds for the router) while a router of 100k subscriptions (the
// peers shape of BenchmarkMemory) churns at a steady size, averaged over the
// second million of two million changes in batches of 1000.
func BenchmarkMemoryChurn(b *testing.B) {
	const n, batches = 100_000, 2000
	rng := rand.New(rand.NewPCG(4, 4))
	pairs := benchPairs(rng, 2*n)
	samples := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}, {Name: "/memory/classes/heap/unused:bytes"}}
	inUse := func() float64 {
		metrics.Read(samples)
		return float64(samples[0].Value.Uint64() + samples[1].Value.Uint64())
	}
	var perSub float64
	for b.Loop() {
		c := &churner{rng: rng, live: slices.Clone(pairs[:n]), dead: slices.Clone(pairs[n:])}
		runtime.GC()
		base := inUse()
		var err error
		if c.r, err = New[int](Options{}); err != nil {
			b.Fatal(err)
		}
		for i := 0; i < n; i += 1000 {
			c.r.Apply(c.live[i : i+1000])
		}
		var sum float64
		for k := range batches {
			c.step(1000, 1000)
			if k >= batches/2 {
				sum += inUse() - base
			}
		}
		perSub = sum / (batches / 2) / n
	}
	b.ReportMetric(perSub, "inuse-B/sub")
}
