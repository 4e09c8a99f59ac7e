package kv

import (
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"testing"
)

// checkMemory verifies every invariant of a memory backend's layout: the
// table (each key reachable from its home, tags right, load under the
// limit), the entries and free list, the arena accounting and the heap.
func checkMemory(t testing.TB, b *Memory) {
	t.Helper()
	if len(b.slots) == 0 {
		if b.n != 0 || b.growAt != 0 {
			t.Fatalf("no table but n = %d, growAt = %d", b.n, b.growAt)
		}
	} else {
		if size := len(b.slots); size&(size-1) != 0 || size < minSlots || b.growAt != size-size/8 || uint(64-b.shift) != uint(bits64(size)) {
			t.Fatalf("table of %d slots, growAt %d, shift %d", size, b.growAt, b.shift)
		}
		if b.n > b.growAt {
			t.Fatalf("%d keys in a table that grows beyond %d", b.n, b.growAt)
		}
	}
	mask := uint64(len(b.slots) - 1)
	seen := make(map[int32]bool)
	for pos, s := range b.slots {
		if s == 0 {
			continue
		}
		ei := int32(uint32(s)) - 1
		if ei < 0 || int(ei) >= b.nents || b.ent(ei).hidx == unusedEntry || seen[ei] {
			t.Fatalf("slot %d holds entry %d (of %d), unused or seen before", pos, ei, b.nents)
		}
		seen[ei] = true
		h := b.hash(b.key(b.ent(ei)))
		if s>>32 != h>>32 {
			t.Fatalf("slot %d: tag %x, key hashes to %x", pos, s>>32, h>>32)
		}
		for p := b.home(h); p != uint64(pos); p = (p + 1) & mask {
			if b.slots[p] == 0 {
				t.Fatalf("slot %d (home %d) is not reachable: slot %d is empty", pos, b.home(h), p)
			}
		}
	}
	if len(seen) != b.n {
		t.Fatalf("%d slots used, n = %d", len(seen), b.n)
	}
	free := make(map[int32]bool)
	for _, ei := range b.free {
		if free[ei] || b.ent(ei).hidx != unusedEntry {
			t.Fatalf("free list: entry %d twice or in use", ei)
		}
		free[ei] = true
	}
	if len(b.pages) != (b.nents+entPage-1)/entPage {
		t.Fatalf("%d entry pages for %d entries", len(b.pages), b.nents)
	}
	used := 0
	for _, c := range b.chunks {
		used += len(c)
	}
	if used != b.used {
		t.Fatalf("%d arena bytes used, counted %d", used, b.used)
	}
	type region struct{ chunk, start, end int }
	var regions []region
	live := 0
	for i := range b.nents {
		e := b.ent(int32(i))
		if e.hidx == unusedEntry {
			if !free[int32(i)] {
				t.Fatalf("entry %d is unused but not on the free list", i)
			}
			continue
		}
		if !seen[int32(i)] {
			t.Fatalf("entry %d is in use but in no slot", i)
		}
		if e.vlen > e.vcap || uint64(e.vcap) > 2*uint64(e.vlen)+64 {
			t.Fatalf("entry %d: value of %d bytes in room of %d", i, e.vlen, e.vcap)
		}
		end := int(e.off) + int(e.klen) + int(e.vcap)
		if int(e.chunk) >= len(b.chunks) || end > len(b.chunks[e.chunk]) {
			t.Fatalf("entry %d ends at %d:%d, beyond the arena's bytes", i, e.chunk, end)
		}
		regions = append(regions, region{int(e.chunk), int(e.off), end})
		live += int(e.klen) + int(e.vcap)
		switch {
		case e.expireAt == 0 && e.hidx != noExpiry:
			t.Fatalf("entry %d has no expiry but heap slot %d", i, e.hidx)
		case e.expireAt != 0 && (e.hidx < 0 || int(e.hidx) >= len(b.heap) || b.heap[e.hidx] != int32(i)):
			t.Fatalf("entry %d expires at %d but heap slot %d does not hold it", i, e.expireAt, e.hidx)
		}
	}
	if live != b.live {
		t.Fatalf("live arena bytes %d, counted %d", live, b.live)
	}
	slices.SortFunc(regions, func(x, y region) int { return cmp.Or(cmp.Compare(x.chunk, y.chunk), cmp.Compare(x.start, y.start)) })
	for i := 1; i < len(regions); i++ {
		if regions[i].chunk == regions[i-1].chunk && regions[i].start < regions[i-1].end {
			t.Fatalf("arena regions %v and %v overlap", regions[i-1], regions[i])
		}
	}
	for i, ei := range b.heap {
		if b.ent(ei).hidx != int32(i) {
			t.Fatalf("heap slot %d holds entry %d, whose hidx is %d", i, ei, b.ent(ei).hidx)
		}
		if i > 0 && b.heapLess(ei, b.heap[(i-1)/2]) {
			t.Fatalf("heap slot %d is less than its parent", i)
		}
	}
}

func bits64(size int) int {
	n := 0
	for size > 1 {
		size >>= 1
		n++
	}
	return n
}

// memModel is the reference for a Memory: a map.
type memModel map[string]entry

func (m memModel) check(t testing.TB, b *Memory) {
	t.Helper()
	if n, _ := b.Len(); n != len(m) {
		t.Fatalf("Len = %d, want %d", n, len(m))
	}
	got := make(map[string]entry)
	b.Iterate(func(k, v []byte, at int64) bool {
		if _, dup := got[string(k)]; dup {
			t.Fatalf("Iterate returns %q twice", k)
		}
		got[string(k)] = entry{bytes.Clone(v), at}
		return true
	})
	for k, w := range m {
		v, at, ok, err := b.Get([]byte(k))
		if err != nil || !ok || !bytes.Equal(v, w.val) || at != w.at {
			t.Fatalf("Get(%q) = %q @%d %v %v, want %q @%d", k, v, at, ok, err, w.val, w.at)
		}
		if g := got[k]; !bytes.Equal(g.val, w.val) || g.at != w.at {
			t.Fatalf("Iterate: %q = %q @%d, want %q @%d", k, g.val, g.at, w.val, w.at)
		}
	}
	if len(got) != len(m) {
		t.Fatalf("Iterate returns %d keys, want %d", len(got), len(m))
	}
}

// expire removes what Expire(now, max) must, in its order.
func (m memModel) expire(now int64, max int) []string {
	var due []string
	for k, e := range m {
		if e.at != 0 && e.at <= now {
			due = append(due, k)
		}
	}
	slices.SortFunc(due, func(x, y string) int { return cmp.Or(cmp.Compare(m[x].at, m[y].at), cmp.Compare(x, y)) })
	if max > 0 && len(due) > max {
		due = due[:max]
	}
	for _, k := range due {
		delete(m, k)
	}
	return due
}

func mustPut(t testing.TB, b *Memory, k string, v []byte, at int64) {
	t.Helper()
	if err := b.Put([]byte(k), v, at); err != nil {
		t.Fatal(err)
	}
}

func memKey(i int) string { return fmt.Sprintf("key-%d", i) }

func memVal(i, n int) []byte {
	v := make([]byte, n)
	for j := range v {
		v[j] = byte(i + j)
	}
	return v
}

// TestMemoryGrowth fills a memory backend through 13 table doublings,
// checking that each comes exactly when the load passes 7/8 and keeps
// every key.
func TestMemoryGrowth(t *testing.T) {
	b := NewMemory()
	m := memModel{}
	resizes := 0
	for i := range 100_000 {
		size, growAt := len(b.slots), b.growAt
		k := memKey(i)
		v := memVal(i, i%50)
		mustPut(t, b, k, v, int64(i%7))
		m[k] = entry{v, int64(i % 7)}
		if len(b.slots) != size {
			resizes++
			if i != growAt || len(b.slots) != max(minSlots, 2*size) {
				t.Fatalf("key %d: table went from %d slots (growAt %d) to %d", i, size, growAt, len(b.slots))
			}
			checkMemory(t, b)
		}
	}
	if resizes != 14 { // nil, 16, 32, ..., 131072
		t.Fatalf("%d resizes, want 14", resizes)
	}
	m.check(t, b)
	for i := 0; i < 100_000; i += 2 {
		if ok, err := b.Delete([]byte(memKey(i))); !ok || err != nil {
			t.Fatalf("Delete(%d) = %v, %v", i, ok, err)
		}
		delete(m, memKey(i))
	}
	checkMemory(t, b)
	m.check(t, b)
}

// homeKeys returns keys whose home slot in b's table (of 16 slots) is
// each of homes, found by trying names: b's hash seed is random, so the
// keys differ from run to run but their slots do not.
func homeKeys(t *testing.T, b *Memory, homes ...uint64) []string {
	t.Helper()
	if len(b.slots) != 16 {
		t.Fatalf("table of %d slots, want 16", len(b.slots))
	}
	var keys []string
	used := make(map[string]bool)
	for _, h := range homes {
		for i := 0; ; i++ {
			k := fmt.Sprintf("k%d", i)
			if !used[k] && b.home(b.hash([]byte(k))) == h {
				keys = append(keys, k)
				used[k] = true
				break
			}
		}
	}
	return keys
}

// layout describes b's table: the key in each slot, "" for empty.
func layout(b *Memory) []string {
	l := make([]string, len(b.slots))
	for pos, s := range b.slots {
		if s != 0 {
			l[pos] = string(b.key(b.ent(int32(uint32(s)) - 1)))
		}
	}
	return l
}

// TestMemoryBackwardShift builds probe runs that wrap around the end of a
// 16-slot table and checks the exact layout after each removal.
func TestMemoryBackwardShift(t *testing.T) {
	for _, how := range []string{"delete", "expire"} {
		t.Run(how, func(t *testing.T) {
			b := NewMemory()
			mustPut(t, b, "x", nil, 0) // allocates the table
			b.Delete([]byte("x"))
			ks := homeKeys(t, b, 15, 15, 15, 0, 3, 14)
			a, bb, c, d, e, f := ks[0], ks[1], ks[2], ks[3], ks[4], ks[5]
			for i, k := range []string{a, bb, c, d, e} {
				mustPut(t, b, k, []byte(k), int64(10+i))
			}
			want := make([]string, 16)
			want[15], want[0], want[1], want[2], want[3] = a, bb, c, d, e
			if got := layout(b); !slices.Equal(got, want) {
				t.Fatalf("layout %q, want %q", got, want)
			}
			remove := func(k string) {
				t.Helper()
				if how == "delete" {
					if ok, err := b.Delete([]byte(k)); !ok || err != nil {
						t.Fatalf("Delete(%s) = %v, %v", k, ok, err)
					}
					return
				}
				at := b.ent(b.heap[0]).expireAt
				var got []string
				if n, err := b.Expire(at, 1, func(key []byte) { got = append(got, string(key)) }); n != 1 || err != nil || !slices.Equal(got, []string{k}) {
					t.Fatalf("Expire(%d, 1) = %d %v %q, want %s", at, n, err, got, k)
				}
			}
			// a's hole at 15 pulls bb (home 15) from 0, c (home 15) from 1
			// and d (home 0) from 2; e sits at its home, 3, and stays.
			remove(a)
			want = make([]string, 16)
			want[15], want[0], want[1], want[3] = bb, c, d, e
			if got := layout(b); !slices.Equal(got, want) {
				t.Fatalf("after removing a: layout %q, want %q", got, want)
			}
			checkMemory(t, b)
			// f (home 14) lands in 14; bb's removal from 15 pulls c back
			// across the end, then d (home 0) to 0.
			mustPut(t, b, f, []byte(f), 100)
			remove(bb)
			want = make([]string, 16)
			want[14], want[15], want[0], want[3] = f, c, d, e
			if got := layout(b); !slices.Equal(got, want) {
				t.Fatalf("after removing bb: layout %q, want %q", got, want)
			}
			checkMemory(t, b)
			m := memModel{c: {[]byte(c), 12}, d: {[]byte(d), 13}, e: {[]byte(e), 14}, f: {[]byte(f), 100}}
			m.check(t, b)
		})
	}
}

// TestMemoryCompaction moves and removes values until the dead arena bytes
// pass 1 MiB and the live ones, and checks that the arena was compacted
// (several times) with every value intact, including values written from
// slices that alias the arena.
func TestMemoryCompaction(t *testing.T) {
	b := NewMemory()
	m := memModel{}
	r := rand.New(rand.NewPCG(7, 7))
	compactions := 0
	put := func(k string, v []byte, at int64) {
		t.Helper()
		before, want := b.used, bytes.Clone(v) // v may alias the arena
		mustPut(t, b, k, v, at)
		m[k] = entry{want, at}
		if b.used < before {
			compactions++
		}
	}
	for i := range 2000 {
		put(memKey(i), memVal(i, 16), 0)
	}
	for round := range 40 {
		for range 500 {
			i := r.IntN(2000)
			put(memKey(i), memVal(i+round, 16+r.IntN(600)), int64(r.IntN(3)))
		}
		// Values copied from the arena itself: another key's, and the
		// key's own shifted by one byte (an overlapping copy).
		x, y := memKey(r.IntN(2000)), memKey(r.IntN(2000))
		v, _, _, _ := b.Get([]byte(x))
		put(y, v, 0)
		v, _, _, _ = b.Get([]byte(x))
		put(x, v[min(1, len(v)):], 0)
		checkMemory(t, b)
		m.check(t, b)
	}
	if compactions < 3 {
		t.Fatalf("%d compactions, want several", compactions)
	}
	if dead := b.used - b.live; dead > max(compactMin, b.live) {
		t.Fatalf("%d dead arena bytes with %d live", dead, b.live)
	}
	checkMemory(t, b)
	m.check(t, b)
}

// TestMemoryCompactionOnRemoval: removing most keys, by Delete or by
// Expire, compacts the arena down to about the live bytes.
func TestMemoryCompactionOnRemoval(t *testing.T) {
	for _, how := range []string{"delete", "expire"} {
		t.Run(how, func(t *testing.T) {
			b := NewMemory()
			m := memModel{}
			for i := range 3000 {
				k, v := memKey(i), memVal(i, 1000)
				mustPut(t, b, k, v, int64(1+i))
				m[k] = entry{v, int64(1 + i)}
			}
			full := b.used
			if how == "delete" {
				for i := range 2500 {
					b.Delete([]byte(memKey(i)))
				}
			} else if n, _ := b.Expire(2500, 0, func([]byte) {}); n != 2500 {
				t.Fatalf("Expire removed %d keys, want 2500", n)
			}
			for i := range 2500 {
				delete(m, memKey(i))
			}
			if b.used >= full || b.used-b.live > compactMin {
				t.Fatalf("arena of %d bytes (%d before) for %d live", b.used, full, b.live)
			}
			checkMemory(t, b)
			m.check(t, b)
		})
	}
}

// TestMemoryShrinkingValue: a value much smaller than its room gives the
// room up rather than pinning it.
func TestMemoryShrinkingValue(t *testing.T) {
	b := NewMemory()
	mustPut(t, b, "k", memVal(0, 10_000), 0)
	mustPut(t, b, "k", memVal(1, 9_000), 0) // fits: stays
	if e := b.ent(0); e.vcap != 10_000 || e.vlen != 9_000 {
		t.Fatalf("room %d for %d bytes, want 10000 for 9000", e.vcap, e.vlen)
	}
	mustPut(t, b, "k", memVal(2, 100), 0)
	if e := b.ent(0); e.vcap != 100 || b.live != 101 {
		t.Fatalf("room %d for %d bytes, %d live; want 100, 101", e.vcap, e.vlen, b.live)
	}
	mustPut(t, b, "k", memVal(3, 200), 0) // moves, with headroom
	if e := b.ent(0); e.vcap != 250 || e.vlen != 200 {
		t.Fatalf("room %d for %d bytes, want 250 for 200", e.vcap, e.vlen)
	}
	memModel{"k": {memVal(3, 200), 0}}.check(t, b)
	checkMemory(t, b)
}

// TestMemoryBigValues: a record larger than a quarter chunk gets a chunk
// of its own; small ones keep filling the shared chunk around it.
func TestMemoryBigValues(t *testing.T) {
	b := NewMemory()
	m := memModel{}
	put := func(k string, v []byte) {
		t.Helper()
		mustPut(t, b, k, v, 0)
		m[k] = entry{v, 0}
	}
	for i := range 10 {
		put(memKey(i), memVal(i, 100))
		size := maxChunk/4 + 1 + i*100_000
		put("big", memVal(i, size))
		_, ei := b.lookup([]byte("big"), b.hash([]byte("big")))
		if e := b.ent(ei); e.off != 0 || len(b.chunks[e.chunk]) != 3+int(e.vcap) || e.chunk == uint32(b.cur) {
			t.Fatalf("value of %d bytes at %d:%d, in a chunk of %d bytes", size, e.chunk, e.off, len(b.chunks[e.chunk]))
		}
		checkMemory(t, b)
		m.check(t, b)
	}
	put("big", memVal(0, 10))
	if n := len(b.chunks); n > 2 {
		t.Fatalf("%d chunks after the big value shrank, want the compacted 1 or 2", n)
	}
	checkMemory(t, b)
	m.check(t, b)
}

// TestMemoryExpireOrder: Expire goes by expiry time, then key bytes, and
// honours changed and cleared expiries and max.
func TestMemoryExpireOrder(t *testing.T) {
	b := NewMemory()
	for _, p := range []struct {
		k  string
		at int64
	}{{"c", 5}, {"a", 5}, {"b", 5}, {"aa", 5}, {"", 5}, {"z", 3}, {"y", 9}, {"x", 4}, {"w", 5}, {"v", 1}} {
		mustPut(t, b, p.k, []byte("v"), p.at)
	}
	mustPut(t, b, "x", []byte("v2"), 5) // later: now ties with the 5s
	mustPut(t, b, "w", []byte("v"), 0)  // no expiry any more
	b.Delete([]byte("v"))
	checkMemory(t, b)
	if at, ok, _ := b.NextExpiry(); !ok || at != 3 {
		t.Fatalf("NextExpiry = %d %v, want 3", at, ok)
	}
	var got []string
	fn := func(k []byte) { got = append(got, string(k)) }
	if n, _ := b.Expire(5, 3, fn); n != 3 {
		t.Fatalf("Expire(5, 3) removed %d", n)
	}
	if n, _ := b.Expire(5, 0, fn); n != 4 {
		t.Fatalf("Expire(5, 0) removed %d", n)
	}
	if want := []string{"z", "", "a", "aa", "b", "c", "x"}; !slices.Equal(got, want) {
		t.Fatalf("expired %q, want %q", got, want)
	}
	if n, _ := b.Expire(8, 0, fn); n != 0 {
		t.Fatalf("Expire(8) removed %d", n)
	}
	memModel{"y": {[]byte("v"), 9}, "w": {[]byte("v"), 0}}.check(t, b)
	checkMemory(t, b)
	if m := b.Metrics(); m.Expired != 7 {
		t.Fatalf("Metrics().Expired = %d, want 7", m.Expired)
	}
}

// TestMemoryClearReuse: Clear drops the data and its memory, and the
// backend works as new afterwards.
func TestMemoryClearReuse(t *testing.T) {
	b := NewMemory()
	m := memModel{}
	for i := range 1000 {
		mustPut(t, b, memKey(i), memVal(i, 20), int64(i))
	}
	b.Delete([]byte(memKey(3)))
	if err := b.Clear(); err != nil {
		t.Fatal(err)
	}
	if b.slots != nil || b.pages != nil || b.free != nil || b.chunks != nil || b.heap != nil {
		t.Fatal("Clear kept memory")
	}
	if _, ok, _ := b.NextExpiry(); ok {
		t.Fatal("NextExpiry after Clear")
	}
	if _, _, ok, _ := b.Get([]byte(memKey(1))); ok {
		t.Fatal("Get after Clear")
	}
	m.check(t, b)
	for i := 500; i < 1500; i++ {
		mustPut(t, b, memKey(i), memVal(i, 30), int64(i))
		m[memKey(i)] = entry{memVal(i, 30), int64(i)}
	}
	checkMemory(t, b)
	m.check(t, b)
	if got := m.expire(600, 0); len(got) != 101 {
		t.Fatalf("model expired %d", len(got))
	}
	if n, _ := b.Expire(600, 0, func([]byte) {}); n != 101 {
		t.Fatalf("Expire removed %d, want 101", n)
	}
	m.check(t, b)
}

// TestMemoryIterateStop: Iterate stops when fn returns false and leaves
// the backend as it was.
func TestMemoryIterateStop(t *testing.T) {
	b := NewMemory()
	m := memModel{}
	for i := range 100 {
		mustPut(t, b, memKey(i), memVal(i, 5), 0)
		m[memKey(i)] = entry{memVal(i, 5), 0}
	}
	b.Delete([]byte(memKey(0)))
	delete(m, memKey(0))
	calls := 0
	b.Iterate(func(k, v []byte, _ int64) bool {
		calls++
		return calls < 10
	})
	if calls != 10 {
		t.Fatalf("fn called %d times, want 10", calls)
	}
	m.check(t, b)
}

// TestMemoryErrors: a negative expiry and any call after Close fail; a
// failed Put changes nothing.
func TestMemoryErrors(t *testing.T) {
	b := NewMemory()
	mustPut(t, b, "k", []byte("v"), 0)
	if err := b.Put([]byte("k"), []byte("w"), -1); !errors.Is(err, ErrInvalid) {
		t.Fatalf("Put with a negative expiry: %v", err)
	}
	if _, _, err := b.putSwap([]byte("n"), []byte("w"), -1, nil); !errors.Is(err, ErrInvalid) {
		t.Fatalf("putSwap with a negative expiry: %v", err)
	}
	memModel{"k": {[]byte("v"), 0}}.check(t, b)
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	if b.chunks != nil || b.pages != nil {
		t.Fatal("Close kept memory")
	}
	for name, err := range map[string]error{
		"Put":    b.Put([]byte("k"), nil, 0),
		"Delete": func() error { _, err := b.Delete([]byte("k")); return err }(),
		"Get":    func() error { _, _, _, err := b.Get([]byte("k")); return err }(),
		"Clear":  b.Clear(),
		"Iterate": b.Iterate(func([]byte, []byte, int64) bool {
			t.Fatal("Iterate after Close called fn")
			return true
		}),
		"Len":        func() error { _, err := b.Len(); return err }(),
		"NextExpiry": func() error { _, _, err := b.NextExpiry(); return err }(),
		"Expire":     func() error { _, err := b.Expire(0, 0, func([]byte) {}); return err }(),
		"Sync":       b.Sync(),
		"putSwap":    func() error { _, _, err := b.putSwap(nil, nil, 0, nil); return err }(),
		"Close":      b.Close(),
	} {
		if !errors.Is(err, ErrClosed) {
			t.Errorf("%s after Close: %v", name, err)
		}
	}
}

// TestMemoryRandom runs random operations against the map model, with
// keys and values of many sizes (so values move, shrink and compact),
// equal expiry times, and the layout checked now and then.
func TestMemoryRandom(t *testing.T) {
	steps := 60_000
	if testing.Short() || raceEnabled {
		steps = 15_000
	}
	r := rand.New(rand.NewPCG(3, 4))
	b := NewMemory()
	m := memModel{}
	keyOf := func() string {
		i := r.IntN(3000)
		if i == 0 {
			return "" // the empty key
		}
		return string(bytes.Repeat([]byte{byte(i)}, 1+i%40)) + memKey(i)
	}
	valOf := func() []byte {
		n := r.IntN(300)
		if r.IntN(50) == 0 {
			n = 3000 + r.IntN(3000)
		}
		return memVal(r.IntN(256), n)
	}
	var now int64
	for step := range steps {
		now += r.Int64N(3)
		var at int64
		if r.IntN(2) == 0 {
			at = now + r.Int64N(20)
		}
		switch op := r.IntN(100); {
		case op < 45:
			k, v := keyOf(), valOf()
			mustPut(t, b, k, v, at)
			m[k] = entry{v, at}
		case op < 55:
			k, v := keyOf(), valOf()
			prev, existed, err := b.putSwap([]byte(k), v, at, []byte("old:"))
			w, ok := m[k]
			if err != nil || existed != ok || ok && !bytes.Equal(prev, append([]byte("old:"), w.val...)) {
				t.Fatalf("step %d: putSwap(%q) = %q %v %v, want %q %v", step, k, prev, existed, err, w.val, ok)
			}
			m[k] = entry{v, at}
		case op < 75:
			k := keyOf()
			_, ok := m[k]
			if existed, err := b.Delete([]byte(k)); existed != ok || err != nil {
				t.Fatalf("step %d: Delete(%q) = %v %v, want %v", step, k, existed, err, ok)
			}
			delete(m, k)
		case op < 95:
			k := keyOf()
			w, ok := m[k]
			if v, got, found, err := b.Get([]byte(k)); found != ok || err != nil || !bytes.Equal(v, w.val) || got != w.at {
				t.Fatalf("step %d: Get(%q) = %v %v, want %v", step, k, found, err, ok)
			}
		case op < 99:
			max := r.IntN(5)
			want := m.expire(now, max)
			var got []string
			n, err := b.Expire(now, max, func(k []byte) { got = append(got, string(k)) })
			if err != nil || n != len(got) || !slices.Equal(got, want) {
				t.Fatalf("step %d: Expire(%d, %d) = %d %v %q, want %q", step, now, max, n, err, got, want)
			}
		default:
			if r.IntN(20) == 0 {
				b.Clear()
				clear(m)
			}
		}
		if step%2000 == 0 {
			checkMemory(t, b)
			m.check(t, b)
		}
	}
	checkMemory(t, b)
	m.check(t, b)
}

// TestMemoryAllocs pins the allocation-free paths of the memory backend:
// Get, an overwrite that fits, and (amortized) a new key.
func TestMemoryAllocs(t *testing.T) {
	if testing.CoverMode() != "" || raceEnabled {
		t.Skip("allocation counts differ under -cover and -race")
	}
	b := NewMemory()
	var kb []byte
	for i := range 100_000 {
		kb = strconv.AppendInt(append(kb[:0], "key-"...), int64(i), 10)
		mustPut(t, b, string(kb), memVal(i, 20), int64(i%100))
	}
	k, v := []byte(memKey(5)), memVal(9, 20)
	if n := testing.AllocsPerRun(1000, func() { b.Get(k) }); n != 0 {
		t.Errorf("Get: %v allocations per run", n)
	}
	if n := testing.AllocsPerRun(1000, func() { b.Put(k, v, 7) }); n != 0 {
		t.Errorf("overwrite: %v allocations per run", n)
	}
	old := make([]byte, 0, 64)
	if n := testing.AllocsPerRun(1000, func() { b.putSwap(k, v, 8, old[:0]) }); n != 0 {
		t.Errorf("putSwap: %v allocations per run", n)
	}
	i := 100_000
	if n := testing.AllocsPerRun(50_000, func() {
		kb = strconv.AppendInt(append(kb[:0], "key-"...), int64(i), 10)
		b.Put(kb, v, int64(i%100))
		i++
	}); n != 0 {
		t.Errorf("new key: %v allocations per run", n)
	}
	checkMemory(t, b)
}
