//go:build faults

package faults

import (
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/weirio/weir/frame"
	"github.com/weirio/weir/internal/testutil"
	"github.com/weirio/weir/netio"
	"github.com/weirio/weir/node"
)

// Case 5: a hostile peer. Each attack opens its own raw connection to a
// node that a good peer is connected to; the node must close the attacker
// with the right error code and count it exactly once, and the good peer
// must go on exchanging messages, never disconnected.

const (
	hostileHandshakeTimeout = time.Second
	hostileMaxHandshake     = 64 << 10
	hostileMaxFrame         = 1 << 20
	hostileMaxSubs          = 100
	hostileMaxHandshakes    = 32
)

type hostileSetup struct {
	t          *testing.T
	target     *node.Node
	status     *statusLog // the target's
	addr       string
	good       *node.Node
	goodStatus *statusLog
	atTarget   *seqs // from the good peer
	atGood     *seqs // from the target
	next       uint64
	nextID     byte
}

func newHostileSetup(t *testing.T) *hostileSetup {
	h := &hostileSetup{t: t, atTarget: newSeqs(), atGood: newSeqs(), nextID: 1}
	h.target = newNode(t, "target", func(o *node.Options) {
		o.Net.HandshakeTimeout = hostileHandshakeTimeout
		o.Net.MaxHandshakeFrame = hostileMaxHandshake
		o.Net.Limits.MaxFrame = hostileMaxFrame
		o.Net.MaxSubscriptions = hostileMaxSubs
		o.Net.MaxHandshakes = hostileMaxHandshakes
		// Raw attackers never answer pings; each attack is over long before.
		o.Net.PeerTimeout = time.Minute
	})
	h.status = newStatusLog(h.target)
	h.addr = listen(t, h.target)
	if _, err := h.target.SubscribeFunc("good/g/", h.atTarget.handler); err != nil {
		t.Fatal(err)
	}
	h.good = newNode(t, "good", nil)
	h.goodStatus = newStatusLog(h.good)
	if _, err := h.good.SubscribeFunc("good/t/", h.atGood.handler); err != nil {
		t.Fatal(err)
	}
	if err := h.good.Peer(h.addr); err != nil {
		t.Fatal(err)
	}
	testutil.WaitFor(t, "good peer up", func() bool { return h.status.up("good", 0) && h.goodStatus.up("target", 0) })
	return h
}

func (h *hostileSetup) id() frame.NodeID {
	h.nextID++
	return frame.NodeID{0xa0, h.nextID}
}

// exchange sends 200 messages each way between the target and the good
// peer and waits for all of them: both directions still flow.
func (h *hostileSetup) exchange() bool {
	const n = 200
	from := h.next
	h.next += n
	body := make([]byte, 64)
	for q := from; q < h.next; q++ {
		seqPayload(body, q)
		if err := h.target.PublishBytes("good/t/x", body); err != nil {
			h.t.Fatal(err)
		}
		if err := h.good.PublishBytes("good/g/x", body); err != nil {
			h.t.Fatal(err)
		}
	}
	return testutil.Poll(func() bool { return h.atTarget.has(from, h.next) && h.atGood.has(from, h.next) })
}

// attack is one way to abuse a connection.
type attack struct {
	name string
	// open opens the connection and sends the abuse.
	open func(h *hostileSetup) net.Conn
	code frame.ErrCode
	// limit reads the limit counter the attack must hit (nil: none).
	limit func(netio.LimitStats) uint64
}

func frameSize(l netio.LimitStats) uint64     { return l.FrameSize }
func subscriptions(l netio.LimitStats) uint64 { return l.Subscriptions }

// sendRaw writes the attack. The node may close the connection before it
// is all written (that is what is checked): write errors are ignored.
func sendRaw(_ *hostileSetup, c net.Conn, b ...[]byte) net.Conn {
	for _, x := range b {
		if _, err := c.Write(x); err != nil {
			break
		}
	}
	return c
}

var attacks = []attack{
	{name: "random bytes", code: frame.CodeProtocol, open: func(h *hostileSetup) net.Conn {
		b := make([]byte, 16<<10)
		rng := rand.New(rand.NewPCG(8, 8))
		for i := range b {
			b[i] = byte(rng.Uint32())
		}
		b[7] = ^byte(frame.Magic)
		return sendRaw(h, dialRaw(h.t, h.addr), b)
	}},
	{name: "an HTTP request", code: frame.CodeProtocol, open: func(h *hostileSetup) net.Conn {
		return sendRaw(h, dialRaw(h.t, h.addr), []byte("GET / HTTP/1.1\r\nHost: weir\r\n\r\n"))
	}},
	{name: "header: length shorter than its topic", code: frame.CodeProtocol, open: func(h *hostileSetup) net.Conn {
		return sendRaw(h, dialRaw(h.t, h.addr), header(frame.HeaderSize, frame.KindHello, 100), make([]byte, 100))
	}},
	{name: "header: length of 512 MiB", code: frame.CodeLimit, limit: frameSize, open: func(h *hostileSetup) net.Conn {
		return sendRaw(h, dialRaw(h.t, h.addr), header(512<<20, frame.KindHello, 0), make([]byte, 64))
	}},
	{name: "header: 1000 bytes announced, 100 sent", code: frame.CodeTimeout, open: func(h *hostileSetup) net.Conn {
		return sendRaw(h, dialRaw(h.t, h.addr), header(1000, frame.KindHello, 0), make([]byte, 88))
	}},
	{name: "endless handshake: silence", code: frame.CodeTimeout, open: func(h *hostileSetup) net.Conn {
		return dialRaw(h.t, h.addr)
	}},
	{name: "endless handshake: a hello byte by byte", code: frame.CodeTimeout, open: func(h *hostileSetup) net.Conn {
		c := dialRaw(h.t, h.addr)
		hello := helloFrame(h.id(), "slow", strings.Repeat("p", 100))
		var wg sync.WaitGroup
		wg.Add(1)
		h.t.Cleanup(wg.Wait)
		go func() {
			// Trickle: a byte every 50ms would take 7s; the node's handshake
			// timeout is 1s. Stops when the node closes the connection.
			defer wg.Done()
			for _, b := range hello {
				if _, err := c.Write([]byte{b}); err != nil {
					return
				}
				time.Sleep(50 * time.Millisecond) // the attacker's pace, not a synchronization
			}
		}()
		return c
	}},
	{name: "hello over MaxHandshakeFrame", code: frame.CodeLimit, limit: frameSize, open: func(h *hostileSetup) net.Conn {
		hello := helloFrame(h.id(), "big", strings.Repeat("p", 2*hostileMaxHandshake))
		return sendRaw(h, dialRaw(h.t, h.addr), hello[:1024])
	}},
	{name: "subscription flood in the hello", code: frame.CodeLimit, limit: subscriptions, open: func(h *hostileSetup) net.Conn {
		pre := make([]string, 10*hostileMaxSubs)
		for i := range pre {
			pre[i] = fmt.Sprintf("flood/%d", i)
		}
		return sendRaw(h, dialRaw(h.t, h.addr), helloFrame(h.id(), "flood", pre...))
	}},
	{name: "peer: subscription flood", code: frame.CodeLimit, limit: subscriptions, open: func(h *hostileSetup) net.Conn {
		c := rawHandshake(h.t, h.addr, h.id())
		for k := range 10 {
			pre := make([]string, 30)
			for i := range pre {
				pre[i] = fmt.Sprintf("flood/%d/%d", k, i)
			}
			sub := frame.AppendSubscribe(nil, frame.Subscribe{Op: frame.SubAdd, Prefixes: frame.MakeStrList(pre...)})
			if _, err := c.Write(sub); err != nil {
				break // closed already
			}
		}
		return c
	}},
	{name: "peer: data frame over MaxFrame", code: frame.CodeLimit, limit: frameSize, open: func(h *hostileSetup) net.Conn {
		c := rawHandshake(h.t, h.addr, h.id())
		return sendRaw(h, c, header(2*hostileMaxFrame, frame.KindData, 1), []byte("x"), make([]byte, 4096))
	}},
	{name: "peer: header with an unknown kind", code: frame.CodeProtocol, open: func(h *hostileSetup) net.Conn {
		c := rawHandshake(h.t, h.addr, h.id())
		return sendRaw(h, c, header(frame.HeaderSize+8, 99, 0), make([]byte, 8))
	}},
	{name: "peer: subscribe frame with a garbage body", code: frame.CodeProtocol, open: func(h *hostileSetup) net.Conn {
		c := rawHandshake(h.t, h.addr, h.id())
		return sendRaw(h, c, header(frame.HeaderSize+6, frame.KindSubscribe, 0), []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff})
	}},
	{name: "peer: a second hello", code: frame.CodeProtocol, open: func(h *hostileSetup) net.Conn {
		c := rawHandshake(h.t, h.addr, h.id())
		return sendRaw(h, c, helloFrame(h.id(), "again"))
	}},
}

func TestHostilePeer(t *testing.T) {
	r := newReport(t, "5.hostile-peer")
	h := newHostileSetup(t)
	r.must("good peer exchanges messages before the attacks", h.exchange(), "200 messages each way")
	for _, a := range attacks {
		before := h.target.NetStats()
		c := a.open(h)
		code, closed := closedWith(c)
		// The counters move before the close; wait for them anyway, then
		// require exactly one failure, of the attack's code.
		counted := testutil.Poll(func() bool { return h.target.NetStats().Failures[a.code] > before.Failures[a.code] })
		after := h.target.NetStats()
		total := func(s netio.Stats) (n uint64) {
			for _, v := range s.Failures {
				n += v
			}
			return n
		}
		ok := closed && code == a.code && counted && total(after)-total(before) == 1
		measured := fmt.Sprintf("closed with %v, failures[%v] +%d", codeName(code, closed), a.code, after.Failures[a.code]-before.Failures[a.code])
		if a.limit != nil {
			d := a.limit(after.Limits) - a.limit(before.Limits)
			ok = ok && d == 1
			measured += fmt.Sprintf(", limit +%d", d)
		}
		r.check("rejected and counted: "+a.name, ok, "%s", measured)
		r.check("good peer unaffected: "+a.name, h.exchange() && !lostPeer(h.goodStatus, "target"), "200 messages each way")
		c.Close()
	}
	hostileFlood(t, r, h)
	s := h.target.NetStats()
	r.check("target node up, good peer never disconnected", hasPeer(h.target, "good") && fmtKinds(h.goodStatus.kinds("target")) == "peer_added",
		"good peer's status events: %s; target counters: failures %v, limits %+v", fmtKinds(h.goodStatus.kinds("target")), s.Failures, s.Limits)
}

func codeName(c frame.ErrCode, closed bool) string {
	switch {
	case !closed:
		return "nothing (still open)"
	case c == 0xffff:
		return "no error frame"
	}
	return c.String()
}

func lostPeer(l *statusLog, name string) bool {
	for _, k := range l.kinds(name) {
		if k != node.StatusPeerAdded {
			return true
		}
	}
	return false
}

// hostileFlood opens garbage and stalled handshakes as fast as two
// goroutines can while a new good peer connects and both good peers
// exchange messages. Every flood connection must end rejected and
// counted: garbage with error(protocol), stalled ones evicted with
// error(limit) or timed out.
func hostileFlood(t *testing.T, r *report, h *hostileSetup) {
	before := h.target.NetStats()
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var garbage, stalled atomic.Int64
	var maxHandshaking atomic.Int64
	partial := helloFrame(h.id(), "partial")[:20]
	for g := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 1000; i++ {
				select {
				case <-stop:
					return
				default:
				}
				c, err := net.Dial("tcp", h.addr)
				if err != nil {
					continue
				}
				if (i+g)%2 == 0 {
					garbage.Add(1)
					_, _ = c.Write([]byte("GET / HTTP/1.1\r\n\r\n"))
				} else {
					stalled.Add(1)
					_, _ = c.Write(partial)
				}
				// Held open until the node closes it.
				wg.Add(1)
				go func() {
					defer wg.Done()
					_, _ = io.Copy(io.Discard, c)
					c.Close()
				}()
				maxHandshaking.Store(max(maxHandshaking.Load(), int64(h.target.NetStats().Handshaking)))
			}
		}()
	}
	stopped := false
	stopFlood := func() {
		if !stopped {
			stopped = true
			close(stop)
			wg.Wait()
		}
	}
	defer stopFlood()
	// The handshake slots are full and evicting when the good peer comes.
	testutil.WaitFor(t, "flood under way", func() bool {
		return h.target.NetStats().Limits.Handshakes-before.Limits.Handshakes > 20
	})
	late := newNode(t, "late", nil)
	got := newSeqs()
	if _, err := late.SubscribeFunc("good/t/", got.handler); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if err := late.Peer(h.addr); err != nil {
		t.Fatal(err)
	}
	joined := testutil.Poll(func() bool { return h.status.up("late", 0) })
	joinTime := time.Since(start)
	from := h.next
	exchanged := h.exchange() && testutil.Poll(func() bool { return got.has(from, h.next) })
	stopFlood()
	r.check("new good peer joins during a handshake flood", joined, "in %v, the flood at %d connections", joinTime.Round(time.Millisecond), garbage.Load()+stalled.Load())
	r.check("good peers exchange messages during the flood", exchanged, "200 messages each way, and to the new peer")
	// Every flood connection ends rejected: garbage with error(protocol),
	// stalled ones evicted (error(limit)) or timed out — a garbage one may
	// also be evicted before its bytes are read, and so may the new good
	// peer's attempts (it hears the refusal and redials). Wait for the
	// counts to add up, then require that they add up exactly.
	opened := uint64(garbage.Load() + stalled.Load())
	var dProto, dEvict, dTimeout, lateRefused uint64
	counted := func() bool {
		lateRefused = late.NetStats().Dials - 1 // all but the one that got in
		after := h.target.NetStats()
		dProto = after.Failures[frame.CodeProtocol] - before.Failures[frame.CodeProtocol]
		dEvict = after.Limits.Handshakes - before.Limits.Handshakes
		dTimeout = after.Failures[frame.CodeTimeout] - before.Failures[frame.CodeTimeout]
		return after.Handshaking == 0 && dProto+dEvict+dTimeout >= opened+lateRefused
	}
	testutil.Poll(counted)
	r.check("flood: every connection rejected and counted", dProto+dEvict+dTimeout == opened+lateRefused && dProto <= uint64(garbage.Load()) && dEvict > 0,
		"%d garbage + %d stalled (+ %d attempts of the new peer refused): failures[protocol] +%d, limits.handshakes +%d, failures[timeout] +%d",
		garbage.Load(), stalled.Load(), lateRefused, dProto, dEvict, dTimeout)
	r.check("flood: connections in the handshake stay bounded", maxHandshaking.Load() <= 2*hostileMaxHandshakes,
		"at most %d sampled, MaxHandshakes %d", maxHandshaking.Load(), hostileMaxHandshakes)
}
