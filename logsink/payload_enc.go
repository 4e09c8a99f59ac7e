package logsink

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"hash/maphash"
	"math/bits"
	"slices"
	"sync"

	"github.com/weirio/weir/frame"
)

// This file turns a batch's row buffer into the columnar payload (format in
// payload.go and the package doc). It runs in Codecs.CompressBatch, on the
// shipping goroutine, never on the Append path.

// payloadVersion is the first byte of every payload.
const payloadVersion = 1

// Column block encodings: the low bits of a block's enc byte. encNulls
// marks a block with a presence bitmap.
const (
	encPlain = 0
	encDict  = 1
	encNulls = 0x80
)

// Address list families (the first byte of an address list).
const (
	famMixed = 0
	famV4    = 4
	famV6    = 16
)

// maxDict bounds a dictionary (indexes are u8 or u16).
const maxDict = 1 << 16

// pow10 are the time scales: a scale k means values are multiples of 10^k
// ns and are stored divided by it.
var pow10 = [...]int64{1, 10, 100, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9}

// v4InV6 is the IPv4-mapped prefix of an address encoding.
var v4InV6 = [12]byte{10: 0xff, 11: 0xff}

// payloadEncoder holds one batch's column buffers; pooled so that
// CompressBatch allocates nothing once warm.
type payloadEncoder struct {
	cols []colEnc
	blk  []byte // one column block, before its length is known
	seed maphash.Seed
}

var encoderPool = sync.Pool{New: func() any { return &payloadEncoder{seed: maphash.MakeSeed()} }}

// colEnc accumulates one column's present values.
type colEnc struct {
	col     Column
	present []byte // bitmap, bit i set if record i has a value
	nulls   bool
	m       int      // present values
	ints    []int64  // bool, count, integer, time, interval, port (number | proto<<16)
	data    []byte   // string bytes, 16-byte addresses, 17-byte subnets, reals, containers
	ends    []uint32 // end offset in data of each string
	table   []uint32 // dictionary hash table: dict index + 1, 0 empty
	dict    []uint32 // value index of each dictionary entry's first occurrence
	idx     []uint32 // dictionary index of each value
	freq    []uint64 // per entry: count<<32 | entry, for the frequency sort
	remap   []uint32 // old entry index -> new
}

func (c *colEnc) reset(col Column, n int) {
	c.col = col
	c.present = append(c.present[:0], make([]byte, (n+7)/8)...)
	c.nulls = false
	c.m = 0
	c.ints = c.ints[:0]
	c.data = c.data[:0]
	c.ends = c.ends[:0]
}

// rowValueLen returns the length of the value encoding at the start of b
// (a Batcher row buffer: frame.AppendValue output), checking only that it
// is within b. The rows come from validated Values, so this is not the
// place to validate them again (that would cost as much as the rest of the
// transposition); a tampered Batch.Raw yields a payload the logger refuses,
// never a panic.
func rowValueLen(b []byte) (int, bool) {
	if len(b) == 0 {
		return 0, false
	}
	var n int
	switch frame.Type(b[0]) {
	case frame.TypeNone:
		n = 1
	case frame.TypeBool:
		n = 2
	case frame.TypeCount, frame.TypeInteger, frame.TypeReal, frame.TypeTimestamp, frame.TypeTimespan:
		n = 9
	case frame.TypeString, frame.TypeEnum:
		l, k := binary.Uvarint(b[1:])
		if k <= 0 || l > uint64(len(b)) {
			return 0, false
		}
		n = 1 + k + int(l)
	case frame.TypeAddress:
		n = 17
	case frame.TypeSubnet:
		n = 18
	case frame.TypePort:
		n = 4
	case frame.TypeSet, frame.TypeTable, frame.TypeVector:
		_, k := binary.Uvarint(b[1:])
		if k <= 0 || len(b) < 1+k+4 {
			return 0, false
		}
		n = 1 + k + 4 + int(binary.LittleEndian.Uint32(b[1+k:]))
	default:
		return 0, false
	}
	if n > len(b) {
		return 0, false
	}
	return n, true
}

// add records the value encoded in v (a complete value encoding) of
// record i.
func (c *colEnc) add(i int, v []byte) error {
	t := frame.Type(v[0])
	if t == frame.TypeNone {
		c.nulls = true
		return nil
	}
	if t != c.col.Type {
		return fmt.Errorf("%w: column %q: %v value", ErrBadBatch, c.col.Name, t)
	}
	c.present[i>>3] |= 1 << (i & 7)
	c.m++
	switch t {
	case frame.TypeBool:
		c.ints = append(c.ints, int64(v[1]&1))
	case frame.TypeCount, frame.TypeInteger, frame.TypeTimestamp, frame.TypeTimespan:
		c.ints = append(c.ints, int64(binary.LittleEndian.Uint64(v[1:])))
	case frame.TypePort:
		c.ints = append(c.ints, int64(binary.LittleEndian.Uint16(v[1:]))|int64(v[3])<<16)
	case frame.TypeString, frame.TypeEnum:
		_, k := binary.Uvarint(v[1:])
		c.data = append(c.data, v[1+k:]...)
		c.ends = append(c.ends, uint32(len(c.data)))
	case frame.TypeReal, frame.TypeAddress, frame.TypeSubnet:
		// The fixed-size body of the value encoding: 8 bytes of float bits,
		// 16 address bytes, 16 + 1 subnet bytes.
		c.data = append(c.data, v[1:]...)
	case frame.TypeSet, frame.TypeVector:
		view, _, err := frame.DecodeValue(v, nil)
		if err != nil {
			return fmt.Errorf("%w: column %q: %w", ErrBadBatch, c.col.Name, err)
		}
		for it := view.Iter(); ; {
			e, ok := it.Next()
			if !ok {
				break
			}
			if et := e.Type(); et != frame.TypeNone && et != c.col.Elem {
				return fmt.Errorf("%w: column %q: %v element", ErrBadBatch, c.col.Name, et)
			}
		}
		c.data = append(c.data, v...)
	default:
		return fmt.Errorf("%w: column %q: unsupported type %v", ErrBadBatch, c.col.Name, t)
	}
	return nil
}

// str returns string value j.
func (c *colEnc) str(j int) []byte {
	var start uint32
	if j > 0 {
		start = c.ends[j-1]
	}
	return c.data[start:c.ends[j]]
}

func (c *colEnc) addr(j int) []byte { return c.data[16*j : 16*j+16] }

// key returns the dictionary key of value j.
func (c *colEnc) key(j int) []byte {
	if c.col.Type == frame.TypeAddress {
		return c.addr(j)
	}
	return c.str(j)
}

// buildDict fills dict and idx and reports whether a dictionary pays: at
// most half as many entries as values (so most values repeat), and at most
// maxDict. It gives up as soon as the answer is no.
func (c *colEnc) buildDict(seed maphash.Seed) bool {
	if c.m < 4 {
		return false
	}
	limit := min(c.m/2, maxDict)
	size := 1 << bits.Len(uint(2*limit))
	if cap(c.table) < size {
		c.table = make([]uint32, size)
	}
	c.table = c.table[:size]
	clear(c.table)
	c.dict, c.idx = c.dict[:0], c.idx[:0]
	mask := uint64(size - 1)
	for j := range c.m {
		k := c.key(j)
		h := maphash.Bytes(seed, k) & mask
		for {
			e := c.table[h]
			if e == 0 {
				if len(c.dict) == limit {
					return false
				}
				c.dict = append(c.dict, uint32(j))
				c.table[h] = uint32(len(c.dict))
				c.idx = append(c.idx, uint32(len(c.dict)-1))
				break
			}
			if bytes.Equal(c.key(int(c.dict[e-1])), k) {
				c.idx = append(c.idx, e-1)
				break
			}
			h = (h + 1) & mask
		}
	}
	c.sortDict()
	return true
}

// sortDict orders the dictionary by falling frequency (first occurrence
// breaking ties), so that the frequent values get the small indexes and
// the index section is skewed toward them: it compresses better.
func (c *colEnc) sortDict() {
	d := len(c.dict)
	c.freq = append(c.freq[:0], make([]uint64, d)...)
	for _, x := range c.idx {
		c.freq[x] += 1 << 32
	}
	for i := range c.freq {
		// Descending count, ascending index: sort ascending on the
		// complemented count.
		c.freq[i] = (^c.freq[i])&^(1<<32-1) | uint64(i)
	}
	slices.Sort(c.freq)
	c.remap = append(c.remap[:0], make([]uint32, d)...)
	old := append(c.table[:0], c.dict...) // the table is done with; reuse it
	for i, f := range c.freq {
		e := uint32(f)
		c.remap[e] = uint32(i)
		c.dict[i] = old[e]
	}
	for j, x := range c.idx {
		c.idx[j] = c.remap[x]
	}
}

// appendBlock appends the column's block (without its length prefix).
func (c *colEnc) appendBlock(dst []byte, n int, seed maphash.Seed) []byte {
	at := len(dst)
	dst = append(dst, encPlain)
	if c.nulls {
		dst[at] |= encNulls
		dst = append(dst, c.present...)
	}
	switch c.col.Type {
	case frame.TypeBool:
		dst = appendBits(dst, c.ints)
	case frame.TypeCount:
		for _, u := range c.ints {
			dst = binary.AppendUvarint(dst, uint64(u))
		}
	case frame.TypeInteger:
		for _, v := range c.ints {
			dst = binary.AppendVarint(dst, v)
		}
	case frame.TypeTimestamp, frame.TypeTimespan:
		k := timeScale(c.ints)
		dst = append(dst, byte(k))
		var prev int64
		for _, v := range c.ints {
			q := v / pow10[k]
			if c.col.Type == frame.TypeTimestamp {
				// Delta from the largest value so far: log times are
				// monotonic with jitter (Zeek logs a connection at its end
				// with its start as ts), and the running maximum tracks
				// the clock while the previous value carries the previous
				// record's jitter too (11% smaller on conn.log).
				q, prev = q-prev, max(prev, q)
			}
			dst = binary.AppendVarint(dst, q)
		}
	case frame.TypePort:
		for _, p := range c.ints {
			dst = binary.LittleEndian.AppendUint16(dst, uint16(p))
		}
		for _, p := range c.ints {
			dst = append(dst, byte(p>>16))
		}
	case frame.TypeString, frame.TypeEnum, frame.TypeAddress:
		if c.buildDict(seed) {
			dst[at] |= encDict
			dst = binary.AppendUvarint(dst, uint64(len(c.dict)))
			dst = c.appendList(dst, c.dict)
			wide := len(c.dict) > 256
			for _, x := range c.idx {
				if wide {
					dst = binary.LittleEndian.AppendUint16(dst, uint16(x))
				} else {
					dst = append(dst, byte(x))
				}
			}
		} else {
			dst = c.appendList(dst, nil)
		}
	default: // real, subnet, set, vector: their value bodies (or whole encodings), back to back
		dst = append(dst, c.data...)
	}
	return dst
}

// appendList appends a string or address list of the values whose indexes
// are in which, or of all values if which is nil.
func (c *colEnc) appendList(dst []byte, which []uint32) []byte {
	k := c.m
	if which != nil {
		k = len(which)
	}
	at := func(i int) int {
		if which != nil {
			return int(which[i])
		}
		return i
	}
	if c.col.Type != frame.TypeAddress {
		for i := range k {
			dst = binary.AppendUvarint(dst, uint64(len(c.str(at(i)))))
		}
		for i := range k {
			dst = append(dst, c.str(at(i))...)
		}
		return dst
	}
	v4 := 0
	for i := range k {
		if [12]byte(c.addr(at(i))) == v4InV6 {
			v4++
		}
	}
	switch v4 {
	case k:
		dst = append(dst, famV4)
	case 0:
		dst = append(dst, famV6)
	default:
		dst = append(dst, famMixed)
		bm := len(dst)
		dst = append(dst, make([]byte, (k+7)/8)...)
		for i := range k {
			if [12]byte(c.addr(at(i))) != v4InV6 {
				dst[bm+i>>3] |= 1 << (i & 7)
			}
		}
	}
	for i := range k {
		a := c.addr(at(i))
		if [12]byte(a) == v4InV6 {
			dst = append(dst, a[12:]...)
		} else {
			dst = append(dst, a...)
		}
	}
	return dst
}

// timeScale returns the largest k <= 9 such that every value is a multiple
// of 10^k.
func timeScale(vs []int64) int {
	k := len(pow10) - 1
	for _, v := range vs {
		for k > 0 && v%pow10[k] != 0 {
			k--
		}
		if k == 0 {
			break
		}
	}
	return k
}

// appendBits appends the 0/1 values vs as a bitmap, LSB first.
func appendBits(dst []byte, vs []int64) []byte {
	for i := 0; i < len(vs); i += 8 {
		var b byte
		for j := 0; j < 8 && i+j < len(vs); j++ {
			b |= byte(vs[i+j]) << j
		}
		dst = append(dst, b)
	}
	return dst
}

// appendPayloadHeader appends the payload header.
func appendPayloadHeader(dst []byte, s *Schema, n int) []byte {
	dst = append(dst, payloadVersion)
	dst = binary.AppendUvarint(dst, uint64(n))
	dst = appendStr(dst, s.Path)
	dst = binary.AppendUvarint(dst, uint64(len(s.Columns)))
	for _, c := range s.Columns {
		dst = appendStr(dst, c.Name)
		dst = append(dst, byte(c.Type), byte(c.Elem))
	}
	return dst
}

func appendStr(dst []byte, s string) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(s)))
	return append(dst, s...)
}

// encodePayload appends the payload of n records of schema s, given in row
// form in rows (the Batcher's buffer: frame.AppendValue of every value, in
// schema order), to dst, and the end offset (in dst) of each column block
// to cuts.
//
// Hot path (shipping goroutine): the column buffers come from a pool and
// are reused, so a warm encoder allocates nothing (BenchmarkCompressBatch).
func encodePayload(dst []byte, s *Schema, rows []byte, n int, cuts []int) ([]byte, []int, error) {
	e := encoderPool.Get().(*payloadEncoder)
	defer encoderPool.Put(e)
	if cap(e.cols) < len(s.Columns) {
		e.cols = make([]colEnc, len(s.Columns))
	}
	e.cols = e.cols[:len(s.Columns)]
	for i, c := range s.Columns {
		e.cols[i].reset(c, n)
	}
	off := 0
	for i := range n {
		for j := range e.cols {
			k, ok := rowValueLen(rows[off:])
			if !ok {
				return dst, cuts, fmt.Errorf("%w: record %d column %d: bad row encoding", ErrBadBatch, i, j)
			}
			if err := e.cols[j].add(i, rows[off:off+k]); err != nil {
				return dst, cuts, err
			}
			off += k
		}
	}
	if off != len(rows) {
		return dst, cuts, fmt.Errorf("%w: %d bytes after %d records", ErrBadBatch, len(rows)-off, n)
	}
	dst = appendPayloadHeader(dst, s, n)
	for j := range e.cols {
		e.blk = e.cols[j].appendBlock(e.blk[:0], n, e.seed)
		dst = binary.AppendUvarint(dst, uint64(len(e.blk)))
		dst = append(dst, e.blk...)
		cuts = append(cuts, len(dst))
	}
	return dst, cuts, nil
}
