package logsink

import (
	"testing"

	"github.com/weirio/weir/frame"
)

// FuzzParsePayload: any input is either refused (with ErrBadBatch) or
// parses into a payload that Each walks without error; the writers'
// WritePayload writes exactly what WriteViews of each record writes; and
// the records of a parsed payload, encoded again, parse back to the same
// records.
func FuzzParsePayload(f *testing.F) {
	f.Add(testPayload(f, connSchema(), connRecords()))
	f.Add(repeatPayload(f, 40))
	f.Add(handPayload(2, []Column{{Name: "n", Type: frame.TypeCount}}, []byte{encPlain, 1, 2}))
	f.Add([]byte{payloadVersion, 0, 1, 'x', 0})
	f.Fuzz(func(t *testing.T, raw []byte) {
		p, ok := checkParseEach(t, raw)
		if !ok {
			return
		}
		samePayloadTexts(t, &p)
		// Lines stitched ahead (Format) are the same, in either format.
		if err := p.Format(FileFormat(len(raw) % 2)); err != nil {
			t.Fatalf("Format: %v", err)
		}
		samePayloadTexts(t, &p)
		var recs [][]frame.Value
		_ = p.Each(func(rec []frame.View) error {
			vs := make([]frame.Value, len(rec))
			for i, v := range rec {
				vs[i] = v.Value()
			}
			recs = append(recs, vs)
			return nil
		})
		again := decodePayload(t, testPayload(t, p.Schema, recs))
		if len(again) != len(recs) {
			t.Fatalf("%d records, then %d", len(recs), len(again))
		}
		for i := range recs {
			for j := range recs[i] {
				if !frame.Equal(again[i][j], recs[i][j]) {
					t.Fatalf("record %d column %d: %v, then %v", i, j, recs[i][j], again[i][j])
				}
			}
		}
	})
}
