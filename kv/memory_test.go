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
	"time"

	"github.com/weirio/weir/frame"
)

// checkMemory verifies every invariant of a memory backend's layout: the
// tables (each key in one of them, reachable from its home, tags right,
// load under the limit; the old table's slots below the migration cursor
// empty or tombstones), the entries and free list, the arena accounting
// and the heap.
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
	seen := make(map[int32]bool)
	// table checks one table: its keys each once (in either table), tagged
	// right and reachable from their home.
	table := func(name string, slots []uint64, shift uint, from int) {
		mask := uint64(len(slots) - 1)
		for pos, s := range slots {
			if s == 0 || s == tombstone && name == "old" {
				continue
			}
			if pos < from {
				t.Fatalf("%s slot %d, below the migration cursor %d, holds %x", name, pos, from, s)
			}
			ei := int32(uint32(s)) - 1
			if ei < 0 || int(ei) >= b.nents || b.ent(ei).hidx == unusedEntry || seen[ei] {
				t.Fatalf("%s slot %d holds entry %d (of %d), unused or seen before", name, pos, ei, b.nents)
			}
			seen[ei] = true
			h := b.hash(b.key(b.ent(ei)))
			if s>>32 != h>>32 {
				t.Fatalf("%s slot %d: tag %x, key hashes to %x", name, pos, s>>32, h>>32)
			}
			home := h >> 32 << 32 >> shift
			for p := home; p != uint64(pos); p = (p + 1) & mask {
				if slots[p] == 0 {
					t.Fatalf("%s slot %d (home %d) is not reachable: slot %d is empty", name, pos, home, p)
				}
			}
		}
	}
	table("new", b.slots, b.shift, 0)
	if b.old == nil {
		if b.oshift != 0 || b.moved != 0 {
			t.Fatalf("no old table but oshift %d, moved %d", b.oshift, b.moved)
		}
	} else {
		if size := len(b.old); 2*size != len(b.slots) || uint(64-b.oshift) != uint(bits64(size)) || b.moved < 0 || b.moved >= size {
			t.Fatalf("old table of %d slots (new: %d), shift %d, moved %d", size, len(b.slots), b.oshift, b.moved)
		}
		if !slices.Contains(b.old, 0) {
			t.Fatal("old table without an empty slot")
		}
		table("old", b.old, b.oshift, b.moved)
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

// where tells which table holds key: "new", "old", or "" for neither.
func where(b *Memory, key string) string {
	pos, ei := b.lookup([]byte(key), b.hash([]byte(key)))
	switch {
	case ei < 0:
		return ""
	case pos&inOld != 0:
		return "old"
	}
	return "new"
}

// unmovedKey returns a key of b's old table, from a random slot, that the
// next mutating call will not move yet: its slot is at least a batch past
// the migration cursor.
func unmovedKey(b *Memory, r *rand.Rand) (string, bool) {
	from := b.moved + migrateBatch
	if from >= len(b.old) {
		return "", false
	}
	start := from + r.IntN(len(b.old)-from)
	for i := range len(b.old) - from {
		if s := b.old[from+(start-from+i)%(len(b.old)-from)]; s != 0 && s != tombstone {
			return string(b.key(b.ent(int32(uint32(s)) - 1))), true
		}
	}
	return "", false
}

// movedKey returns a key of b's new table, from a random slot.
func movedKey(b *Memory, r *rand.Rand) (string, bool) {
	start := r.IntN(len(b.slots))
	for i := range b.slots {
		if s := b.slots[(start+i)%len(b.slots)]; s != 0 {
			return string(b.key(b.ent(int32(uint32(s)) - 1))), true
		}
	}
	return "", false
}

// TestMemoryMigration grows a memory backend through many incremental
// growths and, while each migration is under way, runs every operation on
// keys still in the old table, keys already moved and absent keys: puts,
// overwrites, putSwaps, deletes, gets, expiries, iteration, a Clear and a
// growth forced in the middle of another. The layout and the contents
// (against the map model) are checked after every step (every 16th in
// the larger tables).
func TestMemoryMigration(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	b := NewMemory()
	m := memModel{}
	var now int64
	fresh := 0
	ran := make(map[string]int) // operations run while migrating, by kind and table
	put := func(k string, at int64) {
		t.Helper()
		v := memVal(r.IntN(256), r.IntN(60))
		mustPut(t, b, k, v, at)
		m[k] = entry{v, at}
	}
	expiry := func() int64 {
		if r.IntN(3) == 0 {
			return now + 1 + r.Int64N(200)
		}
		return 0
	}
	checkAll := 1 << 13 // tables checked after every step; larger ones every 16th
	if testing.Short() || raceEnabled {
		checkAll = 1 << 10
	}
	migrations := 0
	for len(b.slots) < 1<<16 {
		for size := len(b.slots); len(b.slots) == size; fresh++ {
			put(memKey(fresh), expiry())
		}
		if b.old == nil {
			continue // an old table of up to migrateBatch slots moves at once
		}
		migrations++
		for step := 0; b.old != nil; step++ {
			switch op := r.IntN(12); {
			case migrations == 4 && step == 5:
				if err := b.Clear(); err != nil {
					t.Fatal(err)
				}
				clear(m)
				if b.slots != nil || b.old != nil || b.moved != 0 {
					t.Fatalf("Clear kept a table: %d slots, %d old", len(b.slots), len(b.old))
				}
				ran["clear"]++
			case migrations == 9 && step == 10:
				size, swept, rest := len(b.slots), b.swept, uint64(len(b.old)-b.moved)
				b.grow()
				if len(b.old) != size || len(b.slots) != 2*size || b.swept != swept+rest+migrateBatch {
					t.Fatalf("growing mid-migration: %d old slots, %d new, %d swept; want %d, %d, %d",
						len(b.old), len(b.slots), b.swept, size, 2*size, swept+rest+migrateBatch)
				}
				ran["grow"]++
			case op == 0:
				k := memKey(fresh)
				fresh++
				put(k, expiry())
				if w := where(b, k); w != "new" {
					t.Fatalf("a new key went to the %q table", w)
				}
				ran["put new"]++
			case op <= 2:
				k, ok := unmovedKey(b, r)
				if !ok {
					break
				}
				put(k, expiry())
				if w := where(b, k); w != "old" {
					t.Fatalf("overwritten key %q left the old table for %q", k, w)
				}
				ran["overwrite old"]++
			case op == 3:
				if k, ok := movedKey(b, r); ok {
					put(k, expiry())
					ran["overwrite new"]++
				}
			case op == 4:
				tbl := "old"
				k, ok := unmovedKey(b, r)
				if r.IntN(2) == 0 {
					tbl = "new"
					k, ok = movedKey(b, r)
				}
				if !ok {
					break
				}
				v := memVal(r.IntN(256), r.IntN(60))
				prev, existed, err := b.putSwap([]byte(k), v, 0, nil)
				if err != nil || !existed || !bytes.Equal(prev, m[k].val) {
					t.Fatalf("putSwap(%q) = %q %v %v, want %q", k, prev, existed, err, m[k].val)
				}
				m[k] = entry{v, 0}
				if w := where(b, k); w != tbl {
					t.Fatalf("putSwap moved %q from the %s table to %q", k, tbl, w)
				}
				ran["putSwap "+tbl]++
			case op <= 6:
				tbl := "old"
				k, ok := unmovedKey(b, r)
				if op == 6 {
					tbl = "new"
					k, ok = movedKey(b, r)
				}
				if !ok {
					break
				}
				if existed, err := b.Delete([]byte(k)); !existed || err != nil {
					t.Fatalf("Delete(%q) in the %s table = %v %v", k, tbl, existed, err)
				}
				delete(m, k)
				if w := where(b, k); w != "" {
					t.Fatalf("deleted key %q found in the %s table", k, w)
				}
				ran["delete "+tbl]++
			case op == 7:
				if existed, err := b.Delete([]byte("absent")); existed || err != nil {
					t.Fatalf("Delete(absent) = %v %v", existed, err)
				}
				ran["delete absent"]++
			case op <= 9:
				now += r.Int64N(8)
				limit := 1 + r.IntN(5)
				if r.IntN(10) == 0 {
					limit = 0 // all that are due
				}
				want := m.expire(now, limit)
				for _, k := range want {
					pos, ei := b.lookup([]byte(k), b.hash([]byte(k)))
					switch {
					case ei < 0:
						t.Fatalf("due key %q is in no table", k)
					case pos&inOld == 0:
						ran["expire new"]++
					case int(pos&^inOld) >= b.moved+migrateBatch:
						ran["expire old"]++ // still in the old table when removed
					}
				}
				var got []string
				n, err := b.Expire(now, limit, func(k []byte) { got = append(got, string(k)) })
				if err != nil || n != len(got) || !slices.Equal(got, want) {
					t.Fatalf("Expire(%d, %d) = %d %v %q, want %q", now, limit, n, err, got, want)
				}
			case op == 10:
				calls, stop := 0, 1+r.IntN(50)
				b.Iterate(func([]byte, []byte, int64) bool {
					calls++
					return calls < stop
				})
				if calls != min(stop, len(m)) {
					t.Fatalf("Iterate stopping after %d called fn %d times, with %d keys", stop, calls, len(m))
				}
				ran["iterate"]++ // and m.check below iterates over all
			default:
				for _, k := range []string{"absent", memKey(fresh + 1)} {
					if _, _, ok, _ := b.Get([]byte(k)); ok {
						t.Fatalf("Get(%q) found it", k)
					}
				}
				if k, ok := unmovedKey(b, r); ok {
					v, at, found, err := b.Get([]byte(k))
					if w := m[k]; err != nil || !found || !bytes.Equal(v, w.val) || at != w.at {
						t.Fatalf("Get(%q) = %q @%d %v %v, want %q @%d", k, v, at, found, err, w.val, w.at)
					}
					ran["get old"]++
				}
			}
			if len(b.slots) <= checkAll || step%16 == 0 {
				checkMemory(t, b)
				m.check(t, b)
			}
		}
		checkMemory(t, b)
		m.check(t, b)
	}
	t.Logf("%d migrations; operations while migrating: %v", migrations, ran)
	for _, kind := range []string{"put new", "overwrite old", "overwrite new", "putSwap old", "putSwap new",
		"delete old", "delete new", "delete absent", "expire old", "expire new", "iterate", "get old"} {
		if ran[kind] < 3 {
			t.Errorf("%q ran %d times while migrating, want 3 or more", kind, ran[kind])
		}
	}
	if ran["clear"] != 1 || ran["grow"] != 1 {
		t.Errorf("Clear ran %d times, grow %d times while migrating, want once each", ran["clear"], ran["grow"])
	}
}

// TestMemoryMigrationBound: while a memory backend grows to 300k keys
// under puts, deletes and expiries, no call moves more than migrateBatch
// old slots, gets move none, and each migration ends within
// len(old)/migrateBatch mutating calls, long before the next growth.
func TestMemoryMigrationBound(t *testing.T) {
	keys := 300_000
	if testing.Short() || raceEnabled {
		keys = 60_000
	}
	r := rand.New(rand.NewPCG(9, 10))
	b := NewMemory()
	var now int64
	fullBatches, growths, mutating := 0, 0, 0
	for i := 0; b.n < keys; i++ {
		size, swept, migrating := len(b.slots), b.swept, b.old != nil
		k := []byte(memKey(r.IntN(keys * 2)))
		op := r.IntN(10)
		if op < 9 {
			mutating++
		}
		switch {
		case op < 7:
			if err := b.Put(k, k, now+r.Int64N(1000)); err != nil {
				t.Fatal(err)
			}
		case op < 8:
			b.Delete(k)
		case op < 9:
			now++
			b.Expire(now, 2, func([]byte) {})
		default:
			b.Get(k)
			if b.swept != swept {
				t.Fatalf("call %d: Get moved %d old slots", i, b.swept-swept)
			}
		}
		moved := b.swept - swept
		switch {
		case moved > migrateBatch:
			t.Fatalf("call %d: %d old slots moved in one call, bound %d", i, moved, migrateBatch)
		case moved == migrateBatch:
			fullBatches++
		}
		if len(b.slots) != size {
			growths++
			if migrating {
				t.Fatalf("call %d: the table grew from %d slots with a migration under way", i, size)
			}
			mutating = 1
		}
		if b.old != nil && mutating >= (len(b.old)+migrateBatch-1)/migrateBatch {
			t.Fatalf("call %d: migration of %d slots still under way after %d mutating calls", i, len(b.old), mutating)
		}
	}
	checkMemory(t, b)
	if growths < 12 || fullBatches < 300 {
		t.Fatalf("%d growths, %d full batches: the test did not exercise migration", growths, fullBatches)
	}
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

// BenchmarkMemoryPutStall fills a memory backend with 1M keys as
// BenchmarkMemoryInsertFresh does and reports the slowest single Put: of
// those that grew the table (grow-max-µs: allocating the new table and a
// first batch) and of the rest (other-max-µs: a batch of migration at
// most, plus whatever the GC and the machine add). Growing the table all
// at once made the first one the rehash of every key.
func BenchmarkMemoryPutStall(b *testing.B) {
	val := enc(str(string(make([]byte, 64))))
	var kb []byte
	var growMax, otherMax time.Duration
	for range b.N {
		m := NewMemory()
		for i := range freshKeys {
			kb = frame.AppendValue(kb[:0], cnt(uint64(i)))
			size := len(m.slots)
			start := time.Now()
			err := m.Put(kb, val, 0)
			d := time.Since(start)
			if err != nil {
				b.Fatal(err)
			}
			if len(m.slots) != size {
				growMax = max(growMax, d)
			} else {
				otherMax = max(otherMax, d)
			}
		}
		m.Close()
	}
	b.ReportMetric(float64(growMax.Nanoseconds())/1e3, "grow-max-µs")
	b.ReportMetric(float64(otherMax.Nanoseconds())/1e3, "other-max-µs")
}

// prefetch reads a key's home slot (the slot that holds it, for a key with
// no collision) in a table that is not growing, reads both tables without
// fault while one grows, and changes nothing either way.
func TestMemoryPrefetch(t *testing.T) {
	b := NewMemory()
	s := newStore(t, b, Options{})
	s.Prefetch([]byte("absent")) // an empty table has no slot to read
	atHome, migrating := 0, 0
	n := 0
	for ; len(b.slots) < 1<<12 || b.old != nil; n++ {
		k := memKey(n)
		mustPut(t, b, k, memVal(n, 8), 0)
		s.Prefetch([]byte(k))
		s.Prefetch([]byte(memKey(n + 1<<20))) // absent
		if b.old != nil {
			migrating++
			continue
		}
		h := b.hash([]byte(k))
		if pos, ei := b.lookup([]byte(k), h); pos == b.home(h) {
			atHome++
			if got, want := b.prefetch([]byte(k)), h>>32<<32|uint64(ei+1); got != want {
				t.Fatalf("key %d: prefetch read %#x, its slot holds %#x", n, got, want)
			}
		}
	}
	if atHome < n/4 || migrating == 0 {
		t.Fatalf("%d keys: %d checked at their home slot, %d put while migrating", n, atHome, migrating)
	}
	for i := range n {
		v, _, ok, err := b.Get([]byte(memKey(i)))
		if err != nil || !ok || string(v) != string(memVal(i, 8)) {
			t.Fatalf("key %d after prefetches: %q, %v, %v", i, v, ok, err)
		}
	}
	if got, _ := b.Len(); got != n {
		t.Fatalf("Len %d after prefetches, want %d", got, n)
	}
	s.Close()
	s.Prefetch([]byte(memKey(0))) // closed: ignored
}
