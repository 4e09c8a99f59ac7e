package logsink

import (
	"fmt"
	"slices"
	"time"
)

// ShipperOptions configure a Shipper. The zero value means the defaults.
type ShipperOptions struct {
	// Budget bounds the bytes of unacknowledged batches held in memory
	// (Batch.Payload, plus Batch.RowBytes until the batch is released).
	// Past it the oldest batches go to Spool, or are dropped and reported
	// in Ready.Dropped. Default 64 MiB.
	Budget int64
	// ResendAfter is how long a sent batch waits for its ack before it is
	// sent again. Default 5 s.
	ResendAfter time.Duration
	// Pick chooses the logger for a batch among live (sorted, never empty).
	// Default: round-robin over the live loggers. HRWPick(hash) picks per
	// stream by rendezvous hashing instead.
	Pick func(b *Batch, live []string) string
	// Window bounds the batches sent to one logger and not yet
	// acknowledged; more wait in memory until acks free room. It keeps a
	// slow logger's connection queue short (a batch dropped there costs a
	// ResendAfter). It must also cover two of the logger's commit rounds
	// (write, fsync, ack): the worker keeps sending during one only while
	// the window holds the next. Default 256 (about 5 MiB of conn.log
	// batches of 400 records; Budget bounds the bytes whatever the count).
	Window int
	// FailoverAfter is how long the batches a logger had unacknowledged
	// when it went down wait for it to come back before they go to another
	// live logger. A batch the dead logger wrote without its ack getting
	// through is written once if it returns in time (its Dedupe state is
	// durable: logsink.Sink), twice if the batch fails over. Default 30 s;
	// negative fails over at once.
	FailoverAfter time.Duration
	// Spool, if set, holds batches evicted from memory past Budget; they
	// come back, oldest first, as acks free room. Default none: evicted
	// batches are dropped.
	Spool Spool
}

// Defaults of ShipperOptions.
const (
	DefaultBudget        = 64 << 20
	DefaultResendAfter   = 5 * time.Second
	DefaultWindow        = 256
	DefaultFailoverAfter = 30 * time.Second
)

// EnsureDefaults fills zero fields with their defaults and returns o.
func (o *ShipperOptions) EnsureDefaults() *ShipperOptions {
	if o.Budget == 0 {
		o.Budget = DefaultBudget
	}
	if o.ResendAfter == 0 {
		o.ResendAfter = DefaultResendAfter
	}
	if o.Window == 0 {
		o.Window = DefaultWindow
	}
	if o.FailoverAfter == 0 {
		o.FailoverAfter = DefaultFailoverAfter
	}
	return o
}

// Validate reports options that cannot work.
func (o *ShipperOptions) Validate() error {
	switch {
	case o.Budget < 0:
		return fmt.Errorf("%w: Budget %d", ErrBadConfig, o.Budget)
	case o.ResendAfter < 0:
		return fmt.Errorf("%w: ResendAfter %v", ErrBadConfig, o.ResendAfter)
	case o.Window < 1:
		return fmt.Errorf("%w: Window %d", ErrBadConfig, o.Window)
	}
	return nil
}

// Spool holds batches that do not fit in the Shipper's memory budget.
// Take returns the oldest batch held; ok is false when it is empty.
type Spool interface {
	Put(Batch) error
	Take() (b Batch, ok bool, err error)
}

// Send asks the caller to send Batch to Logger.
type Send struct {
	Logger string
	Batch  Batch
}

// DropReason says why a batch was given up.
type DropReason uint8

// Drop reasons.
const (
	DropBudget DropReason = iota + 1 // evicted past Budget with no spool (or the spool failed)
	DropNack                         // a logger rejected it
)

func (r DropReason) String() string {
	switch r {
	case DropBudget:
		return "budget"
	case DropNack:
		return "nack"
	}
	return fmt.Sprintf("DropReason(%d)", uint8(r))
}

// Dropped is a batch given up for good. The caller must log and count it.
type Dropped struct {
	Batch  Batch
	Reason DropReason
	Err    error // the spool's error, if the spool refused it
}

// Ready is the work the Shipper asks of its caller since the last Advance.
type Ready struct {
	Sends   []Send
	Dropped []Dropped
}

// ShipperMetrics is a snapshot of a Shipper's counters.
type ShipperMetrics struct {
	Pending       int   // batches held in memory, sent or waiting
	PendingBytes  int64 // their size against Budget
	Waiting       int   // of which not sent (no live logger, or windows full)
	Held          int   // of which waiting for their logger to return
	FailedOver    uint64
	Sent, Resent  uint64 // Resent: again to the same logger after ResendAfter
	Returned      uint64 // sent again to their logger when it came back up
	Acked         uint64
	DupAcks       uint64 // acks for unknown or already acked batches
	Nacked        uint64
	DroppedBudget uint64
	Spooled       uint64
	Unspooled     uint64
}

type shipKey struct {
	stream string
	seq    uint64
}

type shipEntry struct {
	b          Batch
	logger     string // "" while waiting for a live logger
	sentAt     time.Time
	held       string     // the dead logger this batch waits for, if any
	heldSince  time.Time  // when it went down
	queued     bool       // in Shipper.wait
	gone       bool       // unlinked (skipped when found in wait)
	prev, next *shipEntry // in add order, oldest first
}

// Shipper is the delivery state machine of a worker: it decides which
// logger gets each batch, resends what is not acknowledged, and bounds the
// memory held. Like etcd raft's node it does no I/O, has no goroutine and
// no clock: the caller feeds it inputs (Add, Ack, Nack, LoggerUp,
// LoggerDown, Tick), then takes Ready, does the sends, and calls Advance.
// It is not safe for concurrent use.
type Shipper struct {
	opts  ShipperOptions
	now   time.Time
	live  []string // sorted
	rr    int
	byKey map[shipKey]*shipEntry
	head  *shipEntry // oldest
	tail  *shipEntry
	wait  []*shipEntry   // not sent and not held, oldest first
	fly   map[string]int // unacknowledged batches per live logger
	bytes int64
	m     ShipperMetrics
	ready Ready
}

// NewShipper returns a Shipper with no live logger. opts may be nil.
func NewShipper(opts *ShipperOptions) (*Shipper, error) {
	var o ShipperOptions
	if opts != nil {
		o = *opts
	}
	o.EnsureDefaults()
	if err := o.Validate(); err != nil {
		return nil, err
	}
	return &Shipper{opts: o, byKey: make(map[shipKey]*shipEntry), fly: make(map[string]int)}, nil
}

// Add takes a closed batch for delivery. It is sent at once to a live
// logger, or waits for one. A batch whose (Stream, Seq) is already held is
// ignored.
func (s *Shipper) Add(b Batch) {
	k := shipKey{b.Stream, b.Seq}
	if _, ok := s.byKey[k]; ok {
		return
	}
	e := &shipEntry{b: b}
	s.link(e)
	s.enqueue(e)
	s.enforceBudget()
}

// Ack records that logger wrote (stream, seq). Acks for unknown or already
// acknowledged batches are ignored; an ack from another logger than the one
// last sent to still counts (an earlier send arrived).
func (s *Shipper) Ack(logger, stream string, seq uint64) {
	e, ok := s.byKey[shipKey{stream, seq}]
	if !ok {
		s.m.DupAcks++
		return
	}
	s.m.Acked++
	s.unlink(e)
	s.refill()
	s.pump()
}

// Nack records that logger rejected (stream, seq): the batch is dropped and
// reported, never sent again (a corrupt batch would be rejected forever).
func (s *Shipper) Nack(logger, stream string, seq uint64) {
	e, ok := s.byKey[shipKey{stream, seq}]
	if !ok {
		s.m.DupAcks++
		return
	}
	s.m.Nacked++
	s.unlink(e)
	s.ready.Dropped = append(s.ready.Dropped, Dropped{Batch: e.b, Reason: DropNack})
	s.refill()
	s.pump()
}

// LoggerUp marks logger live; waiting batches are sent to the live loggers.
func (s *Shipper) LoggerUp(name string) {
	i, found := slices.BinarySearch(s.live, name)
	if found {
		return
	}
	s.live = slices.Insert(s.live, i, name)
	// Its own held batches go back to it first, then the waiting ones.
	for e := s.head; e != nil; e = e.next {
		if e.held == name {
			e.held = ""
			s.m.Returned++
			s.emit(e, name)
		}
	}
	s.pump()
}

// LoggerDown marks logger dead. Its unacknowledged batches wait for it to
// return for FailoverAfter, then go to another live logger (see
// ShipperOptions.FailoverAfter: only a failed-over batch can be written
// twice).
func (s *Shipper) LoggerDown(name string) {
	i, found := slices.BinarySearch(s.live, name)
	if !found {
		return
	}
	s.live = slices.Delete(s.live, i, i+1)
	delete(s.fly, name)
	for e := s.head; e != nil; e = e.next {
		if e.logger == name {
			e.logger = ""
			e.held, e.heldSince = name, s.now
			if s.opts.FailoverAfter < 0 {
				s.failover(e)
			}
		}
	}
	s.pump()
}

// failover stops e waiting for its dead logger.
func (s *Shipper) failover(e *shipEntry) {
	e.held = ""
	s.m.FailedOver++
	s.enqueue(e)
}

// Tick advances the clock to now and resends the batches whose ack is
// overdue, to the same logger. Until its first Tick a Shipper has no
// clock: batches sent, and loggers gone down, before it count their time
// from that first Tick (they are not overdue at once).
func (s *Shipper) Tick(now time.Time) {
	first := s.now.IsZero()
	s.now = now
	for e := s.head; e != nil; e = e.next {
		if first {
			if e.logger != "" && e.sentAt.IsZero() {
				e.sentAt = now
			}
			if e.held != "" && e.heldSince.IsZero() {
				e.heldSince = now
			}
		}
		switch {
		case e.logger != "" && now.Sub(e.sentAt) >= s.opts.ResendAfter:
			s.m.Resent++
			s.emit(e, e.logger)
		case e.held != "" && now.Sub(e.heldSince) >= s.opts.FailoverAfter:
			s.failover(e)
		}
	}
	s.pump()
}

// HasReady reports whether Ready has work.
func (s *Shipper) HasReady() bool {
	return len(s.ready.Sends) > 0 || len(s.ready.Dropped) > 0
}

// Ready returns the work to do since the last Advance. The slices are valid
// until Advance.
func (s *Shipper) Ready() Ready { return s.ready }

// Advance says the caller has done the work of the last Ready.
func (s *Shipper) Advance() {
	clear(s.ready.Sends)
	clear(s.ready.Dropped)
	s.ready.Sends = s.ready.Sends[:0]
	s.ready.Dropped = s.ready.Dropped[:0]
}

// Metrics returns a snapshot of the counters.
func (s *Shipper) Metrics() ShipperMetrics {
	m := s.m
	m.Pending = len(s.byKey)
	m.PendingBytes = s.bytes
	for e := s.head; e != nil; e = e.next {
		if e.logger == "" {
			m.Waiting++
		}
		if e.held != "" {
			m.Held++
		}
	}
	return m
}

// send assigns e to a live logger with room in its window and emits it;
// with none, e waits (false).
func (s *Shipper) send(e *shipEntry) bool {
	if len(s.live) == 0 {
		return false
	}
	var to string
	if s.opts.Pick != nil {
		to = s.opts.Pick(&e.b, s.live)
		if _, ok := slices.BinarySearch(s.live, to); !ok {
			to = s.live[0] // a pick outside live is a caller bug; stay safe
		}
		if s.fly[to] >= s.opts.Window {
			return false
		}
	} else {
		for range s.live {
			s.rr++
			if c := s.live[s.rr%len(s.live)]; s.fly[c] < s.opts.Window {
				to = c
				break
			}
		}
		if to == "" {
			return false
		}
	}
	s.m.Sent++
	s.emit(e, to)
	return true
}

// enqueue sends e, or queues it to wait.
func (s *Shipper) enqueue(e *shipEntry) {
	if len(s.wait) > 0 || !s.send(e) {
		e.queued = true
		s.wait = append(s.wait, e)
	}
}

// pump sends waiting batches, oldest first, while loggers have room.
func (s *Shipper) pump() {
	n := 0
	for n < len(s.wait) {
		e := s.wait[n]
		if !e.gone && !s.send(e) {
			break
		}
		e.queued = false
		n++
	}
	if n > 0 {
		clear(s.wait[:n])
		s.wait = append(s.wait[:0], s.wait[n:]...)
	}
}

// emit sends e to logger to (a first send, a resend or a return).
func (s *Shipper) emit(e *shipEntry, to string) {
	if e.logger != to {
		if e.logger != "" {
			s.fly[e.logger]--
		}
		s.fly[to]++
	}
	e.logger, e.sentAt = to, s.now
	s.ready.Sends = append(s.ready.Sends, Send{Logger: to, Batch: e.b})
}

// enforceBudget evicts the oldest batches while over Budget, to the spool
// or as drops. The newest batch is kept even if alone it exceeds Budget.
func (s *Shipper) enforceBudget() {
	for s.bytes > s.opts.Budget && s.head != nil && s.head != s.tail {
		e := s.head
		s.unlink(e)
		if s.opts.Spool != nil {
			err := s.opts.Spool.Put(e.b)
			if err == nil {
				s.m.Spooled++
				continue
			}
			s.m.DroppedBudget++
			s.ready.Dropped = append(s.ready.Dropped, Dropped{Batch: e.b, Reason: DropBudget, Err: err})
			continue
		}
		s.m.DroppedBudget++
		s.ready.Dropped = append(s.ready.Dropped, Dropped{Batch: e.b, Reason: DropBudget})
	}
}

// refill brings spooled batches back, oldest first, while the memory held
// is under the budget (the last one may overshoot it, as Add's may).
func (s *Shipper) refill() {
	if s.opts.Spool == nil {
		return
	}
	for s.bytes < s.opts.Budget {
		b, ok, err := s.opts.Spool.Take()
		if err != nil || !ok {
			return // a failing spool keeps what it has; the next ack retries
		}
		s.m.Unspooled++
		k := shipKey{b.Stream, b.Seq}
		if _, dup := s.byKey[k]; dup {
			continue
		}
		e := &shipEntry{b: b}
		s.link(e)
		s.enqueue(e)
		// Past the budget now by less than this batch: stop, but keep it
		// (as Add keeps its newest). Evicting here would put the oldest
		// batch back at the spool's tail: the backlog reordered, rewritten
		// to disk and sent again for nothing.
	}
}

func (s *Shipper) link(e *shipEntry) {
	s.byKey[shipKey{e.b.Stream, e.b.Seq}] = e
	s.bytes += e.b.size()
	e.prev = s.tail
	if s.tail != nil {
		s.tail.next = e
	} else {
		s.head = e
	}
	s.tail = e
}

func (s *Shipper) unlink(e *shipEntry) {
	if e.logger != "" {
		s.fly[e.logger]--
		e.logger = ""
	}
	e.gone = true
	delete(s.byKey, shipKey{e.b.Stream, e.b.Seq})
	s.bytes -= e.b.size()
	if e.prev != nil {
		e.prev.next = e.next
	} else {
		s.head = e.next
	}
	if e.next != nil {
		e.next.prev = e.prev
	} else {
		s.tail = e.prev
	}
	e.prev, e.next = nil, nil
}

// HRWPick returns a Pick that sends each stream to one logger by rendezvous
// (highest random weight) hashing, so a stream stays on its logger while the
// logger lives and moves to another only when it goes down.
func HRWPick() func(b *Batch, live []string) string {
	return func(b *Batch, live []string) string {
		best, bestW := live[0], uint64(0)
		for i, l := range live {
			if w := hrwWeight(b.Stream, l); i == 0 || w > bestW {
				best, bestW = l, w
			}
		}
		return best
	}
}

// hrwWeight is FNV-1a over stream, a separator and logger, finished with a
// 64-bit mixer so that close names give unrelated weights.
func hrwWeight(stream, logger string) uint64 {
	h := uint64(14695981039346656037)
	for i := 0; i < len(stream); i++ {
		h = (h ^ uint64(stream[i])) * 1099511628211
	}
	h = (h ^ 0xff) * 1099511628211
	for i := 0; i < len(logger); i++ {
		h = (h ^ uint64(logger[i])) * 1099511628211
	}
	h ^= h >> 33
	h *= 0xff51afd7ed558ccd
	h ^= h >> 33
	h *= 0xc4ceb9fe1a85ec53
	return h ^ h>>33
}
