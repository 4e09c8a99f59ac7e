package kv

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/weirio/weir/frame"
)

func openPebble(t testing.TB, o PebbleOptions) *Pebble {
	t.Helper()
	p, err := OpenPebble(o)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// checkPebble verifies the layout invariants: every record with an expiry
// has exactly its index entry, every index entry has its record, and the
// persisted count is the number of records.
func checkPebble(t testing.TB, p *Pebble) {
	t.Helper()
	it, err := p.db.NewIter(&pebble.IterOptions{LowerBound: dataStart, UpperBound: indexEnd})
	if err != nil {
		t.Fatal(err)
	}
	defer it.Close()
	recs := map[string]int64{}
	idx := map[string]map[int64]bool{} // stale entries allowed
	for ok := it.First(); ok; ok = it.Next() {
		k := it.Key()
		switch k[0] {
		case spaceData:
			at, _, err := decodeRecord(it.Value())
			if err != nil {
				t.Fatal(err)
			}
			recs[string(k[1:])] = at
		case spaceIndex:
			at, key, err := decodeIndexKey(k)
			if err != nil {
				t.Fatal(err)
			}
			if idx[string(key)] == nil {
				idx[string(key)] = map[int64]bool{}
			}
			idx[string(key)][at] = true
		}
	}
	for k, at := range recs {
		if at != 0 && !idx[k][at] {
			t.Fatalf("record %x expires at %d, no index entry (entries %v)", k, at, idx[k])
		}
	}
	if n, err := p.Len(); err != nil || n != len(recs) {
		t.Fatalf("Len = %d, %v; records %d", n, err, len(recs))
	}
}

// TestPebbleReopen runs the model with a real directory, closing and
// reopening the database at random points: every write and every expiry
// time must come back.
func TestPebbleReopen(t *testing.T) {
	steps := 2500
	if testing.Short() {
		steps = 500
	}
	for _, mode := range []SyncMode{NoSync, Sync} {
		t.Run(mode.String(), func(t *testing.T) {
			dir := t.TempDir()
			opts := Options{MaxKeySize: 48, MaxValueSize: 160, MaxDepth: 2}
			po := PebbleOptions{Dir: dir, Sync: mode}
			s := newStore(t, openPebble(t, po), opts)
			reopens := 0
			runModel(t, 7, steps, s, func(s *Store) *Store {
				checkPebble(t, s.Backend().(*Pebble))
				if err := s.Close(); err != nil {
					t.Fatal(err)
				}
				reopens++
				return newStore(t, openPebble(t, po), opts)
			})
			if reopens == 0 {
				t.Fatal("never reopened")
			}
		})
	}
}

// TestPebbleCrash simulates crashes: a crash clone of the file system keeps
// exactly what was fsynced. In Sync mode every acknowledged write must
// survive (also when written in groups: every write of a group whose
// EndGroup returned); in NoSync mode every write before the last Sync; in
// either the reopened database must be consistent.
func TestPebbleCrash(t *testing.T) {
	for _, tc := range []struct {
		mode     SyncMode
		syncLast bool
		group    bool
	}{{Sync, false, false}, {Sync, false, true}, {NoSync, true, false}, {NoSync, true, true}, {NoSync, false, false}} {
		t.Run(fmt.Sprintf("%s/sync-before-crash=%v/group=%v", tc.mode, tc.syncLast, tc.group), func(t *testing.T) {
			fs := vfs.NewCrashableMem()
			po := PebbleOptions{FS: fs, Dir: "db", Sync: tc.mode, CompactAfter: -1}
			s := newStore(t, openPebble(t, po), Options{})
			m := newModel(Options{})
			r := rand.New(rand.NewPCG(3, 3))
			now := int64(100)
			for i := range 3000 {
				if tc.group && i%100 == 0 {
					s.BeginGroup()
				}
				key := cnt(r.Uint64N(500))
				op := frame.OpPut
				switch r.IntN(6) {
				case 0:
					op = frame.OpErase
				case 1, 2:
					op = frame.OpAdd
				}
				var exp int64
				if r.IntN(2) == 0 {
					exp = 1 + r.Int64N(1000)
				}
				_, _, err := s.Exec(NewCommand(op, key, cnt(uint64(i)), exp), now)
				if _, _, werr := m.exec(op, key, cnt(uint64(i)), exp, now); (err == nil) != (werr == nil) {
					t.Fatalf("step %d: %v, model %v", i, err, werr)
				}
				if i%100 == 99 {
					now += 50
					s.Expire(now, 0)
					m.expire(now, 0)
					if tc.group {
						if err := s.EndGroup(); err != nil {
							t.Fatal(err)
						}
					}
				}
			}
			if tc.syncLast {
				if err := s.Sync(); err != nil {
					t.Fatal(err)
				}
			}
			crashed := fs.CrashClone(vfs.CrashCloneCfg{})
			po.FS = crashed
			p := openPebble(t, po)
			defer p.Close()
			checkPebble(t, p)
			if tc.mode == NoSync && !tc.syncLast {
				return // whatever survived must merely be consistent
			}
			got := newStore(t, p, Options{})
			sameContents(t, "after crash", contents(t, got), m.contents())
		})
	}
}

// expireCost fills a backend with n keys that all expire, 10 of them
// early, and returns the index entries one Expire examined.
func expireCost(t *testing.T, b Backend, n int) uint64 {
	val := enc(cnt(0))
	at := func(i int) int64 {
		if i%(n/10) == 0 {
			return int64(10 + i)
		}
		return int64(1_000_000 + i)
	}
	if p, ok := b.(*Pebble); ok {
		// Load through one batch in the layout Put writes (100k Puts take
		// half a minute under -race); checkPebble vouches for the result.
		batch := p.db.NewBatch()
		for i := range n {
			k := enc(cnt(uint64(i)))
			batch.Set(appendDataKey(nil, k), appendRecord(nil, at(i), val), nil)
			batch.Set(appendIndexKey(nil, at(i), k), nil, nil)
		}
		if err := batch.Commit(pebble.NoSync); err != nil {
			t.Fatal(err)
		}
		checkPebble(t, p)
	} else {
		for i := range n {
			if err := b.Put(enc(cnt(uint64(i))), val, at(i)); err != nil {
				t.Fatal(err)
			}
		}
	}
	before := b.Metrics().IndexScanned
	got, err := b.Expire(500_000, 0, func([]byte) {})
	if err != nil || got != 10 {
		t.Fatalf("Expire = %d, %v; want 10", got, err)
	}
	if l, _ := b.Len(); l != n-10 {
		t.Fatalf("Len = %d, want %d", l, n-10)
	}
	return b.Metrics().IndexScanned - before
}

// TestExpireCost shows that expiring 10 keys among 100k (all of them with
// an expiry, so all in the index) examines O(10) index entries.
func TestExpireCost(t *testing.T) {
	const n = 100_000
	for _, bk := range backendKinds {
		t.Run(bk.name, func(t *testing.T) {
			b := bk.open(t)
			defer b.Close()
			if scanned := expireCost(t, b, n); scanned > 11 {
				t.Fatalf("expiring 10 of %d keys examined %d index entries", n, scanned)
			}
			if p, ok := b.(*Pebble); ok {
				checkPebble(t, p)
			}
		})
	}
}

// TestPebbleLayout pins the byte layout doc.go documents.
func TestPebbleLayout(t *testing.T) {
	p := openPebble(t, PebbleOptions{FS: vfs.NewMem()})
	defer p.Close()
	k, v := enc(str("k")), enc(cnt(7))
	if err := p.Put(k, v, 0x0102030405060708); err != nil {
		t.Fatal(err)
	}
	if err := p.Put(enc(str("n")), v, 0); err != nil {
		t.Fatal(err)
	}
	var got []string
	it, _ := p.db.NewIter(nil)
	for ok := it.First(); ok; ok = it.Next() {
		got = append(got, fmt.Sprintf("%x=%x", it.Key(), it.Value()))
	}
	it.Close()
	want := []string{
		"0065=0000000000000001",                       // meta: index epoch (the first open)
		"0076=00000002",                               // meta: layout version
		"0105016b=0102030405060708020700000000000000", // data: key "k" -> expiry, count 7
		"0105016e=0000000000000000020700000000000000", // data: key "n" -> no expiry, count 7
		"02010203040506070805016b=0000000000000001",   // index: expiry, key "k" -> epoch
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("layout:\n%q\nwant:\n%q", got, want)
	}
}

func TestPebbleCorrupt(t *testing.T) {
	for _, r := range [][]byte{nil, make([]byte, 8), {0x80, 0, 0, 0, 0, 0, 0, 0, 0}} {
		if _, _, err := decodeRecord(r); !errors.Is(err, ErrCorrupt) {
			t.Errorf("decodeRecord(%x) = %v", r, err)
		}
	}
	for _, k := range [][]byte{nil, {spaceIndex, 0, 0, 0, 0, 0, 0, 0, 1}, {spaceData, 0, 0, 0, 0, 0, 0, 0, 1, 0},
		{spaceIndex, 0, 0, 0, 0, 0, 0, 0, 0, 0}, {spaceIndex, 0x80, 0, 0, 0, 0, 0, 0, 0, 0}} {
		if _, _, err := decodeIndexKey(k); !errors.Is(err, ErrCorrupt) {
			t.Errorf("decodeIndexKey(%x) = %v", k, err)
		}
	}
	// A stored value that does not decode is reported, not trusted. (Written
	// under the backend, which is then reopened, as a corrupt disk would be.)
	mfs := vfs.NewMem()
	p := openPebble(t, PebbleOptions{FS: mfs})
	k := enc(str("k"))
	if err := p.db.Set(appendDataKey(nil, k), appendRecord(nil, 0, []byte{99}), pebble.Sync); err != nil {
		t.Fatal(err)
	}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	p = openPebble(t, PebbleOptions{FS: mfs})
	s := newStore(t, p, Options{})
	if _, _, err := s.Exec(NewCommand(frame.OpAdd, str("k"), cnt(1), 0), 0); !errors.Is(err, ErrCorrupt) {
		t.Errorf("add to a corrupt value: %v", err)
	}
	if Code(ErrCorrupt) != frame.CodeInternal {
		t.Errorf("Code(ErrCorrupt) = %s", Code(ErrCorrupt))
	}
	// A database with another layout version does not open.
	fs := vfs.NewMem()
	p = openPebble(t, PebbleOptions{FS: fs})
	p.db.Set(metaVersion, []byte{0, 0, 0, 9}, pebble.Sync)
	p.Close()
	if _, err := OpenPebble(PebbleOptions{FS: fs}); !errors.Is(err, ErrCorrupt) {
		t.Errorf("open with layout 9: %v", err)
	}
}

func TestPebbleOptions(t *testing.T) {
	for _, o := range []PebbleOptions{
		{},
		{FS: vfs.NewMem(), Sync: 7},
		{FS: vfs.NewMem(), CacheSize: -1},
		{FS: vfs.NewMem(), MemTableSize: 1000},
	} {
		if _, err := OpenPebble(o); err == nil {
			t.Errorf("OpenPebble accepted %+v", o)
		}
	}
	var o PebbleOptions
	o.EnsureDefaults()
	if o.FS != vfs.Default || o.CacheSize != DefaultCacheSize || o.MemTableSize != DefaultMemTableSize || o.CompactAfter != DefaultCompactAfter || o.Sync != Sync {
		t.Errorf("defaults %+v", o)
	}
}

// TestPebbleCompaction: an expiry wave of CompactAfter keys triggers a
// background compaction that gives the space back.
func TestPebbleCompaction(t *testing.T) {
	done := make(chan struct{}, 1)
	p := openPebble(t, PebbleOptions{FS: vfs.NewMem(), Sync: NoSync, CompactAfter: 2000, compacted: done})
	defer p.Close()
	empty := p.DiskUsage()
	val := enc(str(string(bytes.Repeat([]byte("v"), 200))))
	for i := range 5000 {
		if err := p.Put(enc(cnt(uint64(i))), val, 100); err != nil {
			t.Fatal(err)
		}
	}
	if err := p.db.Flush(); err != nil {
		t.Fatal(err)
	}
	full := p.DiskUsage()
	n, err := p.Expire(100, 0, func([]byte) {})
	if err != nil || n != 5000 {
		t.Fatalf("Expire = %d, %v", n, err)
	}
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("no compaction after the expiry wave")
	}
	if m := p.Metrics(); m.Compactions != 1 || m.CompactionErrors != 0 || m.Expired != 5000 {
		t.Fatalf("metrics %+v", m)
	}
	after := p.DiskUsage()
	t.Logf("disk usage: empty %+v, full %+v, after expiry and compaction %+v", empty, full, after)
	if after.Tables >= full.Tables/100 {
		t.Fatalf("compaction kept %d of %d table bytes", after.Tables, full.Tables)
	}
	checkPebble(t, p)
}

// TestPebbleCloseDuringCompaction closes the backend while the compaction
// it just requested may be running: Close must stop the goroutine (no
// panic from compacting a closed database; TestMain checks for leaks).
func TestPebbleCloseDuringCompaction(t *testing.T) {
	for range 5 {
		p := openPebble(t, PebbleOptions{FS: vfs.NewMem(), Sync: NoSync, CompactAfter: 1})
		for i := range 100 {
			k := enc(cnt(uint64(i)))
			p.Put(k, k, 0)
			if _, err := p.Delete(k); err != nil {
				t.Fatal(err)
			}
		}
		if err := p.Close(); err != nil {
			t.Fatal(err)
		}
		if err := p.Close(); !errors.Is(err, ErrClosed) {
			t.Fatalf("second Close: %v", err)
		}
		if err := p.Compact(); !errors.Is(err, ErrClosed) {
			t.Fatalf("Compact after Close: %v", err)
		}
	}
}

// A layout 1 database (with a key count) opens as layout 2: the count is
// dropped, the data and index are kept.
func TestPebbleUpgradeLayout1(t *testing.T) {
	fs := vfs.NewMem()
	po := PebbleOptions{FS: fs, Dir: "db"}
	p := openPebble(t, po)
	k, v := enc(str("k")), enc(cnt(7))
	if err := p.Put(k, v, 5); err != nil {
		t.Fatal(err)
	}
	b := p.db.NewBatch()
	_ = b.Set(metaVersion, []byte{0, 0, 0, 1}, nil)
	_ = b.Set(metaCountV1, []byte{0, 0, 0, 0, 0, 0, 0, 1}, nil)
	if err := b.Commit(pebble.Sync); err != nil {
		t.Fatal(err)
	}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	p = openPebble(t, po)
	defer p.Close()
	if v, ok, err := p.getMeta(metaVersion); err != nil || !ok || string(v) != "\x00\x00\x00\x02" {
		t.Fatalf("version after upgrade: %x %v %v", v, ok, err)
	}
	if _, ok, _ := p.getMeta(metaCountV1); ok {
		t.Fatal("layout 1 count kept")
	}
	checkPebble(t, p)
	if n, err := p.Expire(10, 0, func([]byte) {}); n != 1 || err != nil {
		t.Fatalf("Expire = %d, %v", n, err)
	}
}
