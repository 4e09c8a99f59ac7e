package logsink

import (
	"fmt"
	"runtime"

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

// NewCodecs returns a ready Codecs.
func NewCodecs() (*Codecs, error) {
	n := runtime.GOMAXPROCS(0)
	enc, err := zstd.NewWriter(nil,
		zstd.WithEncoderLevel(zstd.SpeedFastest),
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

// CompressBatch sets b.Payload, b.Codec and b.RawLen from b.Raw. The
// payload is appended to dst (pass nil for a fresh slice). b.Raw is kept;
// the caller may Release it and clear it once the batch is compressed.
func (c *Codecs) CompressBatch(dst []byte, b Batch, codec frame.Codec) (Batch, error) {
	p, err := c.Compress(dst, b.Raw, codec)
	if err != nil {
		return b, err
	}
	b.Codec, b.RawLen, b.Payload = codec, uint32(len(b.Raw)), p
	return b, nil
}

// DecompressLogBatch returns the raw records of m, appended to dst.
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
