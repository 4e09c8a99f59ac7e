package router

import (
	"encoding/binary"
	"slices"
	"sync/atomic"
	"unsafe"
)

// entry is one match-cache entry: the result of matching topic against the
// snapshot of generation gen. An entry's topic and result are immutable once
// stored, so readers need no lock: a changed result replaces the slot's
// entry, while an unchanged one only raises gen (see refresh). Empty slots hold the
// router's blank entry, whose generation 0 is never current, so a lookup
// needs no nil check.
type entry[S comparable] struct {
	hash  uint64
	gen   atomic.Uint64 // raised in place by refresh; every other field is immutable
	topic string        // a copy of the topic, in buf if it has at most shortTopic bytes
	subs  []S           // read-only: the entry's own copy
	buf   [shortTopic]byte
	one   [1]S // subs of a one-subscriber result
}

// newEntry returns an entry for topic. Its copy of the topic is in the
// entry itself when it fits, so that a miss allocates one object, not two;
// a longer topic is copied unless old, an earlier copy, is given. The
// result is copied: one subscriber into the entry itself, more into an
// array of their own.
func newEntry[S comparable](h, gen uint64, topic []byte, old string, result []S) *entry[S] {
	e := &entry[S]{hash: h}
	e.gen.Store(gen)
	switch {
	case len(result) == 0:
	case len(result) == 1:
		e.one[0] = result[0]
		e.subs = e.one[:]
	default:
		e.subs = slices.Clone(result)
	}
	switch {
	case len(topic) <= shortTopic:
		n := copy(e.buf[:], topic)
		e.topic = unsafe.String(&e.buf[0], n)
	case old != "":
		e.topic = old
	default:
		e.topic = string(topic)
	}
	return e
}

// cacheSet is a set of the match cache: two slots, adjacent in memory.
type cacheSet[S comparable] [2]atomic.Pointer[entry[S]]

// Match appends to dst every subscriber with at least one prefix of topic,
// each once, in no particular order, and returns the extended slice. topic
// may be a view into a network buffer: Match keeps no reference to it.
//
// Safe for concurrent use; lock-free: it reads the current snapshot through
// an atomic pointer, so concurrent writers never stall it, and it sees each
// Apply entirely or not at all.
//
// Hot path: a cache hit of a topic of 8 to 32 bytes is two or four loads of
// the topic, two multiplies (the hash), two or three atomic loads, a
// compare of as many words and an append, and calls nothing when the
// result has one subscriber and dst has room for it (other lengths cost a
// few calls more); with len(dst) + len(result) <= cap(dst) it allocates
// nothing. A miss walks the trie (no allocation either, for a pre-sized
// dst) and then allocates the new cache entry.
func (r *Router[S]) Match(topic []byte, dst []S) []S {
	snap := r.snap.Load()
	// One compare for 8 <= n <= min(shortTopic, maxTopic): fastLens is
	// the number of such lengths, 0 when there are none.
	if n := len(topic); uint(n-8) < uint(r.fastLens) {
		// lookup, by hand, for the common topic lengths: generic code is
		// not inlined past a small budget, and neither is words. Every
		// other case, and a miss, is match's.
		var w0, w1, w2, w3 uint64
		if n >= 16 {
			w0, w1, w2, w3 = load64(topic, 0), load64(topic, 8), load64(topic, n-16), load64(topic, n-8)
		} else {
			w0, w1 = load64(topic, 0), load64(topic, n-8)
		}
		h := cacheHash(topic)
		set := &r.sets[h&r.setMask]
		e := set[0].Load()
		if e.hash != h {
			e = set[1].Load()
		}
		// Same length and words is the same topic (words), and then the
		// same hash: e.hash need not be compared again. The entry's copy
		// is in its own buf: no pointer to follow.
		b := e.buf[:]
		if e.gen.Load() == snap.gen && len(e.topic) == n && load64(b, 0) == w0 &&
			(n >= 16 && load64(b, 8) == w1 && load64(b, n-16) == w2 && load64(b, n-8) == w3 ||
				n < 16 && load64(b, n-8) == w1) {
			// The common one-subscriber result into a dst with room:
			// no call to memmove, nor to growslice.
			if subs := e.subs; len(subs) == 1 && len(dst) < cap(dst) {
				dst = dst[:len(dst)+1]
				dst[len(dst)-1] = subs[0]
				return dst
			}
			return appendSubs(dst, e.subs)
		}
		return r.fill(snap, h, topic, dst)
	}
	return r.match(snap, topic, dst)
}

// appendSubs is append(dst, subs...) without the call to memmove for the
// common result of one subscriber.
func appendSubs[S comparable](dst, subs []S) []S {
	if len(subs) == 1 {
		return append(dst, subs[0])
	}
	return append(dst, subs...)
}

// match is Match against the snapshot snap, without Match's inlined hit
// path for short topics.
func (r *Router[S]) match(snap *snapshot[S], topic []byte, dst []S) []S {
	if len(topic) > r.maxTopic {
		dst, _ = r.walk(snap, topic, dst, uint64(len(topic)))
		return dst
	}
	e, h := r.lookup(snap, topic)
	if e == nil {
		return r.fill(snap, h, topic, dst)
	}
	return appendSubs(dst, e.subs)
}

// lookup returns the current cache entry for topic, or nil, and the topic's
// hash. The caller has checked that the cache is on and takes the topic.
// Match has its own copy of these lines.
//
// Hot path: one hash, two or three atomic loads; the topic comparison does
// not allocate.
func (r *Router[S]) lookup(snap *snapshot[S], topic []byte) (*entry[S], uint64) {
	n := len(topic)
	if n > shortTopic {
		h := cacheHash(topic)
		e := r.probe(h)
		if e.hash == h && e.gen.Load() == snap.gen && e.topic == string(topic) {
			return e, h
		}
		return nil, h
	}
	h := cacheHash(topic)
	e := r.probe(h)
	if e.hash == h && e.gen.Load() == snap.gen && sameBytes(e.topic, bytesString(topic)) {
		return e, h
	}
	return nil, h
}

// probe returns the entry of h's set whose hash is h, if there is one, else
// the set's second entry.
func (r *Router[S]) probe(h uint64) *entry[S] {
	set := &r.sets[h&r.setMask]
	if e := set[0].Load(); e.hash == h {
		return e
	}
	return set[1].Load()
}

// MatchString is Match for a topic held in a string. Safe for concurrent
// use; lock-free, as Match.
//
// Hot path: the string is viewed as bytes without a copy.
func (r *Router[S]) MatchString(topic string, dst []S) []S {
	n := len(topic)
	// Match only reads topic and copies it before keeping it, so this
	// read-only byte view of the string's memory is never written.
	b := unsafe.Slice(unsafe.StringData(topic), n)
	if n > r.maxTopic {
		return r.Match(b, dst)
	}
	// The address hint: a slot chosen by where the string lives, not by its
	// content, so a topic string used again costs no hash. The content
	// compare keeps it exact whatever now lives at that address.
	slot := &r.byAddr[addrHash(topic)>>r.addrShift]
	snap := r.snap.Load()
	if e := slot.Load(); e.gen.Load() == snap.gen && len(e.topic) == n {
		var same bool
		if uint(n-16) <= shortTopic-16 {
			// By hand, as in Match: sameBytes is not inlined.
			t := e.buf[:]
			same = load64(b, 0) == load64(t, 0) && load64(b, 8) == load64(t, 8) &&
				load64(b, n-16) == load64(t, n-16) && load64(b, n-8) == load64(t, n-8)
		} else {
			same = sameBytes(e.topic, topic)
		}
		if same {
			if subs := e.subs; len(subs) == 1 && len(dst) < cap(dst) {
				dst = dst[:len(dst)+1]
				dst[len(dst)-1] = subs[0]
				return dst
			}
			return appendSubs(dst, e.subs)
		}
	}
	return r.matchAddrMiss(snap, slot, topic, dst)
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
	return appendSubs(dst, e.subs)
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
		res, _ = r.walk(snap, topic, buf[:0], uint64(len(topic)))
	}
	for _, s := range res {
		fn(s)
	}
}

// fill computes the result for a topic that missed the cache, appends it to
// dst and stores it in the cache slot of hash h.
func (r *Router[S]) fill(snap *snapshot[S], h uint64, topic []byte, dst []S) []S {
	start := len(dst)
	dst, snap = r.walk(snap, topic, dst, h>>32)
	r.misses.Add(1)
	result := dst[start:] // copied by newEntry
	if len(result) > r.maxResult {
		return dst
	}
	// A reader that loaded its snapshot before a writer published the next
	// one must not overwrite an entry that may already be current.
	if r.snap.Load() != snap {
		return dst
	}
	slot, same, old := r.victim(snap.gen, h, topic)
	if same != nil && sameSubs(same.subs, dst[start:]) {
		refresh(same, snap.gen)
		return dst
	}
	// newEntry copies topic: it may be a view into a network buffer.
	slot.Store(newEntry(h, snap.gen, topic, old, result))
	return dst
}

// refresh raises e's generation to gen, never lowering it: e's result,
// computed for an older snapshot, is still the result for snapshot gen.
// An entry of generation g thus always holds the result for snapshot g,
// whichever of several refreshing readers wins.
//
// Every Apply invalidates the whole cache, but under churn most topics
// keep their result: a refresh costs the walk, and no allocation, no
// garbage and no new cache line for every reader to fetch.
func refresh[S comparable](e *entry[S], gen uint64) {
	for {
		g := e.gen.Load()
		if g >= gen || e.gen.CompareAndSwap(g, gen) {
			return
		}
	}
}

// sameSubs reports whether a and b hold the same subscribers in the same
// order (a result found in another order is stored anew, which is only
// slower).
func sameSubs[S comparable](a, b []S) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// victim picks the slot of topic's set that fill replaces: the one that
// holds topic already (stale, or it would have hit; then same is its
// entry), else a blank or stale one, else one chosen by a hash bit (the set
// has no recency to go by: a hit writes nothing). It also returns the old
// entry's copy of a topic longer than shortTopic, if any, so that
// re-filling after an invalidation does not copy the topic again.
func (r *Router[S]) victim(gen, h uint64, topic []byte) (slot *atomic.Pointer[entry[S]], same *entry[S], old string) {
	set := &r.sets[h&r.setMask]
	var free *atomic.Pointer[entry[S]]
	for i := range set {
		e := set[i].Load()
		eg := e.gen.Load()
		if e.hash == h && eg != 0 && e.topic == string(topic) {
			if len(topic) > shortTopic {
				return &set[i], e, e.topic
			}
			return &set[i], e, ""
		}
		if free == nil && eg != gen {
			free = &set[i]
		}
	}
	if free == nil {
		free = &set[h>>63]
	}
	return free, nil, ""
}

// matchUncached is Match without the cache, for tests and benchmarks that
// check the trie itself.
func (r *Router[S]) matchUncached(topic []byte, dst []S) []S {
	dst, _ = r.walk(r.snap.Load(), topic, dst, 0)
	return dst
}

// sameBytes reports whether a and b hold the same bytes. For 8 bytes and
// more it compares eight at a time, the last word overlapping the one
// before, so a topic of a few dozen bytes costs a handful of loads
// (runtime.memequal is a size dispatch first). MatchString and MatchMemo
// compare topics of 16 to 32 bytes by hand instead, with no call.
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
	// The hit of a topic of 16 to 32 bytes with one subscriber into a dst
	// with room calls nothing, and every other case is one call at the
	// end, so this function spills nothing to the stack.
	snap := r.snap.Load()
	if n := len(topic); m.gen == snap.gen && len(m.topic) == n && n >= 8 && len(m.subs) == 1 && len(dst) < cap(dst) {
		// sameBytes by hand (it is not inlined): eight bytes at a time,
		// the last word overlapping the one before.
		// The common 16 to 32 bytes unrolled, as in Match.
		t := m.topic
		var same bool
		if uint(n-16) <= shortTopic-16 {
			same = load64(topic, 0) == load64(t, 0) && load64(topic, 8) == load64(t, 8) &&
				load64(topic, n-16) == load64(t, n-16) && load64(topic, n-8) == load64(t, n-8)
		} else {
			i := 0
			for i < n-8 && load64(topic, i) == load64(t, i) {
				i += 8
			}
			same = i >= n-8 && load64(topic, n-8) == load64(t, n-8)
		}
		if same {
			dst = dst[:len(dst)+1]
			dst[len(dst)-1] = m.subs[0]
			return dst
		}
	}
	return r.matchMemo(m, snap, topic, dst)
}

// matchMemo is MatchMemo past its inlined hit path.
func (r *Router[S]) matchMemo(m *Memo[S], snap *snapshot[S], topic []byte, dst []S) []S {
	if m.gen == snap.gen && sameBytes(bytesString(m.topic), bytesString(topic)) {
		return appendSubs(dst, m.subs)
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
