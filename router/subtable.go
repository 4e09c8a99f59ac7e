package router

import "slices"

// subTable maps dense subscriber ids to subscribers, for readers: the trie
// holds only ids, so that its arrays hold no pointers. It is a two-level
// copy-on-write table: a published table (its top slice and every chunk it
// points to) is immutable, and a writer copies the top and the chunks it
// changes, once per Apply each. A subscriber that leaves is cleared from the
// next version, so the router keeps no reference to it once the snapshots
// that still name it are gone.
type subTable[S comparable] []*[tabChunk]S

const (
	tabBits  = 8
	tabChunk = 1 << tabBits
)

// get returns the subscriber with id. Hot path: two dependent loads.
func (t subTable[S]) get(id uint32) S { return t[id>>tabBits][id&(tabChunk-1)] }

// tableWriter edits a subTable copy-on-write. It lives in the router's
// writer state; gen numbers the Apply in progress.
type tableWriter[S comparable] struct {
	tab    subTable[S]
	topGen uint64   // the Apply that copied tab's top
	gens   []uint64 // per chunk, the Apply that copied it
}

// set makes id name s (the zero S to clear it) in the table being built by
// Apply number gen.
func (t *tableWriter[S]) set(gen uint64, id uint32, s S) {
	if t.topGen != gen {
		t.tab = slices.Clone(t.tab)
		t.topGen = gen
	}
	ci := int(id >> tabBits)
	for ci >= len(t.tab) {
		t.tab = append(t.tab, new([tabChunk]S))
		t.gens = append(t.gens, gen)
	}
	if t.gens[ci] != gen {
		c := new([tabChunk]S)
		*c = *t.tab[ci]
		t.tab[ci] = c
		t.gens[ci] = gen
	}
	t.tab[ci][id&(tabChunk-1)] = s
}
