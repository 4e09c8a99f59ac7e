package logsink

import (
	"bytes"
	"errors"
	"testing"

	"github.com/klauspost/compress/s2"
	"github.com/klauspost/compress/zstd"

	"github.com/weirio/weir/frame"
)

func newTestCodecs(t testing.TB) *Codecs {
	c, err := NewCodecs()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

// connPayload returns the raw payload of n conn-like records.
func connPayload(seed uint64, n int) []byte {
	r := newRand(seed)
	var rec []frame.Value
	var out []byte
	for i := range n {
		rec = connRecord(rec, r, i)
		out = AppendRecord(out, rec)
	}
	return out
}

func TestCodecRoundTrip(t *testing.T) {
	c := newTestCodecs(t)
	for _, raw := range [][]byte{nil, {0}, connPayload(1, 1), connPayload(2, 400), bytes.Repeat([]byte("a"), 1<<20)} {
		for _, codec := range []frame.Codec{frame.CodecNone, frame.CodecS2, frame.CodecZstd} {
			b, err := c.CompressBatch([]byte("prefix"), Batch{Raw: raw}, codec)
			if err != nil {
				t.Fatal(err)
			}
			b.Payload = b.Payload[len("prefix"):]
			got, err := c.Decompress([]byte("x"), b.Payload, b.Codec, b.RawLen)
			if err != nil {
				t.Fatalf("%v, %d bytes: %v", codec, len(raw), err)
			}
			if !bytes.Equal(got[1:], raw) || got[0] != 'x' {
				t.Fatalf("%v, %d bytes: round trip differs", codec, len(raw))
			}
			// Any other RawLen is refused.
			if _, err := c.Decompress(nil, b.Payload, b.Codec, b.RawLen+1); !errors.Is(err, ErrBadBatch) {
				t.Fatalf("%v: RawLen+1 accepted: %v", codec, err)
			}
			if b.RawLen > 0 {
				if _, err := c.Decompress(nil, b.Payload, b.Codec, b.RawLen-1); !errors.Is(err, ErrBadBatch) {
					t.Fatalf("%v: RawLen-1 accepted: %v", codec, err)
				}
			}
		}
	}
}

// TestDecompressBounded: a payload that expands past RawLen (a bomb, or a
// lying header) is refused without producing more than RawLen bytes.
func TestDecompressBounded(t *testing.T) {
	c := newTestCodecs(t)
	big := make([]byte, 8<<20)
	// zstd without a content size in the frame header (streaming writer).
	var zb bytes.Buffer
	w, _ := zstd.NewWriter(&zb, zstd.WithEncoderLevel(zstd.SpeedFastest))
	w.Write(big)
	w.Close()
	// Two concatenated frames, each honest about itself.
	z1, _ := c.Compress(nil, big[:1000], frame.CodecZstd)
	two := append(append([]byte(nil), z1...), z1...)
	cases := []struct {
		name    string
		codec   frame.Codec
		payload []byte
		rawLen  uint32
	}{
		{"zstd no fcs", frame.CodecZstd, zb.Bytes(), 1000},
		{"zstd two frames", frame.CodecZstd, two, 1000},
		{"s2 lying length", frame.CodecS2, s2.Encode(nil, big), 1000},
		{"raw len above cap", frame.CodecZstd, zb.Bytes(), MaxRawLen + 1},
		{"unknown codec", frame.Codec(9), big[:10], 10},
	}
	for _, tc := range cases {
		dst := make([]byte, 0, 64)
		out, err := c.Decompress(dst, tc.payload, tc.codec, tc.rawLen)
		if !errors.Is(err, ErrBadBatch) {
			t.Errorf("%s: %v", tc.name, err)
		}
		if cap(out) > int(tc.rawLen)+64 && tc.rawLen <= MaxRawLen {
			t.Errorf("%s: output grew to %d bytes", tc.name, cap(out))
		}
	}
}

func TestDecompressGarbage(t *testing.T) {
	c := newTestCodecs(t)
	r := newRand(3)
	for range 2000 {
		p := make([]byte, r.IntN(64))
		for i := range p {
			p[i] = byte(r.IntN(256))
		}
		for _, codec := range []frame.Codec{frame.CodecS2, frame.CodecZstd} {
			c.Decompress(nil, p, codec, uint32(r.IntN(1<<16)))
		}
	}
}
