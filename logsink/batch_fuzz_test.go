package logsink

import (
	"testing"

	"github.com/weirio/weir/frame"
)

// FuzzDecodeRecords: any input is either rejected or walked, and a walked
// payload re-encodes to itself (the encoding is canonical).
func FuzzDecodeRecords(f *testing.F) {
	f.Add(connPayload(1, 2))
	f.Add(AppendRecord(nil, []frame.Value{frame.NewVector(frame.NewCount(1)), frame.NewSet()}))
	f.Add([]byte{0x00})
	f.Add([]byte{0x05, 0x00})
	f.Fuzz(func(t *testing.T, raw []byte) {
		var re []byte
		n := 0
		err := DecodeRecords(raw, nil, func(cols []frame.View) error {
			re = appendViewRecord(re, cols)
			n++
			return nil
		})
		if err != nil {
			return
		}
		if string(re) != string(raw) {
			t.Fatalf("re-encoding differs: %x vs %x", re, raw)
		}
	})
}

func appendViewRecord(dst []byte, cols []frame.View) []byte {
	vs := make([]frame.Value, len(cols))
	for i, c := range cols {
		vs[i] = c.Value()
	}
	return AppendRecord(dst, vs)
}
