package repl

import (
	"fmt"
	"slices"
	"time"
)

// CloneMetrics is a snapshot of a Clone's gauges and counters.
type CloneMetrics struct {
	Applied                  uint64 // last sequence applied
	Pending, PendingBytes    int    // updates held until they can be applied
	Updates, Dups            uint64 // updates applied; duplicates ignored
	Held, PendingDropped     uint64 // updates held out of order; dropped past the pending bounds
	Nacks, Resyncs, Chunks   uint64
	Conflicts, Stale, Others uint64 // other masters; messages from an older epoch; for other clones
}

// pendingUpd is an update held until the ones before it are applied.
type pendingUpd struct {
	seq uint64
	u   Update
}

// Clone is the clone side of a store's replication channel: it attaches to
// the master, receives a snapshot and then the updates in order, asks for
// gaps, resyncs when a gap cannot be filled or its master changes, and
// reports its State for the read rule. Like etcd raft's node it does no
// I/O, has no goroutine and no clock; see doc.go for the loop that drives
// it. It is not safe for concurrent use.
type Clone struct {
	opts      CloneOptions
	now       time.Time
	state     State
	since     time.Time
	master    ident // followed; zero: none yet
	lastHeard time.Time
	hasData   bool
	applied   uint64
	knownLast uint64 // highest sequence known to exist in the followed epoch

	nonce      uint64 // the sync in progress, or the last one completed
	nonceSet   bool
	snapSeq    uint64 // the snapshot's sequence, once its first chunk came
	snapKnown  bool
	nextChunk  uint64 // chunks of sync nonce received in order
	progressAt time.Time
	attachAt   time.Time // when the Attach for nonce was last sent

	pending      []pendingUpd // sorted by seq, all > applied
	pendingBytes int

	nackLast uint64 // end of the range asked for last
	nackAt   time.Time
	ackDue   bool
	conflict ident // last conflict reported

	ready Ready
	m     CloneMetrics
}

// NewClone returns a detached Clone for opts (EnsureDefaults is applied to
// a copy). Call Attach to start replicating.
func NewClone(opts CloneOptions) (*Clone, error) {
	opts.EnsureDefaults()
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	return &Clone{opts: opts}, nil
}

// State returns the clone's state.
func (c *Clone) State() State { return c.state }

// Status returns what the node needs for the read rule (Status.Serve).
func (c *Clone) Status() Status {
	return Status{State: c.state, Master: c.master.id, Epoch: c.master.epoch, Applied: c.applied,
		HasData: c.hasData, LastHeard: c.lastHeard, Since: c.since}
}

// Attach starts replicating: the clone asks for a snapshot (from its last
// master if it has one that is alive, else from any). No-op unless
// detached.
func (c *Clone) Attach() {
	if c.state == StateDetached {
		c.resync(ReasonAttach)
	}
}

// Detach stops replicating and tells the master. The local store keeps
// its contents (Status.HasData), served as stale.
func (c *Clone) Detach() {
	if c.state == StateDetached {
		return
	}
	c.send(Msg{Kind: MsgDetach})
	c.setState(StateDetached)
	c.dropPending()
	c.ackDue = false
}

func (c *Clone) send(msg Msg) {
	msg.Store, msg.From = c.opts.Store, c.opts.ID
	msg.To, msg.Epoch = c.master.id, c.master.epoch
	if msg.Kind == MsgAttach && !c.masterAlive() {
		msg.To, msg.Epoch = 0, 0
	}
	c.ready.Messages = append(c.ready.Messages, msg)
}

func (c *Clone) event(e Event) { c.ready.Events = append(c.ready.Events, e) }

func (c *Clone) setState(s State) {
	if s != c.state {
		c.state, c.since = s, c.now
		c.event(Event{Kind: EventState, State: s})
	}
}

func (c *Clone) masterAlive() bool {
	return c.master.id != 0 && !c.lastHeard.IsZero() && c.now.Sub(c.lastHeard) < c.opts.MasterTimeout
}

// resync starts a new snapshot with a new nonce.
func (c *Clone) resync(why Reason) {
	if !c.nonceSet {
		// Start from the clock so that a restarted clone with the same ID
		// does not reuse the nonces of its previous life.
		if !c.now.IsZero() && c.now.UnixNano() > 0 {
			c.nonce = uint64(c.now.UnixNano())
		}
		c.nonceSet = true
	}
	c.nonce++
	c.m.Resyncs++
	c.event(Event{Kind: EventResync, Reason: why})
	c.setState(StateSyncing)
	c.snapSeq, c.snapKnown, c.nextChunk = 0, false, 0
	c.progressAt = c.now
	c.nackLast = 0
	c.dropPending()
	c.attachAt = c.now
	c.send(Msg{Kind: MsgAttach, Sync: c.nonce})
}

func (c *Clone) dropPending() {
	clear(c.pending)
	c.pending, c.pendingBytes = c.pending[:0], 0
}

// Step feeds the clone a message from a master. Errors report messages
// that cannot be for it (another store, a clone's kind, malformed); they
// change nothing and are for logging.
func (c *Clone) Step(msg Msg) error {
	switch {
	case msg.Store != c.opts.Store:
		return ErrWrongStore
	case !msg.Kind.FromMaster():
		return ErrWrongRole
	case msg.From == 0 || msg.Epoch == 0:
		return fmt.Errorf("%w: no master identity", ErrBadMsg)
	case c.state == StateDetached:
		return nil
	}
	if !c.follow(ident{msg.From, msg.Epoch}) {
		return nil
	}
	c.lastHeard = c.now
	if c.state == StateStale {
		c.setState(StateLive)
	}
	if msg.To != Broadcast && msg.To != c.opts.ID {
		c.m.Others++
		return nil
	}
	switch msg.Kind {
	case MsgUpdate:
		c.update(msg.Seq, msg.Update)
	case MsgUpdates:
		for i := range msg.Updates {
			c.update(msg.Seq+uint64(i), msg.Updates[i])
		}
	case MsgSnapshot:
		c.chunk(msg)
	case MsgStatus:
		c.status(msg)
	}
	if c.state == StateSyncing && c.nextChunk == 0 && c.now.Sub(c.attachAt) >= c.opts.RetryInterval {
		// The master is there but no chunk came: the attach was lost, or
		// went out before this master existed. The same nonce again: a
		// master already serving (or queueing) it ignores the duplicate.
		c.attachAt = c.now
		c.send(Msg{Kind: MsgAttach, Sync: c.nonce})
	}
	c.maybeNack()
	return nil
}

// follow decides whether a message from master x is accepted, switching
// masters when x is the restarted master or a successor of a silent one.
func (c *Clone) follow(x ident) bool {
	switch {
	case x == c.master:
		return true
	case c.master.id == 0:
		c.bind(x, ReasonFirst)
		return true
	case x.id == c.master.id && x.epoch < c.master.epoch:
		c.m.Stale++
		return false
	case x.id == c.master.id:
		c.bind(x, ReasonRestart)
		c.resync(ReasonRestart)
		return true
	case !c.masterAlive():
		c.bind(x, ReasonFailover)
		c.resync(ReasonFailover)
		return true
	}
	c.m.Conflicts++
	if x != c.conflict {
		c.conflict = x
		c.event(Event{Kind: EventConflict, Master: x.id, Epoch: x.epoch})
	}
	return false
}

func (c *Clone) bind(x ident, why Reason) {
	c.master, c.conflict, c.knownLast = x, ident{}, 0
	c.event(Event{Kind: EventMasterChanged, Reason: why, Master: x.id, Epoch: x.epoch})
}

func (c *Clone) update(seq uint64, u Update) {
	c.knownLast = max(c.knownLast, seq)
	switch {
	case c.state == StateSyncing:
		if !c.snapKnown || seq > c.snapSeq {
			c.hold(seq, u)
		}
	case seq <= c.applied:
		c.m.Dups++
	case seq == c.applied+1:
		c.apply(seq, u)
		c.drain()
	default:
		c.hold(seq, u)
	}
}

func (c *Clone) apply(seq uint64, u Update) {
	c.ready.Apply = append(c.ready.Apply, Apply{Kind: ApplyUpdate, Seq: seq, Update: u})
	c.applied = seq
	c.m.Updates++
	c.ackDue = true
}

// hold keeps an update that cannot be applied yet, within the bounds;
// past them the highest sequences go (asked for again later).
func (c *Clone) hold(seq uint64, u Update) {
	i, found := slices.BinarySearchFunc(c.pending, seq, func(p pendingUpd, s uint64) int {
		return cmpU64(p.seq, s)
	})
	if found {
		c.m.Dups++
		return
	}
	c.m.Held++
	c.pending = slices.Insert(c.pending, i, pendingUpd{seq, u})
	c.pendingBytes += u.size()
	for len(c.pending) > c.opts.PendingEntries || c.pendingBytes > c.opts.PendingBytes {
		last := len(c.pending) - 1
		c.pendingBytes -= c.pending[last].u.size()
		c.pending[last] = pendingUpd{}
		c.pending = c.pending[:last]
		c.m.PendingDropped++
	}
}

// drain applies held updates that have become next, and drops the ones
// already covered.
func (c *Clone) drain() {
	n := 0
	for _, p := range c.pending {
		if p.seq > c.applied+1 {
			break
		}
		if p.seq == c.applied+1 {
			c.apply(p.seq, p.u)
		}
		c.pendingBytes -= p.u.size()
		n++
	}
	c.popHeld(n)
}

// dropHeldThrough drops the held updates with sequence ≤ seq.
func (c *Clone) dropHeldThrough(seq uint64) {
	n := 0
	for _, p := range c.pending {
		if p.seq > seq {
			break
		}
		c.pendingBytes -= p.u.size()
		n++
	}
	c.popHeld(n)
}

// popHeld removes the first n held updates.
func (c *Clone) popHeld(n int) {
	if n == 0 {
		return
	}
	k := copy(c.pending, c.pending[n:])
	clear(c.pending[k:])
	c.pending = c.pending[:k]
}

func cmpU64(a, b uint64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func (c *Clone) chunk(msg Msg) {
	if msg.Sync != c.nonce {
		c.m.Stale++
		return // for an earlier attach
	}
	if c.state != StateSyncing || msg.Chunk != c.nextChunk {
		c.ackDue = true // a duplicate or early chunk: tell the master where we are
		return
	}
	if msg.Chunk == 0 {
		c.snapSeq, c.snapKnown = msg.Seq, true
		c.ready.Apply = append(c.ready.Apply, Apply{Kind: ApplySnapshotBegin, Seq: msg.Seq})
		c.dropHeldThrough(msg.Seq) // the snapshot has them
	} else if msg.Seq != c.snapSeq {
		return // cannot happen with one master; ignore rather than corrupt
	}
	c.m.Chunks++
	c.nextChunk++
	c.progressAt = c.now
	c.ackDue = true
	if len(msg.Entries) > 0 {
		c.ready.Apply = append(c.ready.Apply, Apply{Kind: ApplySnapshotEntries, Seq: msg.Seq, Entries: msg.Entries})
	}
	if !msg.Final {
		return
	}
	c.ready.Apply = append(c.ready.Apply, Apply{Kind: ApplySnapshotEnd, Seq: msg.Seq})
	c.applied, c.hasData = msg.Seq, true
	c.knownLast = max(c.knownLast, msg.Seq)
	c.setState(StateLive)
	c.drain()
}

func (c *Clone) status(msg Msg) {
	if msg.Flags&FlagReattach != 0 {
		// While syncing, the attach may still be on its way; SyncTimeout
		// covers the case where it was lost.
		if msg.To == c.opts.ID && c.state != StateSyncing {
			c.resync(ReasonReattach)
		}
		return
	}
	c.knownLast = max(c.knownLast, msg.Seq)
	if c.state != StateSyncing && c.applied < msg.Seq && msg.First > c.applied+1 {
		c.resync(ReasonGap)
		return
	}
	if msg.To != Broadcast {
		return
	}
	c.ackDue = true // a heartbeat: show the master we are alive
}

// maybeNack asks for the first gap (at most MaxNack updates): at once
// when it starts past the range asked for last, else again every
// RetryInterval while it stays open.
func (c *Clone) maybeNack() {
	if c.state != StateLive && c.state != StateStale {
		return
	}
	end := c.knownLast
	if len(c.pending) > 0 {
		end = c.pending[0].seq - 1
	}
	if end <= c.applied {
		return
	}
	first := c.applied + 1
	if first <= c.nackLast && c.now.Sub(c.nackAt) < c.opts.RetryInterval {
		return // asked for already; the resend may be on its way
	}
	end = min(end, first+uint64(c.opts.MaxNack)-1)
	c.nackLast, c.nackAt = end, c.now
	c.m.Nacks++
	c.send(Msg{Kind: MsgNack, First: first, Last: end, Sync: c.nonce})
}

// Tick advances the clone's clock: Stale when the master is silent, a new
// attach when a snapshot makes no progress, nack retries. now must not go
// backwards (an earlier now is ignored).
func (c *Clone) Tick(now time.Time) {
	if now.Before(c.now) {
		return
	}
	c.now = now
	switch c.state {
	case StateLive:
		if !c.masterAlive() {
			c.setState(StateStale)
		}
	case StateSyncing:
		if now.Sub(c.progressAt) >= c.opts.SyncTimeout {
			c.resync(ReasonTimeout)
		}
	}
	c.maybeNack()
}

// HasReady reports whether Ready has work.
func (c *Clone) HasReady() bool { return c.ackDue || !c.ready.Empty() }

// Ready returns the work accumulated since the last Advance: the acks due
// are added here, one cumulative Ack per Ready. Call Advance once it is
// done.
func (c *Clone) Ready() Ready {
	// A nack made obsolete by later (reordered) arrivals is not sent.
	c.ready.Messages = slices.DeleteFunc(c.ready.Messages, func(m Msg) bool {
		obsolete := m.Kind == MsgNack && m.Sync == c.nonce && c.state != StateSyncing && m.Last <= c.applied
		if obsolete {
			c.m.Nacks--
		}
		return obsolete
	})
	if c.ackDue {
		c.ackDue = false
		seq := c.applied
		if c.state == StateSyncing {
			seq = 0 // not live: Seq would be read as the snapshot's progress
		}
		c.send(Msg{Kind: MsgAck, Seq: seq, Sync: c.nonce, Chunk: c.nextChunk})
	}
	return c.ready
}

// Advance discards the Ready returned last; its slices may be reused.
func (c *Clone) Advance() { c.ready.reset() }

// Metrics returns a snapshot of the clone's metrics.
func (c *Clone) Metrics() CloneMetrics {
	s := c.m
	s.Applied, s.Pending, s.PendingBytes = c.applied, len(c.pending), c.pendingBytes
	return s
}
