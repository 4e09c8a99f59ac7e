// Package kv is weir's data store core: Broker's store semantics (put,
// put_unique, erase, add, subtract, clear, get, exists, keys, get_index,
// expiry) over a pluggable Backend, with two backends — Memory and Pebble —
// and an expiry index in each whose cost is proportional to what expires.
// It does no I/O of its own beyond the Pebble files and holds no protocol
// state: the replication channel between a master and its clones is
// kv/repl, and the node turns store-cmd frames into Commands and Updates
// into frames.
//
// # Model
//
// A master calls Store.Exec for each request. Exec applies the command and
// returns the answer for the requester and the Update to replicate: always
// the result, never the command — an add or subtract goes out as the put
// of the value it produced, so clones never redo arithmetic and cannot
// diverge on it. A clone applies Updates with Store.ApplyUpdate (calling
// Store.Prefetch on a run of their keys first lets the memory backend's
// cache misses overlap). Expiry
// runs on the master only: it calls Store.Expire on a timer (or at
// Store.NextExpiry) and replicates the expire Updates it returns; a clone
// keeps expiry times (for a later snapshot) but never acts on them. Time
// is an argument (ns since the Unix epoch): nothing here reads a clock.
//
// Keys and values are canonical frame value encodings (frame.AppendValue).
// Each value has exactly one encoding, so equal keys are equal bytes and a
// backend can treat them as opaque. Note that the encoding is little-endian
// and length-prefixed, so byte order is NOT value order (count 256 sorts
// before count 1); nothing in kv depends on key order — keys returns a set,
// which frame sorts.
//
// # Operations
//
// add (existing value ⊕ operand):
//
//	existing   operand                 result
//	count      count                   sum (wraps at 2^64, as Broker's unsigned add)
//	integer    integer                 sum (wraps)
//	real       real                    sum
//	timespan   timespan                sum (wraps)
//	timestamp  timespan                later timestamp
//	string     string                  concatenation
//	set        set                     union
//	set        anything else           the set with the operand inserted
//	table      table                   merge, the operand's entries winning
//	table      vector [k, v]           the table with k set to v
//	vector     vector                  concatenation
//	vector     anything else           the vector with the operand appended
//	missing    count, integer, real,   the operand (the zero value of its
//	           timespan, string, set,  type ⊕ the operand)
//	           table, vector
//
// subtract (existing value ⊖ operand): the numeric rows above with
// differences; set ⊖ set is the difference, set ⊖ x removes x; table ⊖ k
// erases key k; vector ⊖ anything pops the last element (a no-op on an
// empty vector). Subtract on a missing key fails with ErrNotFound.
//
// Every other combination fails with ErrTypeMismatch and changes nothing.
// A result larger than Options.MaxValueSize fails with ErrTooLarge, one
// nested deeper than Options.MaxDepth with ErrTooDeep.
//
// get_index(key, index): a table's value under index, a vector's element
// at count index, or for a set a bool saying whether it holds index;
// ErrNotFound for a missing key, table key or vector index,
// ErrTypeMismatch for a scalar or a non-count vector index.
//
// Expiry: every mutation carries a relative expiry (0: none). A mutation
// with one sets the key's expiry to now + expiry (saturating); a mutation
// without one clears it. put_unique that finds its key changes nothing,
// expiry included. A due key stays readable until Expire removes it.
//
// Events: with Options.OnEvent set, every change is reported — insert and
// update (with the old value) for put, put_unique, add and subtract;
// erase for erase and for each key a clear removes; expire for Expire —
// on the master (Exec, Expire) and on clones (ApplyUpdate) alike.
//
// # Deviations from Broker
//
//   - add has no init-type argument: store-cmd carries only the operand, so
//     a missing key starts from the operand type's zero value. To let that
//     rule create containers, an operand of the container's own type merges
//     (set union, table merge, vector concatenation) instead of being
//     inserted as one element. Broker would insert a set into a set of
//     sets as an element; here wrap it: add {{x}} to insert {x}. A table
//     also accepts Broker's [key, value] vector.
//   - subtract of a set from a set is the set difference (Broker would
//     remove the set as one element).
//   - An erase of a missing key and a put_unique that finds its key
//     replicate nothing and report no event (Broker's master broadcasts an
//     erase, and reports it, whether or not the key existed).
//   - Expiry is an index, not a scan: Broker scans every key's expiry each
//     100 ms tick (O(n)); Expire here costs O(expired keys), and
//     NextExpiry lets the caller sleep until the next one is due.
//   - Oversized keys and values (Options.MaxKeySize, MaxValueSize) and
//     over-deep results are rejected; Broker has no limits.
//   - Integer and count arithmetic wraps, as Broker's C++ does, rather
//     than failing on overflow.
//
// # Backends
//
// Memory keeps a hash table and a min-heap of the entries that expire,
// ordered by (expiry time, key bytes); each entry knows its heap slot, so
// changing or clearing an expiry is an O(log n) fix-up and Expire pops
// exactly the due entries. None of its per-key data holds a Go pointer:
// the garbage collector sees one block per 1024 keys or per MiB of bytes,
// which it never scans inside, rather than an object or two per key; and
// a new key costs no allocation of its own. The table is open
// addressing with linear probing over uint64 slots, the entries are
// fixed-size records in pages, and keys and values are in an arena of
// byte chunks:
//
//	record          bytes  field
//	slot            4      hash bits 63..32 (the home slot is their top log2(slots) bits)
//	                4      entry index + 1 (a slot of 0 is empty)
//	entry           4      arena chunk
//	                4      offset of the key in the chunk (the value follows it)
//	                4, 4   key length, value length
//	                4      value room (an overwrite that fits is written in place)
//	                4      heap position (-1: no expiry, -2: free entry)
//	                8      expiry time (ns, 0: none)
//
// Replaced and removed values leave dead arena bytes; when they exceed
// 1 MiB and the live bytes, the Put, Delete or Expire that made them so
// copies the live ones into new chunks.
//
// Pebble keeps three keyspaces in one database, told apart by the first
// byte of the Pebble key:
//
//	keyspace  Pebble key                                  Pebble value
//	meta      0x00 'v'                                    u32 BE layout version (2)
//	meta      0x00 'e'                                    u64 BE index epoch of the last open
//	data      0x01 | key encoding                         u64 BE expiry (ns, 0: none) | value encoding
//	index     0x02 | u64 BE expiry (ns) | key encoding    u64 BE epoch of the writer (empty before epochs)
//
// Big-endian expiry times make Pebble's byte order the time order, so the
// keys due at time now are exactly the index span [0x02, 0x02|BE(now+1)).
// Every write is one atomic batch, so a crash at any point leaves a
// consistent database. A Put is a blind write: it sets the record and,
// with an expiry, its index entry, without reading the previous record (a
// read before every write cost four times the write itself). So the index
// is a superset: every record with an expiry has its entry, and an entry
// may be stale (the key was rewritten with another expiry, or none). A
// Delete reads the record and removes it with its current entry. Expire
// walks the due span once and range-deletes the whole walked index span in
// one operation, and deletes the due records, all in one batch. Most
// entries are exact: the key filter knew the key was new when the entry
// was written, and the key has not been written since (the backend keeps
// the hashes of keys written that may have existed, and marks entries
// with the epoch of the open that wrote them; see pebble_exact.go), so
// their records are deleted unread. Any other entry costs one read of its
// record (a plain seek: the levels' bloom filters would not skip anything
// for a key that usually exists), and the record is deleted only if it
// still expires at that time; every entry counts against Expire's max, so
// one call's cost is bounded. There is no persisted key count (it would
// need the read); Len counts the data keyspace. Layout 1 (with a count)
// is upgraded on open; layout 2 before epochs has empty index values,
// which are checked by reading.
//
// Key filter: the backend keeps an in-memory Bloom filter of the keys it
// has written (about 7.5 bytes per key; none past 67M keys), built in the
// background over a snapshot at open and again whenever the keys added
// since outnumber its capacity, so put_unique, exists, get and erase of a
// key never written answer without reading Pebble, whose own filters do
// not cover the memtables. It is never wrong about a key that exists;
// see pebble_filter.go.
//
// Space: deleted keys leave tombstones that Pebble drops in its own time.
// After PebbleOptions.CompactAfter deletions (default 100,000) the backend
// compacts the data and index spans in a background goroutine, so an
// expiry wave gives its disk space back within seconds (see
// TestPebbleShrinksAfterExpiry for measurements). Pebble keeps a few
// write-ahead log files for recycling, up to about three memtables (12 MiB
// by default) whatever the data size.
//
// Durability: PebbleOptions.Sync selects Sync (a write is acknowledged
// only once the write-ahead log is fsynced: it survives power loss) or
// NoSync (acknowledged once queued; a clean Close keeps everything, a
// crash may lose the latest writes, Store.Sync makes them durable). See
// SyncMode.
//
// Group commit: between Store.BeginGroup and Store.EndGroup the Pebble
// backend collects the writes in one batch and commits it at EndGroup
// (one commit, and in Sync mode one fsync, for the whole group), which
// is what a master's loop does for each turn of requests. Reads inside
// the group see its writes: a Get, a put_unique or a Delete of a key the
// group wrote, and any iteration (Expire, a snapshot), commit the batch
// first. An EndGroup error means some of the group's writes may be lost.
//
// # Threading
//
// A Store is single-owner: not safe for concurrent use; one goroutine (the
// node's store loop) makes every call, and the OnEvent callback runs on it
// and must not call back into the Store. Backends follow the same rule.
// Pebble runs one goroutine of its own for background compactions (plus
// Pebble's internal ones); Close stops it.
//
// Results handed out by a Store alias its buffers or the Command's bytes
// and are valid until the next call on the Store; copy what you keep.
// The Updates returned by Expire are the caller's.
//
// Update has the same fields as kv/repl's Update (Op, Key, Value,
// ExpireAt, with the same meaning), so one converts to the other:
// repl.Update(u).
package kv
