package logsink

import (
	"math/rand/v2"
	"testing"

	"github.com/klauspost/compress/zstd"

	"github.com/weirio/weir/frame"
)

func newRand(seed uint64) *rand.Rand { return rand.New(rand.NewPCG(seed, 0x9e3779b97f4a7c15)) }

// Exports for the external tests (package logsink_test), which use
// internal/connlog and so cannot live in this package.

// NewCodecsLevel is NewCodecs with another zstd level, for the figures of
// the package doc.
func NewCodecsLevel(t testing.TB, level zstd.EncoderLevel) *Codecs {
	c, err := newCodecs(level)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

// PayloadBlocks returns the size of a payload's header and of each column
// block (length prefix included).
func PayloadBlocks(raw []byte) (header int, blocks []int) {
	p, err := ParsePayload(raw, nil)
	if err != nil {
		return 0, nil
	}
	r := preader{b: raw}
	r.u8("")
	r.uvarint("")
	r.str("", frame.MaxNameLen)
	r.uvarint("")
	for range p.Schema.Columns {
		r.str("", frame.MaxNameLen)
		r.u8("")
		r.u8("")
	}
	header = len(raw) - len(r.b)
	for range p.Schema.Columns {
		before := len(r.b)
		r.bytes("")
		blocks = append(blocks, before-len(r.b))
	}
	return header, blocks
}
