package router

import (
	"fmt"
	"math/bits"
	"slices"
	"sync"
	"sync/atomic"
)

// Router maps topic prefixes to subscribers of type S. Its zero value is not
// usable; create one with New.
//
// All methods are safe for concurrent use. Match, MatchString, Each, Len and
// Metrics never take a lock; Subscribe, Unsubscribe, Apply, RemoveSubscriber,
// Prefixes and Count serialize on a writer mutex.
type Router[S comparable] struct {
	snap      atomic.Pointer[snapshot[S]]
	sets      []cacheSet[S]              // the match cache; nil when it is disabled
	setMask   uint64                     // len(sets)-1: selects a set from a topic's hash
	byAddr    []atomic.Pointer[entry[S]] // MatchString's address hints, one per set
	addrShift uint8                      // 64 - log2(len(byAddr))
	maxTopic  int                        // longest cached topic; -1 when the cache is disabled
	fastLens  int                        // number of lengths Match looks up inline: 8 to min(maxTopic, shortTopic)
	maxResult int                        // longest copied result kept in the cache
	misses    atomic.Uint64              // cache misses that computed a result (cacheable topics)
	bits      bitsPool                   // dedup bitsets for routers with many subscribers

	// mu serializes writers and guards the subscriber index, which readers
	// never need: Match reads only the published snapshot.
	mu struct {
		sync.Mutex
		subs   map[S]*subState // every subscriber with at least one prefix
		free   []uint32        // ids of removed subscribers, reused first
		nextID uint32          // one past the highest id ever handed out
		st     store           // the trie's arrays, with room to append
		arrs   *arrays         // st's generation, which snapshots publish
		spare  store           // the arrays retired by the last compaction
		spareA *arrays         // their generation; nil if there are none
		tab    tableWriter[S]  // the id table being built
		live   liveCounts      // how much of st the current trie uses
		slack  int             // compactSlack; tests lower it
	}
}

// snapshot is an immutable view of the router: a trie root and the counters
// that belong to it. Writers publish a new one; readers load the current one
// once per call and use only it, so a call sees one consistent state.
type snapshot[S comparable] struct {
	st          store       // the arrays as published: readers index below their lengths
	tab         subTable[S] // subscribers by id
	arrs        *arrays     // st's generation: readers pin it while they walk
	root        uint32
	gen         uint64 // increases with every published snapshot; tags cache entries
	pairs       int    // (prefix, subscriber) pairs
	subscribers int
	prefixes    int // distinct prefixes with at least one subscriber
	nodes       int // trie nodes, root included
	idLimit     uint32
	bits        *bitsPool
}

// Op is the kind of a Change.
type Op uint8

const (
	// OpSubscribe adds (Prefix, Sub); it is a no-op if the pair exists.
	OpSubscribe Op = iota + 1
	// OpUnsubscribe removes (Prefix, Sub); it is a no-op if the pair is absent.
	OpUnsubscribe
)

// String returns the Op's name. Safe for concurrent use.
func (op Op) String() string {
	switch op {
	case OpSubscribe:
		return "subscribe"
	case OpUnsubscribe:
		return "unsubscribe"
	}
	return fmt.Sprintf("Op(%d)", uint8(op))
}

// Change is one subscription change for Apply.
type Change[S comparable] struct {
	Op     Op
	Prefix string
	Sub    S
}

// Metrics is a point-in-time view of a router's size.
type Metrics struct {
	Subscriptions int    // (prefix, subscriber) pairs, as Len
	Subscribers   int    // distinct subscribers
	Prefixes      int    // distinct prefixes with at least one subscriber
	Nodes         int    // trie nodes, root included
	Generation    uint64 // number of the current snapshot; each effective write adds one
	CacheMisses   uint64 // Match calls on cacheable topics that had to walk the trie
}

// New returns an empty router. It fails only if opts does not validate. The
// router keeps no reference to opts. Safe for concurrent use.
func New[S comparable](opts Options) (*Router[S], error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	opts.EnsureDefaults()
	r := &Router[S]{maxTopic: -1, maxResult: opts.CacheMaxResult}
	if n := opts.cacheSlots(); n > 0 {
		r.sets = make([]cacheSet[S], n/2)
		r.setMask = uint64(n/2 - 1)
		r.byAddr = make([]atomic.Pointer[entry[S]], n/2)
		r.addrShift = uint8(64 - bits.TrailingZeros(uint(n/2)))
		r.maxTopic = opts.CacheMaxTopic
		r.fastLens = max(0, min(r.maxTopic, shortTopic)-7)
		// Every slot starts with the blank entry (generation 0, never
		// current), so lookups need no nil check.
		blank := new(entry[S])
		for i := range r.sets {
			r.sets[i][0].Store(blank)
			r.sets[i][1].Store(blank)
			r.byAddr[i].Store(blank)
		}
	}
	r.mu.subs = make(map[S]*subState)
	r.mu.slack = compactSlack
	r.mu.arrs = new(arrays)
	w := writer{st: &r.mu.st, live: &r.mu.live}
	root := w.newRec(0, 0, 0)
	r.snap.Store(&snapshot[S]{st: r.mu.st, arrs: r.mu.arrs, root: root, gen: 1, nodes: 1, bits: &r.bits})
	return r, nil
}

// Subscribe adds the subscription (prefix, s) and reports whether it was new.
// Safe for concurrent use; it waits for other writers but never for readers.
func (r *Router[S]) Subscribe(prefix string, s S) bool {
	return r.Apply([]Change[S]{{Op: OpSubscribe, Prefix: prefix, Sub: s}}) == 1
}

// Unsubscribe removes the subscription (prefix, s) and reports whether it
// existed. Safe for concurrent use; it waits for other writers only.
func (r *Router[S]) Unsubscribe(prefix string, s S) bool {
	return r.Apply([]Change[S]{{Op: OpUnsubscribe, Prefix: prefix, Sub: s}}) == 1
}

// Apply applies changes in order as one update: readers see either none of
// them or all of them. It returns the number of changes that took effect
// (duplicate subscribes and absent unsubscribes do not), so 0 means the
// router is unchanged. It costs O(depth) per change, with the upper levels of
// the trie copied once per call rather than once per change, so large batches
// are much cheaper per change than single calls. Safe for concurrent use; it
// waits for other writers only. It panics on an unknown Op, and on a
// subscriber that is an interface value of an uncomparable type (a slice,
// a map, a func), before applying anything.
func (r *Router[S]) Apply(changes []Change[S]) int {
	for _, c := range changes {
		if c.Op != OpSubscribe && c.Op != OpUnsubscribe {
			panic("router: Apply: invalid " + c.Op.String())
		}
		// The subscriber index, a map, would panic on an uncomparable
		// subscriber halfway through the batch, with the index changed and
		// the trie not. Comparing it panics here instead.
		_ = c.Sub == c.Sub
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	w, root := r.beginLocked()
	n := 0
	for _, c := range changes {
		if r.changeLocked(&w, &root, c) {
			n++
		}
	}
	r.publishLocked(&w, root, n)
	return n
}

// RemoveSubscriber removes every subscription of s in one update and returns
// how many there were. Safe for concurrent use; it waits for other writers.
func (r *Router[S]) RemoveSubscriber(s S) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	st := r.mu.subs[s]
	if st == nil {
		return 0
	}
	w, root := r.beginLocked()
	prefixes := st.all()
	for _, p := range prefixes {
		r.changeLocked(&w, &root, Change[S]{Op: OpUnsubscribe, Prefix: p, Sub: s})
	}
	r.publishLocked(&w, root, len(prefixes))
	return len(prefixes)
}

// Prefixes returns the prefixes s is subscribed to, sorted, in a new slice
// (nil if none): for a peer, its filter. Safe for concurrent use; it takes
// the writer mutex, so it is not for per-message paths.
func (r *Router[S]) Prefixes(s S) []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	st := r.mu.subs[s]
	if st == nil {
		return nil
	}
	p := st.all()
	slices.Sort(p)
	return p
}

// Count returns the number of prefixes s is subscribed to. Safe for
// concurrent use; it takes the writer mutex.
func (r *Router[S]) Count(s S) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	if st := r.mu.subs[s]; st != nil {
		return st.len()
	}
	return 0
}

// Len returns the number of subscriptions, i.e. (prefix, subscriber) pairs.
// Safe for concurrent use; lock-free.
func (r *Router[S]) Len() int { return r.snap.Load().pairs }

// Metrics returns the router's current counters. Safe for concurrent use;
// lock-free.
func (r *Router[S]) Metrics() Metrics {
	s := r.snap.Load()
	return Metrics{
		Subscriptions: s.pairs,
		Subscribers:   s.subscribers,
		Prefixes:      s.prefixes,
		Nodes:         s.nodes,
		Generation:    s.gen,
		CacheMisses:   r.misses.Load(),
	}
}

// beginLocked starts building the snapshot after the current one.
func (r *Router[S]) beginLocked() (writer, uint32) {
	old := r.snap.Load()
	return writer{gen: old.gen + 1,
		st: &r.mu.st, live: &r.mu.live, slack: r.mu.slack,
		wStart: uint32(len(r.mu.st.words)), sStart: len(r.mu.st.ids),
		pairs: old.pairs, prefixes: old.prefixes, nodes: old.nodes,
	}, old.root
}

// changeLocked applies one change to the index and to the trie under
// construction, and reports whether it took effect. The index is consulted
// first so the trie is only touched by changes that change it.
func (r *Router[S]) changeLocked(w *writer, root *uint32, c Change[S]) bool {
	st := r.mu.subs[c.Sub]
	if c.Op == OpSubscribe {
		if st == nil {
			st = &subState{id: r.newIDLocked()}
			r.mu.subs[c.Sub] = st
			r.mu.tab.set(w.gen, st.id, c.Sub)
		}
		if !st.add(c.Prefix) {
			return false
		}
		*root = w.insert(*root, c.Prefix, st.id)
		w.pairs++
		return true
	}
	if st == nil || !st.del(c.Prefix) {
		return false
	}
	if *root = w.remove(*root, c.Prefix, st.id); *root == noNode {
		// The root was a leaf and lost its only subscriber (prefix ""):
		// the trie always has a root.
		*root = w.newRec(0, 0, 0)
		w.nodes++
	}
	w.pairs--
	if st.len() == 0 {
		var zero S
		r.mu.tab.set(w.gen, st.id, zero) // no reference to a subscriber that left
		delete(r.mu.subs, c.Sub)
		r.mu.free = append(r.mu.free, st.id)
	}
	return true
}

// publishLocked makes the trie built by w the current snapshot, unless no
// change took effect (then nothing was copied and the generation, and with
// it every cache entry, stays valid). If the arrays hold enough garbage, it
// first copies the trie into fresh ones.
func (r *Router[S]) publishLocked(w *writer, root uint32, changed int) {
	if changed == 0 {
		return
	}
	var retire *arrays
	if w.needsCompaction() {
		var spare *store
		if r.mu.spareA != nil && r.mu.spareA.idle() {
			spare = &r.mu.spare
		}
		st, newRoot, live := compactStore(&r.mu.st, spare, root, r.mu.live, r.mu.slack)
		retire = r.mu.arrs
		r.mu.spare, r.mu.spareA = r.mu.st, retire
		if !spareFits(&r.mu.spare, live, r.mu.slack) {
			// Arrays the trie outgrew or shrank away from: a spare that
			// would not be used, and perhaps a large one.
			r.mu.spare, r.mu.spareA = store{}, nil
		}
		r.mu.st, r.mu.arrs, r.mu.live, root = *st, new(arrays), live, newRoot
	}
	r.snap.Store(&snapshot[S]{
		st:          r.mu.st,
		arrs:        r.mu.arrs,
		tab:         r.mu.tab.tab,
		root:        root,
		gen:         w.gen,
		pairs:       w.pairs,
		subscribers: len(r.mu.subs),
		prefixes:    w.prefixes,
		nodes:       w.nodes,
		idLimit:     r.mu.nextID,
		bits:        &r.bits,
	})
	// Retire the old generation only now that the snapshot that replaces it
	// is published: a reader that finds it retired walks the current one.
	if retire != nil {
		retire.retired.Store(true)
	}
}

func (r *Router[S]) newIDLocked() uint32 {
	if n := len(r.mu.free); n > 0 {
		id := r.mu.free[n-1]
		r.mu.free = r.mu.free[:n-1]
		return id
	}
	if r.mu.nextID == ^uint32(0) {
		panic("router: more than 2^32-1 subscribers")
	}
	id := r.mu.nextID
	r.mu.nextID++
	return id
}

// subState is the writer-side record of one subscriber: its dense id (used
// by Match to deduplicate) and its prefixes. Few prefixes live in a slice,
// many in a map, so a local subscriber with one prefix costs a few words
// while a peer with thousands still has O(1) membership tests.
type subState struct {
	id   uint32
	list []string
	set  map[string]struct{}
}

const subStateListMax = 8

func (st *subState) len() int {
	if st.set != nil {
		return len(st.set)
	}
	return len(st.list)
}

// add records p and reports whether it was absent. The map form hashes p
// once: a lookup before the insert would double the index's share of a
// write.
func (st *subState) add(p string) bool {
	if st.set != nil {
		n := len(st.set)
		st.set[p] = struct{}{}
		return len(st.set) != n
	}
	if slices.Contains(st.list, p) {
		return false
	}
	if len(st.list) < subStateListMax {
		st.list = append(st.list, p)
		return true
	}
	st.set = make(map[string]struct{}, 2*subStateListMax)
	for _, q := range st.list {
		st.set[q] = struct{}{}
	}
	st.set[p] = struct{}{}
	st.list = nil
	return true
}

// del removes p and reports whether it was there.
func (st *subState) del(p string) bool {
	if st.set != nil {
		n := len(st.set)
		delete(st.set, p)
		return len(st.set) != n
	}
	i := slices.Index(st.list, p)
	if i < 0 {
		return false
	}
	st.list = slices.Delete(st.list, i, i+1)
	return true
}

// all returns the prefixes in a new slice, in no particular order.
func (st *subState) all() []string {
	if st.set == nil {
		return slices.Clone(st.list)
	}
	out := make([]string, 0, len(st.set))
	for p := range st.set {
		out = append(out, p)
	}
	return out
}
