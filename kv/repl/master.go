package repl

import (
	"fmt"
	"slices"
	"time"
)

// ident is a master's identity on the channel.
type ident struct {
	id    ID
	epoch uint64
}

// phase is where a clone stands on the master.
type phase uint8

const (
	phaseQueued  phase = iota + 1 // attached, waiting for a snapshot slot (MaxSyncs)
	phaseSyncing                  // its snapshot is streaming
	phaseLive                     // snapshot acknowledged; updates only
)

var phaseNames = [...]string{"", "queued", "syncing", "live"}

func (p phase) String() string { return phaseNames[p] }

// member is the master's state for one clone.
type member struct {
	id        ID
	phase     phase
	nonce     uint64 // the sync the clone asked for last
	lastHeard time.Time
	acked     uint64 // live: the clone applied everything ≤ acked

	// The snapshot transfer (phaseSyncing).
	snapSeq     uint64         // the sequence the snapshot reflects
	reader      SnapshotReader // nil once exhausted
	produced    uint64         // chunks read so far
	done        bool           // the final chunk has been read
	ackedChunks uint64         // chunks the clone confirmed, in order
	inflight    []Msg          // chunks ackedChunks..produced-1, kept for resending
	progressAt  time.Time      // last ack progress or resend
}

// CloneInfo describes one clone as the master sees it.
type CloneInfo struct {
	ID        ID
	Phase     string // "queued", "syncing" or "live"
	Acked     uint64 // live: last sequence the clone confirmed
	LastHeard time.Time
}

// MasterMetrics is a snapshot of a Master's gauges and counters.
type MasterMetrics struct {
	Clones, Queued, Syncing, Live int
	LastSeq                       uint64 // last sequence proposed
	FirstSeq                      uint64 // oldest sequence in the buffer (LastSeq+1: empty)
	BufferEntries, BufferBytes    int

	Proposed, Resent, Nacks     uint64
	Unfillable                  uint64 // nacks answered with "resync" (the buffer moved on)
	ChunksSent, ChunksResent    uint64
	Heartbeats, Reattach        uint64
	Attached, Dropped, Refused  uint64
	Conflicts, Stale, Malformed uint64
}

// Master is the master side of a store's replication channel: it numbers
// the updates proposed to it, broadcasts them, streams snapshots to
// attaching clones, resends what clones nack from a bounded buffer, sends
// heartbeats and drops silent clones. Like etcd raft's node it does no I/O,
// has no goroutine and no clock; see doc.go for the loop that drives it.
// It is not safe for concurrent use.
type Master struct {
	opts        MasterOptions
	self        ident
	now         time.Time
	last        uint64
	buf         ring
	batchBytes  int        // the size of the updates in the last message, if an Updates
	freeBatches [][]Update // Updates arrays of sent messages, for reuse
	lastBcast   time.Time
	members     map[ID]*member
	ids         []ID // sorted keys of members: deterministic iteration
	queue       []ID // phaseQueued members, in attach order
	syncing     int
	conflict    ident // last conflict reported
	closed      bool
	ready       Ready
	m           MasterMetrics
}

// NewMaster returns a Master for opts (EnsureDefaults is applied to a copy).
func NewMaster(opts MasterOptions) (*Master, error) {
	opts.EnsureDefaults()
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	return &Master{opts: opts, self: ident{opts.ID, opts.Epoch}, members: make(map[ID]*member)}, nil
}

// LastSeq returns the sequence of the last update proposed (0: none yet in
// this epoch).
func (m *Master) LastSeq() uint64 { return m.last }

// Propose numbers u, keeps it for resending, and broadcasts it. The caller
// has already applied u to its backend (u is the result of the mutation),
// and calls Propose before anything else happens to the Master, so that
// snapshots line up with sequence numbers (SnapshotSource). The Master
// keeps u's slices.
func (m *Master) Propose(u Update) (seq uint64, err error) {
	if m.closed {
		return 0, ErrClosed
	}
	if err := u.validate(); err != nil {
		return 0, err
	}
	m.last++
	m.buf.push(m.last, u)
	for m.buf.len() > 1 && (m.buf.len() > m.opts.BufferEntries || m.buf.bytes > m.opts.BufferBytes) {
		m.buf.popFront()
	}
	m.m.Proposed++
	m.batch(Broadcast, m.last, u)
	return m.last, nil
}

// batch queues update u at seq for to: appended to the last message if
// that is an Updates for to ending at seq-1 with room left, else in a new
// one.
func (m *Master) batch(to ID, seq uint64, u Update) {
	if n := len(m.ready.Messages); n > 0 {
		last := &m.ready.Messages[n-1]
		if last.Kind == MsgUpdates && last.To == to && last.Seq+uint64(len(last.Updates)) == seq &&
			len(last.Updates) < m.opts.BatchEntries && m.batchBytes+u.size() <= m.opts.BatchBytes {
			last.Updates = append(last.Updates, u)
			m.batchBytes += u.size()
			return
		}
	}
	var ups []Update
	if n := len(m.freeBatches); n > 0 {
		ups, m.freeBatches = m.freeBatches[n-1], m.freeBatches[:n-1]
	} else {
		ups = make([]Update, 0, min(m.opts.BatchEntries, 64))
	}
	ups = append(ups, u)
	m.batchBytes = u.size()
	m.send(Msg{Kind: MsgUpdates, To: to, Seq: seq, Updates: ups})
}

// send queues a message from this master.
func (m *Master) send(msg Msg) {
	msg.Store, msg.From, msg.Epoch = m.opts.Store, m.self.id, m.self.epoch
	if msg.To == Broadcast {
		m.lastBcast = m.now
	}
	m.ready.Messages = append(m.ready.Messages, msg)
}

func (m *Master) event(e Event) { m.ready.Events = append(m.ready.Events, e) }

// status builds a Status for to (Broadcast: a heartbeat).
func (m *Master) status(to ID, flags uint8) Msg {
	return Msg{Kind: MsgStatus, To: to, Seq: m.last, First: m.buf.first(m.last), Flags: flags}
}

// Step feeds the master a message from a clone. Errors report messages
// that cannot be for it (another store, a master's kind from itself,
// malformed); they change nothing and are for logging.
func (m *Master) Step(msg Msg) error {
	switch {
	case m.closed:
		return ErrClosed
	case msg.Store != m.opts.Store:
		return ErrWrongStore
	case msg.From == 0:
		m.m.Malformed++
		return fmt.Errorf("%w: no sender", ErrBadMsg)
	case msg.Kind.FromMaster():
		if (ident{msg.From, msg.Epoch}) != m.self {
			m.reportConflict(ident{msg.From, msg.Epoch}, 0)
			return nil
		}
		return ErrWrongRole
	}
	if msg.Kind == MsgAttach {
		if msg.To != 0 && msg.To != m.self.id {
			m.reportConflict(ident{msg.To, msg.Epoch}, msg.From)
			return nil
		}
		m.attach(msg.From, msg.Sync)
		return nil
	}
	if msg.Kind < MsgAttach || msg.Kind > msgKindMax {
		m.m.Malformed++
		return fmt.Errorf("%w: kind %d", ErrBadMsg, msg.Kind)
	}
	if msg.Kind == MsgDetach && msg.To == 0 {
		msg.To, msg.Epoch = m.self.id, m.self.epoch // from a clone that never heard back
	}
	if (ident{msg.To, msg.Epoch}) != m.self {
		if msg.To == 0 {
			m.m.Malformed++
			return fmt.Errorf("%w: %v to no master", ErrBadMsg, msg.Kind)
		}
		if msg.To == m.self.id && msg.Epoch < m.self.epoch {
			// The clone still follows this master's previous life; the
			// heartbeats will tell it too, but answer at once.
			m.m.Stale++
			m.reattach(msg.From)
		} else {
			m.reportConflict(ident{msg.To, msg.Epoch}, msg.From)
		}
		return nil
	}
	c := m.members[msg.From]
	if c == nil {
		if msg.Kind != MsgDetach {
			m.reattach(msg.From)
		}
		return nil
	}
	if msg.Kind != MsgDetach && msg.Sync != c.nonce {
		// About another sync than the one this master serves: late, or
		// the clone lost track. It does not keep the clone alive, so a
		// clone stuck that way is dropped (CloneTimeout), told to attach
		// again and resyncs.
		m.m.Stale++
		return nil
	}
	c.lastHeard = m.now
	switch msg.Kind {
	case MsgDetach:
		m.drop(c, ReasonDetach)
	case MsgAck:
		m.ack(c, msg)
	case MsgNack:
		m.nack(c, msg)
	}
	return nil
}

func (m *Master) reattach(to ID) {
	m.m.Reattach++
	m.send(m.status(to, FlagReattach))
}

// reportConflict reports another master, once until a different one shows.
func (m *Master) reportConflict(other ident, clone ID) {
	m.m.Conflicts++
	if other == m.conflict {
		return
	}
	m.conflict = other
	m.event(Event{Kind: EventConflict, Master: other.id, Epoch: other.epoch, Clone: clone})
}

// attach (re)starts the snapshot of clone id for sync nonce.
func (m *Master) attach(id ID, nonce uint64) {
	c := m.members[id]
	if c != nil {
		if nonce < c.nonce {
			m.m.Stale++
			return // older than the attach being served: late
		}
		c.lastHeard = m.now
		if c.nonce == nonce {
			return // a duplicate of the attach being served
		}
		m.stopTransfer(c)
	} else {
		if len(m.members) >= m.opts.MaxClones {
			m.m.Refused++
			m.event(Event{Kind: EventCloneDropped, Reason: ReasonMaxClones, Clone: id})
			return
		}
		c = &member{id: id, lastHeard: m.now}
		m.members[id] = c
		i, _ := slices.BinarySearch(m.ids, id)
		m.ids = slices.Insert(m.ids, i, id)
	}
	m.m.Attached++
	c.nonce = nonce
	if c.phase != phaseQueued {
		c.phase = phaseQueued
		m.queue = append(m.queue, id)
	}
	m.event(Event{Kind: EventCloneAttached, Clone: id})
	m.startSyncs()
}

// stopTransfer ends c's snapshot transfer, if any.
func (m *Master) stopTransfer(c *member) {
	if c.phase == phaseSyncing {
		m.syncing--
	}
	if c.reader != nil {
		c.reader.Close()
		c.reader = nil
	}
	c.inflight = nil
}

// drop forgets c.
func (m *Master) drop(c *member, why Reason) {
	if c.phase == phaseQueued {
		m.queue = slices.DeleteFunc(m.queue, func(id ID) bool { return id == c.id })
	}
	m.stopTransfer(c)
	delete(m.members, c.id)
	if i, ok := slices.BinarySearch(m.ids, c.id); ok {
		m.ids = slices.Delete(m.ids, i, i+1)
	}
	m.m.Dropped++
	m.event(Event{Kind: EventCloneDropped, Reason: why, Clone: c.id})
	m.startSyncs()
}

// startSyncs starts queued transfers while slots are free.
func (m *Master) startSyncs() {
	for m.syncing < m.opts.MaxSyncs && len(m.queue) > 0 {
		id := m.queue[0]
		m.queue = m.queue[1:]
		c := m.members[id]
		if c == nil || c.phase != phaseQueued {
			panic(fmt.Sprintf("BUG: repl: clone %d in the sync queue is %v", id, c))
		}
		r, err := m.opts.Source.OpenSnapshot()
		if err != nil {
			m.event(Event{Kind: EventSnapshotError, Clone: id, Err: err})
			m.drop(c, ReasonSnapshot)
			continue
		}
		m.syncing++
		*c = member{id: id, phase: phaseSyncing, nonce: c.nonce, lastHeard: c.lastHeard,
			snapSeq: m.last, reader: r, progressAt: m.now}
		m.fill(c)
	}
	if len(m.queue) == 0 {
		m.queue = nil // let the array go
	}
}

// fill reads and sends chunks while c's window has room.
func (m *Master) fill(c *member) {
	for !c.done && len(c.inflight) < m.opts.SnapshotWindow {
		entries, done, err := c.reader.Next(nil, m.opts.ChunkBytes)
		if err == nil && len(entries) == 0 && !done {
			err = fmt.Errorf("%w: reader returned nothing", ErrSnapshotRead)
		}
		if err != nil {
			m.event(Event{Kind: EventSnapshotError, Clone: c.id, Err: err})
			m.drop(c, ReasonSnapshot)
			return
		}
		chunk := Msg{Kind: MsgSnapshot, To: c.id, Seq: c.snapSeq, Sync: c.nonce, Chunk: c.produced,
			Final: done, Entries: entries}
		c.produced++
		if done {
			c.done = true
			c.reader.Close()
			c.reader = nil
		}
		c.inflight = append(c.inflight, chunk)
		m.m.ChunksSent++
		m.send(chunk)
	}
}

func (m *Master) ack(c *member, msg Msg) {
	switch c.phase {
	case phaseSyncing:
		if msg.Chunk <= c.ackedChunks {
			return
		}
		n := min(msg.Chunk, c.produced) - c.ackedChunks
		c.inflight = c.inflight[n:]
		c.ackedChunks += n
		c.progressAt = m.now
		if !c.done || c.ackedChunks < c.produced {
			m.fill(c)
			return
		}
		m.live(c)
		fallthrough // the ack may confirm updates after the snapshot too
	case phaseLive:
		if msg.Seq > c.acked && msg.Seq <= m.last {
			c.acked = msg.Seq
		}
	}
}

// live marks c's transfer complete.
func (m *Master) live(c *member) {
	m.stopTransfer(c)
	c.phase, c.acked = phaseLive, c.snapSeq
	m.event(Event{Kind: EventCloneLive, Clone: c.id, Seq: c.snapSeq})
	m.startSyncs()
}

func (m *Master) nack(c *member, msg Msg) {
	if msg.First == 0 || msg.First > msg.Last {
		return // malformed
	}
	if c.phase == phaseSyncing {
		if !c.done {
			return
		}
		m.live(c) // the clone nacks only once its snapshot is complete
	}
	if c.phase != phaseLive {
		return
	}
	m.m.Nacks++
	if a := min(msg.First-1, m.last); a > c.acked {
		c.acked = a
	}
	if msg.First > m.last {
		return
	}
	if msg.First < m.buf.first(m.last) {
		m.m.Unfillable++
		m.send(m.status(c.id, 0)) // the clone sees First > its next and resyncs
		return
	}
	last := min(msg.Last, m.last, msg.First+uint64(m.opts.MaxResend)-1)
	for seq := msg.First; seq <= last; seq++ {
		m.m.Resent++
		m.batch(c.id, seq, *m.buf.at(seq))
	}
}

// Tick advances the master's clock: heartbeats, chunk resends, dropping
// silent clones, trimming the buffer. now must not go backwards (an
// earlier now is ignored).
func (m *Master) Tick(now time.Time) {
	if m.closed || now.Before(m.now) {
		return
	}
	m.now = now
	low := m.last
	for _, id := range slices.Clone(m.ids) {
		c := m.members[id]
		if c == nil {
			continue // dropped while this loop ran (a failed snapshot)
		}
		if now.Sub(c.lastHeard) >= m.opts.CloneTimeout {
			m.drop(c, ReasonTimeout)
			continue
		}
		switch c.phase {
		case phaseSyncing:
			if len(c.inflight) > 0 && now.Sub(c.progressAt) >= m.opts.RetryInterval {
				c.progressAt = now
				for _, chunk := range c.inflight {
					m.m.ChunksResent++
					m.send(chunk)
				}
			}
			low = min(low, c.snapSeq)
		case phaseLive:
			low = min(low, c.acked)
		}
	}
	// Updates every clone has are not needed any more; a clone that comes
	// back from further behind resyncs anyway.
	for m.buf.len() > 0 && m.buf.first(m.last) <= low {
		m.buf.popFront()
	}
	m.startSyncs()
	if now.Sub(m.lastBcast) >= m.opts.HeartbeatInterval {
		m.m.Heartbeats++
		m.send(m.status(Broadcast, 0))
	}
}

// HasReady reports whether Ready has work.
func (m *Master) HasReady() bool { return !m.ready.Empty() }

// Ready returns the work accumulated since the last Advance. Call Advance
// once it is done.
func (m *Master) Ready() Ready { return m.ready }

// Advance discards the Ready returned last; its slices may be reused
// (the Updates of its messages too).
func (m *Master) Advance() {
	for i := range m.ready.Messages {
		msg := &m.ready.Messages[i]
		if msg.Kind == MsgUpdates && len(m.freeBatches) < maxFreeBatches {
			clear(msg.Updates)
			m.freeBatches = append(m.freeBatches, msg.Updates[:0])
		}
	}
	m.ready.reset()
}

// maxFreeBatches bounds the Updates arrays kept for reuse.
const maxFreeBatches = 16

func (r *Ready) reset() {
	clear(r.Messages)
	clear(r.Apply)
	clear(r.Events)
	r.Messages, r.Apply, r.Events = r.Messages[:0], r.Apply[:0], r.Events[:0]
}

// Clones lists the clones served, by ID.
func (m *Master) Clones() []CloneInfo {
	out := make([]CloneInfo, 0, len(m.ids))
	for _, id := range m.ids {
		c := m.members[id]
		out = append(out, CloneInfo{ID: id, Phase: c.phase.String(), Acked: c.acked, LastHeard: c.lastHeard})
	}
	return out
}

// Metrics returns a snapshot of the master's metrics.
func (m *Master) Metrics() MasterMetrics {
	s := m.m
	s.Clones = len(m.members)
	for _, c := range m.members {
		switch c.phase {
		case phaseQueued:
			s.Queued++
		case phaseSyncing:
			s.Syncing++
		case phaseLive:
			s.Live++
		}
	}
	s.LastSeq, s.FirstSeq = m.last, m.buf.first(m.last)
	s.BufferEntries, s.BufferBytes = m.buf.len(), m.buf.bytes
	return s
}

// Close releases the open snapshot readers. The Master answers nothing
// afterwards.
func (m *Master) Close() {
	if m.closed {
		return
	}
	for _, c := range m.members {
		m.stopTransfer(c)
	}
	m.closed = true
}

// ring is the retransmit buffer: the updates with consecutive sequence
// numbers head..head+n-1, in a growable circular array.
type ring struct {
	items []Update
	start int    // index of the oldest
	n     int    // items held
	seq   uint64 // sequence of the oldest
	bytes int
}

func (r *ring) len() int { return r.n }

// first returns the oldest sequence held, or last+1 when empty.
func (r *ring) first(last uint64) uint64 {
	if r.n == 0 {
		return last + 1
	}
	return r.seq
}

func (r *ring) push(seq uint64, u Update) {
	if r.n == len(r.items) {
		grown := make([]Update, max(16, 2*len(r.items)))
		for i := 0; i < r.n; i++ {
			grown[i] = r.items[(r.start+i)%len(r.items)]
		}
		r.items, r.start = grown, 0
	}
	if r.n == 0 {
		r.seq = seq
	}
	r.items[(r.start+r.n)%len(r.items)] = u
	r.n++
	r.bytes += u.size()
}

func (r *ring) popFront() {
	u := &r.items[r.start]
	r.bytes -= u.size()
	*u = Update{}
	r.start = (r.start + 1) % len(r.items)
	r.n--
	r.seq++
	if r.n == 0 && len(r.items) > 1024 {
		r.items, r.start = nil, 0 // shrink after a burst
	}
}

// at returns the update at seq, which must be held.
func (r *ring) at(seq uint64) *Update {
	i := seq - r.seq
	if seq < r.seq || i >= uint64(r.n) {
		panic(fmt.Sprintf("BUG: repl: seq %d not in buffer [%d, %d)", seq, r.seq, r.seq+uint64(r.n)))
	}
	return &r.items[(r.start+int(i))%len(r.items)]
}
