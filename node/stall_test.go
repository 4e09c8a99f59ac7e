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
	const queueBytes = 2 << 20
	pub := newNode(t, "pub", func(o *Options) {
		o.Net.QueueFrames = 1 << 20
		o.Net.QueueBytes = queueBytes
		o.Net.SocketHighWater = 256 << 10
		o.Net.Limits.MaxFrame = 64 << 10
		// The stalled peer never sends: keepalive must not end the test early
		// on a slow machine (keepalive has its own tests in netio).
		o.Net.PeerTimeout = 10 * time.Minute
	})
	addr := listen(t, pub)
	good := newNode(t, "good", nil)
	var c collector
	_, _ = good.SubscribeFunc("s/", c.fn)
	_ = good.Peer(addr)
	testutil.StalledPeer(t, addr, "stalled", frame.NodeID{0xee}, "s/")
	testutil.WaitFor(t, "both subscribers", func() bool { return peerWants(pub, "good", "s/1") && peerWants(pub, "stalled", "s/1") })

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
	if got := c.count("s/1"); got != rounds*per {
		t.Fatalf("healthy subscriber got %d of %d", got, rounds*per)
	}
	c.mu.Lock()
	for i, s := range c.seqs["s/1"] {
		if s != uint32(i) {
			c.mu.Unlock()
			t.Fatalf("healthy subscriber: message %d has seq %d", i, s)
		}
	}
	c.mu.Unlock()
	var stalledSeen bool
	for _, p := range pub.Peers() {
		st := p.Stats()
		switch p.Name {
		case "stalled":
			stalledSeen = true
			if st.Dropped == 0 {
				t.Errorf("stalled peer: nothing dropped (%+v)", st)
			}
			if st.QueuedBytes > queueBytes {
				t.Errorf("stalled peer queue %d bytes beyond its bound %d", st.QueuedBytes, queueBytes)
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
	t.Logf("40 MB to a healthy subscriber alongside a stalled one in %v", elapsed)
}

// TestStalledSubscriberBehindRelay: as above, through a forwarding relay
// whose connections all share one event loop, so it forwards without
// copying (netio.Peer.Forward) while a subscriber's queue is idle; the
// stalled peer's frames go to its bounded queue, where the policy applies.
func TestStalledSubscriberBehindRelay(t *testing.T) {
	const queueBytes = 2 << 20
	relay := newNode(t, "relay", func(o *Options) {
		o.Forwarding = true
		o.Net.Loops = 1
		o.Net.QueueFrames = 1 << 20
		o.Net.QueueBytes = queueBytes
		o.Net.SocketHighWater = 256 << 10
		o.Net.Limits.MaxFrame = 64 << 10
		o.Net.PeerTimeout = 10 * time.Minute
	})
	addr := listen(t, relay)
	pub := newNode(t, "pub", nil)
	good := newNode(t, "good", nil)
	var c collector
	_, _ = good.SubscribeFunc("s/", c.fn)
	_ = good.Peer(addr)
	_ = pub.Peer(addr)
	testutil.StalledPeer(t, addr, "stalled", frame.NodeID{0xee}, "s/")
	testutil.WaitFor(t, "both subscribers", func() bool {
		return peerWants(relay, "good", "s/1") && peerWants(relay, "stalled", "s/1") && peerWants(pub, "relay", "s/1")
	})
	body := make([]byte, 1024)
	const rounds, per = 40, 1000
	for r := 0; r < rounds; r++ {
		for i := 0; i < per; i++ {
			copy(body, payload(uint32(r*per+i)))
			_ = pub.PublishBytes("s/1", body)
		}
		want := (r + 1) * per
		testutil.WaitFor(t, "healthy subscriber", func() bool { return c.count("s/1") >= want })
	}
	c.mu.Lock()
	for i, s := range c.seqs["s/1"] {
		if s != uint32(i) {
			c.mu.Unlock()
			t.Fatalf("healthy subscriber: message %d has seq %d", i, s)
		}
	}
	n := len(c.seqs["s/1"])
	c.mu.Unlock()
	if n != rounds*per {
		t.Fatalf("healthy subscriber got %d of %d", n, rounds*per)
	}
	var stalledSeen bool
	for _, p := range relay.Peers() {
		st := p.Stats()
		switch p.Name {
		case "stalled":
			stalledSeen = true
			if st.Dropped == 0 {
				t.Errorf("stalled peer: nothing dropped (%+v)", st)
			}
			if st.QueuedBytes > queueBytes {
				t.Errorf("stalled peer queue %d bytes beyond its bound %d", st.QueuedBytes, queueBytes)
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
}
