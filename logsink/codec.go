package logsink

import (
	"fmt"
	"runtime"
	"sync"

	"github.com/klauspost/compress/s2"
	"github.com/klauspost/compress/zstd"

	"github.com/weirio/weir/frame"
)

// MaxRawLen is the hard cap on a batch's uncompressed size: a logger never
// decompresses more than this for one batch, whatever RawLen claims.
const MaxRawLen = 64 << 20

// DefaultCodec is the codec workers use unless told otherwise (see the
// figures in the package doc).
const DefaultCodec = frame.CodecS2

// Codecs compresses and decompresses batch payloads. It is safe for
// concurrent use: zstd encoders and decoders are costly to create, so one
// Codecs holds a fixed set (concurrency GOMAXPROCS) that EncodeAll and
// DecodeAll share. Create one per process and Close it when done.
type Codecs struct {
	zenc *zstd.Encoder
	zdec *zstd.Decoder
}

// NewCodecs returns a ready Codecs; zstd compresses at SpeedFastest.
func NewCodecs() (*Codecs, error) { return newCodecs(zstd.SpeedFastest) }

func newCodecs(level zstd.EncoderLevel) (*Codecs, error) {
	n := runtime.GOMAXPROCS(0)
	enc, err := zstd.NewWriter(nil,
		zstd.WithEncoderLevel(level),
		zstd.WithEncoderConcurrency(n),
		zstd.WithZeroFrames(true))
	if err != nil {
		return nil, fmt.Errorf("cannot create zstd encoder: %w", err)
	}
	dec, err := zstd.NewReader(nil,
		zstd.WithDecoderConcurrency(n),
		zstd.WithDecoderMaxMemory(MaxRawLen),
		zstd.WithDecoderMaxWindow(MaxRawLen),
		// DecodeAll then decodes at most cap(dst)-len(dst) bytes: the
		// RawLen bound below.
		zstd.WithDecodeAllCapLimit(true))
	if err != nil {
		enc.Close()
		return nil, fmt.Errorf("cannot create zstd decoder: %w", err)
	}
	return &Codecs{zenc: enc, zdec: dec}, nil
}

// Close releases the zstd encoders and decoders.
func (c *Codecs) Close() {
	c.zenc.Close()
	c.zdec.Close()
}

// Compress appends src compressed with codec to dst.
func (c *Codecs) Compress(dst, src []byte, codec frame.Codec) ([]byte, error) {
	if len(src) > MaxRawLen {
		return dst, fmt.Errorf("%w: %d raw bytes (at most %d)", ErrBadBatch, len(src), MaxRawLen)
	}
	switch codec {
	case frame.CodecNone:
		return append(dst, src...), nil
	case frame.CodecS2:
		n := s2.MaxEncodedLen(len(src))
		if n < 0 {
			return dst, fmt.Errorf("%w: too large for s2", ErrBadBatch)
		}
		at := len(dst)
		dst = grow(dst, n)
		out := s2.Encode(dst[at:at+n], src)
		return dst[:at+len(out)], nil
	case frame.CodecZstd:
		return c.zenc.EncodeAll(src, dst), nil
	}
	return dst, fmt.Errorf("%w: codec %v", ErrBadBatch, codec)
}

// Decompress appends the decompression of src to dst. The output must be
// exactly rawLen bytes, and rawLen at most MaxRawLen; decoding stops (and
// fails) as soon as the output would exceed rawLen, so a hostile payload
// costs at most rawLen bytes of memory. It never panics.
func (c *Codecs) Decompress(dst, src []byte, codec frame.Codec, rawLen uint32) ([]byte, error) {
	if rawLen > MaxRawLen {
		return dst, fmt.Errorf("%w: raw length %d (at most %d)", ErrBadBatch, rawLen, MaxRawLen)
	}
	n := int(rawLen)
	at := len(dst)
	switch codec {
	case frame.CodecNone:
		if len(src) != n {
			return dst, fmt.Errorf("%w: %d bytes, raw length %d", ErrBadBatch, len(src), n)
		}
		return append(dst, src...), nil
	case frame.CodecS2:
		m, err := s2.DecodedLen(src)
		if err != nil {
			return dst, fmt.Errorf("%w: s2: %w", ErrBadBatch, err)
		}
		if m != n {
			return dst, fmt.Errorf("%w: s2 length %d, raw length %d", ErrBadBatch, m, n)
		}
		dst = grow(dst, n)
		out, err := s2.Decode(dst[at:at+n], src)
		if err != nil {
			return dst[:at], fmt.Errorf("%w: s2: %w", ErrBadBatch, err)
		}
		if len(out) != n || (n > 0 && &out[0] != &dst[at]) {
			return dst[:at], fmt.Errorf("%w: s2 decoded %d bytes, raw length %d", ErrBadBatch, len(out), n)
		}
		return dst[:at+n], nil
	case frame.CodecZstd:
		if n == 0 {
			// EncodeAll of nothing is an empty frame (WithZeroFrames);
			// accept exactly what we would produce.
			if len(src) == 0 {
				return dst, nil
			}
		}
		// Cap the output at exactly rawLen bytes; one more would be an
		// error from the decoder (the cap limit), never an allocation.
		buf := grow(dst, n)[:at]
		buf = buf[: at : at+n]
		out, err := c.zdec.DecodeAll(src, buf)
		if err != nil {
			return dst[:at], fmt.Errorf("%w: zstd: %w", ErrBadBatch, err)
		}
		if len(out)-at != n {
			return dst[:at], fmt.Errorf("%w: zstd decoded %d bytes, raw length %d", ErrBadBatch, len(out)-at, n)
		}
		return out, nil
	}
	return dst, fmt.Errorf("%w: codec %v", ErrBadBatch, codec)
}

// CompressBatch makes b's wire payload: it encodes b's columns (as the
// Batcher filled them) as the columnar payload and compresses that with
// codec (CodecNone sends it as is), appending to dst (pass nil for a fresh
// slice), and sets b.Payload, b.Codec and b.RawLen (the columnar size). b
// must come from a Batcher and not be released yet; CompressBatch only
// reads its columns, so the caller may then Release it (the Shipper's
// budget counts a batch's columns until then). The Payload is held until
// the batch is acknowledged: dst must not be reused for another batch
// meanwhile.
//
// zstd compresses the payload as a run of frames, a new one starting at the
// first column boundary past zstdGroup bytes: zstd codes literals with one
// Huffman table per block, and columns have very different byte statistics
// (base62 uids, varints, address bytes), so a table per group of columns
// saves about 9% on conn.log. A zstd decoder decodes concatenated frames as
// one stream, so decompression is unchanged.
//
// Hot path (shipping goroutine): the encoding uses pooled scratch and the
// compressors' reused state; nothing is allocated but dst's growth
// (BenchmarkCompressBatch).
func (c *Codecs) CompressBatch(dst []byte, b Batch, codec frame.Codec) (Batch, error) {
	if b.schema == nil || b.cols == nil {
		return b, fmt.Errorf("%w: batch %s/%d has no records to encode (not from a Batcher, or released)", ErrBadBatch, b.Stream, b.Seq)
	}
	sc := scratchPool.Get().(*compressScratch)
	defer scratchPool.Put(sc)
	at := len(dst)
	var raw []byte
	var err error
	if codec == frame.CodecNone {
		raw, sc.cuts, err = encodePayload(dst, b.schema, b.cols.cols, int(b.Records), sc.cuts[:0])
		if err == nil {
			dst, raw = raw, raw[at:]
		}
	} else {
		raw, sc.cuts, err = encodePayload(sc.raw[:0], b.schema, b.cols.cols, int(b.Records), sc.cuts[:0])
		sc.raw = raw
	}
	if err != nil {
		return b, err
	}
	if len(raw) > MaxRawLen {
		return b, fmt.Errorf("%w: %d byte payload (at most %d)", ErrBadBatch, len(raw), MaxRawLen)
	}
	switch codec {
	case frame.CodecNone:
	case frame.CodecZstd:
		start := 0
		for i, cut := range sc.cuts {
			if cut-start >= zstdGroup || i == len(sc.cuts)-1 {
				dst = c.zenc.EncodeAll(raw[start:cut], dst)
				start = cut
			}
		}
	default:
		if dst, err = c.Compress(dst, raw, codec); err != nil {
			return b, err
		}
	}
	b.Codec, b.RawLen, b.Payload = codec, uint32(len(raw)), dst
	return b, nil
}

// zstdGroup is the least uncompressed size of a zstd frame of CompressBatch
// but for the last: smaller groups pay a frame header and a Huffman table
// for little, and each frame's tables cost CPU. On 400-record conn.log
// batches (wire bytes per record, and zstd's instructions per record,
// counted by cachegrind): 1 KiB 42.60 and 3550, 4 KiB 42.74 and 2860, one
// frame 46.47 and 1140. 4 KiB keeps all but 0.3% of the gain for a fifth
// less CPU than 1 KiB.
const zstdGroup = 4 << 10

// compressScratch is CompressBatch's reused state.
type compressScratch struct {
	raw  []byte // the uncompressed payload
	cuts []int  // its column block ends
}

var scratchPool = sync.Pool{New: func() any { return new(compressScratch) }}

// DecompressLogBatch returns m's uncompressed payload, appended to dst; parse
// it with ParsePayload.
func (c *Codecs) DecompressLogBatch(dst []byte, m frame.LogBatch) ([]byte, error) {
	return c.Decompress(dst, m.Payload, m.Codec, m.RawLen)
}

// grow returns dst with room for n more bytes (len unchanged beyond the
// returned slice's length of len(dst)+n).
func grow(dst []byte, n int) []byte {
	at := len(dst)
	if cap(dst)-at < n {
		d := make([]byte, at, at+n)
		copy(d, dst)
		dst = d
	}
	return dst[:at+n]
}
