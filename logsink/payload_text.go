package logsink

import (
	"encoding/binary"
	"fmt"
	"math"
	"net/netip"
	"unsafe"

	"github.com/weirio/weir/frame"
)

// This file formats a parsed payload's records as Zeek TSV or JSON text
// straight from its columns: the logger's hot path (WritePayload of the
// writers and of RotatingFile, called by Sink.Write). Each builds a frame
// encoding and a View per value, and the writers then read the views back,
// a few hundred instructions per value; here the work goes column by
// column, then row by row:
//
//   - each column's values are formatted by a loop for its type into the
//     column's text buffer, with a span (start and end) per record; a
//     dictionary column's entries are formatted once and its records'
//     spans point at them;
//   - each line is then stitched from the records' spans with 16-byte
//     moves (every text buffer ends in textSlack spare bytes, and the
//     line buffer has room for the longest line plus textSlack).
//
// No value has empty text in either format ("(empty)", quotes), so an
// empty span is an unset value: "-" in TSV, no member in JSON. The output
// is byte-identical to WriteViews of each record Each gives
// (TestWritePayloadMatchesViews, FuzzParsePayload).

// Text formats.
const (
	textTSV = iota + 1
	textJSON
)

// textSlack is the spare room after every text buffer and line: the
// stitching copies in 16-byte moves.
const textSlack = 16

// textCol is one column of a payload formatted: a span per record into
// buf, or into Payload.dictText for a dictionary column.
type textCol struct {
	buf   []byte   // the values' text, back to back, then textSlack bytes
	spans []uint64 // per record: start<<32 | end; start == end when unset
	max   int      // longest span
	dict  bool     // spans are into Payload.dictText
}

// Format formats every record of p as a line of format f, ahead of a
// WritePayload to a writer of that format, which then only writes the
// lines. It lets a logger format batches on several goroutines (each
// Payload on one at a time) and write them on one, which so has only
// the bytes to copy (the stitching of the lines was half of its work).
// Calling it is optional: WritePayload formats a payload that is not.
//
// Hot path (logger): the buffers are the Payload's and reused.
func (p *Payload) Format(f FileFormat) error {
	var tf uint8
	switch f {
	case FormatTSV:
		tf = textTSV
	case FormatJSON:
		tf = textJSON
	default:
		return fmt.Errorf("%w: Format %d", ErrBadRotateOptions, f)
	}
	if err := p.textStart(tf); err != nil {
		return err
	}
	if p.linesFmt == tf {
		return nil
	}
	if tf == textJSON && len(p.keyEnd) != len(p.Schema.Columns) {
		p.keyText, p.keyEnd = appendJSONKeys(p.keyText[:0], p.keyEnd[:0], &p.Schema)
	}
	p.lines = growBytes(p.lines[:0], p.n*(p.lineMax-textSlack)+textSlack)
	if cap(p.lineEnds) < p.n {
		p.lineEnds = make([]uint32, p.n)
	}
	p.lineEnds = p.lineEnds[:p.n]
	b := p.lines
	for p.ti = 0; !p.textDone(); {
		i := p.ti
		if tf == textTSV {
			b = p.appendTSVLine(b)
		} else {
			b = p.appendJSONLine(b, p.keyText, p.keyEnd)
		}
		p.lineEnds[i] = uint32(len(b))
	}
	p.lines, p.ti, p.linesFmt = b, 0, tf
	return nil
}

// appendJSONKeys appends each column's `"name":` to keyText (then
// textSlack bytes) and the end of each to keyEnd.
func appendJSONKeys(keyText []byte, keyEnd []uint32, s *Schema) ([]byte, []uint32) {
	for _, c := range s.Columns {
		keyText = append(appendJSONString(keyText, c.Name), ':')
		keyEnd = append(keyEnd, uint32(len(keyText)))
	}
	return append(keyText, make([]byte, textSlack)...), keyEnd
}

// stitchedLines returns the lines of records p.ti onward if Format
// stitched them in format f, cut after the first record whose end
// reaches size+len >= limit (limit > 0), and advances p.ti past them;
// ok is false if they are not stitched.
func (p *Payload) stitchedLines(f uint8, size, limit int64) (b []byte, ok bool) {
	if p.linesFmt != f || p.textFmt != f {
		return nil, false
	}
	var start uint32
	if p.ti > 0 {
		start = p.lineEnds[p.ti-1]
	}
	end := p.ti
	if limit <= 0 {
		end = p.n
	} else {
		for end < p.n {
			end++
			if size+int64(p.lineEnds[end-1]-start) >= limit {
				break
			}
		}
	}
	if end == p.ti {
		return nil, true
	}
	p.ti = end
	return p.lines[start:p.lineEnds[end-1]], true
}

// textStart formats every value of p in format f (textTSV or textJSON),
// unless done already, for appendTSVLine or appendJSONLine (which append
// the line of record ti, then advance it).
//
// Hot path (logger): the buffers are the Payload's and reused; no
// allocation once they have grown (TestWritePayloadAllocs).
func (p *Payload) textStart(f uint8) error {
	if p.textFmt == f {
		return nil // formatted already, as the same payload
	}
	p.textFmt = 0
	p.dictText, p.dictTEnd = p.dictText[:0], p.dictTEnd[:0]
	for _, v := range p.dictViews {
		if f == textTSV {
			p.dictText = appendTSVValue(p.dictText, v, false)
		} else {
			p.dictText = appendJSONValue(p.dictText, v)
		}
		p.dictTEnd = append(p.dictTEnd, uint32(len(p.dictText)))
	}
	p.dictText = append(p.dictText, make([]byte, textSlack)...)
	if cap(p.text) < len(p.cols) {
		p.text = make([]textCol, len(p.cols))
	}
	p.text = p.text[:len(p.cols)]
	p.lineMax = textSlack + 3
	for j := range p.cols {
		c := p.cols[j] // a cursor
		tc := &p.text[j]
		if err := c.formatText(tc, p, f); err != nil {
			// Only if the payload's bytes changed since Parse.
			return fmt.Errorf("%w: column %d: %w", ErrBadBatch, j, err)
		}
		tc.buf = append(tc.buf, make([]byte, textSlack)...)
		p.lineMax += tc.max + 1 // and a separator
		if f == textJSON {
			// The member's key, `"name":`: a name byte escapes to at most
			// 6 bytes (\u00XX).
			p.lineMax += 6*len(p.Schema.Columns[j].Name) + 3
		}
	}
	p.textFmt = f
	return nil
}

// textDone reports whether every record's line has been appended.
func (p *Payload) textDone() bool { return p.ti >= p.n }

// formatText formats the column's values into tc. c is a cursor (a copy
// of the column) that advances.
func (c *colDec) formatText(tc *textCol, p *Payload, f uint8) error {
	n := p.n
	if cap(tc.spans) < n {
		tc.spans = make([]uint64, n)
	}
	// Every span is set, an unset value's to 0 (no clear of the whole
	// slice first: most columns have a value in every record).
	tc.spans, tc.buf, tc.max, tc.dict = tc.spans[:n], tc.buf[:0], 0, c.dict
	if c.dict {
		for i := range n {
			if !c.has(i) {
				tc.spans[i] = 0
				continue
			}
			x, err := c.dictIndex(p)
			if err != nil {
				return err
			}
			var start uint32
			if x > 0 {
				start = p.dictTEnd[x-1]
			}
			end := p.dictTEnd[x]
			tc.spans[i] = uint64(start)<<32 | uint64(end)
			tc.max = max(tc.max, int(end-start))
		}
		return nil
	}
	tc.buf = growBytes(tc.buf, n*maxTextLen(c.typ))
	switch {
	case c.typ == frame.TypeCount || c.typ == frame.TypeTimestamp || c.typ == frame.TypeTimespan:
		return c.formatTimesCounts(tc, n)
	case c.typ == frame.TypePort:
		return c.formatPorts(tc, n)
	case c.typ == frame.TypeAddress && c.fam == famV4:
		return c.formatIPv4(tc, n, f)
	case c.typ == frame.TypeAddress:
		return c.formatAddrs(tc, n, f)
	case c.typ == frame.TypeBool:
		return c.formatBools(tc, n, f)
	}
	for i := range n {
		if !c.has(i) {
			tc.spans[i] = 0
			continue
		}
		start := len(tc.buf)
		var err error
		if tc.buf, err = c.appendText(tc.buf, p, f); err != nil {
			return err
		}
		tc.spans[i] = uint64(start)<<32 | uint64(len(tc.buf))
		tc.max = max(tc.max, len(tc.buf)-start)
	}
	return nil
}

// formatTimesCounts is formatText for count, timestamp and timespan
// columns (text alike in both formats): their varints decoded in line.
//
// Hot path (logger): most of conn.log's columns. The digits are written
// straight into the buffer grown for the whole column (maxTextLen per
// value), at an offset: no append, no growth check per value.
func (c *colDec) formatTimesCounts(tc *textCol, n int) error {
	a, ai, present := c.a, c.ai, c.present
	scale, prev, count, stamp := c.scale, c.prev, c.typ == frame.TypeCount, c.typ == frame.TypeTimestamp
	out := tc.buf[:cap(tc.buf)]
	o := len(tc.buf)
	if len(out)-o < n*maxTextLen(c.typ) {
		panic("BUG: logsink: column text buffer not grown")
	}
	for i := range n {
		if present != nil && present[i>>3]&(1<<(i&7)) == 0 {
			tc.spans[i] = 0
			continue
		}
		var u uint64
		if ai < len(a) && a[ai] < 0x80 {
			u = uint64(a[ai])
			ai++
		} else {
			var k int
			if u, k = binary.Uvarint(a[min(ai, len(a)):]); k <= 0 {
				return errVarint
			}
			ai += k
		}
		start := o
		if count {
			o = putDec(out, o, u)
		} else {
			v := int64(u>>1) ^ -int64(u&1) // zigzag
			if stamp {                     // delta from the running maximum
				v += prev
				prev = max(prev, v)
			}
			if scale > 1 {
				v *= scale
			}
			o = putEpochNanos(out, o, v)
		}
		tc.spans[i] = uint64(start)<<32 | uint64(o)
		tc.max = max(tc.max, o-start)
	}
	c.ai, c.prev, tc.buf = ai, prev, out[:o]
	return nil
}

// putDec writes u in decimal at b[o:], which has room for 20 bytes, and
// returns the end: appendDec without the append.
func putDec(b []byte, o int, u uint64) int {
	d := (*[20]byte)(b[o : o+20])
	if u < 10 {
		d[0] = byte('0' + u)
		return o + 1
	}
	n := decLen(u)
	putDecDigits(d[:n], u)
	return o + n
}

// putEpochNanos writes ns as appendEpochNanos does at b[o:], which has
// room for 22 bytes (a sign, 12 digits of seconds, a point and six
// decimals at most), and returns the end.
func putEpochNanos(b []byte, o int, ns int64) int {
	u := uint64(ns)
	if ns < 0 {
		b[o] = '-'
		o++
		u = -u
	}
	us := u / 1000
	if u%1000 >= 500 {
		us++
	}
	o = putDec(b, o, us/1e6)
	frac := us % 1e6
	x, y, z := frac/10000*2, frac/100%100*2, frac%100*2
	d := (*[7]byte)(b[o : o+7])
	d[0], d[1], d[2], d[3], d[4], d[5], d[6] = '.', digitPairs[x], digitPairs[x+1], digitPairs[y], digitPairs[y+1], digitPairs[z], digitPairs[z+1]
	return o + 7
}

// formatPorts is formatText for port columns: the number only, in both
// formats.
func (c *colDec) formatPorts(tc *textCol, n int) error {
	a, ai, buf, present := c.a, c.ai, tc.buf, c.present
	for i := range n {
		if present != nil && present[i>>3]&(1<<(i&7)) == 0 {
			tc.spans[i] = 0
			continue
		}
		if ai+2 > len(a) {
			return errShort
		}
		start := len(buf)
		buf = appendDec(buf, uint64(binary.LittleEndian.Uint16(a[ai:])))
		ai += 2
		tc.spans[i] = uint64(start)<<32 | uint64(len(buf))
		tc.max = max(tc.max, len(buf)-start)
	}
	c.ai, tc.buf = ai, buf
	return nil
}

// formatIPv4 is formatText for an address column of IPv4 addresses only.
func (c *colDec) formatIPv4(tc *textCol, n int, f uint8) error {
	a, ai, buf, present := c.a, c.ai, tc.buf, c.present
	for i := range n {
		if present != nil && present[i>>3]&(1<<(i&7)) == 0 {
			tc.spans[i] = 0
			continue
		}
		if ai+4 > len(a) {
			return errShort
		}
		start := len(buf)
		if f == textJSON {
			buf = append(buf, '"')
		}
		buf = appendIPv4(buf, a[ai:ai+4])
		if f == textJSON {
			buf = append(buf, '"')
		}
		ai += 4
		tc.spans[i] = uint64(start)<<32 | uint64(len(buf))
		tc.max = max(tc.max, len(buf)-start)
	}
	c.ai, tc.buf = ai, buf
	return nil
}

// formatAddrs is formatText for address columns of IPv6 or mixed
// families (an IPv4-mapped address is written as IPv4, as View.Addr).
func (c *colDec) formatAddrs(tc *textCol, n int, f uint8) error {
	a, ai, vi, buf, present := c.a, c.ai, c.i, tc.buf, c.present
	for i := range n {
		if present != nil && present[i>>3]&(1<<(i&7)) == 0 {
			tc.spans[i] = 0
			continue
		}
		if vi >= c.m {
			return errShort
		}
		six := c.fam == famV6
		if c.fam == famMixed {
			if vi>>3 >= len(c.b) {
				return errShort
			}
			six = c.b[vi>>3]>>(vi&7)&1 == 1
		}
		start := len(buf)
		if f == textJSON {
			buf = append(buf, '"')
		}
		if six {
			if ai+16 > len(a) {
				return errShort
			}
			buf = netip.AddrFrom16([16]byte(a[ai : ai+16])).Unmap().AppendTo(buf)
			ai += 16
		} else {
			if ai+4 > len(a) {
				return errShort
			}
			buf = appendIPv4(buf, a[ai:ai+4])
			ai += 4
		}
		if f == textJSON {
			buf = append(buf, '"')
		}
		vi++
		tc.spans[i] = uint64(start)<<32 | uint64(len(buf))
		tc.max = max(tc.max, len(buf)-start)
	}
	c.ai, c.i, tc.buf = ai, vi, buf
	return nil
}

// formatBools is formatText for bool columns: T or F in TSV, true or
// false in JSON.
func (c *colDec) formatBools(tc *textCol, n int, f uint8) error {
	t, fl := "T", "F"
	if f == textJSON {
		t, fl = "true", "false"
	}
	vi, buf, present := c.i, tc.buf, c.present
	for i := range n {
		if present != nil && present[i>>3]&(1<<(i&7)) == 0 {
			tc.spans[i] = 0
			continue
		}
		if vi >= c.m || vi>>3 >= len(c.a) {
			return errShort
		}
		start := len(buf)
		if c.a[vi>>3]>>(vi&7)&1 == 1 {
			buf = append(buf, t...)
		} else {
			buf = append(buf, fl...)
		}
		vi++
		tc.spans[i] = uint64(start)<<32 | uint64(len(buf))
		tc.max = max(tc.max, len(buf)-start)
	}
	c.i, tc.buf = vi, buf
	return nil
}

// has reports whether record i has a value in the column.
func (c *colDec) has(i int) bool {
	return c.present == nil || c.present[i>>3]&(1<<(i&7)) != 0
}

// maxTextLen is the longest text of a value of type t in either format
// when it is bounded (a hint for growing buffers), else a typical length.
func maxTextLen(t frame.Type) int {
	switch t {
	case frame.TypeBool, frame.TypePort:
		return 5
	case frame.TypeCount, frame.TypeInteger:
		return 20
	case frame.TypeTimestamp, frame.TypeTimespan:
		return 22
	case frame.TypeAddress, frame.TypeSubnet:
		return 45
	}
	return 24
}

// dictIndex returns the dictionary entry (in Payload.dictViews and
// dictTEnd) of the column's next value.
func (c *colDec) dictIndex(p *Payload) (int, error) {
	a := c.a[min(c.ai, len(c.a)):]
	var x int
	if c.wide {
		if len(a) < 2 {
			return 0, errShort
		}
		x = int(binary.LittleEndian.Uint16(a))
		c.ai += 2
	} else {
		if len(a) < 1 {
			return 0, errShort
		}
		x = int(a[0])
		c.ai++
	}
	e := c.dictBase + x
	if x >= c.dictLen || e >= len(p.dictTEnd) {
		return 0, fmt.Errorf("dictionary index %d of %d", x, c.dictLen)
	}
	return e, nil
}

// appendText appends the column's next value (not a dictionary column's)
// formatted as f, reading it as next does (with the same bounds checks,
// so that a payload changed after Parse yields an error, never a panic).
func (c *colDec) appendText(dst []byte, p *Payload, f uint8) ([]byte, error) {
	i := c.i
	c.i++
	if i >= c.m {
		return dst, errShort
	}
	a := c.a[min(c.ai, len(c.a)):]
	switch c.typ {
	case frame.TypeBool:
		if i>>3 >= len(c.a) {
			return dst, errShort
		}
		set := c.a[i>>3]>>(i&7)&1 == 1
		switch {
		case f == textJSON && set:
			return append(dst, "true"...), nil
		case f == textJSON:
			return append(dst, "false"...), nil
		case set:
			return append(dst, 'T'), nil
		}
		return append(dst, 'F'), nil
	case frame.TypeCount, frame.TypeInteger, frame.TypeTimestamp, frame.TypeTimespan:
		u, k := binary.Uvarint(a)
		if k <= 0 || k > 1 && a[k-1] == 0 {
			return dst, errVarint
		}
		c.ai += k
		if c.typ == frame.TypeCount {
			return appendDec(dst, u), nil
		}
		v := int64(u>>1) ^ -int64(u&1) // zigzag
		if c.typ == frame.TypeInteger {
			return appendInt(dst, v), nil
		}
		if c.typ == frame.TypeTimestamp { // delta from the running maximum
			v += c.prev
			c.prev = max(c.prev, v)
		}
		if c.scale > 1 {
			v *= c.scale
		}
		return appendEpochNanos(dst, v), nil
	case frame.TypeReal:
		if len(a) < 8 {
			return dst, errShort
		}
		c.ai += 8
		r := math.Float64frombits(binary.LittleEndian.Uint64(a))
		if f == textTSV {
			return appendTSVReal(dst, r), nil
		}
		return appendJSONFloat(dst, r), nil
	case frame.TypePort:
		if len(a) < 2 || c.bi >= len(c.b) {
			return dst, errShort
		}
		c.ai += 2
		c.bi++
		return appendDec(dst, uint64(binary.LittleEndian.Uint16(a))), nil
	case frame.TypeString, frame.TypeEnum:
		l, k := binary.Uvarint(a)
		if k <= 0 || k > 1 && a[k-1] == 0 {
			return dst, errVarint
		}
		if l > uint64(len(c.b)-c.bi) {
			return dst, errShort
		}
		c.ai += k
		s := bstr(c.b[c.bi : c.bi+int(l)])
		c.bi += int(l)
		if f == textTSV {
			return appendTSVString(dst, s, false), nil
		}
		return appendJSONString(dst, s), nil
	case frame.TypeAddress:
		six := c.fam == famV6
		if c.fam == famMixed {
			if i>>3 >= len(c.b) {
				return dst, errShort
			}
			six = c.b[i>>3]>>(i&7)&1 == 1
		}
		if f == textJSON {
			dst = append(dst, '"')
		}
		if six {
			if len(a) < 16 {
				return dst, errShort
			}
			c.ai += 16
			// As View.Addr: an IPv4-mapped address is written as IPv4.
			dst = netip.AddrFrom16([16]byte(a[:16])).Unmap().AppendTo(dst)
		} else {
			if len(a) < 4 {
				return dst, errShort
			}
			c.ai += 4
			dst = appendIPv4(dst, a[:4])
		}
		if f == textJSON {
			dst = append(dst, '"')
		}
		return dst, nil
	case frame.TypeSubnet:
		if len(a) < 17 {
			return dst, errShort
		}
		c.ai += 17
		sn := netip.PrefixFrom(netip.AddrFrom16([16]byte(a[:16])).Unmap(), int(a[16]))
		if f == textTSV {
			return sn.AppendTo(dst), nil
		}
		return append(sn.AppendTo(append(dst, '"')), '"'), nil
	case frame.TypeSet, frame.TypeVector:
		v, rest, err := frame.DecodeValue(a, &p.lim)
		if err != nil {
			return dst, err
		}
		c.ai += len(a) - len(rest)
		if f == textTSV {
			return appendTSVValue(dst, v, false), nil
		}
		return appendJSONValue(dst, v), nil
	}
	return dst, fmt.Errorf("unsupported type %v", c.typ)
}

// appendTSVLine appends the next record's TSV line.
//
// Hot path (logger): a 16-byte move per value, no call, no bounds check:
// the moves go through pointers (moveTextUnsafe), as every span was made
// by textStart inside its buffer, which ends in textSlack spare bytes,
// and growBytes gives the line lineMax bytes — the longest span of each
// column, separators and textSlack. The checked stitching cost twice the
// instructions.
func (p *Payload) appendTSVLine(dst []byte) []byte {
	i := p.ti
	p.ti++
	dst = growBytes(dst, p.lineMax)
	o := len(dst)
	out := unsafe.Pointer(unsafe.SliceData(dst[:cap(dst)]))
	dict := unsafe.Pointer(unsafe.SliceData(p.dictText))
	for j := range p.text {
		tc := &p.text[j]
		src := dict
		if !tc.dict {
			src = unsafe.Pointer(unsafe.SliceData(tc.buf))
		}
		sp := tc.spans[i]
		s, e := int(sp>>32), int(uint32(sp))
		if s == e {
			*(*byte)(unsafe.Add(out, o)) = '-'
			o++
		} else {
			o = moveTextUnsafe(out, o, src, s, e)
		}
		*(*byte)(unsafe.Add(out, o)) = '\t'
		o++
	}
	*(*byte)(unsafe.Add(out, o-1)) = '\n'
	return dst[:o]
}

// moveTextUnsafe is moveText through pointers, for appendTSVLine, whose
// caller guarantees the room moveText checks.
func moveTextUnsafe(dst unsafe.Pointer, o int, src unsafe.Pointer, s, e int) int {
	for s < e {
		*(*[16]byte)(unsafe.Add(dst, o)) = *(*[16]byte)(unsafe.Add(src, s))
		o += 16
		s += 16
	}
	return o - (s - e)
}

// appendJSONLine appends the next record's JSON line; keys holds each
// column's `"name":` back to back (then textSlack bytes), keyEnd the end
// of each.
//
// Hot path (logger): as appendTSVLine.
func (p *Payload) appendJSONLine(dst []byte, keys []byte, keyEnd []uint32) []byte {
	i := p.ti
	p.ti++
	dst = growBytes(dst, p.lineMax)
	o := len(dst)
	out := dst[:cap(dst)]
	out[o] = '{'
	o++
	first := o
	var ks uint32
	for j := range p.text {
		ke := keyEnd[j]
		tc := &p.text[j]
		sp := tc.spans[i]
		s, e := int(sp>>32), int(uint32(sp))
		if s != e {
			if o != first {
				out[o] = ','
				o++
			}
			o = moveText(out, o, keys, int(ks), int(ke))
			src := tc.buf
			if tc.dict {
				src = p.dictText
			}
			o = moveText(out, o, src, s, e)
		}
		ks = ke
	}
	out[o] = '}'
	out[o+1] = '\n'
	return out[:o+2]
}

// moveText copies src[s:e] to dst[o:] and returns the end of the copy in
// dst. It moves 16 bytes at a time, so it may write up to 15 bytes past
// the end of the copy and read up to 15 past e: both buffers must have
// that room (textSlack).
func moveText(dst []byte, o int, src []byte, s, e int) int {
	for s < e {
		*(*[16]byte)(dst[o : o+16]) = [16]byte(src[s : s+16])
		o += 16
		s += 16
	}
	return o - (s - e)
}

// growBytes returns b with room for n more bytes.
func growBytes(b []byte, n int) []byte {
	if cap(b)-len(b) >= n {
		return b
	}
	nb := make([]byte, len(b), 2*cap(b)+n)
	copy(nb, b)
	return nb
}

// appendIPv4 appends a.b.c.d, as netip.Addr.AppendTo does for IPv4.
//
// Hot path (logger): each byte's digits come from a table, with no
// branch on their count (which varies at random from address to address).
func appendIPv4(dst []byte, a []byte) []byte {
	var buf [16]byte
	o := 0
	for _, x := range a[:4] {
		e := &decBytes[x]
		*(*[4]byte)(buf[o&15:]) = e.text
		o += int(e.n)
	}
	return append(dst, buf[:o-1]...)
}

// decBytes is the decimal text of each byte value followed by a '.', and
// its length. Read-only after init.
var decBytes = func() (t [256]struct {
	text [4]byte
	n    uint8
}) {
	for i := range t {
		s := fmt.Sprintf("%d.", i)
		copy(t[i].text[:], s)
		t[i].n = uint8(len(s))
	}
	return t
}()
