package kv

import (
	"bytes"
	"errors"
	"testing"
	"time"

	"github.com/weirio/weir/frame"
)

const fuzzDepth = 4

func frameTime(ns int64) time.Time { return time.Unix(0, ns) }

// FuzzArith feeds arbitrary (stored value, operand) pairs to the
// byte-level add, subtract and get_index and checks them against the
// model's Value-level versions: same error class, same result bytes, and
// a result that decodes as one canonical value. Input: op selector byte,
// then two value encodings back to back.
func FuzzArith(f *testing.F) {
	for _, seed := range [][2]frame.Value{
		{cnt(1), cnt(2)},
		{str("ab"), str("c")},
		{set(cnt(1), str("x")), cnt(2)},
		{set(cnt(1), cnt(3)), set(cnt(2), cnt(3))},
		{table(str("a"), cnt(1)), vec(str("b"), cnt(2))},
		{table(str("a"), cnt(1), str("c"), cnt(3)), table(str("a"), cnt(9), str("b"), cnt(2))},
		{vec(cnt(1), vec()), vec(cnt(2))},
		{vec(cnt(1)), set()},
		{frame.NewTimestamp(frameTime(5)), frame.NewTimespan(3)},
		{flt(1.5), flt(-2)},
		{frame.None, cnt(1)},
	} {
		for op := range byte(3) {
			f.Add(append(append([]byte{op}, enc(seed[0])...), enc(seed[1])...))
		}
	}
	lim := &frame.Limits{MaxDepth: fuzzDepth}
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) < 1 {
			return
		}
		sel := data[0]
		cur, rest, err := frame.DecodeValue(data[1:], lim)
		if err != nil {
			return
		}
		op, _, err := frame.DecodeValue(rest, lim)
		if err != nil {
			return
		}
		exists := sel&0x80 == 0
		c := calc{maxDepth: fuzzDepth}
		var got []byte
		var want frame.Value
		var gerr, werr error
		switch sel % 3 {
		case 0:
			got, gerr = c.add(nil, cur, exists, op)
			want, werr = modelAdd(cur.Value(), exists, op.Value())
		case 1:
			got, gerr = c.subtract(nil, cur, exists, op)
			want, werr = modelSubtract(cur.Value(), exists, op.Value())
		default:
			v, err := getIndex(cur, op)
			got, gerr = enc(v), err
			want, werr = modelGetIndex(cur.Value(), op.Value())
		}
		if werr == nil && valueDepth(want) > fuzzDepth {
			werr = ErrTooDeep
		}
		if (gerr == nil) != (werr == nil) || (werr != nil && !errors.Is(gerr, werr)) {
			t.Fatalf("op %d on %s, %s: err %v, model %v", sel, cur.Value(), op.Value(), gerr, werr)
		}
		if gerr != nil {
			return
		}
		if _, err := view(got, lim); err != nil {
			t.Fatalf("op %d on %s, %s: result %x does not decode: %v", sel, cur.Value(), op.Value(), got, err)
		}
		if !bytes.Equal(got, enc(want)) {
			t.Fatalf("op %d on %s, %s: got %s, model %s", sel, cur.Value(), op.Value(), dec(t, got), want)
		}
	})
}

// modelGetIndex is get_index by the book, on an existing value.
func modelGetIndex(v, index frame.Value) (frame.Value, error) {
	m := newModel(Options{})
	m.m[string(enc(cnt(0)))] = modelEntry{v: v}
	r, _, err := m.exec(frame.OpGetIndex, cnt(0), index, 0, 0)
	return r, err
}

// FuzzPebbleRecord checks the decoders of Pebble records and index keys:
// no panics, corrupt input is ErrCorrupt, and what decodes re-encodes to
// the same bytes.
func FuzzPebbleRecord(f *testing.F) {
	f.Add(appendRecord(nil, 0, enc(cnt(7))))
	f.Add(appendRecord(nil, 1<<40, enc(str("v"))))
	f.Add(appendIndexKey(nil, 12345, enc(str("k"))))
	f.Add([]byte{spaceIndex, 0x80, 0, 0, 0, 0, 0, 0, 0, 5})
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		if at, val, err := decodeRecord(b); err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("decodeRecord: %v", err)
			}
		} else if at < 0 || !bytes.Equal(appendRecord(nil, at, val), b) {
			t.Fatalf("record %x does not round-trip", b)
		}
		if at, key, err := decodeIndexKey(b); err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("decodeIndexKey: %v", err)
			}
		} else if at <= 0 || !bytes.Equal(appendIndexKey(nil, at, key), b) {
			t.Fatalf("index key %x does not round-trip", b)
		}
	})
}
