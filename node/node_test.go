package node

import (
	"encoding/binary"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/weirio/weir/frame"
	"github.com/weirio/weir/internal/testutil"
	"github.com/weirio/weir/netio"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, goleak.IgnoreTopFunction("github.com/panjf2000/ants/v2.(*poolCommon).purgeStaleWorkers"),
		goleak.IgnoreTopFunction("github.com/panjf2000/ants/v2.(*poolCommon).ticktock"))
}

func newNode(t *testing.T, name string, mod func(*Options)) *Node {
	t.Helper()
	o := Options{Name: name, Logger: testLogger()}
	o.Net.Loops = 2
	o.Net.RetryInitial = 50 * time.Millisecond
	o.Net.RetryMax = 200 * time.Millisecond
	o.Net.Tick = 20 * time.Millisecond
	if mod != nil {
		mod(&o)
	}
	n, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = n.Close() })
	return n
}

func listen(t *testing.T, n *Node) string {
	t.Helper()
	a, err := n.Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return a.String()
}

// collector records payload sequence numbers per topic.
type collector struct {
	mu   sync.Mutex
	seqs map[string][]uint32
}

func (c *collector) fn(m Message) {
	v, err := m.Data()
	if err != nil {
		panic(err)
	}
	c.mu.Lock()
	if c.seqs == nil {
		c.seqs = map[string][]uint32{}
	}
	c.seqs[string(m.Topic())] = append(c.seqs[string(m.Topic())], binary.LittleEndian.Uint32(v.Bytes()))
	c.mu.Unlock()
}

// checkInOrder fails t unless topic got exactly n messages, with sequence
// numbers 0 to n-1 in order.
func (c *collector) checkInOrder(t *testing.T, topic string, n int) {
	t.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	seqs := c.seqs[topic]
	if len(seqs) != n {
		t.Fatalf("%s: got %d messages, want %d", topic, len(seqs), n)
	}
	for i, s := range seqs {
		if s != uint32(i) {
			t.Fatalf("%s: message %d has sequence %d", topic, i, s)
		}
	}
}

func (c *collector) count(topic string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.seqs[topic])
}

func (c *collector) total() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, s := range c.seqs {
		n += len(s)
	}
	return n
}

func payload(i uint32) []byte {
	var b [16]byte
	binary.LittleEndian.PutUint32(b[:], i)
	return b[:]
}

// peerWants reports whether node from's view of peer name includes a
// filter matching topic.
func peerWants(n *Node, name, topic string) bool {
	for _, p := range n.peers.MatchString(topic, nil) {
		if p.Name == name {
			return true
		}
	}
	return false
}

func TestThreeNodesSubscriptionsPropagate(t *testing.T) {
	// The hub publishes a burst larger than a peer queue: it waits for room
	// rather than letting drop_oldest apply.
	hub := newNode(t, "hub", func(o *Options) { o.PublishWait = 10 * time.Second })
	addr := listen(t, hub)
	a := newNode(t, "a", nil)
	b := newNode(t, "b", nil)
	_ = a.Peer(addr)
	_ = b.Peer(addr)
	testutil.WaitFor(t, "peers", func() bool { return len(hub.Peers()) == 2 })

	var ca, cb collector
	sa, _ := a.SubscribeFunc("news/", ca.fn)
	sb, _ := b.SubscribeFunc("news/sport", cb.fn)
	testutil.WaitFor(t, "filters at hub", func() bool {
		return peerWants(hub, "a", "news/x") && peerWants(hub, "b", "news/sport/1") && !peerWants(hub, "b", "news/x")
	})
	const n = 5000
	for i := uint32(0); i < n; i++ {
		_ = hub.PublishBytes("news/sport/1", payload(i))
		_ = hub.PublishBytes("news/x", payload(i))
	}
	testutil.WaitFor(t, "deliveries", func() bool {
		return ca.count("news/sport/1") == n && ca.count("news/x") == n && cb.count("news/sport/1") == n
	})
	for _, c := range []*collector{&ca, &cb} {
		c.mu.Lock()
		for topic, seqs := range c.seqs {
			for i, s := range seqs {
				if s != uint32(i) {
					c.mu.Unlock()
					t.Fatalf("%s: message %d has seq %d (exactly once, in order)", topic, i, s)
				}
			}
		}
		c.mu.Unlock()
	}
	if cb.count("news/x") != 0 {
		t.Fatal("b got a topic it did not subscribe to")
	}
	// Unsubscribe propagates: the hub stops sending to b.
	sb.Unsubscribe()
	testutil.WaitFor(t, "removal at hub", func() bool { return !peerWants(hub, "b", "news/sport/1") })
	sa.Unsubscribe()
	testutil.WaitFor(t, "removal at hub", func() bool { return !peerWants(hub, "a", "news/") })
}

func TestQueuedSubscriptionAndEvents(t *testing.T) {
	a := newNode(t, "a", nil)
	b := newNode(t, "b", nil)
	_ = b.Peer(listen(t, a))
	sub, err := b.Subscribe("ev/")
	if err != nil {
		t.Fatal(err)
	}
	testutil.WaitFor(t, "filter", func() bool { return peerWants(a, "b", "ev/1") })
	args := []frame.Value{frame.NewCount(1), frame.NewString("x")}
	if err := a.PublishEvent("ev/1", "hello", args...); err != nil {
		t.Fatal(err)
	}
	_ = a.Publish("ev/2", frame.NewSet(frame.NewInt(3), frame.NewInt(1)))
	m := <-sub.C()
	ev, err := m.Event()
	if err != nil || string(ev.Name) != "hello" || !frame.Equal(ev.Args.Value(), frame.NewVector(args...)) {
		t.Fatalf("event %v %v", ev, err)
	}
	m = <-sub.C()
	v, err := m.Data()
	if err != nil || !frame.Equal(v.Value(), frame.NewSet(frame.NewInt(1), frame.NewInt(3))) || string(m.Topic()) != "ev/2" {
		t.Fatalf("data %v %v", v.Value(), err)
	}
	sub.Unsubscribe()
	if _, ok := <-sub.C(); ok {
		t.Fatal("channel not closed")
	}
}

func TestLocalDeliveryAndEcho(t *testing.T) {
	n := newNode(t, "n", nil)
	var other, self collector
	_, _ = n.SubscribeFunc("t/", other.fn)
	me, _ := n.SubscribeFunc("t/", self.fn)
	_ = n.PublishBytes("t/1", payload(1))
	_ = me.PublishBytes("t/1", payload(2))
	if other.count("t/1") != 2 || self.count("t/1") != 1 {
		t.Fatalf("other %d self %d: node publish reaches all, a subscription's publish skips itself", other.count("t/1"), self.count("t/1"))
	}
	// Handler panics are contained.
	_, _ = n.SubscribeFunc("p/", func(Message) { panic("boom") })
	if err := n.PublishBytes("p/1", nil); err != nil {
		t.Fatal(err)
	}
}

func TestLocalPrefixNeverLeaves(t *testing.T) {
	a := newNode(t, "a", nil)
	b := newNode(t, "b", nil)
	_ = b.Peer(listen(t, a))
	var cb, ca collector
	_, _ = b.SubscribeFunc("", cb.fn) // b wants everything
	_, _ = a.SubscribeFunc(DefaultLocalPrefix, ca.fn)
	testutil.WaitFor(t, "filter", func() bool { return peerWants(a, "b", "anything") })
	if peerWants(b, "a", DefaultLocalPrefix+"x") {
		t.Fatal("a local-prefix subscription was advertised")
	}
	_ = a.PublishBytes(DefaultLocalPrefix+"secret", payload(1))
	_ = a.PublishBytes("public", payload(2))
	testutil.WaitFor(t, "public message", func() bool { return cb.count("public") == 1 })
	if cb.count(DefaultLocalPrefix+"secret") != 0 || ca.count(DefaultLocalPrefix+"secret") != 1 {
		t.Fatal("local topic left the node or was not delivered locally")
	}
}

// TestForwardingTriangle: three forwarding nodes peered in a cycle; a
// message published at one reaches each other node's subscriber exactly
// once and does not circulate.
func TestForwardingTriangle(t *testing.T) {
	fwd := func(o *Options) { o.Forwarding = true }
	x, y, z := newNode(t, "x", fwd), newNode(t, "y", fwd), newNode(t, "z", fwd)
	xa, ya, za := listen(t, x), listen(t, y), listen(t, z)
	_ = x.Peer(ya)
	_ = y.Peer(za)
	_ = z.Peer(xa)
	testutil.WaitFor(t, "triangle", func() bool { return len(x.Peers()) == 2 && len(y.Peers()) == 2 && len(z.Peers()) == 2 })
	var cy, cz collector
	_, _ = y.SubscribeFunc("tri/", cy.fn)
	_, _ = z.SubscribeFunc("tri/", cz.fn)
	// Every node must know every other node's interest, so copies do
	// circulate and the loop protection is what stops them.
	testutil.WaitFor(t, "filters", func() bool {
		return peerWants(x, "y", "tri/1") && peerWants(x, "z", "tri/1") && peerWants(y, "z", "tri/1") && peerWants(z, "y", "tri/1")
	})
	const n = 500
	for i := uint32(0); i < n; i++ {
		_ = x.PublishBytes("tri/1", payload(i))
	}
	testutil.WaitFor(t, "deliveries", func() bool { return cy.count("tri/1") == n && cz.count("tri/1") == n })
	// Let any looping copy arrive, then check nothing was delivered twice
	// and the relays saw (and dropped) the second copies.
	testutil.WaitFor(t, "duplicates suppressed", func() bool { return y.Stats().Duplicates+z.Stats().Duplicates+x.Stats().Duplicates >= n })
	time.Sleep(100 * time.Millisecond)
	if cy.count("tri/1") != n || cz.count("tri/1") != n {
		t.Fatalf("delivered y=%d z=%d, want %d each", cy.count("tri/1"), cz.count("tri/1"), n)
	}
	for _, c := range []*collector{&cy, &cz} {
		c.mu.Lock()
		seen := map[uint32]bool{}
		for _, s := range c.seqs["tri/1"] {
			if seen[s] {
				c.mu.Unlock()
				t.Fatalf("seq %d delivered twice", s)
			}
			seen[s] = true
		}
		c.mu.Unlock()
	}
}

// TestRelayMultiHop: a forwarding relay carries messages between two
// nodes that are not peered with each other, and a subscription made at
// the far end propagates through it.
// TestRelayMultiHop relays through a forwarding node, with one event loop
// (both connections on it: the relay flushes what it forwards itself, see
// netio.Peer.Forward) and with two.
func TestRelayMultiHop(t *testing.T) {
	for _, loops := range []int{1, 2} {
		t.Run(fmt.Sprintf("loops=%d", loops), func(t *testing.T) {
			relay := newNode(t, "relay", func(o *Options) { o.Forwarding = true; o.Net.Loops = loops })
			ra := listen(t, relay)
			pub, sub := newNode(t, "pub", nil), newNode(t, "sub", nil)
			_ = pub.Peer(ra)
			_ = sub.Peer(ra)
			var c collector
			s, _ := sub.SubscribeFunc("far/", c.fn)
			testutil.WaitFor(t, "filter through relay", func() bool { return peerWants(pub, "relay", "far/1") })
			for i := uint32(0); i < 5000; i++ {
				_ = pub.PublishBytes("far/1", payload(i))
			}
			testutil.WaitFor(t, "relayed", func() bool { return c.count("far/1") == 5000 })
			c.checkInOrder(t, "far/1", 5000)
			s.Unsubscribe()
			testutil.WaitFor(t, "removal through relay", func() bool { return !peerWants(pub, "relay", "far/1") })
		})
	}
}

func TestStatusEvents(t *testing.T) {
	a := newNode(t, "a", nil)
	addr := listen(t, a)
	b := newNode(t, "b", nil)
	next := func(want StatusKind) Status {
		t.Helper()
		select {
		case s := <-b.Status():
			if s.Kind != want {
				t.Fatalf("status %v (%v), want %v", s.Kind, s.Err, want)
			}
			return s
		case <-time.After(20 * time.Second):
			t.Fatalf("no %v", want)
		}
		return Status{}
	}
	_ = b.Peer(addr)
	if s := next(StatusPeerAdded); s.Peer.Name != "a" {
		t.Fatalf("peer %q", s.Peer.Name)
	}
	// The listener restarts: lost, then recovered on the same address.
	_ = a.Close()
	s := next(StatusPeerLost)
	var re *netio.RemoteError
	if !errors.As(s.Err, &re) || re.Code != frame.CodeShutdown {
		t.Fatalf("lost reason %v", s.Err)
	}
	a2 := newNode(t, "a", nil)
	if _, err := a2.Listen(addr); err != nil {
		t.Fatal(err)
	}
	next(StatusPeerRecovered)
	if err := b.Unpeer(addr); err != nil {
		t.Fatal(err)
	}
	next(StatusPeerRemoved)
	if err := b.Unpeer(addr); err == nil {
		t.Fatal("second unpeer succeeded")
	}
}

func TestPublishErrors(t *testing.T) {
	n := newNode(t, "n", func(o *Options) { o.Net.Limits.MaxFrame = 1024; o.Net.QueueBytes = 1 << 20 })
	if err := n.PublishBytes("t", make([]byte, 2000)); !errors.Is(err, ErrFrameTooLarge) {
		t.Fatalf("big: %v", err)
	}
	if err := n.PublishBytes(string(make([]byte, 70000)), nil); !errors.Is(err, frame.ErrTopicTooLong) {
		t.Fatalf("long topic: %v", err)
	}
	_ = n.Close()
	if _, err := n.Subscribe("x"); !errors.Is(err, ErrClosed) {
		t.Fatalf("subscribe after close: %v", err)
	}
}

// TestClientsAreServedLeaves: two command-line clients connected to a
// non-forwarding node reach each other through it, and a client's
// subscription is served with messages from the node's other peers.
func TestClientsAreServedLeaves(t *testing.T) {
	srv := newNode(t, "srv", nil)
	addr := listen(t, srv)
	peer := newNode(t, "peer", nil)
	_ = peer.Peer(addr)
	client := func(name string) *Node {
		return newNode(t, name, func(o *Options) { o.Role = frame.RoleClient })
	}
	pubc, subc := client("pubc"), client("subc")
	var got collector
	_, _ = subc.SubscribeFunc("cli/", got.fn)
	_ = subc.Peer(addr)
	_ = pubc.Peer(addr)
	testutil.WaitFor(t, "client filter at the server and upstream", func() bool {
		return peerWants(srv, "subc", "cli/x") && peerWants(pubc, "srv", "cli/x") && peerWants(peer, "srv", "cli/x")
	})
	_ = pubc.PublishBytes("cli/x", payload(1))
	_ = peer.PublishBytes("cli/y", payload(2))
	testutil.WaitFor(t, "both messages at the subscribing client", func() bool { return got.count("cli/x") == 1 && got.count("cli/y") == 1 })
}

// TestQueuedSubscriptionLargeFrame: a queued subscription copies messages
// under the node's own limits, also above the default frame size.
func TestQueuedSubscriptionLargeFrame(t *testing.T) {
	n := newNode(t, "n", func(o *Options) { o.Net.Limits.MaxFrame = 32 << 20 })
	sub, err := n.Subscribe("big/")
	if err != nil {
		t.Fatal(err)
	}
	body := make([]byte, 17<<20)
	if err := n.PublishBytes("big/1", body); err != nil {
		t.Fatal(err)
	}
	m := <-sub.C()
	v, err := m.Data()
	if err != nil || len(v.Bytes()) != len(body) {
		t.Fatalf("got %d bytes, %v", len(v.Bytes()), err)
	}
}
