package node

import (
	"errors"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/weirio/weir/frame"
	"github.com/weirio/weir/logsink"
	"github.com/weirio/weir/netio"
)

// sinkLoop is the goroutine that owns a node's logsink.Sink: event loops
// post received log batches to it (copied into recycled buffers, bounded
// by WriteQueue bytes), and it writes them in groups: write every queued
// batch, Commit (fsync files, then the journal), then acknowledge the
// group — the group-commit equivalent of fsync-before-ack.
//
// A group is written prepChunk batches at a time: each batch is decoded,
// decompressed, parsed and formatted into its lines (prep), on up to
// GOMAXPROCS goroutines that run only for that step, and the batches are
// written one after the other, in the order they arrived, by the sink
// goroutine. The preparation of a chunk overlaps the writing of the one
// before it, and the first chunk of the next group is prepared during
// the group's commit: the formatting, most of a logger's work per
// record, uses every core and does not wait for the disk; the files and
// the journal keep one writer, which only copies the lines.
type sinkLoop struct {
	l     *logs
	opts  logsink.SinkOptions
	sink  *logsink.Sink
	cmds  *logsink.CommandRunner // the rotation command, if any; outlives sink reopens
	preps [2][prepChunk]prepped  // the chunk being written and the next one, reused (run's)

	mu struct {
		sync.Mutex
		q     []sinkItem
		bytes int64
		busy  bool
		room  *sync.Cond // broadcast when the queue is taken
		free  [][]byte   // body buffers to reuse, at most maxFreeBodies
	}
	wake chan struct{}
	stop chan struct{}
	done chan struct{}

	m                 atomic.Pointer[logsink.SinkMetrics]
	shed, writeErrors atomic.Uint64
}

// sinkItem is one batch to write: a received log-batch body (peer set) or
// one of this node's own batches (local set).
type sinkItem struct {
	peer   *netio.Peer
	body   []byte
	local  logsink.Batch
	origin frame.NodeID
}

// prepped is an item made ready for the sink: decoded, decompressed,
// parsed and formatted; or the reason it is rejected.
type prepped struct {
	m       frame.LogBatch
	decoded bool // m holds the batch's header (else the frame is corrupt)
	origin  frame.NodeID
	raw     []byte
	pl      logsink.Payload
	err     error // why the batch is rejected (code says how)
	code    frame.ErrCode
}

// prepChunk is how many batches are prepared before they are written: it
// bounds the memory of the prepared batches (their payloads and text).
const prepChunk = 32

type pendingAck struct {
	peer   *netio.Peer
	stream []byte
	seq    uint64
	status frame.ErrCode
}

func newSinkLoop(l *logs) (*sinkLoop, error) {
	rot := l.opts.Rotate
	rot.Dir, rot.Format = l.opts.Dir, l.opts.Format
	opts := logsink.SinkOptions{Rotate: rot, Dedupe: l.opts.Dedupe, MaxStreams: l.opts.MaxStreams}
	var cmds *logsink.CommandRunner
	if rot.Command.Enabled() {
		if rot.Command.Log == nil {
			rot.Command.Log = l.n.log
		}
		var err error
		if cmds, err = logsink.NewCommandRunner(rot.Command, rot.Dir); err != nil {
			return nil, err
		}
		opts.Commands = cmds
	}
	sink, err := logsink.OpenSink(opts)
	if err != nil {
		if cmds != nil {
			cmds.Close()
		}
		return nil, err
	}
	if m := sink.Metrics(); m.Truncated > 0 || m.Unacked > 0 {
		l.n.log.Warn("log files cut back to their acknowledged extent after an unclean stop",
			"bytes_cut", m.Truncated, "files_set_aside", m.Unacked)
	}
	s := &sinkLoop{l: l, opts: opts, sink: sink, cmds: cmds, wake: make(chan struct{}, 1),
		stop: make(chan struct{}), done: make(chan struct{})}
	s.mu.room = sync.NewCond(&s.mu.Mutex)
	s.storeMetrics()
	go s.run()
	return s, nil
}

// maxFreeBodies bounds the body buffers kept for reuse; a buffer larger
// than maxFreeBody is not kept.
const (
	maxFreeBodies = 256
	maxFreeBody   = 1 << 20
)

// post queues the body of a received log-batch frame (any event loop). It
// is copied (the frame is a view into the loop's read buffer) into a
// recycled buffer; past WriteQueue bytes it is shed unacknowledged.
//
// Hot path (event loop): no allocation once buffers are recycled.
func (s *sinkLoop) post(p *netio.Peer, f []byte) {
	s.mu.Lock()
	if s.mu.bytes+int64(len(f)) > s.l.opts.WriteQueue {
		s.mu.Unlock()
		s.shed.Add(1)
		return
	}
	var body []byte
	if k := len(s.mu.free); k > 0 && cap(s.mu.free[k-1]) >= len(f) {
		body = s.mu.free[k-1]
		s.mu.free[k-1] = nil
		s.mu.free = s.mu.free[:k-1]
	}
	s.mu.q = append(s.mu.q, sinkItem{peer: p, body: append(body[:0], f...)})
	s.mu.bytes += int64(len(f))
	s.mu.Unlock()
	s.signal()
}

// recycle keeps the bodies of written items for post to reuse.
func (s *sinkLoop) recycle(items []sinkItem) {
	s.mu.Lock()
	for i := range items {
		if b := items[i].body; cap(b) > 0 && cap(b) <= maxFreeBody && len(s.mu.free) < maxFreeBodies {
			s.mu.free = append(s.mu.free, b[:0])
		}
		items[i] = sinkItem{}
	}
	s.mu.Unlock()
}

// postLocal queues one of this node's own (compressed) batches. It is not
// shed at WriteQueue (nothing would resend it): it waits for room instead,
// which backs up into the pump's queue and from there blocks writers.
func (s *sinkLoop) postLocal(origin frame.NodeID, b logsink.Batch) {
	s.mu.Lock()
	for len(s.mu.q) > 0 && s.mu.bytes+int64(len(b.Payload)) > s.l.opts.WriteQueue {
		s.mu.room.Wait()
	}
	s.mu.q = append(s.mu.q, sinkItem{local: b, origin: origin})
	s.mu.bytes += int64(len(b.Payload))
	s.mu.Unlock()
	s.signal()
}

func (s *sinkLoop) signal() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// idle reports whether nothing is queued or being written.
func (s *sinkLoop) idle() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.mu.q) == 0 && !s.mu.busy
}

func (s *sinkLoop) metrics() logsink.SinkMetrics { return *s.m.Load() }

func (s *sinkLoop) storeMetrics() {
	m := s.sink.Metrics()
	s.m.Store(&m)
}

func (s *sinkLoop) run() {
	defer close(s.done)
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	var (
		rounds   [2][]sinkItem // the round being written and the next one
		r        int           // rounds[r] is the current round
		inflight *sync.WaitGroup
		acks     []pendingAck
		ackBuf   []byte
		// Once stop is seen, the queue is taken once more (the final
		// round) and the loop ends after writing it.
		stopping, final bool
	)
	for {
		cur := rounds[r]
		if len(cur) == 0 {
			if stopping && final {
				return
			}
			if !stopping {
				select {
				case <-s.wake:
				case <-tick.C:
					s.rotate()
					continue
				case <-s.stop:
					stopping = true // one last round for what is queued
				}
			}
			cur = s.take(rounds[r][:0])
			rounds[r], final = cur, stopping
			if len(cur) == 0 {
				continue
			}
		}
		// Write the round a chunk at a time, preparing chunk k+1 while
		// chunk k is written (its first chunk may be in preparation
		// since the previous round's commit).
		acks = acks[:0]
		failed := false
		chunks := (len(cur) + prepChunk - 1) / prepChunk
		if inflight == nil {
			inflight = s.startPrep(chunkOf(cur, 0), s.preps[0][:])
		}
		for k := range chunks {
			inflight.Wait()
			inflight = nil
			if k+1 < chunks {
				inflight = s.startPrep(chunkOf(cur, k+1), s.preps[(k+1)%2][:])
			}
			chunk, preps := chunkOf(cur, k), &s.preps[k%2]
			for i := range chunk {
				var ack pendingAck
				ack, failed = s.write(&chunk[i], &preps[i], failed)
				if ack.peer != nil {
					acks = append(acks, ack) // its stream aliases the item's body
				}
			}
		}
		// The next round's batches are prepared during the commit (the
		// fsyncs wait on the disk, not the CPU); they are written after
		// it, in the next group, and acknowledged after its commit.
		next, nextFinal := rounds[r^1][:0], false
		if !final {
			next, nextFinal = s.take(next), stopping
			if len(next) > 0 {
				inflight = s.startPrep(chunkOf(next, 0), s.preps[0][:])
			}
		}
		rounds[r^1] = next
		if !failed {
			if err := s.sink.Commit(); err != nil {
				s.l.n.log.Error("cannot commit log files", "err", err)
				failed = true
			}
		}
		if failed {
			// Nothing of this round is acknowledged: the senders resend,
			// and the reopened sink has cut the files back.
			s.writeErrors.Add(1)
			s.reopen()
			acks = acks[:0]
		}
		for _, a := range acks {
			ackBuf = frame.AppendLogAck(ackBuf[:0], frame.LogAck{Stream: a.stream, Seq: a.seq, Status: a.status})
			_ = a.peer.Send(ackBuf)
		}
		clear(acks)
		s.recycle(cur)
		rounds[r] = cur[:0]
		r ^= 1
		s.storeMetrics()
		s.mu.Lock()
		s.mu.busy = len(next) > 0
		s.mu.Unlock()
		s.l.inbox.signal() // a FlushLogs may wait for this round
		final = final || nextFinal
		// Rotation happens between commit rounds; under a steady load
		// there is no idle moment for the select above to see the tick
		// or the stop.
		select {
		case <-tick.C:
			s.rotate()
		case <-s.stop:
			stopping = true
		default:
		}
	}
}

// take moves the queued items to dst and marks the loop busy if there
// are any.
func (s *sinkLoop) take(dst []sinkItem) []sinkItem {
	s.mu.Lock()
	dst = append(dst, s.mu.q...)
	clear(s.mu.q)
	s.mu.q = s.mu.q[:0]
	s.mu.bytes = 0
	if len(dst) > 0 {
		s.mu.busy = true
	}
	s.mu.room.Broadcast()
	s.mu.Unlock()
	return dst
}

func (s *sinkLoop) rotate() {
	if err := s.sink.Tick(); err != nil {
		s.l.n.log.Error("cannot rotate log files", "err", err)
	}
}

// chunkOf returns chunk k (prepChunk items) of items.
func chunkOf(items []sinkItem, k int) []sinkItem {
	return items[k*prepChunk : min((k+1)*prepChunk, len(items))]
}

// startPrep prepares the items of a chunk into preps, on up to GOMAXPROCS
// goroutines: each takes the next item not taken. Wait on the result
// before reading preps. The goroutines run only for the chunk.
func (s *sinkLoop) startPrep(chunk []sinkItem, preps []prepped) *sync.WaitGroup {
	var next atomic.Int32
	work := func() {
		for {
			i := int(next.Add(1)) - 1
			if i >= len(chunk) {
				return
			}
			s.prepOne(&chunk[i], &preps[i])
		}
	}
	wg := new(sync.WaitGroup)
	for range min(runtime.GOMAXPROCS(0), len(chunk)) {
		wg.Go(work)
	}
	return wg
}

// prepOne decodes, decompresses, parses and formats one item into p
// (safe to run for different items at once: the codecs are shared
// read-only state, and p is the item's own).
func (s *sinkLoop) prepOne(it *sinkItem, p *prepped) {
	p.err, p.code, p.decoded = nil, frame.CodeOK, true
	if it.peer == nil {
		b := it.local
		codec, rawLen, payload := b.Wire()
		p.m = frame.LogBatch{Stream: []byte(b.Stream), Codec: codec, Records: b.Records, Seq: b.Seq, RawLen: rawLen, Payload: payload}
		p.origin = it.origin
	} else {
		var err error
		if p.m, err = frame.DecodeLogBatch(it.body); err != nil {
			p.err, p.code, p.decoded = err, frame.CodeCorrupt, false
			return
		}
		p.origin = p.m.Origin
	}
	raw, err := s.l.codecs.DecompressLogBatch(p.raw[:0], p.m)
	if err != nil {
		p.err, p.code = err, frame.CodeCorrupt
		return
	}
	p.raw = raw
	err = p.pl.Parse(raw, &s.l.n.opts.Net.Limits)
	if err == nil && uint32(p.pl.Records()) != p.m.Records {
		err = errors.New("record count differs from the header")
	}
	if err == nil {
		// The stream's schema may still be refused (Sink.Write says
		// why); formatting it first costs only that batch's time.
		err = p.pl.Format(s.opts.Rotate.Format)
	}
	if err != nil {
		p.err, p.code = err, frame.CodeCorrupt
	}
}

// write writes one prepared item; it returns the ack to send after the
// commit (none for local batches) and whether the sink failed.
func (s *sinkLoop) write(it *sinkItem, p *prepped, failed bool) (pendingAck, bool) {
	m := &p.m
	if !p.decoded {
		s.l.rejected.Add(1)
		s.l.n.log.Warn("corrupt log batch", "peer", it.peer.Name, "err", p.err)
		return pendingAck{peer: it.peer, status: frame.CodeCorrupt}, failed
	}
	reject := func(code frame.ErrCode, err error) (pendingAck, bool) {
		s.l.rejected.Add(1)
		if it.peer == nil {
			s.l.dropped.Add(1)
			s.l.droppedRecords.Add(uint64(m.Records))
			s.l.n.log.Error("cannot write local log batch", "stream", string(m.Stream), "err", err)
			return pendingAck{}, failed
		}
		s.l.n.log.Warn("log batch rejected", "peer", it.peer.Name, "stream", string(m.Stream), "seq", m.Seq, "err", err)
		return pendingAck{peer: it.peer, stream: m.Stream, seq: m.Seq, status: code}, failed
	}
	if failed {
		return pendingAck{}, true
	}
	if p.err != nil {
		return reject(p.code, p.err)
	}
	_, err := s.sink.Write(p.origin, string(m.Stream), m.Seq, &p.pl)
	switch {
	case err == nil:
	case errors.Is(err, logsink.ErrTooManyStreams):
		return reject(frame.CodeLimit, err)
	case errors.Is(err, logsink.ErrStreamMismatch), errors.Is(err, logsink.ErrBadSchema):
		return reject(frame.CodeBadRequest, err)
	default:
		s.l.n.log.Error("cannot write log batch", "stream", string(m.Stream), "err", err)
		return pendingAck{}, true
	}
	if it.peer == nil {
		return pendingAck{}, false
	}
	return pendingAck{peer: it.peer, stream: m.Stream, seq: m.Seq}, false
}

// reopen replaces a failed sink by a fresh one, which cuts the files back
// to what was committed.
func (s *sinkLoop) reopen() {
	_ = s.sink.Close()
	for {
		sink, err := logsink.OpenSink(s.opts)
		if err == nil {
			s.sink = sink
			return
		}
		s.l.n.log.Error("cannot reopen log files; retrying in 1s", "err", err)
		select {
		case <-time.After(time.Second):
		case <-s.stop:
			// Keep the closed sink; close() reports its error.
			return
		}
	}
}

// close writes what is queued, commits, and closes the sink; then waits
// for the rotation commands of the files Close rotated.
func (s *sinkLoop) close() error {
	close(s.stop)
	<-s.done
	err := s.sink.Close()
	if s.cmds != nil {
		s.cmds.Close()
	}
	return err
}
