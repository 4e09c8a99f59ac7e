//go:build faults

package faults

import (
	"context"
	"fmt"
	"net"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/weirio/weir/cluster"
	"github.com/weirio/weir/frame"
	"github.com/weirio/weir/internal/testutil"
	"github.com/weirio/weir/kv"
	"github.com/weirio/weir/node"
)

// Case 3: partition and heal. Two pairs of nodes talk through proxies
// that the test cuts and heals (see proxy):
//
//   - a and b: b dials a; a publishes a sequence-numbered stream that b
//     subscribes to, and a is the master of a store that b clones. Their
//     status events are checked (peer_lost, then peer_recovered).
//   - a cluster manager and worker (cluster.Member on both): their
//     node_down and node_up events are checked.
//
// Each round partitions both pairs one way, writes to the store during
// the partition, heals, and waits for the peers to reconnect by
// themselves, for the stream to flow again, and for the clone to catch
// up. At the end no message reached b twice or out of order.

// partitionOptions: fast keepalive, so a blackhole is noticed in about
// 3s (still far above the pauses of a busy machine under -race), and
// quick redials.
func partitionOptions(o *node.Options) {
	o.Net.PingInterval = 300 * time.Millisecond
	o.Net.PeerTimeout = 3 * time.Second
	o.Net.HandshakeTimeout = time.Second
}

// clusterEvents records a member's node_up and node_down events.
type clusterEvents struct {
	mu     sync.Mutex
	events []string // "node_up worker-1"
}

func (c *clusterEvents) on(n *node.Node) {
	for _, ev := range []string{cluster.EventNodeUp, cluster.EventNodeDown} {
		name := "node_up"
		if ev == cluster.EventNodeDown {
			name = "node_down"
		}
		n.On(ev, func(e node.Event) {
			c.mu.Lock()
			c.events = append(c.events, name+" "+e.Args[0].Str())
			c.mu.Unlock()
		})
	}
}

func (c *clusterEvents) since(i int) []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.events[min(i, len(c.events)):])
}

func (c *clusterEvents) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.events)
}

// startMember starts a cluster member of layout l on a new node, which
// listens on listen ("": it does not) and returns the bound address.
func startMember(t *testing.T, l *cluster.Layout, name, listen string) (*cluster.Member, *clusterEvents, string) {
	t.Helper()
	self, _ := l.Node(name)
	n := newNode(t, name, func(o *node.Options) { o.Role = self.Role; partitionOptions(o) })
	ev := &clusterEvents{}
	ev.on(n)
	m, err := cluster.Start(n, l, name)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(m.Stop)
	var addr string
	if listen != "" {
		a, err := n.Listen(listen)
		if err != nil {
			t.Fatal(err)
		}
		addr = a.String()
	}
	return m, ev, addr
}

// publisher publishes seqPayload messages, perMilli every millisecond,
// until stopped; next is the sequence number of the next one.
type publisher struct {
	next atomic.Uint64
	stop chan struct{}
	done chan struct{}
}

func startPublisher(t *testing.T, n *node.Node, topic string, perMilli int) *publisher {
	p := &publisher{stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(p.done)
		tick := time.NewTicker(time.Millisecond)
		defer tick.Stop()
		body := make([]byte, 32)
		for {
			select {
			case <-p.stop:
				return
			case <-tick.C:
			}
			for range perMilli {
				seqPayload(body, p.next.Load())
				if err := n.PublishBytes(topic, body); err != nil {
					panic(err)
				}
				p.next.Add(1)
			}
		}
	}()
	t.Cleanup(p.halt)
	return p
}

func (p *publisher) halt() {
	select {
	case <-p.stop:
	default:
		close(p.stop)
	}
	<-p.done
}

func TestPartitionAndHeal(t *testing.T) {
	r := newReport(t, "3.partition")
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()

	a := newNode(t, "a", partitionOptions)
	aAddr := listen(t, a)
	pa := newProxy(t, aAddr)
	b := newNode(t, "b", partitionOptions)
	sa, sb := newStatusLog(a), newStatusLog(b)
	got := newSeqs()
	if _, err := b.SubscribeFunc("part/", got.handler); err != nil {
		t.Fatal(err)
	}
	master, err := a.AttachMaster("part", kv.NewMemory(), node.StoreOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Peer(pa.addr()); err != nil {
		t.Fatal(err)
	}
	testutil.WaitFor(t, "a and b peered", func() bool { return sa.up("b", 0) && sb.up("a", 0) })
	clone, err := b.AttachClone("part", node.StoreOptions{})
	if err != nil {
		t.Fatal(err)
	}

	// The cluster pair: the worker reaches the manager at the proxy's
	// address, which is the manager's address in the layout.
	// The manager listens on an address of its own, known only once it
	// listens, after its member started: the proxy learns it then.
	pm := newProxy(t, "")
	pmPort := pm.ln.Addr().(*net.TCPAddr).Port
	layout, err := cluster.Parse(fmt.Appendf(nil, `
nodes:
  - {name: manager, role: manager, host: 127.0.0.1, port: %d}
  - {name: worker-1, role: worker, host: 127.0.0.1, port: %d}
`, pmPort, pmPort+1))
	if err != nil {
		t.Fatal(err)
	}
	mm, mev, mgrAddr := startMember(t, layout, "manager", "127.0.0.1:0")
	pm.setTarget(mgrAddr)
	wm, wev, _ := startMember(t, layout, "worker-1", "")
	testutil.WaitFor(t, "manager and worker up", func() bool {
		return slices.Contains(mm.Up(), "worker-1") && slices.Contains(wm.Up(), "manager")
	})

	pub := startPublisher(t, a, "part/x", 5)
	testutil.WaitFor(t, "stream flowing", func() bool { return got.has(0, 100) })
	key := func(s string) frame.Value { return frame.NewString(s) }
	sameStore := func() bool {
		if clone.Stale() {
			return false
		}
		mk, err := master.Keys(ctx)
		if err != nil {
			return false
		}
		ck, err := clone.Keys(ctx)
		if err != nil || !frame.Equal(mk, ck) {
			return false
		}
		for _, k := range mk.Elems() {
			mv, _, err1 := master.Get(ctx, k)
			cv, ok, err2 := clone.Get(ctx, k)
			if err1 != nil || err2 != nil || !ok || !frame.Equal(mv, cv) {
				return false
			}
		}
		return true
	}
	lostTotal := 0
	for _, mode := range []string{"blackhole", "reset", "half-open"} {
		r.name = "3.partition/" + mode
		ia, ib := len(sa.kinds("b")), len(sb.kinds("a"))
		im, iw := mev.len(), wev.len()
		// Before: the clone holds a key that the partition will erase.
		pre := "pre-" + mode
		// writeDuring writes during the partition: new keys, an overwrite,
		// an erase.
		writeDuring := func() {
			for i := range 50 {
				if err := master.Put(ctx, key(fmt.Sprintf("%s-%d", mode, i)), frame.NewCount(uint64(i)), 0); err != nil {
					t.Fatal(err)
				}
			}
			if err := master.Put(ctx, key("shared"), frame.NewString(mode), 0); err != nil {
				t.Fatal(err)
			}
			if err := master.Erase(ctx, key(pre)); err != nil {
				t.Fatal(err)
			}
		}
		if err := master.Put(ctx, key(pre), frame.NewCount(1), 0); err != nil {
			t.Fatal(err)
		}
		testutil.WaitFor(t, "clone has "+pre, func() bool { _, ok, _ := clone.Get(ctx, key(pre)); return ok })
		cutSeq := pub.next.Load()
		start := time.Now()
		switch mode {
		case "blackhole":
			pa.pause()
			pm.pause()
		case "reset":
			pa.pause()
			pm.pause()
			pa.resetAll()
			pm.resetAll()
		case "half-open":
			pa.resetDialers()
			pm.resetDialers()
		}
		if mode != "half-open" {
			// Both sides notice, by keepalive or by the reset.
			r.wait("a and b notice: peer_lost", func() bool {
				return slices.Contains(sa.kinds("b")[ia:], node.StatusPeerLost) && slices.Contains(sb.kinds("a")[ib:], node.StatusPeerLost)
			})
			r.wait("manager and worker notice: node_down", func() bool {
				return slices.Contains(mev.since(im), "node_down worker-1") && slices.Contains(wev.since(iw), "node_down manager")
			})
			writeDuring()
			pa.heal()
			pm.heal()
		} else {
			// The dialers see the reset and redial at once; the listeners'
			// side of the old connections stays open and silent.
			r.wait("b notices: peer_lost", func() bool { return slices.Contains(sb.kinds("a")[ib:], node.StatusPeerLost) })
			writeDuring()
		}
		r.wait("peers reconnect by themselves", func() bool { return sa.up("b", ia) && sb.up("a", ib) })
		healSeq := pub.next.Load()
		r.wait("subscription restored: the stream after the heal arrives", func() bool { return got.has(healSeq, healSeq+500) })
		// Status: each side ends with the peer up; a side that noticed the
		// partition said peer_lost and then peer_recovered.
		r.wait("clone resyncs: same keys and values as the master", sameStore)
		ka, kb := sa.kinds("b")[ia:], sb.kinds("a")[ib:]
		wantB := []node.StatusKind{node.StatusPeerLost, node.StatusPeerRecovered}
		r.check("b: status events", slices.Equal(kb, wantB), "%s", fmtKinds(kb))
		if mode == "half-open" {
			// a did not see the old connection fail; b's new one replaces it.
			// a reports a reconnection: neither the peer as new, nor the
			// replacement as a loss (a genuine loss first — keepalive on the
			// old connection — is possible on a slow machine).
			ok := slices.Equal(ka, []node.StatusKind{node.StatusPeerRecovered}) ||
				(slices.Equal(ka, wantB) && !sa.lostAsDuplicate("b"))
			r.check("a: status events (its old connection replaced)", ok, "%s", fmtKinds(ka))
		} else {
			r.check("a: status events", slices.Equal(ka, wantB), "%s", fmtKinds(ka))
		}
		r.wait("manager and worker: node_up after the heal", func() bool {
			return slices.Contains(mm.Up(), "worker-1") && slices.Contains(wm.Up(), "manager")
		})
		// In half-open mode the manager may never have seen the worker go.
		mgrOK := lastIs(mev.since(im), "worker-1", "node_up") || (mode == "half-open" && len(mev.since(im)) == 0)
		r.check("manager: node events", mgrOK, "%v", mev.since(im))
		r.check("worker: node events", lastIs(wev.since(iw), "manager", "node_up"), "%v", wev.since(iw))
		lost := int(healSeq-cutSeq) - got.received(cutSeq, healSeq)
		lostTotal += lost
		r.info("partition lasted; stream messages published meanwhile, not delivered", "%v; %d of %d",
			time.Since(start).Round(time.Millisecond), lost, healSeq-cutSeq)
	}
	r.name = "3.partition"
	pub.halt()
	end := pub.next.Load()
	testutil.WaitFor(t, "the last messages", func() bool { return got.has(end-500, end) })
	n, dups, reorders, firstDup := got.stats()
	first := ""
	if dups > 0 {
		first = fmt.Sprintf(" (the first: seq %d)", firstDup)
	}
	r.check("no duplicate deliveries to the application", dups == 0, "%d deliveries of %d messages, %d duplicates%s", n, end, dups, first)
	r.check("deliveries in publish order", reorders == 0, "%d out of order; %d lost during the partitions only", reorders, lostTotal)
}

// lastIs reports whether the last of events ("node_up worker-1") about
// name is want.
func lastIs(events []string, name, want string) bool {
	for i := len(events) - 1; i >= 0; i-- {
		if k, n, _ := strings.Cut(events[i], " "); n == name {
			return k == want
		}
	}
	return false
}
