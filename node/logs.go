package node

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/weirio/weir/frame"
	"github.com/weirio/weir/logsink"
	"github.com/weirio/weir/netio"
)

// ErrNoLogging is returned by CreateLog on a node with neither local nor
// remote logging.
var ErrNoLogging = errors.New("node: logging is off on this node")

// ErrUnknownStream is returned by WriteLog for a stream not created.
var ErrUnknownStream = errors.New("node: unknown log stream")

// LogStream is a log stream created on this node. Write is safe for
// concurrent use from any goroutine.
type LogStream struct {
	l  *logs
	bt *logsink.Batcher
}

// Write appends one record. It is batched and, when the batch closes,
// shipped to a logger and/or written to a local file. It returns an error
// for a record that does not match the stream's schema.
//
// Hot path: no allocation; one uncontended shard lock (logsink.Batcher).
// It blocks only while LogOptions.Queue closed batches wait for the
// shipping goroutine.
func (s *LogStream) Write(rec []frame.Value) error {
	b, ok, err := s.bt.Append(rec)
	if err != nil {
		return err
	}
	if ok {
		return s.l.enqueue(b)
	}
	return nil
}

// Schema returns the stream's schema.
func (s *LogStream) Schema() logsink.Schema { return s.bt.Schema() }

// LogStats counts a node's log work.
type LogStats struct {
	Local, Remote bool
	Ship          logsink.ShipperMetrics
	Sink          logsink.SinkMetrics
	// Dropped counts batches given up (budget, spool full, rejected),
	// with their records; each is also logged.
	Dropped, DroppedRecords uint64
	// Shed counts received batches refused because the write queue was
	// full (their senders resend them); Rejected, batches answered with
	// an error (corrupt, unknown codec, no local logging).
	Shed, Rejected uint64
	// WriteErrors counts failed commit rounds on a logger.
	WriteErrors uint64
	// RawBytes and WireBytes sum the batches this node closed: their
	// records in row form (logsink.Batch.RowBytes) and on the wire.
	RawBytes, WireBytes uint64
}

// logs is a node's log machinery: the batchers, the pump goroutine that
// compresses and ships closed batches (and hands them to the local sink),
// and on a node with local logging the sink goroutine that writes files.
type logs struct {
	n             *Node
	opts          LogOptions
	local, remote bool
	codecs        *logsink.Codecs

	mu      sync.Mutex
	streams map[string]*LogStream

	in      chan logsink.Batch // closed batches for the pump
	inbox   eventBox           // acks and logger up/down, for the pump
	flushes chan chan struct{}
	stop    chan struct{}
	wg      sync.WaitGroup

	sink *sinkLoop // nil without local logging

	dropped, droppedRecords, rejected atomic.Uint64
	rawBytes, wireBytes               atomic.Uint64
	ship                              atomic.Pointer[logsink.ShipperMetrics]
}

// logEvent is an input of the pump from other goroutines.
type logEvent struct {
	kind   uint8 // evAck, evNack, evUp, evDown
	peer   *netio.Peer
	stream string
	seq    uint64
}

const (
	evAck = iota
	evNack
	evUp
	evDown
)

// eventBox is a mutex-guarded queue with a wake-up channel: event loops
// post to it without blocking. It holds at most max events; past it events
// are dropped (an ack dropped only delays its batch to a resend, which the
// logger acknowledges again).
type eventBox struct {
	mu      sync.Mutex
	q       []logEvent
	wake    chan struct{}
	max     int
	dropped atomic.Uint64
}

func (b *eventBox) post(e logEvent) {
	b.mu.Lock()
	if len(b.q) >= b.max {
		b.mu.Unlock()
		b.dropped.Add(1)
		return
	}
	b.q = append(b.q, e)
	b.mu.Unlock()
	select {
	case b.wake <- struct{}{}:
	default:
	}
}

// signal wakes the pump without an event.
func (b *eventBox) signal() {
	select {
	case b.wake <- struct{}{}:
	default:
	}
}

func (b *eventBox) take(dst []logEvent) []logEvent {
	b.mu.Lock()
	dst = append(dst[:0], b.q...)
	b.q = b.q[:0]
	b.mu.Unlock()
	return dst
}

func newLogs(n *Node, opts LogOptions) (*logs, error) {
	l := &logs{n: n, opts: opts, local: opts.local(n.opts.Role), remote: opts.remote(n.opts.Role),
		streams: map[string]*LogStream{}, in: make(chan logsink.Batch, opts.Queue),
		flushes: make(chan chan struct{}), stop: make(chan struct{})}
	l.inbox = eventBox{wake: make(chan struct{}, 1), max: 1 << 16}
	if !l.local && !l.remote {
		return l, nil
	}
	var err error
	if l.codecs, err = logsink.NewCodecs(); err != nil {
		return nil, err
	}
	if l.local {
		if l.sink, err = newSinkLoop(l); err != nil {
			l.codecs.Close()
			return nil, err
		}
	}
	ship := opts.Ship
	if opts.PerStreamHRW {
		ship.Pick = logsink.HRWPick()
	}
	if opts.SpoolDir != "" {
		sp, err := logsink.NewFileSpool(opts.SpoolDir, opts.SpoolBytes)
		if err != nil {
			l.close()
			return nil, err
		}
		ship.Spool = sp
	}
	shipper, err := logsink.NewShipper(&ship)
	if err != nil {
		l.close()
		return nil, err
	}
	l.ship.Store(&logsink.ShipperMetrics{})
	l.wg.Add(1)
	go l.pump(shipper)
	return l, nil
}

// CreateLog creates a log stream (or returns the existing one with the same
// schema). Records written to it are shipped to loggers and/or written
// locally, as LogOptions say.
func (n *Node) CreateLog(s logsink.Schema) (*LogStream, error) {
	l := n.logs
	if !l.local && !l.remote {
		return nil, ErrNoLogging
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if st := l.streams[s.Path]; st != nil {
		have := st.bt.Schema()
		if !schemaEq(&have, &s) {
			return nil, fmt.Errorf("node: log stream %q exists with another schema", s.Path)
		}
		return st, nil
	}
	if len(l.streams) >= l.opts.MaxStreams {
		return nil, fmt.Errorf("node: cannot create log stream: %w: %d streams", logsink.ErrTooManyStreams, len(l.streams))
	}
	bt, err := logsink.NewBatcher(s, &l.opts.Batch)
	if err != nil {
		return nil, err
	}
	st := &LogStream{l: l, bt: bt}
	l.streams[s.Path] = st
	return st, nil
}

// WriteLog writes one record to the stream created with CreateLog.
func (n *Node) WriteLog(stream string, rec []frame.Value) error {
	n.logs.mu.Lock()
	st := n.logs.streams[stream]
	n.logs.mu.Unlock()
	if st == nil {
		return fmt.Errorf("%w: %q", ErrUnknownStream, stream)
	}
	return st.Write(rec)
}

// FlushLogs closes every open batch and waits until each batch written so
// far is acknowledged by a logger (remote logging) and written to its file
// (local logging), or ctx ends.
func (n *Node) FlushLogs(ctx context.Context) error {
	l := n.logs
	if l.codecs == nil {
		return nil
	}
	done := make(chan struct{})
	select {
	case l.flushes <- done:
	case <-l.stop:
		return ErrClosed
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("node: logs not flushed: %w", ctx.Err())
	}
}

// LogStats returns the node's log counters.
func (n *Node) LogStats() LogStats {
	l := n.logs
	s := LogStats{Local: l.local, Remote: l.remote, Dropped: l.dropped.Load(),
		DroppedRecords: l.droppedRecords.Load(), Rejected: l.rejected.Load(),
		RawBytes: l.rawBytes.Load(), WireBytes: l.wireBytes.Load()}
	if m := l.ship.Load(); m != nil {
		s.Ship = *m
	}
	if l.sink != nil {
		s.Sink = l.sink.metrics()
		s.Shed = l.sink.shed.Load()
		s.WriteErrors = l.sink.writeErrors.Load()
	}
	return s
}

func schemaEq(a, b *logsink.Schema) bool {
	if a.Path != b.Path || len(a.Columns) != len(b.Columns) {
		return false
	}
	for i := range a.Columns {
		if a.Columns[i] != b.Columns[i] {
			return false
		}
	}
	return true
}

// enqueue hands a closed batch to the pump.
func (l *logs) enqueue(b logsink.Batch) error {
	select {
	case l.in <- b:
		return nil
	case <-l.stop:
		return ErrClosed
	}
}

// peerUp and peerDown tell the pump about loggers (any event loop).
func (l *logs) peerUp(p *netio.Peer) {
	if l.remote && p.Role == frame.RoleLogger {
		l.inbox.post(logEvent{kind: evUp, peer: p})
	}
}

func (l *logs) peerDown(p *netio.Peer) {
	if l.remote && p.Role == frame.RoleLogger {
		l.inbox.post(logEvent{kind: evDown, peer: p})
	}
}

// ackFrame handles a log-ack from a logger (on its event loop).
func (l *logs) ackFrame(p *netio.Peer, f frame.Frame) {
	m, err := frame.DecodeLogAck(f.Body())
	if err != nil {
		l.n.log.Warn("bad log-ack frame", "peer", p.Name, "err", err)
		p.Close(frame.CodeProtocol, "bad log-ack frame")
		return
	}
	kind := uint8(evAck)
	if m.Status != frame.CodeOK {
		kind = evNack
		l.n.log.Warn("logger rejected a log batch", "logger", p.Name, "stream", string(m.Stream), "seq", m.Seq, "code", m.Status)
	}
	if l.codecs != nil {
		l.inbox.post(logEvent{kind: kind, peer: p, stream: string(m.Stream), seq: m.Seq})
	}
}

// batchFrame handles a log-batch from a peer (on its event loop).
func (l *logs) batchFrame(p *netio.Peer, f frame.Frame) {
	if l.sink == nil {
		m, err := frame.DecodeLogBatch(f.Body())
		if err != nil {
			p.Close(frame.CodeProtocol, "bad log-batch frame")
			return
		}
		l.rejected.Add(1)
		_ = p.Send(frame.AppendLogAck(nil, frame.LogAck{Stream: m.Stream, Seq: m.Seq, Status: frame.CodeBadRequest}))
		return
	}
	l.sink.post(p, f.Body())
}

// shipMetricsEvery is how often pump publishes the Shipper's metrics while
// events keep coming (LogStats.Ship lags by at most this, or a tick).
const shipMetricsEvery = 10 * time.Millisecond

// pump owns the Shipper: it compresses closed batches, hands them to the
// local sink and the Shipper, does the Shipper's sends and counts its
// drops.
func (l *logs) pump(s *logsink.Shipper) {
	defer l.wg.Done()
	tick := time.NewTicker(l.opts.Tick)
	defer tick.Stop()
	loggers := map[string]*netio.Peer{}
	var (
		events    []logEvent
		closed    []logsink.Batch
		frame_    []byte
		waiters   []chan struct{}
		published time.Time // when the Shipper's metrics were last published
	)
	topicPrefix := []byte("weir/logs/")
	var topic []byte
	take := func(b logsink.Batch) {
		cb, err := l.codecs.CompressBatch(nil, b, l.opts.Codec)
		if err != nil {
			l.n.log.Error("cannot compress log batch", "stream", b.Stream, "err", err)
			l.dropped.Add(1)
			l.droppedRecords.Add(uint64(b.Records))
			return
		}
		l.rawBytes.Add(uint64(b.RowBytes))
		l.wireBytes.Add(uint64(len(cb.Payload)))
		l.release(&cb)
		if l.sink != nil {
			l.sink.postLocal(l.n.ID(), cb)
		}
		if l.remote {
			s.Add(cb)
		}
	}
	for {
		now := time.Now()
		select {
		case b := <-l.in:
			take(b)
		case <-l.inbox.wake:
		case <-tick.C:
			closed = closed[:0]
			for _, st := range l.streamList() {
				closed = st.bt.Tick(closed, now)
			}
			for _, b := range closed {
				take(b)
			}
			s.Tick(now)
		case w := <-l.flushes:
			closed = closed[:0]
			for _, st := range l.streamList() {
				closed = st.bt.Flush(closed)
			}
			for _, b := range closed {
				take(b)
			}
			// Batches already queued in l.in were closed before the
			// flush: take them too.
			for drained := false; !drained; {
				select {
				case b := <-l.in:
					take(b)
				default:
					drained = true
				}
			}
			waiters = append(waiters, w)
		case <-l.stop:
			return
		}
		events = l.inbox.take(events)
		for _, e := range events {
			switch e.kind {
			case evUp:
				loggers[e.peer.Name] = e.peer
				s.LoggerUp(e.peer.Name)
			case evDown:
				if loggers[e.peer.Name] == e.peer {
					delete(loggers, e.peer.Name)
					s.LoggerDown(e.peer.Name)
				}
			case evAck:
				s.Ack(e.peer.Name, e.stream, e.seq)
			case evNack:
				s.Nack(e.peer.Name, e.stream, e.seq)
			}
		}
		if s.HasReady() {
			rd := s.Ready()
			for _, snd := range rd.Sends {
				p := loggers[snd.Logger]
				if p == nil {
					continue // its down event is queued; the Shipper resends
				}
				codec, rawLen, payload := snd.Batch.Wire()
				topic = append(append(topic[:0], topicPrefix...), snd.Batch.Stream...)
				frame_ = frame.AppendLogBatch(frame_[:0], frame.Header{}, topic, frame.LogBatch{
					Origin: l.n.ID(), Stream: []byte(snd.Batch.Stream), Codec: codec,
					Records: snd.Batch.Records, Seq: snd.Batch.Seq, RawLen: rawLen, Payload: payload})
				// Waiting bounds the batches queued at a slow logger; a
				// frame still dropped is resent after ResendAfter.
				_ = p.SendWait(frame_, 100*time.Millisecond)
			}
			for _, d := range rd.Dropped {
				l.dropped.Add(1)
				l.droppedRecords.Add(uint64(d.Batch.Records))
				l.n.log.Error("log batch dropped", "stream", d.Batch.Stream, "seq", d.Batch.Seq,
					"records", d.Batch.Records, "reason", d.Reason.String(), "err", d.Err)
			}
			s.Advance()
		}
		// Metrics walks every pending batch: published at most every
		// shipMetricsEvery (and at each tick), not once per event.
		if t := time.Now(); len(waiters) > 0 || t.Sub(published) >= shipMetricsEvery {
			m := s.Metrics()
			l.ship.Store(&m)
			published = t
			if len(waiters) > 0 && m.Pending == 0 && (l.sink == nil || l.sink.idle()) {
				for _, w := range waiters {
					close(w)
				}
				waiters = waiters[:0]
			}
		}
	}
}

// release hands the batch's uncompressed records back to its Batcher once
// compressed.
func (l *logs) release(b *logsink.Batch) {
	l.mu.Lock()
	st := l.streams[b.Stream]
	l.mu.Unlock()
	if st != nil {
		st.bt.Release(b)
	}
}

func (l *logs) streamList() []*LogStream {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make([]*LogStream, 0, len(l.streams))
	for _, st := range l.streams {
		out = append(out, st)
	}
	return out
}

// close stops the pump and the sink (after the node flushed them).
func (l *logs) close() error {
	select {
	case <-l.stop:
		return nil
	default:
	}
	close(l.stop)
	l.wg.Wait()
	var err error
	if l.sink != nil {
		err = l.sink.close()
	}
	if l.codecs != nil {
		l.codecs.Close()
	}
	return err
}
