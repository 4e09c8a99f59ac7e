package logsink

import (
	"io"
	"testing"
	"time"

	"github.com/weirio/weir/frame"
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

// BenchmarkWriterViews measures WriteViews, the logger's path, per
// format.
func BenchmarkWriterViews(b *testing.B) {
	recs := connRecords()
	views := make([][]frame.View, len(recs))
	for i, rec := range recs {
		views[i] = recordViews(b, rec)
	}
	for _, format := range []string{"tsv", "json"} {
		b.Run(format, func(b *testing.B) {
			var w Writer
			if format == "tsv" {
				w, _ = NewTSVWriter(io.Discard, connSchema(), time.Unix(0, 0))
			} else {
				w, _ = NewJSONWriter(io.Discard, connSchema())
			}
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				if err := w.WriteViews(views[i%len(views)]); err != nil {
					b.Fatal(err)
				}
			}
			b.SetBytes(w.Size() / int64(b.N))
			writerBenchSink = w.Size()
		})
	}
}

// TestWriterNoAllocs checks the hot-path claim: once their buffers have
// grown, Write and WriteViews allocate nothing, for both formats and for
// RotatingFile.
func TestWriterNoAllocs(t *testing.T) {
	tw, _ := NewTSVWriter(io.Discard, connSchema(), time.Unix(0, 0))
	jw, _ := NewJSONWriter(io.Discard, connSchema())
	rf, err := NewRotatingFile(connSchema(), RotateOptions{Dir: t.TempDir(), Interval: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer rf.Close()
	recs := connRecords()
	views := make([][]frame.View, len(recs))
	for i, rec := range recs {
		views[i] = recordViews(t, rec)
	}
	for _, w := range []interface {
		Write([]frame.Value) error
		WriteViews([]frame.View) error
	}{tw, jw, rf} {
		for i, rec := range recs {
			_ = w.Write(rec)
			_ = w.WriteViews(views[i])
		}
		i := 0
		if n := testing.AllocsPerRun(100, func() {
			_ = w.Write(recs[i%len(recs)])
			i++
		}); n != 0 {
			t.Errorf("%T.Write: %v allocs", w, n)
		}
		if n := testing.AllocsPerRun(100, func() {
			_ = w.WriteViews(views[i%len(views)])
			i++
		}); n != 0 {
			t.Errorf("%T.WriteViews: %v allocs", w, n)
		}
	}
}
