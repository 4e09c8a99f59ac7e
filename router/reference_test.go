package router

import (
	"cmp"
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// reference is the naive model the router is checked against: a set of
// (prefix, subscriber) pairs, matched by scanning all of them.
type reference map[int]map[string]bool

func (m reference) subscribe(p string, s int) bool {
	if m[s][p] {
		return false
	}
	if m[s] == nil {
		m[s] = make(map[string]bool)
	}
	m[s][p] = true
	return true
}

func (m reference) unsubscribe(p string, s int) bool {
	if !m[s][p] {
		return false
	}
	delete(m[s], p)
	if len(m[s]) == 0 {
		delete(m, s)
	}
	return true
}

func (m reference) match(topic string) []int {
	var out []int
	for s, ps := range m {
		for p := range ps {
			if strings.HasPrefix(topic, p) {
				out = append(out, s)
				break
			}
		}
	}
	slices.Sort(out)
	return out
}

func (m reference) clone() reference {
	c := make(reference, len(m))
	for s, ps := range m {
		c[s] = make(map[string]bool, len(ps))
		for p := range ps {
			c[s][p] = true
		}
	}
	return c
}

func (m reference) pairs() int {
	n := 0
	for _, ps := range m {
		n += len(ps)
	}
	return n
}

// harness applies every operation to the reference and to several routers
// whose cache options differ (default, tiny and colliding, disabled, copies
// never cached), and checks that they agree.
type harness struct {
	t   testing.TB
	ref reference
	rs  []*Router[int]
	dst []int
	// memos, one per router, live across matches: a topic matched again
	// with no write between hits, after a write misses.
	memos []Memo[int]
	// saved holds old snapshots with the reference of their time, to check
	// that later writes never change a published snapshot.
	saved []savedSnap
}

type savedSnap struct {
	snap *snapshot[int]
	ref  reference
}

func newHarness(t testing.TB) *harness {
	h := &harness{t: t, ref: reference{}}
	for i, o := range []Options{{}, {CacheSize: 2}, {CacheSize: -1}, {CacheSize: 16, CacheMaxResult: 1, CacheMaxTopic: 3}} {
		r, err := New[int](o)
		if err != nil {
			t.Fatal(err)
		}
		if i > 0 {
			r.mu.slack = 0 // rebuild the arrays whenever a third is live
		}
		h.rs = append(h.rs, r)
	}
	return h
}

func (h *harness) subscribe(p string, s int) {
	h.t.Helper()
	want := h.ref.subscribe(p, s)
	for i, r := range h.rs {
		if got := r.Subscribe(p, s); got != want {
			h.t.Fatalf("router %d: Subscribe(%q, %d) = %v, want %v", i, p, s, got, want)
		}
	}
}

func (h *harness) unsubscribe(p string, s int) {
	h.t.Helper()
	want := h.ref.unsubscribe(p, s)
	for i, r := range h.rs {
		if got := r.Unsubscribe(p, s); got != want {
			h.t.Fatalf("router %d: Unsubscribe(%q, %d) = %v, want %v", i, p, s, got, want)
		}
	}
}

func (h *harness) apply(cs []Change[int]) {
	h.t.Helper()
	want := 0
	for _, c := range cs {
		var ok bool
		if c.Op == OpSubscribe {
			ok = h.ref.subscribe(c.Prefix, c.Sub)
		} else {
			ok = h.ref.unsubscribe(c.Prefix, c.Sub)
		}
		if ok {
			want++
		}
	}
	for i, r := range h.rs {
		if got := r.Apply(cs); got != want {
			h.t.Fatalf("router %d: Apply(%v) = %d, want %d", i, cs, got, want)
		}
	}
}

func (h *harness) removeSubscriber(s int) {
	h.t.Helper()
	want := len(h.ref[s])
	delete(h.ref, s)
	for i, r := range h.rs {
		if got := r.RemoveSubscriber(s); got != want {
			h.t.Fatalf("router %d: RemoveSubscriber(%d) = %d, want %d", i, s, got, want)
		}
	}
}

// match checks every match form of every router against the reference.
func (h *harness) match(topic string) {
	h.t.Helper()
	want := h.ref.match(topic)
	for i, r := range h.rs {
		if h.memos == nil {
			h.memos = make([]Memo[int], len(h.rs))
		}
		for form := 0; form < 6; form++ {
			var got []int
			// after appends after existing elements: for Match and a
			// memo hit into a dst with room (their inlined
			// one-subscriber hits need it), for the others into a full
			// one, to check growth too.
			room := form == 0 || form == 5
			after := func(match func(dst []int) []int) []int {
				h.dst = append(slices.Grow(h.dst[:0], 64), -1, -2)
				if !room {
					h.dst = slices.Clip(h.dst)
				}
				got := match(h.dst)
				if len(got) < 2 || got[0] != -1 || got[1] != -2 {
					h.t.Fatalf("router %d form %d: clobbered dst prefix: %v", i, form, got)
				}
				return got[2:]
			}
			switch form {
			case 0:
				got = after(func(dst []int) []int { return r.Match([]byte(topic), dst) })
			case 1:
				got = after(func(dst []int) []int { return r.MatchString(topic, dst) })
			case 2:
				r.Each([]byte(topic), func(s int) { got = append(got, s) })
			case 3:
				got = r.matchUncached([]byte(topic), nil)
			case 4, 5: // the second call hits the memo the first one filled
				got = after(func(dst []int) []int { return r.MatchMemo(&h.memos[i], []byte(topic), dst) })
			}
			got = slices.Clone(got)
			slices.Sort(got)
			if !slices.Equal(got, want) {
				h.t.Fatalf("router %d form %d: Match(%q) = %v, want %v", i, form, topic, got, want)
			}
		}
	}
}

// save records the current snapshot of the first router.
func (h *harness) save() {
	h.saved = append(h.saved, savedSnap{h.rs[0].snap.Load(), h.ref.clone()})
	if len(h.saved) > 8 {
		h.saved = h.saved[1:]
	}
}

// check verifies the saved snapshots, the trie's shape and every counter
// and per-subscriber query against the reference.
func (h *harness) check(topics []string) {
	h.t.Helper()
	for _, sv := range h.saved {
		// A snapshot whose arrays a compaction retired is no longer walked
		// (readers that find it retired move to the current one), and the
		// writer may reuse its arrays; pinned, the others must not change.
		pin := &sv.snap.arrs.pins[0].n
		pin.Add(1)
		if sv.snap.arrs.retired.Load() {
			pin.Add(-1)
			continue
		}
		for _, topic := range topics {
			got := collect(sv.snap, []byte(topic), nil)
			slices.Sort(got)
			if want := sv.ref.match(topic); !slices.Equal(got, want) {
				h.t.Fatalf("old snapshot gen %d changed: Match(%q) = %v, want %v", sv.snap.gen, topic, got, want)
			}
		}
		pin.Add(-1)
	}
	for i, r := range h.rs {
		if err := checkTrie(r); err != nil {
			h.t.Fatalf("router %d: %v", i, err)
		}
		m := r.Metrics()
		if r.Len() != h.ref.pairs() || m.Subscriptions != h.ref.pairs() || m.Subscribers != len(h.ref) {
			h.t.Fatalf("router %d: Len %d, Metrics %+v; reference has %d pairs, %d subscribers",
				i, r.Len(), m, h.ref.pairs(), len(h.ref))
		}
		for s := range 12 {
			var want []string
			for p := range h.ref[s] {
				want = append(want, p)
			}
			slices.Sort(want)
			if got := r.Prefixes(s); !slices.Equal(got, want) {
				h.t.Fatalf("router %d: Prefixes(%d) = %q, want %q", i, s, got, want)
			}
			if got := r.Count(s); got != len(want) {
				h.t.Fatalf("router %d: Count(%d) = %d, want %d", i, s, got, len(want))
			}
		}
	}
}

// checkTrie verifies the structural invariants of the current trie, that
// the snapshot's counters agree with it, and that the writer's count of
// live array elements is exact and its garbage within the compaction bound.
func checkTrie(r *Router[int]) error {
	snap := r.snap.Load()
	st := &snap.st
	if _, l := st.label(snap.root); l != 0 {
		return fmt.Errorf("root label %q", st.labelString(snap.root))
	}
	var nodes, prefixes, pairs int
	var live liveCounts
	var visit func(n uint32, key string, root bool) error
	visit = func(n uint32, key string, root bool) error {
		nodes++
		off, l := st.run(n)
		ids := st.ids[off : off+l]
		var subs []int
		for _, id := range ids {
			subs = append(subs, snap.tab.get(id))
		}
		live.words += recSize(st.kcap(n))
		live.labels += len(st.labelString(n))
		live.ids += st.scap(n)
		if l > st.scap(n) {
			return fmt.Errorf("node %q: %d subscribers, run capacity %d", key, l, st.scap(n))
		}
		if l > 0 {
			prefixes++
			pairs += l
		}
		nk := st.nkids(n)
		if nk > st.kcap(n) {
			return fmt.Errorf("node %q: %d children, capacity %d", key, nk, st.kcap(n))
		}
		if !root && l == 0 && nk < 2 {
			return fmt.Errorf("node %q: no subscribers and %d children (not compacted)", key, nk)
		}
		seenSub, seenID := make(map[int]bool, l), make(map[uint32]bool, l)
		for i, s := range subs {
			if seenSub[s] || seenID[ids[i]] {
				return fmt.Errorf("node %q: duplicate subscriber %d", key, s)
			}
			seenSub[s], seenID[ids[i]] = true, true
			if ids[i] >= snap.idLimit {
				return fmt.Errorf("node %q: id %d >= limit %d", key, ids[i], snap.idLimit)
			}
		}
		var k8 uint64
		var bm [4]uint64
		for i := range nk {
			c := st.kid(n, i)
			lab := st.labelString(c)
			if lab == "" {
				return fmt.Errorf("node %q: child %d has an empty label", key, i)
			}
			b := lab[0]
			if i > 0 && st.labelString(st.kid(n, i-1))[0] >= b {
				return fmt.Errorf("node %q: children out of order at %d", key, i)
			}
			if j, ok := st.find(n, b); !ok || j != i {
				return fmt.Errorf("node %q: find(%q) = %d, %v; want %d", key, b, j, ok, i)
			}
			if i < 8 {
				k8 |= uint64(b) << (8 * i)
			}
			bm[b>>6] |= 1 << (b & 63)
		}
		if st.kcap(n) <= 8 && st.words[n+hK8] != k8 ||
			st.kcap(n) > 8 && [4]uint64(st.words[n+hdr:n+hdr+4]) != bm {
			return fmt.Errorf("node %q: child index does not match the children (capacity %d)", key, st.kcap(n))
		}
		// find and slot, at the children's bytes, their neighbours and the
		// ends of the byte range: where an off-by-one would show.
		probe := []int{0, 255}
		for i := range nk {
			b := int(st.labelString(st.kid(n, i))[0])
			probe = append(probe, b, max(b-1, 0), min(b+1, 255))
		}
		for _, b := range probe {
			j, ok := st.find(n, byte(b))
			if ok != (bm[b>>6]&(1<<(b&63)) != 0) {
				return fmt.Errorf("node %q: find(%#x) = %d, %v", key, b, j, ok)
			}
			below := 0
			for i := range nk {
				if int(st.labelString(st.kid(n, i))[0]) < b {
					below++
				}
			}
			if j, _ := st.slot(n, byte(b)); j != below {
				return fmt.Errorf("node %q: slot(%#x) = %d, want %d", key, b, j, below)
			}
		}
		if lab := load8([]byte(st.labelString(n))); lab != st.words[n+hLab] {
			return fmt.Errorf("node %q: lab %#x, label gives %#x", key, st.words[n+hLab], lab)
		}
		for i := range nk {
			c := st.kid(n, i)
			if err := visit(c, key+st.labelString(c), false); err != nil {
				return err
			}
		}
		return nil
	}
	if err := visit(snap.root, "", true); err != nil {
		return err
	}
	if nodes != snap.nodes || prefixes != snap.prefixes || pairs != snap.pairs {
		return fmt.Errorf("counters nodes/prefixes/pairs %d/%d/%d, trie has %d/%d/%d",
			snap.nodes, snap.prefixes, snap.pairs, nodes, prefixes, pairs)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.snap.Load() != snap {
		return nil // a concurrent writer moved on: its counts are for another trie
	}
	if live != r.mu.live {
		return fmt.Errorf("live counts %+v, trie has %+v", r.mu.live, live)
	}
	w := writer{st: &r.mu.st, live: &r.mu.live, slack: r.mu.slack}
	if w.needsCompaction() {
		return fmt.Errorf("published with garbage past the bound: lengths %d/%d/%d, live %+v",
			len(r.mu.st.words), len(r.mu.st.labels), len(r.mu.st.ids), live)
	}
	// The id table names exactly the subscribers in the index.
	named := 0
	for id := range snap.idLimit { // every id below it was handed out once, so its path exists
		if snap.tab.get(id) != 0 {
			named++
		}
	}
	nonzero := 0 // subscriber 0 is the zero value, which a cleared id holds too
	for s, sst := range r.mu.subs {
		if got := snap.tab.get(sst.id); got != s {
			return fmt.Errorf("id table: id %d names %d, want %d", sst.id, got, s)
		}
		if s != 0 {
			nonzero++
		}
	}
	if named != nonzero {
		return fmt.Errorf("id table names %d subscribers, the index has %d", named, nonzero)
	}
	return nil
}

// randString returns a string of up to maxLen bytes over alphabet, which is
// small so that prefixes overlap, split and merge edges, and topics hit them.
func randString(rng *rand.Rand, maxLen int, alphabet string) string {
	b := make([]byte, rng.IntN(maxLen+1))
	for i := range b {
		b[i] = alphabet[rng.IntN(len(alphabet))]
	}
	return string(b)
}

func TestAgainstReference(t *testing.T) {
	steps := 4000
	if testing.Short() {
		steps = 1000
	}
	all := make([]byte, 256)
	for i := range all {
		all[i] = byte(i)
	}
	for i, tc := range []struct {
		alphabet string
		maxLen   int
		subs     int    // subscribers drawn from; 0 means 12
		name     string // for the subtest, instead of the alphabet
	}{
		{"abc", 2, 0, ""},
		{"abc", 4, 0, ""},
		// Wide nodes: more than 8 children switch the child index to its
		// bitmap form and back; 0x00 and 0xff are edge cases of both forms.
		{"\x00abcdefghijk\xff", 2, 0, ""},
		{"\x00abcdefghijk\xff", 4, 0, ""},
		// Wider still: child capacities of 16 to 256, whose records grow
		// and shrink between the index forms as children come and go.
		{string(all), 1, 0, "bytes 0-255"},
		{string(all), 2, 0, "bytes 0-255"},
		{string(all[60:140]), 2, 0, "bytes 60-139"},
		// Long labels and topics: the 8-byte label word and the bytes past it.
		{"ab", 12, 0, ""},
		{"a/b", 20, 0, ""},
		// Topics of every length the cache treats apart: up to 7 bytes,
		// 8-15 and 16-32 (Match's inlined lookup), over 32 (the long hash).
		{"a/b", 36, 0, ""},
		// Many subscribers per prefix: long id runs that grow past their
		// capacity, and, with more than 4096 ids, the pooled dedup bitset
		// and an id table three levels deep.
		{"ab", 5, 300, ""},
		{"ab", 5, 5000, ""},
	} {
		nsubs := cmp.Or(tc.subs, 12)
		seed := uint64(i + 1)
		name := cmp.Or(tc.name, strconv.Quote(tc.alphabet))
		t.Run(fmt.Sprintf("seed=%d/alphabet=%s/maxLen=%d/subs=%d", seed, name, tc.maxLen, nsubs), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(seed, 0x5eed))
			h := newHarness(t)
			alphabet, maxLen := tc.alphabet, tc.maxLen
			topics := make([]string, 0, 32)
			for range cap(topics) {
				topics = append(topics, randString(rng, maxLen+2, alphabet))
			}
			recent := make([]string, 16)
			n := steps
			if tc.subs > 12 {
				// Every subscriber at once first, so that ids pass 4096 at
				// the start; then fewer steps, as every result is long.
				cs := make([]Change[int], nsubs)
				for i := range cs {
					cs[i] = Change[int]{Op: OpSubscribe, Prefix: randString(rng, maxLen, alphabet), Sub: i}
				}
				h.apply(cs)
				n = steps / 8
			}
			for step := range n {
				s := rng.IntN(nsubs)
				switch k := rng.IntN(100); {
				case k < 30:
					p := randString(rng, maxLen, alphabet)
					recent[step%len(recent)] = p
					h.subscribe(p, s)
				case k < 45:
					h.unsubscribe(randString(rng, maxLen, alphabet), s)
				case k < 55:
					cs := make([]Change[int], rng.IntN(40))
					for i := range cs {
						cs[i] = Change[int]{Op: OpSubscribe, Prefix: randString(rng, maxLen, alphabet), Sub: rng.IntN(nsubs)}
						if rng.IntN(3) == 0 {
							cs[i].Op = OpUnsubscribe
						}
						if i > 0 && rng.IntN(5) == 0 {
							cs[i] = cs[rng.IntN(i)] // repeats within one batch
						}
					}
					h.apply(cs)
				case k < 57:
					h.removeSubscriber(s)
				default:
					h.match(topics[rng.IntN(len(topics))])
					h.match(randString(rng, maxLen+2, alphabet))
					// A topic under a recently subscribed prefix, so long
					// prefixes match too, not only short ones by chance.
					p := recent[rng.IntN(len(recent))]
					h.match(p + randString(rng, 3, alphabet))
					// A near miss: one byte changed, so the topic leaves a
					// long label in the middle (past its first 8 bytes too).
					if len(p) > 0 {
						b := []byte(p)
						b[rng.IntN(len(b))] = alphabet[rng.IntN(len(alphabet))]
						h.match(string(b) + randString(rng, 3, alphabet))
					}
				}
				if step%200 == 0 {
					h.check(topics)
					h.save()
				}
			}
			h.check(topics)
		})
	}
}
