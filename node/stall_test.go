package node

import (
	"testing"
	"time"

	"github.com/weirio/weir/frame"
	"github.com/weirio/weir/internal/testutil"
)

// TestStalledSubscriberDoesNotSlowOthers: one peer never reads; a healthy
// subscriber keeps receiving every message, the stalled peer's queue stays
// within its bound and the policy (drop_oldest) is applied and counted.
func TestStalledSubscriberDoesNotSlowOthers(t *testing.T) {
	pub := newNode(t, "pub", stallOptions)
	addr := listen(t, pub)
	elapsed := runStalled(t, pub, pub, addr)
	t.Logf("40 MB to a healthy subscriber alongside a stalled one in %v", elapsed)
}

// TestStalledSubscriberBehindRelay: as above, through a forwarding relay
// whose connections all share one event loop, so it forwards without
// copying (netio.Peer.Forward) while a subscriber's queue is idle; the
// stalled peer's frames go to its bounded queue, where the policy applies.
func TestStalledSubscriberBehindRelay(t *testing.T) {
	relay := newNode(t, "relay", func(o *Options) {
		stallOptions(o)
		o.Forwarding = true
		o.Net.Loops = 1
	})
	addr := listen(t, relay)
	pub := newNode(t, "pub", nil)
	_ = pub.Peer(addr)
	runStalled(t, pub, relay, addr)
}

const stallQueueBytes = 2 << 20

// stallOptions are the options of the node that serves the stalled peer.
func stallOptions(o *Options) {
	o.Net.QueueFrames = 1 << 20
	o.Net.QueueBytes = stallQueueBytes
	o.Net.SocketHighWater = 256 << 10
	o.Net.Limits.MaxFrame = 64 << 10
	// The stalled peer never sends: keepalive must not end the test early
	// on a slow machine (keepalive has its own tests in netio).
	o.Net.PeerTimeout = 10 * time.Minute
}

// runStalled connects a healthy subscriber and a stalled peer to serving
// (listening on addr), publishes 40 MB from pub in rounds, waiting for the
// healthy subscriber each round, and checks that it got every message in
// order while the stalled peer's queue stayed bounded and overflowed by
// policy. It returns how long the publishing took.
func runStalled(t *testing.T, pub, serving *Node, addr string) time.Duration {
	t.Helper()
	good := newNode(t, "good", nil)
	var c collector
	_, _ = good.SubscribeFunc("s/", c.fn)
	_ = good.Peer(addr)
	testutil.StalledPeer(t, addr, "stalled", frame.NodeID{0xee}, "s/")
	testutil.WaitFor(t, "both subscribers", func() bool {
		return peerWants(serving, "good", "s/1") && peerWants(serving, "stalled", "s/1") &&
			(pub == serving || peerWants(pub, serving.Name(), "s/1"))
	})

	// Publish in rounds and wait for the healthy subscriber each round: it
	// must keep up while the stalled peer's queue fills and overflows.
	body := make([]byte, 1024)
	const rounds, per = 40, 1000
	start := time.Now()
	for r := 0; r < rounds; r++ {
		for i := 0; i < per; i++ {
			copy(body, payload(uint32(r*per+i)))
			_ = pub.PublishBytes("s/1", body)
		}
		want := (r + 1) * per
		testutil.WaitFor(t, "healthy subscriber", func() bool { return c.count("s/1") >= want })
	}
	elapsed := time.Since(start)
	c.checkInOrder(t, "s/1", rounds*per)
	var stalledSeen bool
	for _, p := range serving.Peers() {
		st := p.Stats()
		switch p.Name {
		case "stalled":
			stalledSeen = true
			if st.Dropped == 0 {
				t.Errorf("stalled peer: nothing dropped (%+v)", st)
			}
			if st.QueuedBytes > stallQueueBytes {
				t.Errorf("stalled peer queue %d bytes beyond its bound %d", st.QueuedBytes, stallQueueBytes)
			}
		case "good":
			if st.Dropped != 0 {
				t.Errorf("healthy peer dropped %d", st.Dropped)
			}
		}
	}
	if !stalledSeen {
		t.Fatal("the stalled peer was disconnected under drop_oldest")
	}
	return elapsed
}
