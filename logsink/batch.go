package logsink

import (
	"errors"
	"fmt"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/weirio/weir/frame"
)

// Batch is a closed batch of one stream's records.
//
// A batch from a Batcher holds its records column by column, as Append
// wrote them, in the Batcher's buffers (never sent, never exported).
// Codecs.CompressBatch turns them into the wire payload (columnar, then
// compressed) and sets Codec, RawLen and Payload; Batcher.Release then
// hands the buffers back.
type Batch struct {
	Stream  string
	Seq     uint64 // per stream, from 1, in closing order
	Records uint32
	// RowBytes is the size of the records in row form, frame.AppendValue
	// of every value: what BatcherOptions.MaxBytes bounds, and the
	// uncompressed size compression ratios are quoted against.
	RowBytes int

	Codec   frame.Codec
	RawLen  uint32 // uncompressed payload size
	Payload []byte // the wire payload: columnar, compressed with Codec

	cols   *batchCols // the records, until Release; nil for a batch read back from a spool
	schema *Schema    // the Batcher's; nil for a batch read back from a spool
}

// Encoded reports whether the batch has its wire payload (CompressBatch
// ran; any codec, CodecNone included).
func (b Batch) Encoded() bool { return len(b.Payload) > 0 }

// Wire returns the batch's wire fields for a frame.LogBatch. The batch must
// be Encoded: the Batcher's buffers are not a payload, and sending nothing
// would have the logger reject the batch, so Wire panics rather than send
// it.
func (b Batch) Wire() (codec frame.Codec, rawLen uint32, payload []byte) {
	if !b.Encoded() {
		panic("BUG: logsink: Wire of a batch that was not through CompressBatch")
	}
	return b.Codec, b.RawLen, b.Payload
}

// size is the memory the batch holds, for the Shipper's budget.
func (b Batch) size() int64 {
	n := int64(len(b.Payload))
	if b.cols != nil {
		n += int64(b.RowBytes)
	}
	return n
}

// BatcherOptions configure a Batcher. The zero value means the defaults.
type BatcherOptions struct {
	// MaxRecords closes a batch when it holds this many records. Default 400
	// (as Zeek's Log::write_buffer_size).
	MaxRecords int
	// MaxBytes closes a batch once its records, in row form
	// (Batch.RowBytes), reach this size; a batch exceeds it by less than
	// its last record. Default 256 KiB; at most MaxRawLen/2.
	MaxBytes int
	// MaxDelay closes a non-empty batch this long after its first record,
	// checked by Tick. Default 1 s.
	MaxDelay time.Duration
	// Shards is the number of independently locked buffers. Default
	// GOMAXPROCS.
	Shards int
	// Now is the clock. Default time.Now.
	Now func() time.Time
}

// Defaults of BatcherOptions.
const (
	DefaultMaxRecords = 400
	DefaultMaxBytes   = 256 << 10
	DefaultMaxDelay   = time.Second
)

// EnsureDefaults fills zero fields with their defaults and returns o.
func (o *BatcherOptions) EnsureDefaults() *BatcherOptions {
	if o.MaxRecords == 0 {
		o.MaxRecords = DefaultMaxRecords
	}
	if o.MaxBytes == 0 {
		o.MaxBytes = DefaultMaxBytes
	}
	if o.MaxDelay == 0 {
		o.MaxDelay = DefaultMaxDelay
	}
	if o.Shards == 0 {
		o.Shards = runtime.GOMAXPROCS(0)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return o
}

// Validate reports options that cannot work.
func (o *BatcherOptions) Validate() error {
	switch {
	case o.MaxRecords < 0 || int64(o.MaxRecords) > math32:
		return fmt.Errorf("%w: MaxRecords %d", ErrBadConfig, o.MaxRecords)
	case o.MaxBytes < 0 || o.MaxBytes > MaxRawLen/2:
		// Half of MaxRawLen: the columnar payload of a batch is a little
		// larger than its row form in the worst case (10-byte varints for
		// 9-byte values), and a batch overshoots MaxBytes by its last
		// record.
		return fmt.Errorf("%w: MaxBytes %d (at most %d)", ErrBadConfig, o.MaxBytes, MaxRawLen/2)
	case o.MaxDelay < 0:
		return fmt.Errorf("%w: MaxDelay %v", ErrBadConfig, o.MaxDelay)
	case o.Shards < 0 || o.Shards > 1024:
		return fmt.Errorf("%w: Shards %d", ErrBadConfig, o.Shards)
	}
	return nil
}

const math32 = 1<<32 - 1

// Errors of batching, compression and shipping.
var (
	ErrBadConfig = errors.New("logsink: bad config")
	ErrBadBatch  = errors.New("logsink: bad batch")
)

// Batcher groups one stream's records into batches.
//
// Append, Tick and Flush are safe for concurrent use. Writers are spread over
// Shards buffers, each with its own lock, so that many goroutines writing one
// stream do not contend on a single mutex; each shard closes its own
// batches. Sequence numbers come from one atomic counter per stream, so they
// are unique and increase in closing order (not in record order across
// shards: a log stream has no cross-writer order to keep).
type Batcher struct {
	schema Schema
	opts   BatcherOptions
	seq    atomic.Uint64
	rr     atomic.Uint32 // the next shard to wait for, when all are busy
	last   atomic.Uint32 // the shard Append used last
	shards []shard
	free   sync.Pool // *batchCols released by Release
}

// shard is padded so two shards' locks never share a cache line.
type shard struct {
	mu      sync.Mutex
	cols    *batchCols
	records uint32
	bytes   int // row form
	opened  time.Time
	_       [64]byte
}

// batchCols holds an open batch's records column by column: one colEnc
// per schema column (payload_enc.go).
type batchCols struct {
	cols []colEnc
}

// NewBatcher returns a Batcher for the stream of schema s (stream name
// s.Path). s must be valid (Schema.Validate); the Batcher keeps its own
// copy. opts may be nil.
func NewBatcher(s Schema, opts *BatcherOptions) (*Batcher, error) {
	if err := s.Validate(); err != nil {
		return nil, err
	}
	s.Columns = slices.Clone(s.Columns)
	var o BatcherOptions
	if opts != nil {
		o = *opts
	}
	o.EnsureDefaults()
	if err := o.Validate(); err != nil {
		return nil, err
	}
	return &Batcher{
		schema: s,
		opts:   o,
		shards: make([]shard, o.Shards),
	}, nil
}

// Stream returns the batcher's stream name, its schema's path.
func (bt *Batcher) Stream() string { return bt.schema.Path }

// Schema returns the batcher's schema. The caller must not modify its
// Columns.
func (bt *Batcher) Schema() Schema { return bt.schema }

// Append adds rec, one value per schema column (frame.None for unset), to
// the shard Append used last if it is free, else to the next free one, or,
// when every shard is busy, waits for one in turn: a lone writer keeps to
// one shard and its cache lines (alternating between shards would spread
// its appends over twice the buffers), and concurrent writers spread over
// the shards without waiting. A record that does not match the schema
// (column count, value or element types) is refused with an error wrapping
// ErrRecordMismatch and nothing is added. If rec closes the shard's batch,
// the batch is returned with ok true; the caller owns it and may hand its
// buffers back with Release once it is compressed.
//
// Hot path: no allocation once buffers are warm (released buffers are
// reused for later batches), one uncontended lock in the common case; the
// record is checked and its values appended to their columns' buffers in
// one pass, so that CompressBatch, on the shipping goroutine, has only
// the column blocks to encode (TestBatcherAppendAllocs,
// BenchmarkBatcherAppend).
func (bt *Batcher) Append(rec []frame.Value) (b Batch, ok bool, err error) {
	n := uint32(len(bt.shards))
	at := bt.last.Load()
	for k := range n {
		i := (at + k) % n
		s := &bt.shards[i]
		if s.mu.TryLock() {
			if k > 0 {
				bt.last.Store(i)
			}
			return bt.appendLocked(s, rec)
		}
	}
	s := &bt.shards[bt.rr.Add(1)%n]
	s.mu.Lock()
	return bt.appendLocked(s, rec)
}

// AppendHint is Append into shard hint mod Shards; a goroutine that passes a
// stable hint (a worker index) keeps to one shard and its cache lines.
func (bt *Batcher) AppendHint(hint int, rec []frame.Value) (b Batch, ok bool, err error) {
	s := &bt.shards[uint(hint)%uint(len(bt.shards))]
	s.mu.Lock()
	return bt.appendLocked(s, rec)
}

// appendLocked appends rec to s, whose lock the caller holds; it unlocks
// it.
func (bt *Batcher) appendLocked(s *shard, rec []frame.Value) (b Batch, ok bool, err error) {
	defer s.mu.Unlock()
	if s.cols == nil {
		s.cols = bt.newCols()
	}
	n, err := addRecord(s.cols.cols, int(s.records), rec)
	if err != nil {
		return Batch{}, false, err
	}
	if s.records == 0 {
		s.opened = bt.opts.Now()
	}
	s.bytes += n
	s.records++
	if int(s.records) >= bt.opts.MaxRecords || s.bytes >= bt.opts.MaxBytes {
		return bt.closeLocked(s), true, nil
	}
	return Batch{}, false, nil
}

// Tick closes the batches that have been open for MaxDelay or longer at now
// and appends them to dst.
func (bt *Batcher) Tick(dst []Batch, now time.Time) []Batch {
	for i := range bt.shards {
		s := &bt.shards[i]
		s.mu.Lock()
		if s.records > 0 && now.Sub(s.opened) >= bt.opts.MaxDelay {
			dst = append(dst, bt.closeLocked(s))
		}
		s.mu.Unlock()
	}
	return dst
}

// Flush closes every non-empty batch and appends them to dst.
func (bt *Batcher) Flush(dst []Batch) []Batch {
	for i := range bt.shards {
		s := &bt.shards[i]
		s.mu.Lock()
		if s.records > 0 {
			dst = append(dst, bt.closeLocked(s))
		}
		s.mu.Unlock()
	}
	return dst
}

// Release hands the buffers of b, a batch of this Batcher, back for reuse
// by later batches, and clears them from b: b keeps its wire payload (if
// it was compressed) but can no longer be compressed. Copies of b must not
// be compressed afterwards either. Releasing is optional; releasing a
// batch twice, or one of another Batcher, does nothing.
func (bt *Batcher) Release(b *Batch) {
	c := b.cols
	b.cols = nil
	if c == nil || b.schema != &bt.schema || len(c.cols) != len(bt.schema.Columns) {
		return
	}
	bt.free.Put(c)
}

func (bt *Batcher) newCols() *batchCols {
	c, _ := bt.free.Get().(*batchCols)
	if c == nil {
		c = &batchCols{cols: make([]colEnc, len(bt.schema.Columns))}
	}
	for j := range c.cols {
		c.cols[j].reset(bt.schema.Columns[j])
	}
	return c
}

func (bt *Batcher) closeLocked(s *shard) Batch {
	b := Batch{Stream: bt.schema.Path, Seq: bt.seq.Add(1), Records: s.records, RowBytes: s.bytes,
		cols: s.cols, schema: &bt.schema}
	s.cols, s.records, s.bytes = nil, 0, 0
	return b
}
