package logsink

import (
	"encoding/binary"
	"fmt"
	"hash/maphash"
	"math"
	"math/bits"
	"slices"
	"sync"

	"github.com/weirio/weir/frame"
)

// This file builds the columnar payload (format in payload.go and the
// package doc): Batcher.Append adds each value to its column's buffers
// (colEnc.add), and Codecs.CompressBatch, on the shipping goroutine,
// encodes the column blocks (encodePayload).

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

// payloadEncoder is CompressBatch's scratch: pooled so that it allocates
// nothing once warm.
type payloadEncoder struct {
	blk  []byte // one column block, before its length is known
	seed uint64 // of dictHash, random per encoder
	d    dictScratch
}

var encoderPool = sync.Pool{New: func() any { return &payloadEncoder{seed: maphash.String(maphash.MakeSeed(), "")} }}

// dictScratch is the working memory of a column's dictionary.
type dictScratch struct {
	table []uint32 // hash table: dict index + 1, 0 empty
	dict  []uint32 // value index of each dictionary entry's first occurrence
	idx   []uint32 // dictionary index of each value
	freq  []uint64 // per entry: count<<32 | entry, for the frequency sort
	remap []uint32 // old entry index -> new
	// The bounds in colEnc.data of each entry's key (string columns,
	// while the dictionary is built).
	kstart, kend []uint32
}

// colEnc accumulates one column's values of an open batch, as
// Batcher.Append adds them.
type colEnc struct {
	col   Column
	unset []uint32 // the records without a value, in order (rare: kept as a list, not a bitmap)
	ints  []int64  // bool, count, integer, time, interval, port (number | proto<<16)
	data  []byte   // string bytes, 16-byte addresses, 17-byte subnets, reals, containers
	ends  []uint32 // end offset in data of each string, and of each container
}

func (c *colEnc) reset(col Column) {
	c.col = col
	c.unset = c.unset[:0]
	c.ints = c.ints[:0]
	c.data = c.data[:0]
	c.ends = c.ends[:0]
}

// values returns how many values the column holds.
func (c *colEnc) values() int {
	switch c.col.Type {
	case frame.TypeString, frame.TypeEnum, frame.TypeSet, frame.TypeVector:
		return len(c.ends)
	case frame.TypeReal:
		return len(c.data) / 8
	case frame.TypeAddress:
		return len(c.data) / 16
	case frame.TypeSubnet:
		return len(c.data) / 17
	}
	return len(c.ints)
}

// addRecord adds record i, one value per column, to cols and returns
// the size of its row form (frame.AppendValue of each value). A record
// that does not fit the columns' schema (value count, value or element
// types) is refused with an error wrapping ErrRecordMismatch and nothing
// is added: what was added of it is taken back.
//
// Hot path (Batcher.Append): one pass over the values, checking and
// appending each to its column's reused buffers in place; no call per
// value (TestBatcherAppendAllocs, BenchmarkBatcherAppend).
func addRecord(cols []colEnc, i int, rec []frame.Value) (int, error) {
	if len(rec) != len(cols) {
		return 0, fmt.Errorf("%w: %d values for %d columns", ErrRecordMismatch, len(rec), len(cols))
	}
	size := 0
	for j := range rec {
		v, c := &rec[j], &cols[j]
		t := v.Type()
		if t != c.col.Type {
			if t == frame.TypeNone {
				c.unset = append(c.unset, uint32(i))
				size++
				continue
			}
			undoRecord(cols[:j], i)
			return 0, fmt.Errorf("%w: column %q: got %v, want %v", ErrRecordMismatch, c.col.Name, t, c.col.Type)
		}
		switch t {
		case frame.TypeCount:
			c.ints = append(c.ints, int64(v.Count()))
			size += 9
		case frame.TypeString, frame.TypeEnum:
			str := v.Str()
			c.data = append(c.data, str...)
			c.ends = append(c.ends, uint32(len(c.data)))
			size += 1 + uvarintSize(uint64(len(str))) + len(str)
		case frame.TypeAddress:
			a := v.Addr().As16() // IPv4 as ::ffff:a.b.c.d, as its encoding
			c.data = append(c.data, a[:]...)
			size += 17
		case frame.TypePort:
			p := v.Port()
			c.ints = append(c.ints, int64(p.Number)|int64(p.Proto)<<16)
			size += 4
		case frame.TypeBool:
			var b int64
			if v.Bool() {
				b = 1
			}
			c.ints = append(c.ints, b)
			size += 2
		case frame.TypeTimestamp:
			// Exact for every int64: UnixNano's arithmetic wraps back.
			c.ints = append(c.ints, v.Time().UnixNano())
			size += 9
		case frame.TypeTimespan:
			c.ints = append(c.ints, int64(v.Duration()))
			size += 9
		case frame.TypeInteger:
			c.ints = append(c.ints, v.Int())
			size += 9
		case frame.TypeReal:
			c.data = binary.LittleEndian.AppendUint64(c.data, math.Float64bits(v.Real()))
			size += 9
		case frame.TypeSubnet:
			p := v.Subnet()
			a := p.Addr().As16()
			c.data = append(append(c.data, a[:]...), byte(p.Bits()))
			size += 18
		case frame.TypeSet, frame.TypeVector:
			for _, e := range v.Elems() {
				if et := e.Type(); et != frame.TypeNone && et != c.col.Elem {
					undoRecord(cols[:j], i)
					return 0, fmt.Errorf("%w: column %q: element %v, want %v", ErrRecordMismatch, c.col.Name, et, c.col.Elem)
				}
			}
			at := len(c.data)
			c.data = frame.AppendValue(c.data, *v)
			c.ends = append(c.ends, uint32(len(c.data)))
			size += len(c.data) - at
		default:
			// Not a loggable type: Schema.Validate refuses such columns.
			panic(fmt.Sprintf("BUG: logsink: column %q of type %v", c.col.Name, t))
		}
	}
	return size, nil
}

// undoRecord takes record i, the last added, back out of cols.
func undoRecord(cols []colEnc, i int) {
	for j := range cols {
		c := &cols[j]
		if k := len(c.unset); k > 0 && int(c.unset[k-1]) == i {
			c.unset = c.unset[:k-1]
			continue
		}
		switch c.col.Type {
		case frame.TypeString, frame.TypeEnum, frame.TypeSet, frame.TypeVector:
			c.ends = c.ends[:len(c.ends)-1]
			end := uint32(0)
			if len(c.ends) > 0 {
				end = c.ends[len(c.ends)-1]
			}
			c.data = c.data[:end]
		case frame.TypeReal:
			c.data = c.data[:len(c.data)-8]
		case frame.TypeAddress:
			c.data = c.data[:len(c.data)-16]
		case frame.TypeSubnet:
			c.data = c.data[:len(c.data)-17]
		default:
			c.ints = c.ints[:len(c.ints)-1]
		}
	}
}

// uvarintSize returns the length of the uvarint encoding of x.
func uvarintSize(x uint64) int { return (bits.Len64(x|1) + 6) / 7 }

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
//
// Hot path (shipping goroutine): keys are hashed by dictHash and compared
// in place; no allocation once the scratch has grown.
func (c *colEnc) buildDict(seed uint64, d *dictScratch) bool {
	m := c.values()
	if m < 4 {
		return false
	}
	limit := min(m/2, maxDict)
	size := 1 << bits.Len(uint(2*limit))
	if cap(d.table) < size {
		d.table = make([]uint32, size)
	}
	d.table = d.table[:size]
	clear(d.table)
	d.dict, d.idx = d.dict[:0], d.idx[:0]
	var ok bool
	if c.col.Type == frame.TypeAddress {
		ok = c.buildAddrDict(seed, d, m, limit)
	} else {
		ok = c.buildStrDict(seed, d, m, limit)
	}
	if ok {
		d.sort()
	}
	return ok
}

// buildAddrDict is buildDict's loop for an address column: keys are 16
// bytes, compared as two words in line.
func (c *colEnc) buildAddrDict(seed uint64, d *dictScratch, m, limit int) bool {
	mask := uint64(len(d.table) - 1)
	data := c.data[:16*m]
	for j := range m {
		k := (*[16]byte)(data[16*j : 16*j+16])
		h := dictHash(seed, k[:]) & mask
		for {
			e := d.table[h]
			if e == 0 {
				if len(d.dict) == limit {
					return false
				}
				d.dict = append(d.dict, uint32(j))
				d.table[h] = uint32(len(d.dict))
				d.idx = append(d.idx, uint32(len(d.dict)-1))
				break
			}
			if x := int(d.dict[e-1]); *(*[16]byte)(data[16*x : 16*x+16]) == *k {
				d.idx = append(d.idx, e-1)
				break
			}
			h = (h + 1) & mask
		}
	}
	return true
}

// buildStrDict is buildDict's loop for a string or enum column; the
// table's entries keep their key's bounds (d.starts, d.ends) beside them,
// so that a probe compares without looking the value up again.
func (c *colEnc) buildStrDict(seed uint64, d *dictScratch, m, limit int) bool {
	mask := uint64(len(d.table) - 1)
	d.kstart, d.kend = d.kstart[:0], d.kend[:0]
	var start uint32 // of string j
	for j, end := range c.ends[:m] {
		k := c.data[start:end]
		h := dictHash(seed, k) & mask
		for {
			e := d.table[h]
			if e == 0 {
				if len(d.dict) == limit {
					return false
				}
				d.dict = append(d.dict, uint32(j))
				d.kstart, d.kend = append(d.kstart, start), append(d.kend, end)
				d.table[h] = uint32(len(d.dict))
				d.idx = append(d.idx, uint32(len(d.dict)-1))
				break
			}
			if string(c.data[d.kstart[e-1]:d.kend[e-1]]) == string(k) {
				d.idx = append(d.idx, e-1)
				break
			}
			h = (h + 1) & mask
		}
		start = end
	}
	return true
}

// dictHash hashes a dictionary key: a seeded multiply-xorshift over 8-byte
// words. Log keys are short (addresses, names, uids), where it costs a
// fraction of maphash.Bytes; with a random seed per encoder, keys chosen
// to collide can only slow one batch's encoding (linear probing in a table
// twice the dictionary's size), never change its result.
func dictHash(seed uint64, b []byte) uint64 {
	const k1, k2 = 0x9e3779b97f4a7c15, 0xbf58476d1ce4e5b9
	n := len(b)
	h := seed ^ uint64(n)*k1
	// The bytes past the last whole word are read as one word, the last
	// 8 bytes (overlapping the one before), or for short keys as two
	// overlapping u32s or three bytes: no loop per byte (most keys are
	// names of 2 to 10 bytes and uids of 15 to 18). The length is in h,
	// so the overlap cannot make keys of different lengths collide.
	switch {
	case n >= 8:
		last := binary.LittleEndian.Uint64(b[n-8:])
		for len(b) > 8 {
			h = (h ^ binary.LittleEndian.Uint64(b)) * k2
			h ^= h >> 32
			b = b[8:]
		}
		h = (h ^ last) * k2
	case n >= 4:
		h = (h ^ (uint64(binary.LittleEndian.Uint32(b)) | uint64(binary.LittleEndian.Uint32(b[n-4:]))<<32)) * k2
	case n > 0:
		h = (h ^ (uint64(b[0]) | uint64(b[n/2])<<8 | uint64(b[n-1])<<16)) * k2
	}
	h ^= h >> 29
	h *= 0x94d049bb133111eb
	return h ^ h>>32
}

// sort orders the dictionary by falling frequency (first occurrence
// breaking ties), so that the frequent values get the small indexes and
// the index section is skewed toward them: it compresses better.
func (d *dictScratch) sort() {
	n := len(d.dict)
	d.freq = append(d.freq[:0], make([]uint64, n)...)
	for _, x := range d.idx {
		d.freq[x] += 1 << 32
	}
	for i := range d.freq {
		// Descending count, ascending index: sort ascending on the
		// complemented count.
		d.freq[i] = (^d.freq[i])&^(1<<32-1) | uint64(i)
	}
	slices.Sort(d.freq)
	d.remap = append(d.remap[:0], make([]uint32, n)...)
	old := append(d.table[:0], d.dict...) // the table is done with; reuse it
	for i, f := range d.freq {
		e := uint32(f)
		d.remap[e] = uint32(i)
		d.dict[i] = old[e]
	}
	for j, x := range d.idx {
		d.idx[j] = d.remap[x]
	}
}

// appendBlock appends the column's block (without its length prefix).
func (c *colEnc) appendBlock(dst []byte, n int, seed uint64, d *dictScratch) []byte {
	at := len(dst)
	dst = append(dst, encPlain)
	if len(c.unset) > 0 {
		dst[at] |= encNulls
		bm := len(dst)
		dst = append(dst, make([]byte, (n+7)/8)...)
		for i := range n {
			dst[bm+i>>3] |= 1 << (i & 7)
		}
		for _, i := range c.unset {
			dst[bm+int(i)>>3] &^= 1 << (i & 7)
		}
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
			q := divPow10(v, k)
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
		if c.buildDict(seed, d) {
			dst[at] |= encDict
			dst = binary.AppendUvarint(dst, uint64(len(d.dict)))
			dst = c.appendList(dst, d.dict)
			wide := len(d.dict) > 256
			for _, x := range d.idx {
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
	k := c.values()
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
		for k > 0 && v != divPow10(v, k)*pow10[k] {
			k--
		}
		if k == 0 {
			break
		}
	}
	return k
}

// divPow10 returns v / 10^k, 0 <= k <= 9, truncated as Go's division.
//
// Hot path (encoding time columns, twice per value): a division by a
// constant is a multiplication; by pow10[k], a variable, it is a hardware
// division (tens of cycles).
func divPow10(v int64, k int) int64 {
	switch k {
	case 0:
		return v
	case 1:
		return v / 10
	case 2:
		return v / 100
	case 3:
		return v / 1e3
	case 4:
		return v / 1e4
	case 5:
		return v / 1e5
	case 6:
		return v / 1e6
	case 7:
		return v / 1e7
	case 8:
		return v / 1e8
	}
	return v / 1e9
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

// encodePayload appends the payload of the n records of schema s held in
// cols (an open batch's columns, as Batcher.Append filled them) to dst,
// and the end offset (in dst) of each column block to cuts. It only reads
// cols.
//
// Hot path (shipping goroutine): the scratch comes from a pool, so a warm
// encoder allocates nothing (BenchmarkCompressBatch).
func encodePayload(dst []byte, s *Schema, cols []colEnc, n int, cuts []int) ([]byte, []int, error) {
	if len(cols) != len(s.Columns) {
		return dst, cuts, fmt.Errorf("%w: %d columns for a schema of %d", ErrBadBatch, len(cols), len(s.Columns))
	}
	for j := range cols {
		c := &cols[j]
		if c.col != s.Columns[j] || c.values() != n-len(c.unset) || len(c.unset) > 0 && int(c.unset[len(c.unset)-1]) >= n {
			return dst, cuts, fmt.Errorf("%w: column %q holds %d values and %d unset for %d records", ErrBadBatch, s.Columns[j].Name, c.values(), len(c.unset), n)
		}
	}
	e := encoderPool.Get().(*payloadEncoder)
	defer encoderPool.Put(e)
	dst = appendPayloadHeader(dst, s, n)
	for j := range cols {
		e.blk = cols[j].appendBlock(e.blk[:0], n, e.seed, &e.d)
		dst = binary.AppendUvarint(dst, uint64(len(e.blk)))
		dst = append(dst, e.blk...)
		cuts = append(cuts, len(dst))
	}
	return dst, cuts, nil
}
