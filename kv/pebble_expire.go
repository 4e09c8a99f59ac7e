package kv

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/cockroachdb/pebble/v2"
)

// Expiry and space reclamation of the Pebble backend: Expire walks the
// expiry index, and a background goroutine compacts the spans that
// deletions emptied.

// A requested compaction waits until deletions pause for compactQuiet, or
// at most compactMaxDelay (see PebbleOptions.CompactAfter).
const (
	compactQuiet    = 500 * time.Millisecond
	compactMaxDelay = 30 * time.Second
)

// Expire implements Backend. It walks the index from its start to the
// first entry after now (or the max-th), and deletes in one batch the
// record of each exact entry (pebble_exact.go) and of each other entry
// whose record, read, still expires at the entry's time (an entry a later
// Put made stale is just dropped); the walked index span goes with a
// single range deletion in the same batch. It stops after max entries,
// stale ones included (each is walked once).
func (p *Pebble) Expire(now int64, max int, fn func(key []byte)) (int, error) {
	if p.closed {
		return 0, ErrClosed
	}
	if err := p.flushGroup(); err != nil {
		return 0, err
	}
	from, end := p.indexFrom(), indexBound(now)
	if bytes.Compare(end, from) <= 0 {
		return 0, nil
	}
	it, err := p.db.NewIter(&pebble.IterOptions{LowerBound: from, UpperBound: end})
	if err != nil {
		return 0, err
	}
	b := p.db.NewBatch()
	defer b.Close()
	var arena []byte
	var ends []int
	walked := 0
	var dit *pebble.Iterator
	for ok := it.First(); ok; ok = it.Next() {
		// max bounds the entries examined, stale ones included: each costs
		// a record read (a disk read once the data outgrows the cache),
		// and a caller that slices a wave between other work (a master
		// between requests) needs each call's cost bounded.
		if max > 0 && walked == max {
			end = append([]byte(nil), it.Key()...)
			break
		}
		walked++
		p.scanned++
		entryAt, key, err := decodeIndexKey(it.Key())
		if err != nil {
			it.Close()
			return 0, err
		}
		v, err := it.ValueAndErr()
		if err != nil {
			it.Close()
			return 0, err
		}
		if p.exactEntry(key, v) {
			// The record expires at entryAt: delete it unread.
			p.keyBuf = appendDataKey(p.keyBuf[:0], key)
			b.Delete(p.keyBuf, nil)
			arena = append(arena, key...)
			ends = append(ends, len(arena))
			continue
		}
		p.indexReads++
		// One iterator over the data records for the whole slice: a seek
		// on it costs less than a Get, which opens the levels each time.
		if dit == nil {
			if dit, err = p.db.NewIter(&pebble.IterOptions{LowerBound: dataStart, UpperBound: dataEnd}); err != nil {
				it.Close()
				return 0, err
			}
		}
		at, ok, err := p.recordAt(dit, key) // sets p.keyBuf to the data key
		if err != nil {
			it.Close()
			dit.Close()
			return 0, err
		}
		if !ok || at != entryAt {
			continue // stale: the key was rewritten or deleted
		}
		b.Delete(p.keyBuf, nil)
		arena = append(arena, key...)
		ends = append(ends, len(arena))
	}
	err = errors.Join(it.Error(), it.Close())
	if dit != nil {
		err = errors.Join(err, dit.Close())
	}
	if err != nil {
		return 0, err
	}
	if walked == 0 {
		return 0, nil
	}
	// The walked span goes with one range deletion; the next Expire starts
	// after it, so the deletions neither overlap nor get walked again.
	b.DeleteRange(from, end, nil)
	if err := b.Commit(p.wo); err != nil {
		return 0, fmt.Errorf("kv: cannot expire: %w", err)
	}
	p.group.dirty = p.group.dirty || p.group.on
	p.dropProbe()
	p.expireFrom = append(p.expireFrom[:0], end...)
	n := len(ends)
	p.expired += uint64(n)
	p.deletedKeys(walked)
	start := 0
	for _, e := range ends {
		fn(arena[start:e:e])
		start = e
	}
	return n, nil
}

// deletedKeys counts deletions and requests a background compaction once
// CompactAfter of them have accumulated.
func (p *Pebble) deletedKeys(n int) {
	if p.opts.CompactAfter < 0 {
		return
	}
	p.deleted += n
	p.lastDelete.Store(time.Now().UnixNano())
	if p.deleted >= p.opts.CompactAfter {
		p.deleted = 0
		p.requested.Add(1)
		select {
		case p.compact <- struct{}{}:
		default: // one is pending already
		}
	}
}

func (p *Pebble) compactLoop(ctx context.Context) {
	defer close(p.done)
	for {
		select {
		case <-ctx.Done():
			return
		case <-p.compact:
		}
		// Let the deletions pause first: a compaction of the whole span
		// during a wave rewrites what the wave is still deleting, and
		// competes with it and with the writes for the CPU and the disk.
		asked := time.Now()
		for {
			quiet := compactQuiet - time.Since(time.Unix(0, p.lastDelete.Load()))
			if quiet <= 0 || time.Since(asked) >= compactMaxDelay {
				break
			}
			t := time.NewTimer(quiet)
			select {
			case <-ctx.Done():
				t.Stop()
				return
			case <-t.C:
			}
		}
		req := p.requested.Load()
		if err := p.db.Compact(ctx, dataStart, indexEnd, true); err != nil {
			if ctx.Err() != nil {
				return
			}
			p.compactionErrors.Add(1)
			p.logf("kv: compaction failed: %v", err)
		} else {
			p.compactions.Add(1)
		}
		p.completed.Store(req)
		if p.opts.compacted != nil {
			select {
			case p.opts.compacted <- struct{}{}:
			default:
			}
		}
	}
}

// Compact compacts the data and index spans now, on the calling goroutine,
// and returns when the space of deleted keys can be reclaimed (Pebble
// removes obsolete files right after). It is safe to call while the
// background compaction runs.
func (p *Pebble) Compact() error {
	if p.closed {
		return ErrClosed
	}
	if err := p.db.Compact(context.Background(), dataStart, indexEnd, true); err != nil {
		return fmt.Errorf("kv: cannot compact: %w", err)
	}
	p.compactions.Add(1)
	return nil
}
