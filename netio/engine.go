package netio

import (
	"context"
	crand "crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/panjf2000/gnet/v2"

	"github.com/weirio/weir/frame"
)

// Handler receives what happens on the engine's connections. Its methods
// are called on event loops and must not block.
type Handler interface {
	// Filter returns the local subscription filter to send in a handshake
	// and its version (see Peer.FilterVersion).
	Filter() (frame.StrList, uint64)
	// PeerUp reports a completed handshake with the peer's full filter; the
	// filter is a view valid only during the call.
	PeerUp(p *Peer, filter frame.StrList)
	// PeerDown reports that an established peer's connection closed, and
	// why.
	PeerDown(p *Peer, reason error)
	// Frame delivers a frame from an established peer: every kind but the
	// handshake, keepalive, bye and error frames, which the engine handles.
	// f is a view into the input buffer, valid only during the call.
	Frame(p *Peer, f frame.Frame)
	// DialFailed reports a failed connection attempt to a dial target and
	// the delay before the next one (0: no retry).
	DialFailed(addr string, err error, retryIn time.Duration)
}

// Engine runs weir connections on gnet event loops: one engine listens,
// one dials (gnet's client); connections that use TLS run on goroutines
// instead (tlsconn.go). Methods are safe for concurrent use.
type Engine struct {
	opts Options
	h    Handler
	log  *slog.Logger
	tls  *tlsSetup // Options.TLS compiled; nil: plaintext
	// evictKinds is Options.EvictKinds as a set (empty without OnEvict).
	evictKinds kindSet

	cli *gnet.Client
	// ctx is cancelled when Close starts: it aborts TLS dials and
	// handshakes in progress.
	ctx    context.Context
	cancel context.CancelFunc

	ln struct {
		booted chan gnet.Engine
		done   chan error
		addr   net.Addr
		eng    gnet.Engine
		tls    net.Listener // the TLS listener, instead of eng
	}

	mu struct {
		sync.Mutex
		conns   map[*connState]struct{} // every open connection
		peers   map[frame.NodeID]*Peer  // established, one per node
		targets map[string]*dialTarget
		closed  bool
		// handshaking counts the inbound connections in their handshake
		// (connState.inHandshake), for MaxHandshakes.
		handshaking int
		// loops holds the state of each gnet event loop seen so far.
		loops map[gnet.EventLoop]*loopState
	}

	stats   engineStats
	failLog failLog
	stop    chan struct{}
	wg      sync.WaitGroup
}

type engineStats struct {
	accepted, dials, dialFailures atomic.Uint64
	failures                      [32]atomic.Uint64 // by ErrCode
	refused                       [32]atomic.Uint64 // by ErrCode
	limits                        [numLimits]atomic.Uint64
}

// dialTarget is an address this node keeps a connection to.
type dialTarget struct {
	addr     string
	attempts int
	timer    *time.Timer
	conn     *connState // the current attempt or connection
	tls      *tlsSetup  // nil: plaintext on gnet
	parked   bool       // a connection dialed by the peer won the duplicate rule
	parkedOn frame.NodeID
	removed  bool
}

// New starts an engine's dialing side and housekeeping; call Listen to
// accept connections and Close to stop.
func New(opts Options, h Handler) (*Engine, error) {
	opts.EnsureDefaults()
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	if opts.Loops == 0 {
		opts.Loops = DefaultLoops()
	}
	e := &Engine{opts: opts, h: h, log: opts.Logger, stop: make(chan struct{})}
	if opts.OnEvict != nil {
		for _, k := range opts.EvictKinds {
			e.evictKinds.add(k)
		}
	}
	if opts.TLS != nil {
		e.tls = opts.TLS.compile()
	}
	e.ctx, e.cancel = context.WithCancel(context.Background())
	e.mu.conns = make(map[*connState]struct{})
	e.mu.peers = make(map[frame.NodeID]*Peer)
	e.mu.targets = make(map[string]*dialTarget)
	cli, err := gnet.NewClient(&handler{e: e}, e.gnetOptions()...)
	if err != nil {
		return nil, fmt.Errorf("netio: cannot create client engine: %w", err)
	}
	if err := cli.Start(); err != nil {
		return nil, fmt.Errorf("netio: cannot start client engine: %w", err)
	}
	e.cli = cli
	e.wg.Add(1)
	go e.housekeeping()
	return e, nil
}

func (e *Engine) gnetOptions() []gnet.Option {
	return []gnet.Option{
		gnet.WithMulticore(e.opts.Loops > 1), gnet.WithNumEventLoop(e.opts.Loops),
		gnet.WithTCPNoDelay(gnet.TCPNoDelay), gnet.WithReadBufferCap(256 << 10),
		gnet.WithLogger(gnetLogger{e.log}), gnet.WithReuseAddr(true),
		gnet.WithSocketSendBuffer(1 << 20), gnet.WithSocketRecvBuffer(1 << 20),
	}
}

// ID returns this node's id.
func (e *Engine) ID() frame.NodeID { return e.opts.ID }

// Options returns the engine's options with defaults applied.
func (e *Engine) Options() Options { return e.opts }

func (e *Engine) now() int64 { return e.opts.Now().UnixNano() }

// Listen starts accepting connections on addr ("host:port"; port 0 picks
// one) and returns the bound address. An engine listens on one address:
// plaintext on gnet, or, with Options.TLS, mutual TLS only.
func (e *Engine) Listen(addr string) (net.Addr, error) {
	e.mu.Lock()
	if e.mu.closed {
		e.mu.Unlock()
		return nil, ErrClosed
	}
	if e.ln.booted != nil || e.ln.tls != nil {
		e.mu.Unlock()
		return nil, errors.New("netio: already listening")
	}
	if e.tls != nil {
		defer e.mu.Unlock()
		return e.listenTLSLocked(addr)
	}
	e.ln.booted = make(chan gnet.Engine, 1)
	e.ln.done = make(chan error, 1)
	e.mu.Unlock()
	go func() {
		e.ln.done <- gnet.Run(&handler{e: e, listen: true}, "tcp://"+addr, e.gnetOptions()...)
	}()
	select {
	case eng := <-e.ln.booted:
		e.ln.eng = eng
	case err := <-e.ln.done:
		e.ln.done <- err
		return nil, fmt.Errorf("netio: cannot listen on %s: %w", addr, err)
	}
	fd, err := e.ln.eng.Dup()
	if err != nil {
		return nil, fmt.Errorf("netio: cannot read listening address: %w", err)
	}
	defer syscall.Close(fd)
	sa, err := syscall.Getsockname(fd)
	if err != nil {
		return nil, fmt.Errorf("netio: cannot read listening address: %w", err)
	}
	switch a := sa.(type) {
	case *syscall.SockaddrInet4:
		e.ln.addr = &net.TCPAddr{IP: net.IP(a.Addr[:]), Port: a.Port}
	case *syscall.SockaddrInet6:
		e.ln.addr = &net.TCPAddr{IP: net.IP(a.Addr[:]), Port: a.Port}
	}
	e.log.Info("listening", "addr", e.ln.addr.String())
	return e.ln.addr, nil
}

func (e *Engine) listenerBooted(eng gnet.Engine) { e.ln.booted <- eng }

// DialOption configures one dial target (Dial).
type DialOption func(*dialConfig)

type dialConfig struct{ tls *TLSConfig }

// WithTLS dials with c instead of Options.TLS: a per-peer certificate,
// CA or pinned names (see TLSConfig.WithPeerNames). WithTLS(nil) dials
// plaintext.
func WithTLS(c *TLSConfig) DialOption { return func(d *dialConfig) { d.tls = c } }

// Dial keeps a connection to addr: it connects now (in the background) and
// reconnects with exponential backoff and jitter whenever the connection
// is lost, until Undial. It uses TLS when Options.TLS is set, unless an
// option says otherwise. Dialing an address twice is a no-op.
func (e *Engine) Dial(addr string, opts ...DialOption) error {
	if _, _, err := net.SplitHostPort(addr); err != nil {
		return fmt.Errorf("netio: bad address %q: %w", addr, err)
	}
	dc := dialConfig{tls: e.opts.TLS}
	for _, o := range opts {
		o(&dc)
	}
	ts := e.tls
	if dc.tls != e.opts.TLS {
		ts = nil
		if dc.tls != nil {
			if err := dc.tls.Validate(); err != nil {
				return err
			}
			ts = dc.tls.compile()
		}
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.mu.closed {
		return ErrClosed
	}
	if _, ok := e.mu.targets[addr]; ok {
		return nil
	}
	t := &dialTarget{addr: addr, tls: ts}
	e.mu.targets[addr] = t
	e.scheduleLocked(t, 0)
	return nil
}

// Undial stops keeping a connection to addr and closes it (with bye).
func (e *Engine) Undial(addr string) bool {
	e.mu.Lock()
	t, ok := e.mu.targets[addr]
	if ok {
		delete(e.mu.targets, addr)
		t.removed = true
		if t.timer != nil {
			t.timer.Stop()
		}
	}
	e.mu.Unlock()
	if ok && t.conn != nil {
		t.conn.closeWith(frame.CodeUnpeer, "unpeered")
	}
	return ok
}

// scheduleLocked starts a dial attempt after delay.
func (e *Engine) scheduleLocked(t *dialTarget, delay time.Duration) {
	t.timer = time.AfterFunc(delay, func() {
		e.mu.Lock()
		if e.mu.closed || t.removed || t.conn != nil {
			e.mu.Unlock()
			return
		}
		st := &connState{e: e, target: t}
		st.stage.Store(stageAwaitWelcome)
		t.conn = st
		e.wg.Add(1)
		e.mu.Unlock()
		go e.dial(t, st)
	})
}

func (e *Engine) dial(t *dialTarget, st *connState) {
	defer e.wg.Done()
	e.stats.dials.Add(1)
	var err error
	if t.tls != nil {
		err = e.dialTLS(t, st) // on success, runs the connection to its end
	} else {
		_, err = e.cli.DialContext("tcp", t.addr, st)
	}
	if err == nil {
		return
	}
	e.stats.dialFailures.Add(1)
	e.mu.Lock()
	t.conn = nil
	delay := e.retryDelayLocked(t)
	e.mu.Unlock()
	e.log.Debug("dial failed", "addr", t.addr, "err", err, "retry_in", delay)
	e.h.DialFailed(t.addr, err, delay)
}

// retryDelayLocked schedules the next attempt and returns its delay (0 if
// none).
func (e *Engine) retryDelayLocked(t *dialTarget) time.Duration {
	if e.mu.closed || t.removed || t.parked {
		return 0
	}
	d := e.opts.RetryInitial << min(t.attempts, 20)
	if d > e.opts.RetryMax || d <= 0 {
		d = e.opts.RetryMax
	}
	t.attempts++
	d = time.Duration(float64(d) * (0.8 + 0.4*rand.Float64()))
	e.scheduleLocked(t, d)
	return d
}

// connClosed runs on the connection's owner after the connection closed
// (gnet's OnClose; the TLS reader once its writer stopped).
func (e *Engine) connClosed(st *connState, err error) {
	p := st.peer.Load()
	e.mu.Lock()
	delete(e.mu.conns, st)
	e.handshakeDoneLocked(st)
	if p != nil && e.mu.peers[p.ID] == p {
		delete(e.mu.peers, p.ID)
	}
	// A target parked on this peer dials again now.
	var retry time.Duration = -1
	if p != nil {
		for _, t := range e.mu.targets {
			if t.parked && t.parkedOn == p.ID {
				t.parked = false
				t.attempts = 0
				e.scheduleLocked(t, 0)
			}
		}
	}
	if t := st.target; t != nil && t.conn == st {
		t.conn = nil
		var le *LocalError
		var re *RemoteError
		switch {
		case errors.As(err, &re) && re.Code == frame.CodeDuplicate, errors.As(err, &le) && le.Code == frame.CodeDuplicate:
			// The other connection between us won; wait for it to go.
			if _, ok := e.mu.peers[st.remote]; ok {
				t.parked, t.parkedOn = true, st.remote
			}
		case errors.As(err, &re) && re.Code == frame.CodeSelf, errors.As(err, &le) && le.Code == frame.CodeSelf:
			t.removed = true
			delete(e.mu.targets, t.addr)
		}
		if p != nil {
			t.attempts = 0 // it was up: start the backoff again
		}
		retry = e.retryDelayLocked(t)
	}
	e.mu.Unlock()
	if p != nil {
		p.out.close()
		e.log.Info("peer down", "peer", p.Name, "addr", p.Addr, "reason", err)
		e.h.PeerDown(p, err)
	} else if st.target != nil && retry >= 0 {
		e.h.DialFailed(st.target.addr, err, retry)
	}
}

// Peers returns the established peers.
func (e *Engine) Peers() []*Peer {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := make([]*Peer, 0, len(e.mu.peers))
	for _, p := range e.mu.peers {
		out = append(out, p)
	}
	return out
}

// Stats are engine-wide counters.
type Stats struct {
	Accepted     uint64 `json:"accepted"`
	Dials        uint64 `json:"dials"`
	DialFailures uint64 `json:"dial_failures"`
	// Failures counts connections this node closed, by error code
	// (handshake failures including auth, protocol errors, limits,
	// timeouts).
	Failures map[frame.ErrCode]uint64 `json:"failures"`
	// Refused counts handshakes the peer refused with an error frame (or,
	// on TLS, an alert: code auth), by the code it sent.
	Refused map[frame.ErrCode]uint64 `json:"refused"`
	// Limits counts the times each limit was hit.
	Limits LimitStats `json:"limits"`
	// Conns counts open connections (established and in the handshake),
	// Handshaking the inbound ones in their handshake (not those evicted
	// by MaxHandshakes, even while their close completes), Peers the
	// established ones.
	Conns       int `json:"conns"`
	Handshaking int `json:"handshaking"`
	Peers       int `json:"peers"`
}

// Stats returns a snapshot of the engine's counters.
func (e *Engine) Stats() Stats {
	s := Stats{Accepted: e.stats.accepted.Load(), Dials: e.stats.dials.Load(), DialFailures: e.stats.dialFailures.Load(),
		Failures: byCode(&e.stats.failures), Refused: byCode(&e.stats.refused), Limits: e.limitStats()}
	e.mu.Lock()
	s.Conns, s.Handshaking, s.Peers = len(e.mu.conns), e.mu.handshaking, len(e.mu.peers)
	e.mu.Unlock()
	return s
}

func byCode(c *[32]atomic.Uint64) map[frame.ErrCode]uint64 {
	m := map[frame.ErrCode]uint64{}
	for i := range c {
		if n := c[i].Load(); n > 0 {
			m[frame.ErrCode(i)] = n
		}
	}
	return m
}

// housekeeping enforces handshake and keepalive timeouts, pings idle
// peers and resumes writers that stalled on a full socket.
func (e *Engine) housekeeping() {
	defer e.wg.Done()
	t := time.NewTicker(e.opts.Tick)
	defer t.Stop()
	var conns []*connState
	for {
		select {
		case <-e.stop:
			return
		case <-t.C:
		}
		now := e.now()
		e.reportSuppressed(now)
		conns = conns[:0]
		e.mu.Lock()
		for st := range e.mu.conns {
			conns = append(conns, st)
		}
		e.mu.Unlock()
		for _, st := range conns {
			switch st.stage.Load() {
			case stageAwaitHello, stageAwaitWelcome, stageAwaitAuth:
				if now-st.openedAt > int64(e.opts.HandshakeTimeout) {
					st.fail(frame.CodeTimeout, "handshake not completed in time", ErrHandshakeTime)
				}
			case stageUp:
				p := st.peer.Load()
				if now-st.lastRecv.Load() > int64(e.opts.PeerTimeout) {
					st.fail(frame.CodeTimeout, "peer silent", ErrPeerTimeout)
					continue
				}
				if now-st.lastSent.Load() > int64(e.opts.PingInterval) && !p.out.pending() {
					var b [64]byte
					_ = p.sendControl(frame.AppendPing(b[:0], frame.KindPing, frame.Ping{Token: uint64(now), Time: now}))
				} else if p.out.pending() {
					st.wake()
				}
			}
		}
	}
}

// Close stops accepting, flushes each peer's queue and says bye (waiting
// up to ctx's deadline for the queues to drain), then closes every
// connection and stops the engines. It is safe to call more than once.
func (e *Engine) Close(ctx context.Context) error {
	e.mu.Lock()
	if e.mu.closed {
		e.mu.Unlock()
		return nil
	}
	e.mu.closed = true
	e.cancel()
	if e.ln.tls != nil {
		_ = e.ln.tls.Close() // stop accepting
	}
	for _, t := range e.mu.targets {
		t.removed = true
		if t.timer != nil {
			t.timer.Stop()
		}
	}
	var conns []*connState
	for st := range e.mu.conns {
		conns = append(conns, st)
	}
	e.mu.Unlock()
	// Wake every peer so queued frames go out, then wait for the queues and
	// the sockets' buffers to drain, bounded by ctx.
	for _, st := range conns {
		if st.peer.Load() != nil {
			st.wake()
		}
	}
	e.drain(ctx, conns)
	for _, st := range conns {
		st.closeWith(frame.CodeShutdown, "node shutting down")
	}
	e.waitConns(ctx)
	// Past the deadline: close what is left without a goodbye (a TLS
	// writer may be blocked on a peer that stopped reading).
	e.mu.Lock()
	conns = conns[:0]
	for st := range e.mu.conns {
		conns = append(conns, st)
	}
	e.mu.Unlock()
	for _, st := range conns {
		st.c.abort()
	}
	close(e.stop)
	var errs []error
	if e.ln.eng != (gnet.Engine{}) {
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		errs = append(errs, e.ln.eng.Stop(sctx))
		cancel()
		<-e.ln.done
	}
	errs = append(errs, e.cli.Stop())
	e.wg.Wait()
	return errors.Join(errs...)
}

func (e *Engine) drain(ctx context.Context, conns []*connState) {
	for {
		busy := false
		for _, st := range conns {
			if p := st.peer.Load(); p != nil && st.stage.Load() == stageUp && p.out.pending() {
				busy = true
				st.wake()
			}
		}
		if !busy {
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(5 * time.Millisecond):
		}
	}
}

// waitConns waits until every connection has closed or ctx is done.
func (e *Engine) waitConns(ctx context.Context) {
	for {
		e.mu.Lock()
		n := len(e.mu.conns)
		e.mu.Unlock()
		if n == 0 {
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(5 * time.Millisecond):
		}
	}
}

func randomID() (id frame.NodeID) {
	_, _ = crand.Read(id[:])
	return id
}

// gnetLogger forwards gnet's warnings and errors to slog.
type gnetLogger struct{ l *slog.Logger }

func (g gnetLogger) Debugf(string, ...any) {}
func (g gnetLogger) Infof(string, ...any)  {}
func (g gnetLogger) Warnf(f string, a ...any) {
	g.l.Warn("gnet: " + fmt.Sprintf(f, a...))
}
func (g gnetLogger) Errorf(f string, a ...any) {
	g.l.Error("gnet: " + fmt.Sprintf(f, a...))
}
func (g gnetLogger) Fatalf(f string, a ...any) {
	g.l.Error("gnet: fatal: " + fmt.Sprintf(f, a...))
}

// loopState is what one gnet event loop keeps across its connections: the
// connections a relay on this loop forwarded frames to while handling the
// current read (Peer.Forward), which the loop flushes itself before it
// discards the read, instead of waking itself through gnet. Only that loop
// touches it.
type loopState struct {
	dirty []*connState
}

// loopOf returns the state of event loop l, creating it on first use.
// Called when a connection opens, not per frame.
func (e *Engine) loopOf(l gnet.EventLoop) *loopState {
	if l == nil {
		return nil
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.mu.loops == nil {
		e.mu.loops = make(map[gnet.EventLoop]*loopState)
	}
	ls := e.mu.loops[l]
	if ls == nil {
		ls = &loopState{}
		e.mu.loops[l] = ls
	}
	return ls
}

// flushDirty writes what Peer.Forward queued for connections of this loop
// during the callback that is ending. Runs on the loop.
//
// Hot path: once per read; nothing to do unless a frame was forwarded.
func (ls *loopState) flushDirty() {
	for i, st := range ls.dirty {
		ls.dirty[i] = nil
		st.dirty = false
		if st.peer.Load() != nil && st.stage.Load() != stageClosing {
			st.flush()
		} else {
			st.dropForwards()
		}
	}
	ls.dirty = ls.dirty[:0]
}

// mark lists st for flushDirty.
func (ls *loopState) mark(st *connState) {
	if !st.dirty {
		st.dirty = true
		ls.dirty = append(ls.dirty, st)
	}
}
