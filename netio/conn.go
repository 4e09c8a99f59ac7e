package netio

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/panjf2000/gnet/v2"

	"github.com/weirio/weir/frame"
)

// Connection stages.
const (
	stageAwaitHello   int32 = iota // listener: waiting for the dialer's hello
	stageAwaitWelcome              // dialer: hello sent, waiting for welcome
	stageAwaitAuth                 // listener: welcome sent, waiting for the dialer's proof
	stageUp                        // handshake complete
	stageClosing                   // closeWith or fail called
)

// wire is what a connState needs of its connection; gnetWire and tlsWire
// implement it. "Owner" is the goroutine that reads the connection: its
// gnet event loop, or its TLS reader.
type wire interface {
	RemoteAddr() net.Addr
	// write writes a handshake frame. Owner only.
	write(b []byte)
	// writev writes a batch of queued frames and returns the bytes written
	// or buffered. Only flush calls it: on the loop (gnet) or on the TLS
	// writer goroutine.
	writev(bs [][]byte) int
	// backlog returns the bytes written but not yet taken by the socket.
	backlog() int
	// wake asks for a flush. Safe anywhere.
	wake() error
	// finish writes bs after whatever is already on its way, then closes
	// the connection. Safe anywhere.
	finish(bs [][]byte)
	// abort closes the connection without writing. Safe anywhere.
	abort()
}

// connState is the per-connection state, shared by the gnet and the TLS
// transport. Fields without atomics are touched only by the connection's
// owner (see wire), or under Engine.mu where marked.
type connState struct {
	e      *Engine
	c      wire
	target *dialTarget          // nil for inbound connections
	peer   atomic.Pointer[Peer] // set when the handshake completes
	remote frame.NodeID         // the peer's id, once its hello/welcome arrived
	// helloFilterVersion is the filter version the dialer's hello carried.
	helloFilterVersion uint64
	// auth is the shared-secret exchange in progress (nil without a
	// secret); pending the peer a listener admits once the proof checks.
	auth    *authCtx
	pending *pendingPeer
	// tls marks the TLS transport; certName is the name the peer's
	// certificate was verified under. Set before the weir handshake.
	tls      bool
	certName string
	// inHandshake: an inbound connection counted in Engine.mu.handshaking.
	// Guarded by Engine.mu.
	inHandshake bool

	stage    atomic.Int32
	openedAt int64        // ns, set before the connection is registered
	lastRecv atomic.Int64 // ns
	lastSent atomic.Int64 // ns
	woken    atomic.Bool  // a wake is outstanding

	// carry and want belong to the gnet loop (readGnet): the bytes of a
	// partial frame gnet holds from earlier reads, and the bytes the frame
	// at the head of the input needs before it can be handled.
	carry, want int
	// loop is the state of the gnet event loop that owns the connection
	// (nil on the TLS transport). The rest belongs to that loop: dirty marks
	// the connection as listed in loop.dirty; fwd holds frames a relay on
	// the loop forwards to this connection without copying them (views
	// into the input buffer of the connection being read, runs of adjacent
	// frames merged), fwdFrames their count, and iov is flush's scratch
	// list (Peer.Forward).
	loop      *loopState
	dirty     bool
	fwd       [][]byte
	fwdFrames int
	iov       [][]byte

	retryArmed atomic.Bool
	retryMu    sync.Mutex
	retryTimer *time.Timer

	closeOnce sync.Once
	reason    atomic.Pointer[error] // why the connection closed, once known
}

// wake asks the connection's owner to flush the outbox. Safe anywhere.
func (st *connState) wake() {
	if st.woken.CompareAndSwap(false, true) {
		if err := st.c.wake(); err != nil {
			st.woken.Store(false)
		}
	}
}

// closeWith records why this node closes the connection, sends a final bye
// or error frame after what is already queued, and closes. An error frame
// (any code but shutdown, unpeer and duplicate) is counted in
// Stats.Failures. It reports whether this call closed the connection.
// Safe anywhere.
func (st *connState) closeWith(code frame.ErrCode, text string) bool {
	closed := false
	st.closeOnce.Do(func() {
		closed = true
		var err error = &LocalError{Code: code, Text: text}
		if code == frame.CodeUnpeer || code == frame.CodeShutdown {
			err = ErrLocalClose
		}
		st.reason.Store(&err)
		kind := frame.KindError
		if code == frame.CodeShutdown || code == frame.CodeUnpeer || code == frame.CodeDuplicate {
			kind = frame.KindBye
		} else {
			st.e.countFailure(code)
		}
		st.stage.Store(stageClosing)
		msg := frame.AppendReason(nil, kind, code, text)
		var pending [][]byte
		if p := st.peer.Load(); p != nil {
			pending, _ = p.out.take()
			p.out.close()
		}
		// The final frames go out after what the wire already holds; then
		// the connection closes.
		st.c.finish(append(pending, msg))
	})
	return closed
}

// fail closes the connection because of the peer's misbehaviour (or a
// limit), with an error frame, and counts it. It reports whether this call
// closed the connection. Safe anywhere.
func (st *connState) fail(code frame.ErrCode, text string, err error) bool {
	closed := false
	st.closeOnce.Do(func() {
		closed = true
		st.e.countFailure(code)
		st.e.logFailure(st, code, text, err)
		var e error = &LocalError{Code: code, Text: text, Err: err}
		st.reason.Store(&e)
		st.stage.Store(stageClosing)
		if p := st.peer.Load(); p != nil {
			p.out.close()
		}
		st.c.finish([][]byte{frame.AppendReason(nil, frame.KindError, code, text)})
	})
	return closed
}

// remoteClosed records a bye or error frame from the peer (or a TLS
// alert) as the reason and closes without answering. A refusal before
// the handshake completed is counted in Stats.Refused.
func (st *connState) remoteClosed(rerr error) {
	st.closeOnce.Do(func() {
		var re *RemoteError
		if st.stage.Load() != stageUp && errors.As(rerr, &re) && !re.Bye {
			st.e.countRefused(re.Code)
			st.e.log.Warn("handshake refused by peer", "remote", st.c.RemoteAddr(), "code", re.Code.String(), "reason", re.Text)
		}
		st.reason.Store(&rerr)
		st.stage.Store(stageClosing)
		if p := st.peer.Load(); p != nil {
			p.out.close()
		}
		st.c.abort()
	})
}

func (st *connState) peerName() string {
	if p := st.peer.Load(); p != nil {
		return p.Name
	}
	return ""
}

// gnetWire is a plaintext connection on a gnet event loop.
type gnetWire struct{ c gnet.Conn }

// iovMax is the most buffers one writev takes (Linux's IOV_MAX). gnet
// passes a batch to writev(2) whole, which fails with EINVAL beyond it.
const iovMax = 1024

func (w gnetWire) RemoteAddr() net.Addr { return w.c.RemoteAddr() }
func (w gnetWire) write(b []byte)       { _, _ = w.c.Write(b) }
func (w gnetWire) backlog() int         { return w.c.OutboundBuffered() }
func (w gnetWire) wake() error          { return w.c.Wake(nil) }
func (w gnetWire) abort()               { _ = w.c.Close() }

func (w gnetWire) writev(bs [][]byte) int {
	n := 0
	for len(bs) > 0 {
		k := min(len(bs), iovMax)
		m, err := w.c.Writev(bs[:k])
		n += m
		if err != nil { // gnet closed the connection
			break
		}
		bs = bs[k:]
	}
	return n
}

func (w gnetWire) finish(bs [][]byte) {
	// AsyncWritev runs on the loop after what it already holds; then the
	// connection closes (gnet flushes its buffer on close).
	_ = w.c.AsyncWritev(bs, func(c gnet.Conn, _ error) error { return c.Close() })
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
	inbound := st == nil
	if inbound {
		st = &connState{e: e}
		st.stage.Store(stageAwaitHello)
		c.SetContext(st)
		e.stats.accepted.Add(1)
	}
	st.c = gnetWire{c}
	st.loop = e.loopOf(c.EventLoop())
	now := e.now()
	st.openedAt = now
	st.lastRecv.Store(now)
	switch e.admit(st, inbound) {
	case admitClosed:
		return nil, gnet.Close
	case admitFull:
		// gnet writes the refusal, then closes.
		return frame.AppendReason(nil, frame.KindError, frame.CodeLimit, "too many connections"), gnet.Close
	}
	if inbound {
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

// OnTraffic runs for received bytes and for wakes. It first handles every
// complete frame in the input buffer, then flushes the outbox.
//
// Hot path: frames are scanned in place from gnet's buffer (Peek/Discard);
// relayed frames are appended to other peers' outboxes by the handler;
// nothing here allocates per frame.
func (h *handler) OnTraffic(c gnet.Conn) gnet.Action {
	st := c.Context().(*connState)
	e := h.e
	if total := c.InboundBuffered(); total > 0 {
		st.lastRecv.Store(e.now())
		if total >= st.want { // else the frame at the head is still incomplete
			e.readGnet(st, c, total)
		}
	}
	if st.peer.Load() != nil {
		st.flush()
	}
	return gnet.None
}

// readGnet handles the complete frames of the total bytes gnet holds for
// c and discards them.
//
// gnet keeps what a read leaves unconsumed (a partial frame: carry bytes) in
// a ring buffer, and Peek(-1) then copies that and the whole next read,
// up to ReadBufferCap, into one buffer — a copy of nearly every byte
// received when frames straddle reads, as they do in a stream. So the
// carried frame is completed alone first: Peek(want) copies just its bytes
// (want, the size the frame needs, is known from the last scan), and once
// it is discarded the ring buffer is empty and Peek(-1) returns the rest of
// the read in place.
//
// Hot path: per read, at most one copy of one frame; no allocation.
func (e *Engine) readGnet(st *connState, c gnet.Conn, total int) {
	for st.carry > 0 && st.want > st.carry && st.want < total {
		head, _ := c.Peek(st.want)
		n, want := e.scanFrames(st, head)
		st.loop.flushDirty() // before Discard: forwarded frames view head
		if n > 0 {
			_, _ = c.Discard(n)
			total -= n
			st.carry = 0 // the carried frame is done
			break
		}
		if want <= st.want || st.stage.Load() == stageClosing {
			break // no progress (closing, or a bad header): the general path decides
		}
		st.want = want // the header is complete now: the whole frame is next
	}
	buf, _ := c.Peek(-1)
	n, want := e.scanFrames(st, buf)
	st.loop.flushDirty() // before Discard: forwarded frames view buf
	// gnet's Discard(n) with n <= 0 discards everything buffered: a partial
	// frame would be lost and the stream desynchronized.
	if n > 0 {
		_, _ = c.Discard(n)
	}
	st.carry, st.want = len(buf)-n, want
}

// consume handles every complete frame at the start of buf and returns
// the bytes consumed; the rest is a partial frame, or the connection is
// closing. Both transports read through it: the gnet loop from its input
// buffer (by way of readGnet), the TLS reader from its own.
//
// Hot path: one Scan per frame over the buffer in place, no allocation.
func (e *Engine) consume(st *connState, buf []byte) int {
	n, _ := e.scanFrames(st, buf)
	return n
}

// scanFrames is consume, and also returns want: how many bytes, counted
// from the first one not consumed, the next Scan needs before it can make
// progress (0 when everything was consumed, or the connection is closing).
func (e *Engine) scanFrames(st *connState, buf []byte) (consumed, want int) {
	var framesIn int
	for len(buf) > 0 {
		stage := st.stage.Load()
		if stage == stageClosing {
			break
		}
		f, need, err := frame.Scan(buf, &e.opts.Limits)
		if err != nil {
			e.scanFailed(st, err)
			break
		}
		if stage != stageUp && max(f.Len(), len(buf)+need) > e.opts.MaxHandshakeFrame {
			// A stranger may not make this node buffer a MaxFrame-sized
			// hello on each of MaxHandshakes connections.
			if st.fail(frame.CodeLimit, fmt.Sprintf("handshake frame larger than the limit of %d bytes", e.opts.MaxHandshakeFrame), nil) {
				e.countLimit(LimitFrame)
			}
			break
		}
		if need > 0 {
			want = len(buf) + need
			break
		}
		if stage == stageUp {
			framesIn++
			if !e.handleFrame(st, f) {
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
	return consumed, want
}

// scanFailed closes a connection whose next frame header is invalid: with
// error(limit) for a frame or topic over its limit, else error(protocol).
func (e *Engine) scanFailed(st *connState, err error) {
	switch {
	case errors.Is(err, frame.ErrFrameTooLarge):
		if st.fail(frame.CodeLimit, fmt.Sprintf("frame larger than the limit of %d bytes", e.opts.Limits.MaxFrame), err) {
			e.countLimit(LimitFrame)
		}
	case errors.Is(err, frame.ErrTopicTooLong):
		if st.fail(frame.CodeLimit, fmt.Sprintf("topic longer than the limit of %d bytes", e.opts.Limits.MaxTopic), err) {
			e.countLimit(LimitTopic)
		}
	default:
		st.fail(frame.CodeProtocol, "bad frame header", err)
	}
}

// handleFrame handles one frame of an established connection; false stops
// reading (the connection is closing).
func (e *Engine) handleFrame(st *connState, f frame.Frame) bool {
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
		st.remoteClosed(reasonFrame(f))
		return false
	case frame.KindHello, frame.KindWelcome, frame.KindAuth:
		st.fail(frame.CodeProtocol, "handshake frame after the handshake", nil)
		return false
	default:
		e.h.Frame(p, f)
	}
	return true
}

// reasonFrame turns a received bye or error frame into the reason the
// connection closed.
func reasonFrame(f frame.Frame) error {
	m, err := frame.DecodeReason(f.Body())
	if err != nil {
		return &LocalError{Code: frame.CodeProtocol, Text: "bad bye/error frame", Err: err}
	}
	return &RemoteError{Bye: f.Kind() == frame.KindBye, Code: m.Code, Text: string(m.Text)}
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
//
// Frames forwarded without a copy (fwd) go out in the same writev, after
// the queue; they view another connection's input buffer, so they cannot
// wait: past the high-water mark they are copied into the queue instead.
func (st *connState) flush() {
	st.woken.Store(false)
	p := st.peer.Load()
	fwd := len(st.fwd) > 0
	if !fwd && !p.out.pending() {
		return
	}
	if st.c.backlog() > st.e.opts.SocketHighWater {
		if fwd {
			st.queueForwards(p)
		}
		st.retrySoon()
		return
	}
	cs, n := p.out.take()
	iov := cs
	if fwd {
		st.iov = append(append(st.iov[:0], cs...), st.fwd...)
		iov = st.iov
		n += st.fwdFrames
	}
	if n > 0 {
		// One writev for the whole batch (gnet copies what the socket does
		// not take, so the chunks can be recycled at once); the TLS writer
		// writes it in its own goroutine.
		w := st.c.writev(iov)
		p.framesOut.Add(uint64(n))
		p.bytesOut.Add(uint64(w))
		st.lastSent.Store(st.e.now())
	}
	p.out.give(cs)
	if fwd {
		clear(st.iov)
		st.iov = st.iov[:0]
		st.dropForwards()
	}
}

// addForward appends frame fr, a view into the input buffer of the
// connection being read on this loop, to the frames flush writes without a
// copy; a frame right behind the previous one extends its run.
func (st *connState) addForward(fr []byte) {
	if k := len(st.fwd); k > 0 {
		last := st.fwd[k-1]
		if unsafe.Add(unsafe.Pointer(unsafe.SliceData(last)), len(last)) == unsafe.Pointer(unsafe.SliceData(fr)) {
			// Adjacent in the same input buffer: one run, one iovec.
			st.fwd[k-1] = unsafe.Slice(unsafe.SliceData(last), len(last)+len(fr))
			st.fwdFrames++
			return
		}
	}
	st.fwd = append(st.fwd, fr)
	st.fwdFrames++
}

// queueForwards copies the forwarded frames into the outbox, under its
// bounds and policy, because they cannot be written now.
func (st *connState) queueForwards(p *Peer) {
	for _, run := range st.fwd {
		n, rest := 0, run
		for len(rest) >= 4 { // count the run's frames by their length prefixes
			l := int(binary.LittleEndian.Uint32(rest))
			if l < frame.HeaderSize || l > len(rest) {
				break // cannot happen: forwarded frames were scanned whole
			}
			n, rest = n+1, rest[l:]
		}
		_ = p.result(p.out.push(run, n))
	}
	st.dropForwards()
}

// dropForwards forgets the forwarded frames (written, queued, or the
// connection is closing): they must not outlive the input buffer they view.
func (st *connState) dropForwards() {
	clear(st.fwd)
	st.fwd, st.fwdFrames = st.fwd[:0], 0
}
