package logsink

import (
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/weirio/weir/frame"
)

// TSVWriter writes Zeek's ASCII log format (LogAscii with its default
// separators). Layout:
//
//	#separator \x09
//	#set_separator<TAB>,
//	#empty_field<TAB>(empty)
//	#unset_field<TAB>-
//	#path<TAB><path>
//	#open<TAB><YYYY-MM-DD-HH-MM-SS>
//	#fields<TAB><name><TAB>...
//	#types<TAB><type><TAB>...
//	<value><TAB><value>...        one line per record
//	#close<TAB><YYYY-MM-DD-HH-MM-SS>   written by Close
//
// Values: bool T/F; count and int decimal; double, time and interval as
// seconds with exactly six decimals (Zeek's %.6f; non-finite doubles as
// nan, inf, -inf); addr and subnet textual ("10.0.0.0/8", IPv6 in RFC 5952
// form); port as its number only (by Zeek convention the protocol is a
// separate column); enum by name; set and vector elements joined by ','
// or "(empty)" when there are none; an unset field or element "-".
//
// Escaping of strings and enums, as Zeek does: '\' becomes `\\`; the tab
// separator, control bytes (< 0x20, 0x7f) and bytes that are not part of
// valid UTF-8 become \xHH (valid multi-byte UTF-8 is kept, as in Zeek
// since 3.0); inside a container element ',' becomes \x2c. The empty
// string is written "(empty)"; a string that is exactly "-" or "(empty)"
// has its first byte escaped (\x2d, \x28empty)) so that it cannot be read
// as the unset or empty marker.
type TSVWriter struct {
	countingBuf
	schema Schema
}

var _ Writer = (*TSVWriter)(nil)

// NewTSVWriter returns a writer of s to w and writes the header, with
// opened as the "#open" time (formatted in its own location).
func NewTSVWriter(w io.Writer, s Schema, opened time.Time) (*TSVWriter, error) {
	if err := s.Validate(); err != nil {
		return nil, err
	}
	s.Columns = slices.Clone(s.Columns) // the caller may reuse its slice
	t := &TSVWriter{countingBuf: newCountingBuf(w, 0), schema: s}
	if err := t.put(appendTSVHeader(nil, &s, opened)); err != nil {
		return nil, fmt.Errorf("cannot write header: %w", err)
	}
	return t, nil
}

// appendTSVWriter returns a writer that appends records to a file already
// holding size bytes including a complete header for s.
func appendTSVWriter(w io.Writer, s Schema, size int64) *TSVWriter {
	return &TSVWriter{countingBuf: newCountingBuf(w, size), schema: s}
}

// appendTSVHeader appends the eight header lines.
func appendTSVHeader(dst []byte, s *Schema, opened time.Time) []byte {
	dst = appendTSVHeaderPrefix(dst, s)
	dst = append(dst, "#open\t"...)
	dst = opened.AppendFormat(dst, ZeekTimeFormat)
	dst = append(dst, '\n')
	return appendTSVHeaderFields(dst, s)
}

// appendTSVHeaderPrefix appends the lines before "#open".
func appendTSVHeaderPrefix(dst []byte, s *Schema) []byte {
	dst = append(dst, "#separator \\x09\n#set_separator\t,\n#empty_field\t(empty)\n#unset_field\t-\n#path\t"...)
	dst = append(dst, s.Path...)
	return append(dst, '\n')
}

// appendTSVHeaderFields appends the "#fields" and "#types" lines.
func appendTSVHeaderFields(dst []byte, s *Schema) []byte {
	dst = append(dst, "#fields"...)
	for _, c := range s.Columns {
		dst = append(dst, '\t')
		dst = append(dst, c.Name...)
	}
	dst = append(dst, "\n#types"...)
	for _, c := range s.Columns {
		name, _ := zeekType(c) // validated
		dst = append(dst, '\t')
		dst = append(dst, name...)
	}
	return append(dst, '\n')
}

// Write appends one record line. It formats exactly as WriteViews of the
// same values: the values are encoded into a reused buffer and written
// through their views, so there is one formatting path.
//
// Hot path: nothing is allocated once the buffers have grown
// (TestWriterNoAllocs, BenchmarkWriterTSV).
func (t *TSVWriter) Write(rec []frame.Value) error {
	if t.closed {
		return ErrWriterClosed
	}
	if err := checkRecordSchema(&t.schema, rec); err != nil {
		return err
	}
	views, err := t.vb.of(rec)
	if err != nil {
		return err
	}
	return t.writeViews(views)
}

// WriteViews appends one record line from views, as a logger writes the
// records of a ParsePayload'd batch.
//
// Hot path: no allocation once the line buffer has grown
// (TestWriterNoAllocs, BenchmarkWriterViews).
func (t *TSVWriter) WriteViews(rec []frame.View) error {
	if t.closed {
		return ErrWriterClosed
	}
	if err := checkViewsSchema(&t.schema, rec); err != nil {
		return err
	}
	return t.writeViews(rec)
}

// WritePayload appends a line for every record of p, a parsed payload
// whose schema must equal the writer's (else ErrRecordMismatch and
// nothing is written), as a logger writes a received batch. The output is
// byte-identical to WriteViews of each record of p.Each; the values are
// formatted straight from p's columns.
//
// Hot path (logger): no allocation once the line buffer has grown, no
// per-record call per value, dictionary entries formatted once per batch
// (TestWritePayloadAllocs, BenchmarkConnWritePayload).
func (t *TSVWriter) WritePayload(p *Payload) error {
	if t.closed {
		return ErrWriterClosed
	}
	if !p.Schema.Equal(&t.schema) {
		return fmt.Errorf("%w: payload of stream %q with another schema", ErrRecordMismatch, p.Schema.Path)
	}
	p.ti = 0
	return t.writeText(p, 0)
}

// writeText writes the rest of p's lines, formatting p first if needed,
// stopping early, after a whole record, once Size reaches limit (> 0).
func (t *TSVWriter) writeText(p *Payload, limit int64) error {
	if b, ok := p.stitchedLines(textTSV, t.size, limit); ok {
		return t.put(b)
	}
	if err := p.textStart(textTSV); err != nil {
		return err
	}
	b := t.line[:0]
	for !p.textDone() {
		b = p.appendTSVLine(b)
		if len(b) >= textChunk || limit > 0 && t.size+int64(len(b)) >= limit {
			if err := t.put(b); err != nil {
				return err
			}
			b = b[:0]
			if limit > 0 && t.size >= limit {
				break
			}
		}
	}
	t.line = b
	return t.put(b)
}

func (t *TSVWriter) writeViews(rec []frame.View) error {
	b := t.line[:0]
	for i, v := range rec {
		if i > 0 {
			b = append(b, '\t')
		}
		b = appendTSVValue(b, v, false)
	}
	b = append(b, '\n')
	t.line = b
	return t.put(b)
}

// Close writes "#close" with the current wall-clock time and flushes; see
// CloseAt.
func (t *TSVWriter) Close() error { return t.CloseAt(time.Now()) }

// CloseAt writes "#close" with the given time and flushes. Later calls
// return ErrWriterClosed.
func (t *TSVWriter) CloseAt(now time.Time) error {
	if t.closed {
		return ErrWriterClosed
	}
	t.closed = true
	b := append(t.line[:0], "#close\t"...)
	b = now.AppendFormat(b, ZeekTimeFormat)
	b = append(b, '\n')
	if err := t.put(b); err != nil {
		return err
	}
	return t.bw.Flush()
}

func appendTSVValue(b []byte, v frame.View, inContainer bool) []byte {
	switch v.Type() {
	case frame.TypeNone:
		return append(b, '-')
	case frame.TypeBool:
		if v.Bool() {
			return append(b, 'T')
		}
		return append(b, 'F')
	case frame.TypeCount:
		return strconv.AppendUint(b, v.Count(), 10)
	case frame.TypeInteger:
		return strconv.AppendInt(b, v.Int(), 10)
	case frame.TypeReal:
		return appendTSVReal(b, v.Real())
	case frame.TypeString, frame.TypeEnum:
		return appendTSVString(b, bstr(v.Bytes()), inContainer)
	case frame.TypeAddress:
		return v.Addr().AppendTo(b)
	case frame.TypeSubnet:
		return v.Subnet().AppendTo(b)
	case frame.TypePort:
		return strconv.AppendUint(b, uint64(v.Port().Number), 10)
	case frame.TypeTimestamp:
		return appendEpochNanos(b, v.TimestampNanos())
	case frame.TypeTimespan:
		return appendEpochNanos(b, int64(v.Duration()))
	case frame.TypeSet, frame.TypeVector:
		it := v.Iter()
		if it.Remaining() == 0 {
			return append(b, "(empty)"...)
		}
		for i := 0; ; i++ {
			e, ok := it.Next()
			if !ok {
				return b
			}
			if i > 0 {
				b = append(b, ',')
			}
			b = appendTSVValue(b, e, true)
		}
	}
	// Tables and unknown types are refused by the schema checks; write unset
	// rather than panic should one slip through.
	return append(b, '-')
}

const zeekHexDigits = "0123456789abcdef"

func appendHexEscape(b []byte, c byte) []byte {
	return append(b, '\\', 'x', zeekHexDigits[c>>4], zeekHexDigits[c&0xf])
}

// appendTSVReal appends f as Zeek's %.6f, with nan, inf and -inf.
func appendTSVReal(b []byte, f float64) []byte {
	switch {
	case math.IsNaN(f):
		return append(b, "nan"...)
	case math.IsInf(f, 1):
		return append(b, "inf"...)
	case math.IsInf(f, -1):
		return append(b, "-inf"...)
	}
	return strconv.AppendFloat(b, f, 'f', 6, 64)
}

// tsvPlain[c] has bit 0 set if a TSV string keeps byte c as it is outside
// a container, bit 1 if it keeps it inside one (the same bytes but ',').
var tsvPlain = func() (t [256]uint8) {
	for c := 0x20; c < 0x7f; c++ {
		if c != '\\' {
			t[c] = 3
		}
	}
	t[','] = 1
	return t
}()

// appendTSVString appends s escaped as Zeek does (see TSVWriter).
//
// Hot path: a string of printable ASCII without '\\' (nearly every log
// string) is found so by one table scan and appended whole.
func appendTSVString(b []byte, s string, inContainer bool) []byte {
	if len(s) == 0 {
		return append(b, "(empty)"...)
	}
	mask := uint8(1)
	if inContainer {
		mask = 2
	}
	plain := true
	for i := 0; i < len(s); i++ {
		if tsvPlain[s[i]]&mask == 0 {
			plain = false
			break
		}
	}
	if plain && s != "-" && s != "(empty)" {
		return append(b, s...)
	}
	return appendTSVStringSlow(b, s, inContainer)
}

func appendTSVStringSlow(b []byte, s string, inContainer bool) []byte {
	switch s {
	case "-", "(empty)":
		b = appendHexEscape(b, s[0])
		s = s[1:]
	}
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == '\\':
			b = append(b, '\\', '\\')
		case c == ',' && inContainer, c < 0x20, c == 0x7f:
			b = appendHexEscape(b, c)
		case c < utf8.RuneSelf:
			b = append(b, c)
		default:
			r, n := utf8.DecodeRuneInString(s[i:])
			if r == utf8.RuneError && n == 1 {
				b = appendHexEscape(b, c)
			} else {
				b = append(b, s[i:i+n]...)
			}
			i += n
			continue
		}
		i++
	}
	return b
}
