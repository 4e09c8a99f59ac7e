package logsink

import (
	"bytes"
	"testing"

	"github.com/weirio/weir/frame"
)

// FuzzDecompress: hostile payloads never panic and never produce more than
// rawLen bytes; what decodes re-compresses and round-trips.
func FuzzDecompress(f *testing.F) {
	c := newTestCodecs(f)
	raw := repeatPayload(f, 3)
	for _, codec := range []frame.Codec{frame.CodecNone, frame.CodecS2, frame.CodecZstd} {
		p, _ := c.Compress(nil, raw, codec)
		f.Add(uint8(codec), uint32(len(raw)), p)
	}
	f.Add(uint8(frame.CodecZstd), uint32(10), []byte{0x28, 0xb5, 0x2f, 0xfd})
	f.Fuzz(func(t *testing.T, codec uint8, rawLen uint32, payload []byte) {
		rawLen %= 1 << 20
		out, err := c.Decompress(nil, payload, frame.Codec(codec), rawLen)
		if err != nil {
			return
		}
		if len(out) != int(rawLen) {
			t.Fatalf("decoded %d bytes, rawLen %d", len(out), rawLen)
		}
		p, err := c.Compress(nil, out, frame.Codec(codec))
		if err != nil {
			t.Fatal(err)
		}
		back, err := c.Decompress(nil, p, frame.Codec(codec), rawLen)
		if err != nil || !bytes.Equal(back, out) {
			t.Fatalf("round trip: %v", err)
		}
	})
}
