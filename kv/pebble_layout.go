package kv

import (
	"encoding/binary"
	"fmt"
)

// The Pebble key layout (see doc.go for the table). Every Pebble key
// starts with a one-byte keyspace prefix, so each keyspace is one
// contiguous span that can be iterated, range-deleted and compacted alone.
const (
	spaceMeta  byte = 0x00
	spaceData  byte = 0x01
	spaceIndex byte = 0x02

	// pebbleFormat is the layout version stored under metaVersion. Layout
	// 1 also kept a key count under metaCountV1 and an exact index; a
	// layout 1 database is upgraded when opened.
	pebbleFormat = 2
)

var (
	metaVersion = []byte{spaceMeta, 'v'} // u32 big-endian: pebbleFormat
	metaEpoch   = []byte{spaceMeta, 'e'} // u64 big-endian: the index epoch of the last open (see exact.go)
	metaCountV1 = []byte{spaceMeta, 'n'} // layout 1: u64 big-endian number of data keys

	dataStart  = []byte{spaceData}
	dataEnd    = []byte{spaceData + 1}
	indexStart = []byte{spaceIndex}
	indexEnd   = []byte{spaceIndex + 1}
)

// appendDataKey appends the Pebble key of a store key.
func appendDataKey(dst, key []byte) []byte {
	return append(append(dst, spaceData), key...)
}

// appendIndexKey appends the expiry index key of a store key expiring at
// at (> 0). Big-endian times make Pebble's byte order the time order.
func appendIndexKey(dst []byte, at int64, key []byte) []byte {
	dst = binary.BigEndian.AppendUint64(append(dst, spaceIndex), uint64(at))
	return append(dst, key...)
}

// indexBound returns the smallest index key with an expiry time above now:
// the exclusive upper bound of the keys due at now.
func indexBound(now int64) []byte {
	if now < 0 {
		return indexStart
	}
	if uint64(now) == 1<<63-1 {
		return indexEnd
	}
	return appendIndexKey(nil, now+1, nil)
}

// decodeIndexKey splits an expiry index key into its time and store key.
func decodeIndexKey(k []byte) (at int64, key []byte, err error) {
	if len(k) < 1+8+1 || k[0] != spaceIndex {
		return 0, nil, fmt.Errorf("%w: index key of %d bytes", ErrCorrupt, len(k))
	}
	u := binary.BigEndian.Uint64(k[1:])
	if u == 0 || u > 1<<63-1 {
		return 0, nil, fmt.Errorf("%w: index time %d", ErrCorrupt, u)
	}
	return int64(u), k[9:], nil
}

// appendRecord appends a data record: the expiry time (u64 big-endian, 0
// for none), then the value's encoding.
func appendRecord(dst []byte, at int64, val []byte) []byte {
	return append(binary.BigEndian.AppendUint64(dst, uint64(at)), val...)
}

// decodeRecord splits a data record into expiry time and value encoding.
func decodeRecord(r []byte) (at int64, val []byte, err error) {
	if len(r) < 8+1 {
		return 0, nil, fmt.Errorf("%w: record of %d bytes", ErrCorrupt, len(r))
	}
	u := binary.BigEndian.Uint64(r)
	if u > 1<<63-1 {
		return 0, nil, fmt.Errorf("%w: record expiry %d", ErrCorrupt, u)
	}
	return int64(u), r[8:], nil
}
