package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime/pprof"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/weirio/weir/netio"
	"github.com/weirio/weir/node"
)

// probeInterval paces a publisher's readiness probes. It is a retry
// period, not a synchronization delay: the parent says GO only once every
// subscriber has acknowledged a probe.
const probeInterval = 5 * time.Millisecond

// errStopped is returned by a role whose input ended before it finished.
var errStopped = errors.New("bench: stopped before the run finished")

// ServeRole plays spec's role: it reads commands from in and writes
// control lines to out (see the protocol table in control.go), until its
// input ends or ctx is done. A failure is also reported to the parent as
// an ERROR line. It is the body of a role process, and of an in-process
// child in tests.
func ServeRole(ctx context.Context, spec RoleSpec, in io.Reader, out io.Writer, log *slog.Logger) error {
	w := &lineWriter{w: out}
	err := runRole(ctx, spec, in, w, log)
	if err != nil {
		_ = w.send(lineError, err.Error())
	}
	return err
}

func runRole(ctx context.Context, spec RoleSpec, in io.Reader, w *lineWriter, log *slog.Logger) error {
	spec.EnsureDefaults()
	if err := spec.Validate(); err != nil {
		return err
	}
	if log == nil {
		log = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	log = log.With("role", string(spec.Role), "id", spec.ID)
	if spec.CPUProfile != "" {
		f, err := os.Create(spec.CPUProfile)
		if err != nil {
			return fmt.Errorf("cannot create CPU profile: %w", err)
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return fmt.Errorf("cannot start CPU profile: %w", err)
		}
		defer pprof.StopCPUProfile()
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	cmds := make(chan string, 16)
	go readCommands(ctx, in, cmds, cancel)
	r := &role{spec: spec, w: w, cmds: cmds, log: log}
	switch spec.Role {
	case RolePub:
		return r.pub(ctx)
	case RoleSub:
		return r.sub(ctx)
	default:
		return r.relay(ctx)
	}
}

// role is the state shared by the three role bodies.
type role struct {
	spec RoleSpec
	w    *lineWriter
	cmds <-chan string
	log  *slog.Logger
}

func (r *role) newNode(forwarding bool, publishWait time.Duration) (*node.Node, error) {
	n, err := node.New(node.Options{
		Name:        fmt.Sprintf("bench-%s-%d", r.spec.Role, r.spec.ID),
		Forwarding:  forwarding,
		PublishWait: publishWait,
		Logger:      r.log,
		Net:         netio.Options{Loops: r.spec.Loops, QueueFrames: r.spec.QueueFrames},
	})
	if err != nil {
		return nil, fmt.Errorf("cannot create node: %w", err)
	}
	return n, nil
}

// start listens (if asked), peers with every --connect address and waits
// until each is established; it returns the listening address or "-".
func (r *role) start(ctx context.Context, n *node.Node) (string, error) {
	addr := "-"
	if r.spec.Listen != "" {
		a, err := n.Listen(r.spec.Listen)
		if err != nil {
			return "", fmt.Errorf("cannot listen: %w", err)
		}
		addr = a.String()
	}
	for _, a := range r.spec.Connect {
		if err := n.Peer(a); err != nil {
			return "", fmt.Errorf("cannot peer with %s: %w", a, err)
		}
	}
	up := 0
	for up < len(r.spec.Connect) {
		select {
		case st := <-n.Status():
			switch st.Kind {
			case node.StatusPeerAdded, node.StatusPeerRecovered:
				if st.Peer.DialAddr != "" {
					up++
				}
			case node.StatusPeerLost, node.StatusPeerRemoved:
				if st.Peer.DialAddr != "" {
					up--
				}
			}
		case <-ctx.Done():
			return "", fmt.Errorf("waiting for peers: %w", errStopped)
		}
	}
	return addr, nil
}

// awaitCmd waits for the next command; ok is false when the input ended.
func (r *role) awaitCmd(ctx context.Context) (cmd string, ok bool) {
	select {
	case c, ok := <-r.cmds:
		return c, ok
	case <-ctx.Done():
		return "", false
	}
}

// drain waits for the end of input, so a role's node stays up (and its
// queues keep flushing) until the parent is done with the whole run.
func (r *role) drain(ctx context.Context) {
	for {
		if _, ok := r.awaitCmd(ctx); !ok {
			return
		}
	}
}

func dropped(n *node.Node) uint64 {
	var d uint64
	for _, p := range n.Peers() {
		d += p.Stats().Dropped
	}
	return d
}

// clock reads wall-clock nanoseconds from the monotonic clock: one
// time.Now at start, then time.Since, which costs half as much (it skips
// the wall-clock read), for a per-message timestamp.
type clock struct {
	base   time.Time
	baseNs int64
}

func newClock() clock {
	now := time.Now()
	return clock{base: now, baseNs: now.UnixNano()}
}

func (c clock) nowNs() int64 { return c.baseNs + int64(time.Since(c.base)) }

// acks is a publisher's view of its subscribers' acknowledgments.
type acks struct {
	count  []atomic.Uint64 // per subscriber: messages it has received
	linked []atomic.Bool   // per subscriber: it has answered a probe
	links  chan int        // subscribers newly linked
	more   chan struct{}   // an ack arrived (capacity 1)
}

func newAcks(subs int) *acks {
	return &acks{count: make([]atomic.Uint64, subs), linked: make([]atomic.Bool, subs),
		links: make(chan int, subs), more: make(chan struct{}, 1)}
}

// handle records one ack; it runs on an event loop and never blocks.
func (a *acks) handle(m node.Message) {
	v, err := m.Data()
	if err != nil {
		return
	}
	p, err := DecodePayload(v.Bytes())
	if err != nil || p.Kind != KindAck || int(p.Sub) >= len(a.count) {
		return
	}
	c := &a.count[p.Sub]
	for old := c.Load(); p.Seq > old && !c.CompareAndSwap(old, p.Seq); old = c.Load() {
	}
	if !a.linked[p.Sub].Swap(true) {
		a.links <- int(p.Sub) // never blocks: once per subscriber
	}
	select {
	case a.more <- struct{}{}:
	default:
	}
}

// min returns the smallest acknowledged count.
func (a *acks) min() uint64 {
	m := a.count[0].Load()
	for i := 1; i < len(a.count); i++ {
		m = min(m, a.count[i].Load())
	}
	return m
}

// pub probes until GO, then publishes its share of the messages, one
// PublishBytes call per message, paced to its share of Rate and bounded
// by the flow-control window.
func (r *role) pub(ctx context.Context) error {
	n, err := r.newNode(false, r.spec.PublishWait)
	if err != nil {
		return err
	}
	defer n.Close()
	a := newAcks(r.spec.Subs)
	if _, err := n.SubscribeFunc(AckTopic(r.spec.ID), a.handle); err != nil {
		return fmt.Errorf("cannot subscribe to acks: %w", err)
	}
	if _, err := r.start(ctx, n); err != nil {
		return err
	}
	if err := r.w.send(lineReady, "-"); err != nil {
		return err
	}
	clk := newClock()
	buf := AppendPayload(nil, Payload{Kind: KindProbe, Pub: uint32(r.spec.ID)}, r.spec.Size)
	tick := time.NewTicker(probeInterval)
	defer tick.Stop()
	for probe := uint64(0); ; probe++ {
		PutPayload(buf, Payload{Kind: KindProbe, Pub: uint32(r.spec.ID), Seq: probe, SentNs: clk.nowNs()})
		_ = n.PublishBytes(Topic, buf)
	wait:
		select {
		case s := <-a.links:
			if err := r.w.send(lineLinked, strconv.Itoa(s)); err != nil {
				return err
			}
			goto wait
		case c, ok := <-r.cmds:
			if !ok || c == cmdStop {
				return errStopped
			}
			if c == cmdGo {
				tick.Stop()
				res, err := r.publish(ctx, n, a, clk, buf)
				if err != nil {
					return err
				}
				if err := r.w.sendJSON(lineResult, res); err != nil {
					return err
				}
				r.drain(ctx)
				return nil
			}
		case <-tick.C:
		case <-ctx.Done():
			return errStopped
		}
	}
}

// publish sends the messages.
//
// Hot path: the payload buffer is filled once and only its header is
// rewritten per message; PublishBytes does not allocate.
func (r *role) publish(ctx context.Context, n *node.Node, a *acks, clk clock, buf []byte) (PubResult, error) {
	count := r.spec.PubShare(r.spec.ID)
	var interval float64 // ns between messages; 0: no pacing
	if r.spec.Rate > 0 {
		interval = 1e9 / (r.spec.Rate / float64(r.spec.Pubs))
	}
	window := uint64(max(r.spec.Window, 0))
	res := PubResult{ID: r.spec.ID}
	start := time.Now()
	res.StartNs = clk.nowNs()
	p := Payload{Kind: KindData, Pub: uint32(r.spec.ID)}
	var acked uint64 // the slowest subscriber's count, as last read
	for i := range count {
		if window > 0 && i >= acked+window {
			var err error
			if acked, err = r.awaitWindow(ctx, a, i-window+1, &res); err != nil {
				return res, err
			}
			if res.WindowTimeouts > 0 {
				window = 0 // a subscriber stopped acknowledging: run open loop
			}
		}
		var now int64 // 0: not stamped
		if interval > 0 {
			now = clk.nowNs()
			if d := time.Duration(float64(i)*interval) - time.Since(start); d > 0 {
				time.Sleep(d)
				now = clk.nowNs()
			}
		} else if i%maxRateStampEvery == 0 || i == count-1 {
			now = clk.nowNs()
		}
		p.Seq, p.SentNs = i, now
		PutPayload(buf, p)
		if err := n.PublishBytes(Topic, buf); err != nil {
			res.Errors++
		}
		if i&1023 == 1023 && ctx.Err() != nil {
			return res, fmt.Errorf("publishing: %w", errStopped)
		}
	}
	res.EndNs = clk.nowNs()
	res.Sent = count
	res.Bytes = count * uint64(len(buf))
	res.MsgsPerSec, _ = rates(res.Sent, res.Bytes, res.StartNs, res.EndNs)
	res.Dropped = dropped(n)
	return res, nil
}

// maxRateStampEvery: at the maximum rate (no --rate) a publisher stamps
// its first and last message and one in this many with the send time; the
// others carry 0. Reading the clock costs a publisher and a subscriber
// each ~25-50 ns per message on the development VM, 5-10% of the cost of a
// 64-byte message, which no production publisher pays; and latency at the
// maximum rate measures queueing anyway. Paced runs (--rate, and the
// --latency rerun) stamp every message.
const maxRateStampEvery = 16

// awaitWindow waits until every subscriber has acknowledged need
// messages, or PublishWait passes without progress (counted in res).
func (r *role) awaitWindow(ctx context.Context, a *acks, need uint64, res *PubResult) (uint64, error) {
	var timer *time.Timer
	for {
		m := a.min()
		if m >= need {
			return m, nil
		}
		res.WindowWaits++
		if timer == nil {
			timer = time.NewTimer(r.spec.PublishWait)
			defer timer.Stop()
		}
		select {
		case <-a.more:
		case <-timer.C:
			res.WindowTimeouts++
			return m, nil
		case <-ctx.Done():
			return m, fmt.Errorf("publishing: %w", errStopped)
		}
	}
}

// sub subscribes before peering (so its filter travels in the handshake),
// answers probes, acknowledges data, reports progress, and reports its
// result once every message arrived or the parent says STOP.
func (r *role) sub(ctx context.Context) error {
	n, err := r.newNode(false, 0) // acks are sent on event loops: never wait
	if err != nil {
		return err
	}
	defer n.Close()
	if r.spec.Window < 0 {
		r.spec.AckEvery = 0
	}
	expect := make([]uint64, r.spec.Pubs)
	ackTopics := make([]string, r.spec.Pubs)
	for i := range expect {
		expect[i] = r.spec.PubShare(i)
		ackTopics[i] = AckTopic(i)
	}
	var (
		mu       sync.Mutex // serializes the tracker: peers may be on several loops
		tr       = NewTracker(expect)
		count    atomic.Uint64
		done     = make(chan struct{})
		doneOnce sync.Once
		clk      = newClock()
		ackEvery = uint64(r.spec.AckEvery) // 0: no flow control, acks answer probes only
		sub      = uint16(r.spec.ID)
	)
	ack := func(pub uint32, n64 uint64) {
		var b [PayloadHeaderSize]byte
		PutPayload(b[:], Payload{Kind: KindAck, Sub: sub, Pub: pub, Seq: n64, SentNs: clk.nowNs()})
		_ = n.PublishBytes(ackTopics[pub], b[:])
	}
	// Hot path: runs on an event loop per message; it decodes views only.
	handle := func(m node.Message) {
		v, err := m.Data()
		var p Payload
		if err == nil {
			p, err = DecodePayload(v.Bytes())
		}
		var now int64 // read only for stamped messages (maxRateStampEvery)
		if p.SentNs != 0 {
			now = clk.nowNs()
		}
		if err == nil && p.Kind == KindProbe {
			if int(p.Pub) < len(expect) {
				mu.Lock()
				c := tr.Count(p.Pub)
				mu.Unlock()
				ack(p.Pub, c)
			}
			return
		}
		mu.Lock()
		if err != nil || p.Kind != KindData {
			tr.Bad()
			err = ErrBadPayload
		} else {
			tr.Observe(p, len(v.Bytes()), now)
		}
		c := tr.Count(p.Pub)
		u, fin := tr.Unique(), tr.Done()
		mu.Unlock()
		count.Store(u)
		if ackEvery > 0 && err == nil && int(p.Pub) < len(expect) && (c%ackEvery == 0 || c == expect[p.Pub]) {
			ack(p.Pub, c)
		}
		if fin {
			doneOnce.Do(func() { close(done) })
		}
	}
	if _, err := n.SubscribeFunc(Topic, handle); err != nil {
		return fmt.Errorf("cannot subscribe: %w", err)
	}
	addr, err := r.start(ctx, n)
	if err != nil {
		return err
	}
	if err := r.w.send(lineReady, addr); err != nil {
		return err
	}
	tick := time.NewTicker(r.spec.Progress)
	defer tick.Stop()
wait:
	for {
		select {
		case <-tick.C:
			if err := r.w.send(lineProgress, strconv.FormatUint(count.Load(), 10)); err != nil {
				return err
			}
		case <-done:
			break wait
		case c, ok := <-r.cmds:
			if !ok {
				return errStopped
			}
			if c == cmdStop {
				break wait
			}
		case <-ctx.Done():
			return errStopped
		}
	}
	mu.Lock()
	res := tr.Result(r.spec.ID)
	mu.Unlock()
	if err := r.w.send(lineProgress, strconv.FormatUint(res.Received, 10)); err != nil {
		return err
	}
	if err := r.w.sendJSON(lineResult, res); err != nil {
		return err
	}
	r.drain(ctx)
	return nil
}

// relay forwards between its peers until STOP, then reports its counters.
func (r *role) relay(ctx context.Context) error {
	n, err := r.newNode(true, 0)
	if err != nil {
		return err
	}
	defer n.Close()
	addr, err := r.start(ctx, n)
	if err != nil {
		return err
	}
	if err := r.w.send(lineReady, addr); err != nil {
		return err
	}
	for {
		c, ok := r.awaitCmd(ctx)
		if !ok {
			return errStopped
		}
		if c == cmdStop {
			break
		}
	}
	st := n.Stats()
	res := RelayResult{Forwarded: st.Forwarded, Duplicates: st.Duplicates, Dropped: dropped(n)}
	for _, p := range n.Peers() {
		res.Received += p.Stats().FramesIn
	}
	if err := r.w.sendJSON(lineResult, res); err != nil {
		return err
	}
	r.drain(ctx)
	return nil
}
