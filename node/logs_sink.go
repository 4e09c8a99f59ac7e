package node

import (
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"github.com/weirio/weir/frame"
	"github.com/weirio/weir/logsink"
	"github.com/weirio/weir/netio"
)

// sinkLoop is the goroutine that owns a node's logsink.Sink: event loops
// post received log batches to it (copied, bounded by WriteQueue bytes),
// and it writes them in groups: write every queued batch, Commit (fsync
// files, then the journal), then acknowledge the group — the group-commit
// equivalent of fsync-before-ack.
type sinkLoop struct {
	l    *logs
	opts logsink.SinkOptions
	sink *logsink.Sink

	mu struct {
		sync.Mutex
		q     []sinkItem
		bytes int64
		busy  bool
		room  *sync.Cond // broadcast when the queue is taken
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
	sink, err := logsink.OpenSink(opts)
	if err != nil {
		return nil, err
	}
	if m := sink.Metrics(); m.Truncated > 0 || m.Unacked > 0 {
		l.n.log.Warn("log files cut back to their acknowledged extent after an unclean stop",
			"bytes_cut", m.Truncated, "files_set_aside", m.Unacked)
	}
	s := &sinkLoop{l: l, opts: opts, sink: sink, wake: make(chan struct{}, 1),
		stop: make(chan struct{}), done: make(chan struct{})}
	s.mu.room = sync.NewCond(&s.mu.Mutex)
	s.storeMetrics()
	go s.run()
	return s, nil
}

// post queues the body of a received log-batch frame (any event loop). It
// is copied; past WriteQueue bytes it is shed unacknowledged.
func (s *sinkLoop) post(p *netio.Peer, f []byte) {
	s.mu.Lock()
	if s.mu.bytes+int64(len(f)) > s.l.opts.WriteQueue {
		s.mu.Unlock()
		s.shed.Add(1)
		return
	}
	s.mu.q = append(s.mu.q, sinkItem{peer: p, body: append([]byte(nil), f...)})
	s.mu.bytes += int64(len(f))
	s.mu.Unlock()
	s.signal()
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
		items   []sinkItem
		acks    []pendingAck
		scratch []byte
		ackBuf  []byte
	)
	lim := s.l.n.opts.Net.Limits
	for stopping := false; !stopping; {
		select {
		case <-s.wake:
		case <-tick.C:
			if err := s.sink.Tick(); err != nil {
				s.l.n.log.Error("cannot rotate log files", "err", err)
			}
			continue
		case <-s.stop:
			stopping = true // one last round for what is queued
		}
		s.mu.Lock()
		items = append(items[:0], s.mu.q...)
		clear(s.mu.q)
		s.mu.q = s.mu.q[:0]
		s.mu.bytes = 0
		s.mu.busy = len(items) > 0
		s.mu.room.Broadcast()
		s.mu.Unlock()
		if len(items) == 0 {
			continue
		}
		acks = acks[:0]
		failed := false
		for i := range items {
			it := &items[i]
			var ack pendingAck
			scratch, ack, failed = s.write(it, scratch, &lim, failed)
			if ack.peer != nil {
				acks = append(acks, ack)
			}
			*it = sinkItem{}
		}
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
		s.storeMetrics()
		s.mu.Lock()
		s.mu.busy = false
		s.mu.Unlock()
		s.l.inbox.signal() // a FlushLogs may wait for this round
	}
}

// write writes one item; it returns the ack to send after the commit (none
// for local batches) and whether the sink failed.
func (s *sinkLoop) write(it *sinkItem, scratch []byte, lim *frame.Limits, failed bool) ([]byte, pendingAck, bool) {
	codecs := s.l.codecs
	var (
		m      frame.LogBatch
		origin frame.NodeID
	)
	if it.peer == nil {
		b := it.local
		codec, rawLen, payload := b.Wire()
		m = frame.LogBatch{Stream: []byte(b.Stream), Codec: codec, Records: b.Records, Seq: b.Seq, RawLen: rawLen, Payload: payload}
		origin = it.origin
	} else {
		var err error
		if m, err = frame.DecodeLogBatch(it.body); err != nil {
			s.l.rejected.Add(1)
			s.l.n.log.Warn("corrupt log batch", "peer", it.peer.Name, "err", err)
			return scratch, pendingAck{peer: it.peer, status: frame.CodeCorrupt}, failed
		}
		origin = m.Origin
	}
	reject := func(code frame.ErrCode, err error) ([]byte, pendingAck, bool) {
		s.l.rejected.Add(1)
		if it.peer == nil {
			s.l.dropped.Add(1)
			s.l.droppedRecords.Add(uint64(m.Records))
			s.l.n.log.Error("cannot write local log batch", "stream", string(m.Stream), "err", err)
			return scratch, pendingAck{}, failed
		}
		s.l.n.log.Warn("log batch rejected", "peer", it.peer.Name, "stream", string(m.Stream), "seq", m.Seq, "err", err)
		return scratch, pendingAck{peer: it.peer, stream: m.Stream, seq: m.Seq, status: code}, failed
	}
	if failed {
		return scratch, pendingAck{}, true
	}
	raw, err := codecs.DecompressLogBatch(scratch[:0], m)
	if err != nil {
		return reject(frame.CodeCorrupt, err)
	}
	scratch = raw
	pl, err := logsink.ParsePayload(raw, lim)
	if err == nil && uint32(pl.Records()) != m.Records {
		err = errors.New("record count differs from the header")
	}
	if err != nil {
		return reject(frame.CodeCorrupt, err)
	}
	_, err = s.sink.Write(origin, string(m.Stream), m.Seq, &pl)
	switch {
	case err == nil:
	case errors.Is(err, logsink.ErrTooManyStreams):
		return reject(frame.CodeLimit, err)
	case errors.Is(err, logsink.ErrStreamMismatch), errors.Is(err, logsink.ErrBadSchema):
		return reject(frame.CodeBadRequest, err)
	default:
		s.l.n.log.Error("cannot write log batch", "stream", string(m.Stream), "err", err)
		return scratch, pendingAck{}, true
	}
	if it.peer == nil {
		return scratch, pendingAck{}, false
	}
	return scratch, pendingAck{peer: it.peer, stream: m.Stream, seq: m.Seq}, false
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

// close writes what is queued, commits, and closes the sink.
func (s *sinkLoop) close() error {
	close(s.stop)
	<-s.done
	return s.sink.Close()
}
