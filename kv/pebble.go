package kv

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/maphash"
	"log"
	"sync/atomic"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/bloom"
	"github.com/cockroachdb/pebble/v2/vfs"
)

// SyncMode says when a Pebble write is acknowledged.
type SyncMode uint8

const (
	// Sync acknowledges a write (Put, Delete, Clear, Expire — so Exec and
	// ApplyUpdate) only after it is durable: the write-ahead log is fsynced
	// before the call returns. Every acknowledged write survives a process
	// crash, an OS crash and a power loss. Pebble groups concurrent commits
	// into one fsync, but a Store is single-owner, so expect one fsync per
	// write: disk-bound (hundreds to a few thousand writes/s on an SSD).
	Sync SyncMode = iota
	// NoSync acknowledges a write once it is applied in memory and queued
	// for the write-ahead log. A clean Close keeps everything; a process
	// crash can lose the writes still queued in Pebble's WAL writer; an OS
	// crash or power loss can lose everything since the last Backend.Sync
	// (or Store.Sync). Orders of magnitude faster than Sync.
	NoSync
)

func (m SyncMode) String() string {
	switch m {
	case Sync:
		return "sync"
	case NoSync:
		return "nosync"
	}
	return fmt.Sprintf("syncmode(%d)", uint8(m))
}

// Defaults of PebbleOptions.
const (
	DefaultCacheSize    = 32 << 20 // 32 MiB
	DefaultMemTableSize = 4 << 20  // 4 MiB
	DefaultCompactAfter = 100_000
)

// PebbleOptions configure a Pebble backend. The zero value (plus Dir) means
// the defaults.
type PebbleOptions struct {
	// Dir is the database directory; it is created if missing. Required
	// unless FS is set (an in-memory FS may use "").
	Dir string
	// FS is the file system; default vfs.Default (the OS). Tests pass
	// vfs.NewMem() or vfs.NewCrashableMem().
	FS vfs.FS
	// Sync is the durability mode; default Sync (see SyncMode).
	Sync SyncMode
	// CacheSize is Pebble's block cache size in bytes; default 32 MiB.
	// Pebble charges its memtables (up to 2 × MemTableSize) to this cache,
	// so it must exceed 2 × MemTableSize + 1 MiB; Pebble's own default of
	// 8 MiB next to 4 MiB memtables leaves nothing for blocks, and every
	// read goes to the file system.
	CacheSize int64
	// MemTableSize is Pebble's memtable size in bytes; default 4 MiB.
	// Larger memtables mean fewer, larger L0 files and less compaction
	// per write; the write-ahead log files Pebble recycles, and the
	// memory held by memtables waiting for a flush (up to four), grow
	// with it.
	MemTableSize uint64
	// CompactAfter: once this many keys have been deleted (by Expire,
	// Delete or Clear) since the last compaction, the backend compacts the
	// data and index spans in a background goroutine, so the space of
	// expired keys and their tombstones is given back to the file system
	// soon after an expiry wave instead of whenever Pebble's own
	// heuristics get to it. The compaction waits until deletions pause for
	// half a second (at most 30 s), so that it does not compete with the
	// wave it cleans up after. Default DefaultCompactAfter (100,000);
	// negative disables it (Compact still works).
	CompactAfter int
	// Logf receives Pebble's log lines and the backend's own (a failed
	// background compaction). Default: errors only, to the standard
	// library log package; Pebble's informational lines are dropped.
	Logf func(format string, args ...any)

	// compacted, if set (tests), receives a value after each background
	// compaction, without blocking.
	compacted chan struct{}
}

// EnsureDefaults fills in zero fields with their defaults.
func (o *PebbleOptions) EnsureDefaults() {
	if o.FS == nil {
		o.FS = vfs.Default
	}
	if o.CacheSize == 0 {
		o.CacheSize = DefaultCacheSize
	}
	if o.MemTableSize == 0 {
		o.MemTableSize = DefaultMemTableSize
	}
	if o.CompactAfter == 0 {
		o.CompactAfter = DefaultCompactAfter
	}
}

// Validate reports an option out of range.
func (o *PebbleOptions) Validate() error {
	switch {
	case o.Dir == "" && o.FS == vfs.Default:
		return errors.New("kv: PebbleOptions.Dir is required")
	case o.Sync > NoSync:
		return fmt.Errorf("kv: unknown sync mode %d", o.Sync)
	case o.MemTableSize < 64<<10:
		return fmt.Errorf("kv: MemTableSize %d < 64 KiB", o.MemTableSize)
	case o.CacheSize < int64(2*o.MemTableSize)+1<<20:
		return fmt.Errorf("kv: CacheSize %d must exceed 2 × MemTableSize + 1 MiB (%d)", o.CacheSize, 2*o.MemTableSize+1<<20)
	}
	return nil
}

type pebbleLogger struct {
	logf func(string, ...any)
	info bool // pass Infof on
}

func (l pebbleLogger) Infof(format string, args ...any) {
	if l.info {
		l.logf(format, args...)
	}
}

func (l pebbleLogger) Errorf(format string, args ...any) { l.logf(format, args...) }
func (l pebbleLogger) Fatalf(format string, args ...any) {
	l.logf(format, args...)
	panic(fmt.Sprintf("pebble: fatal: "+format, args...)) // Pebble does not expect Fatalf to return
}

// Pebble is the persistent backend on Pebble. Data records and an expiry
// index live in separate keyspaces (see doc.go); every write is one atomic
// batch that updates the record and its index entry together, so a
// reopened database is consistent at any crash point.
//
// Threading: not safe for concurrent use (see Backend), except that a
// background goroutine it owns runs compactions; Close stops it.
type Pebble struct {
	db     *pebble.DB
	opts   PebbleOptions
	wo     *pebble.WriteOptions
	closed bool

	// The group commit (BeginGroup/EndGroup): writes go into one batch,
	// committed at EndGroup, or earlier when a read needs a key it
	// touched (touched holds hashes of the keys written; a collision only
	// costs an early commit) or the batch outgrows groupBatchBytes.
	group struct {
		on      bool
		batch   *pebble.Batch
		dirty   bool // something was committed without sync in this group
		err     error
		touched map[uint64]struct{}
		seed    maphash.Seed
		probe   *pebble.Iterator // probe's iterator, reused within a group
	}

	keyBuf, idxBuf, recBuf, getBuf []byte
	// expireFrom: every index entry before it has been removed (an
	// Expire's range deletion); empty: none known. Expire and NextExpiry
	// start there instead of walking the deleted span's tombstones again.
	// A write of an index entry before it (a clock gone back) clears it.
	expireFrom []byte
	probeOpts  pebble.IterOptions

	scanned, expired uint64
	indexReads       uint64 // records read to check an index entry
	deleted          int    // keys deleted since the last compaction request

	// Exact index entries (pebble_exact.go): this open's epoch (0: trust
	// no entry), its encoding, and the hashes of the keys written since
	// it began that may have made an entry stale.
	epoch    uint64
	epochVal [8]byte
	suspects []suspectGen // the last epochs' suspects, oldest first

	compactions, compactionErrors atomic.Uint64
	lastDelete                    atomic.Int64    // unix ns of the last deletion counted
	requested, completed          atomic.Uint64   // compaction requests made; the last one a finished compaction covers
	compact                       chan struct{}   // capacity 1: a pending request
	ctx                           context.Context // done at Close
	cancel                        context.CancelFunc

	filter keyFilter // see pebble_filter.go
	stalls *writeStalls
	done   chan struct{}
}

// OpenPebble opens (or creates) a Pebble backend.
func OpenPebble(opts PebbleOptions) (*Pebble, error) {
	opts.EnsureDefaults()
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	po := &pebble.Options{
		// Four memtables before writes stall rather than Pebble's two: on a
		// busy machine a flush can lag a burst of writes by tens of ms.
		MemTableStopWritesThreshold: 4,
		// Stall writes at 48 L0 sublevels rather than Pebble's 12: an
		// expiry wave's deletions and a burst of writes can outrun L0
		// compactions for a few seconds on a busy machine, and a stall
		// holds the store master for hundreds of ms (its turn waits in
		// the commit). Reads pay for the extra L0 files meanwhile.
		L0StopWritesThreshold: 48,
		// Compact L0 at 16 sublevels rather than 4: with random keys every
		// L0 file overlaps all of the base level, so each L0 compaction
		// rewrites it whole, and four times the L0 data per compaction
		// quarters that rewriting. CPU per remote put across the nodes of
		// weir-bench store: 14 µs at 4, 11 at 8, 10 at 16 (put_unique 19,
		// 15, 12). (8 MiB memtables took off about one more µs, but doubled
		// the write-ahead log files Pebble keeps for recycling.) Reads of
		// keys the key filter cannot rule out check more files.
		L0CompactionThreshold: 16,
		// Sync the write-ahead log in the background every 512 KiB: a
		// memtable rotation fsyncs the old log inside the commit that
		// triggered it, which then waits for every byte not yet synced
		// (up to a memtable's worth, tens of ms on a busy disk).
		WALBytesPerSync:    512 << 10,
		FS:                 opts.FS,
		CacheSize:          opts.CacheSize,
		MemTableSize:       opts.MemTableSize,
		FormatMajorVersion: pebble.FormatNewest,
	}
	// Every write reads its key first (to keep the index and the count
	// exact); bloom filters let a read of a missing key skip the tables.
	for i := range po.Levels {
		po.Levels[i].FilterPolicy = bloom.FilterPolicy(10)
		po.Levels[i].FilterType = pebble.TableFilter
	}
	if opts.Logf != nil {
		po.Logger = pebbleLogger{logf: opts.Logf, info: true}
	} else {
		po.Logger = pebbleLogger{logf: log.Printf}
	}
	stalls := new(writeStalls)
	po.EventListener = &pebble.EventListener{
		WriteStallBegin: func(info pebble.WriteStallBeginInfo) { stalls.begin(po.Logger, info.Reason) },
		WriteStallEnd:   func() { stalls.end(po.Logger) },
	}
	db, err := pebble.Open(opts.Dir, po)
	if err != nil {
		return nil, fmt.Errorf("kv: cannot open pebble: %w", err)
	}
	p := &Pebble{db: db, opts: opts, wo: pebble.Sync, compact: make(chan struct{}, 1), done: make(chan struct{}), stalls: stalls}
	p.group.seed = maphash.MakeSeed()
	p.probeOpts = pebble.IterOptions{LowerBound: dataStart, UpperBound: dataEnd, UseL6Filters: true}
	p.group.touched = make(map[uint64]struct{})
	if opts.Sync == NoSync {
		p.wo = pebble.NoSync
	}
	if err := p.load(); err != nil {
		db.Close()
		return nil, err
	}
	if err := p.openEpoch(); err != nil {
		db.Close()
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	p.ctx, p.cancel = ctx, cancel
	p.initFilter()
	go p.compactLoop(ctx)
	return p, nil
}

// load checks the layout version: it writes it into a new database and
// upgrades a layout 1 database.
func (p *Pebble) load() error {
	v, ok, err := p.getMeta(metaVersion)
	switch {
	case err != nil:
		return err
	case !ok:
		var b [4]byte
		binary.BigEndian.PutUint32(b[:], pebbleFormat)
		if err := p.db.Set(metaVersion, b[:], pebble.Sync); err != nil {
			return fmt.Errorf("kv: cannot write format version: %w", err)
		}
	case len(v) == 4 && binary.BigEndian.Uint32(v) == 1:
		// Layout 1 kept a key count and an exact index: a valid layout 2
		// once the count is gone.
		b := p.db.NewBatch()
		defer b.Close()
		var f [4]byte
		binary.BigEndian.PutUint32(f[:], pebbleFormat)
		b.Delete(metaCountV1, nil)
		b.Set(metaVersion, f[:], nil)
		if err := b.Commit(pebble.Sync); err != nil {
			return fmt.Errorf("kv: cannot upgrade layout 1: %w", err)
		}
	case len(v) != 4 || binary.BigEndian.Uint32(v) != pebbleFormat:
		return fmt.Errorf("kv: %w: unsupported layout version %x", ErrCorrupt, v)
	}
	return nil
}

func (p *Pebble) getMeta(k []byte) ([]byte, bool, error) {
	v, closer, err := p.db.Get(k)
	if errors.Is(err, pebble.ErrNotFound) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("kv: cannot read %q: %w", k, err)
	}
	v = append([]byte(nil), v...)
	return v, true, closer.Close()
}

// record reads the data record of key into p.getBuf.
func (p *Pebble) record(key []byte) (at int64, val []byte, ok bool, err error) {
	p.keyBuf = appendDataKey(p.keyBuf[:0], key)
	r, closer, err := p.db.Get(p.keyBuf)
	if errors.Is(err, pebble.ErrNotFound) {
		return 0, nil, false, nil
	}
	if err != nil {
		return 0, nil, false, err
	}
	p.getBuf = append(p.getBuf[:0], r...)
	if err := closer.Close(); err != nil {
		return 0, nil, false, err
	}
	at, val, err = decodeRecord(p.getBuf)
	return at, val, err == nil, err
}

// indexFrom returns where the live index entries start.
func (p *Pebble) indexFrom() []byte {
	if len(p.expireFrom) == 0 {
		return indexStart
	}
	return p.expireFrom
}

// indexWritten notes an index entry written (p.idxBuf).
func (p *Pebble) indexWritten() {
	if len(p.expireFrom) > 0 && bytes.Compare(p.idxBuf, p.expireFrom) < 0 {
		p.expireFrom = p.expireFrom[:0]
	}
}

// recordAt reads the expiry time of key's data record with the data
// iterator it (p.keyBuf is left holding the data key).
//
// It seeks with SeekGE, not SeekPrefixGE: the key of an index entry
// usually exists, so the levels' bloom filters would not skip anything,
// and loading them costs more than the read (a filter block per table,
// which evicts data blocks from the cache once the data outgrows it).
func (p *Pebble) recordAt(it *pebble.Iterator, key []byte) (at int64, ok bool, err error) {
	p.keyBuf = appendDataKey(p.keyBuf[:0], key)
	if !it.SeekGE(p.keyBuf) || !bytes.Equal(it.Key(), p.keyBuf) {
		return 0, false, it.Error()
	}
	r, err := it.ValueAndErr()
	if err != nil {
		return 0, false, err
	}
	at, _, err = decodeRecord(r)
	return at, err == nil, err
}

// beginRead starts every read of one key (Get, probe, Delete): ErrClosed
// after Close; absent when the key filter knows that key has no record;
// otherwise it commits the group's batch first if it may hold a write of
// key.
func (p *Pebble) beginRead(key []byte) (absent bool, err error) {
	if p.closed {
		return false, ErrClosed
	}
	if p.absent(key) {
		return true, nil
	}
	return false, p.flushIfTouched(key)
}

// Get implements Backend.
func (p *Pebble) Get(key []byte) ([]byte, int64, bool, error) {
	if absent, err := p.beginRead(key); absent || err != nil {
		return nil, 0, false, err
	}
	at, val, ok, err := p.record(key)
	return val, at, ok, err
}

// probe implements prober. Pebble's Get reads the bottom level's data
// block even for a key that is not there (it skips that level's bloom
// filter, which pays off only for keys likely missing); an iterator that
// uses every level's filter answers a missing key several times faster
// (about 4 µs against 16 µs with 600k keys, more than the block cache
// holds) and an existing one somewhat slower. put_unique and exists are
// asked mostly about new keys.
func (p *Pebble) probe(key []byte) (bool, error) {
	if absent, err := p.beginRead(key); absent || err != nil {
		return false, err
	}
	p.keyBuf = appendDataKey(p.keyBuf[:0], key)
	it := p.group.probe
	if it == nil {
		var err error
		if it, err = p.db.NewIter(&p.probeOpts); err != nil {
			return false, err
		}
	}
	found := it.SeekPrefixGE(p.keyBuf)
	err := it.Error()
	if p.group.on && err == nil {
		// Kept for the group's next probes until something is committed
		// (dropProbe): the batch's own writes are caught by
		// flushIfTouched above.
		p.group.probe = it
		return found, nil
	}
	p.group.probe = nil
	return found, errors.Join(err, it.Close())
}

// dropProbe closes the group's probe iterator: a commit makes its view
// of the database stale.
func (p *Pebble) dropProbe() {
	if p.group.probe != nil {
		_ = p.group.probe.Close()
		p.group.probe = nil
	}
}

// Put implements Backend with a blind write: one batch sets the record
// and, for a key with an expiry, an index entry. It does not read the
// key's previous record (that read cost four times the write); an index
// entry the write made stale stays until its time comes, when Expire
// finds that the record no longer expires then and drops the entry.
func (p *Pebble) Put(key, val []byte, expireAt int64) error {
	if p.closed {
		return ErrClosed
	}
	if expireAt < 0 {
		return fmt.Errorf("kv: negative expiry time %d: %w", expireAt, ErrInvalid)
	}
	if p.group.on {
		// Hot path (a master's group): appended to the group's batch, no
		// commit and no allocation.
		p.setRecord(p.groupBatch(), key, val, expireAt)
		p.touch(key)
		return p.flushIfLarge()
	}
	b := p.db.NewBatch()
	defer b.Close()
	p.setRecord(b, key, val, expireAt)
	if err := b.Commit(p.wo); err != nil {
		return fmt.Errorf("kv: cannot write: %w", err)
	}
	p.maybeRebuildFilter()
	return nil
}

// Delete implements Backend.
func (p *Pebble) Delete(key []byte) (bool, error) {
	if absent, err := p.beginRead(key); absent || err != nil {
		return false, err
	}
	oldAt, _, existed, err := p.record(key)
	if err != nil || !existed {
		return false, err
	}
	if p.group.on {
		b := p.groupBatch()
		b.Delete(p.keyBuf, nil)
		if oldAt != 0 {
			p.idxBuf = appendIndexKey(p.idxBuf[:0], oldAt, key)
			b.Delete(p.idxBuf, nil)
		}
		p.touch(key)
		p.deletedKeys(1)
		return true, p.flushIfLarge()
	}
	b := p.db.NewBatch()
	defer b.Close()
	b.Delete(p.keyBuf, nil)
	if oldAt != 0 {
		p.idxBuf = appendIndexKey(p.idxBuf[:0], oldAt, key)
		b.Delete(p.idxBuf, nil)
	}
	if err := b.Commit(p.wo); err != nil {
		return false, fmt.Errorf("kv: cannot delete: %w", err)
	}
	p.deletedKeys(1)
	return true, nil
}

// Clear implements Backend with two range deletions.
func (p *Pebble) Clear() error {
	if p.closed {
		return ErrClosed
	}
	if err := p.flushGroup(); err != nil {
		return err
	}
	b := p.db.NewBatch()
	defer b.Close()
	b.DeleteRange(dataStart, dataEnd, nil)
	b.DeleteRange(indexStart, indexEnd, nil)
	if err := b.Commit(p.wo); err != nil {
		return fmt.Errorf("kv: cannot clear: %w", err)
	}
	p.group.dirty = p.group.dirty || p.group.on
	p.dropProbe()
	p.clearFilter()
	p.clearSuspects()                          // their entries are gone
	p.deletedKeys(max(p.opts.CompactAfter, 1)) // a range deletion: compact now
	return nil
}

// Iterate implements Backend, in key byte order, over a consistent view.
func (p *Pebble) Iterate(fn func(key, val []byte, expireAt int64) bool) error {
	if p.closed {
		return ErrClosed
	}
	if err := p.flushGroup(); err != nil {
		return err
	}
	it, err := p.db.NewIter(&pebble.IterOptions{LowerBound: dataStart, UpperBound: dataEnd})
	if err != nil {
		return err
	}
	for ok := it.First(); ok; ok = it.Next() {
		r, err := it.ValueAndErr()
		if err != nil {
			it.Close()
			return err
		}
		at, val, err := decodeRecord(r)
		if err != nil {
			it.Close()
			return err
		}
		if !fn(it.Key()[1:], val, at) {
			break
		}
	}
	return errors.Join(it.Error(), it.Close())
}

// Len implements Backend by counting the data keyspace: O(keys), so it
// is for tools and tests, not for a hot path (keeping an exact count
// would need a read before every write, see Put).
func (p *Pebble) Len() (int, error) {
	if p.closed {
		return 0, ErrClosed
	}
	if err := p.flushGroup(); err != nil {
		return 0, err
	}
	it, err := p.db.NewIter(&pebble.IterOptions{LowerBound: dataStart, UpperBound: dataEnd})
	if err != nil {
		return 0, err
	}
	n := 0
	for ok := it.First(); ok; ok = it.Next() {
		n++
	}
	return n, errors.Join(it.Error(), it.Close())
}

// NextExpiry implements Backend: the first index entry that is exact or
// whose record still expires at its time (stale entries before it are
// skipped, and removed by the next Expire).
func (p *Pebble) NextExpiry() (int64, bool, error) {
	if p.closed {
		return 0, false, ErrClosed
	}
	if err := p.flushGroup(); err != nil {
		return 0, false, err
	}
	it, err := p.db.NewIter(&pebble.IterOptions{LowerBound: p.indexFrom(), UpperBound: indexEnd})
	if err != nil {
		return 0, false, err
	}
	for ok := it.First(); ok; ok = it.Next() {
		p.scanned++
		entryAt, key, err := decodeIndexKey(it.Key())
		if err != nil {
			return 0, false, errors.Join(err, it.Close())
		}
		v, err := it.ValueAndErr()
		if err != nil {
			return 0, false, errors.Join(err, it.Close())
		}
		if p.exactEntry(key, v) {
			return entryAt, true, it.Close()
		}
		p.indexReads++
		at, _, found, err := p.record(key)
		if err != nil {
			return 0, false, errors.Join(err, it.Close())
		}
		if found && at == entryAt {
			return at, true, it.Close()
		}
	}
	return 0, false, errors.Join(it.Error(), it.Close())
}

func (p *Pebble) logf(format string, args ...any) {
	if p.opts.Logf != nil {
		p.opts.Logf(format, args...)
	} else {
		log.Printf(format, args...)
	}
}

// Sync implements Backend: it fsyncs the write-ahead log, making every
// earlier write durable (in NoSync mode; in Sync mode they are already).
func (p *Pebble) Sync() error {
	if p.closed {
		return ErrClosed
	}
	if err := p.flushGroup(); err != nil {
		return err
	}
	return p.db.LogData(nil, pebble.Sync)
}

// Close implements Backend: it stops the compaction goroutine (cancelling
// a running compaction) and closes the database. Writes acknowledged in
// NoSync mode are kept: Pebble closes its write-ahead log cleanly.
func (p *Pebble) Close() error {
	if p.closed {
		return ErrClosed
	}
	ferr := p.flushGroup()
	p.dropProbe()
	p.group.on = false
	if p.group.batch != nil {
		_ = p.group.batch.Close()
		p.group.batch = nil
	}
	p.closed = true
	p.cancel()
	<-p.done
	p.filter.wg.Wait() // a build holds a snapshot, which must close first
	return errors.Join(ferr, p.db.Close())
}

// Metrics implements Backend.
func (p *Pebble) Metrics() BackendMetrics {
	return BackendMetrics{
		IndexScanned:     p.scanned,
		IndexReads:       p.indexReads,
		Expired:          p.expired,
		Compactions:      p.compactions.Load(),
		CompactionErrors: p.compactionErrors.Load(),
		WriteStalls:      p.stalls.count.Load(),
		WriteStallTime:   time.Duration(p.stalls.total.Load()),
	}
}

// WriteStalls returns the number of Pebble's write stalls so far and the
// time the ones that ended took in all (also in Metrics). Unlike Metrics
// it is safe for concurrent use.
func (p *Pebble) WriteStalls() (uint64, time.Duration) {
	return p.stalls.count.Load(), time.Duration(p.stalls.total.Load())
}

// writeStalls counts Pebble's write stalls: the times it held writes back
// because flushes or compactions fell behind (too many memtables queued,
// or too many L0 sublevels). Its methods run on Pebble's goroutines.
type writeStalls struct {
	count atomic.Uint64
	total atomic.Int64 // ns, of the stalls that ended
	since atomic.Int64 // unix ns the current stall began; 0: none
}

func (w *writeStalls) begin(l pebble.Logger, reason string) {
	w.count.Add(1)
	w.since.Store(time.Now().UnixNano())
	l.Infof("kv: pebble write stall: %s", reason)
}

func (w *writeStalls) end(l pebble.Logger) {
	if t := w.since.Swap(0); t != 0 {
		d := time.Duration(time.Now().UnixNano() - t)
		w.total.Add(int64(d))
		l.Infof("kv: pebble write stall ended after %v", d.Round(time.Microsecond))
	}
}

// DiskUsage is the space a Pebble backend's files take, as Pebble
// accounts them.
type DiskUsage struct {
	Total    uint64 // every file: tables, WAL, manifest, options
	Tables   uint64 // live sstables
	Obsolete uint64 // sstables no longer needed, about to be deleted
	WAL      uint64 // write-ahead logs, live and kept for recycling
}

// DiskUsage returns the space the database's files take.
func (p *Pebble) DiskUsage() DiskUsage {
	if p.closed {
		return DiskUsage{}
	}
	m := p.db.Metrics()
	return DiskUsage{
		Total:    m.DiskSpaceUsage(),
		Tables:   m.Table.Local.LiveSize,
		Obsolete: m.Table.Local.ObsoleteSize + m.Table.Local.ZombieSize,
		WAL:      m.WAL.PhysicalSize + m.WAL.ObsoletePhysicalSize,
	}
}
