package logsink

import (
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/weirio/weir/frame"
)

type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time { return c.t }

func countSchema(names ...string) Schema {
	s := Schema{Path: "conn"}
	for _, n := range names {
		s.Columns = append(s.Columns, Column{Name: n, Type: frame.TypeCount})
	}
	return s
}

func mustBatcher(t testing.TB, s Schema, o *BatcherOptions) *Batcher {
	t.Helper()
	bt, err := NewBatcher(s, o)
	if err != nil {
		t.Fatal(err)
	}
	return bt
}

// mustAppend appends rec and fails the test on a schema error.
func mustAppend(t testing.TB, bt *Batcher, hint int, rec []frame.Value) (Batch, bool) {
	t.Helper()
	b, ok, err := bt.AppendHint(hint, rec)
	if err != nil {
		t.Fatal(err)
	}
	return b, ok
}

// decodeBatch returns a Batcher batch's records, through the columnar
// payload and back.
func decodeBatch(t testing.TB, b Batch) [][]frame.Value {
	t.Helper()
	raw, _, err := encodePayload(nil, b.schema, b.cols.cols, int(b.Records), nil)
	if err != nil {
		t.Fatal(err)
	}
	return decodePayload(t, raw)
}

// decodePayload parses raw and returns its records as values.
func decodePayload(t testing.TB, raw []byte) [][]frame.Value {
	t.Helper()
	p, err := ParsePayload(raw, nil)
	if err != nil {
		t.Fatal(err)
	}
	var out [][]frame.Value
	err = p.Each(func(rec []frame.View) error {
		vs := make([]frame.Value, len(rec))
		for i, v := range rec {
			vs[i] = v.Value()
		}
		out = append(out, vs)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(out) != p.Records() {
		t.Fatalf("Each gave %d records, Records() %d", len(out), p.Records())
	}
	return out
}

func TestBatcherClosesAtCount(t *testing.T) {
	bt := mustBatcher(t, countSchema("n"), &BatcherOptions{MaxRecords: 3, Shards: 1})
	if bt.Stream() != "conn" || bt.Schema().Path != "conn" || len(bt.Schema().Columns) != 1 {
		t.Fatalf("stream %q schema %+v", bt.Stream(), bt.Schema())
	}
	for i := 1; i <= 7; i++ {
		b, ok := mustAppend(t, bt, 0, []frame.Value{frame.NewCount(uint64(i))})
		if ok != (i%3 == 0) {
			t.Fatalf("record %d: closed=%v", i, ok)
		}
		if ok && (b.Records != 3 || b.Seq != uint64(i/3) || b.Stream != "conn") {
			t.Fatalf("record %d: batch %+v", i, b)
		}
	}
	out := bt.Flush(nil)
	if len(out) != 1 || out[0].Records != 1 || out[0].Seq != 3 {
		t.Fatalf("flush %+v", out)
	}
	if got := decodeBatch(t, out[0]); len(got) != 1 || got[0][0].Count() != 7 {
		t.Fatalf("flushed records %v", got)
	}
	if out = bt.Flush(nil); len(out) != 0 {
		t.Fatalf("second flush %+v", out)
	}
}

func TestBatcherClosesAtBytes(t *testing.T) {
	s := Schema{Path: "x", Columns: []Column{{Name: "s", Type: frame.TypeString}}}
	bt := mustBatcher(t, s, &BatcherOptions{MaxBytes: 100, Shards: 1})
	rec := []frame.Value{frame.NewString(string(make([]byte, 30)))} // 1+1+30 bytes
	var closed []Batch
	for range 10 {
		if b, ok := mustAppend(t, bt, 0, rec); ok {
			closed = append(closed, b)
		}
	}
	if len(closed) != 2 { // at records 4 and 8: 96 < 100 <= 128
		t.Fatalf("%d batches closed, want 2", len(closed))
	}
	for _, b := range closed {
		if b.Records != 4 || b.RowBytes != 4*32 {
			t.Fatalf("batch %d: %d records, %d bytes", b.Seq, b.Records, b.RowBytes)
		}
	}
}

func TestBatcherClosesAtDelay(t *testing.T) {
	clk := &fakeClock{t: time.Unix(100, 0)}
	bt := mustBatcher(t, countSchema("n"), &BatcherOptions{Shards: 2, Now: clk.now})
	rec := []frame.Value{frame.NewCount(1)}
	mustAppend(t, bt, 0, rec)
	clk.t = clk.t.Add(600 * time.Millisecond)
	mustAppend(t, bt, 1, rec)
	mustAppend(t, bt, 0, rec)
	if out := bt.Tick(nil, clk.t.Add(399*time.Millisecond)); len(out) != 0 {
		t.Fatalf("closed early: %+v", out)
	}
	out := bt.Tick(nil, clk.t.Add(400*time.Millisecond))
	if len(out) != 1 || out[0].Records != 2 || out[0].Seq != 1 {
		t.Fatalf("tick at 1s: %+v", out)
	}
	out = bt.Tick(nil, clk.t.Add(time.Second))
	if len(out) != 1 || out[0].Records != 1 || out[0].Seq != 2 {
		t.Fatalf("tick at 1.6s: %+v", out)
	}
}

// TestBatcherRejectsMismatch: a record that does not fit the schema is
// refused and leaves the batch as it was.
func TestBatcherRejectsMismatch(t *testing.T) {
	bt := mustBatcher(t, connSchema(), &BatcherOptions{Shards: 1})
	good := connRecords()[0]
	wrongType := append([]frame.Value(nil), good...)
	wrongType[9] = frame.NewInt(1)
	wrongElem := append([]frame.Value(nil), good...)
	wrongElem[14] = frame.NewSet(frame.NewCount(1))
	for _, rec := range [][]frame.Value{nil, good[:3], append(append([]frame.Value(nil), good...), frame.None), wrongType, wrongElem} {
		if _, ok, err := bt.Append(rec); !errors.Is(err, ErrRecordMismatch) || ok {
			t.Errorf("Append(%d values) = %v, %v", len(rec), ok, err)
		}
	}
	if out := bt.Flush(nil); len(out) != 0 {
		t.Fatalf("refused records made a batch: %+v", out)
	}
	if _, _, err := bt.Append(good); err != nil {
		t.Fatal(err)
	}
	if _, err := NewBatcher(Schema{Path: "a/b", Columns: []Column{{Name: "n", Type: frame.TypeCount}}}, nil); !errors.Is(err, ErrBadSchema) {
		t.Fatalf("bad schema: %v", err)
	}
}

// TestBatcherKeepsSchema: the Batcher copies the schema it is given.
func TestBatcherKeepsSchema(t *testing.T) {
	s := countSchema("a", "b")
	bt := mustBatcher(t, s, nil)
	s.Columns[0].Type = frame.TypeString
	if bt.Schema().Columns[0].Type != frame.TypeCount {
		t.Fatal("Batcher shares the caller's columns")
	}
}

// TestBatcherConcurrent: many writers, one stream; nothing is lost and
// sequence numbers are unique and cover 1..n.
func TestBatcherConcurrent(t *testing.T) {
	const writers, each = 8, 3000
	bt := mustBatcher(t, countSchema("w", "i"), &BatcherOptions{MaxRecords: 50, Shards: 4})
	var mu sync.Mutex
	var batches []Batch
	var wg sync.WaitGroup
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rec := []frame.Value{frame.NewCount(uint64(w)), frame.NewCount(0)}
			for i := range each {
				rec[1] = frame.NewCount(uint64(i))
				var b Batch
				var ok bool
				var err error
				if w%2 == 0 {
					b, ok, err = bt.Append(rec)
				} else {
					b, ok, err = bt.AppendHint(w, rec)
				}
				if err != nil {
					t.Error(err)
					return
				}
				if ok {
					mu.Lock()
					batches = append(batches, b)
					mu.Unlock()
				}
			}
		}()
	}
	wg.Wait()
	batches = bt.Flush(batches)
	seen := make(map[uint64]bool)
	got := make(map[[2]uint64]bool)
	for _, b := range batches {
		if seen[b.Seq] {
			t.Fatalf("seq %d twice", b.Seq)
		}
		seen[b.Seq] = true
		for _, rec := range decodeBatch(t, b) {
			k := [2]uint64{rec[0].Count(), rec[1].Count()}
			if got[k] {
				t.Errorf("record %v twice", k)
			}
			got[k] = true
		}
	}
	for q := uint64(1); q <= uint64(len(batches)); q++ {
		if !seen[q] {
			t.Fatalf("seq %d missing among %d batches", q, len(batches))
		}
	}
	if len(got) != writers*each {
		t.Fatalf("%d records, want %d", len(got), writers*each)
	}
}

func TestBatcherAppendAllocs(t *testing.T) {
	rec := connRecords()[0]
	bt := mustBatcher(t, connSchema(), &BatcherOptions{Shards: 2})
	warm := func() {
		b, ok, err := bt.Append(rec)
		if err != nil {
			t.Fatal(err)
		}
		if ok {
			bt.Release(&b)
		}
	}
	for range 5000 {
		warm()
	}
	if n := testing.AllocsPerRun(5000, warm); n != 0 {
		t.Fatalf("Append allocates %v times per record", n)
	}
}

func TestBatcherOptions(t *testing.T) {
	for _, o := range []BatcherOptions{{MaxRecords: -1}, {MaxBytes: MaxRawLen/2 + 1}, {MaxDelay: -1}, {Shards: -2}} {
		if _, err := NewBatcher(countSchema("n"), &o); !errors.Is(err, ErrBadConfig) {
			t.Errorf("%+v: %v", o, err)
		}
	}
}

// TestBatchWire: a batch has a wire form only once encoded.
func TestBatchWire(t *testing.T) {
	bt := mustBatcher(t, countSchema("n"), &BatcherOptions{MaxRecords: 1})
	b, _ := mustAppend(t, bt, 0, []frame.Value{frame.NewCount(5)})
	if b.Encoded() {
		t.Fatal("fresh batch is Encoded")
	}
	func() {
		defer func() {
			if recover() == nil {
				t.Error("Wire of a row buffer did not panic")
			}
		}()
		b.Wire()
	}()
	c := newTestCodecs(t)
	e, err := c.CompressBatch(nil, b, frame.CodecNone)
	if err != nil {
		t.Fatal(err)
	}
	codec, rawLen, p := e.Wire()
	if codec != frame.CodecNone || int(rawLen) != len(p) || !e.Encoded() {
		t.Fatalf("wire %v %d %d", codec, rawLen, len(p))
	}
	if _, err := c.CompressBatch(nil, Batch{cols: b.cols, Records: 1}, frame.CodecS2); !errors.Is(err, ErrBadBatch) {
		t.Fatalf("batch without schema: %v", err)
	}
	bt.Release(&b)
	if _, err := c.CompressBatch(nil, b, frame.CodecS2); !errors.Is(err, ErrBadBatch) {
		t.Fatalf("released batch: %v", err)
	}
}

// TestBatchRowBytes: a batch's RowBytes is the size of its records in row
// form, and its records come back exactly, for random records of every
// type with unset values, among refused records (a wrong value or element
// type in any column) that leave nothing behind.
func TestBatchRowBytes(t *testing.T) {
	s := connSchema()
	r := newRand(3)
	bt := mustBatcher(t, s, &BatcherOptions{MaxRecords: 50, Shards: 1})
	for round := range 4 {
		var recs [][]frame.Value
		rows := 0
		for {
			rec := make([]frame.Value, len(s.Columns))
			for j, c := range s.Columns {
				rec[j] = randValue(r, c)
			}
			if r.IntN(3) == 0 {
				bad := slices.Clone(rec)
				j := r.IntN(len(bad))
				switch c := s.Columns[j]; {
				case c.Type == frame.TypeSet && r.IntN(2) == 0:
					bad[j] = frame.NewSet(frame.NewCount(1))
				case c.Type == frame.TypeVector && r.IntN(2) == 0:
					bad[j] = frame.NewVector(frame.None, frame.NewBool(true))
				case c.Type == frame.TypeCount:
					bad[j] = frame.NewInt(-1)
				default:
					bad[j] = frame.NewCount(7)
				}
				if _, ok, err := bt.AppendHint(0, bad); !errors.Is(err, ErrRecordMismatch) || ok {
					t.Fatalf("bad column %d: %v, %v", j, ok, err)
				}
			}
			for _, v := range rec {
				rows += len(frame.AppendValue(nil, v))
			}
			recs = append(recs, rec)
			b, ok := mustAppend(t, bt, 0, rec)
			if !ok {
				continue
			}
			if b.RowBytes != rows || int(b.Records) != len(recs) {
				t.Fatalf("round %d: RowBytes %d for %d records, want %d for %d", round, b.RowBytes, b.Records, rows, len(recs))
			}
			sameRecords(t, decodeBatch(t, b), recs)
			bt.Release(&b)
			break
		}
	}
}
