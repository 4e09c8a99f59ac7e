package netio

import (
	"encoding/binary"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/weirio/weir/frame"
)

// frameKindOff is the offset of the kind byte in a frame header
// (docs/PROTOCOL.md §2).
const frameKindOff = 4

// chunkSize is the unit of outbound buffering. Frames are appended into
// pooled chunks; a loop turn writes all queued chunks with one writev.
// Appending never moves queued bytes (a single growing buffer would copy
// everything queued each time it grows).
const chunkSize = 64 << 10

var chunkPool = sync.Pool{New: func() any { return new([chunkSize]byte) }}

func getChunk(n int) []byte {
	if n > chunkSize {
		return make([]byte, 0, n) // a frame larger than a chunk gets its own
	}
	return chunkPool.Get().(*[chunkSize]byte)[:0]
}

func putChunk(c []byte) {
	if cap(c) == chunkSize {
		chunkPool.Put((*[chunkSize]byte)(c[:chunkSize]))
	}
}

// outbox is a peer's bounded outbound queue. Any goroutine appends frames
// (the publish path, other event loops relaying); the connection's event
// loop takes everything queued in one swap and writes it with one syscall.
// The mutex guards only an append or a swap — never I/O — so producers are
// not held up by the socket, and the loop is woken once per batch (when
// the queue goes from empty to non-empty), not per frame.
type outbox struct {
	mu struct {
		sync.Mutex
		chunks [][]byte // queued frames, back to back across chunks
		head   int      // bytes of chunks[0] already dropped (drop_oldest)
		frames int
		bytes  int
		spare  [][]byte // the chunk list the loop wrote last, reused
		closed bool
		// evicted holds copies of evicted frames of evictKinds, back to
		// back, until takeEvicted (after the push that evicted them).
		evicted []byte
	}
	maxFrames, maxBytes int
	policy              Policy
	// evictKinds has bit k set for the frame kinds whose eviction by
	// DropOldest is reported (Options.OnEvict): a copy of each goes to
	// mu.evicted until takeEvicted.
	evictKinds kindSet

	// space wakes one producer waiting for room (pushWait) after the loop
	// took the queue; waiters counts them so take signals only if needed.
	space   chan struct{}
	waiters atomic.Int32

	dropped    atomic.Uint64 // frames dropped by the policy
	hasEvicted atomic.Bool   // mu.evicted holds frames
}

// push result.
type pushResult uint8

const (
	pushQueued   pushResult = iota // queued; no wake needed
	pushWake                       // queued into an empty queue: wake the loop
	pushDropped                    // dropped by the policy (frame or older ones)
	pushOverflow                   // policy Disconnect: the queue is full
	pushClosed                     // the peer is gone
	pushFull                       // tryPush: no room; nothing queued or dropped
)

func newOutbox(maxFrames, maxBytes int, p Policy, evict kindSet) *outbox {
	return &outbox{maxFrames: maxFrames, maxBytes: maxBytes, policy: p, evictKinds: evict, space: make(chan struct{}, 1)}
}

// kindSet is a set of frame kinds, one bit each.
type kindSet [4]uint64

func (s *kindSet) add(k frame.Kind)      { s[k>>6] |= 1 << (k & 63) }
func (s *kindSet) has(k frame.Kind) bool { return s[k>>6]&(1<<(k&63)) != 0 }
func (s *kindSet) empty() bool           { return *s == kindSet{} }

// takeEvicted returns the frames copied since the last call (see
// evictKinds), back to back, or nil; the caller gives the buffer back
// with giveEvicted.
func (o *outbox) takeEvicted() []byte {
	if !o.hasEvicted.Load() {
		return nil // the common drop: nothing of evictKinds, no lock
	}
	o.mu.Lock()
	o.hasEvicted.Store(false)
	b := o.mu.evicted
	o.mu.evicted = nil
	o.mu.Unlock()
	return b
}

// giveEvicted returns takeEvicted's buffer for reuse.
func (o *outbox) giveEvicted(b []byte) {
	o.mu.Lock()
	if o.mu.evicted == nil && cap(b) <= 64<<10 {
		o.mu.evicted = b[:0]
	}
	o.mu.Unlock()
}

// appendLocked appends fr (n frames) and reports whether the queue was
// empty before.
func (o *outbox) appendLocked(fr []byte, n int) bool {
	wasEmpty := o.mu.frames == 0
	k := len(o.mu.chunks)
	if k == 0 || cap(o.mu.chunks[k-1])-len(o.mu.chunks[k-1]) < len(fr) {
		o.mu.chunks = append(o.mu.chunks, getChunk(len(fr)))
		k++
	}
	o.mu.chunks[k-1] = append(o.mu.chunks[k-1], fr...)
	o.mu.frames += n
	o.mu.bytes += len(fr)
	return wasEmpty
}

// dropOldestLocked drops the first queued frame.
func (o *outbox) dropOldestLocked() {
	c := o.mu.chunks[0]
	l := int(binary.LittleEndian.Uint32(c[o.mu.head:]))
	if !o.evictKinds.empty() && o.evictKinds.has(frame.Kind(c[o.mu.head+frameKindOff])) {
		o.mu.evicted = append(o.mu.evicted, c[o.mu.head:o.mu.head+l]...)
		o.hasEvicted.Store(true)
	}
	o.mu.head += l
	o.mu.frames--
	o.mu.bytes -= l
	if o.mu.head == len(c) {
		putChunk(c)
		o.mu.chunks = append(o.mu.chunks[:0], o.mu.chunks[1:]...)
		o.mu.head = 0
	}
}

// push appends one encoded frame (or n back-to-back frames) under the
// bounds.
//
// Hot path: one short critical section and a copy into a pooled chunk; no
// allocation.
func (o *outbox) push(fr []byte, n int) pushResult {
	o.mu.Lock()
	if o.mu.closed {
		o.mu.Unlock()
		return pushClosed
	}
	res := pushQueued
	for o.mu.frames+n > o.maxFrames || o.mu.bytes+len(fr) > o.maxBytes {
		switch o.policy {
		case DropNewest:
			o.mu.Unlock()
			o.dropped.Add(uint64(n))
			return pushDropped
		case Disconnect:
			o.mu.Unlock()
			return pushOverflow
		}
		if o.mu.frames == 0 { // a single frame larger than the byte bound
			o.mu.Unlock()
			o.dropped.Add(uint64(n))
			return pushDropped
		}
		o.dropOldestLocked()
		o.dropped.Add(1)
		res = pushDropped
	}
	if o.appendLocked(fr, n) && res == pushQueued {
		res = pushWake
	}
	o.mu.Unlock()
	return res
}

// tryPushEnc appends the frame that enc appends to the slice it is given
// — at most size bytes, encoded straight into the queue — if the queue is
// open and has room for size bytes. ok is false, and nothing is queued,
// otherwise: the caller then encodes the frame into a buffer of its own
// and pushes that, and the policy applies there. enc runs under the lock.
//
// Hot path: one critical section; no copy and no allocation (beyond a new
// pooled chunk when the last one is full).
func (o *outbox) tryPushEnc(size int, enc func([]byte) []byte) (res pushResult, ok bool) {
	o.mu.Lock()
	if o.mu.closed || o.mu.frames+1 > o.maxFrames || o.mu.bytes+size > o.maxBytes {
		o.mu.Unlock()
		return 0, false
	}
	wasEmpty := o.mu.frames == 0
	k := len(o.mu.chunks)
	if k == 0 || cap(o.mu.chunks[k-1])-len(o.mu.chunks[k-1]) < size {
		o.mu.chunks = append(o.mu.chunks, getChunk(size))
		k++
	}
	c := o.mu.chunks[k-1]
	c2 := enc(c)
	if n := len(c2) - len(c); n > size || cap(c2) != cap(c) {
		o.mu.Unlock()
		panic(fmt.Sprintf("BUG: netio: an encoder wrote %d bytes past its bound of %d", n, size))
	} else {
		o.mu.bytes += n
	}
	o.mu.chunks[k-1] = c2
	o.mu.frames++
	o.mu.Unlock()
	if o.waiters.Load() > 0 {
		o.signal() // pass the turn on, as pushWait does
	}
	if wasEmpty {
		return pushWake, true
	}
	return pushQueued, true
}

// tryPush appends one encoded frame if it fits the bounds, and otherwise
// queues nothing and drops nothing (pushFull): the policy never applies,
// for frames whose sender would rather be told at once than have them, or
// older ones, dropped.
//
// Hot path: as push.
func (o *outbox) tryPush(fr []byte) pushResult {
	o.mu.Lock()
	if o.mu.closed {
		o.mu.Unlock()
		return pushClosed
	}
	if o.mu.frames+1 > o.maxFrames || o.mu.bytes+len(fr) > o.maxBytes {
		o.mu.Unlock()
		return pushFull
	}
	res := pushQueued
	if o.appendLocked(fr, 1) {
		res = pushWake
	}
	o.mu.Unlock()
	if o.waiters.Load() > 0 {
		o.signal() // pass the turn on, as pushWait does
	}
	return res
}

// pushControl appends a small control frame (ping, pong) regardless of the
// bounds: keepalive must never evict data, and pings are rate-limited by
// the housekeeping tick, so this cannot grow without bound.
func (o *outbox) pushControl(fr []byte) pushResult {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.mu.closed {
		return pushClosed
	}
	if o.appendLocked(fr, 1) {
		return pushWake
	}
	return pushQueued
}

// pushWait is push, but when the frame does not fit it first waits up to
// wait for the loop to take the queue; only then does the policy apply.
//
// Hot path: when the frame fits, one critical section, as push.
func (o *outbox) pushWait(fr []byte, n int, wait time.Duration) pushResult {
	var timer *time.Timer
	for {
		o.mu.Lock()
		if !o.mu.closed && o.mu.frames+n <= o.maxFrames && o.mu.bytes+len(fr) <= o.maxBytes {
			res := pushQueued
			if o.appendLocked(fr, n) {
				res = pushWake
			}
			o.mu.Unlock()
			if o.waiters.Load() > 0 {
				o.signal() // pass the turn on
			}
			return res
		}
		fits := o.mu.closed || (o.mu.frames == 0 && len(fr) > o.maxBytes)
		if !fits && wait > 0 {
			// Register before unlocking: a take() that runs after the unlock
			// then sees the waiter and signals it (no lost wake-up).
			o.waiters.Add(1)
		}
		o.mu.Unlock()
		if fits || wait <= 0 {
			r := o.push(fr, n)
			if o.waiters.Load() > 0 && r != pushClosed {
				o.signal() // pass the turn on
			}
			return r
		}
		if timer == nil {
			timer = time.NewTimer(wait)
			defer timer.Stop()
		}
		select {
		case <-o.space:
			o.waiters.Add(-1)
		case <-timer.C:
			o.waiters.Add(-1)
			wait = 0
		}
	}
}

func (o *outbox) signal() {
	select {
	case o.space <- struct{}{}:
	default:
	}
}

// take swaps out everything queued and returns it as a list of byte slices
// (for one writev) with its frame count. The list belongs to the caller
// until it calls give with it.
func (o *outbox) take() ([][]byte, int) {
	o.mu.Lock()
	cs, n := o.mu.chunks, o.mu.frames
	if len(cs) > 0 && o.mu.head > 0 {
		cs[0] = cs[0][o.mu.head:]
	}
	o.mu.chunks, o.mu.head, o.mu.frames, o.mu.bytes = o.mu.spare[:0], 0, 0, 0
	o.mu.spare = nil
	o.mu.Unlock()
	if o.waiters.Load() > 0 {
		o.signal()
	}
	return cs, n
}

// give returns written chunks to the pool and the list for reuse.
func (o *outbox) give(cs [][]byte) {
	for i, c := range cs {
		putChunk(c[:cap(c)][:0])
		cs[i] = nil
	}
	o.mu.Lock()
	if o.mu.spare == nil && !o.mu.closed {
		o.mu.spare = cs[:0]
	}
	o.mu.Unlock()
}

// depth returns the queued frames and bytes. It takes the lock: it runs
// once per loop turn and for stats, never per frame.
func (o *outbox) depth() (frames, bytes int) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.mu.frames, o.mu.bytes
}

// pending reports whether frames are queued.
func (o *outbox) pending() bool {
	f, _ := o.depth()
	return f > 0
}

// close rejects further pushes and releases the buffers.
func (o *outbox) close() {
	o.mu.Lock()
	o.mu.closed = true
	for _, c := range o.mu.chunks {
		putChunk(c)
	}
	o.mu.chunks, o.mu.spare, o.mu.head, o.mu.frames, o.mu.bytes = nil, nil, 0, 0, 0
	o.mu.Unlock()
	o.signal()
}
