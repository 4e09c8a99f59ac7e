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
// written again. So the backend notes, in memory, the hashes of the keys
// written while the filter could not rule out an earlier record (the
// suspects), and marks each index entry with the epoch of the backend
// that wrote it, a number that grows at every open. An entry of the
// current epoch whose key is no suspect is exact: Expire deletes its
// record without reading it. Every other entry (written before this open,
// when the suspects were not recorded, or by layout 2 before epochs, whose
// entries are empty) is checked by reading its record, as before.
//
// A Delete reads the record and removes its entry, and an Expire removes
// the entries it walks, so neither leaves a stale entry behind. Clear
// removes them all.
//
// The suspects are a Bloom filter (a false positive only costs a read),
// sized for suspectMinCap keys at first. Past its capacity the backend
// starts a new epoch (persisted before any entry carries it) with an empty
// filter of twice the capacity, up to suspectMaxCap keys (10 MiB): the
// entries written so far are checked by reading from then on.

// Capacities of the suspect filter, in keys (2.5 bytes each). Variables
// so tests can lower them.
var (
	suspectMinCap = 1 << 16
	suspectMaxCap = 1 << 22
)

// openEpoch starts this open's epoch: one more than the last open's,
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
	return p.setEpoch(last+1, pebble.Sync)
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
		p.epoch, p.epochVal = 0, [8]byte{}
		return fmt.Errorf("kv: cannot write the index epoch: %w", err)
	}
	p.epoch, p.epochVal = e, b
	p.forgetSuspects()
	return nil
}

// forgetSuspects empties the suspect filter; a full one is replaced by one
// of twice its capacity (up to suspectMaxCap).
func (p *Pebble) forgetSuspects() {
	switch f := p.suspects; {
	case f == nil:
	case f.added > f.capacity && f.capacity < suspectMaxCap:
		p.suspects = newBloomFilter(min(2*f.capacity, suspectMaxCap))
	default:
		clear(f.blocks)
		f.added = 0
	}
}

// noteWrite records that the key of hash h (hashKey) is about to be
// written: unless the key filter knows it has no record, an index entry of
// it may become stale.
//
// Hot path (every Put): a hash and one block of the key filter, and for a
// key that may exist one block of the suspect filter; no allocation.
func (p *Pebble) noteWrite(h uint64) {
	if p.epoch == 0 {
		return // nothing is trusted: nothing to note
	}
	p.takeFilterBuild()
	if f := p.filter.f; f != nil && !f.has(h) {
		return
	}
	if p.suspects == nil {
		p.suspects = newBloomFilter(suspectMinCap)
	}
	if p.suspects.has(h) {
		return // a key rewritten again costs no capacity
	}
	p.suspects.add(h)
	if p.suspects.added > p.suspects.capacity {
		// A failure is reported by the next commit's caller only if it
		// fails too; meanwhile nothing is trusted, which is safe.
		if err := p.setEpoch(p.epoch+1, pebble.NoSync); err != nil {
			p.logf("%v (expiry now reads every record it removes)", err)
		}
	}
}

// exactEntry reports whether the index entry of key with value val can be
// trusted to match the key's record (see above).
func (p *Pebble) exactEntry(key, val []byte) bool {
	if p.epoch == 0 || len(val) != 8 || binary.BigEndian.Uint64(val) != p.epoch {
		return false
	}
	return p.suspects == nil || !p.suspects.has(p.hashKey(key))
}
