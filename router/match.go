package router

import (
	"encoding/binary"
	"slices"
	"sync/atomic"
	"unsafe"

	"github.com/cespare/xxhash/v2"
)

// entry is one match-cache entry: the result of matching topic against the
// snapshot of generation gen. Entries are immutable once stored; a slot is
// replaced, never edited, so readers need no lock.
type entry[S comparable] struct {
	hash  uint64
	gen   uint64
	topic string
	subs  []S // read-only; often shared with a trie node
}

// Match appends to dst every subscriber with at least one prefix of topic,
// each once, in no particular order, and returns the extended slice. topic
// may be a view into a network buffer: Match keeps no reference to it.
//
// Safe for concurrent use; lock-free: it reads the current snapshot through
// an atomic pointer, so concurrent writers never stall it, and it sees each
// Apply entirely or not at all.
//
// Hot path: a cache hit is one hash, two or three atomic loads, a comparison
// and an append; with len(dst) + len(result) <= cap(dst) it allocates nothing.
// A miss walks the trie (no allocation either, for a pre-sized dst) and then
// allocates the new cache entry.
func (r *Router[S]) Match(topic []byte, dst []S) []S {
	return r.match(r.snap.Load(), topic, dst)
}

// match is Match against the snapshot snap.
func (r *Router[S]) match(snap *snapshot[S], topic []byte, dst []S) []S {
	if len(topic) <= r.maxTopic {
		// lookup, by hand: generic code is not inlined past a small budget.
		h := xxhash.Sum64(topic)
		set := r.cache[h&r.mask : h&r.mask+2]
		e := set[0].Load()
		if e == nil || e.hash != h {
			e = set[1].Load()
		}
		if e != nil && e.hash == h && e.gen == snap.gen && sameBytes(e.topic, bytesString(topic)) {
			return append(dst, e.subs...)
		}
		return r.fill(snap, h, topic, dst)
	}
	dst, _, _ = collect(snap, topic, dst)
	return dst
}

// lookup returns the current cache entry for topic, or nil, and the topic's
// hash. The caller has checked that the cache is on and takes the topic.
// Match has its own copy of these lines.
//
// Hot path: one hash, one or two atomic loads; the topic comparison does not
// allocate.
func (r *Router[S]) lookup(snap *snapshot[S], topic []byte) (*entry[S], uint64) {
	h := xxhash.Sum64(topic)
	set := r.cache[h&r.mask : h&r.mask+2]
	e := set[0].Load()
	if e == nil || e.hash != h {
		e = set[1].Load()
	}
	if e != nil && e.hash == h && e.gen == snap.gen && sameBytes(e.topic, bytesString(topic)) {
		return e, h
	}
	return nil, h
}

// MatchString is Match for a topic held in a string. Safe for concurrent
// use; lock-free, as Match.
//
// Hot path: the string is viewed as bytes without a copy.
func (r *Router[S]) MatchString(topic string, dst []S) []S {
	if len(topic) <= r.maxTopic {
		// The address hint: a slot chosen by where the string lives, not by
		// its content, so a topic string used again costs no hash. The
		// content compare keeps it exact whatever now lives at that address.
		slot := &r.byAddr[addrHash(topic)>>r.addrShift]
		snap := r.snap.Load()
		if e := slot.Load(); e != nil && e.gen == snap.gen && sameBytes(e.topic, topic) {
			return append(dst, e.subs...)
		}
		return r.matchAddrMiss(snap, slot, topic, dst)
	}
	// Match only reads topic and copies it before keeping it, so the
	// read-only byte view of the string's memory is never written.
	return r.Match(unsafe.Slice(unsafe.StringData(topic), len(topic)), dst)
}

// addrHash mixes a string's address and length into the high bits, which
// select its address-hint slot. The address is a number here, not a
// pointer: the hint table keeps no string alive and the caller's string does
// not escape.
func addrHash(s string) uint64 {
	return (uint64(uintptr(unsafe.Pointer(unsafe.StringData(s)))) ^ uint64(len(s))<<48) * 0x9e3779b97f4a7c15
}

// matchAddrMiss is MatchString after its address hint missed: the content
// lookup (a fill on a miss), whose entry then becomes the hint.
func (r *Router[S]) matchAddrMiss(snap *snapshot[S], slot *atomic.Pointer[entry[S]], topic string, dst []S) []S {
	b := unsafe.Slice(unsafe.StringData(topic), len(topic))
	e, h := r.lookup(snap, b)
	if e == nil {
		dst = r.fill(snap, h, b, dst)
		if e, _ = r.lookup(snap, b); e != nil {
			slot.Store(e)
		}
		return dst
	}
	slot.Store(e)
	return append(dst, e.subs...)
}

// Each calls fn once for every subscriber with at least one prefix of
// topic, in no particular order. It holds no lock while calling fn, so fn
// may call any method of the router; subscribers fn adds or removes do not
// change the calls of this Each. Safe for concurrent use; lock-free, as Match.
//
// Hot path: a cache hit calls fn over the cached result itself, without a
// copy, whatever its length; a miss collects into a stack buffer (results
// of up to 16 subscribers do not allocate beyond the new cache entry).
func (r *Router[S]) Each(topic []byte, fn func(S)) {
	snap := r.snap.Load()
	var buf [16]S
	var res []S
	if len(topic) <= r.maxTopic {
		if e, h := r.lookup(snap, topic); e != nil {
			res = e.subs
		} else {
			res = r.fill(snap, h, topic, buf[:0])
		}
	} else {
		res, _, _ = collect(snap, topic, buf[:0])
	}
	for _, s := range res {
		fn(s)
	}
}

// fill computes the result for a topic that missed the cache, appends it to
// dst and stores it in the cache slot of hash h.
func (r *Router[S]) fill(snap *snapshot[S], h uint64, topic []byte, dst []S) []S {
	start := len(dst)
	dst, shared, ok := collect(snap, topic, dst)
	r.misses.Add(1)
	if !ok {
		if len(dst)-start > r.maxResult {
			return dst
		}
		shared = slices.Clone(dst[start:])
	}
	// A reader that loaded its snapshot before a writer published the next
	// one must not overwrite an entry that may already be current.
	if r.snap.Load() != snap {
		return dst
	}
	slot, t := r.victim(snap.gen, h, topic)
	if t == "" {
		t = string(topic) // copy: topic may be a view into a network buffer
	}
	slot.Store(&entry[S]{hash: h, gen: snap.gen, topic: t, subs: shared})
	return dst
}

// victim picks the slot of topic's set that fill replaces: the one that
// holds topic already (stale, or it would have hit), else an empty or stale
// one, else one chosen by a hash bit (the set has no recency to go by: a hit
// writes nothing). It also returns the old entry's copy of topic, if any, so
// that re-filling after an invalidation does not copy the topic again.
func (r *Router[S]) victim(gen, h uint64, topic []byte) (*atomic.Pointer[entry[S]], string) {
	set := r.cache[h&r.mask : h&r.mask+2]
	var free *atomic.Pointer[entry[S]]
	for i := range set {
		e := set[i].Load()
		if e != nil && e.hash == h && e.topic == string(topic) {
			return &set[i], e.topic
		}
		if free == nil && (e == nil || e.gen != gen) {
			free = &set[i]
		}
	}
	if free == nil {
		free = &set[h>>63]
	}
	return free, ""
}

// matchUncached is Match without the cache, for tests and benchmarks that
// check the trie itself.
func (r *Router[S]) matchUncached(topic []byte, dst []S) []S {
	dst, _, _ = collect(r.snap.Load(), topic, dst)
	return dst
}

// sameBytes reports whether a and b hold the same bytes. For 8 bytes and
// more it compares eight at a time inline, the last word overlapping the one
// before, so a topic of a few dozen bytes costs a handful of loads and no
// call (runtime.memequal is a call and a size dispatch).
//
// Hot path: no allocation; it only reads a and b.
func sameBytes(a, b string) bool {
	n := len(a)
	if len(b) != n {
		return false
	}
	if n < 8 {
		return a == b
	}
	x := unsafe.Slice(unsafe.StringData(a), n)
	y := unsafe.Slice(unsafe.StringData(b), n)
	for i := 0; i < n-8; i += 8 {
		if binary.LittleEndian.Uint64(x[i:]) != binary.LittleEndian.Uint64(y[i:]) {
			return false
		}
	}
	return binary.LittleEndian.Uint64(x[n-8:]) == binary.LittleEndian.Uint64(y[n-8:])
}

// bytesString views b as a string without a copy, for comparisons only:
// the view must not outlive the call that made it.
func bytesString(b []byte) string { return unsafe.String(unsafe.SliceData(b), len(b)) }

// Memo remembers the last topic matched through it and the result, for a
// stream whose consecutive messages mostly share a topic — a connection's
// frames, one publisher's events. A memo hit costs a compare of the topic
// with the remembered one and a generation check: no hash and no shared
// cache line. A memo belongs to one goroutine at a time (typically an
// event loop, for one connection): it is not safe for concurrent use. The
// zero value is ready to use.
type Memo[S comparable] struct {
	topic []byte // copy of the topic last matched
	subs  []S    // its result (a copy, owned by the memo)
	gen   uint64 // the snapshot generation the result is valid for; 0: none
}

// MatchMemo is Match through m: when topic is the one m remembers and the
// router has not changed since, it appends m's result directly; otherwise
// it matches as Match does and remembers the topic and the result (topics
// longer than the cache's CacheMaxTopic, and results longer than its
// CacheMaxResult, are not remembered).
//
// Safe for concurrent use with every other method of the router, but m
// must not be used by two goroutines at once.
//
// Hot path: a memo hit is one atomic load, a compare and an append; a miss
// costs what Match costs, plus copying the topic and the result into m
// (which allocates only while m's buffers grow).
func (r *Router[S]) MatchMemo(m *Memo[S], topic []byte, dst []S) []S {
	snap := r.snap.Load()
	if m.gen == snap.gen && sameBytes(bytesString(m.topic), bytesString(topic)) {
		return append(dst, m.subs...)
	}
	start := len(dst)
	dst = r.match(snap, topic, dst)
	if len(topic) <= r.maxTopic && len(dst)-start <= r.maxResult {
		m.topic = append(m.topic[:0], topic...)
		m.subs = append(m.subs[:0], dst[start:]...)
		m.gen = snap.gen
	} else {
		m.gen = 0
	}
	return dst
}
