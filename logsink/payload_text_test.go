package logsink

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/weirio/weir/frame"
)

// payloadTexts writes every record of p in both formats twice: through
// Each and WriteViews (the reference) and through WritePayload.
func payloadTexts(t testing.TB, p *Payload) (views, direct [2][]byte) {
	t.Helper()
	opened := time.Date(2026, 11, 26, 14, 0, 0, 0, time.UTC)
	for i := range 2 {
		var bv, bd bytes.Buffer
		var wv, wd Writer
		var err error
		if i == 0 {
			wv, err = NewTSVWriter(&bv, p.Schema, opened)
			if err == nil {
				wd, err = NewTSVWriter(&bd, p.Schema, opened)
			}
		} else {
			wv, err = NewJSONWriter(&bv, p.Schema)
			if err == nil {
				wd, err = NewJSONWriter(&bd, p.Schema)
			}
		}
		if err != nil {
			t.Fatal(err)
		}
		if err := p.Each(wv.WriteViews); err != nil {
			t.Fatalf("Each: %v", err)
		}
		if err := wd.WritePayload(p); err != nil {
			t.Fatalf("WritePayload: %v", err)
		}
		if err := errors.Join(wv.Flush(), wd.Flush()); err != nil {
			t.Fatal(err)
		}
		if wd.Size() != int64(bd.Len()) {
			t.Fatalf("Size %d, wrote %d", wd.Size(), bd.Len())
		}
		views[i], direct[i] = bv.Bytes(), bd.Bytes()
	}
	return views, direct
}

func samePayloadTexts(t testing.TB, p *Payload) {
	t.Helper()
	views, direct := payloadTexts(t, p)
	for i, f := range []string{"tsv", "json"} {
		if !bytes.Equal(views[i], direct[i]) {
			t.Fatalf("%s: WritePayload differs from WriteViews:\n%s\nvs\n%s", f, direct[i], views[i])
		}
	}
}

// TestWritePayloadMatchesViews: WritePayload writes exactly what
// WriteViews of each record writes, in both formats, on the golden
// records and on random ones of every type, repetitive (dictionaries,
// scales, mixed address families) and not; a payload can be written
// twice, and a Payload reused by Parse for another batch.
func TestWritePayloadMatchesViews(t *testing.T) {
	s := connSchema()
	var p Payload
	if err := p.Parse(testPayload(t, s, connRecords()), nil); err != nil {
		t.Fatal(err)
	}
	samePayloadTexts(t, &p)
	samePayloadTexts(t, &p)
	for seed := range uint64(40) {
		recs := randomRecords(s, seed, 8)
		if err := p.Parse(testPayload(t, s, recs), nil); err != nil {
			t.Fatal(err)
		}
		samePayloadTexts(t, &p)
		// Lines stitched ahead by Format are the same.
		if err := p.Format(FileFormat(seed % 2)); err != nil {
			t.Fatal(err)
		}
		samePayloadTexts(t, &p)
	}
}

// TestWritePayloadMismatch: a payload of another schema is refused and
// nothing is written.
func TestWritePayloadMismatch(t *testing.T) {
	other := connSchema()
	other.Columns[9].Name = "bytes"
	p, err := ParsePayload(testPayload(t, other, connRecords()), nil)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	tw, _ := NewTSVWriter(&buf, connSchema(), time.Unix(0, 0).UTC())
	jw, _ := NewJSONWriter(&buf, connSchema())
	_ = tw.Flush()
	n := buf.Len()
	for _, w := range []Writer{tw, jw} {
		if err := w.WritePayload(&p); !errors.Is(err, ErrRecordMismatch) {
			t.Errorf("%T: %v, want ErrRecordMismatch", w, err)
		}
		_ = w.Flush()
	}
	if buf.Len() != n {
		t.Errorf("a refused payload wrote %d bytes", buf.Len()-n)
	}
	r, _, _, _ := rotateSetup(t, RotateOptions{})
	if err := r.WritePayload(&p); !errors.Is(err, ErrRecordMismatch) {
		t.Errorf("RotatingFile: %v, want ErrRecordMismatch", err)
	}
}

// TestWritePayloadAllocs checks the hot-path claims: a warm Payload parses
// a batch of the same stream, and a warm writer writes it, without
// allocating.
func TestWritePayloadAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector allocates")
	}
	raw := testPayload(t, connSchema(), append(connRecords(), connRecords()...))
	var p Payload
	if err := p.Parse(raw, nil); err != nil {
		t.Fatal(err)
	}
	if n := testing.AllocsPerRun(100, func() { _ = p.Parse(raw, nil) }); n != 0 {
		t.Errorf("Parse allocates %v times", n)
	}
	tw, _ := NewTSVWriter(discardWriter{}, p.Schema, time.Unix(0, 0).UTC())
	jw, _ := NewJSONWriter(discardWriter{}, p.Schema)
	for _, w := range []Writer{tw, jw} {
		_ = w.WritePayload(&p)
		if n := testing.AllocsPerRun(100, func() { _ = w.WritePayload(&p) }); n != 0 {
			t.Errorf("%T.WritePayload allocates %v times", w, n)
		}
	}
}

type discardWriter struct{}

func (discardWriter) Write(p []byte) (int, error) { return len(p), nil }

// TestRotateWritePayload: RotatingFile.WritePayload writes and rotates by
// size as Write of each record does, rotating in the middle of a payload,
// in both formats.
func TestRotateWritePayload(t *testing.T) {
	s := connSchema()
	recs := connRecords()
	for _, format := range []FileFormat{FormatTSV, FormatJSON} {
		files := func(usePayload bool) map[string]string {
			r, clock, hook, dir := rotateSetup(t, RotateOptions{MaxSize: 2000, Format: format})
			clock.Set(rotateAt(11, 0, 0))
			for i := 0; i < 40; i += 5 {
				chunk := make([][]frame.Value, 5)
				for k := range chunk {
					chunk[k] = recs[(i+k)%len(recs)]
				}
				if usePayload {
					p, err := ParsePayload(testPayload(t, s, chunk), nil)
					if err != nil {
						t.Fatal(err)
					}
					if i%10 == 0 { // lines stitched ahead, cut by the size limit alike
						if err := p.Format(format); err != nil {
							t.Fatal(err)
						}
					}
					if err := r.WritePayload(&p); err != nil {
						t.Fatal(err)
					}
					continue
				}
				for _, rec := range chunk {
					if err := r.Write(rec); err != nil {
						t.Fatal(err)
					}
				}
			}
			if err := r.Close(); err != nil {
				t.Fatal(err)
			}
			out := map[string]string{}
			ents, _ := os.ReadDir(dir)
			for _, e := range ents {
				b, err := os.ReadFile(filepath.Join(dir, e.Name()))
				if err != nil {
					t.Fatal(err)
				}
				out[e.Name()] = string(b)
			}
			if len(hook.Paths()) != len(out) {
				t.Fatalf("%d rotations for %d files", len(hook.Paths()), len(out))
			}
			return out
		}
		byRecord, byPayload := files(false), files(true)
		if len(byRecord) < 3 {
			t.Fatalf("only %d files: no size rotation", len(byRecord))
		}
		if len(byRecord) != len(byPayload) {
			t.Fatalf("%d files by record, %d by payload", len(byRecord), len(byPayload))
		}
		for name, want := range byRecord {
			if byPayload[name] != want {
				t.Fatalf("%s differs:\n%s\nvs\n%s", name, byPayload[name], want)
			}
		}
	}
}

// TestPayloadFormat: formatting ahead (Format) does not change what
// WritePayload writes, even for a writer of the other format.
func TestPayloadFormat(t *testing.T) {
	p, err := ParsePayload(testPayload(t, connSchema(), connRecords()), nil)
	if err != nil {
		t.Fatal(err)
	}
	views, _ := payloadTexts(t, &p)
	for _, f := range []FileFormat{FormatJSON, FormatTSV} {
		if err := p.Format(f); err != nil {
			t.Fatal(err)
		}
		if _, direct := payloadTexts(t, &p); !bytes.Equal(direct[0], views[0]) || !bytes.Equal(direct[1], views[1]) {
			t.Fatalf("formatted as %d first: output differs", f)
		}
	}
	if err := p.Format(FileFormat(9)); !errors.Is(err, ErrBadRotateOptions) {
		t.Fatalf("Format(9): %v", err)
	}
}
