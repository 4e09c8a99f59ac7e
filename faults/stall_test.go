//go:build faults

package faults

import (
	"sync/atomic"
	"testing"
	"time"

	"github.com/weirio/weir/frame"
	"github.com/weirio/weir/internal/testutil"
	"github.com/weirio/weir/netio"
	"github.com/weirio/weir/node"
)

// Case 2: a subscriber that stops reading. node's
// TestStalledSubscriberDoesNotSlowOthers checks that a healthy subscriber
// still gets every message; this case measures what the stalled peer
// costs the healthy one in rate, and checks both policies.

const (
	stallQueueBytes = 4 << 20
	stallRound      = 2000    // messages per round
	stallBody       = 1 << 10 // bytes per message
)

// stallSetup is a publisher, a healthy subscriber to "s/" (the one
// measured), a stalled peer subscribed to "s/b/" and a second healthy
// subscriber to "s/c/": a message on "s/a/…" reaches the measured
// subscriber alone, one on "s/b/…" also the stalled peer, one on "s/c/…"
// also the second healthy subscriber.
type stallSetup struct {
	t       *testing.T
	pub     *node.Node
	got     *seqs
	rounds  roundCounter
	next    uint64
	body    []byte
	stalled *netio.Peer
	good    *netio.Peer
}

// roundCounter signals when the healthy subscriber has received target
// messages, so a round is timed to the message rather than to a polling
// interval.
type roundCounter struct {
	n, target atomic.Int64
	hit       chan struct{}
}

func (c *roundCounter) add() {
	if c.n.Add(1) == c.target.Load() {
		select {
		case c.hit <- struct{}{}:
		default:
		}
	}
}

func newStallSetup(t *testing.T, policy netio.Policy) *stallSetup {
	s := &stallSetup{t: t, got: newSeqs(), body: make([]byte, stallBody)}
	s.rounds.hit = make(chan struct{}, 1)
	s.pub = newNode(t, "pub", func(o *node.Options) {
		o.Net.QueueFrames = 1 << 20
		o.Net.QueueBytes = stallQueueBytes
		o.Net.SocketHighWater = 256 << 10
		o.Net.Limits.MaxFrame = 64 << 10
		o.Net.Policy = policy
		// The stalled peer never answers pings: keepalive must not end the
		// case early on a slow machine (keepalive has its own tests).
		o.Net.PeerTimeout = 10 * time.Minute
	})
	addr := listen(t, s.pub)
	good := newNode(t, "good", nil)
	if _, err := good.SubscribeFunc("s/", func(m node.Message) { s.got.handler(m); s.rounds.add() }); err != nil {
		t.Fatal(err)
	}
	if err := good.Peer(addr); err != nil {
		t.Fatal(err)
	}
	good2 := newNode(t, "good2", nil)
	if _, err := good2.SubscribeFunc("s/c/", func(node.Message) {}); err != nil {
		t.Fatal(err)
	}
	if err := good2.Peer(addr); err != nil {
		t.Fatal(err)
	}
	testutil.StalledPeer(t, addr, "stalled", frame.NodeID{0xee}, "s/b/")
	st := newStatusLog(s.pub)
	testutil.WaitFor(t, "all subscribers", func() bool { return st.up("good", 0) && st.up("good2", 0) && st.up("stalled", 0) })
	for _, p := range s.pub.Peers() {
		switch p.Name {
		case "good":
			s.good = p
		case "stalled":
			s.stalled = p
		}
	}
	return s
}

// round publishes stallRound messages on topic and returns how long the
// healthy subscriber took to receive them all.
func (s *stallSetup) round(topic string) time.Duration {
	s.t.Helper()
	s.rounds.target.Store(s.rounds.n.Load() + stallRound)
	start := time.Now()
	for range stallRound {
		seqPayload(s.body, s.next)
		s.next++
		if err := s.pub.PublishBytes(topic, s.body); err != nil {
			s.t.Fatal(err)
		}
	}
	select {
	case <-s.rounds.hit:
	case <-time.After(testutil.Deadline):
		s.t.Fatalf("healthy subscriber got %d of %d messages", s.rounds.n.Load(), s.rounds.target.Load())
	}
	return time.Since(start)
}

// TestStalledSubscriberDropOldest: under the default policy the stalled
// peer stays connected, its queue stays within its bound and drops are
// counted; the healthy subscriber keeps its rate and loses nothing.
func TestStalledSubscriberDropOldest(t *testing.T) {
	r := newReport(t, "2.stalled-sub/drop_oldest")
	s := newStallSetup(t, netio.DropOldest)
	// Fill the stalled peer's socket and queue first: what is measured is
	// the steady state, in which every message to it drops an older one.
	warm := 0
	for s.stalled.Stats().Dropped == 0 {
		if warm++; warm > 200 {
			t.Fatalf("nothing dropped for the stalled peer after %d messages: %+v", warm*stallRound, s.stalled.Stats())
		}
		s.round("s/b/warm")
	}
	// Interleave rounds to the measured subscriber alone (a), with the
	// stalled peer (b) and with a healthy second subscriber (c), so the
	// three of a triple see the same machine; compare within each triple
	// and take the median of the ratios. What a stalled peer must not cost
	// is more than any second subscriber does: one copy of each message
	// into its queue (there, dropping an older one). Without a second
	// subscriber at all the publisher does less work, which the second
	// ratio shows.
	//
	// These are wall-clock rates on a shared machine: a host that takes a
	// core away for part of a measurement can pull a median under its bound
	// (once in some dozens of CI runs, 0.87 against 0.90). So a measurement
	// that misses is made once more, and the second one decides. A stalled
	// peer that held the publisher up would miss both, and by far.
	const triples = 25
	var maxQueued int64
	measure := func() (mbc, mba float64, a, b, c []float64) {
		var bc, ba []float64
		for range triples {
			ra := stallRound / s.round("s/a/1").Seconds()
			rb := stallRound / s.round("s/b/1").Seconds()
			maxQueued = max(maxQueued, s.stalled.Stats().QueuedBytes)
			rc := stallRound / s.round("s/c/1").Seconds()
			a, b, c = append(a, ra), append(b, rb), append(c, rc)
			bc, ba = append(bc, rb/rc), append(ba, rb/ra)
		}
		return median(bc), median(ba), a, b, c
	}
	mbc, mba, a, b, c := measure()
	if !raceEnabled && (mbc < 0.9 || mba < 0.5) {
		r.info("first measurement, made again", "median ratios %.2f (stalled/healthy) and %.2f (stalled/alone)", mbc, mba)
		mbc, mba, a, b, c = measure()
	}
	rate := r.check
	if raceEnabled {
		rate = func(what string, _ bool, format string, args ...any) bool {
			r.info(what+" (not checked under -race)", format, args...)
			return true
		}
	}
	rate("healthy rate beside a stalled peer / beside a healthy one", mbc >= 0.9,
		"median ratio %.2f (≥ 0.90); median rates %.0f / %.0f msgs/s", mbc, median(b), median(c))
	// A publisher held up by the stalled peer would fall far below this.
	rate("healthy rate beside a stalled peer / alone", mba >= 0.5,
		"median ratio %.2f (≥ 0.50: the cost of a second copy); median rates %.0f / %.0f msgs/s", mba, median(b), median(a))
	st := s.stalled.Stats()
	r.check("stalled peer's queue within its bound", maxQueued <= stallQueueBytes && st.QueuedBytes <= stallQueueBytes,
		"max %d B sampled, bound %d B", maxQueued, stallQueueBytes)
	r.check("drop_oldest applied and counted", st.Dropped > 0 && st.Overflows == 0 && hasPeer(s.pub, "stalled"),
		"%d frames dropped, still connected", st.Dropped)
	total := s.next
	_, dups, reorders, _ := s.got.stats()
	gs := s.good.Stats()
	r.check("healthy subscriber: every message once, in order", s.got.has(0, total) && dups == 0 && reorders == 0 && gs.Dropped == 0,
		"%d of %d, %d duplicates, %d out of order, %d dropped", s.got.received(0, total), total, dups, reorders, gs.Dropped)
}

// TestStalledSubscriberDisconnect: under the disconnect policy the stalled
// peer is cut off with error(limit) once its queue is full, counted; the
// healthy subscriber is unaffected.
func TestStalledSubscriberDisconnect(t *testing.T) {
	r := newReport(t, "2.stalled-sub/disconnect")
	s := newStallSetup(t, netio.Disconnect)
	var rounds int
	var maxQueued int64
	for hasPeer(s.pub, "stalled") {
		if rounds++; rounds > 200 {
			t.Fatalf("stalled peer still connected after %d messages: %+v", rounds*stallRound, s.stalled.Stats())
		}
		s.round("s/b/1")
		maxQueued = max(maxQueued, s.stalled.Stats().QueuedBytes)
	}
	// The healthy subscriber goes on as before.
	for range 5 {
		s.round("s/b/1")
	}
	ns := s.pub.NetStats()
	st := s.stalled.Stats()
	r.check("disconnect applied and counted", st.Overflows == 1 && ns.Limits.Queue == 1 && ns.Failures[frame.CodeLimit] == 1,
		"stalled peer cut after %d msgs: overflows %d, limits.queue %d, failures[limit] %d",
		uint64(rounds)*stallRound, st.Overflows, ns.Limits.Queue, ns.Failures[frame.CodeLimit])
	r.check("stalled peer's queue within its bound", maxQueued <= stallQueueBytes,
		"max %d B sampled until the cut, bound %d B", maxQueued, stallQueueBytes)
	total := s.next
	_, dups, reorders, _ := s.got.stats()
	gs := s.good.Stats()
	r.check("healthy subscriber: connected, every message once, in order",
		hasPeer(s.pub, "good") && gs.Overflows == 0 && s.got.has(0, total) && dups == 0 && reorders == 0,
		"%d of %d, %d duplicates, %d out of order", s.got.received(0, total), total, dups, reorders)
}
