package netio

import (
	"sync/atomic"
	"time"

	"github.com/weirio/weir/frame"
)

// Limit names one of the limits that protect a node (Options), for
// Peer.CloseLimit and LimitStats.
type Limit uint8

// Limits. The zero Limit is none.
const (
	LimitPeers         Limit = iota + 1 // MaxPeers: an inbound connection refused
	LimitHandshakes                     // MaxHandshakes: the oldest handshake evicted
	LimitSubscriptions                  // MaxSubscriptions: a filter too large
	LimitFrame                          // Limits.MaxFrame: a frame too large
	LimitTopic                          // Limits.MaxTopic: a topic too long
	LimitQueue                          // QueueFrames/QueueBytes under the disconnect policy
	numLimits
)

var limitNames = [...]string{"", "peers", "handshakes", "subscriptions", "frame_size", "topic_size", "queue"}

func (l Limit) String() string {
	if int(l) < len(limitNames) && l != 0 {
		return limitNames[l]
	}
	return "none"
}

// LimitStats counts the times each limit was hit. Each hit is also a
// connection failure with code limit (Stats.Failures).
type LimitStats struct {
	Peers         uint64 `json:"peers"`
	Handshakes    uint64 `json:"handshakes"`
	Subscriptions uint64 `json:"subscriptions"`
	FrameSize     uint64 `json:"frame_size"`
	TopicSize     uint64 `json:"topic_size"`
	Queue         uint64 `json:"queue"`
}

func (e *Engine) countLimit(l Limit) {
	if l != 0 && l < numLimits {
		e.stats.limits[l].Add(1)
	}
}

func (e *Engine) limitStats() LimitStats {
	c := &e.stats.limits
	return LimitStats{Peers: c[LimitPeers].Load(), Handshakes: c[LimitHandshakes].Load(),
		Subscriptions: c[LimitSubscriptions].Load(), FrameSize: c[LimitFrame].Load(), TopicSize: c[LimitTopic].Load(),
		Queue: c[LimitQueue].Load()}
}

func (e *Engine) countFailure(code frame.ErrCode) {
	if int(code) < len(e.stats.failures) {
		e.stats.failures[code].Add(1)
	}
}

func (e *Engine) countRefused(code frame.ErrCode) {
	if int(code) < len(e.stats.refused) {
		e.stats.refused[code].Add(1)
	}
}

// admission is admit's verdict.
type admission uint8

const (
	admitted    admission = iota
	admitClosed           // the engine is closing
	admitFull             // MaxPeers reached: refuse with error(limit)
)

// admit registers a new connection before its handshake. An inbound one
// beyond MaxPeers is refused (and counted); one beyond MaxHandshakes
// evicts the oldest inbound connection still in its handshake. Admission
// costs a map insert and, only while the handshake limit is hit, a scan.
func (e *Engine) admit(st *connState, inbound bool) admission {
	var evict *connState
	e.mu.Lock()
	switch {
	case e.mu.closed:
		e.mu.Unlock()
		return admitClosed
	case inbound && len(e.mu.conns) >= e.opts.MaxPeers:
		e.mu.Unlock()
		e.countLimit(LimitPeers)
		e.countFailure(frame.CodeLimit)
		e.logFailure(st, frame.CodeLimit, "too many connections (MaxPeers)", nil)
		return admitFull
	case inbound && e.mu.handshaking >= e.opts.MaxHandshakes:
		// The evicted connection gives its slot up now, not when its
		// close completes on its own event loop: the count (and the
		// limit) covers the handshakes still going on, so a flood cannot
		// push it past MaxHandshakes while evicted ones wind down.
		if evict = e.oldestHandshakeLocked(); evict != nil {
			e.handshakeDoneLocked(evict)
		}
	}
	e.mu.conns[st] = struct{}{}
	if inbound {
		st.inHandshake = true
		e.mu.handshaking++
	}
	e.mu.Unlock()
	if evict != nil && evict.fail(frame.CodeLimit, "too many connections in the handshake; the oldest is dropped", nil) {
		e.countLimit(LimitHandshakes)
	}
	return admitted
}

// oldestHandshakeLocked returns the inbound connection that has been in
// its handshake longest and is not closing yet, or nil.
func (e *Engine) oldestHandshakeLocked() *connState {
	var old *connState
	for st := range e.mu.conns {
		if st.inHandshake && st.stage.Load() != stageClosing && (old == nil || st.openedAt < old.openedAt) {
			old = st
		}
	}
	return old
}

// handshakeDoneLocked takes st out of the handshake count.
func (e *Engine) handshakeDoneLocked(st *connState) {
	if st.inHandshake {
		st.inHandshake = false
		e.mu.handshaking--
	}
}

// maxFailLogs bounds the warnings per second about connections that fail
// before their handshake completes: a flood of garbage connections must
// not become a flood of log lines. The rest are counted and summarized.
const maxFailLogs = 20

// failLog rate-limits those warnings.
type failLog struct {
	window     atomic.Int64 // start of the current one-second window, ns
	n          atomic.Int64 // warnings in the window
	suppressed atomic.Uint64
	reported   int64 // last summary, ns; housekeeping only
}

func (l *failLog) allow(now int64) bool {
	if w := l.window.Load(); now-w >= int64(time.Second) && l.window.CompareAndSwap(w, now) {
		l.n.Store(0)
	}
	if l.n.Add(1) <= maxFailLogs {
		return true
	}
	l.suppressed.Add(1)
	return false
}

// logFailure logs why this node closes a connection. Failures of
// established peers are always logged; handshake failures (strangers,
// floods) within maxFailLogs per second.
func (e *Engine) logFailure(st *connState, code frame.ErrCode, text string, err error) {
	if st.peer.Load() == nil && !e.failLog.allow(e.now()) {
		return
	}
	var remote any
	if st.c != nil {
		remote = st.c.RemoteAddr()
	}
	e.log.Warn("closing connection", "remote", remote, "peer", st.peerName(), "code", code.String(), "reason", text, "err", err)
}

// reportSuppressed logs, at most once a second, how many handshake
// failures were not logged. Housekeeping calls it.
func (e *Engine) reportSuppressed(now int64) {
	if now-e.failLog.reported < int64(time.Second) {
		return
	}
	if n := e.failLog.suppressed.Swap(0); n > 0 {
		e.failLog.reported = now
		e.log.Warn("connection failures not logged (rate limit)", "count", n)
	}
}
