package kv

import (
	"encoding/binary"
	"fmt"

	"github.com/cockroachdb/pebble/v2"
)

// Index entries Expire can trust without reading the record.
//
// A Put is a blind write, so an index entry may be stale: the key was
// written again later, with another expiry or none. Checking an entry
// costs a read of its record, and once the data outgrows the block cache
// that read loads and decompresses a data block from disk for every
// expired key: tens of µs each, most of an expiry wave's cost.
//
// Most entries cannot be stale, though: a key the key filter knows was
// never written before has exactly one record and one entry until it is
// written again, and every later write of it finds the key in the key
// filter. So the backend notes, in memory, the hashes of the keys written
// while the filter could not rule out an earlier record (the suspects),
// and marks each index entry with the epoch it was written in. An entry of
// epoch e is exact if its key is no suspect of epoch e or any later one:
// Expire deletes its record without reading it.
//
// Epochs are generations of the suspects: each has a Bloom filter of
// suspectGenKeys keys (a false positive only costs a read), and when it is
// full the next epoch begins. The suspects of the last suspectGens epochs
// are kept (about 10 MiB at most); entries of older epochs, of an earlier
// open (each open begins a new epoch and knows no earlier suspects), and
// of layout 2 before epochs (whose entries are empty) are checked by
// reading the record, as before. Epoch numbers are persisted before any
// entry carries them, so a reopened backend never reuses one.
//
// A Delete reads the record and removes its entry, and an Expire removes
// the entries it walks, so neither leaves a stale entry behind. Clear
// removes them all.

// Suspect generations: keys per epoch's filter (2.5 bytes each) and the
// number of epochs whose suspects are kept. Variables so tests can lower
// them.
var (
	suspectGenKeys = 1 << 18
	suspectGens    = 16
)

// suspectGen is the suspects of one epoch.
type suspectGen struct {
	epoch uint64
	f     *bloomFilter // nil: none yet
}

// openEpoch starts this open's epoch: one more than the last one used,
// persisted before any index entry carries it.
func (p *Pebble) openEpoch() error {
	v, ok, err := p.getMeta(metaEpoch)
	if err != nil {
		return err
	}
	var last uint64
	if ok {
		if len(v) != 8 {
			return fmt.Errorf("kv: %w: index epoch of %d bytes", ErrCorrupt, len(v))
		}
		last = binary.BigEndian.Uint64(v)
	}
	if err := p.setEpoch(last+1, pebble.Sync); err != nil {
		return err
	}
	p.suspects = append(p.suspects[:0], suspectGen{epoch: p.epoch})
	return nil
}

// setEpoch persists e as the current epoch and then uses it. Pebble
// commits in order, so an entry written after this commit survives a
// crash only if the epoch did: a reopened backend never reuses an epoch
// that marks entries. If it cannot persist e, no entry is trusted again
// until the next open.
func (p *Pebble) setEpoch(e uint64, wo *pebble.WriteOptions) error {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], e)
	if err := p.db.Set(metaEpoch, b[:], wo); err != nil {
		p.epoch, p.epochVal, p.suspects = 0, [8]byte{}, nil
		return fmt.Errorf("kv: cannot write the index epoch: %w", err)
	}
	p.epoch, p.epochVal = e, b
	return nil
}

// nextEpoch begins the next epoch with an empty suspect filter, dropping
// the oldest generation past suspectGens (its memory is reused).
func (p *Pebble) nextEpoch() {
	if err := p.setEpoch(p.epoch+1, pebble.NoSync); err != nil {
		p.logf("%v (expiry now reads every record it removes)", err)
		return
	}
	var f *bloomFilter
	if len(p.suspects) >= suspectGens {
		f = p.suspects[0].f
		n := copy(p.suspects, p.suspects[1:])
		p.suspects = p.suspects[:n]
		if f != nil {
			clear(f.blocks)
			f.added = 0
		}
	}
	p.suspects = append(p.suspects, suspectGen{epoch: p.epoch, f: f})
}

// noteWrite records that the key of hash h (hashKey) is about to be
// written: unless the key filter knows it has no record, an index entry of
// it may become stale.
//
// Hot path (every Put): one block of the key filter, and for a key that
// may exist one block of the suspect filter; no allocation.
func (p *Pebble) noteWrite(h uint64) {
	if p.epoch == 0 {
		return // nothing is trusted: nothing to note
	}
	p.takeFilterBuild()
	if f := p.filter.f; f != nil && !f.has(h) {
		return
	}
	g := &p.suspects[len(p.suspects)-1]
	if g.f == nil {
		g.f = newBloomFilter(suspectGenKeys)
	}
	if g.f.has(h) {
		return // a key rewritten again in this epoch costs no capacity
	}
	g.f.add(h)
	if g.f.added >= g.f.capacity {
		p.nextEpoch()
	}
}

// exactEntry reports whether the index entry of key with value val can be
// trusted to match the key's record (see above).
func (p *Pebble) exactEntry(key, val []byte) bool {
	if p.epoch == 0 || len(val) != 8 {
		return false
	}
	e := binary.BigEndian.Uint64(val)
	if e < p.suspects[0].epoch || e > p.epoch {
		return false // before the suspects kept (or not ours)
	}
	h := p.hashKey(key)
	for i := len(p.suspects) - 1; i >= 0 && p.suspects[i].epoch >= e; i-- {
		if f := p.suspects[i].f; f != nil && f.has(h) {
			return false
		}
	}
	return true
}

// clearSuspects forgets every suspect once no index entry is left (Clear).
func (p *Pebble) clearSuspects() {
	for _, g := range p.suspects {
		if g.f != nil {
			clear(g.f.blocks)
			g.f.added = 0
		}
	}
}
