package router

import (
	"math/bits"
	"slices"
)

// node is one node of the persistent compressed radix trie. The key of a node
// is the concatenation of the labels from the root down to it; subs holds the
// subscribers whose prefix is exactly that key.
//
// A node reachable from a published snapshot is immutable. The writer builds
// the next snapshot by copying nodes along the changed paths only; a node it
// created for the snapshot under construction (gen == writer gen) is not yet
// visible to any reader, so the writer may keep editing it in place while it
// applies the rest of a batch. That keeps a 1000-change batch from copying the
// upper levels of the trie 1000 times.
//
// Layout: walks are bound by cache misses, not instructions, so everything a
// walk reads to descend one level (subs' length, k8 or big, kids, lab, label)
// is in the last 88 bytes of the node, and a node is allocated together with
// its children array and one subscriber slot right behind it (see alloc):
// the child pointer a walk follows is in the same few adjacent cache lines
// as the fields that lead to it. The child index itself (k8, or big for
// wide nodes) is in the node rather than in a separate key array.
type node[S comparable] struct {
	ids   []uint32   // dense ids of subs (parallel), for dedup in Match
	tag   uint64     // gen<<1 | ownSubs: the creating snapshot's generation
	subs  []S        // subscribers of exactly this key, each once
	k8    uint64     // first label bytes of the children, ascending, zero-padded; when big == nil
	big   *[4]uint64 // with more than 8 children: bit b set iff a child's label starts with b
	kids  []*node[S] // children, ordered by the first byte of their label
	lab   uint64     // label's first 8 bytes, little-endian, zero-padded (set by setLabel)
	label string     // edge label from the parent; "" only at the root
}

// ownSubs in a node's tag means subs and ids are private to the node, so the
// writer may edit them in place. (A node the writer created always owns its
// kids: alloc gives it its own array.)
const (
	ownSubs uint64 = 1
	ownBits        = 1 // bits of tag below the generation
)

func (n *node[S]) gen() uint64 { return n.tag >> ownBits }

func (n *node[S]) setLabel(l string) {
	n.label = l
	n.lab = load8(l)
}

// Allocation shapes: a node with room for its children and one subscriber
// in the same object. For an 8-byte S a leaf is 128 bytes, a node with up
// to 2, 4 or 8 children 144, 160 or 192: the size classes a node and a
// separate array would round up to anyway, in one allocation instead of two
// (or three).
type (
	alloc0[S comparable] struct {
		n   node[S]
		sub [1]S
	}
	alloc2[S comparable] struct {
		n    node[S]
		kids [2]*node[S]
		sub  [1]S
	}
	alloc4[S comparable] struct {
		n    node[S]
		kids [4]*node[S]
		sub  [1]S
	}
	alloc8[S comparable] struct {
		n    node[S]
		kids [8]*node[S]
		sub  [1]S
	}
)

// alloc returns a zero node whose kids (empty) has room for kidCap children
// and whose subs (empty) has room for one subscriber.
func alloc[S comparable](kidCap int) *node[S] {
	switch {
	case kidCap == 0:
		a := new(alloc0[S])
		a.n.subs = a.sub[:0]
		return &a.n
	case kidCap <= 2:
		a := new(alloc2[S])
		a.n.subs, a.n.kids = a.sub[:0], a.kids[:0]
		return &a.n
	case kidCap <= 4:
		a := new(alloc4[S])
		a.n.subs, a.n.kids = a.sub[:0], a.kids[:0]
		return &a.n
	case kidCap <= 8:
		a := new(alloc8[S])
		a.n.subs, a.n.kids = a.sub[:0], a.kids[:0]
		return &a.n
	}
	a := new(alloc0[S])
	a.n.subs, a.n.kids = a.sub[:0], make([]*node[S], 0, kidCap)
	return &a.n
}

// SWAR constants: byte-wise search in k8 without a loop.
const (
	lsb8 = 0x0101010101010101
	msb8 = 0x8080808080808080
)

// find returns the index in kids of the child whose label starts with b.
//
// Hot path: with up to 8 children a handful of ALU operations on n.k8 (the
// lowest zero byte of k8^b is exactly the first match; padding is rejected
// by the length check), beyond that a popcount rank in the bitmap
// (findBig). Neither reads the children. child has its own copy of the
// first case, as find is too large to inline.
func (n *node[S]) find(b byte) (int, bool) {
	if n.big == nil {
		x := n.k8 ^ lsb8*uint64(b)
		i := bits.TrailingZeros64((x-lsb8)&^x&msb8) >> 3
		return i, i < len(n.kids)
	}
	return n.findBig(b)
}

// findBig is find for a node with the bitmap index.
func (n *node[S]) findBig(b byte) (int, bool) {
	w := n.big[b>>6]
	bit := uint64(1) << (b & 63)
	if w&bit == 0 {
		return 0, false
	}
	i := bits.OnesCount64(w & (bit - 1))
	for k := range b >> 6 {
		i += bits.OnesCount64(n.big[k])
	}
	return i, true
}

// slot is find for the writer: if there is no child for b, it returns the
// index where one would be inserted. Like find, it reads only n.
func (n *node[S]) slot(b byte) (int, bool) {
	if i, ok := n.find(b); ok {
		return i, true
	}
	i := 0
	if n.big == nil {
		for i < len(n.kids) && byte(n.k8>>(8*i)) < b {
			i++
		}
		return i, false
	}
	for k := range b >> 6 {
		i += bits.OnesCount64(n.big[k])
	}
	return i + bits.OnesCount64(n.big[b>>6]&(1<<(b&63)-1)), false
}

// insertKid inserts c, whose label starts with b, at index j of the node n,
// which the writer created.
func (n *node[S]) insertKid(j int, b byte, c *node[S]) {
	n.kids = slices.Insert(n.kids, j, c)
	switch {
	case n.big != nil:
		bm := *n.big // published nodes may share the bitmap: copy
		bm[b>>6] |= 1 << (b & 63)
		n.big = &bm
	case len(n.kids) <= 8:
		low := n.k8 & (1<<(8*j) - 1)
		n.k8 = low | uint64(b)<<(8*j) | (n.k8&^low)<<8
	default:
		n.big = new([4]uint64)
		for _, k := range n.kids {
			n.big[k.label[0]>>6] |= 1 << (k.label[0] & 63)
		}
		n.k8 = 0
	}
}

// removeKid removes the child at index j, whose label starts with b, from
// the node n, which the writer created.
func (n *node[S]) removeKid(j int, b byte) {
	n.kids = slices.Delete(n.kids, j, j+1)
	switch {
	case n.big == nil:
		low := n.k8 & (1<<(8*j) - 1)
		n.k8 = low | n.k8>>(8*(j+1))<<(8*j)
	case len(n.kids) > 8:
		bm := *n.big
		bm[b>>6] &^= 1 << (b & 63)
		n.big = &bm
	default:
		n.big, n.k8 = nil, 0
		for i, k := range n.kids {
			n.k8 |= uint64(k.label[0]) << (8 * i)
		}
	}
}

// writer applies changes to a trie copy-on-write. It lives only while the
// router's writer mutex is held.
type writer[S comparable] struct {
	gen      uint64 // generation of the snapshot being built
	pairs    int    // (prefix, subscriber) pairs; kept by the router
	prefixes int    // number of nodes with subscribers
	nodes    int    // number of nodes, root included
}

// newNode returns a node created by w with label l, room for kidCap
// children and, if sub is true, the one subscriber s.
func (w *writer[S]) newNode(l string, kidCap int, sub bool, s S, id uint32) *node[S] {
	n := alloc[S](kidCap)
	n.tag = w.gen<<ownBits | ownSubs
	n.setLabel(l)
	if sub {
		n.subs = append(n.subs, s) // the inline slot
		n.ids = []uint32{id}
	}
	w.nodes++
	return n
}

// writable returns n itself if the writer created it for the snapshot being
// built, otherwise a copy with room for extra more children. The copy owns
// its children array and, with at most one subscriber, its subscriber slot
// (sharing them would keep n's allocation alive); a longer subscriber list
// is shared until ownSubsOf copies it.
func (w *writer[S]) writable(n *node[S], extra int) *node[S] {
	if n.gen() == w.gen {
		return n
	}
	c := alloc[S](len(n.kids) + extra)
	kids, subs := c.kids, c.subs
	*c = *n
	c.kids = append(kids, n.kids...)
	c.tag = w.gen << ownBits
	switch len(n.subs) {
	case 0:
		c.subs, c.ids = subs, nil
		c.tag |= ownSubs
	case 1:
		c.subs = append(subs, n.subs[0])
	}
	return c
}

// ownSubsOf makes n's subscriber slices private before an in-place edit.
func ownSubsOf[S comparable](n *node[S]) {
	if n.tag&ownSubs != 0 {
		return
	}
	n.subs = append(make([]S, 0, len(n.subs)+1), n.subs...)
	n.ids = append(make([]uint32, 0, len(n.ids)+1), n.ids...)
	n.tag |= ownSubs
}

// load8 returns the first 8 bytes of s (zero-padded), little-endian.
func load8(s string) uint64 {
	if len(s) >= 8 {
		// The compiler turns this into one 8-byte load.
		return uint64(s[0]) | uint64(s[1])<<8 | uint64(s[2])<<16 | uint64(s[3])<<24 |
			uint64(s[4])<<32 | uint64(s[5])<<40 | uint64(s[6])<<48 | uint64(s[7])<<56
	}
	var w uint64
	for i := len(s) - 1; i >= 0; i-- {
		w = w<<8 | uint64(s[i])
	}
	return w
}

// commonLen returns the length of the common prefix of c's label and key.
// The first 8 bytes are compared through c.lab, so a writer walking the
// trie does not touch the label's bytes (another cache miss) unless the
// label is longer than 8 bytes and they all match.
func commonLen[S comparable](c *node[S], key string) int {
	n := min(len(c.label), len(key))
	x := c.lab ^ load8(key)
	if x != 0 || n <= 8 {
		return min(n, bits.TrailingZeros64(x)/8)
	}
	i := 8
	for i < n && c.label[i] == key[i] {
		i++
	}
	return i
}

// insert adds (key, s) below n, whose own label is already consumed, and
// returns the replacement for n. The caller guarantees the pair is absent
// (the subscriber index is checked first), so insert always changes the trie.
// Labels are substrings of the caller's prefix strings: no copy is made.
func (w *writer[S]) insert(n *node[S], key string, s S, id uint32) *node[S] {
	if key == "" {
		n = w.writable(n, 0)
		ownSubsOf(n)
		if len(n.subs) == 0 {
			w.prefixes++
		}
		n.subs = append(n.subs, s)
		n.ids = append(n.ids, id)
		return n
	}
	j, ok := n.slot(key[0])
	if !ok {
		leaf := w.newNode(key, 0, true, s, id)
		w.prefixes++
		n = w.writable(n, 1)
		n.insertKid(j, key[0], leaf)
		return n
	}
	c := n.kids[j]
	l := commonLen(c, key)
	var nc *node[S]
	if l == len(c.label) {
		nc = w.insert(c, key[l:], s, id)
	} else {
		// Split c's edge at l: a middle node takes the common part and
		// becomes the parent of c (relabelled) and, unless the new key ends
		// at the split, of a new leaf. (c may be edited in place, so take
		// both labels first.)
		head, rest := c.label[:l], c.label[l:]
		tail := w.writable(c, 0)
		tail.setLabel(rest)
		mid := w.newNode(head, 2, l == len(key), s, id)
		mid.insertKid(0, rest[0], tail)
		if l < len(key) {
			leaf := w.newNode(key[l:], 0, true, s, id)
			k, _ := mid.slot(key[l])
			mid.insertKid(k, key[l], leaf)
		}
		w.prefixes++
		nc = mid
	}
	n = w.writable(n, 0)
	n.kids[j] = nc // nc's label starts with the same byte as c's: the index holds
	return n
}

// remove deletes (key, id) below n, whose own label is already consumed, and
// returns the replacement for n (not compacted: the caller does that), or nil
// if n goes away. The caller guarantees the pair is present; a missing one is
// a broken invariant.
func (w *writer[S]) remove(n *node[S], key string, id uint32) *node[S] {
	if key == "" {
		if len(n.subs) == 1 && len(n.kids) == 0 {
			// The common churn case, a leaf losing its only subscriber: the
			// node goes away, so there is nothing to copy or to look up.
			if n.ids[0] != id {
				panic("BUG: router: subscription in index but not in trie")
			}
			w.prefixes--
			w.nodes--
			return nil
		}
		i := slices.Index(n.ids, id)
		if i < 0 {
			panic("BUG: router: subscription in index but not in trie")
		}
		n = w.writable(n, 0)
		ownSubsOf(n)
		last := len(n.ids) - 1
		n.ids[i], n.subs[i] = n.ids[last], n.subs[last]
		var zero S
		n.subs[last] = zero // do not keep the removed subscriber reachable
		n.ids, n.subs = n.ids[:last], n.subs[:last]
		if last == 0 {
			w.prefixes--
		}
		return n
	}
	j, ok := n.find(key[0])
	if !ok || commonLen(n.kids[j], key) != len(n.kids[j].label) {
		panic("BUG: router: subscription in index but not in trie")
	}
	c := n.kids[j]
	nc := w.remove(c, key[len(c.label):], id)
	if nc != nil {
		nc = w.compact(nc)
	}
	n = w.writable(n, 0)
	if nc == nil {
		n.removeKid(j, key[0])
	} else {
		n.kids[j] = nc
	}
	return n
}

// compact restores the radix-trie shape of a non-root node after a removal:
// a node without subscribers disappears if it has no children and merges
// with its only child if it has one.
func (w *writer[S]) compact(n *node[S]) *node[S] {
	if len(n.subs) > 0 || len(n.kids) > 1 {
		return n
	}
	w.nodes--
	if len(n.kids) == 0 {
		return nil
	}
	k := w.writable(n.kids[0], 0)
	k.setLabel(n.label + k.label) // the one allocation a removal may need
	return k
}
