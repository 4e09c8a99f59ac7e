package logsink_test

// Tests on realistic conn.log records from internal/connlog. They are an
// external test package because connlog imports logsink.

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/weirio/weir/frame"
	"github.com/weirio/weir/internal/connlog"
	"github.com/weirio/weir/logsink"
)

// TestConnLogEndToEnd runs the whole log path on conn.log records: many
// writers append to one Batcher; batches are compressed (every codec),
// framed, unframed, decompressed, parsed and written through a
// RotatingFile with WriteViews. Every record must arrive exactly once (the
// uid carries its id) and its line must be the one TSVWriter.Write makes
// from the original values.
func TestConnLogEndToEnd(t *testing.T) {
	const writers, each = 4, 2500
	s := connlog.Schema()
	bt, err := logsink.NewBatcher(s, &logsink.BatcherOptions{Shards: 2})
	if err != nil {
		t.Fatal(err)
	}
	codecs, err := logsink.NewCodecs()
	if err != nil {
		t.Fatal(err)
	}
	defer codecs.Close()

	// Workers: generate, keep the expected line per id, append.
	want := make(map[uint64]string, writers*each)
	var mu sync.Mutex
	var batches []logsink.Batch
	var wg sync.WaitGroup
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			g := connlog.New(uint64(w))
			var line bytes.Buffer
			tw, err := logsink.NewTSVWriter(&line, s, time.Unix(0, 0))
			if err != nil {
				t.Error(err)
				return
			}
			_ = tw.Flush()
			hdr := line.Len()
			var rec []frame.Value
			for i := range each {
				id := uint64(w)<<32 | uint64(i)
				rec = g.Next(rec, id)
				line.Truncate(hdr)
				if err := tw.Write(rec); err != nil {
					t.Error(err)
					return
				}
				_ = tw.Flush()
				b, ok, err := bt.AppendHint(w, rec)
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				want[id] = line.String()[hdr:]
				if ok {
					batches = append(batches, b)
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	batches = bt.Flush(batches)

	// Logger side.
	dir := t.TempDir()
	rf, err := logsink.NewRotatingFile(s, logsink.RotateOptions{Dir: dir, Interval: -1})
	if err != nil {
		t.Fatal(err)
	}
	seen := make(map[uint64]int)
	var raw []byte
	for i, b := range batches {
		codec := []frame.Codec{frame.CodecNone, frame.CodecS2, frame.CodecZstd}[i%3]
		eb, err := codecs.CompressBatch(nil, b, codec)
		if err != nil {
			t.Fatal(err)
		}
		bt.Release(&eb)
		c, rawLen, payload := eb.Wire()
		fr := frame.AppendLogBatch(nil, frame.Header{}, []byte("logs/conn"), frame.LogBatch{
			Stream: []byte(eb.Stream), Codec: c, Records: eb.Records, Seq: eb.Seq, RawLen: rawLen, Payload: payload,
		})
		f, _, err := frame.Scan(fr, nil)
		if err != nil {
			t.Fatal(err)
		}
		m, err := frame.DecodeLogBatch(f.Body())
		if err != nil {
			t.Fatal(err)
		}
		if raw, err = codecs.DecompressLogBatch(raw[:0], m); err != nil {
			t.Fatal(err)
		}
		p, err := logsink.ParsePayload(raw, nil)
		if err != nil {
			t.Fatal(err)
		}
		if p.Records() != int(m.Records) || p.Schema.Path != string(m.Stream) || !p.Schema.Equal(&s) {
			t.Fatalf("batch %d: %d records (header %d), schema %+v", m.Seq, p.Records(), m.Records, p.Schema)
		}
		err = p.Each(func(rec []frame.View) error {
			id, ok := connlog.RecordID(string(rec[connlog.ColUID].Bytes()))
			if !ok {
				return fmt.Errorf("uid %q carries no id", rec[connlog.ColUID].Bytes())
			}
			seen[id]++
			return rf.WriteViews(rec)
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	if err := rf.Sync(); err != nil {
		t.Fatal(err)
	}
	for id := range want {
		if seen[id] != 1 {
			t.Fatalf("record %#x arrived %d times", id, seen[id])
		}
	}
	if len(seen) != len(want) {
		t.Fatalf("%d records arrived, %d written", len(seen), len(want))
	}

	// The file holds exactly the expected lines (in batch order, not
	// generation order).
	got := readRecordLines(t, filepath.Join(dir, "conn.log"))
	var wantLines []string
	for _, l := range want {
		wantLines = append(wantLines, l)
	}
	slices.Sort(got)
	slices.Sort(wantLines)
	if !slices.Equal(got, wantLines) {
		t.Fatalf("file lines differ from the original records' (%d vs %d lines)", len(got), len(wantLines))
	}
	if err := rf.Close(); err != nil {
		t.Fatal(err)
	}
}

// readRecordLines returns a TSV log's record lines, with their '\n'.
func readRecordLines(t *testing.T, path string) []string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var lines []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if !strings.HasPrefix(sc.Text(), "#") {
			lines = append(lines, sc.Text()+"\n")
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return lines
}

// connBatch returns a closed 400-record batch of conn.log records (seed,
// ids from first), its records' Zeek TSV size (record lines only) and the
// Batcher.
func connBatch(tb testing.TB, seed uint64, first uint64) (logsink.Batch, int, *logsink.Batcher) {
	tb.Helper()
	s := connlog.Schema()
	bt, err := logsink.NewBatcher(s, &logsink.BatcherOptions{Shards: 1})
	if err != nil {
		tb.Fatal(err)
	}
	var tsv bytes.Buffer
	tw, err := logsink.NewTSVWriter(&tsv, s, time.Unix(0, 0))
	if err != nil {
		tb.Fatal(err)
	}
	_ = tw.Flush()
	hdr := tsv.Len()
	g := connlog.New(seed)
	var rec []frame.Value
	for id := first; ; id++ {
		rec = g.Next(rec, id)
		if err := tw.Write(rec); err != nil {
			tb.Fatal(err)
		}
		b, ok, err := bt.Append(rec)
		if err != nil {
			tb.Fatal(err)
		}
		if ok {
			_ = tw.Flush()
			return b, tsv.Len() - hdr, bt
		}
	}
}

// connRows returns the row form (frame.AppendValue of every value) of the
// n records connBatch(seed, first) holds.
func connRows(tb testing.TB, seed, first uint64, n int) []byte {
	tb.Helper()
	g := connlog.New(seed)
	var rows []byte
	var rec []frame.Value
	for id := first; id < first+uint64(n); id++ {
		rec = g.Next(rec, id)
		for _, v := range rec {
			rows = frame.AppendValue(rows, v)
		}
	}
	return rows
}

// TestConnLogCompression checks the compression the package doc reports
// (on 20 batches; the doc's table is from the benchmarks), and logs the
// bytes per record of each column with -v, uncompressed and under zstd.
// It fails if the columnar layout or a codec regresses below the floors.
func TestConnLogCompression(t *testing.T) {
	codecs, err := logsink.NewCodecs()
	if err != nil {
		t.Fatal(err)
	}
	defer codecs.Close()
	var rows, tsv, none, s2, zs int
	var cols, zcols []float64
	s := connlog.Schema()
	for i := range 20 {
		b, tsvLen, _ := connBatch(t, uint64(i), uint64(i)*1000)
		rows += b.RowBytes
		tsv += tsvLen
		for _, codec := range []frame.Codec{frame.CodecNone, frame.CodecS2, frame.CodecZstd} {
			eb, err := codecs.CompressBatch(nil, b, codec)
			if err != nil {
				t.Fatal(err)
			}
			switch codec {
			case frame.CodecNone:
				none += len(eb.Payload)
				hdr, blocks := logsink.PayloadBlocks(eb.Payload)
				if cols == nil {
					cols, zcols = make([]float64, len(blocks)), make([]float64, len(blocks))
				}
				at := hdr
				for j, n := range blocks {
					cols[j] += float64(n)
					z, err := codecs.Compress(nil, eb.Payload[at:at+n], frame.CodecZstd)
					if err != nil {
						t.Fatal(err)
					}
					zcols[j] += float64(len(z))
					at += n
				}
			case frame.CodecS2:
				s2 += len(eb.Payload)
			case frame.CodecZstd:
				zs += len(eb.Payload)
			}
		}
	}
	n := float64(20 * logsink.DefaultMaxRecords)
	t.Logf("bytes per record: rows %.1f, tsv %.1f, columnar %.1f, s2 %.1f, zstd %.1f",
		float64(rows)/n, float64(tsv)/n, float64(none)/n, float64(s2)/n, float64(zs)/n)
	t.Logf("ratio rows/wire: columnar %.2f, s2 %.2f, zstd %.2f; tsv/wire: s2 %.2f, zstd %.2f",
		float64(rows)/float64(none), float64(rows)/float64(s2), float64(rows)/float64(zs),
		float64(tsv)/float64(s2), float64(tsv)/float64(zs))
	t.Logf("  %-15s %6s %6s  (bytes/record; zstd of the block alone)", "column", "raw", "zstd")
	for j, c := range s.Columns {
		t.Logf("  %-15s %6.2f %6.2f", c.Name, cols[j]/n, zcols[j]/n)
	}
	for _, f := range []struct {
		name  string
		ratio float64
		floor float64
	}{
		{"columnar", float64(rows) / float64(none), 2.7},
		{"s2", float64(rows) / float64(s2), 3.0},
		{"zstd", float64(rows) / float64(zs), 3.5},
	} {
		if f.ratio < f.floor {
			t.Errorf("%s: ratio %.2f below %.1f", f.name, f.ratio, f.floor)
		}
	}
}
