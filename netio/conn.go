package netio

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/panjf2000/gnet/v2"

	"github.com/weirio/weir/frame"
)

// Connection stages.
const (
	stageAwaitHello   int32 = iota // listener: waiting for the dialer's hello
	stageAwaitWelcome              // dialer: hello sent, waiting for welcome
	stageUp                        // handshake complete
	stageClosing                   // closeWith called
)

// connState is the per-connection state, stored as the gnet connection's
// context. Fields without atomics are touched only on the connection's
// event loop.
type connState struct {
	e      *Engine
	c      gnet.Conn
	target *dialTarget          // nil for inbound connections
	peer   atomic.Pointer[Peer] // set when the handshake completes
	remote frame.NodeID         // the peer's id, once its hello/welcome arrived
	// helloFilterVersion is the filter version the dialer's hello carried.
	helloFilterVersion uint64

	stage    atomic.Int32
	openedAt int64        // ns, set before the connection is registered
	lastRecv atomic.Int64 // ns
	lastSent atomic.Int64 // ns
	woken    atomic.Bool  // a wake is outstanding

	retryArmed atomic.Bool
	retryMu    sync.Mutex
	retryTimer *time.Timer

	closeOnce sync.Once
	reason    atomic.Pointer[error] // why this node closed it, if it did
}

// wake asks the connection's loop to flush the outbox. Safe anywhere.
func (st *connState) wake() {
	if st.woken.CompareAndSwap(false, true) {
		if err := st.c.Wake(nil); err != nil {
			st.woken.Store(false)
		}
	}
}

// closeWith records why this node closes the connection, sends a final bye
// or error frame after what is already queued, and closes. Safe anywhere.
func (st *connState) closeWith(code frame.ErrCode, text string) {
	st.closeOnce.Do(func() {
		var err error = &LocalError{Code: code, Text: text}
		if code == frame.CodeUnpeer || code == frame.CodeShutdown {
			err = ErrLocalClose
		}
		st.reason.Store(&err)
		kind := frame.KindError
		if code == frame.CodeShutdown || code == frame.CodeUnpeer || code == frame.CodeDuplicate {
			kind = frame.KindBye
		}
		st.stage.Store(stageClosing)
		msg := frame.AppendReason(nil, kind, code, text)
		var pending [][]byte
		if p := st.peer.Load(); p != nil {
			pending, _ = p.out.take()
			p.out.close()
		}
		// AsyncWritev runs on the loop after what it already holds; then
		// the connection closes (gnet flushes its buffer on close).
		_ = st.c.AsyncWritev(append(pending, msg), func(c gnet.Conn, _ error) error {
			return c.Close()
		})
	})
}

// fail closes the connection because of the peer's misbehaviour and counts
// it.
func (st *connState) fail(code frame.ErrCode, text string, err error) {
	st.e.countFailure(st, code)
	st.e.log.Warn("closing connection", "remote", st.c.RemoteAddr(), "peer", st.peerName(), "code", code.String(), "reason", text, "err", err)
	st.closeOnce.Do(func() {
		var e error = &LocalError{Code: code, Text: text, Err: err}
		st.reason.Store(&e)
		st.stage.Store(stageClosing)
		if p := st.peer.Load(); p != nil {
			p.out.close()
		}
		msg := frame.AppendReason(nil, frame.KindError, code, text)
		_ = st.c.AsyncWrite(msg, func(c gnet.Conn, _ error) error { return c.Close() })
	})
}

func (st *connState) peerName() string {
	if p := st.peer.Load(); p != nil {
		return p.Name
	}
	return ""
}

// handler is the gnet event handler shared by the listening and the dialing
// engine.
type handler struct {
	gnet.BuiltinEventEngine
	e      *Engine
	listen bool
}

func (h *handler) OnBoot(eng gnet.Engine) gnet.Action {
	if h.listen {
		h.e.listenerBooted(eng)
	}
	return gnet.None
}

func (h *handler) OnOpen(c gnet.Conn) ([]byte, gnet.Action) {
	e := h.e
	st, _ := c.Context().(*connState)
	if st == nil {
		st = &connState{e: e}
		st.stage.Store(stageAwaitHello)
		c.SetContext(st)
	}
	st.c = c
	now := e.now()
	st.openedAt = now
	st.lastRecv.Store(now)
	if !e.addConn(st) {
		return nil, gnet.Close
	}
	if st.target == nil {
		e.stats.accepted.Add(1)
		return nil, gnet.None
	}
	// Dialer: open the handshake.
	st.stage.Store(stageAwaitWelcome)
	return e.appendHello(st, nil), gnet.None
}

func (h *handler) OnClose(c gnet.Conn, err error) gnet.Action {
	st, _ := c.Context().(*connState)
	if st == nil {
		return gnet.None
	}
	if r := st.reason.Load(); r != nil {
		err = *r
	}
	h.e.connClosed(st, err)
	return gnet.None
}

// OnTraffic runs for received bytes and for wakes. It first flushes the
// outbox, then handles every complete frame in the input buffer.
//
// Hot path: frames are scanned in place from gnet's buffer (Peek/Discard);
// relayed frames are appended to other peers' outboxes by the handler;
// nothing here allocates per frame.
func (h *handler) OnTraffic(c gnet.Conn) gnet.Action {
	st := c.Context().(*connState)
	e := h.e
	if c.InboundBuffered() > 0 {
		st.lastRecv.Store(e.now())
		if a := h.readFrames(st, c); a != gnet.None {
			return a
		}
	}
	if st.peer.Load() != nil {
		st.flush()
	}
	return gnet.None
}

func (h *handler) readFrames(st *connState, c gnet.Conn) gnet.Action {
	e := h.e
	buf, _ := c.Peek(-1)
	consumed := 0
	var framesIn int
	for len(buf) > 0 && st.stage.Load() != stageClosing {
		f, need, err := frame.Scan(buf, &e.opts.Limits)
		if err != nil {
			st.fail(frame.CodeProtocol, "bad frame header", err)
			break
		}
		if need > 0 {
			break
		}
		if st.stage.Load() == stageUp {
			framesIn++
			if !h.handleFrame(st, f) {
				consumed += f.Len()
				break
			}
		} else if !e.handshakeFrame(st, f) {
			consumed += f.Len()
			break
		}
		consumed += f.Len()
		buf = buf[f.Len():]
	}
	if p := st.peer.Load(); p != nil && consumed > 0 {
		p.framesIn.Add(uint64(framesIn))
		p.bytesIn.Add(uint64(consumed))
	}
	// gnet's Discard(n) with n <= 0 discards everything buffered: a partial
	// frame would be lost and the stream desynchronized.
	if consumed > 0 {
		_, _ = c.Discard(consumed)
	}
	return gnet.None
}

// handleFrame handles one frame of an established connection; false stops
// reading (the connection is closing).
func (h *handler) handleFrame(st *connState, f frame.Frame) bool {
	p := st.peer.Load()
	switch f.Kind() {
	case frame.KindPing:
		m, err := frame.DecodePing(f.Body())
		if err != nil {
			st.fail(frame.CodeProtocol, "bad ping", err)
			return false
		}
		var b [64]byte
		_ = p.sendControl(frame.AppendPing(b[:0], frame.KindPong, m))
	case frame.KindPong:
		// lastRecv was updated for the whole read.
	case frame.KindBye, frame.KindError:
		m, err := frame.DecodeReason(f.Body())
		var rerr error = &RemoteError{Bye: f.Kind() == frame.KindBye, Code: m.Code, Text: string(m.Text)}
		if err != nil {
			rerr = &LocalError{Code: frame.CodeProtocol, Text: "bad bye/error frame", Err: err}
		}
		st.closeOnce.Do(func() {
			st.reason.Store(&rerr)
			st.stage.Store(stageClosing)
			p.out.close()
			_ = st.c.Close()
		})
		return false
	case frame.KindHello, frame.KindWelcome, frame.KindAuth:
		st.fail(frame.CodeProtocol, "handshake frame after the handshake", nil)
		return false
	default:
		h.e.h.Frame(p, f)
	}
	return true
}

// retryDelay is how soon a flush deferred by a full socket is retried:
// long enough for the kernel to drain some of it, short enough that large
// messages stream instead of moving in housekeeping ticks.
const retryDelay = 2 * time.Millisecond

// retrySoon arms the connection's retry timer (one per connection, reused)
// to wake the loop again.
func (st *connState) retrySoon() {
	if st.retryArmed.Swap(true) {
		return
	}
	st.retryMu.Lock()
	defer st.retryMu.Unlock()
	if st.retryTimer == nil {
		st.retryTimer = time.AfterFunc(retryDelay, func() {
			st.retryArmed.Store(false)
			st.wake()
		})
		return
	}
	st.retryTimer.Reset(retryDelay)
}

// flush hands the queued frames to the socket in one write, unless the
// socket still holds more than the high-water mark (a stalled reader): then
// the frames stay queued, bounded by the policy, and the housekeeping tick
// retries.
func (st *connState) flush() {
	st.woken.Store(false)
	p := st.peer.Load()
	if !p.out.pending() {
		return
	}
	if st.c.OutboundBuffered() > st.e.opts.SocketHighWater {
		st.retrySoon()
		return
	}
	cs, n := p.out.take()
	if n == 0 {
		p.out.give(cs)
		return
	}
	// One writev for the whole batch; gnet copies what the socket does not
	// take, so the chunks can be recycled at once.
	w, _ := st.c.Writev(cs)
	p.framesOut.Add(uint64(n))
	p.bytesOut.Add(uint64(w))
	st.lastSent.Store(st.e.now())
	p.out.give(cs)
}
