package logsink

import (
	"encoding/binary"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/weirio/weir/frame"
)

// Batch is a closed batch of one stream's records.
//
// Raw holds the encoded records (see the package doc). Codec, RawLen and
// Payload are set by Codecs.CompressBatch; until then Codec is CodecNone and
// Payload is empty, meaning Raw is sent as is.
type Batch struct {
	Stream  string
	Seq     uint64 // per stream, from 1, in closing order
	Records uint32
	Raw     []byte

	Codec   frame.Codec
	RawLen  uint32 // len(Raw) when Payload was made
	Payload []byte // Raw compressed with Codec
}

// Wire returns the bytes to send and their codec: Payload if the batch was
// compressed, Raw otherwise.
func (b Batch) Wire() (codec frame.Codec, rawLen uint32, payload []byte) {
	if b.Codec != frame.CodecNone || len(b.Payload) > 0 {
		return b.Codec, b.RawLen, b.Payload
	}
	return frame.CodecNone, uint32(len(b.Raw)), b.Raw
}

// size is the memory the batch holds, for the Shipper's budget.
func (b Batch) size() int64 { return int64(len(b.Raw) + len(b.Payload)) }

// BatcherOptions configure a Batcher. The zero value means the defaults.
type BatcherOptions struct {
	// MaxRecords closes a batch when it holds this many records. Default 400
	// (as Zeek's Log::write_buffer_size).
	MaxRecords int
	// MaxBytes closes a batch once its encoded records reach this size; a
	// batch exceeds it by less than its last record. Default 256 KiB.
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
	case o.MaxBytes < 0 || o.MaxBytes > MaxRawLen:
		return fmt.Errorf("%w: MaxBytes %d (at most %d)", ErrBadConfig, o.MaxBytes, MaxRawLen)
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
	stream string
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

// NewBatcher returns a Batcher for stream. opts may be nil.
func NewBatcher(stream string, opts *BatcherOptions) (*Batcher, error) {
	var o BatcherOptions
	if opts != nil {
		o = *opts
	}
	o.EnsureDefaults()
	if err := o.Validate(); err != nil {
		return nil, err
	}
	return &Batcher{
		stream: stream,
		opts:   o,
		shards: make([]shard, o.Shards),
		free:   make(chan []byte, o.FreeBuffers),
	}, nil
}

// Stream returns the batcher's stream name.
func (bt *Batcher) Stream() string { return bt.stream }

// Append encodes rec into a shard chosen round-robin. If that closes the
// shard's batch, the batch is returned with ok true; the caller owns it and
// may hand its Raw back with Release once done.
//
// Hot path: no allocation once buffers are warm (a released buffer is
// reused for the next batch), one uncontended lock in the common case.
func (bt *Batcher) Append(rec []frame.Value) (b Batch, ok bool) {
	return bt.AppendHint(int(bt.rr.Add(1)), rec)
}

// AppendHint is Append into shard hint mod Shards; a goroutine that passes a
// stable hint (a worker index) keeps to one shard and its cache lines.
func (bt *Batcher) AppendHint(hint int, rec []frame.Value) (b Batch, ok bool) {
	s := &bt.shards[uint(hint)%uint(len(bt.shards))]
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.records == 0 {
		if s.buf == nil {
			s.buf = bt.newBuf()
		}
		s.opened = bt.opts.Now()
	}
	s.buf = appendRecord(s.buf, rec)
	s.records++
	if int(s.records) >= bt.opts.MaxRecords || len(s.buf) >= bt.opts.MaxBytes {
		return bt.closeLocked(s), true
	}
	return Batch{}, false
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
	b := Batch{Stream: bt.stream, Seq: bt.seq.Add(1), Records: s.records, Raw: s.buf}
	s.buf, s.records = nil, 0
	return b
}

// appendRecord appends one record: a uvarint column count, then each value.
func appendRecord(dst []byte, rec []frame.Value) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(rec)))
	for _, v := range rec {
		dst = frame.AppendValue(dst, v)
	}
	return dst
}

// AppendRecord appends rec in the batch record encoding (for tests and for
// callers that build payloads themselves).
func AppendRecord(dst []byte, rec []frame.Value) []byte { return appendRecord(dst, rec) }

// maxColumns bounds a record's column count; a larger count is rejected.
const maxColumns = 4096

// DecodeRecords validates raw, a batch payload, and calls fn with each
// record's columns. The views alias raw and the slice is reused: both are
// dead after fn returns. An error from fn stops the walk and is returned.
// It never panics; work is bounded by len(raw) (a column count above the
// bytes left is rejected before any loop). lim may be nil.
func DecodeRecords(raw []byte, lim *frame.Limits, fn func(rec []frame.View) error) error {
	var stack [32]frame.View
	cols := stack[:0]
	for n := 0; len(raw) > 0; n++ {
		c, k := binary.Uvarint(raw)
		switch {
		case k == 0:
			return fmt.Errorf("%w: record %d: truncated column count", ErrBadBatch, n)
		case k < 0 || (k > 1 && raw[k-1] == 0):
			return fmt.Errorf("%w: record %d: bad column count", ErrBadBatch, n)
		case c > maxColumns || c > uint64(len(raw)-k):
			return fmt.Errorf("%w: record %d: %d columns in %d bytes", ErrBadBatch, n, c, len(raw)-k)
		}
		raw = raw[k:]
		cols = cols[:0]
		for i := uint64(0); i < c; i++ {
			v, rest, err := frame.DecodeValue(raw, lim)
			if err != nil {
				return fmt.Errorf("%w: record %d column %d: %w", ErrBadBatch, n, i, err)
			}
			cols = append(cols, v)
			raw = rest
		}
		if err := fn(cols); err != nil {
			return err
		}
	}
	return nil
}
