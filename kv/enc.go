package kv

import (
	"encoding/binary"
	"fmt"

	"github.com/weirio/weir/frame"
)

// Byte-level helpers for the canonical value encoding (docs/PROTOCOL.md §4).
// frame builds containers from in-memory Values only; the store splices
// encoded containers directly so that adding one element to a large set
// copies bytes once instead of materializing every element as a Value.

var noneRaw = []byte{byte(frame.TypeNone)}

// raw returns a view's encoding; the zero View (none) has no bytes, so it
// gets the one-byte none encoding.
func raw(v frame.View) []byte {
	if b := v.Raw(); len(b) > 0 {
		return b
	}
	return noneRaw
}

// view decodes a stored encoding that must be exactly one valid value.
func view(b []byte, lim *frame.Limits) (frame.View, error) {
	v, rest, err := frame.DecodeValue(b, lim)
	if err == nil && len(rest) != 0 {
		err = fmt.Errorf("%w: %d bytes after the value", frame.ErrTrailingBytes, len(rest))
	}
	return v, err
}

// containerBody returns the element bytes of a validated set, table or
// vector encoding: what follows the tag, the uvarint count and the u32 body
// length.
func containerBody(b []byte) []byte {
	_, n := binary.Uvarint(b[1:])
	return b[1+n+4:]
}

// appendContainer appends a container of type t holding count elements
// (for a table: count entries) whose encodings are body.
func appendContainer(dst []byte, t frame.Type, count int, body []byte) []byte {
	dst = append(dst, byte(t))
	dst = binary.AppendUvarint(dst, uint64(count))
	dst = binary.LittleEndian.AppendUint32(dst, uint32(len(body)))
	return append(dst, body...)
}

// appendStringCat appends the string value a followed by b (a and b are the
// raw bytes, not encodings).
func appendStringCat(dst []byte, a, b []byte) []byte {
	dst = append(dst, byte(frame.TypeString))
	dst = binary.AppendUvarint(dst, uint64(len(a)+len(b)))
	dst = append(dst, a...)
	return append(dst, b...)
}

// appendFixed64 appends a fixed-width 64-bit scalar of type t.
func appendFixed64(dst []byte, t frame.Type, u uint64) []byte {
	return binary.LittleEndian.AppendUint64(append(dst, byte(t)), u)
}

// fixed64 reads the body of a validated count, integer, real, timestamp or
// timespan encoding.
func fixed64(v frame.View) uint64 { return binary.LittleEndian.Uint64(v.Raw()[1:]) }

// depth returns the nesting depth of a validated value: 0 for a scalar, one
// more than its deepest element for a container.
func depth(v frame.View) int {
	switch v.Type() {
	case frame.TypeSet, frame.TypeTable, frame.TypeVector:
	default:
		return 0
	}
	d := 0
	it := v.Iter()
	for e, ok := it.Next(); ok; e, ok = it.Next() {
		d = max(d, depth(e))
	}
	return d + 1
}
