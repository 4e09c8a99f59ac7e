package logsink

import (
	"encoding/binary"
	"fmt"
	"math/bits"
	"unsafe"

	"github.com/weirio/weir/frame"
)

// This file reads payloads (format: the package doc). ParsePayload checks
// everything once, column by column; Each then walks the columns in
// lockstep, one record at a time, and hands out frame.Views.

// maxColumns bounds a payload's column count.
const maxColumns = 4096

// Payload is a parsed, validated batch payload: its schema and columns.
// It aliases the bytes it was parsed from, which must not change while it
// is in use. Each, Format and the writers' WritePayload walk it with
// cursor, scratch and text state shared by copies of a Payload: a Payload
// (and its copies) belongs to one goroutine at a time, and neither may be
// called from inside Each's callback.
type Payload struct {
	// Schema is the stream's schema, from the payload header: valid
	// (Schema.Validate), with its own strings.
	Schema Schema

	n         int
	lim       frame.Limits
	hdr       string   // the header bytes Schema was made from (Parse reuses it)
	colBuf    []colDec // backing of cols and curs
	cols      []colDec
	curs      []colDec // Each's cursors: copies of cols that advance
	dictViews []frame.View
	dictBuf   []byte // the dictionary entries' frame encodings, viewed by dictViews
	dictEnds  []int
	scratch   []byte       // frame encodings of the current record's values
	ends      []int        // per column: end of its encoding in scratch, -1 if views holds it
	views     []frame.View // the record handed to Each's callback

	// The text of the records (payload_text.go).
	text     []textCol // per column
	textFmt  uint8     // the format text holds, 0 none
	ti       int       // next line
	lineMax  int       // room a line needs: the longest of each column, separators, textSlack
	dictText []byte    // each dictionary entry formatted, back to back, then textSlack bytes
	dictTEnd []uint32
	// Every record's line, stitched by Format (in format linesFmt, 0
	// none), and the end of each in lines; JSON keys as JSONWriter's.
	lines    []byte
	lineEnds []uint32
	linesFmt uint8
	keyText  []byte
	keyEnd   []uint32
}

// colDec is one column block, parsed; as a cursor it advances through it.
type colDec struct {
	typ, elem frame.Type
	dict      bool
	present   []byte // presence bitmap; nil when every record has a value
	// Sections, by type: a holds the values (varints, fixed-size bodies,
	// string lengths, dictionary indexes, address bytes, containers); b
	// holds string bytes, port protocols, the address family bitmap (famMixed).
	a, b     []byte
	fam      byte  // address lists: famV4, famV6 or famMixed
	scale    int64 // times: the multiplier 10^k
	dictBase int   // first entry in Payload.dictViews
	dictLen  int
	wide     bool  // u16 dictionary indexes
	m        int   // present values
	i        int   // cursor: values taken
	ai, bi   int   // cursor: offsets in a and b (offsets, not reslicing: no write barriers)
	prev     int64 // cursor: largest timestamp so far (scaled), from 0
}

// Records returns the number of records.
func (p *Payload) Records() int { return p.n }

// ParsePayload parses and validates a whole payload: header, schema, every
// column block and every value, so that Each cannot fail on it. It never
// panics, and its work and memory are bounded by len(raw) (every record
// costs at least one bit in every column, every count is checked against
// the bytes left before it is used). lim bounds container nesting; nil
// means the defaults. The Payload aliases raw.
func ParsePayload(raw []byte, lim *frame.Limits) (Payload, error) {
	var p Payload
	if err := p.Parse(raw, lim); err != nil {
		return Payload{}, err
	}
	return p, nil
}

// Parse is ParsePayload into p, reusing the memory of its previous
// payload, which it replaces (views and schemas taken from it stay valid
// only if the stream's schema is unchanged; a new schema gets new
// memory). On error p holds no records.
//
// Hot path (logger): a warm Payload parsing batches of one stream
// allocates nothing (TestWritePayloadAllocs).
func (p *Payload) Parse(raw []byte, lim *frame.Limits) error {
	p.n = 0
	p.textFmt, p.linesFmt = 0, 0
	p.lim = frame.Limits{}
	if lim != nil {
		p.lim = *lim
	}
	p.lim.EnsureDefaults()
	r := preader{b: raw}
	if v := r.u8("version"); r.err == nil && v != payloadVersion {
		return fmt.Errorf("%w: payload version %d", ErrBadBatch, v)
	}
	n := r.uvarint("records")
	hdr := r.b // from the path to the end of the column headers: the schema
	r.str("path", frame.MaxNameLen)
	ncols := r.uvarint("columns")
	if r.err != nil {
		return r.err
	}
	// Each column needs at least 4 header bytes and a 2-byte block.
	if ncols == 0 || ncols > maxColumns || ncols > uint64(len(r.b))/6 {
		return fmt.Errorf("%w: %d columns in %d bytes", ErrBadBatch, ncols, len(r.b))
	}
	// Every record takes at least a bit of every column block.
	if n > math32 || n > 8*uint64(len(r.b)) {
		return fmt.Errorf("%w: %d records in %d bytes", ErrBadBatch, n, len(r.b))
	}
	if err := p.parseSchema(&r, hdr, int(ncols)); err != nil {
		return err
	}
	if cap(p.colBuf) < 2*int(ncols) {
		p.colBuf = make([]colDec, 2*ncols)
	}
	cols := p.colBuf[:2*ncols] // the columns, then the cursors
	clear(cols)
	p.cols, p.curs = cols[:ncols:ncols], cols[ncols:]
	dictBuf, dictEnds := p.dictBuf[:0], p.dictEnds[:0]
	for i := range p.cols {
		blk := r.bytes("column block")
		if r.err != nil {
			return fmt.Errorf("%w (column %d)", r.err, i)
		}
		c := &p.cols[i]
		col := p.Schema.Columns[i]
		c.typ, c.elem = col.Type, col.Elem
		var err error
		if dictBuf, dictEnds, err = c.parse(blk, int(n), dictBuf, dictEnds, len(dictEnds)); err != nil {
			return fmt.Errorf("%w: column %q: %w", ErrBadBatch, col.Name, err)
		}
	}
	p.dictBuf, p.dictEnds = dictBuf, dictEnds
	if len(r.b) != 0 {
		return fmt.Errorf("%w: %d bytes after the last column", ErrBadBatch, len(r.b))
	}
	// Dictionary entries are encoded once, here; records point at them.
	p.dictViews = p.dictViews[:0]
	start := 0
	for _, end := range dictEnds {
		v, _, err := frame.DecodeValue(dictBuf[start:end], nil)
		if err != nil {
			return fmt.Errorf("%w: dictionary entry: %w", ErrBadBatch, err)
		}
		p.dictViews = append(p.dictViews, v)
		start = end
	}
	// Check every value of every column once: Each and the text walk then
	// cannot fail.
	for i := range p.cols {
		c := p.cols[i]
		if err := c.check(p); err != nil {
			return fmt.Errorf("%w: column %q value %d: %w", ErrBadBatch, p.Schema.Columns[i].Name, c.i, err)
		}
		if left := c.leftover(); left != 0 {
			return fmt.Errorf("%w: column %q: %d bytes after its values", ErrBadBatch, p.Schema.Columns[i].Name, left)
		}
	}
	if cap(p.ends) < int(ncols) {
		p.ends = make([]int, ncols)
		p.views = make([]frame.View, ncols)
	}
	p.ends, p.views = p.ends[:ncols], p.views[:ncols]
	if p.scratch == nil {
		p.scratch = make([]byte, 0, 256)
	}
	p.n = int(n)
	return nil
}

// parseSchema reads the column headers after the path into p.Schema; hdr
// starts at the path's length. A header equal to the previous payload's
// keeps its Schema.
func (p *Payload) parseSchema(r *preader, hdr []byte, ncols int) error {
	for range ncols {
		r.str("column name", frame.MaxNameLen)
		r.u8("column type")
		r.u8("column element type")
	}
	if r.err != nil {
		p.Schema, p.hdr = Schema{}, ""
		return r.err
	}
	key := hdr[:len(hdr)-len(r.b)]
	if p.hdr != "" && p.hdr == bstr(key) {
		return nil
	}
	p.Schema, p.hdr = Schema{}, ""
	// The path and column names are substrings of one copy of the header:
	// one allocation, not one per column.
	all := string(key)
	kr := preader{b: key}
	sub := func(b []byte) string {
		at := len(key) - len(kr.b) - len(b)
		return all[at : at+len(b)]
	}
	s := Schema{Path: sub(kr.str("path", frame.MaxNameLen)), Columns: make([]Column, ncols)}
	kr.uvarint("columns")
	for i := range s.Columns {
		c := &s.Columns[i]
		c.Name = sub(kr.str("column name", frame.MaxNameLen))
		c.Type = frame.Type(kr.u8("column type"))
		c.Elem = frame.Type(kr.u8("column element type"))
	}
	if kr.err != nil || len(kr.b) != 0 {
		panic("BUG: logsink: payload header read twice differently")
	}
	if err := s.Validate(); err != nil {
		return fmt.Errorf("%w: %w", ErrBadBatch, err)
	}
	p.Schema, p.hdr = s, all
	return nil
}

// Each calls fn with every record, in order: one view per schema column,
// the zero View (none) for unset values. The slice and the views are valid
// only until fn returns. An error from fn stops the walk and is returned.
// Each may be called again to walk the records again.
//
// Hot path (logger): nothing is allocated once the scratch buffer has
// grown to the largest record; dictionary entries are views made once by
// ParsePayload (BenchmarkParsePayload).
func (p *Payload) Each(fn func(rec []frame.View) error) error {
	copy(p.curs, p.cols)
	for i := 0; i < p.n; i++ {
		p.scratch = p.scratch[:0]
		for j := range p.curs {
			c := &p.curs[j]
			p.ends[j] = -1
			if c.present != nil && c.present[i>>3]&(1<<(i&7)) == 0 {
				p.views[j] = frame.View{}
				continue
			}
			var v frame.View
			var err error
			p.scratch, v, err = c.next(p.scratch, p)
			if err != nil {
				// Only if raw changed since ParsePayload.
				return fmt.Errorf("%w: record %d column %d: %w", ErrBadBatch, i, j, err)
			}
			if v.Type() != frame.TypeNone {
				p.views[j] = v
			} else {
				p.ends[j] = len(p.scratch)
			}
		}
		// The scratch buffer is complete (it may have moved while it grew):
		// now the views into it can be made.
		start := 0
		for j, end := range p.ends {
			if end < 0 {
				continue
			}
			v, _, err := frame.DecodeValue(p.scratch[start:end], nil)
			if err != nil {
				return fmt.Errorf("%w: record %d column %d: %w", ErrBadBatch, i, j, err)
			}
			p.views[j] = v
			start = end
		}
		if err := fn(p.views); err != nil {
			return err
		}
	}
	return nil
}

// parse splits a column block into its sections and checks their sizes.
// Dictionary entries are appended, frame-encoded, to dictBuf (their ends to
// dictEnds); base is the index of the column's first entry.
func (c *colDec) parse(blk []byte, n int, dictBuf []byte, dictEnds []int, base int) ([]byte, []int, error) {
	r := preader{b: blk}
	enc := r.u8("encoding")
	if r.err != nil {
		return dictBuf, dictEnds, r.err
	}
	c.m = n
	if enc&encNulls != 0 {
		c.present = r.take((n+7)/8, "presence bitmap")
		if r.err != nil {
			return dictBuf, dictEnds, r.err
		}
		c.m = 0
		for k, b := range c.present {
			if k == len(c.present)-1 && n%8 != 0 && b>>(n%8) != 0 {
				return dictBuf, dictEnds, fmt.Errorf("presence bits set past record %d", n)
			}
			c.m += bits.OnesCount8(b)
		}
	}
	switch enc &^ encNulls {
	case encPlain:
	case encDict:
		switch c.typ {
		case frame.TypeString, frame.TypeEnum, frame.TypeAddress:
		default:
			return dictBuf, dictEnds, fmt.Errorf("dictionary encoding of %v", c.typ)
		}
		c.dict = true
	default:
		return dictBuf, dictEnds, fmt.Errorf("unknown encoding %#x", enc)
	}
	m := c.m
	switch c.typ {
	case frame.TypeBool:
		c.a = r.take((m+7)/8, "bools")
	case frame.TypeReal:
		c.a = r.take2(m, 8, "reals")
	case frame.TypeSubnet:
		c.a = r.take2(m, 17, "subnets")
	case frame.TypePort:
		c.a = r.take2(m, 2, "port numbers")
		c.b = r.take(m, "port protocols")
	case frame.TypeTimestamp, frame.TypeTimespan:
		k := r.u8("scale")
		if r.err == nil && int(k) >= len(pow10) {
			return dictBuf, dictEnds, fmt.Errorf("scale %d", k)
		}
		c.scale = pow10[k%byte(len(pow10))]
		c.a = r.b
		r.b = nil
	case frame.TypeCount, frame.TypeInteger, frame.TypeSet, frame.TypeVector:
		c.a = r.b
		r.b = nil
	case frame.TypeString, frame.TypeEnum, frame.TypeAddress:
		k := m
		if c.dict {
			d := r.uvarint("dictionary size")
			if r.err != nil {
				return dictBuf, dictEnds, r.err
			}
			if d == 0 || d > maxDict || d > uint64(len(r.b)) {
				return dictBuf, dictEnds, fmt.Errorf("dictionary of %d entries", d)
			}
			k = int(d)
		}
		c.list(&r, k)
		if c.dict && r.err == nil {
			// Encode the entries once; then the index section.
			c.dictBase, c.dictLen = base, k
			entries := *c
			entries.m, entries.dict, entries.present = k, false, nil
			for range k {
				var err error
				if dictBuf, _, err = entries.next(dictBuf, nil); err != nil {
					return dictBuf, dictEnds, err
				}
				dictEnds = append(dictEnds, len(dictBuf))
			}
			if left := entries.leftover(); left != 0 {
				return dictBuf, dictEnds, fmt.Errorf("%d bytes after the dictionary", left)
			}
			c.wide = k > 256
			w := 1
			if c.wide {
				w = 2
			}
			c.a, c.b = r.take2(m, w, "dictionary indexes"), nil
		}
	default:
		return dictBuf, dictEnds, fmt.Errorf("unsupported type %v", c.typ)
	}
	if r.err != nil {
		return dictBuf, dictEnds, r.err
	}
	if len(r.b) != 0 {
		return dictBuf, dictEnds, fmt.Errorf("%d bytes after the values", len(r.b))
	}
	return dictBuf, dictEnds, nil
}

// check validates the column's values as next would read them, advancing
// the cursor c (a copy) past them, without decoding them: Parse runs it on
// every column so that next cannot fail afterwards. The common types are
// checked by tight loops (minimal varints, dictionary indexes, port
// protocols); the others, rare in logs, go through next itself.
//
// Hot path (logger): no allocation, no per-value encoding.
func (c *colDec) check(p *Payload) error {
	switch {
	case c.dict:
		if c.wide {
			for k := 0; k+1 < len(c.a); k += 2 {
				if x := int(binary.LittleEndian.Uint16(c.a[k:])); x >= c.dictLen {
					return fmt.Errorf("dictionary index %d of %d", x, c.dictLen)
				}
			}
		} else {
			for _, x := range c.a {
				if int(x) >= c.dictLen {
					return fmt.Errorf("dictionary index %d of %d", x, c.dictLen)
				}
			}
		}
		if c.dictBase+c.dictLen > len(p.dictViews) {
			return fmt.Errorf("dictionary of %d entries", c.dictLen)
		}
		c.i, c.ai = c.m, len(c.a)
		return nil
	case c.typ == frame.TypeCount || c.typ == frame.TypeInteger ||
		c.typ == frame.TypeTimestamp || c.typ == frame.TypeTimespan:
		a := c.a
		for range c.m {
			k := uvarintLen(a)
			if k <= 0 || k > 1 && a[k-1] == 0 {
				return errVarint
			}
			a = a[k:]
			c.i++
		}
		c.ai = len(c.a) - len(a)
		return nil
	case c.typ == frame.TypePort:
		if len(c.a) < 2*c.m || len(c.b) < c.m {
			return errShort
		}
		for _, proto := range c.b[:c.m] {
			if frame.Protocol(proto) > frame.ProtoICMP {
				return fmt.Errorf("port protocol %d", proto)
			}
		}
		c.i, c.ai, c.bi = c.m, 2*c.m, c.m
		return nil
	case c.typ == frame.TypeString || c.typ == frame.TypeEnum:
		// list checked every length (minimal uvarints) and that the
		// string bytes are exactly their sum: next cannot fail.
		c.i, c.ai, c.bi = c.m, len(c.a), len(c.b)
		return nil
	case c.typ == frame.TypeAddress && c.fam != famMixed:
		// list took exactly m addresses of the family's size.
		c.i, c.ai = c.m, len(c.a)
		return nil
	case c.typ == frame.TypeBool:
		// parse took exactly the bitmap's bytes; any bits are values.
		c.i = c.m
		return nil
	}
	var scratch [32]byte
	for range c.m {
		if _, _, err := c.next(scratch[:0], p); err != nil {
			return err
		}
	}
	return nil
}

// uvarintLen returns the length of the uvarint at the start of b, 0 if b
// ends first, negative if it overflows 64 bits: binary.Uvarint's n
// without the value.
func uvarintLen(b []byte) int {
	for i, x := range b {
		if i == binary.MaxVarintLen64 {
			return -(i + 1)
		}
		if x < 0x80 {
			if i == binary.MaxVarintLen64-1 && x > 1 {
				return -(i + 1)
			}
			return i + 1
		}
	}
	return 0
}

// leftover returns the bytes of a and b that the values taken so far have
// not consumed (the bitmaps, read by index, do not count).
func (c *colDec) leftover() int {
	switch {
	case c.dict:
		return len(c.a) - c.ai
	case c.typ == frame.TypeBool:
		return 0
	case c.typ == frame.TypeAddress && c.fam == famMixed:
		return len(c.a) - c.ai
	}
	return len(c.a) - c.ai + len(c.b) - c.bi
}

// list splits a string list (lengths, then bytes) or an address list
// (family, family bitmap, addresses) of k values into a and b.
func (c *colDec) list(r *preader, k int) {
	if c.typ == frame.TypeAddress {
		c.fam = r.u8("address family")
		switch c.fam {
		case famV4:
			c.a = r.take2(k, 4, "addresses")
		case famV6:
			c.a = r.take2(k, 16, "addresses")
		case famMixed:
			c.b = r.take((k+7)/8, "address family bitmap")
			if r.err != nil {
				return
			}
			six := 0
			for _, b := range c.b {
				six += bits.OnesCount8(b)
			}
			if six > k {
				r.fail("address family bitmap")
				return
			}
			c.a = r.take(4*(k-six)+16*six, "addresses")
		default:
			r.fail("address family")
		}
		return
	}
	// Lengths: k uvarints, whose sum is the size of the bytes section.
	lens := r.b
	var total uint64
	for range k {
		l := r.uvarint("string length")
		if r.err != nil {
			return
		}
		total += l
		if total > uint64(len(r.b)) {
			r.fail("string bytes")
			return
		}
	}
	c.a = lens[:len(lens)-len(r.b)]
	c.b = r.take(int(total), "string bytes")
}

// next appends the frame encoding of the column's next value to dst, or
// returns a view (dictionary entries, containers) and dst unchanged. It
// checks what it reads and never panics.
func (c *colDec) next(dst []byte, p *Payload) ([]byte, frame.View, error) {
	i := c.i
	c.i++
	if i >= c.m {
		return dst, frame.View{}, errShort
	}
	a := c.a[min(c.ai, len(c.a)):]
	if c.dict {
		x, w := 0, 1
		if c.wide {
			w = 2
		}
		if len(a) < w {
			return dst, frame.View{}, errShort
		}
		if c.wide {
			x = int(binary.LittleEndian.Uint16(a))
		} else {
			x = int(a[0])
		}
		c.ai += w
		if x >= c.dictLen || c.dictBase+x >= len(p.dictViews) {
			return dst, frame.View{}, fmt.Errorf("dictionary index %d of %d", x, c.dictLen)
		}
		return dst, p.dictViews[c.dictBase+x], nil
	}
	switch c.typ {
	case frame.TypeBool:
		if i>>3 >= len(c.a) {
			return dst, frame.View{}, errShort
		}
		return append(dst, byte(frame.TypeBool), c.a[i>>3]>>(i&7)&1), frame.View{}, nil
	case frame.TypeCount, frame.TypeInteger, frame.TypeTimestamp, frame.TypeTimespan:
		u, k := binary.Uvarint(a)
		if k <= 0 || k > 1 && a[k-1] == 0 {
			return dst, frame.View{}, errVarint
		}
		c.ai += k
		v := int64(u)
		if c.typ != frame.TypeCount {
			v = int64(u>>1) ^ -int64(u&1) // zigzag
		}
		if c.typ == frame.TypeTimestamp { // delta from the running maximum
			v += c.prev
			c.prev = max(c.prev, v)
		}
		if c.scale > 1 {
			v *= c.scale
		}
		dst = append(dst, byte(c.typ))
		return binary.LittleEndian.AppendUint64(dst, uint64(v)), frame.View{}, nil
	case frame.TypeReal:
		if len(a) < 8 {
			return dst, frame.View{}, errShort
		}
		c.ai += 8
		return append(append(dst, byte(frame.TypeReal)), a[:8]...), frame.View{}, nil
	case frame.TypePort:
		if len(a) < 2 || c.bi >= len(c.b) {
			return dst, frame.View{}, errShort
		}
		proto := c.b[c.bi]
		if frame.Protocol(proto) > frame.ProtoICMP {
			return dst, frame.View{}, fmt.Errorf("port protocol %d", proto)
		}
		c.ai += 2
		c.bi++
		return append(dst, byte(frame.TypePort), a[0], a[1], proto), frame.View{}, nil
	case frame.TypeString, frame.TypeEnum:
		l, k := binary.Uvarint(a)
		if k <= 0 || k > 1 && a[k-1] == 0 {
			return dst, frame.View{}, errVarint
		}
		if l > uint64(len(c.b)-c.bi) {
			return dst, frame.View{}, errShort
		}
		c.ai += k
		dst = binary.AppendUvarint(append(dst, byte(c.typ)), l)
		dst = append(dst, c.b[c.bi:c.bi+int(l)]...)
		c.bi += int(l)
		return dst, frame.View{}, nil
	case frame.TypeAddress:
		six := c.fam == famV6
		if c.fam == famMixed {
			if i>>3 >= len(c.b) {
				return dst, frame.View{}, errShort
			}
			six = c.b[i>>3]>>(i&7)&1 == 1
		}
		dst = append(dst, byte(frame.TypeAddress))
		if six {
			if len(a) < 16 {
				return dst, frame.View{}, errShort
			}
			c.ai += 16
			return append(dst, a[:16]...), frame.View{}, nil
		}
		if len(a) < 4 {
			return dst, frame.View{}, errShort
		}
		c.ai += 4
		return append(append(dst, v4InV6[:]...), a[:4]...), frame.View{}, nil
	case frame.TypeSubnet:
		if len(a) < 17 {
			return dst, frame.View{}, errShort
		}
		c.ai += 17
		at := len(dst)
		dst = append(append(dst, byte(frame.TypeSubnet)), a[:17]...)
		if _, _, err := frame.DecodeValue(dst[at:], nil); err != nil { // host bits, length
			return dst[:at], frame.View{}, err
		}
		return dst, frame.View{}, nil
	case frame.TypeSet, frame.TypeVector:
		var lim *frame.Limits
		if p != nil {
			lim = &p.lim
		}
		v, rest, err := frame.DecodeValue(a, lim)
		if err != nil {
			return dst, frame.View{}, err
		}
		if v.Type() != c.typ {
			return dst, frame.View{}, fmt.Errorf("%v value", v.Type())
		}
		for it := v.Iter(); ; {
			e, ok := it.Next()
			if !ok {
				break
			}
			if et := e.Type(); et != frame.TypeNone && et != c.elem {
				return dst, frame.View{}, fmt.Errorf("%v element", et)
			}
		}
		c.ai += len(a) - len(rest)
		return dst, v, nil
	}
	return dst, frame.View{}, fmt.Errorf("unsupported type %v", c.typ)
}

var (
	errShort  = fmt.Errorf("%w: truncated column", frame.ErrTruncated)
	errVarint = fmt.Errorf("%w: bad varint", frame.ErrBadValue)
)

// preader reads the header and block sections; the first error sticks.
type preader struct {
	b   []byte
	err error
}

func (r *preader) fail(what string) {
	if r.err == nil {
		r.err = fmt.Errorf("%w: truncated or bad %s", ErrBadBatch, what)
	}
	r.b = nil
}

func (r *preader) u8(what string) byte {
	if r.err != nil || len(r.b) < 1 {
		r.fail(what)
		return 0
	}
	v := r.b[0]
	r.b = r.b[1:]
	return v
}

func (r *preader) uvarint(what string) uint64 {
	if r.err != nil {
		return 0
	}
	u, k := binary.Uvarint(r.b)
	if k <= 0 || k > 1 && r.b[k-1] == 0 {
		r.fail(what)
		return 0
	}
	r.b = r.b[k:]
	return u
}

func (r *preader) take(n int, what string) []byte {
	if r.err != nil || n < 0 || n > len(r.b) {
		r.fail(what)
		return nil
	}
	v := r.b[:n:n]
	r.b = r.b[n:]
	return v
}

// take2 takes n items of size bytes each, refusing counts that overflow.
func (r *preader) take2(n, size int, what string) []byte {
	if n > len(r.b)/size {
		r.fail(what)
		return nil
	}
	return r.take(n*size, what)
}

// bytes takes a uvarint length and that many bytes.
func (r *preader) bytes(what string) []byte {
	l := r.uvarint(what)
	if r.err == nil && l > uint64(len(r.b)) {
		r.fail(what)
		return nil
	}
	return r.take(int(l), what)
}

func (r *preader) str(what string, max int) []byte {
	b := r.bytes(what)
	if len(b) > max {
		r.fail(what)
		return nil
	}
	return b
}

// bstr returns b as a string without copying. The string aliases b: it
// must not be kept past the call it is made for, nor b changed meanwhile.
func bstr(b []byte) string { return unsafe.String(unsafe.SliceData(b), len(b)) }
