package logsink

import (
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"unicode/utf8"

	"github.com/weirio/weir/frame"
)

// JSONWriter writes Zeek's JSON log format (LogAscii::use_json=T with the
// default JSON::TS_EPOCH): one object per line, keys the column names in
// schema order ("id.orig_h" stays a flat key), unset fields omitted. There
// is no header or footer.
//
// Values: bool true/false; count and int as integers; time and interval as
// epoch seconds with exactly six decimals (1700000000.123456); double in
// the shortest form that round-trips (exponent form outside [1e-6, 1e21)),
// null for NaN and infinities, which JSON cannot express; string, enum,
// addr and subnet as strings; port as its number; set and vector as arrays
// ([] when empty) with unset elements null.
//
// Strings are escaped as JSON requires (`"`, `\`, control bytes as \u00XX);
// bytes that are not valid UTF-8 are written as the four characters \xHH
// (that is, "\\xHH" in the JSON text), as Zeek does, so the output is
// always valid UTF-8.
type JSONWriter struct {
	countingBuf
	schema Schema
	keys   [][]byte // `"name":` per column, pre-encoded
	// The keys back to back (then textSlack bytes) and the end of each,
	// for WritePayload.
	keyText []byte
	keyEnd  []uint32
}

var _ Writer = (*JSONWriter)(nil)

// NewJSONWriter returns a JSON-lines writer of s to w.
func NewJSONWriter(w io.Writer, s Schema) (*JSONWriter, error) {
	return newJSONWriter(w, s, 0)
}

func newJSONWriter(w io.Writer, s Schema, size int64) (*JSONWriter, error) {
	if err := s.Validate(); err != nil {
		return nil, err
	}
	s.Columns = slices.Clone(s.Columns) // the caller may reuse its slice
	j := &JSONWriter{countingBuf: newCountingBuf(w, size), schema: s, keys: make([][]byte, len(s.Columns))}
	for i, c := range s.Columns {
		j.keys[i] = append(appendJSONString(nil, c.Name), ':')
	}
	j.keyText, j.keyEnd = appendJSONKeys(nil, nil, &j.schema)
	return j, nil
}

// Write appends one record line, formatted exactly as WriteViews of the
// same values (see TSVWriter.Write).
//
// Hot path: as TSVWriter.Write, no allocation once the buffers have grown
// (TestWriterNoAllocs, BenchmarkWriterJSON).
func (j *JSONWriter) Write(rec []frame.Value) error {
	if j.closed {
		return ErrWriterClosed
	}
	if err := checkRecordSchema(&j.schema, rec); err != nil {
		return err
	}
	views, err := j.vb.of(rec)
	if err != nil {
		return err
	}
	return j.writeViews(views)
}

// WriteViews appends one record line from views.
//
// Hot path: no allocation once the line buffer has grown
// (TestWriterNoAllocs, BenchmarkWriterViews).
func (j *JSONWriter) WriteViews(rec []frame.View) error {
	if j.closed {
		return ErrWriterClosed
	}
	if err := checkViewsSchema(&j.schema, rec); err != nil {
		return err
	}
	return j.writeViews(rec)
}

// WritePayload appends a line for every record of p, as
// TSVWriter.WritePayload does.
//
// Hot path (logger): as TSVWriter.WritePayload.
func (j *JSONWriter) WritePayload(p *Payload) error {
	if j.closed {
		return ErrWriterClosed
	}
	if !p.Schema.Equal(&j.schema) {
		return fmt.Errorf("%w: payload of stream %q with another schema", ErrRecordMismatch, p.Schema.Path)
	}
	p.ti = 0
	return j.writeText(p, 0)
}

// writeText is TSVWriter.writeText in JSON.
func (j *JSONWriter) writeText(p *Payload, limit int64) error {
	if b, ok := p.stitchedLines(textJSON, j.size, limit); ok {
		return j.put(b)
	}
	if err := p.textStart(textJSON); err != nil {
		return err
	}
	b := j.line[:0]
	for !p.textDone() {
		b = p.appendJSONLine(b, j.keyText, j.keyEnd)
		if len(b) >= textChunk || limit > 0 && j.size+int64(len(b)) >= limit {
			if err := j.put(b); err != nil {
				return err
			}
			b = b[:0]
			if limit > 0 && j.size >= limit {
				break
			}
		}
	}
	j.line = b
	return j.put(b)
}

func (j *JSONWriter) writeViews(rec []frame.View) error {
	b := append(j.line[:0], '{')
	first := true
	for i, v := range rec {
		if v.Type() == frame.TypeNone {
			continue
		}
		if !first {
			b = append(b, ',')
		}
		first = false
		b = append(b, j.keys[i]...)
		b = appendJSONValue(b, v)
	}
	b = append(b, '}', '\n')
	j.line = b
	return j.put(b)
}

// Close flushes; later calls return ErrWriterClosed.
func (j *JSONWriter) Close() error {
	if j.closed {
		return ErrWriterClosed
	}
	j.closed = true
	return j.bw.Flush()
}

func appendJSONValue(b []byte, v frame.View) []byte {
	switch v.Type() {
	case frame.TypeBool:
		return strconv.AppendBool(b, v.Bool())
	case frame.TypeCount:
		return strconv.AppendUint(b, v.Count(), 10)
	case frame.TypeInteger:
		return strconv.AppendInt(b, v.Int(), 10)
	case frame.TypeReal:
		return appendJSONFloat(b, v.Real())
	case frame.TypeString, frame.TypeEnum:
		return appendJSONString(b, bstr(v.Bytes()))
	case frame.TypeAddress:
		b = append(b, '"')
		b = v.Addr().AppendTo(b)
		return append(b, '"')
	case frame.TypeSubnet:
		b = append(b, '"')
		b = v.Subnet().AppendTo(b)
		return append(b, '"')
	case frame.TypePort:
		return strconv.AppendUint(b, uint64(v.Port().Number), 10)
	case frame.TypeTimestamp:
		return appendEpochNanos(b, v.TimestampNanos())
	case frame.TypeTimespan:
		return appendEpochNanos(b, int64(v.Duration()))
	case frame.TypeSet, frame.TypeVector:
		b = append(b, '[')
		it := v.Iter()
		for i := 0; ; i++ {
			e, ok := it.Next()
			if !ok {
				break
			}
			if i > 0 {
				b = append(b, ',')
			}
			b = appendJSONValue(b, e)
		}
		return append(b, ']')
	}
	// None (inside a container), and tables, which the schema checks refuse.
	return append(b, "null"...)
}

func appendJSONFloat(b []byte, f float64) []byte {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return append(b, "null"...)
	}
	if a := math.Abs(f); a != 0 && (a < 1e-6 || a >= 1e21) {
		return strconv.AppendFloat(b, f, 'e', -1, 64)
	}
	return strconv.AppendFloat(b, f, 'f', -1, 64)
}

// jsonPlain[c] is true for the bytes a JSON string keeps as they are:
// printable ASCII but '"' and '\\'.
var jsonPlain = func() (t [256]bool) {
	for c := 0x20; c < 0x7f; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

// appendJSONString appends s as a JSON string (see JSONWriter).
//
// Hot path: a string of plain printable ASCII is found so by one table
// scan and appended whole.
func appendJSONString(b []byte, s string) []byte {
	plain := true
	for i := 0; i < len(s); i++ {
		if !jsonPlain[s[i]] {
			plain = false
			break
		}
	}
	if plain {
		b = append(b, '"')
		b = append(b, s...)
		return append(b, '"')
	}
	return appendJSONStringSlow(b, s)
}

func appendJSONStringSlow(b []byte, s string) []byte {
	b = append(b, '"')
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '"' || c == '\\':
				b = append(b, '\\', c)
			case c == '\n':
				b = append(b, '\\', 'n')
			case c == '\r':
				b = append(b, '\\', 'r')
			case c == '\t':
				b = append(b, '\\', 't')
			case c < 0x20 || c == 0x7f:
				b = append(b, '\\', 'u', '0', '0', zeekHexDigits[c>>4], zeekHexDigits[c&0xf])
			default:
				b = append(b, c)
			}
			i++
			continue
		}
		r, n := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && n == 1:
			b = append(b, '\\', '\\', 'x', zeekHexDigits[c>>4], zeekHexDigits[c&0xf])
		case r == '\u2028' || r == '\u2029':
			// Valid JSON, but not in JavaScript string literals.
			b = append(b, '\\', 'u', '2', '0', '2', zeekHexDigits[r&0xf])
		default:
			b = append(b, s[i:i+n]...)
		}
		i += n
	}
	return append(b, '"')
}
