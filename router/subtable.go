package router

import "unsafe"

// subTable maps dense subscriber ids to subscribers, for readers: the trie
// holds only ids, so that its arrays hold no pointers. It is a persistent
// array, a tree of fan-out 64 whose height grows with the highest id: a
// published table (every node reachable from its root) is immutable, and a
// writer copies the nodes on the path to an id it changes, once per Apply
// each. A join or a leave thus costs a few 520-byte nodes (three up to 262,144
// subscribers), not a copy of a table sized for every subscriber. A
// subscriber that leaves is cleared from the next version, so no snapshot
// published after it left refers to it.
//
// Interior nodes are tabInner and leaves tabLeaf[S], both behind
// unsafe.Pointer: a tree of one generic node type would need an interface
// or a second array in every node to hold both kinds of children.
type subTable[S comparable] struct {
	root   unsafe.Pointer // a *tabInner, or a *tabLeaf[S] at height 0; nil when empty
	height int            // interior levels above the leaves
}

const (
	tabBits = 6
	tabFan  = 1 << tabBits
	tabMask = tabFan - 1
)

// tabInner is an interior node; gen is the Apply that created it (the writer
// edits only its own).
type tabInner struct {
	gen  uint64
	kids [tabFan]unsafe.Pointer
}

// tabLeaf holds the subscribers of 64 consecutive ids.
type tabLeaf[S comparable] struct {
	gen  uint64
	subs [tabFan]S
}

// get returns the subscriber with id, which the table must hold (every id
// in the trie does). Hot path: height+1 dependent loads, one for up to 64
// subscribers.
func (t subTable[S]) get(id uint32) S {
	p := t.root
	for h := t.height; h > 0; h-- {
		p = (*tabInner)(p).kids[id>>(tabBits*h)&tabMask]
	}
	return (*tabLeaf[S])(p).subs[id&tabMask]
}

// tableWriter edits a subTable copy-on-write. It lives in the router's
// writer state.
type tableWriter[S comparable] struct {
	tab subTable[S]
}

// set makes id name s (the zero S to clear it) in the table being built by
// Apply number gen, copying the nodes on id's path that an earlier Apply
// made.
func (t *tableWriter[S]) set(gen uint64, id uint32, s S) {
	if t.tab.root == nil {
		t.tab.root = unsafe.Pointer(&tabLeaf[S]{gen: gen})
	}
	for uint64(id)>>(tabBits*(t.tab.height+1)) != 0 {
		up := &tabInner{gen: gen}
		up.kids[0] = t.tab.root
		t.tab.root, t.tab.height = unsafe.Pointer(up), t.tab.height+1
	}
	slot := &t.tab.root
	for h := t.tab.height; h > 0; h-- {
		in := (*tabInner)(*slot)
		if in.gen != gen {
			c := *in
			c.gen = gen
			in = &c
			*slot = unsafe.Pointer(in)
		}
		slot = &in.kids[id>>(tabBits*h)&tabMask]
		if *slot == nil {
			if h > 1 {
				*slot = unsafe.Pointer(&tabInner{gen: gen})
			} else {
				*slot = unsafe.Pointer(&tabLeaf[S]{gen: gen})
			}
		}
	}
	lf := (*tabLeaf[S])(*slot)
	if lf.gen != gen {
		c := *lf
		c.gen = gen
		lf = &c
		*slot = unsafe.Pointer(lf)
	}
	lf.subs[id&tabMask] = s
}
