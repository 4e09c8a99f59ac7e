//go:build faults

package faults

import (
	"encoding/binary"
	"os"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/weirio/weir/internal/testutil"
	"github.com/weirio/weir/node"
)

// Case 6: the soak. A publisher, a forwarding relay and a subscriber run
// at 80% of the path's maximum lossless rate (measured first, on this
// machine) for $WEIR_SOAK (perf/faults sets 10m); the live heap and the
// goroutine count are sampled and must stay flat after a warm-up, and
// every message must arrive once, in order. Without WEIR_SOAK the test is
// skipped: it is run by the script, not by CI.

// streamCheck follows one publisher's sequence numbers without keeping
// them (a soak must not grow its own heap): deliveries, gaps, and
// sequences at or below the last one (duplicates or reordering).
type streamCheck struct {
	n, lost, backwards atomic.Uint64
	next               uint64 // owned by the delivering event loop
	lastAt             atomic.Int64
	probes             atomic.Uint64
	credit             chan struct{} // a token every 256 deliveries
}

func (s *streamCheck) handler(m node.Message) {
	if string(m.Topic()) == "soak/probe" {
		s.probes.Add(1)
		return
	}
	v, err := m.Data()
	if err != nil || len(v.Bytes()) < 8 {
		panic("faults: undecodable soak message")
	}
	seq := binary.LittleEndian.Uint64(v.Bytes())
	switch {
	case seq == s.next:
	case seq > s.next:
		s.lost.Add(seq - s.next)
	default:
		s.backwards.Add(1)
		return
	}
	s.next = seq + 1
	if s.n.Add(1)%256 == 0 {
		select {
		case s.credit <- struct{}{}:
		default:
		}
	}
	s.lastAt.Store(time.Now().UnixNano())
}

type soakSample struct {
	at         time.Duration
	heap       uint64
	goroutines int
	delivered  uint64
}

func TestSoak(t *testing.T) {
	env := os.Getenv("WEIR_SOAK")
	if env == "" {
		t.Skip("the soak runs with WEIR_SOAK=<duration> (perf/faults sets 10m)")
	}
	dur, err := time.ParseDuration(env)
	if err != nil || dur < 10*time.Second {
		t.Fatalf("WEIR_SOAK=%q: want a duration of at least 10s", env)
	}
	r := newReport(t, "6.soak")
	relay := newNode(t, "relay", func(o *node.Options) { o.Forwarding = true })
	ra := listen(t, relay)
	// The publisher waits for room in its queue to the relay rather than
	// dropping: its rate is then what the relay takes.
	pub := newNode(t, "pub", func(o *node.Options) { o.PublishWait = 5 * time.Second })
	sub := newNode(t, "sub", nil)
	chk := &streamCheck{credit: make(chan struct{}, 1)}
	if _, err := sub.SubscribeFunc("soak/", chk.handler); err != nil {
		t.Fatal(err)
	}
	for _, n := range []*node.Node{pub, sub} {
		if err := n.Peer(ra); err != nil {
			t.Fatal(err)
		}
	}
	// The subscription has crossed the relay once a probe gets through.
	testutil.WaitFor(t, "a probe through the relay", func() bool {
		_ = pub.PublishBytes("soak/probe", nil)
		return chk.probes.Load() > 0
	})
	body := make([]byte, 64)
	var seq uint64
	publish := func() {
		seqPayload(body, seq)
		seq++
		if err := pub.PublishBytes("soak/x", body); err != nil {
			t.Fatal(err)
		}
	}
	var subPeer func() uint64 // frames the relay dropped for the subscriber
	for _, p := range relay.Peers() {
		if p.Name == "sub" {
			subPeer = func() uint64 { return p.Stats().Dropped }
		}
	}
	if subPeer == nil {
		t.Fatal("relay has no peer sub")
	}

	// Maximum rate: publish for 3s as fast as the subscriber takes
	// messages, with at most window of them in flight — fewer than the
	// relay queues (8192 frames), so the relay drops none and what is
	// measured is the path's lossless rate.
	const window, chunk = 4096, 512
	start := time.Now()
	for time.Since(start) < 3*time.Second {
		for seq-chk.n.Load() > window-chunk {
			select {
			case <-chk.credit:
			case <-time.After(testutil.Deadline):
				t.Fatalf("subscriber stuck at %d of %d", chk.n.Load(), seq)
			}
		}
		for range chunk {
			publish()
		}
	}
	testutil.WaitFor(t, "the burst delivered", func() bool { return chk.n.Load()+subPeer() >= seq })
	maxRate := float64(chk.n.Load()) / time.Duration(chk.lastAt.Load()-start.UnixNano()).Seconds()
	target := 0.8 * maxRate
	r.info("maximum relay rate (pub -> relay -> sub, 64 B, lossless)", "%.0f msgs/s (%d of %d dropped at the relay); soak at %.0f msgs/s for %v",
		maxRate, subPeer(), seq, target, dur)

	// The soak: every millisecond, publish what is due at the target rate,
	// but never more than window in flight — a publisher with end-to-end
	// flow control. Open loop, the publisher would take CPU the subscriber
	// needs (all three nodes share this machine's cores) and the relay
	// would be dropping rather than relaying. Sample every few seconds.
	every := max(time.Second, dur/120)
	warmup := max(10*time.Second, dur/10)
	runtime.GC()
	var samples []soakSample
	var ms runtime.MemStats
	seq0, n0, lost0 := seq, chk.n.Load(), chk.lost.Load()
	drop0 := subPeer()
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	sample := time.NewTicker(every)
	defer sample.Stop()
	start = time.Now()
	for elapsed := time.Duration(0); elapsed < dur; elapsed = time.Since(start) {
		select {
		case <-tick.C:
			due := seq0 + uint64(target*time.Since(start).Seconds())
			for seq < due && seq-chk.n.Load() < window {
				publish()
			}
		case <-sample.C:
			// The heap after a collection is what is live: a leak shows as
			// growth there, free of the sawtooth of garbage between cycles.
			runtime.GC()
			runtime.ReadMemStats(&ms)
			s := soakSample{at: elapsed, heap: ms.HeapInuse, goroutines: runtime.NumGoroutine(), delivered: chk.n.Load() - n0}
			samples = append(samples, s)
			t.Logf("soak %v: heap in use %.1f MiB, %d goroutines, %d delivered", s.at.Round(time.Second), mib(s.heap), s.goroutines, s.delivered)
		}
	}
	elapsed := time.Since(start)
	published := seq - seq0
	testutil.WaitFor(t, "the tail delivered", func() bool { return chk.n.Load()+subPeer() >= seq })
	delivered, lost := chk.n.Load()-n0, chk.lost.Load()-lost0

	// Flat: after the warm-up, the live heap's median over the last third
	// of the samples is within 10% (+2 MiB) of its median over the first
	// third and its peak within 50% (+8 MiB); the goroutine count stays
	// within 2 of its value at the end of the warm-up (transient timers).
	var after []soakSample
	for _, s := range samples {
		if s.at >= warmup {
			after = append(after, s)
		}
	}
	if len(after) < 6 {
		t.Fatalf("only %d samples after the warm-up", len(after))
	}
	third := len(after) / 3
	heapMed := func(ss []soakSample) float64 {
		xs := make([]float64, len(ss))
		for i, s := range ss {
			xs[i] = float64(s.heap)
		}
		return median(xs)
	}
	first, last := heapMed(after[:third]), heapMed(after[len(after)-third:])
	var peak uint64
	g0, gmax := after[0].goroutines, 0
	for _, s := range after {
		peak = max(peak, s.heap)
		gmax = max(gmax, s.goroutines)
	}
	rate := float64(published) / elapsed.Seconds()
	r.check("rate held", rate >= 0.85*target, "%.0f msgs/s for %v (target %.0f, 80%% of the maximum; ≥ 85%% of it)",
		rate, elapsed.Round(time.Second), target)
	r.check("heap in use flat after the warm-up", last <= 1.1*first+2<<20 && float64(peak) <= 1.5*first+8<<20,
		"median %.1f MiB (first third) → %.1f MiB (last third), peak %.1f MiB; %d samples after %v",
		first/(1<<20), last/(1<<20), mib(peak), len(after), warmup)
	r.check("goroutines flat after the warm-up", gmax <= g0+2 && after[len(after)-1].goroutines <= g0,
		"%d at the end of the warm-up, at most %d after, %d at the end", g0, gmax, after[len(after)-1].goroutines)
	r.check("every message once, in order", chk.backwards.Load() == 0 && lost == 0 && delivered == published,
		"%d of %d delivered, %d lost (%d dropped at the relay), %d backwards", delivered, published, lost, subPeer()-drop0, chk.backwards.Load())
}

func mib(b uint64) float64 { return float64(b) / (1 << 20) }
