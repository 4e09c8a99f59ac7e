package kv

import (
	"bytes"
	"fmt"
	"hash/maphash"
	"math"
	"math/bits"
)

// Memory is the in-memory backend. Its data lives in blocks whose
// elements hold no Go pointers: the garbage collector sees an object per
// 1024 keys (an entry page) or per MiB of keys and values (a chunk), and
// never scans inside one; a new key costs no allocation beyond its share
// of the blocks it fills:
//
//	field   holds                          layout
//	slots   hash table, linear probing     uint64: hash>>32<<32 | entry index+1; 0 is empty
//	old     the table slots replaced       as slots, while growing; tombstone: moved or removed
//	pages   entries, 1024 a page           mentry (32 bytes): chunk, offset, lengths, expiry, heap slot
//	free    unused entry indices           int32, reused first
//	chunks  arena of keys and values       4 KiB doubling to 1 MiB each: key, then value room, per entry
//	heap    entries with an expiry         int32: a min-heap by (expiry time, key bytes)
//
// A key's home slot is the top bits of its hash (maphash, seeded per
// backend against hash flooding) and a slot keeps the top 32 bits as a
// tag, so a probe rejects other keys without touching their entry, and
// growing the table rehashes from the slots alone. A delete shifts the
// rest of its probe run back (no tombstones in slots).
//
// The table doubles beyond 7/8 full, incrementally, so that no call
// stalls for a rehash of the whole table: the call that grows it
// allocates the new table and keeps the old one in old, and each
// mutating call from it on (Put, Delete, Expire; not Get or Iterate)
// moves the next migrateBatch old slots, in index order, into the new
// table. Each key is in one table: new keys
// go to the new table, lookups search it and then the old one, and a key
// removed from the old table leaves a tombstone there (a backward shift
// could carry an unmoved slot below the migration cursor), as does every
// slot moved. An overwrite changes no slot, so the key stays where it is.
// The migration ends well before the next growth is due (the new table
// has room for twice the keys, at one batch per call), and growing
// finishes a migration if one were still running. The growing call still
// allocates the new table, which the runtime may have to clear: about
// 2 ms for the 16 MiB of a 1M-key table, against some 20 ms to rehash
// it. Pages and chunks never move once allocated, so growing them copies
// nothing.
//
// A value is overwritten in place when it fits its room; otherwise the
// key and value move to fresh arena bytes with a quarter of headroom.
// Room far larger than the value is given up, so a shrunken value does
// not pin it. Bytes left behind by moves and removals are dead; once they
// outnumber the live ones (and exceed 1 MiB) a mutating call copies the
// live bytes into new chunks. Only a value's own room is ever written
// again; dead bytes are not reused and chunks never move, so a call's
// arguments may alias slices the backend handed out (Put(k2, the value
// of k1)), and a compaction leaves the bytes of the old chunks as they
// were.
//
// Threading: not safe for concurrent use (see Backend).
type Memory struct {
	seed    maphash.Seed
	slots   []uint64
	shift   uint     // 64 - log2(len(slots)): a hash's home slot is hash >> shift
	growAt  int      // the table grows before it holds more keys than this
	old     []uint64 // while the table grows, the one it replaces; else nil
	oshift  uint     // shift for old
	moved   int      // the migration cursor: old[:moved] holds no key
	swept   uint64   // old slots migrate went through, ever (tests count them)
	n       int      // keys stored
	pages   []*[entPage]mentry
	nents   int // entries allocated in pages, used or free
	free    []int32
	chunks  [][]byte
	cur     int // the chunk that takes new records
	used    int // bytes handed out from chunks
	live    int // of which bytes of stored keys and their value room
	heap    []int32
	metrics BackendMetrics
	closed  bool
}

// mentry is one key: its bytes are chunks[chunk][off:][:klen], its
// value's the vlen bytes after them, in room of vcap bytes.
type mentry struct {
	chunk    uint32
	off      uint32
	klen     uint32
	vlen     uint32
	vcap     uint32
	hidx     int32 // position in the heap; noExpiry, or unusedEntry
	expireAt int64 // 0: none
}

const (
	noExpiry    = -1
	unusedEntry = -2 // the entry is on the free list

	minSlots = 16
	entPage  = 1 << 10
	minChunk = 4 << 10
	maxChunk = 1 << 20
	// compactMin is the dead arena bytes below which there is no
	// compaction, however few bytes are live.
	compactMin = 1 << 20
	// maxEntries bounds entry indices, which slots keep in 32 bits and the
	// heap in an int32.
	maxEntries = math.MaxInt32 - 1

	// tombstone marks a slot of the old table whose key was moved to the
	// new one or removed: its low 32 bits are no entry index+1 (those stay
	// below maxEntries+1), and it is not 0, so probe runs go on past it.
	tombstone = math.MaxUint64
	// inOld marks a position that lookup and slotOf return in the old
	// table; tables have fewer than 2^63 slots.
	inOld = 1 << 63
	// migrateBatch is how many old slots a mutating call moves while the
	// table grows. At 1M keys a batch took about 2 µs (4 µs while the new
	// table's pages were first touched; the worst seen, 25 µs), a few
	// Puts' worth, and the migration ends after len(old)/256 mutating
	// calls (4096), far sooner than the 7/8*len(old) new keys that make
	// the next growth due, so the old table is not kept for long.
	migrateBatch = 256
)

// NewMemory returns an empty memory backend.
func NewMemory() *Memory { return &Memory{seed: maphash.MakeSeed()} }

func (b *Memory) hash(key []byte) uint64 { return maphash.Bytes(b.seed, key) }

// home is the slot a hash (or a slot's tag) starts probing at.
func (b *Memory) home(h uint64) uint64 { return h >> 32 << 32 >> b.shift }

func (b *Memory) ent(ei int32) *mentry { return &b.pages[uint32(ei)/entPage][uint32(ei)%entPage] }

func (b *Memory) key(e *mentry) []byte {
	start := int(e.off)
	end := start + int(e.klen)
	return b.chunks[e.chunk][start:end:end]
}

func (b *Memory) val(e *mentry) []byte {
	start := int(e.off) + int(e.klen)
	end := start + int(e.vlen)
	return b.chunks[e.chunk][start:end:end]
}

// lookup returns the slot holding key (with inOld set if it is in the
// old table) and its entry, or -1 and the empty slot that ends key's
// probe run in the (new) table.
//
// Hot path: one slot read per probe, and an entry and key read only when
// the tag matches; the old table is searched only on a miss while the
// table grows.
func (b *Memory) lookup(key []byte, h uint64) (pos uint64, ei int32) {
	if len(b.slots) == 0 {
		return 0, -1
	}
	mask := uint64(len(b.slots) - 1)
	tag := h >> 32
	for pos = b.home(h); ; pos = (pos + 1) & mask {
		s := b.slots[pos]
		if s == 0 {
			if b.old != nil {
				return b.lookupOld(key, h, pos) // pos not live across the call: no spill in the loop
			}
			return pos, -1
		}
		if s>>32 == tag {
			ei := int32(uint32(s)) - 1
			if bytes.Equal(b.key(b.ent(ei)), key) {
				return pos, ei
			}
		}
	}
}

// lookupOld is lookup in the old table, for a key not in the new one,
// whose probe run there ends at empty: it returns the old slot holding
// key, with inOld set, and its entry, or empty and -1. The old table
// always has an empty slot: it gets no new keys, and its removed keys
// leave tombstones.
func (b *Memory) lookupOld(key []byte, h, empty uint64) (uint64, int32) {
	mask := uint64(len(b.old) - 1)
	tag := h >> 32
	for pos := h >> 32 << 32 >> b.oshift; ; pos = (pos + 1) & mask {
		switch s := b.old[pos]; {
		case s == 0:
			return empty, -1
		case s>>32 == tag && s != tombstone:
			ei := int32(uint32(s)) - 1
			if bytes.Equal(b.key(b.ent(ei)), key) {
				return pos | inOld, ei
			}
		}
	}
}

// emptySlot returns the first empty slot of h's probe run.
func (b *Memory) emptySlot(h uint64) uint64 {
	mask := uint64(len(b.slots) - 1)
	pos := b.home(h)
	for b.slots[pos] != 0 {
		pos = (pos + 1) & mask
	}
	return pos
}

// grow doubles the table and moves the first batch of slots over; the
// mutating calls that follow move the rest (see migrate). A migration
// still running is finished first; put never lets that happen (see
// migrateBatch), so this costs no more than growing all at once did.
func (b *Memory) grow() {
	if b.old != nil {
		b.migrate(len(b.old))
	}
	size := max(minSlots, 2*len(b.slots))
	if b.n > 0 {
		b.old, b.oshift, b.moved = b.slots, b.shift, 0
	}
	b.slots = make([]uint64, size)
	b.shift = uint(64 - bits.TrailingZeros(uint(size)))
	b.growAt = size - size/8
	if b.old != nil {
		b.migrate(migrateBatch)
	}
}

// migrate moves the keys of the next max slots of the old table into the
// new one, each to its place by its tag, leaving tombstones, and drops
// the old table when it is through.
func (b *Memory) migrate(max int) {
	end := min(b.moved+max, len(b.old))
	for i := b.moved; i < end; i++ {
		if s := b.old[i]; s != 0 && s != tombstone {
			b.slots[b.emptySlot(s)] = s
			b.old[i] = tombstone
		}
	}
	b.swept += uint64(end - b.moved)
	b.moved = end
	if end == len(b.old) {
		b.old, b.oshift, b.moved = nil, 0, 0
	}
}

// unslot empties slot pos as lookup or slotOf returned it. A slot of the
// old table becomes a tombstone: a backward shift could move a slot the
// migration has not reached below its cursor, and it would be lost.
func (b *Memory) unslot(pos uint64) {
	if pos&inOld != 0 {
		b.old[pos&^inOld] = tombstone
		return
	}
	b.removeSlot(pos)
}

// removeSlot empties slot pos and shifts back the slots after it in its
// probe run that may move (whose home is not between pos and them), so
// every key stays reachable from its home without tombstones.
func (b *Memory) removeSlot(pos uint64) {
	mask := uint64(len(b.slots) - 1)
	for next := (pos + 1) & mask; b.slots[next] != 0; next = (next + 1) & mask {
		s := b.slots[next]
		if (next-b.home(s))&mask >= (next-pos)&mask {
			b.slots[pos] = s
			pos = next
		}
	}
	b.slots[pos] = 0
}

// slotOf returns the slot of entry ei, whose key is key, as lookup
// does: with inOld set if it is in the old table.
func (b *Memory) slotOf(ei int32, key []byte) uint64 {
	h := b.hash(key)
	mask := uint64(len(b.slots) - 1)
	for pos := b.home(h); ; pos = (pos + 1) & mask {
		switch s := b.slots[pos]; {
		case uint32(s) == uint32(ei+1):
			return pos
		case s == 0:
			if b.old == nil {
				panic("BUG: kv: memory entry missing from its table")
			}
			mask := uint64(len(b.old) - 1)
			for pos := h >> 32 << 32 >> b.oshift; ; pos = (pos + 1) & mask {
				switch s := b.old[pos]; { // a tombstone's low bits are no ei+1
				case uint32(s) == uint32(ei+1):
					return pos | inOld
				case s == 0:
					panic("BUG: kv: memory entry missing from both tables")
				}
			}
		}
	}
}

// alloc hands out n fresh arena bytes: in the current chunk if they fit,
// else in a new one (the old one's tail stays unused), or in a chunk of
// their own when n is large.
func (b *Memory) alloc(n int) (chunk, off uint32) {
	if n > maxChunk/4 {
		b.chunks = append(b.chunks, make([]byte, n))
		b.used += n
		return uint32(len(b.chunks) - 1), 0
	}
	if len(b.chunks) == 0 || cap(b.chunks[b.cur])-len(b.chunks[b.cur]) < n {
		size := minChunk
		if len(b.chunks) > 0 {
			size = min(maxChunk, 2*cap(b.chunks[b.cur]))
		}
		b.chunks = append(b.chunks, make([]byte, 0, max(size, n)))
		b.cur = len(b.chunks) - 1
	}
	c := b.chunks[b.cur]
	b.chunks[b.cur] = c[:len(c)+n]
	b.used += n
	return uint32(b.cur), uint32(len(c))
}

// newEntry stores key and val in a new entry, without an expiry, and
// returns its index. The caller checked the lengths.
func (b *Memory) newEntry(key, val []byte) int32 {
	var ei int32
	if k := len(b.free); k > 0 {
		ei, b.free = b.free[k-1], b.free[:k-1]
	} else {
		ei = int32(b.nents)
		if b.nents == len(b.pages)*entPage {
			b.pages = append(b.pages, new([entPage]mentry))
		}
		b.nents++
	}
	chunk, off := b.alloc(len(key) + len(val))
	dst := b.chunks[chunk][off:]
	copy(dst, key)
	copy(dst[len(key):], val)
	*b.ent(ei) = mentry{
		chunk: chunk,
		off:   off,
		klen:  uint32(len(key)),
		vlen:  uint32(len(val)),
		vcap:  uint32(len(val)),
		hidx:  noExpiry,
	}
	b.live += len(key) + len(val)
	return ei
}

// setValue overwrites e's value with val: in place if it fits, else in
// fresh arena bytes, with a quarter of headroom for a value that grows.
func (b *Memory) setValue(e *mentry, val []byte) {
	n := uint64(len(val))
	if n <= uint64(e.vcap) {
		if uint64(e.vcap) > 2*n+64 { // do not keep room far larger than the value
			b.live -= int(uint64(e.vcap) - n)
			e.vcap = uint32(n)
		}
		copy(b.chunks[e.chunk][int(e.off)+int(e.klen):], val)
		e.vlen = uint32(n)
		return
	}
	room := min(n+n/4, math.MaxUint32-uint64(e.klen))
	chunk, off := b.alloc(int(uint64(e.klen) + room))
	dst := b.chunks[chunk][off:]
	copy(dst, b.key(e)) // the old bytes stay where they are: val may be among them
	copy(dst[e.klen:], val)
	b.live += int(room - uint64(e.vcap))
	e.chunk, e.off, e.vlen, e.vcap = chunk, off, uint32(n), uint32(room)
}

// freeEntry puts entry ei, already out of the table and the heap, on the
// free list; its arena bytes become dead but stay as they are.
func (b *Memory) freeEntry(ei int32) {
	e := b.ent(ei)
	b.live -= int(e.klen) + int(e.vcap)
	e.hidx = unusedEntry
	b.free = append(b.free, ei)
}

// maybeCompact copies the live arena bytes into new chunks when the dead
// ones outnumber them. The old chunks are left as they are, so slices
// handed out before keep their bytes.
func (b *Memory) maybeCompact() {
	dead := b.used - b.live
	if dead < compactMin || dead <= b.live {
		return
	}
	old := b.chunks
	b.chunks, b.cur, b.used = nil, 0, 0
	b.eachEntry(func(_ int32, e *mentry) bool {
		if e.hidx != unusedEntry {
			n := int(e.klen) + int(e.vcap)
			chunk, off := b.alloc(n)
			copy(b.chunks[chunk][off:], old[e.chunk][e.off:int(e.off)+n])
			e.chunk, e.off = chunk, off
		}
		return true
	})
}

// eachEntry calls fn with every allocated entry, used or free, in index
// order, until fn returns false.
func (b *Memory) eachEntry(fn func(ei int32, e *mentry) bool) {
	for pi, p := range b.pages {
		n := min(entPage, b.nents-pi*entPage)
		for i := range p[:n] {
			if !fn(int32(pi*entPage+i), &p[i]) {
				return
			}
		}
	}
}

// prefetch implements prefetcher: it reads key's home slot, in both tables
// while the table grows. The reads do not depend on one another, so a run
// of prefetches before a run of Puts of random keys waits for their cache
// misses together (about 300 ns a Put into a 1M-key table becomes about
// 210, see BenchmarkMemoryPrefetch).
func (b *Memory) prefetch(key []byte) uint64 {
	if len(b.slots) == 0 {
		return 0
	}
	h := b.hash(key)
	w := b.slots[b.home(h)]
	if b.old != nil {
		w += b.old[h>>32<<32>>b.oshift]
	}
	return w
}

// Get implements Backend.
//
// Hot path: no allocation; the value aliases the arena.
func (b *Memory) Get(key []byte) ([]byte, int64, bool, error) {
	if b.closed {
		return nil, 0, false, ErrClosed
	}
	_, ei := b.lookup(key, b.hash(key))
	if ei < 0 {
		return nil, 0, false, nil
	}
	e := b.ent(ei)
	return b.val(e), e.expireAt, true, nil
}

// Put implements Backend.
//
// Hot path: an overwrite that fits the value's room does not allocate,
// and neither does a new key, beyond its share of the blocks it fills:
// an entry page per 1024 entries, an arena chunk per up to 1 MiB of keys
// and values, the table's doubling, and the heap's and free list's
// growth (amortized: no allocation per key). A value that outgrows its
// room moves, which allocates only when it opens a chunk.
func (b *Memory) Put(key, val []byte, expireAt int64) error {
	_, _, err := b.put(key, val, expireAt, false, nil)
	return err
}

// putSwap implements putSwapper: Put, in one lookup, appending the
// previous value (if any) to old.
func (b *Memory) putSwap(key, val []byte, expireAt int64, old []byte) ([]byte, bool, error) {
	return b.put(key, val, expireAt, true, old)
}

func (b *Memory) put(key, val []byte, expireAt int64, swap bool, old []byte) ([]byte, bool, error) {
	if b.closed {
		return old, false, ErrClosed
	}
	if expireAt < 0 {
		return old, false, fmt.Errorf("kv: negative expiry time %d: %w", expireAt, ErrInvalid)
	}
	if uint64(len(key)) > math.MaxUint32 || uint64(len(val)) > math.MaxUint32 {
		return old, false, fmt.Errorf("kv: memory backend: %d-byte key, %d-byte value: %w", len(key), len(val), ErrTooLarge)
	}
	if b.old != nil {
		b.migrate(migrateBatch) // before lookup: it fills empty slots
	}
	h := b.hash(key)
	pos, ei := b.lookup(key, h)
	existed := ei >= 0
	if existed {
		e := b.ent(ei)
		if swap {
			old = append(old, b.val(e)...)
		}
		b.setValue(e, val)
	} else {
		if len(b.free) == 0 && b.nents >= maxEntries {
			return old, false, fmt.Errorf("kv: memory backend holds %d keys: %w", b.n, ErrTooLarge)
		}
		if b.n >= b.growAt {
			b.grow()
			pos = b.emptySlot(h)
		}
		ei = b.newEntry(key, val)
		b.slots[pos] = h>>32<<32 | uint64(ei+1)
		b.n++
	}
	e := b.ent(ei)
	switch {
	case expireAt == e.expireAt:
	case expireAt == 0:
		b.heapRemove(int(e.hidx))
		e.expireAt = 0
	case e.hidx >= 0:
		e.expireAt = expireAt
		b.heapFix(int(e.hidx))
	default:
		e.expireAt = expireAt
		b.heapPush(ei)
	}
	b.maybeCompact()
	return old, existed, nil
}

// Delete implements Backend.
func (b *Memory) Delete(key []byte) (bool, error) {
	if b.closed {
		return false, ErrClosed
	}
	if b.old != nil {
		b.migrate(migrateBatch)
	}
	pos, ei := b.lookup(key, b.hash(key))
	if ei < 0 {
		return false, nil
	}
	if h := b.ent(ei).hidx; h >= 0 {
		b.heapRemove(int(h))
	}
	b.unslot(pos)
	b.freeEntry(ei)
	b.n--
	b.maybeCompact()
	return true, nil
}

// Clear implements Backend and releases the memory.
func (b *Memory) Clear() error {
	if b.closed {
		return ErrClosed
	}
	b.reset()
	return nil
}

func (b *Memory) reset() {
	b.slots, b.old, b.pages, b.free, b.chunks, b.heap = nil, nil, nil, nil, nil, nil
	b.shift, b.oshift, b.growAt, b.moved = 0, 0, 0, 0
	b.n, b.nents, b.cur, b.used, b.live = 0, 0, 0, 0, 0
}

// Iterate implements Backend. The order is unspecified.
func (b *Memory) Iterate(fn func(key, val []byte, expireAt int64) bool) error {
	if b.closed {
		return ErrClosed
	}
	b.eachEntry(func(_ int32, e *mentry) bool {
		return e.hidx == unusedEntry || fn(b.key(e), b.val(e), e.expireAt)
	})
	return nil
}

// Len implements Backend.
func (b *Memory) Len() (int, error) {
	if b.closed {
		return 0, ErrClosed
	}
	return b.n, nil
}

// NextExpiry implements Backend.
func (b *Memory) NextExpiry() (int64, bool, error) {
	if b.closed {
		return 0, false, ErrClosed
	}
	if len(b.heap) == 0 {
		return 0, false, nil
	}
	b.metrics.IndexScanned++
	return b.ent(b.heap[0]).expireAt, true, nil
}

// Expire implements Backend: it pops due entries off the heap, O(log n)
// each, and looks at one more entry to find that it is not due. The keys
// fn sees stay in the arena until the next call.
func (b *Memory) Expire(now int64, max int, fn func(key []byte)) (int, error) {
	if b.closed {
		return 0, ErrClosed
	}
	if b.old != nil {
		b.migrate(migrateBatch)
	}
	n := 0
	for len(b.heap) > 0 && (max <= 0 || n < max) {
		b.metrics.IndexScanned++
		ei := b.heap[0]
		e := b.ent(ei)
		if e.expireAt > now {
			break
		}
		key := b.key(e)
		b.heapRemove(0)
		b.unslot(b.slotOf(ei, key))
		b.freeEntry(ei)
		b.n--
		n++
		fn(key)
	}
	b.metrics.Expired += uint64(n)
	b.maybeCompact()
	return n, nil
}

// Sync implements Backend; memory has nothing to make durable.
func (b *Memory) Sync() error {
	if b.closed {
		return ErrClosed
	}
	return nil
}

// Close implements Backend and drops the data.
func (b *Memory) Close() error {
	if b.closed {
		return ErrClosed
	}
	b.closed = true
	b.reset()
	return nil
}

// Metrics implements Backend.
func (b *Memory) Metrics() BackendMetrics { return b.metrics }

// The expiry heap: a binary min-heap of entry indices ordered by
// (expireAt, key bytes), each entry's hidx tracking its position.

func (b *Memory) heapLess(x, y int32) bool {
	ex, ey := b.ent(x), b.ent(y)
	if ex.expireAt != ey.expireAt {
		return ex.expireAt < ey.expireAt
	}
	return bytes.Compare(b.key(ex), b.key(ey)) < 0
}

func (b *Memory) heapSet(i int, ei int32) {
	b.heap[i] = ei
	b.ent(ei).hidx = int32(i)
}

// heapUp moves the entry at i towards the root while it is less than its
// parent.
func (b *Memory) heapUp(i int) {
	ei := b.heap[i]
	for i > 0 {
		p := (i - 1) / 2
		if !b.heapLess(ei, b.heap[p]) {
			break
		}
		b.heapSet(i, b.heap[p])
		i = p
	}
	b.heapSet(i, ei)
}

// heapDown moves the entry at i towards the leaves while a child is less,
// and reports whether it moved.
func (b *Memory) heapDown(i int) bool {
	ei, i0, n := b.heap[i], i, len(b.heap)
	for {
		c := 2*i + 1
		if c >= n {
			break
		}
		if r := c + 1; r < n && b.heapLess(b.heap[r], b.heap[c]) {
			c = r
		}
		if !b.heapLess(b.heap[c], ei) {
			break
		}
		b.heapSet(i, b.heap[c])
		i = c
	}
	b.heapSet(i, ei)
	return i > i0
}

func (b *Memory) heapPush(ei int32) {
	b.heap = append(b.heap, ei)
	b.heapUp(len(b.heap) - 1)
}

func (b *Memory) heapFix(i int) {
	if !b.heapDown(i) {
		b.heapUp(i)
	}
}

// heapRemove takes the entry at i out of the heap.
func (b *Memory) heapRemove(i int) {
	ei, last := b.heap[i], len(b.heap)-1
	if i != last {
		b.heapSet(i, b.heap[last])
	}
	b.heap = b.heap[:last]
	if i != last {
		b.heapFix(i)
	}
	b.ent(ei).hidx = noExpiry
}
