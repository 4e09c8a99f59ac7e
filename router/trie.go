package router

import (
	"math/bits"
	"sync/atomic"
)

// The trie lives in three append-only arrays (a store): node records in
// words, label bytes in labels, and runs of subscriber ids in ids (the
// subscribers themselves are in the snapshot's id table, subTable). A node
// is the index of its record in words, not a pointer, and none of the
// arrays holds a pointer, so the garbage collector marks a trie of any size
// as three objects instead of scanning every node, and churn makes no
// per-node garbage for it to chase.
//
// A record reachable from a published snapshot is immutable. The writer
// builds the next snapshot by appending copies of the records along the
// changed paths; a record (or subscriber run) at or beyond the lengths the
// arrays had when the current Apply began is not yet visible to any reader,
// so the writer edits it in place while it applies the rest of the batch.
// That keeps a 1000-change batch from copying the upper levels of the trie
// 1000 times. A reader indexes only below the lengths of its snapshot's
// slices, so appends beyond them (even into the same backing array) never
// race with it.
//
// The records it supersedes stay in the arrays as garbage. When the garbage
// in one array exceeds compactFactor-1 times what is live (plus some slack,
// so that small tries do not rebuild on every write), the writer copies the
// live trie into other arrays (compactStore): the ones it retired at the
// compaction before, if no reader still walks them (see arrays), else new
// ones. Nothing but snapshots refers to the arrays (cache entries copy their
// results), and a reader uses a snapshot's arrays only while it walks them.
//
// Record layout, in 64-bit words from the node's index n:
//
//	| word      | content                                                       |
//	|-----------|---------------------------------------------------------------|
//	| n+0       | k8: first label bytes of up to 8 children, ascending (SWAR)   |
//	| n+1       | lab: the label's first 8 bytes, little-endian, zero-padded    |
//	| n+2       | label: offset in labels (low 32 bits), length (high 32)       |
//	| n+3       | children (bits 0-15), child capacity (16-31), run cap (32-63) |
//	| n+4       | subscriber run: offset in ids (low 32), length (high 32)      |
//	| n+5..n+8  | with a child capacity above 8: a 256-bit first-byte bitmap    |
//	| then      | child indices, two per word (low half first)                  |
//
// A walk reads the first five words (one or two cache lines) and the child
// index: a leaf is 40 bytes, a node with up to two children 48.
const (
	hK8    = 0
	hLab   = 1
	hLabel = 2
	hKids  = 3
	hSubs  = 4
	hdr    = 5 // header words; the bitmap or the children follow
)

// noNode is the index no record has: "no child", "removed".
const noNode = ^uint32(0)

// compactFactor and compactSlack decide when a writer rebuilds the arrays:
// when one of them holds more than compactFactor times its live contents
// plus compactSlack elements (tests lower the slack per router, to rebuild
// small tries often). A rebuild, O(live), thus comes after at least as
// much garbage as the live trie, so it costs each change a constant share
// (copying about as many words as the change left behind). The fresh arrays
// have room for the threshold and half the live trie more, so that the
// writer reaches the next rebuild without outgrowing them (an append past
// the capacity copies the whole array). Factor 3 made writes 5-10% faster
// and the arrays a third larger.
const (
	compactFactor = 2
	compactSlack  = 4096
)

// store is the trie's storage. The writer's store has room to append; a
// snapshot's is the writer's as it was at publication, lengths included.
type store struct {
	words  []uint64
	labels []byte
	ids    []uint32
}

// Record field accessors. They read s's arrays; a writer's store may be
// reallocated by any append, so callers re-read through the store rather
// than keep a sub-slice.

func (s *store) nkids(n uint32) int { return int(s.words[n+hKids] & 0xffff) }
func (s *store) kcap(n uint32) int  { return int(s.words[n+hKids] >> 16 & 0xffff) }
func (s *store) scap(n uint32) int  { return int(s.words[n+hKids] >> 32) }

// label returns the offset and length of n's label in labels.
func (s *store) label(n uint32) (off, l int) {
	w := s.words[n+hLabel]
	return int(uint32(w)), int(w >> 32)
}

// labelString views n's label as a string, without a copy: the view must
// not outlive the store's labels (the writer's may move on its next append).
func (s *store) labelString(n uint32) string {
	off, l := s.label(n)
	return bytesString(s.labels[off : off+l])
}

// run returns the offset and length of n's subscriber run.
func (s *store) run(n uint32) (off, l int) {
	w := s.words[n+hSubs]
	return int(uint32(w)), int(w >> 32)
}

// kidBase returns the index of the word that holds n's first child.
func kidBase(n uint32, kcap int) uint32 {
	if kcap > 8 {
		return n + hdr + 4
	}
	return n + hdr
}

// kid returns n's j-th child.
func (s *store) kid(n uint32, j int) uint32 {
	return uint32(s.words[kidBase(n, s.kcap(n))+uint32(j>>1)] >> (32 * (j & 1)))
}

// recSize returns the number of words of a record with room for kcap
// children.
func recSize(kcap int) int {
	size := hdr + (kcap+1)/2
	if kcap > 8 {
		size += 4
	}
	return size
}

// kidCap returns the child capacity a record for n children gets: a size
// class, so that a node the writer creates can take a few more children in
// place, and one that has more than 8 has the bitmap.
func kidCap(n int) int {
	switch {
	case n == 0:
		return 0
	case n <= 2:
		return 2
	case n <= 4:
		return 4
	case n <= 8:
		return 8
	}
	return min(256, 1<<bits.Len(uint(n-1)))
}

// runCap returns the capacity a subscriber run for n subscribers gets.
func runCap(n int) int {
	if n <= 2 {
		return n
	}
	return 1 << bits.Len(uint(n-1))
}

// SWAR constants: byte-wise search in k8 without a loop.
const (
	lsb8 = 0x0101010101010101
	msb8 = 0x8080808080808080
)

// find returns the index of n's child whose label starts with b.
//
// Hot path: with up to 8 children a handful of ALU operations on the
// record's k8 (the lowest zero byte of k8^b is exactly the first match;
// padding is rejected by the length check), beyond that a popcount rank in
// the bitmap (findBig). Neither reads the children. The walk (child) has
// its own copy of the first case.
func (s *store) find(n uint32, b byte) (int, bool) {
	h := s.words[n+hKids]
	if h>>16&0xffff <= 8 {
		x := s.words[n+hK8] ^ lsb8*uint64(b)
		i := bits.TrailingZeros64((x-lsb8)&^x&msb8) >> 3
		return i, i < int(h&0xffff)
	}
	return findBig(s.words[n+hdr:n+hdr+4], b)
}

// findBig is find for a record with the bitmap bm.
func findBig(bm []uint64, b byte) (int, bool) {
	w := bm[b>>6]
	bit := uint64(1) << (b & 63)
	if w&bit == 0 {
		return 0, false
	}
	i := bits.OnesCount64(w & (bit - 1))
	for k := range b >> 6 {
		i += bits.OnesCount64(bm[k])
	}
	return i, true
}

// slot is find for the writer: if there is no child for b, it returns the
// index where one would be inserted. Like find, it reads only n's record.
func (s *store) slot(n uint32, b byte) (int, bool) {
	if i, ok := s.find(n, b); ok {
		return i, true
	}
	if s.kcap(n) <= 8 {
		i, k8, nk := 0, s.words[n+hK8], s.nkids(n)
		for i < nk && byte(k8>>(8*i)) < b {
			i++
		}
		return i, false
	}
	bm := s.words[n+hdr : n+hdr+4]
	i := 0
	for k := range b >> 6 {
		i += bits.OnesCount64(bm[k])
	}
	return i + bits.OnesCount64(bm[b>>6]&(1<<(b&63)-1)), false
}

// load8 returns the first 8 bytes of b (zero-padded), little-endian.
func load8(b []byte) uint64 {
	if len(b) >= 8 {
		return load64(b, 0)
	}
	var w uint64
	for i := len(b) - 1; i >= 0; i-- {
		w = w<<8 | uint64(b[i])
	}
	return w
}

// writer applies changes to the trie copy-on-write. It lives only while the
// router's writer mutex is held, and works on the router's store.
type writer struct {
	gen      uint64 // the generation of the snapshot being built
	st       *store
	live     *liveCounts
	slack    int    // compactSlack, or a test's
	wStart   uint32 // records at or beyond this index are the writer's own
	sStart   int    // id runs at or beyond this offset are the writer's own
	pairs    int    // (prefix, subscriber) pairs; kept by the router
	prefixes int    // number of nodes with subscribers
	nodes    int    // number of nodes, root included
}

// liveCounts is how much of each array of the writer's store the current
// trie uses; the rest is garbage that compaction drops.
type liveCounts struct {
	words, labels, ids int
}

// owned reports whether the writer created record n in this Apply.
func (w *writer) owned(n uint32) bool { return n >= w.wStart }

// newRec appends a record with the label at off, l in labels, room for
// kcap children, no children and no subscribers.
func (w *writer) newRec(off, l, kcap int) uint32 {
	st := w.st
	n := uint32(len(st.words))
	if uint64(n)+uint64(recSize(kcap)) > uint64(noNode) {
		panic("router: trie larger than 2^32 words")
	}
	size := recSize(kcap)
	st.words = append(st.words, make([]uint64, size)...)
	st.words[n+hKids] = uint64(kcap) << 16
	w.setLabel(n, off, l)
	w.live.words += size
	w.live.labels += l
	return n
}

// setLabel sets n's label to the bytes at off, l in labels.
func (w *writer) setLabel(n uint32, off, l int) {
	st := w.st
	st.words[n+hLabel] = uint64(off) | uint64(l)<<32
	st.words[n+hLab] = load8(st.labels[off : off+l])
}

// appendLabel copies the bytes of parts into labels and returns their offset
// and total length.
func (w *writer) appendLabel(parts ...string) (off, l int) {
	off = len(w.st.labels)
	for _, p := range parts {
		w.st.labels = append(w.st.labels, p...)
	}
	if len(w.st.labels) > int(^uint32(0)) {
		panic("router: labels larger than 4 GiB")
	}
	return off, len(w.st.labels) - off
}

// newLeaf appends a leaf labelled key with the one subscriber s.
func (w *writer) newLeaf(key string, id uint32) uint32 {
	off, l := w.appendLabel(key)
	n := w.newRec(off, l, 0)
	w.addSub(n, id)
	w.nodes++
	return n
}

// free drops record n from the live trie (it is removed, or replaced by a
// copy that takes over its label and run).
func (w *writer) free(n uint32, keepsLabelAndRun bool) {
	w.live.words -= recSize(w.st.kcap(n))
	if !keepsLabelAndRun {
		_, l := w.st.label(n)
		w.live.labels -= l
		w.live.ids -= w.st.scap(n)
	}
}

// writable returns n itself if the writer created it in this Apply and it
// has room for extra more children, otherwise a copy that does. The copy
// shares n's subscriber run, which ownRun copies before an edit.
func (w *writer) writable(n uint32, extra int) uint32 {
	st := w.st
	nk := st.nkids(n)
	if w.owned(n) && nk+extra <= st.kcap(n) {
		return n
	}
	off, l := st.label(n)
	c := w.newRec(off, l, kidCap(nk+extra))
	w.live.labels -= l // shared with n, which goes
	copyBody(st, st, c, n)
	st.words[c+hKids] |= st.words[n+hKids] &^ 0xffffffff // the run's capacity
	st.words[c+hSubs] = st.words[n+hSubs]
	w.free(n, true)
	return c
}

// copyBody copies the children and the child index of record n in src into
// record c of dst, which has room for them and none yet, converting the
// index between k8 and the bitmap if the two capacities need different ones.
func copyBody(dst, src *store, c, n uint32) {
	nk, kc := src.nkids(n), dst.kcap(c)
	for j := range nk {
		dst.setKid(c, j, src.kid(n, j))
	}
	dst.words[c+hKids] = dst.words[c+hKids]&^0xffff | uint64(nk)
	var k8 uint64
	var bm [4]uint64
	if src.kcap(n) <= 8 {
		k8 = src.words[n+hK8]
		for j := range nk {
			b := byte(k8 >> (8 * j))
			bm[b>>6] |= 1 << (b & 63)
		}
	} else {
		copy(bm[:], src.words[n+hdr:n+hdr+4])
		j := 0
		for k, word := range bm {
			for ; word != 0 && j < 8; j++ {
				b := k<<6 | bits.TrailingZeros64(word)
				k8 |= uint64(b) << (8 * j)
				word &= word - 1
			}
		}
	}
	if kc <= 8 {
		dst.words[c+hK8] = k8
	} else {
		copy(dst.words[c+hdr:c+hdr+4], bm[:])
	}
}

// setKid sets n's j-th child to c.
func (s *store) setKid(n uint32, j int, c uint32) {
	p := &s.words[kidBase(n, s.kcap(n))+uint32(j>>1)]
	sh := 32 * (j & 1)
	*p = *p&^(0xffffffff<<sh) | uint64(c)<<sh
}

// insertKid inserts c, whose label starts with b, at index j of n, which
// the writer owns and which has room for it.
func (w *writer) insertKid(n uint32, j int, b byte, c uint32) {
	st := w.st
	nk := st.nkids(n)
	for k := nk; k > j; k-- {
		st.setKid(n, k, st.kid(n, k-1))
	}
	st.setKid(n, j, c)
	st.words[n+hKids]++
	if st.kcap(n) > 8 {
		st.words[n+hdr+uint32(b>>6)] |= 1 << (b & 63)
		return
	}
	k8 := st.words[n+hK8]
	low := k8 & (1<<(8*j) - 1)
	st.words[n+hK8] = low | uint64(b)<<(8*j) | (k8&^low)<<8
}

// removeKid removes the child at index j, whose label starts with b, from
// n, which the writer owns.
func (w *writer) removeKid(n uint32, j int, b byte) {
	st := w.st
	nk := st.nkids(n)
	for k := j; k < nk-1; k++ {
		st.setKid(n, k, st.kid(n, k+1))
	}
	st.setKid(n, nk-1, 0)
	st.words[n+hKids]--
	if st.kcap(n) > 8 {
		st.words[n+hdr+uint32(b>>6)] &^= 1 << (b & 63)
		return
	}
	k8 := st.words[n+hK8]
	low := k8 & (1<<(8*j) - 1)
	st.words[n+hK8] = low | k8>>(8*(j+1))<<(8*j)
}

// ownRun makes n's subscriber run the writer's own, with room for extra
// more subscribers, before an in-place edit. n must be the writer's own.
func (w *writer) ownRun(n uint32, extra int) {
	st := w.st
	off, l := st.run(n)
	if off >= w.sStart && l+extra <= st.scap(n) {
		return
	}
	c := runCap(l + extra)
	noff := len(st.ids)
	if noff+c > int(^uint32(0)) {
		panic("router: more than 2^32 subscriber slots")
	}
	st.ids = append(st.ids, st.ids[off:off+l]...)
	for range c - l {
		st.ids = append(st.ids, 0)
	}
	w.live.ids += c - st.scap(n)
	st.words[n+hKids] = st.words[n+hKids]&0xffffffff | uint64(c)<<32
	st.words[n+hSubs] = uint64(noff) | uint64(l)<<32
}

// addSub appends id to the run of n, which the writer owns.
func (w *writer) addSub(n uint32, id uint32) {
	w.ownRun(n, 1)
	st := w.st
	off, l := st.run(n)
	st.ids[off+l] = id
	st.words[n+hSubs] += 1 << 32
}

// commonLen returns the length of the common prefix of c's label and key.
// The first 8 bytes are compared through the record's lab, so a writer
// walking the trie does not touch the label's bytes unless the label is
// longer than 8 bytes and they all match.
func (w *writer) commonLen(c uint32, key string) int {
	st := w.st
	off, l := st.label(c)
	n := min(l, len(key))
	x := st.words[c+hLab] ^ load8(stringBytes(key))
	if x != 0 || n <= 8 {
		return min(n, bits.TrailingZeros64(x)/8)
	}
	i := 8
	for i < n && st.labels[off+i] == key[i] {
		i++
	}
	return i
}

// insert adds (key, id) below n, whose own label is already consumed, and
// returns the replacement for n. The caller guarantees the pair is absent
// (the subscriber index is checked first), so insert always changes the trie.
func (w *writer) insert(n uint32, key string, id uint32) uint32 {
	st := w.st
	if key == "" {
		n = w.writable(n, 0)
		if _, l := st.run(n); l == 0 {
			w.prefixes++
		}
		w.addSub(n, id)
		return n
	}
	j, ok := st.slot(n, key[0])
	if !ok {
		leaf := w.newLeaf(key, id)
		w.prefixes++
		n = w.writable(n, 1)
		w.insertKid(n, j, key[0], leaf)
		return n
	}
	c := st.kid(n, j)
	l := w.commonLen(c, key)
	var nc uint32
	if off, cl := st.label(c); l == cl {
		nc = w.insert(c, key[l:], id)
	} else {
		// Split c's edge at l: a middle node takes the common part and
		// becomes the parent of c (relabelled) and, unless the new key ends
		// at the split, of a new leaf. Both labels are parts of c's: no
		// bytes are copied.
		tail := w.writable(c, 0)
		w.setLabel(tail, off+l, cl-l)
		mid := w.newRec(off, l, 2)
		w.live.labels -= l // tail's label lost the l bytes mid took
		w.nodes++
		if l == len(key) {
			w.addSub(mid, id)
		}
		w.insertKid(mid, 0, st.labels[off+l], tail)
		if l < len(key) {
			leaf := w.newLeaf(key[l:], id)
			k, _ := st.slot(mid, key[l])
			w.insertKid(mid, k, key[l], leaf)
		}
		w.prefixes++
		nc = mid
	}
	n = w.writable(n, 0)
	st.setKid(n, j, nc) // nc's label starts with the same byte as c's: the index holds
	return n
}

// remove deletes (key, id) below n, whose own label is already consumed, and
// returns the replacement for n (not compacted: the caller does that), or
// noNode if n goes away. The caller guarantees the pair is present; a
// missing one is a broken invariant.
func (w *writer) remove(n uint32, key string, id uint32) uint32 {
	st := w.st
	if key == "" {
		off, l := st.run(n)
		if l == 1 && st.nkids(n) == 0 {
			// The common churn case, a leaf losing its only subscriber: the
			// node goes away, so there is nothing to copy or to look up.
			if st.ids[off] != id {
				panic("BUG: router: subscription in index but not in trie")
			}
			w.prefixes--
			w.nodes--
			w.free(n, false)
			return noNode
		}
		i := -1
		for k, x := range st.ids[off : off+l] {
			if x == id {
				i = k
				break
			}
		}
		if i < 0 {
			panic("BUG: router: subscription in index but not in trie")
		}
		n = w.writable(n, 0)
		w.ownRun(n, 0)
		off, _ = st.run(n)
		st.ids[off+i] = st.ids[off+l-1]
		st.words[n+hSubs] -= 1 << 32
		if l == 1 {
			w.prefixes--
		}
		return n
	}
	j, ok := st.find(n, key[0])
	if !ok {
		panic("BUG: router: subscription in index but not in trie")
	}
	c := st.kid(n, j)
	_, cl := st.label(c)
	if w.commonLen(c, key) != cl {
		panic("BUG: router: subscription in index but not in trie")
	}
	nc := w.remove(c, key[cl:], id)
	if nc != noNode {
		nc = w.compact(nc)
	}
	n = w.writable(n, 0)
	if nc == noNode {
		w.removeKid(n, j, key[0])
	} else {
		st.setKid(n, j, nc)
	}
	return n
}

// compact restores the radix-trie shape of a non-root node after a removal:
// a node without subscribers disappears if it has no children and merges
// with its only child if it has one.
func (w *writer) compact(n uint32) uint32 {
	st := w.st
	if _, l := st.run(n); l > 0 || st.nkids(n) > 1 {
		return n
	}
	w.nodes--
	if st.nkids(n) == 0 {
		w.free(n, false)
		return noNode
	}
	k := w.writable(st.kid(n, 0), 0)
	_, kl := st.label(k)
	off, l := w.appendLabel(st.labelString(n), st.labelString(k))
	w.live.labels += l - kl
	w.setLabel(k, off, l)
	w.free(n, false)
	return k
}

// needsCompaction reports whether the writer's store holds enough garbage
// for a rebuild.
func (w *writer) needsCompaction() bool {
	st, lv := w.st, w.live
	return len(st.words) > compactFactor*lv.words+w.slack ||
		len(st.labels) > compactFactor*lv.labels+w.slack ||
		len(st.ids) > compactFactor*lv.ids+w.slack
}

// compactStore copies the trie at root in src into a store and returns it,
// the new root and the live counts (equal to the new arrays' lengths). The
// store's arrays are spare's, emptied, if they have room for the garbage
// the writer may append before the next rebuild (and not several times
// that: a router that shrank gives memory back), or else new. src is not
// modified.
func compactStore(src, spare *store, root uint32, lv liveCounts, slack int) (*store, uint32, liveCounts) {
	room := func(n int) int { return arrayRoom(n, slack) }
	var dst *store
	if spare != nil && spareFits(spare, lv, slack) {
		dst = &store{words: spare.words[:0], labels: spare.labels[:0], ids: spare.ids[:0]}
	} else {
		dst = &store{
			words:  make([]uint64, 0, room(lv.words)),
			labels: make([]byte, 0, room(lv.labels)),
			ids:    make([]uint32, 0, room(lv.ids)),
		}
	}
	newRoot := copyTree(dst, src, root)
	return dst, newRoot, liveCounts{words: len(dst.words), labels: len(dst.labels), ids: len(dst.ids)}
}

// arrayRoom is the capacity new arrays get for n live elements: room for
// the next rebuild's threshold and half of n more.
func arrayRoom(n, slack int) int { return compactFactor*n + n/2 + 2*slack }

// spareFits reports whether st's arrays can take a trie of lv: room for the
// rebuild threshold and a quarter of the live trie more, and not more than
// twice what new ones would get (a router that shrank gives memory back).
func spareFits(st *store, lv liveCounts, slack int) bool {
	fits := func(c, n int) bool { return compactFactor*n+n/4+slack <= c && c <= 2*arrayRoom(n, slack) }
	return fits(cap(st.words), lv.words) && fits(cap(st.labels), lv.labels) && fits(cap(st.ids), lv.ids)
}

// copyTree appends a copy of the subtree at n in src to dst, with no spare
// room in records or runs, and returns the copy's index.
func copyTree(dst, src *store, n uint32) uint32 {
	nk := src.nkids(n)
	kc := kidCap(nk)
	c := uint32(len(dst.words))
	dst.words = append(dst.words, make([]uint64, recSize(kc))...)
	lab := src.labelString(n)
	off := len(dst.labels)
	dst.labels = append(dst.labels, lab...)
	dst.words[c+hLab] = src.words[n+hLab]
	dst.words[c+hLabel] = uint64(off) | uint64(len(lab))<<32
	soff, sl := src.run(n)
	roff := len(dst.ids)
	dst.ids = append(dst.ids, src.ids[soff:soff+sl]...)
	dst.words[c+hSubs] = uint64(roff) | uint64(sl)<<32
	dst.words[c+hKids] = uint64(kc)<<16 | uint64(sl)<<32
	copyBody(dst, src, c, n)
	for j := range nk {
		dst.setKid(c, j, copyTree(dst, src, src.kid(n, j)))
	}
	return c
}

// arrays is one generation of the trie's arrays: those a compaction
// allocated (or reused) and the writer appended to until the next one. Its
// readers pin it for a walk, so that the writer knows when it may overwrite
// them: a compaction retires the current generation, and a later one
// reuses its backing arrays (instead of allocating, which would make the
// collector run for the writer's garbage) once no walk pins it.
//
// The protocol is Dekker's, on sequentially consistent atomics. A reader
// adds a pin, then loads retired; the writer stores retired, then (at the
// next compaction) loads the pins. If the reader saw retired unset, its pin
// was in place before the writer looked, and the writer does not reuse the
// arrays; if it saw retired set, it unpins and walks the current snapshot
// instead. A generation once retired is never used again: reused backing
// arrays get a new arrays value.
type arrays struct {
	pins    [pinStripes]pinStripe
	retired atomic.Bool
}

// pinStripes spreads concurrent readers' pins over cache lines, so that
// readers on different cores walking at once do not contend on one line.
const pinStripes = 8

type pinStripe struct {
	n atomic.Int32
	_ [60]byte
}

// idle reports whether no walk pins a. Only meaningful once a is retired:
// then no new pin can last.
func (a *arrays) idle() bool {
	for i := range a.pins {
		if a.pins[i].n.Load() != 0 {
			return false
		}
	}
	return true
}
