package node

// The remote request path of a store handle (frontend or clone): sending
// requests in order, matching answers, and failing at once the requests
// whose answers cannot come (lost on the way, evicted, master lost).

import (
	"cmp"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/weirio/weir/frame"
	"github.com/weirio/weir/netio"
)

// onEvict is netio.Options.OnEvict: a store request of this node that the
// drop_oldest policy evicted from a peer queue (to make room for other
// traffic) fails at once with the limit code, rather than waiting for
// RequestTimeout. A request this node only relays carries another node's
// request topic, and is left alone.
func (n *Node) onEvict(_ *netio.Peer, fr []byte) {
	f, _, err := frame.Scan(fr, nil)
	if err != nil || f.Kind() != frame.KindStoreCmd {
		return
	}
	c, err := frame.DecodeStoreCmd(f.Body(), nil)
	if err != nil {
		return
	}
	view := n.storesView.Load()
	if view == nil {
		return
	}
	s := (*view)[string(c.Store)]
	if s == nil || string(f.Topic()) != s.reqTopic {
		return
	}
	if fu, ok := s.pending.LoadAndDelete(c.Seq); ok {
		n.stats.storeLimit.Add(1)
		fu.resolve(frame.None, &StoreError{Code: frame.CodeLimit, Text: "dropped from the queue to the master by the drop_oldest policy"})
	}
}

// failOrphanedRequests fails, with ErrMasterLost, the requests in flight
// of every handle whose request topic no peer subscribes to any more (a
// peer just went down): their master was reached only through it, so no
// answer can come, and their callers need not wait for RequestTimeout.
func (n *Node) failOrphanedRequests() {
	view := n.storesView.Load()
	if view == nil {
		return
	}
	for _, s := range *view {
		if s.master != nil {
			continue
		}
		var parr [4]*netio.Peer
		if len(n.peers.MatchString(s.reqTopic, parr[:0])) > 0 {
			continue
		}
		for _, f := range s.pending.takeAll() {
			n.stats.storeLost.Add(1)
			f.resolve(frame.None, ErrMasterLost)
		}
	}
}

// listenReplies subscribes to this node's answer topic.
//
// The master answers a handle's requests in the order it received them,
// which is the order of their ids (sendMu), except for refusals of a full
// store queue (CodeLimit), which it sends at once. So an answer in order
// also fails, with ErrRequestLost, every earlier request still pending:
// it or its answer was dropped on the way, and no answer will come.
func (s *Store) listenReplies() error {
	return s.subscribeStore(storeTopic(s.name, "r/"+idHex(s.self)), func(m Message) {
		var lost []*Future
		switch m.Kind() {
		case frame.KindStoreAck:
			a, err := frame.DecodeStoreAck(m.f.Body(), m.lim)
			if err != nil {
				return
			}
			var f *Future
			if f, lost = s.pending.answer(a.Seq, true); f != nil {
				f.resolve(a.Result.Value(), nil)
			}
		case frame.KindStoreSnapshot:
			// An answers message: the answers to a run of requests.
			as, err := frame.DecodeStoreAnswers(m.f.Body(), m.lim)
			if err != nil {
				return
			}
			for i, v := range as.Results {
				var f *Future
				var l []*Future
				if f, l = s.pending.answer(as.First+uint64(i), true); f != nil {
					f.resolve(v.Value(), nil)
				}
				lost = append(lost, l...)
			}
		case frame.KindStoreNack:
			nk, err := frame.DecodeStoreNack(m.f.Body())
			if err != nil || nk.Code == frame.CodeOK {
				return
			}
			var f *Future
			if f, lost = s.pending.answer(nk.First, nk.Code != frame.CodeLimit); f != nil {
				f.resolve(frame.None, &StoreError{Code: nk.Code, Text: string(nk.Text)})
			}
		}
		for _, f := range lost {
			s.n.stats.storeLost.Add(1)
			f.resolve(frame.None, ErrRequestLost)
		}
	})
}

// send queues request id to the master's peers (Do's send; sendMu is
// held).
func (s *Store) send(op frame.StoreOp, id uint64, key, val frame.Value, expiry time.Duration) error {
	return s.n.publishTo(s.reqTopic, nil, 0, true, func(dst []byte, h frame.Header) []byte {
		return frame.AppendStoreCmd(dst, h, unsafeBytes(s.reqTopic), s.name, op, id, key, val, int64(expiry))
	})
}

// tailProbeAfter is how long requests may be pending without any answer
// before checkTail probes the master (Store.tailAfter, which tests
// shorten).
const tailProbeAfter = time.Second

// armTailLocked arms the tail probe's timer; sendMu is held.
func (s *Store) armTailLocked() {
	s.tailArmed = true
	if s.tail == nil {
		s.tail = time.AfterFunc(s.tailAfter, s.checkTail)
		return
	}
	s.tail.Reset(s.tailAfter)
}

// checkTail runs tailProbeAfter after the timer was armed. While requests
// are pending and no answer came since the last check, it sends the
// master a probe (an exists of the key none, tracked by no Future): the
// master answers in order, so the probe's answer fails, with
// ErrRequestLost, every earlier request whose answer was lost. Without
// it, the last requests of a burst whose answers were all lost would
// wait for RequestTimeout, as no later answer comes. A probe behind a
// slow master is harmless: its answer comes after theirs.
func (s *Store) checkTail() {
	s.sendMu.Lock()
	defer s.sendMu.Unlock()
	s.tailArmed = false
	pending, answers := s.pending.counts()
	if s.closed.Load() || pending == 0 {
		return
	}
	if answers == s.tailSeen {
		s.nextReq++
		_ = s.send(frame.OpExists, s.nextReq, frame.None, frame.None, 0)
	}
	s.tailSeen = answers
	s.armTailLocked()
}

// sweep fails the pending requests older than RequestTimeout, if it is
// time to look.
func (s *Store) sweep(now int64) {
	next := s.sweepAt.Load()
	every := min(s.opts.RequestTimeout/4, time.Second)
	if now < next || !s.sweepAt.CompareAndSwap(next, now+int64(every)) {
		return
	}
	for _, f := range s.pending.takeOlder(now - int64(s.opts.RequestTimeout)) {
		s.n.stats.storeLost.Add(1)
		f.resolve(frame.None, ErrRequestTimeout)
	}
}

// pendingMap tracks a handle's requests to a remote master by request id,
// and counts them in the node's total too (node, set by Store). Safe for
// concurrent use.
//
// Ids are handed out in increasing order and mostly answered in that
// order, so the pending ones are close to a range of consecutive ids: they
// live in a ring indexed by id, which covers lo (no id below it is in the
// ring) to hi (one past the newest). A request still pending when the
// range would outgrow maxPendingRing ids (no answers for that long, or
// only refusals of a full queue, which do not end older requests) moves to
// far, a map, until it is answered or times out.
type pendingMap struct {
	mu     sync.Mutex
	ring   []*Future // ring[id&(len(ring)-1)] for lo <= id < hi; nil: none
	lo, hi uint64
	far    map[uint64]*Future // pending ids the ring does not cover (below lo)
	n      int                // pending requests, in ring and far
	node   *atomic.Int64
	// acked is the highest request id answered in order (see answer),
	// answers counts the answers (for the tail probe).
	acked, answers uint64
}

// Ring sizes of a pendingMap, in ids.
const (
	minPendingRing = 64
	maxPendingRing = 1 << 16
)

// Store tracks f under id unless max requests are tracked already, or the
// node's total is at nodeMax; it reports whether it did, and whether the
// node's total refused it. Ids must increase from call to call.
func (p *pendingMap) Store(id uint64, f *Future, max int, node *atomic.Int64, nodeMax int) (ok, nodeFull bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.n >= max {
		return false, false
	}
	if node.Add(1) > int64(nodeMax) {
		node.Add(-1)
		return false, true
	}
	p.node = node
	p.n++
	if id < p.hi { // not in increasing order: a broken caller, kept correct
		p.toFar(id, f)
		return true, false
	}
	p.fit(id)
	*p.at(id) = f
	p.hi = id + 1
	return true, false
}

// at returns id's slot of the ring, which must have one.
func (p *pendingMap) at(id uint64) **Future { return &p.ring[id&uint64(len(p.ring)-1)] }

// toFar tracks request id in the far map; p.mu is held.
func (p *pendingMap) toFar(id uint64, f *Future) {
	if p.far == nil {
		p.far = make(map[uint64]*Future)
	}
	p.far[id] = f
}

// fit makes room in the ring for id (at least hi); p.mu is held.
func (p *pendingMap) fit(id uint64) {
	p.trim()
	if p.lo == p.hi { // empty: start the range at id
		p.lo, p.hi = id, id
	}
	need := id - p.lo + 1
	if need <= uint64(len(p.ring)) {
		return
	}
	if len(p.ring) < maxPendingRing {
		size := max(minPendingRing, len(p.ring))
		for uint64(size) < need && size < maxPendingRing {
			size *= 2
		}
		ring := make([]*Future, size)
		for i := p.lo; i < p.hi; i++ {
			ring[i&uint64(size-1)] = *p.at(i)
		}
		p.ring = ring
		if need <= uint64(size) {
			return
		}
	}
	// The oldest requests move to far, so that the ring spans at most
	// maxPendingRing ids.
	for newLo := id - maxPendingRing + 1; p.lo < newLo; p.lo++ {
		if slot := p.at(p.lo); *slot != nil {
			p.toFar(p.lo, *slot)
			*slot = nil
		}
	}
	p.hi = max(p.hi, p.lo)
}

// trim moves lo past ids no longer pending; p.mu is held.
func (p *pendingMap) trim() {
	for p.lo < p.hi && *p.at(p.lo) == nil {
		p.lo++
	}
}

// take removes and returns request id, or nil; p.mu is held. It does not
// update the node's total (removed does).
func (p *pendingMap) take(id uint64) *Future {
	if id >= p.lo && id < p.hi {
		if slot := p.at(id); *slot != nil {
			f := *slot
			*slot = nil
			p.n--
			if id == p.lo {
				p.trim()
			}
			return f
		}
	}
	if f, ok := p.far[id]; ok {
		delete(p.far, id)
		p.n--
		return f
	}
	return nil
}

// removed takes n requests off the node's total; p.mu is held.
func (p *pendingMap) removed(n int) {
	if p.node != nil && n > 0 {
		p.node.Add(-int64(n))
	}
}

// Load returns request id without removing it.
func (p *pendingMap) Load(id uint64) (*Future, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if id >= p.lo && id < p.hi {
		if f := *p.at(id); f != nil {
			return f, true
		}
	}
	f, ok := p.far[id]
	return f, ok
}

// Delete stops tracking request id.
func (p *pendingMap) Delete(id uint64) {
	p.LoadAndDelete(id)
}

// LoadAndDelete removes and returns request id.
func (p *pendingMap) LoadAndDelete(id uint64) (*Future, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	f := p.take(id)
	if f == nil {
		return nil, false
	}
	p.removed(1)
	return f, true
}

// answer removes and returns the request id. If ordered (the answer came
// in the order of the requests), it also removes and returns the requests
// before id, after the last one answered in order, that are still
// pending: lost, oldest first. Hot path: no allocation unless requests
// were lost.
func (p *pendingMap) answer(id uint64, ordered bool) (f *Future, lost []*Future) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.answers++
	if f = p.take(id); f != nil {
		p.removed(1)
	}
	if !ordered || id <= p.acked {
		return f, nil
	}
	from := p.acked
	p.acked = id
	if len(p.far) > 0 {
		if id-from-1 <= uint64(len(p.far)) { // probe each id of the gap (an answer in order has none)
			for i := from + 1; i < id; i++ {
				if g, ok := p.far[i]; ok {
					delete(p.far, i)
					lost = append(lost, g)
				}
			}
		} else { // a gap wider than what is there: scan instead
			for i, g := range p.far {
				if i > from && i < id {
					delete(p.far, i)
					lost = append(lost, g)
				}
			}
			slices.SortFunc(lost, func(a, b *Future) int { return cmp.Compare(a.id, b.id) })
		}
	}
	for i := max(from+1, p.lo); i < min(id, p.hi); i++ {
		if slot := p.at(i); *slot != nil {
			g := *slot
			*slot = nil
			lost = append(lost, g)
		}
	}
	p.trim()
	p.n -= len(lost)
	p.removed(len(lost))
	return f, lost
}

// counts returns the number of requests pending and of answers so far.
func (p *pendingMap) counts() (pending int, answers uint64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.n, p.answers
}

// takeOlder removes and returns the requests sent before limit (unix ns).
func (p *pendingMap) takeOlder(limit int64) []*Future {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []*Future
	for id, f := range p.far {
		if f.sent < limit {
			delete(p.far, id)
			out = append(out, f)
		}
	}
	for i := p.lo; i < p.hi; i++ {
		if slot := p.at(i); *slot != nil && (*slot).sent < limit {
			f := *slot
			*slot = nil
			out = append(out, f)
		}
	}
	p.trim()
	p.n -= len(out)
	p.removed(len(out))
	return out
}

// takeAll removes and returns every request.
func (p *pendingMap) takeAll() []*Future {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make([]*Future, 0, p.n)
	for _, f := range p.far {
		out = append(out, f)
	}
	for i := p.lo; i < p.hi; i++ {
		if f := *p.at(i); f != nil {
			out = append(out, f)
		}
	}
	p.ring, p.far, p.lo, p.n = nil, nil, p.hi, 0
	p.removed(len(out))
	return out
}
