package frame

// The JSON parser behind ParseJSON (json.go has the API and the format).
//
// Parsing is a single pass over the input except where "data" precedes
// "@data-type": the data is then skipped and parsed once the type is known,
// so such inputs cost up to O(len × depth). Allocation is bounded by a small
// multiple of the input size: there are no length prefixes to trust, strings
// are sized before they are decoded, and container elements collect on one
// stack shared by the whole parse (TestJSONAllocBounded).

import (
	"fmt"
	"math"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf16"
	"unicode/utf8"
)

// jsonParser is a recursive-descent parser of the JSON form. Recursion
// follows container nesting and is bounded by the depth limit.
type jsonParser struct {
	b        []byte
	i        int
	maxDepth int
	// vals and ents collect the elements of the containers being parsed,
	// innermost last; a finished container copies its elements out and
	// truncates. Result slices are thus exactly sized, and nested
	// containers share one amortized buffer.
	vals []Value
	ents []Entry
}

func errJSON(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrBadValue, fmt.Sprintf(format, args...))
}

func (p *jsonParser) syntaxErr(what string) error {
	if p.i >= len(p.b) {
		return errJSON("unexpected end of JSON input (%s)", what)
	}
	return errJSON("JSON syntax error at offset %d: %s", p.i, what)
}

func (p *jsonParser) tooDeep() error {
	return fmt.Errorf("%w: more than %d levels of containers", ErrTooDeep, p.maxDepth)
}

// kindErr reports data of the wrong JSON kind for type t.
func (p *jsonParser) kindErr(t Type, want string) error {
	return errJSON("%s data must be %s, got %s", t, want, p.kindName())
}

// kindName names the kind of the next JSON value.
func (p *jsonParser) kindName() string {
	switch c := p.peek(); {
	case p.i >= len(p.b):
		return "end of input"
	case c == '{':
		return "an object"
	case c == '[':
		return "an array"
	case c == '"':
		return "a string"
	case c == 't' || c == 'f':
		return "a boolean"
	case c == 'n':
		return "null"
	case c == '-' || c >= '0' && c <= '9':
		return "a number"
	}
	return "invalid JSON"
}

// ws skips whitespace.
func (p *jsonParser) ws() {
	for p.i < len(p.b) {
		switch p.b[p.i] {
		case ' ', '\t', '\n', '\r':
			p.i++
		default:
			return
		}
	}
}

// peek skips whitespace and returns the next byte, 0 at the end.
func (p *jsonParser) peek() byte {
	p.ws()
	if p.i < len(p.b) {
		return p.b[p.i]
	}
	return 0
}

func (p *jsonParser) expect(c byte) error {
	if p.peek() != c || p.i >= len(p.b) {
		return p.syntaxErr(fmt.Sprintf("expected %q", c))
	}
	p.i++
	return nil
}

// more consumes the separator after an object member or array element and
// reports whether another one follows.
func (p *jsonParser) more(close byte) (bool, error) {
	switch p.peek() {
	case ',':
		p.i++
		return true, nil
	case close:
		p.i++
		return false, nil
	}
	return false, p.syntaxErr(fmt.Sprintf("expected ',' or %q", close))
}

// key reads an object member name and the colon after it. The result
// aliases the input unless the name has escapes.
func (p *jsonParser) key() ([]byte, error) {
	if p.peek() != '"' {
		return nil, p.syntaxErr("expected a string (member name)")
	}
	s, simple, err := p.scanString()
	if err != nil {
		return nil, err
	}
	if !simple {
		s = []byte(decodeJSONString(s))
	}
	return s, p.expect(':')
}

// value parses a value object; depth is how many container levels it may
// still hold.
func (p *jsonParser) value(depth int) (Value, error) {
	if err := p.expect('{'); err != nil {
		return None, err
	}
	var (
		t                  Type
		v                  Value
		haveType, haveData bool
		deferFrom, deferTo = -1, -1 // data seen before @data-type
	)
	more := p.peek() != '}'
	if !more {
		p.i++ // empty object
	}
	for more {
		k, err := p.key()
		if err != nil {
			return None, err
		}
		switch string(k) {
		case "@data-type":
			if haveType {
				return None, errJSON("duplicate @data-type")
			}
			if p.peek() != '"' {
				return None, errJSON("@data-type must be a JSON string")
			}
			name, err := p.str()
			if err != nil {
				return None, err
			}
			i := slices.Index(typeNames[:], name)
			if i < 0 {
				return None, errJSON("unknown @data-type %.40q", name)
			}
			t, haveType = Type(i), true
		case "data":
			if haveData {
				return None, errJSON("duplicate data member")
			}
			haveData = true
			if haveType {
				v, err = p.data(t, depth)
			} else {
				p.ws()
				deferFrom = p.i
				err = p.skip(3*depth + 1) // see skip
				deferTo = p.i
			}
			if err != nil {
				return None, err
			}
		default:
			return None, errJSON("unknown member %.40q in value object", k)
		}
		if more, err = p.more('}'); err != nil {
			return None, err
		}
	}
	switch {
	case !haveType:
		return None, errJSON("value object without @data-type")
	case !haveData:
		return None, errJSON("%s value without data", t)
	case deferFrom >= 0:
		b, i := p.b, p.i
		p.b, p.i = p.b[:deferTo], deferFrom
		v, err := p.data(t, depth)
		p.b, p.i = b, i
		return v, err
	}
	return v, nil
}

// data parses the data of a value of type t.
func (p *jsonParser) data(t Type, depth int) (Value, error) {
	switch t {
	case TypeNone:
		switch p.peek() {
		case 'n':
			return None, p.literal("null")
		case '{':
			p.i++
			if p.peek() != '}' {
				return None, errJSON("none data must be {} or null, got a non-empty object")
			}
			p.i++
			return None, nil
		}
		return None, p.kindErr(t, "{} or null")
	case TypeBool:
		switch p.peek() {
		case 't':
			return NewBool(true), p.literal("true")
		case 'f':
			return NewBool(false), p.literal("false")
		}
		return None, p.kindErr(t, "true or false")
	case TypeCount, TypeInteger:
		if c := p.peek(); c != '-' && (c < '0' || c > '9') {
			return None, p.kindErr(t, "an integer")
		}
		num, integral, err := p.number()
		if err != nil {
			return None, err
		}
		if !integral {
			return None, errJSON("%s data must be an integer, got %.40s", t, num)
		}
		neg := num[0] == '-'
		if neg {
			num = num[1:]
		}
		u, ok := parseDigits(num)
		switch {
		case t == TypeCount && neg && u != 0:
			return None, errJSON("count data must not be negative")
		case t == TypeCount && ok:
			return NewCount(u), nil
		case t == TypeInteger && ok && neg && u <= 1<<63:
			return NewInt(int64(-u)), nil
		case t == TypeInteger && ok && !neg && u <= math.MaxInt64:
			return NewInt(int64(u)), nil
		}
		return None, errJSON("%s data out of range", t)
	case TypeReal:
		switch p.peek() {
		case '"':
			s, err := p.str()
			if err != nil {
				return None, err
			}
			switch s {
			case "nan":
				return NewReal(math.NaN()), nil
			case "inf":
				return NewReal(math.Inf(1)), nil
			case "-inf":
				return NewReal(math.Inf(-1)), nil
			}
			return None, errJSON(`real data string must be "nan", "inf" or "-inf", got %.40q`, s)
		case '-', '0', '1', '2', '3', '4', '5', '6', '7', '8', '9':
			num, _, err := p.number()
			if err != nil {
				return None, err
			}
			f, err := strconv.ParseFloat(string(num), 64)
			if err != nil {
				return None, errJSON("real data %.40s out of range", num)
			}
			return NewReal(f), nil
		}
		return None, p.kindErr(t, "a number")
	case TypeSet, TypeVector, TypeTable:
		return p.container(t, depth)
	}
	// The rest are strings.
	if p.peek() != '"' {
		return None, p.kindErr(t, "a string")
	}
	s, err := p.str()
	if err != nil {
		return None, err
	}
	switch t {
	case TypeString:
		return NewString(s), nil
	case TypeEnum:
		return NewEnum(s), nil
	case TypeAddress:
		a, err := netip.ParseAddr(s)
		if err != nil || a.Zone() != "" {
			return None, errJSON("bad address %.64q", s)
		}
		return NewAddr(a), nil
	case TypeSubnet:
		pf, err := netip.ParsePrefix(s)
		// Mask before NewSubnet, which would refuse an IPv4-mapped address
		// whose prefix is shorter than 96 bits even when masking unmaps it.
		if v := NewSubnet(pf.Masked()); err == nil && v.t == TypeSubnet {
			return v, nil
		}
		return None, errJSON("bad subnet %.64q", s)
	case TypePort:
		pt, ok := parsePort(s)
		if !ok {
			return None, errJSON("bad port %.64q (want number/tcp, /udp, /icmp or /?)", s)
		}
		return NewPort(pt), nil
	case TypeTimestamp:
		ns, err := parseTimestamp(s)
		if err != "" {
			return None, errJSON("bad timestamp %.64q: %s", s, err)
		}
		return Value{t: TypeTimestamp, n: uint64(ns)}, nil
	default: // TypeTimespan
		ns, err := parseTimespan(s)
		if err != "" {
			return None, errJSON("bad timespan %.64q: %s", s, err)
		}
		return NewTimespan(time.Duration(ns)), nil
	}
}

// container parses the array of a set, vector or table.
func (p *jsonParser) container(t Type, depth int) (Value, error) {
	if p.peek() != '[' {
		return None, p.kindErr(t, "an array")
	}
	if depth <= 0 {
		return None, p.tooDeep()
	}
	p.i++
	markV, markE := len(p.vals), len(p.ents)
	more := p.peek() != ']'
	if !more {
		p.i++ // empty array
	}
	for more {
		if t == TypeTable {
			e, err := p.entry(depth - 1)
			if err != nil {
				return None, err
			}
			p.ents = push(p.ents, e)
		} else {
			v, err := p.value(depth - 1)
			if err != nil {
				return None, err
			}
			p.vals = push(p.vals, v)
		}
		var err error
		if more, err = p.more(']'); err != nil {
			return None, err
		}
	}
	var v Value
	switch t {
	case TypeSet:
		v = NewSet(p.vals[markV:]...)
	case TypeVector:
		v = NewVector(slices.Clone(p.vals[markV:])...)
	default:
		v = NewTable(p.ents[markE:]...)
	}
	clear(p.vals[markV:])
	clear(p.ents[markE:])
	p.vals, p.ents = p.vals[:markV], p.ents[:markE]
	return v, nil
}

// push appends x to s, doubling the capacity when full. append grows large
// slices by 1.25x, which allocates about 5x the final size in all; doubling
// keeps the element stack to about 2x.
func push[T any](s []T, x T) []T {
	if len(s) == cap(s) {
		n := make([]T, len(s), max(16, 2*cap(s)))
		copy(n, s)
		s = n
	}
	return append(s, x)
}

// entry parses a table entry object.
func (p *jsonParser) entry(depth int) (Entry, error) {
	if p.peek() != '{' {
		return Entry{}, errJSON(`table entries must be {"key": …, "value": …} objects, got %s`, p.kindName())
	}
	p.i++
	var (
		e                Entry
		haveKey, haveVal bool
	)
	more := p.peek() != '}'
	if !more {
		p.i++ // empty object
	}
	for more {
		k, err := p.key()
		if err != nil {
			return Entry{}, err
		}
		switch string(k) {
		case "key":
			if haveKey {
				return Entry{}, errJSON("duplicate key member in table entry")
			}
			e.Key, err = p.value(depth)
			haveKey = true
		case "value":
			if haveVal {
				return Entry{}, errJSON("duplicate value member in table entry")
			}
			e.Value, err = p.value(depth)
			haveVal = true
		default:
			return Entry{}, errJSON("unknown member %.40q in table entry", k)
		}
		if err != nil {
			return Entry{}, err
		}
		if more, err = p.more('}'); err != nil {
			return Entry{}, err
		}
	}
	if !haveKey || !haveVal {
		return Entry{}, errJSON("table entry without key or value")
	}
	return e, nil
}

// skip passes over one JSON value of any kind, checking its syntax. budget
// is the object/array nesting it may have: 3d+1 suffices for the data of a
// value with d container levels left (array, entry object, value object
// per level; {} for none at the bottom), so deeper input is too deep.
func (p *jsonParser) skip(budget int) error {
	switch c := p.peek(); c {
	case '{', '[':
		if budget <= 0 {
			return p.tooDeep()
		}
		p.i++
		close := byte(']')
		if c == '{' {
			close = '}'
		}
		if p.peek() == close {
			p.i++
			return nil
		}
		for {
			if c == '{' {
				if _, err := p.key(); err != nil {
					return err
				}
			}
			if err := p.skip(budget - 1); err != nil {
				return err
			}
			more, err := p.more(close)
			if err != nil || !more {
				return err
			}
		}
	case '"':
		_, _, err := p.scanString()
		return err
	case 't':
		return p.literal("true")
	case 'f':
		return p.literal("false")
	case 'n':
		return p.literal("null")
	}
	_, _, err := p.number()
	return err
}

func (p *jsonParser) literal(s string) error {
	if len(p.b)-p.i < len(s) || string(p.b[p.i:p.i+len(s)]) != s {
		return p.syntaxErr("invalid literal")
	}
	p.i += len(s)
	return nil
}

// number scans a JSON number and reports whether it has neither fraction
// nor exponent.
func (p *jsonParser) number() (num []byte, integral bool, err error) {
	b, i := p.b, p.i
	digits := func() bool {
		n := i
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
		return i > n
	}
	if i < len(b) && b[i] == '-' {
		i++
	}
	switch {
	case i < len(b) && b[i] == '0':
		i++
	case !digits():
		p.i = i
		return nil, false, p.syntaxErr("invalid number or value")
	}
	integral = true
	if i < len(b) && b[i] == '.' {
		i++
		integral = false
		if !digits() {
			p.i = i
			return nil, false, p.syntaxErr("expected digits after the decimal point")
		}
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		integral = false
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		if !digits() {
			p.i = i
			return nil, false, p.syntaxErr("expected digits in the exponent")
		}
	}
	num, p.i = b[p.i:i], i
	return num, integral, nil
}

// str reads a JSON string.
func (p *jsonParser) str() (string, error) {
	s, simple, err := p.scanString()
	if err != nil {
		return "", err
	}
	if !simple {
		return decodeJSONString(s), nil
	}
	return string(s), nil
}

// scanString checks the syntax of the string at p.i and moves past it. It
// returns the bytes between the quotes and whether they need no decoding
// (no escapes, valid UTF-8).
func (p *jsonParser) scanString() (content []byte, simple bool, err error) {
	b := p.b
	i := p.i + 1
	simple = true
	ascii := true
	for i < len(b) {
		switch c := b[i]; {
		case c == '"':
			content = b[p.i+1 : i]
			if !ascii && simple {
				simple = utf8.Valid(content)
			}
			p.i = i + 1
			return content, simple, nil
		case c == '\\':
			simple = false
			if i+1 < len(b) {
				switch b[i+1] {
				case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
					i += 2
					continue
				case 'u':
					if i+6 <= len(b) && hex4(b[i+2:i+6]) >= 0 {
						i += 6
						continue
					}
				}
			}
			p.i = i
			return nil, false, p.syntaxErr("invalid escape in string")
		case c < 0x20:
			p.i = i
			return nil, false, p.syntaxErr("control character in string")
		default:
			if c >= utf8.RuneSelf {
				ascii = false
			}
			i++
		}
	}
	p.i = i
	return nil, false, p.syntaxErr("unterminated string")
}

// hex4 decodes four hex digits, -1 if they are not.
func hex4(b []byte) rune {
	var r rune
	for _, c := range b[:4] {
		switch {
		case c >= '0' && c <= '9':
			c -= '0'
		case c >= 'a' && c <= 'f':
			c -= 'a' - 10
		case c >= 'A' && c <= 'F':
			c -= 'A' - 10
		default:
			return -1
		}
		r = r<<4 | rune(c)
	}
	return r
}

// decodeJSONString decodes the contents of a string scanString checked.
// Invalid UTF-8 and unpaired surrogates become U+FFFD. A first pass sizes
// the result so that it is allocated once, at its exact size.
func decodeJSONString(s []byte) string {
	n := 0
	for i := 0; i < len(s); {
		r, raw, next := nextJSONRune(s, i)
		if raw != nil {
			n += len(raw)
		} else {
			n += utf8.RuneLen(r)
		}
		i = next
	}
	var sb strings.Builder
	sb.Grow(n)
	for i := 0; i < len(s); {
		r, raw, next := nextJSONRune(s, i)
		if raw != nil {
			sb.Write(raw)
		} else {
			sb.WriteRune(r)
		}
		i = next
	}
	return sb.String()
}

// nextJSONRune decodes the character at s[i] of checked string contents:
// either bytes to copy as they are (raw) or a rune to encode, and the index
// after it.
func nextJSONRune(s []byte, i int) (r rune, raw []byte, next int) {
	c := s[i]
	switch {
	case c == '\\':
		switch e := s[i+1]; e {
		case 'u':
			r = hex4(s[i+2:])
			i += 6
			if !utf16.IsSurrogate(r) {
				return r, nil, i
			}
			if r < 0xDC00 && i+6 <= len(s) && s[i] == '\\' && s[i+1] == 'u' {
				if lo := hex4(s[i+2:]); lo >= 0xDC00 && lo <= 0xDFFF {
					return utf16.DecodeRune(r, lo), nil, i + 6
				}
			}
			return utf8.RuneError, nil, i
		case 'b':
			return '\b', nil, i + 2
		case 'f':
			return '\f', nil, i + 2
		case 'n':
			return '\n', nil, i + 2
		case 'r':
			return '\r', nil, i + 2
		case 't':
			return '\t', nil, i + 2
		default: // " \ /
			return rune(e), nil, i + 2
		}
	case c < utf8.RuneSelf:
		return 0, s[i : i+1], i + 1
	}
	r, n := utf8.DecodeRune(s[i:])
	if r == utf8.RuneError && n == 1 {
		return utf8.RuneError, nil, i + 1
	}
	return 0, s[i : i+n], i + n
}
