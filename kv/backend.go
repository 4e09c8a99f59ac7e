package kv

import "time"

// Backend stores encoded keys and values with an optional absolute expiry
// time each, and keeps an index of those expiry times. Keys and values are
// canonical frame value encodings; a backend treats them as opaque bytes.
//
// A backend keeps its own invariants: Put and Delete maintain the expiry
// index without the caller telling them what the key held before. Slices a backend returns (from Get, or passed to a
// callback) are valid only until the next call on the backend; slices it
// is given are copied.
//
// Threading: a Backend is not safe for concurrent use; its Store (or
// whoever else owns it) calls it from one goroutine at a time.
type Backend interface {
	// Get returns the value stored under key and its expiry (0: none).
	Get(key []byte) (val []byte, expireAt int64, ok bool, err error)
	// Put stores val under key, replacing any previous value, with expiry
	// expireAt (0: none) replacing any previous expiry.
	Put(key, val []byte, expireAt int64) error
	// Delete removes key and its expiry and reports whether it existed.
	Delete(key []byte) (existed bool, err error)
	// Clear removes every key.
	Clear() error
	// Iterate calls fn for every key until fn returns false. fn must not
	// call the backend.
	Iterate(fn func(key, val []byte, expireAt int64) bool) error
	// Len returns the number of keys (Pebble: by counting them).
	Len() (int, error)
	// NextExpiry returns the earliest expiry time of any key; ok is false
	// when no key has one.
	NextExpiry() (at int64, ok bool, err error)
	// Expire removes up to max keys (max <= 0: all) whose expiry time is
	// at or before now, earliest first (ties in key byte order), and then
	// calls fn with each removed key. Its cost is proportional to the
	// number of keys removed (for Pebble, plus the index entries later
	// writes made stale, each examined once), not to the number of keys
	// stored. Pebble counts the stale entries it examines against max too,
	// so that one call's cost stays bounded: it may remove fewer than max
	// keys while more are due (call again while it removes any).
	Expire(now int64, max int, fn func(key []byte)) (n int, err error)
	// Sync makes every write so far durable (a no-op for memory).
	Sync() error
	// Close releases the backend's resources; later calls fail with
	// ErrClosed.
	Close() error
	// Metrics returns a snapshot of the backend's counters.
	Metrics() BackendMetrics
}

// BackendMetrics are a backend's counters since it was opened.
type BackendMetrics struct {
	// IndexScanned counts expiry index entries examined by Expire and
	// NextExpiry: with an index that works, about one per expired key.
	IndexScanned uint64
	// Expired counts keys removed by Expire.
	Expired uint64
	// IndexReads counts records Expire and NextExpiry read to check an
	// index entry (Pebble only): entries it cannot vouch for, such as
	// those of keys written more than once, or before the last open.
	IndexReads uint64
	// Compactions counts compactions the backend ran to reclaim space
	// (Pebble only).
	Compactions uint64
	// CompactionErrors counts compactions that failed (Pebble only).
	CompactionErrors uint64
	// WriteStalls counts the times Pebble held writes back because its
	// flushes or compactions fell behind, and WriteStallTime is how long
	// the stalls that ended lasted in all (Pebble only).
	WriteStalls    uint64
	WriteStallTime time.Duration
}

// GroupCommitter is implemented by backends that can make many writes
// durable at once (Pebble in Sync mode): between BeginGroup and EndGroup
// writes are applied and visible but not yet durable, and EndGroup makes
// all of them durable (one fsync of the write-ahead log) before it
// returns. A caller that acknowledges writes does so only after EndGroup
// returned nil. Outside a group, writes behave as the backend's mode says.
type GroupCommitter interface {
	BeginGroup()
	EndGroup() error
}

// putSwapper is implemented by backends that can store a value and return
// the previous one in one step (Memory): the Store uses it for the events
// of a put, instead of a Get and a Put.
type putSwapper interface {
	// putSwap is Put that appends the previous value, if the key existed,
	// to old and returns it.
	putSwap(key, val []byte, expireAt int64, old []byte) (prev []byte, existed bool, err error)
}

// prefetcher is implemented by backends whose lookups wait on a cache miss
// that can be started early (Memory: a random key's hash-table slot): the
// Store's Prefetch passes the hint on.
type prefetcher interface {
	// prefetch reads what a lookup of key reads first and returns a word
	// of it, which the caller keeps so that the read is not optimized
	// away. It changes nothing.
	prefetch(key []byte) uint64
}

// prober is implemented by backends with a cheaper way to learn whether a
// key exists than Get when it probably does not (Pebble: a lookup that
// consults the bloom filters of every level): put_unique and exists use
// it.
type prober interface {
	probe(key []byte) (exists bool, err error)
}
