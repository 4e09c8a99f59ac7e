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
// Raw holds the records in row form, as Append wrote them: the
// frame.AppendValue encoding of every value, in schema order, record after
// record. It is the Batcher's buffer, never sent. Codecs.CompressBatch turns
// it into the wire payload (columnar, then compressed) and sets Codec,
// RawLen and Payload.
type Batch struct {
	Stream  string
	Seq     uint64 // per stream, from 1, in closing order
	Records uint32
	Raw     []byte

	Codec   frame.Codec
	RawLen  uint32 // uncompressed payload size
	Payload []byte // the wire payload: columnar, compressed with Codec

	schema *Schema // the Batcher's; nil for a batch read back from a spool
}

// Encoded reports whether the batch has its wire payload (CompressBatch
// ran; any codec, CodecNone included).
func (b Batch) Encoded() bool { return len(b.Payload) > 0 }

// Wire returns the batch's wire fields for a frame.LogBatch. The batch must
// be Encoded: a row buffer is not a payload, and sending one would have
// the logger reject the batch, so Wire panics rather than send it.
func (b Batch) Wire() (codec frame.Codec, rawLen uint32, payload []byte) {
	if !b.Encoded() {
		panic("BUG: logsink: Wire of a batch that was not through CompressBatch")
	}
	return b.Codec, b.RawLen, b.Payload
}

// size is the memory the batch holds, for the Shipper's budget.
func (b Batch) size() int64 { return int64(len(b.Raw) + len(b.Payload)) }

// BatcherOptions configure a Batcher. The zero value means the defaults.
type BatcherOptions struct {
	// MaxRecords closes a batch when it holds this many records. Default 400
	// (as Zeek's Log::write_buffer_size).
	MaxRecords int
	// MaxBytes closes a batch once its records, in row form (Batch.Raw),
	// reach this size; a batch exceeds it by less than its last record.
	// Default 256 KiB; at most MaxRawLen/2.
	MaxBytes int
	// MaxDelay closes a non-empty batch this long after its first record,
	// checked by Tick. Default 1 s.
	MaxDelay time.Duration
	// Shards is the number of independently locked buffers. Default
	// GOMAXPROCS.
	Shards int
	// FreeBuffers is how many released batch buffers are kept for reuse.
	// Default 2*Shards.
	FreeBuffers int
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
	if o.FreeBuffers == 0 {
		o.FreeBuffers = 2 * o.Shards
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
		// larger than its rows in the worst case (10-byte varints for
		// 9-byte values), and a batch overshoots MaxBytes by its last
		// record.
		return fmt.Errorf("%w: MaxBytes %d (at most %d)", ErrBadConfig, o.MaxBytes, MaxRawLen/2)
	case o.MaxDelay < 0:
		return fmt.Errorf("%w: MaxDelay %v", ErrBadConfig, o.MaxDelay)
	case o.Shards < 0 || o.Shards > 1024:
		return fmt.Errorf("%w: Shards %d", ErrBadConfig, o.Shards)
	case o.FreeBuffers < 0:
		return fmt.Errorf("%w: FreeBuffers %d", ErrBadConfig, o.FreeBuffers)
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
	rr     atomic.Uint32
	shards []shard
	free   chan []byte
}

// shard is padded so two shards' locks never share a cache line.
type shard struct {
	mu      sync.Mutex
	buf     []byte
	records uint32
	opened  time.Time
	_       [64]byte
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
		free:   make(chan []byte, o.FreeBuffers),
	}, nil
}

// Stream returns the batcher's stream name, its schema's path.
func (bt *Batcher) Stream() string { return bt.schema.Path }

// Schema returns the batcher's schema. The caller must not modify its
// Columns.
func (bt *Batcher) Schema() Schema { return bt.schema }

// Append adds rec, one value per schema column (frame.None for unset), to
// a shard chosen round-robin. A record that does not match the schema
// (column count, value or element types) is refused with an error wrapping
// ErrRecordMismatch and nothing is added. If rec closes the shard's batch,
// the batch is returned with ok true; the caller owns it and may hand its
// Raw back with Release once done.
//
// Hot path: no allocation once buffers are warm (a released buffer is
// reused for the next batch), one uncontended lock in the common case; the
// record is checked and appended in row form, and the columnar transform is
// left to CompressBatch on the shipping goroutine
// (TestBatcherAppendAllocs, BenchmarkBatcherAppend).
func (bt *Batcher) Append(rec []frame.Value) (b Batch, ok bool, err error) {
	return bt.AppendHint(int(bt.rr.Add(1)), rec)
}

// AppendHint is Append into shard hint mod Shards; a goroutine that passes a
// stable hint (a worker index) keeps to one shard and its cache lines.
func (bt *Batcher) AppendHint(hint int, rec []frame.Value) (b Batch, ok bool, err error) {
	if err := checkRecordSchema(&bt.schema, rec); err != nil {
		return Batch{}, false, err
	}
	s := &bt.shards[uint(hint)%uint(len(bt.shards))]
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.records == 0 {
		if s.buf == nil {
			s.buf = bt.newBuf()
		}
		s.opened = bt.opts.Now()
	}
	for _, v := range rec {
		s.buf = frame.AppendValue(s.buf, v)
	}
	s.records++
	if int(s.records) >= bt.opts.MaxRecords || len(s.buf) >= bt.opts.MaxBytes {
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

// Release hands a batch's Raw buffer back for reuse. The caller must not
// touch b.Raw afterwards. Releasing is optional.
func (bt *Batcher) Release(b Batch) {
	if cap(b.Raw) == 0 || cap(b.Raw) > 2*bt.opts.MaxBytes {
		return
	}
	select {
	case bt.free <- b.Raw[:0]:
	default:
	}
}

func (bt *Batcher) newBuf() []byte {
	select {
	case b := <-bt.free:
		return b
	default:
		return make([]byte, 0, min(bt.opts.MaxBytes+bt.opts.MaxBytes/8, 1<<20))
	}
}

func (bt *Batcher) closeLocked(s *shard) Batch {
	b := Batch{Stream: bt.schema.Path, Seq: bt.seq.Add(1), Records: s.records, Raw: s.buf, schema: &bt.schema}
	s.buf, s.records = nil, 0
	return b
}
