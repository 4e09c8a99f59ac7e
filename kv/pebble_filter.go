package kv

import (
	"context"
	"hash/maphash"
	"math/bits"
	"sync"
	"sync/atomic"

	"github.com/cockroachdb/pebble/v2"
)

// The Pebble backend's key filter: an in-memory Bloom filter over the keys
// of every data record written, so that a lookup of a key that was never
// written (put_unique and exists of a new key, Get and Delete of a missing
// one) is answered without reading Pebble. Pebble's own filters cover its
// sstables but not its memtables, where a seek is a skiplist walk of cache
// misses: most of what a missing-key probe cost (about 3 of 5 µs).
//
// The filter is exact in the direction that matters: a key it says is
// absent has no record (every write of a record adds its key first, and a
// build covers every record of a snapshot plus every key written after the
// snapshot). A key it says may be present is looked up in Pebble as before;
// deleted keys stay in the filter until the next build.
//
// Builds run on a goroutine of their own, over a Pebble snapshot: the one
// after OpenPebble, and one whenever the keys added since the last build
// exceed its capacity (so the false-positive rate stays near 0.1–1 % and
// the bits of deleted keys are shed). Meanwhile the owner goroutine keeps
// the hashes of the keys it writes (at most filterMaxPending of them; past
// that the build is abandoned and retried later) and adds them to the new
// filter when it takes it over. Until the first build is in, every lookup
// reads Pebble.

// Filter sizing. Variables, not constants, so tests can force rebuilds.
var (
	// filterMinKeys is the smallest capacity a filter is built with.
	filterMinKeys = 1 << 16
	// filterMaxKeys bounds the keys a filter serves: a store with more
	// keys than this has no filter (2.5 bytes per key of capacity: 160 MiB
	// at the bound).
	filterMaxKeys = 1 << 26
	// filterMaxPending bounds the hashes kept while a build runs (8 bytes
	// each).
	filterMaxPending = 1 << 22
)

// filterBitsPerKey is the filter's size per key of capacity; with six
// probes in one 512-bit block the false-positive rate is about 1 % at
// capacity and well under 0.1 % at a third of it, where a build leaves it.
const filterBitsPerKey = 20

// filterGrowth sizes a build for this many times the keys there are: a
// growing store rebuilds after twice its keys were written again, so the
// scans cost about half a key read per write.
const filterGrowth = 3

// bloomFilter is a blocked Bloom filter: each key sets six bits in one
// 64-byte block (one cache line), chosen by its 64-bit hash.
type bloomFilter struct {
	blocks   [][8]uint64
	added    int // keys added, counting repeats
	capacity int // keys it is sized for
}

func newBloomFilter(capacity int) *bloomFilter {
	n := max(1, (capacity*filterBitsPerKey+511)/512)
	return &bloomFilter{blocks: make([][8]uint64, n), capacity: capacity}
}

// block returns the block of hash h and the bit-position source for it.
func (f *bloomFilter) block(h uint64) (*[8]uint64, uint64) {
	hi, _ := bits.Mul64(h, uint64(len(f.blocks)))
	return &f.blocks[hi], h * 0x9e3779b97f4a7c15
}

// add sets h's bits.
//
// Hot path: no allocation.
func (f *bloomFilter) add(h uint64) {
	b, x := f.block(h)
	for range 6 {
		b[(x>>6)&7] |= 1 << (x & 63)
		x >>= 9
	}
	f.added++
}

// has reports whether h may have been added: false means it was not.
//
// Hot path: no allocation; one cache line.
func (f *bloomFilter) has(h uint64) bool {
	b, x := f.block(h)
	for range 6 {
		if b[(x>>6)&7]&(1<<(x&63)) == 0 {
			return false
		}
		x >>= 9
	}
	return true
}

// keyFilter is the Pebble backend's filter state. Only the owner goroutine
// touches it, except result, which a build sends its filter on, and wg.
type keyFilter struct {
	seed maphash.Seed
	f    *bloomFilter // nil: no filter (not built yet, or too many keys)

	building bool          // a build is running: pending collects hashes
	pending  []uint64      // hashes of keys written since the build's snapshot
	gen      uint64        // bumped to disown a running build (Clear, abandon)
	current  atomic.Uint64 // gen, for the builds to read
	lastKeys int           // keys the last build found: the next build's guess
	retryIn  int           // writes before a build may start again; 0: now
	result   chan filterBuild
	wg       sync.WaitGroup

	// answered counts lookups the filter answered (for tests).
	answered uint64
}

// disown moves to a new generation: the result of a running build will
// be ignored.
func (kf *keyFilter) disown() {
	kf.gen++
	kf.current.Store(kf.gen)
}

// filterBuild is a finished build.
type filterBuild struct {
	f    *bloomFilter // nil: more keys than filterMaxKeys, or failed
	keys int
	gen  uint64
}

func (p *Pebble) initFilter() {
	p.filter.seed = maphash.MakeSeed()
	p.filter.result = make(chan filterBuild, 1)
	p.startFilterBuild()
}

// hashKey is the filter's hash of a user key.
func (p *Pebble) hashKey(key []byte) uint64 { return maphash.Bytes(p.filter.seed, key) }

// filterAdd records that the key of hash h (hashKey) gets a data record.
//
// Hot path: no allocation while no build runs.
func (p *Pebble) filterAdd(h uint64) {
	kf := &p.filter
	if kf.f == nil && !kf.building {
		if kf.retryIn > 0 {
			kf.retryIn--
		}
		return
	}
	if kf.f != nil {
		kf.f.add(h)
	}
	if kf.building {
		if len(kf.pending) >= filterMaxPending {
			// The build is too slow for this write rate: disown it, and
			// try again after as many writes.
			kf.building, kf.pending = false, nil
			kf.disown()
			kf.retryIn = filterMaxPending
			return
		}
		kf.pending = append(kf.pending, h)
	}
}

// absent reports whether key certainly has no data record.
//
// Hot path: no allocation; a hash and one cache line.
func (p *Pebble) absent(key []byte) bool {
	p.takeFilterBuild()
	if p.filter.f == nil || p.filter.f.has(p.hashKey(key)) {
		return false
	}
	p.filter.answered++
	return true
}

// takeFilterBuild installs a finished build, if one is in.
func (p *Pebble) takeFilterBuild() {
	kf := &p.filter
	if !kf.building {
		return
	}
	select {
	case b := <-kf.result:
		p.installFilterBuild(b)
	default:
	}
}

func (p *Pebble) installFilterBuild(b filterBuild) {
	kf := &p.filter
	if b.gen != kf.gen {
		return // disowned; a build of the current generation may follow
	}
	kf.building = false
	kf.lastKeys = b.keys
	if b.f != nil {
		for _, h := range kf.pending {
			b.f.add(h)
		}
	} else {
		kf.retryIn = max(filterMaxPending, b.keys) // too many keys or failed
	}
	kf.f, kf.pending = b.f, nil
}

// maybeRebuildFilter starts a build when the filter is due one. Call it
// only when every record written so far is committed (no group batch
// pending): the build's snapshot must hold every key added before it.
func (p *Pebble) maybeRebuildFilter() {
	kf := &p.filter
	if kf.building || p.closed || (p.group.batch != nil && !p.group.batch.Empty()) {
		return
	}
	if kf.f == nil {
		if kf.retryIn > 0 {
			return
		}
	} else if kf.f.added <= kf.f.capacity {
		return
	}
	p.startFilterBuild()
}

// startFilterBuild starts a build over a snapshot taken now.
func (p *Pebble) startFilterBuild() {
	kf := &p.filter
	kf.disown()
	kf.building, kf.pending = true, kf.pending[:0]
	snap := p.db.NewSnapshot()
	// Keys added since the last build bound the keys there are now (from
	// above: repeats and deleted keys count too), so one scan suffices.
	keys := kf.lastKeys
	if kf.f != nil {
		keys = max(keys, kf.f.added)
	}
	guess := max(filterMinKeys, filterGrowth*keys)
	gen, seed, ctx := kf.gen, kf.seed, p.ctx
	kf.wg.Go(func() {
		defer snap.Close()
		b := buildFilter(ctx, snap, seed, guess)
		b.gen = gen
		for kf.current.Load() == gen {
			select {
			case kf.result <- b:
				return
			default:
			}
			// The channel holds a disowned build's result: drop it.
			select {
			case <-kf.result:
			default:
			}
		}
		// Disowned: a late send only fills a free slot.
		select {
		case kf.result <- b:
		default:
		}
	})
}

// buildFilter adds every data key of snap to a filter sized for guess keys,
// scanning again with a larger one if the keys fill more than 3/4 of it.
func buildFilter(ctx context.Context, snap *pebble.Snapshot, seed maphash.Seed, guess int) filterBuild {
	for {
		f := newBloomFilter(min(guess, filterMaxKeys))
		n, err := scanKeys(ctx, snap, func(key []byte) {
			f.add(maphash.Bytes(seed, key))
		})
		switch {
		case err != nil || n > filterMaxKeys:
			return filterBuild{keys: n}
		case n <= f.capacity/4*3 || f.capacity == filterMaxKeys:
			f.added = n
			return filterBuild{f: f, keys: n}
		}
		guess = filterGrowth * n
	}
}

// scanKeys calls fn with the user key of every data record of snap.
func scanKeys(ctx context.Context, snap *pebble.Snapshot, fn func(key []byte)) (int, error) {
	it, err := snap.NewIter(&pebble.IterOptions{LowerBound: dataStart, UpperBound: dataEnd})
	if err != nil {
		return 0, err
	}
	n := 0
	for valid := it.First(); valid; valid = it.Next() {
		if n&4095 == 0 && ctx.Err() != nil {
			_ = it.Close()
			return n, ctx.Err()
		}
		fn(it.Key()[len(dataStart):])
		n++
	}
	return n, it.Close()
}

// clearFilter empties the filter after every key was deleted (Clear).
func (p *Pebble) clearFilter() {
	kf := &p.filter
	kf.disown() // a running build saw keys that are gone now
	kf.building, kf.pending = false, nil
	kf.lastKeys, kf.retryIn = 0, 0
	kf.f = newBloomFilter(filterMinKeys)
}
