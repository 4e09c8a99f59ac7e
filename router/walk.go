package router

import (
	"encoding/binary"
	"math/bits"
	"sync"
)

// The read side of the trie: what Match does on a cache miss. It reads one
// immutable snapshot and takes no lock.

// child returns the child of n whose label is a prefix of topic[i:], and
// the length of that label, or noNode.
//
// Hot path: the child index (k8, or the bitmap of a wide node) and, for
// labels of up to 8 bytes with 8 bytes of topic left, the label check read
// only n's record and the child's first words, not the label bytes;
// otherwise the label is compared in place (the string(...) conversion is
// only compared, so it does not allocate).
func (s *store) child(n uint32, topic []byte, i int) (uint32, int) {
	if i >= len(topic) {
		return noNode, 0
	}
	w := s.words
	h := w[n+hKids]
	b := topic[i]
	var j int
	base := n + hdr
	if h>>16&0xffff <= 8 {
		// find, by hand for the common node of up to 8 children.
		x := w[n+hK8] ^ lsb8*uint64(b)
		if j = bits.TrailingZeros64((x-lsb8)&^x&msb8) >> 3; j >= int(h&0xffff) {
			return noNode, 0
		}
	} else {
		var ok bool
		if j, ok = findBig(w[base:base+4], b); !ok {
			return noNode, 0
		}
		base += 4
	}
	c := uint32(w[base+uint32(j>>1)] >> (32 * (j & 1)))
	lw := w[c+hLabel]
	l := int(lw >> 32)
	if l == 1 {
		return c, 1 // find matched its only byte
	}
	rest := topic[i:]
	if len(rest) < l {
		return noNode, 0
	}
	var x uint64
	if len(rest) >= 8 {
		x = binary.LittleEndian.Uint64(rest)
	} else {
		x = load8(rest)
	}
	if l < 8 {
		x &= 1<<(8*l) - 1
	}
	if x != w[c+hLab] {
		return noNode, 0
	}
	if l > 8 {
		off := int(uint32(lw))
		if string(rest[8:l]) != bytesString(s.labels[off+8:off+l]) {
			return noNode, 0
		}
	}
	return c, l
}

// walk is collect with the snapshot's arrays pinned (see arrays): if a
// compaction has retired them, so that the writer may be overwriting them,
// it walks the current snapshot instead. It returns the snapshot it walked.
// hint spreads concurrent readers over the pin stripes (any bits of the
// topic's hash, or of anything else that differs between topics).
//
// Hot path: two atomic adds and a load more than collect, on a cache line
// that the writer reads only at a compaction.
func (r *Router[S]) walk(snap *snapshot[S], topic []byte, dst []S, hint uint64) ([]S, *snapshot[S]) {
	for {
		pin := &snap.arrs.pins[hint%pinStripes].n
		pin.Add(1)
		if !snap.arrs.retired.Load() {
			dst = collect(snap, topic, dst)
			pin.Add(-1)
			return dst, snap
		}
		pin.Add(-1)
		snap = r.snap.Load()
	}
}

// collect appends to dst every subscriber with a prefix of topic, each once.
// The caller must have pinned snap's arrays (walk), or own them.
//
// Hot path: with at most one subscribed prefix on the path (the common case)
// this is one walk and one append, no dedup and no allocation beyond dst's
// growth.
func collect[S comparable](snap *snapshot[S], topic []byte, dst []S) []S {
	st := &snap.st
	n := snap.root
	first := noNode
	i := 0
	for {
		if st.words[n+hSubs]>>32 != 0 {
			if first != noNode {
				return collectDedup(snap, first, n, topic, i, dst)
			}
			first = n
		}
		c, l := st.child(n, topic, i)
		if c == noNode {
			break
		}
		i += l
		n = c
	}
	if first == noNode {
		return dst
	}
	off, l := st.run(first)
	if l == 1 {
		return append(dst, snap.tab.get(st.ids[off]))
	}
	for _, id := range st.ids[off : off+l] {
		dst = append(dst, snap.tab.get(id))
	}
	return dst
}

// stackBitsWords is the size of the on-stack dedup bitset: ids below
// 64*stackBitsWords need no pooled bitset.
const stackBitsWords = 64

// collectDedup finishes collect for a topic with a second subscribed prefix
// on its path (node n, reached with topic[:i] consumed; first is the first
// one), where a subscriber may appear more than once. It deduplicates with a
// bitset over the dense subscriber ids, so its cost stays linear in the
// number of (prefix, subscriber) pairs on the path.
//
// Hot path: the bitset is on the stack for up to 4096 subscriber ids and
// pooled beyond, so a pre-sized dst means no allocation.
func collectDedup[S comparable](snap *snapshot[S], first, n uint32, topic []byte, i int, dst []S) []S {
	st := &snap.st
	var stack [stackBitsWords]uint64
	words := (int(snap.idLimit) + 63) / 64
	var bits []uint64
	var pooled *[]uint64
	if words <= len(stack) {
		bits = stack[:words]
	} else {
		pooled = snap.bits.get(words)
		bits = *pooled
	}
	add := func(n uint32) {
		off, l := st.run(n)
		for _, id := range st.ids[off : off+l] {
			w, b := id>>6, uint64(1)<<(id&63)
			if bits[w]&b == 0 {
				bits[w] |= b
				dst = append(dst, snap.tab.get(id))
			}
		}
	}
	add(first)
	for {
		add(n) // first n is the second subscribed node
		c, l := st.child(n, topic, i)
		if c == noNode {
			break
		}
		i += l
		n = c
	}
	if pooled != nil {
		// Clear only the words this walk set, by walking again: cheaper
		// than clearing a bitset sized for every subscriber of the router.
		n, i = snap.root, 0
		for n != noNode {
			off, l := st.run(n)
			for _, id := range st.ids[off : off+l] {
				bits[id>>6] = 0
			}
			var cl int
			n, cl = st.child(n, topic, i)
			i += cl
		}
		snap.bits.put(pooled)
	}
	return dst
}

// bitsPool holds dedup bitsets for routers with more than
// 64*stackBitsWords subscriber ids. Bitsets are returned all zero.
type bitsPool struct{ p sync.Pool }

func (p *bitsPool) get(words int) *[]uint64 {
	if v, _ := p.p.Get().(*[]uint64); v != nil && len(*v) >= words {
		return v
	}
	b := make([]uint64, words)
	return &b
}

func (p *bitsPool) put(b *[]uint64) { p.p.Put(b) }
