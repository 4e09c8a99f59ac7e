package logsink

import (
	"io"
	"testing"
	"time"
)

var writerBenchSink int64

func writerBench(b *testing.B, w Writer) {
	recs := connRecords()
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		if err := w.Write(recs[i%len(recs)]); err != nil {
			b.Fatal(err)
		}
	}
	b.SetBytes(w.Size() / int64(b.N))
	writerBenchSink = w.Size()
}

func BenchmarkWriterTSV(b *testing.B) {
	w, err := NewTSVWriter(io.Discard, connSchema(), time.Unix(0, 0))
	if err != nil {
		b.Fatal(err)
	}
	writerBench(b, w)
}

func BenchmarkWriterJSON(b *testing.B) {
	w, err := NewJSONWriter(io.Discard, connSchema())
	if err != nil {
		b.Fatal(err)
	}
	writerBench(b, w)
}

// TestWriterNoAllocs checks the hot-path claim: once its line buffer has
// grown, a Write allocates nothing.
func TestWriterNoAllocs(t *testing.T) {
	tw, _ := NewTSVWriter(io.Discard, connSchema(), time.Unix(0, 0))
	jw, _ := NewJSONWriter(io.Discard, connSchema())
	recs := connRecords()
	for _, w := range []Writer{tw, jw} {
		for _, rec := range recs {
			_ = w.Write(rec)
		}
		i := 0
		if n := testing.AllocsPerRun(100, func() {
			_ = w.Write(recs[i%len(recs)])
			i++
		}); n != 0 {
			t.Errorf("%T.Write: %v allocs", w, n)
		}
	}
}
