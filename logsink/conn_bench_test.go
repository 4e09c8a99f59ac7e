package logsink_test

import (
	"fmt"
	"syscall"
	"testing"
	"time"

	"github.com/klauspost/compress/zstd"

	"github.com/weirio/weir/frame"
	"github.com/weirio/weir/internal/connlog"
	"github.com/weirio/weir/logsink"
)

// The figures of the package doc come from these benchmarks, on 400-record
// batches of connlog records:
//
//	go test -run '^$' -bench 'BatcherAppend|CompressBatch|DecompressLogBatch|ParsePayload|WriterViews' -benchtime 2000x -count 3 ./logsink/
//
// Besides ns/op they report cpu-ns/rec: process CPU time (getrusage) per
// record, which a loaded shared VM disturbs much less than wall time.

var (
	sinkBatch logsink.Batch
	sinkBytes []byte
	sinkInt   int
)

// codecCase is a codec as the benchmarks run it; zstd-default is zstd at
// SpeedDefault (Codecs uses SpeedFastest), to show what a slower level buys.
type codecCase struct {
	name  string
	codec frame.Codec
	level zstd.EncoderLevel
}

var codecCases = []codecCase{
	{"none", frame.CodecNone, zstd.SpeedFastest},
	{"s2", frame.CodecS2, zstd.SpeedFastest},
	{"zstd", frame.CodecZstd, zstd.SpeedFastest},
	{"zstd-default", frame.CodecZstd, zstd.SpeedDefault},
}

// cpuTime is the process's user+system CPU time.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// reportPerRecord reports cpu-ns/rec for b.N operations of recs records.
func reportPerRecord(b *testing.B, cpu0 time.Duration, recs int) {
	if d := cpuTime() - cpu0; d > 0 {
		b.ReportMetric(float64(d.Nanoseconds())/float64(b.N)/float64(recs), "cpu-ns/rec")
	}
}

// BenchmarkBatcherAppend measures appending conn.log records (schema
// check and row encoding), with released buffers, the steady state: an op
// is 400 records, a default batch.
func BenchmarkBatcherAppend(b *testing.B) {
	g := connlog.New(5)
	recs := make([][]frame.Value, 400)
	for i := range recs {
		recs[i] = g.Next(nil, uint64(i))
	}
	for _, par := range []bool{false, true} {
		b.Run(fmt.Sprintf("parallel=%v", par), func(b *testing.B) {
			bt, err := logsink.NewBatcher(connlog.Schema(), nil)
			if err != nil {
				b.Fatal(err)
			}
			appendAll := func() {
				for _, rec := range recs {
					if bb, ok, _ := bt.Append(rec); ok {
						bt.Release(&bb)
					}
				}
			}
			appendAll()
			b.ReportAllocs()
			cpu0 := cpuTime()
			if !par {
				for b.Loop() {
					appendAll()
				}
			} else {
				b.RunParallel(func(pb *testing.PB) {
					for pb.Next() {
						appendAll()
					}
				})
			}
			reportPerRecord(b, cpu0, len(recs))
		})
	}
}

// BenchmarkCompressBatch measures CompressBatch (columnar encoding and
// compression) of a 400-record batch per codec, and reports the ratios:
// ratio-rows is the row encoding (Batch.RowBytes, frame.AppendValue per
// value) over the wire bytes, ratio-tsv Zeek's TSV text of the records over
// the wire bytes.
func BenchmarkCompressBatch(b *testing.B) {
	batch, tsvLen, _ := connBatch(b, 42, 0)
	rows := connRows(b, 42, 0, int(batch.Records))
	for _, cc := range codecCases {
		b.Run(cc.name, func(b *testing.B) {
			c := logsink.NewCodecsLevel(b, cc.level)
			eb, err := c.CompressBatch(nil, batch, cc.codec)
			if err != nil {
				b.Fatal(err)
			}
			dst := make([]byte, 0, 2*batch.RowBytes)
			b.ReportAllocs()
			b.SetBytes(int64(batch.RowBytes))
			cpu0 := cpuTime()
			for b.Loop() {
				sinkBatch, _ = c.CompressBatch(dst[:0], batch, cc.codec)
			}
			reportPerRecord(b, cpu0, int(batch.Records))
			reportRatios(b, batch, tsvLen, len(eb.Payload))
		})
	}
	// The first format, for comparison: the records in row form compressed
	// as they are (it also had a column count per record).
	for _, codec := range []frame.Codec{frame.CodecS2, frame.CodecZstd} {
		b.Run("rows-"+codec.String(), func(b *testing.B) {
			c := logsink.NewCodecsLevel(b, zstd.SpeedFastest)
			p, err := c.Compress(nil, rows, codec)
			if err != nil {
				b.Fatal(err)
			}
			dst := make([]byte, 0, 2*len(rows))
			b.ReportAllocs()
			b.SetBytes(int64(len(rows)))
			cpu0 := cpuTime()
			for b.Loop() {
				sinkBytes, _ = c.Compress(dst[:0], rows, codec)
			}
			reportPerRecord(b, cpu0, int(batch.Records))
			reportRatios(b, batch, tsvLen, len(p))
		})
	}
}

func reportRatios(b *testing.B, batch logsink.Batch, tsvLen, wire int) {
	b.ReportMetric(float64(batch.RowBytes)/float64(wire), "ratio-rows")
	b.ReportMetric(float64(tsvLen)/float64(wire), "ratio-tsv")
	b.ReportMetric(float64(wire)/float64(batch.Records), "wire-B/rec")
}

// BenchmarkDecompressLogBatch measures the logger's decompression of a
// 400-record batch per codec.
func BenchmarkDecompressLogBatch(b *testing.B) {
	batch, _, _ := connBatch(b, 42, 0)
	for _, cc := range codecCases {
		b.Run(cc.name, func(b *testing.B) {
			c := logsink.NewCodecsLevel(b, cc.level)
			eb, err := c.CompressBatch(nil, batch, cc.codec)
			if err != nil {
				b.Fatal(err)
			}
			m := frame.LogBatch{Stream: []byte(eb.Stream), Codec: eb.Codec, Records: eb.Records, Seq: eb.Seq, RawLen: eb.RawLen, Payload: eb.Payload}
			dst := make([]byte, 0, eb.RawLen)
			b.ReportAllocs()
			b.SetBytes(int64(eb.RawLen))
			cpu0 := cpuTime()
			for b.Loop() {
				if dst, err = c.DecompressLogBatch(dst[:0], m); err != nil {
					b.Fatal(err)
				}
			}
			reportPerRecord(b, cpu0, int(batch.Records))
			sinkBytes = dst
		})
	}
}

// uncompressedConnBatch returns a conn.log batch and its encoding with
// codec none: the payload a logger parses and formats.
func uncompressedConnBatch(b *testing.B) (batch, encoded logsink.Batch) {
	b.Helper()
	batch, _, _ = connBatch(b, 42, 0)
	c := logsink.NewCodecsLevel(b, zstd.SpeedFastest)
	encoded, err := c.CompressBatch(nil, batch, frame.CodecNone)
	if err != nil {
		b.Fatal(err)
	}
	return batch, encoded
}

// BenchmarkParsePayload measures ParsePayload (which validates every
// value) and one Each over its records: the logger's decoding cost per
// batch, before formatting.
func BenchmarkParsePayload(b *testing.B) {
	batch, eb := uncompressedConnBatch(b)
	n := 0
	count := func(rec []frame.View) error { n += len(rec); return nil }
	b.ReportAllocs()
	b.SetBytes(int64(len(eb.Payload)))
	cpu0 := cpuTime()
	for b.Loop() {
		p, err := logsink.ParsePayload(eb.Payload, nil)
		if err != nil {
			b.Fatal(err)
		}
		if err := p.Each(count); err != nil {
			b.Fatal(err)
		}
	}
	reportPerRecord(b, cpu0, int(batch.Records))
	sinkInt = n
}

// BenchmarkConnWriteViews measures writing conn.log records from a parsed
// payload as Zeek TSV: the logger's formatting cost.
func BenchmarkConnWriteViews(b *testing.B) {
	batch, eb := uncompressedConnBatch(b)
	p, err := logsink.ParsePayload(eb.Payload, nil)
	if err != nil {
		b.Fatal(err)
	}
	w, err := logsink.NewTSVWriter(discard{}, p.Schema, time.Unix(0, 0))
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	cpu0 := cpuTime()
	for b.Loop() {
		if err := p.Each(w.WriteViews); err != nil {
			b.Fatal(err)
		}
	}
	reportPerRecord(b, cpu0, int(batch.Records))
	b.SetBytes(w.Size() / int64(b.N))
}

// BenchmarkConnWritePayload measures the logger's path for one batch of
// conn.log records: Payload.Parse (validation; the Payload reused) and
// WritePayload, per format.
func BenchmarkConnWritePayload(b *testing.B) {
	batch, eb := uncompressedConnBatch(b)
	for _, format := range []string{"tsv", "json"} {
		b.Run(format, func(b *testing.B) {
			var p logsink.Payload
			if err := p.Parse(eb.Payload, nil); err != nil {
				b.Fatal(err)
			}
			var w logsink.Writer
			var err error
			if format == "tsv" {
				w, err = logsink.NewTSVWriter(discard{}, p.Schema, time.Unix(0, 0))
			} else {
				w, err = logsink.NewJSONWriter(discard{}, p.Schema)
			}
			if err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			cpu0 := cpuTime()
			for b.Loop() {
				if err := p.Parse(eb.Payload, nil); err != nil {
					b.Fatal(err)
				}
				if err := w.WritePayload(&p); err != nil {
					b.Fatal(err)
				}
			}
			reportPerRecord(b, cpu0, int(batch.Records))
			b.SetBytes(w.Size() / int64(b.N))
		})
	}
}

// BenchmarkConnPipeline measures each side of log shipping on conn.log
// records, per codec, without sockets, files or the other side competing
// for the CPU: "worker" is generating a record (connlog), Append, and per
// closed batch CompressBatch and Release (gen alone is the generator, to
// subtract); "logger" is, per batch, DecompressLogBatch, Payload.Parse and
// TSVWriter.WritePayload (to a discarding writer). An op is 400 records.
func BenchmarkConnPipeline(b *testing.B) {
	b.Run("gen", func(b *testing.B) {
		g := connlog.New(9)
		var rec []frame.Value
		id := uint64(0)
		cpu0 := cpuTime()
		for b.Loop() {
			for range 400 {
				rec = g.Next(rec, id)
				id++
			}
		}
		reportPerRecord(b, cpu0, 400)
	})
	for _, cc := range codecCases[1:3] {
		b.Run("worker/"+cc.name, func(b *testing.B) {
			c := logsink.NewCodecsLevel(b, cc.level)
			bt, err := logsink.NewBatcher(connlog.Schema(), &logsink.BatcherOptions{Shards: 1})
			if err != nil {
				b.Fatal(err)
			}
			g := connlog.New(9)
			var rec []frame.Value
			var dst []byte
			id := uint64(0)
			b.ReportAllocs()
			cpu0 := cpuTime()
			for b.Loop() {
				for range 400 {
					rec = g.Next(rec, id)
					id++
					bb, ok, err := bt.Append(rec)
					if err != nil {
						b.Fatal(err)
					}
					if !ok {
						continue
					}
					eb, err := c.CompressBatch(dst[:0], bb, cc.codec)
					if err != nil {
						b.Fatal(err)
					}
					bt.Release(&eb)
					dst = eb.Payload
				}
			}
			reportPerRecord(b, cpu0, 400)
		})
		b.Run("logger/"+cc.name, func(b *testing.B) {
			c := logsink.NewCodecsLevel(b, cc.level)
			var batches []frame.LogBatch
			for i := range 16 {
				batch, _, bt := connBatch(b, uint64(i), uint64(i)*400)
				eb, err := c.CompressBatch(nil, batch, cc.codec)
				if err != nil {
					b.Fatal(err)
				}
				bt.Release(&eb)
				batches = append(batches, frame.LogBatch{Stream: []byte(eb.Stream), Codec: eb.Codec,
					Records: eb.Records, Seq: eb.Seq, RawLen: eb.RawLen, Payload: eb.Payload})
			}
			w, err := logsink.NewTSVWriter(discard{}, connlog.Schema(), time.Unix(0, 0))
			if err != nil {
				b.Fatal(err)
			}
			var raw []byte
			var p logsink.Payload
			b.ReportAllocs()
			cpu0 := cpuTime()
			for i := 0; b.Loop(); i++ {
				if raw, err = c.DecompressLogBatch(raw[:0], batches[i%len(batches)]); err != nil {
					b.Fatal(err)
				}
				if err := p.Parse(raw, nil); err != nil {
					b.Fatal(err)
				}
				if err := w.WritePayload(&p); err != nil {
					b.Fatal(err)
				}
			}
			reportPerRecord(b, cpu0, 400)
		})
	}
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }
