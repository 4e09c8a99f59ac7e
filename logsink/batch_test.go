package logsink

import (
	"errors"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/weirio/weir/frame"
)

// connRecord fills rec with a conn.log-like record i; values vary but are
// deterministic in i, with the repetition real traffic has (a few hundred
// hosts, common ports and services).
func connRecord(rec []frame.Value, r interface{ IntN(int) int }, i int) []frame.Value {
	services := []string{"dns", "http", "ssl", "-", "ntp", "ssh", "smtp"}
	states := []string{"SF", "S0", "REJ", "RSTO", "SH", "OTH", "S1"}
	histories := []string{"ShADadfF", "D", "S", "ShADadFf", "Dd", "ShAdDaFf", "Sr"}
	ports := []uint16{53, 80, 443, 123, 22, 25, 8080}
	k := r.IntN(len(services))
	ts := time.Unix(1700000000, 0).Add(time.Duration(i)*1370*time.Microsecond + time.Duration(r.IntN(1000))*time.Microsecond)
	uid := make([]byte, 18)
	const b62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	uid[0] = 'C'
	for j := 1; j < len(uid); j++ {
		uid[j] = b62[r.IntN(62)]
	}
	orig := netip.AddrFrom4([4]byte{10, 0, byte(r.IntN(4)), byte(r.IntN(250))})
	resp := netip.AddrFrom4([4]byte{byte(r.IntN(3) * 60), 20, byte(r.IntN(16)), byte(r.IntN(250))})
	proto := frame.ProtoTCP
	if services[k] == "dns" || services[k] == "ntp" {
		proto = frame.ProtoUDP
	}
	rec = append(rec[:0],
		frame.NewTimestamp(ts),
		frame.NewString(string(uid)),
		frame.NewAddr(orig),
		frame.NewPort(frame.Port{Number: uint16(32768 + r.IntN(28000)), Proto: proto}),
		frame.NewAddr(resp),
		frame.NewPort(frame.Port{Number: ports[k], Proto: proto}),
		frame.NewEnum(proto.String()),
		frame.NewString(services[k]),
		frame.NewTimespan(time.Duration(r.IntN(3000000))*time.Microsecond),
		frame.NewCount(uint64(r.IntN(2000))),
		frame.NewCount(uint64(r.IntN(60000))),
		frame.NewString(states[r.IntN(len(states))]),
		frame.NewString(histories[r.IntN(len(histories))]),
	)
	return rec
}

type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time { return c.t }

func TestBatcherClosesAtCount(t *testing.T) {
	bt, err := NewBatcher("conn", &BatcherOptions{MaxRecords: 3, Shards: 1})
	if err != nil {
		t.Fatal(err)
	}
	rec := []frame.Value{frame.NewCount(1)}
	for i := 1; i <= 7; i++ {
		b, ok := bt.Append(rec)
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
	if out = bt.Flush(nil); len(out) != 0 {
		t.Fatalf("second flush %+v", out)
	}
}

func TestBatcherClosesAtBytes(t *testing.T) {
	bt, _ := NewBatcher("conn", &BatcherOptions{MaxBytes: 100, Shards: 1})
	rec := []frame.Value{frame.NewString(string(make([]byte, 30)))} // 1+1+1+30 bytes
	var closed []Batch
	for range 10 {
		if b, ok := bt.Append(rec); ok {
			closed = append(closed, b)
		}
	}
	if len(closed) != 2 { // at records 4 and 8: 99 bytes < 100 <= 132
		t.Fatalf("%d batches closed, want 2", len(closed))
	}
	for _, b := range closed {
		if b.Records != 4 || len(b.Raw) != 4*33 {
			t.Fatalf("batch %d: %d records, %d bytes", b.Seq, b.Records, len(b.Raw))
		}
	}
}

func TestBatcherClosesAtDelay(t *testing.T) {
	clk := &fakeClock{t: time.Unix(100, 0)}
	bt, _ := NewBatcher("conn", &BatcherOptions{Shards: 2, Now: clk.now})
	rec := []frame.Value{frame.NewCount(1)}
	bt.AppendHint(0, rec)
	clk.t = clk.t.Add(600 * time.Millisecond)
	bt.AppendHint(1, rec)
	bt.AppendHint(0, rec)
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

func TestBatcherRoundTrip(t *testing.T) {
	r := newRand(1)
	bt, _ := NewBatcher("conn", &BatcherOptions{MaxRecords: 37, Shards: 3})
	var want [][]frame.Value
	var batches []Batch
	var rec []frame.Value
	for i := range 1000 {
		rec = connRecord(rec, r, i)
		rec = rec[:r.IntN(len(rec)+1)] // ragged, including empty records
		if r.IntN(10) == 0 {
			rec = append(rec, frame.NewVector(frame.NewCount(uint64(i)), frame.NewString("x")),
				frame.NewSet(frame.NewString("a"), frame.NewString("b")))
		}
		want = append(want, append([]frame.Value(nil), rec...))
		if b, ok := bt.AppendHint(0, rec); ok {
			batches = append(batches, b)
		}
	}
	batches = bt.Flush(batches)
	var got [][]frame.Value
	for _, b := range batches {
		n := 0
		err := DecodeRecords(b.Raw, nil, func(cols []frame.View) error {
			vs := make([]frame.Value, len(cols))
			for i, c := range cols {
				vs[i] = c.Value()
			}
			got = append(got, vs)
			n++
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if n != int(b.Records) {
			t.Fatalf("batch %d: %d records decoded, header says %d", b.Seq, n, b.Records)
		}
	}
	if len(got) != len(want) {
		t.Fatalf("%d records, want %d", len(got), len(want))
	}
	for i := range want {
		if len(got[i]) != len(want[i]) {
			t.Fatalf("record %d: %d columns, want %d", i, len(got[i]), len(want[i]))
		}
		for j := range want[i] {
			if !frame.Equal(got[i][j], want[i][j]) {
				t.Fatalf("record %d column %d: %v, want %v", i, j, got[i][j], want[i][j])
			}
		}
	}
}

func TestDecodeRecordsRejects(t *testing.T) {
	good := AppendRecord(nil, []frame.Value{frame.NewCount(1), frame.NewString("ab")})
	cases := map[string][]byte{
		"truncated value":    good[:len(good)-1],
		"count above input":  {0x05, 0x00},
		"noncanonical count": {0x81, 0x00},
		"overflowing count":  {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01},
		"bad value type":     {0x01, 0xee},
		"trailing garbage":   append(append([]byte(nil), good...), 0x80),
	}
	for name, raw := range cases {
		err := DecodeRecords(raw, nil, func([]frame.View) error { return nil })
		if !errors.Is(err, ErrBadBatch) {
			t.Errorf("%s: %v", name, err)
		}
	}
	stop := errors.New("stop")
	if err := DecodeRecords(good, nil, func([]frame.View) error { return stop }); err != stop {
		t.Errorf("callback error: %v", err)
	}
}

// TestBatcherConcurrent: many writers, one stream; nothing is lost and
// sequence numbers are unique and cover 1..n.
func TestBatcherConcurrent(t *testing.T) {
	const writers, each = 8, 3000
	bt, _ := NewBatcher("conn", &BatcherOptions{MaxRecords: 50, Shards: 4})
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
				if w%2 == 0 {
					b, ok = bt.Append(rec)
				} else {
					b, ok = bt.AppendHint(w, rec)
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
		err := DecodeRecords(b.Raw, nil, func(c []frame.View) error {
			k := [2]uint64{c[0].Count(), c[1].Count()}
			if got[k] {
				t.Errorf("record %v twice", k)
			}
			got[k] = true
			return nil
		})
		if err != nil {
			t.Fatal(err)
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
	r := newRand(2)
	rec := connRecord(nil, r, 0)
	bt, _ := NewBatcher("conn", &BatcherOptions{Shards: 2})
	warm := func() {
		if b, ok := bt.Append(rec); ok {
			bt.Release(b)
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
	for _, o := range []BatcherOptions{{MaxRecords: -1}, {MaxBytes: MaxRawLen + 1}, {MaxDelay: -1}, {Shards: -2}} {
		if _, err := NewBatcher("x", &o); !errors.Is(err, ErrBadConfig) {
			t.Errorf("%+v: %v", o, err)
		}
	}
}
