package logsink

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/weirio/weir/frame"
)

// spoolBatch returns an encoded batch whose payload (size bytes) tells
// its seq.
func spoolBatch(seq uint64, size int) Batch {
	p := bytes.Repeat([]byte{byte(seq)}, size)
	copy(p, fmt.Sprintf("seq %d;", seq))
	return Batch{Stream: "conn", Seq: seq, Records: uint32(seq % 400), Codec: frame.CodecS2, RawLen: uint32(3 * size), Payload: p}
}

func mustSpool(t *testing.T, dir string, max int64) *FileSpool {
	t.Helper()
	s, err := NewFileSpool(dir, max)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// takeAll takes every batch and returns their seqs, checking each payload.
func takeAll(t *testing.T, s *FileSpool, size int) []uint64 {
	t.Helper()
	var seqs []uint64
	for {
		b, ok, err := s.Take()
		if err != nil {
			t.Fatal(err)
		}
		if !ok {
			return seqs
		}
		if want := spoolBatch(b.Seq, size); !bytes.Equal(b.Payload, want.Payload) || b.Stream != want.Stream ||
			b.Records != want.Records || b.Codec != want.Codec || b.RawLen != want.RawLen || b.cols != nil {
			t.Fatalf("batch %d differs: %+v", b.Seq, b)
		}
		seqs = append(seqs, b.Seq)
	}
}

func seqRange(from, to uint64) []uint64 {
	var s []uint64
	for q := from; q <= to; q++ {
		s = append(s, q)
	}
	return s
}

func segFiles(t *testing.T, dir string) []string {
	t.Helper()
	m, err := filepath.Glob(filepath.Join(dir, "*"+spoolExt))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestFileSpoolOrderAndCleanup(t *testing.T) {
	dir := t.TempDir()
	s := mustSpool(t, dir, 1<<20) // 256 KiB segments
	const size = 10 << 10
	for q := uint64(1); q <= 60; q++ {
		if err := s.Put(spoolBatch(q, size)); err != nil {
			t.Fatal(err)
		}
	}
	if s.Len() != 60 || len(segFiles(t, dir)) < 2 {
		t.Fatalf("len %d, %d segments", s.Len(), len(segFiles(t, dir)))
	}
	// Interleave takes and puts: order stays oldest first.
	var got []uint64
	for q := uint64(61); q <= 80; q++ {
		b, ok, err := s.Take()
		if err != nil || !ok {
			t.Fatal(ok, err)
		}
		got = append(got, b.Seq)
		if err := s.Put(spoolBatch(q, size)); err != nil {
			t.Fatal(err)
		}
	}
	got = append(got, takeAll(t, s, size)...)
	if !slices.Equal(got, seqRange(1, 80)) {
		t.Fatalf("took %v", got)
	}
	if n := segFiles(t, dir); len(n) != 0 || s.Bytes() != 0 || s.Len() != 0 {
		t.Fatalf("empty spool keeps %v, %d bytes", n, s.Bytes())
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Put(spoolBatch(1, 10)); !errors.Is(err, ErrSpoolClosed) {
		t.Fatalf("Put after Close: %v", err)
	}
}

func TestFileSpoolFull(t *testing.T) {
	s := mustSpool(t, t.TempDir(), 100<<10)
	const size = 10 << 10
	n := 0
	var err error
	for q := uint64(1); ; q++ {
		if err = s.Put(spoolBatch(q, size)); err != nil {
			break
		}
		n++
	}
	if !errors.Is(err, ErrSpoolFull) || n != 9 || s.Bytes() > 100<<10 {
		t.Fatalf("after %d puts (%d bytes): %v", n, s.Bytes(), err)
	}
	// A batch larger than the whole spool never fits.
	if err := s.Put(spoolBatch(99, 200<<10)); !errors.Is(err, ErrSpoolFull) {
		t.Fatalf("oversized: %v", err)
	}
	// Taking frees room only once a segment is wholly taken.
	for range 9 {
		if _, ok, err := s.Take(); !ok || err != nil {
			t.Fatal(ok, err)
		}
	}
	if err := s.Put(spoolBatch(10, size)); err != nil {
		t.Fatalf("after taking all: %v", err)
	}
	if err := s.Put(Batch{Stream: "conn", Seq: 1, Records: 1}); !errors.Is(err, ErrBadBatch) {
		t.Fatalf("unencoded batch: %v", err)
	}
	_ = s.Close()
}

// TestFileSpoolReopen: a reopened spool yields exactly the batches not yet
// taken, after a clean Close and after a crash (no Close).
func TestFileSpoolReopen(t *testing.T) {
	for _, clean := range []bool{true, false} {
		t.Run(fmt.Sprintf("clean=%v", clean), func(t *testing.T) {
			dir := t.TempDir()
			const size = 5000
			s := mustSpool(t, dir, 1<<20)
			for q := uint64(1); q <= 120; q++ {
				if err := s.Put(spoolBatch(q, size)); err != nil {
					t.Fatal(err)
				}
			}
			for range 70 { // past the first segment
				if _, ok, err := s.Take(); !ok || err != nil {
					t.Fatal(ok, err)
				}
			}
			if clean {
				if err := s.Close(); err != nil {
					t.Fatal(err)
				}
			} else {
				defer s.closeFiles()
			}
			s2 := mustSpool(t, dir, 1<<20)
			if s2.Len() != 50 {
				t.Fatalf("reopened with %d batches, want 50", s2.Len())
			}
			if err := s2.Put(spoolBatch(121, size)); err != nil {
				t.Fatal(err)
			}
			if got := takeAll(t, s2, size); !slices.Equal(got, seqRange(71, 121)) {
				t.Fatalf("took %v", got)
			}
			if err := s2.Close(); err != nil {
				t.Fatal(err)
			}
			s3 := mustSpool(t, dir, 1<<20)
			if s3.Len() != 0 || len(segFiles(t, dir)) != 0 {
				t.Fatalf("after taking all: %d batches, %v", s3.Len(), segFiles(t, dir))
			}
			_ = s3.Close()
		})
	}
}

// TestFileSpoolTornTail: a record cut short by a crash, and garbage after
// the last record, are cut on reopen; the records before stay.
func TestFileSpoolTornTail(t *testing.T) {
	const size = 3000
	for name, damage := range map[string]func(path string, recLen int64){
		"torn record": func(path string, recLen int64) {
			fi, _ := os.Stat(path)
			_ = os.Truncate(path, fi.Size()-recLen/2)
		},
		"torn header": func(path string, recLen int64) {
			fi, _ := os.Stat(path)
			_ = os.Truncate(path, fi.Size()-recLen+5)
		},
		"zeroes": func(path string, recLen int64) {
			f, _ := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
			_, _ = f.Write(make([]byte, 4096))
			_ = f.Close()
			fi, _ := os.Stat(path)
			_ = os.Truncate(path, fi.Size()-4096-recLen) // and lose the last record
			f, _ = os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
			_, _ = f.Write(make([]byte, 4096))
			_ = f.Close()
		},
		"flipped byte": func(path string, recLen int64) {
			f, _ := os.OpenFile(path, os.O_RDWR, 0)
			fi, _ := f.Stat()
			var b [1]byte
			_, _ = f.ReadAt(b[:], fi.Size()-10)
			b[0] ^= 0x40
			_, _ = f.WriteAt(b[:], fi.Size()-10)
			_ = f.Close()
		},
	} {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			s := mustSpool(t, dir, 1<<20)
			for q := uint64(1); q <= 10; q++ {
				if err := s.Put(spoolBatch(q, size)); err != nil {
					t.Fatal(err)
				}
			}
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			segs := segFiles(t, dir)
			if len(segs) != 1 {
				t.Fatalf("segments %v", segs)
			}
			recLen := int64(len(appendSpoolRecord(nil, spoolBatch(10, size))))
			damage(segs[0], recLen)
			s = mustSpool(t, dir, 1<<20)
			fi, err := os.Stat(segs[0])
			if err != nil {
				t.Fatal(err)
			}
			if fi.Size() != 9*recLen {
				t.Errorf("segment cut to %d bytes, want %d", fi.Size(), 9*recLen)
			}
			if got := takeAll(t, s, size); !slices.Equal(got, seqRange(1, 9)) {
				t.Fatalf("took %v", got)
			}
			_ = s.Close()
		})
	}
}

// TestFileSpoolDamagedMiddle: a record damaged after it was written ends
// its segment for Take too; later segments still come back.
func TestFileSpoolDamagedMiddle(t *testing.T) {
	dir := t.TempDir()
	const size = 20 << 10
	s := mustSpool(t, dir, 1<<20) // 256 KiB segments: 12 records each
	for q := uint64(1); q <= 30; q++ {
		if err := s.Put(spoolBatch(q, size)); err != nil {
			t.Fatal(err)
		}
	}
	segs := segFiles(t, dir)
	slices.Sort(segs)
	recLen := int64(len(appendSpoolRecord(nil, spoolBatch(1, size))))
	f, err := os.OpenFile(segs[0], os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt([]byte("XX"), 2*recLen+100); err != nil { // record 3
		t.Fatal(err)
	}
	_ = f.Close()
	var got []uint64
	var errs int
	for {
		b, ok, err := s.Take()
		if err != nil {
			if !errors.Is(err, ErrBadBatch) || !strings.Contains(err.Error(), "damaged") {
				t.Fatal(err)
			}
			errs++
			continue
		}
		if !ok {
			break
		}
		got = append(got, b.Seq)
	}
	if errs != 1 || !slices.Equal(got, append(seqRange(1, 2), seqRange(13, 30)...)) {
		t.Fatalf("%d errors, took %v", errs, got)
	}
	_ = s.Close()
}

func TestFileSpoolOptions(t *testing.T) {
	if _, err := NewFileSpool(t.TempDir(), 0); !errors.Is(err, ErrBadConfig) {
		t.Fatalf("zero bound: %v", err)
	}
	// Files that are not segments are left alone.
	dir := t.TempDir()
	other := filepath.Join(dir, "notes.txt")
	if err := os.WriteFile(other, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	s := mustSpool(t, dir, 1<<20)
	_ = s.Close()
	if _, err := os.Stat(other); err != nil {
		t.Fatal(err)
	}
}

// TestShipperFileSpool: the Shipper spills to a FileSpool past its budget
// and gets the batches back, oldest first, as acks free room; a full
// spool makes reported drops.
func TestShipperFileSpool(t *testing.T) {
	sp := mustSpool(t, t.TempDir(), 64<<10)
	defer sp.Close()
	s, err := NewShipper(&ShipperOptions{Budget: 25 << 10, Spool: sp})
	if err != nil {
		t.Fatal(err)
	}
	s.LoggerUp("a")
	const size = 10 << 10
	for q := uint64(1); q <= 12; q++ {
		s.Add(spoolBatch(q, size))
	}
	rd := s.Ready()
	var dropped []uint64
	for _, d := range rd.Dropped {
		if d.Reason != DropBudget || !errors.Is(d.Err, ErrSpoolFull) {
			t.Fatalf("drop %+v", d)
		}
		dropped = append(dropped, d.Batch.Seq)
	}
	s.Advance()
	m := s.Metrics()
	if m.Spooled != 6 || sp.Len() != 6 || len(dropped) != 4 || m.Pending != 2 {
		t.Fatalf("spooled %d (spool %d), dropped %v, pending %d", m.Spooled, sp.Len(), dropped, m.Pending)
	}
	var order []uint64
	for acks := []uint64{11, 12}; len(acks) > 0; acks = acks[1:] {
		s.Ack("a", "conn", acks[0])
		for _, x := range s.Ready().Sends {
			order = append(order, x.Batch.Seq)
			acks = append(acks, x.Batch.Seq)
		}
		s.Advance()
	}
	if !slices.Equal(order, []uint64{1, 2, 3, 4, 5, 6}) || sp.Len() != 0 || s.Metrics().Pending != 0 {
		t.Fatalf("sent back %v; spool %d, pending %d", order, sp.Len(), s.Metrics().Pending)
	}
}

// FuzzSpoolRecord: a record body never panics the decoder, and a batch
// round-trips through its record.
func FuzzSpoolRecord(f *testing.F) {
	f.Add(appendSpoolRecord(nil, spoolBatch(7, 40))[spoolRecHeader:])
	f.Add([]byte{spoolVersion, 4, 'c', 'o', 'n', 'n'})
	f.Fuzz(func(t *testing.T, body []byte) {
		b, err := parseSpoolRecord(body)
		if err != nil {
			return
		}
		again := appendSpoolRecord(nil, b)[spoolRecHeader:]
		if !bytes.Equal(again, body) {
			t.Fatalf("re-encoding differs:\n%x\n%x", again, body)
		}
	})
}

// TestFileSpoolGarbageSegment: a segment of random bytes opens without
// panic and yields nothing it cannot checksum.
func TestFileSpoolGarbageSegment(t *testing.T) {
	r := newRand(9)
	for i := range 20 {
		dir := t.TempDir()
		junk := make([]byte, r.IntN(5000))
		for j := range junk {
			junk[j] = byte(r.IntN(256))
		}
		if i%2 == 0 && len(junk) > 8 { // a plausible length
			junk[0], junk[1], junk[2], junk[3] = byte(len(junk)-8), byte((len(junk)-8)>>8), 0, 0
		}
		path := filepath.Join(dir, "0000000000000001"+spoolExt)
		if err := os.WriteFile(path, junk, 0o644); err != nil {
			t.Fatal(err)
		}
		s := mustSpool(t, dir, 1<<20)
		if s.Len() != 0 {
			t.Fatalf("garbage yields %d batches", s.Len())
		}
		_ = s.Close()
	}
}
