package kv

import (
	"fmt"
	"hash/maphash"

	"github.com/cockroachdb/pebble/v2"
)

// Group commit on the Pebble backend (GroupCommitter): between BeginGroup
// and EndGroup, writes go into one batch committed at EndGroup.

// groupBatchBytes bounds a group's pending batch: past it the batch is
// committed (without sync) and a new one started, so a large group stays
// far below Pebble's large-batch threshold (half a memtable).
const groupBatchBytes = 1 << 20

// BeginGroup implements GroupCommitter: the writes until EndGroup are
// collected in one batch and committed together (one commit, and in Sync
// mode one fsync, for the group). Reads in between see them: a Get or
// Delete of a key the group wrote, and every iteration, commit the batch
// first.
func (p *Pebble) BeginGroup() {
	if p.closed || p.group.on {
		return
	}
	p.group.on, p.group.dirty, p.group.err = true, false, nil
	if p.opts.Sync == Sync {
		p.wo = pebble.NoSync // early commits within the group do not sync
	}
}

// EndGroup implements GroupCommitter: it commits the group's batch,
// making the group's writes durable in Sync mode. An error means that
// some of the group's writes may be lost (in NoSync mode, that they may
// not have been applied at all).
func (p *Pebble) EndGroup() error {
	if !p.group.on {
		return nil
	}
	err := p.flushGroup()
	p.dropProbe()
	p.group.on = false
	if err == nil {
		p.maybeRebuildFilter()
	}
	if p.opts.Sync == Sync {
		p.wo = pebble.Sync
		if err == nil && p.group.dirty {
			err = p.db.LogData(nil, pebble.Sync)
		}
	}
	if p.group.err != nil {
		err = p.group.err
	}
	p.group.err = nil
	return err
}

// setRecord adds to b the record of key (value val, expiry expireAt) and,
// with an expiry, its index entry. Blind: an older index entry of the key
// stays until expiry finds it stale (see the layout in doc.go); the write
// is noted as one that may have made an entry stale unless the key filter
// knows the key is new (pebble_exact.go).
//
// Hot path: the key and record buffers are reused; no allocation.
func (p *Pebble) setRecord(b *pebble.Batch, key, val []byte, expireAt int64) {
	h := p.hashKey(key)
	p.noteWrite(h) // before filterAdd: it asks whether the key may exist
	if expireAt != 0 {
		p.idxBuf = appendIndexKey(p.idxBuf[:0], expireAt, key)
		b.Set(p.idxBuf, p.epochVal[:], nil)
		p.indexWritten()
	}
	p.keyBuf = appendDataKey(p.keyBuf[:0], key)
	p.recBuf = appendRecord(p.recBuf[:0], expireAt, val)
	b.Set(p.keyBuf, p.recBuf, nil)
	p.filterAdd(h)
}

func (p *Pebble) groupBatch() *pebble.Batch {
	if p.group.batch == nil {
		p.group.batch = p.db.NewBatch()
	}
	return p.group.batch
}

func (p *Pebble) touch(key []byte) {
	p.group.touched[maphash.Bytes(p.group.seed, key)] = struct{}{}
}

// flushIfTouched commits the group's batch if it may hold a write of key.
func (p *Pebble) flushIfTouched(key []byte) error {
	if !p.group.on || len(p.group.touched) == 0 {
		return nil
	}
	if _, ok := p.group.touched[maphash.Bytes(p.group.seed, key)]; !ok {
		return nil
	}
	return p.flushGroup()
}

func (p *Pebble) flushIfLarge() error {
	if p.group.batch != nil && p.group.batch.Len() >= groupBatchBytes {
		return p.flushGroup()
	}
	return nil
}

// flushGroup commits the group's pending batch, if any; in Sync mode
// without syncing (EndGroup syncs). Its error is also kept for EndGroup.
func (p *Pebble) flushGroup() error {
	b := p.group.batch
	if !p.group.on || b == nil || b.Empty() {
		return nil
	}
	clear(p.group.touched)
	p.dropProbe()
	err := b.Commit(pebble.NoSync)
	b.Reset()
	if err != nil {
		err = fmt.Errorf("kv: cannot write: %w", err)
		if p.group.err == nil {
			p.group.err = err
		}
		return err
	}
	p.group.dirty = true
	return nil
}
