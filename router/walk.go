package router

import (
	"encoding/binary"
	"math/bits"
	"sync"
)

// The read side of the trie: what Match does on a cache miss. It reads one
// immutable snapshot and takes no lock.

// child returns the child of n whose label is a prefix of topic[i:], or nil.
//
// Hot path: find and, for labels of up to 8 bytes with 8 bytes of topic
// left, the label check read only n and the child node, no key array and no
// label bytes; otherwise the label is compared in place (the string(...)
// conversion is only compared, so it does not allocate).
func child[S comparable](n *node[S], topic []byte, i int) *node[S] {
	if i >= len(topic) {
		return nil
	}
	// n.find, by hand for the common node of up to 8 children (find
	// itself is too large to inline).
	b := topic[i]
	var j int
	if n.big == nil {
		x := n.k8 ^ lsb8*uint64(b)
		if j = bits.TrailingZeros64((x-lsb8)&^x&msb8) >> 3; j >= len(n.kids) {
			return nil
		}
	} else {
		var ok bool
		if j, ok = n.findBig(b); !ok {
			return nil
		}
	}
	c := n.kids[j]
	l := len(c.label)
	if l == 1 {
		return c // find matched its only byte
	}
	rest := topic[i:]
	if len(rest) < l {
		return nil
	}
	if len(rest) >= 8 {
		w := binary.LittleEndian.Uint64(rest)
		if l < 8 {
			w &= 1<<(8*l) - 1
		}
		if w != c.lab || (l > 8 && string(rest[8:l]) != c.label[8:]) {
			return nil
		}
		return c
	}
	if string(rest[1:l]) != c.label[1:] {
		return nil
	}
	return c
}

// collect appends to dst every subscriber with a prefix of topic, each once.
// If ok, shared is the result as an immutable slice the cache may keep
// without a copy (one node's subscriber array, or nil for no subscriber).
//
// Hot path: with at most one subscribed prefix on the path (the common case)
// this is one walk and one append, no dedup and no allocation beyond dst's
// growth.
func collect[S comparable](snap *snapshot[S], topic []byte, dst []S) (out []S, shared []S, ok bool) {
	n := snap.root
	var first *node[S]
	i := 0
	for {
		if len(n.subs) > 0 {
			if first != nil {
				return collectDedup(snap, first, n, topic, i, dst), nil, false
			}
			first = n
		}
		c := child(n, topic, i)
		if c == nil {
			break
		}
		i += len(c.label)
		n = c
	}
	if first == nil {
		return dst, nil, true
	}
	// A one-subscriber list is usually the node's inline slot (cap 1), part
	// of the node's allocation: an entry sharing it would keep the node, and
	// through its children a whole old version of the trie, alive. Longer
	// lists are arrays of their own, holding only subscribers.
	return appendSubs(dst, first.subs), first.subs, cap(first.subs) > 1
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
func collectDedup[S comparable](snap *snapshot[S], first, n *node[S], topic []byte, i int, dst []S) []S {
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
	add := func(n *node[S]) {
		for k, id := range n.ids {
			w, b := id>>6, uint64(1)<<(id&63)
			if bits[w]&b == 0 {
				bits[w] |= b
				dst = append(dst, n.subs[k])
			}
		}
	}
	add(first)
	for {
		add(n) // first n is the second subscribed node
		c := child(n, topic, i)
		if c == nil {
			break
		}
		i += len(c.label)
		n = c
	}
	if pooled != nil {
		// Clear only the words this walk set, by walking again: cheaper
		// than clearing a bitset sized for every subscriber of the router.
		n, i = snap.root, 0
		for n != nil {
			for _, id := range n.ids {
				bits[id>>6] = 0
			}
			c := child(n, topic, i)
			if c != nil {
				i += len(c.label)
			}
			n = c
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
