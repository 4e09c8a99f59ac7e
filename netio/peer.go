package netio

import (
	"encoding/binary"
	"errors"
	"net"
	"sync/atomic"
	"time"

	"github.com/weirio/weir/frame"
)

// Peer is an established connection to another node. Its identity fields
// are fixed at the handshake; Send and the counters are safe for use from
// any goroutine.
type Peer struct {
	ID       frame.NodeID
	Name     string
	Role     frame.Role
	Features frame.Features
	Version  uint16
	// Addr is the remote address; DialAddr the address this node dialed to
	// reach the peer ("" for inbound connections).
	Addr     net.Addr
	DialAddr string
	// FilterVersion is the local filter version (Handler.Filter) that was
	// sent in the handshake.
	FilterVersion uint64
	// TLS reports a connection on the TLS transport; CertName is the name
	// (DNS SAN, or CN) its peer's certificate was verified under: the
	// pinned name it matched, or its first name when nothing is pinned.
	TLS      bool
	CertName string

	// Local is the handler's own per-connection state. netio never touches
	// it; it is meant for Handler.Frame, which for one peer always runs on
	// one goroutine at a time (the connection's event loop or TLS reader),
	// so state kept here needs no lock there. Anywhere else, the handler
	// synchronizes access itself.
	Local any

	st  *connState
	out *outbox

	framesIn, bytesIn   atomic.Uint64
	framesOut, bytesOut atomic.Uint64
	overflows           atomic.Uint64
}

// Dialed reports whether this node dialed the connection.
func (p *Peer) Dialed() bool { return p.DialAddr != "" }

// ErrPeerClosed is returned by Send when the peer's connection is gone.
var ErrPeerClosed = errors.New("netio: peer connection closed")

// ErrDropped is returned by Send when the backpressure policy dropped a
// frame (the one sent, or older ones to make room).
var ErrDropped = errors.New("netio: frame dropped by backpressure policy")

// Send queues one encoded frame for the peer and wakes its event loop if
// the queue was empty. It never blocks on the network: when the queue is
// full the peer's policy applies (drop_oldest, drop_newest, or closing the
// connection). fr is copied; the caller keeps it.
//
// Hot path: relaying and publishing call it once per frame per peer; it
// does not allocate (beyond the queue's amortized growth).
func (p *Peer) Send(fr []byte) error { return p.result(p.out.push(fr, 1)) }

// Forward is Send for a handler relaying a frame it received from peer
// from, and may only be called inside Handler.Frame for a frame of from,
// with fr a view of that frame's bytes (f.Bytes()).
//
// When both connections belong to the same gnet event loop, the loop
// writes to p itself once it has handled the current read, before the
// input buffer is reused: fr is written from that buffer without a copy
// (adjacent frames in one iovec), unless p's queue already holds frames or
// its socket is past the high-water mark — then fr is copied into the
// queue as Send does, and still written by this loop without a wake-up.
// On different loops, or the TLS transport, Forward is Send.
//
// Hot path: no copy and no lock for a relay on one loop with an idle
// queue; no allocation beyond the loop's lists' growth.
func (p *Peer) Forward(from *Peer, fr []byte) error {
	var ls *loopState
	if from != nil {
		ls = from.st.loop
	}
	st := p.st
	if ls == nil || ls != st.loop {
		return p.Send(fr)
	}
	if len(st.fwd) == 0 && (st.stage.Load() == stageClosing || p.out.pending() ||
		st.c.backlog() > st.e.opts.SocketHighWater) {
		r := p.out.push(fr, 1)
		if r != pushWake {
			return p.result(r)
		}
	} else {
		st.addForward(fr)
	}
	ls.mark(st)
	return nil
}

// ErrQueueFull is returned by TrySend when the peer's queue has no room
// for the frame.
var ErrQueueFull = errors.New("netio: peer queue full")

// TrySend is Send without the backpressure policy: when the queue has no
// room, it queues nothing, drops nothing and returns ErrQueueFull, so the
// sender learns at once that the frame did not go (a request that expects
// an answer, say) instead of losing it, or an older frame, silently.
//
// Hot path: as Send.
func (p *Peer) TrySend(fr []byte) error { return p.result(p.out.tryPush(fr)) }

// SendWait is Send, except that when the queue is full it waits up to
// wait for the loop to drain it before the policy applies. For local
// publishers that prefer slowing down to losing frames.
func (p *Peer) SendWait(fr []byte, wait time.Duration) error {
	return p.result(p.out.pushWait(fr, 1, wait))
}

// SendEncoded queues one frame that enc appends to the slice it is given,
// encoded straight into the peer's queue without a copy, if the queue has
// room for size bytes, an upper bound of the frame's length (enc writing
// more is a bug, and panics). It reports false, queuing nothing, when the
// queue is closed or short of room: the caller then encodes the frame
// itself and calls Send or SendWait, where the backpressure policy
// applies. enc runs under the queue's lock: it must be quick and must not
// call the peer. Safe anywhere.
//
// Hot path: one critical section, no copy, no allocation.
func (p *Peer) SendEncoded(size int, enc func([]byte) []byte) (bool, error) {
	r, ok := p.out.tryPushEnc(size, enc)
	if !ok {
		return false, nil
	}
	return true, p.result(r)
}

// sendControl queues a ping or pong outside the bounds (pushControl).
func (p *Peer) sendControl(fr []byte) error { return p.result(p.out.pushControl(fr)) }

func (p *Peer) result(r pushResult) error {
	switch r {
	case pushWake:
		p.st.wake()
	case pushDropped:
		p.reportEvicted()
		return ErrDropped
	case pushOverflow:
		p.overflows.Add(1)
		p.CloseLimit(LimitQueue, "outbound queue full (policy disconnect)")
		return ErrDropped
	case pushClosed:
		return ErrPeerClosed
	case pushFull:
		return ErrQueueFull
	}
	return nil
}

// Close closes the connection after the frames already queued, with a
// final frame carrying code and text: a bye for CodeShutdown, CodeUnpeer
// and CodeDuplicate, else an error frame, which Stats.Failures counts.
// Safe anywhere.
func (p *Peer) Close(code frame.ErrCode, text string) { p.st.closeWith(code, text) }

// CloseLimit closes the connection with error(limit) because the peer hit
// limit l (for example LimitSubscriptions, which the node checks on
// subscribe frames against Options.MaxSubscriptions), and counts it in
// Stats.Limits and Stats.Failures. Safe anywhere.
func (p *Peer) CloseLimit(l Limit, text string) {
	if p.st.closeWith(frame.CodeLimit, text) {
		p.st.e.countLimit(l)
	}
}

// PeerStats is a snapshot of a peer's counters.
type PeerStats struct {
	FramesIn  uint64 `json:"frames_in"`
	BytesIn   uint64 `json:"bytes_in"`
	FramesOut uint64 `json:"frames_out"`
	BytesOut  uint64 `json:"bytes_out"`
	// Dropped counts frames the backpressure policy discarded; Overflows
	// counts disconnects by the disconnect policy.
	Dropped   uint64 `json:"dropped"`
	Overflows uint64 `json:"overflows"`
	// QueuedFrames and QueuedBytes are the current outbound queue depth.
	QueuedFrames int64 `json:"queued_frames"`
	QueuedBytes  int64 `json:"queued_bytes"`
}

// Stats returns the peer's counters.
func (p *Peer) Stats() PeerStats {
	frames, bytes := p.out.depth()
	return PeerStats{
		FramesIn: p.framesIn.Load(), BytesIn: p.bytesIn.Load(),
		FramesOut: p.framesOut.Load(), BytesOut: p.bytesOut.Load(),
		Dropped: p.out.dropped.Load(), Overflows: p.overflows.Load(),
		QueuedFrames: int64(frames), QueuedBytes: int64(bytes),
	}
}

// reportEvicted hands the frames of Options.EvictKinds that the policy
// evicted from p's queue to Options.OnEvict, outside the queue's lock.
func (p *Peer) reportEvicted() {
	if p.out.evictKinds.empty() {
		return
	}
	b := p.out.takeEvicted()
	if b == nil {
		return
	}
	for rest := b; len(rest) >= 4; {
		l := int(binary.LittleEndian.Uint32(rest))
		if l < frame.HeaderSize || l > len(rest) {
			break // cannot happen: whole frames were copied
		}
		p.st.e.opts.OnEvict(p, rest[:l])
		rest = rest[l:]
	}
	p.out.giveEvicted(b)
}
