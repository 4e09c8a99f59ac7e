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

// repeatPayload returns a payload of n records cycling through connRecords.
func repeatPayload(t testing.TB, n int) []byte {
	var recs = make([][]frame.Value, n)
	all := connRecords()
	for i := range recs {
		recs[i] = all[i%len(all)]
	}
	return testPayload(t, connSchema(), recs)
}

func TestCodecRoundTrip(t *testing.T) {
	c := newTestCodecs(t)
	for _, raw := range [][]byte{nil, {0}, repeatPayload(t, 1), repeatPayload(t, 400), bytes.Repeat([]byte("a"), 1<<20)} {
		for _, codec := range []frame.Codec{frame.CodecNone, frame.CodecS2, frame.CodecZstd} {
			p, err := c.Compress([]byte("prefix"), raw, codec)
			if err != nil {
				t.Fatal(err)
			}
			p = p[len("prefix"):]
			got, err := c.Decompress([]byte("x"), p, codec, uint32(len(raw)))
			if err != nil {
				t.Fatalf("%v, %d bytes: %v", codec, len(raw), err)
			}
			if !bytes.Equal(got[1:], raw) || got[0] != 'x' {
				t.Fatalf("%v, %d bytes: round trip differs", codec, len(raw))
			}
			// Any other RawLen is refused.
			if _, err := c.Decompress(nil, p, codec, uint32(len(raw))+1); !errors.Is(err, ErrBadBatch) {
				t.Fatalf("%v: RawLen+1 accepted: %v", codec, err)
			}
			if len(raw) > 0 {
				if _, err := c.Decompress(nil, p, codec, uint32(len(raw))-1); !errors.Is(err, ErrBadBatch) {
					t.Fatalf("%v: RawLen-1 accepted: %v", codec, err)
				}
			}
		}
	}
}

// TestCompressBatchRoundTrip: CompressBatch then DecompressLogBatch gives
// the columnar payload, whatever the codec (zstd writes several frames).
func TestCompressBatchRoundTrip(t *testing.T) {
	c := newTestCodecs(t)
	bt := mustBatcher(t, connSchema(), &BatcherOptions{MaxRecords: 1000, Shards: 1})
	var want [][]frame.Value
	for i := range 700 {
		rec := connRecords()[i%4]
		want = append(want, rec)
		mustAppend(t, bt, 0, rec)
	}
	b := bt.Flush(nil)[0]
	none, err := c.CompressBatch(nil, b, frame.CodecNone)
	if err != nil {
		t.Fatal(err)
	}
	for _, codec := range []frame.Codec{frame.CodecNone, frame.CodecS2, frame.CodecZstd} {
		e, err := c.CompressBatch([]byte("prefix"), b, codec)
		if err != nil {
			t.Fatal(err)
		}
		if string(e.Payload[:6]) != "prefix" || e.Codec != codec || int(e.RawLen) != len(none.Payload) {
			t.Fatalf("%v: codec %v raw len %d (want %d)", codec, e.Codec, e.RawLen, len(none.Payload))
		}
		m := frame.LogBatch{Stream: []byte(e.Stream), Codec: e.Codec, Records: e.Records, Seq: e.Seq, RawLen: e.RawLen, Payload: e.Payload[6:]}
		raw, err := c.DecompressLogBatch(nil, m)
		if err != nil {
			t.Fatalf("%v: %v", codec, err)
		}
		if !bytes.Equal(raw, none.Payload) {
			t.Fatalf("%v: payload differs", codec)
		}
		sameRecords(t, decodePayload(t, raw), want)
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

// TestCompressBatchAllocs: a warm CompressBatch into a buffer with room
// allocates nothing, for every codec.
func TestCompressBatchAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("sync.Pool drops items under the race detector")
	}
	c := newTestCodecs(t)
	bt := mustBatcher(t, connSchema(), &BatcherOptions{MaxRecords: 400, Shards: 1})
	for i := range 399 {
		mustAppend(t, bt, 0, connRecords()[i%4])
	}
	b, _ := mustAppend(t, bt, 0, connRecords()[0])
	dst := make([]byte, 0, 1<<20)
	for _, codec := range []frame.Codec{frame.CodecNone, frame.CodecS2, frame.CodecZstd} {
		run := func() {
			if _, err := c.CompressBatch(dst[:0], b, codec); err != nil {
				t.Fatal(err)
			}
		}
		run()
		if n := testing.AllocsPerRun(50, run); n != 0 {
			t.Errorf("%v: CompressBatch allocates %v times", codec, n)
		}
	}
}
