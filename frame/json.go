package frame

import (
	"bytes"
	"fmt"
	"math"
	"math/bits"
	"slices"
	"strconv"
	"time"
	"unicode/utf8"
)

// jsonMaxDepth caps Limits.MaxDepth for ParseJSON, matching the range
// Limits.Validate allows, so that unvalidated limits cannot let the
// recursive parser run the goroutine stack out.
const jsonMaxDepth = 1000

// jsonTimeLayout is the timestamp form: UTC, no zone, fraction as needed.
const jsonTimeLayout = "2006-01-02T15:04:05.999999999"

// timespanUnits lists the timespan units from largest to smallest. A unit
// is c·10^e ns; parseTimespan uses c and e to convert decimals exactly.
var timespanUnits = [...]struct {
	name string
	ns   int64
	c    uint64
	e    int
}{
	{"d", 86400e9, 864, 11},
	{"h", 3600e9, 36, 11},
	{"min", 60e9, 6, 10},
	{"s", 1e9, 1, 9},
	{"ms", 1e6, 1, 6},
	{"us", 1e3, 1, 3},
	{"ns", 1, 1, 0},
}

// AppendJSON appends the JSON form of v to dst: compact, without a trailing
// newline. It does not allocate beyond growing dst.
//
// The JSON form is Broker's "JSON v1" data encoding, as the WebSocket API
// speaks it. Every value is an object {"@data-type": NAME, "data": DATA}
// with NAME = Type.String():
//
//	@data-type   data                                     example data
//	none         {}                                        {}
//	boolean      true or false                             true
//	count        JSON integer, 0 … 2^64-1                  42
//	integer      JSON integer, -2^63 … 2^63-1              -7
//	real         JSON number; "nan", "inf", "-inf"         1.5, -0, 1e+21, "inf"
//	string       JSON string                               "hi"
//	address      string                                    "192.168.0.1", "2001:db8::1"
//	subnet       string                                    "10.0.0.0/8"
//	port         string, number/protocol (tcp udp icmp ?)  "8080/tcp", "0/?"
//	timestamp    string, ISO 8601 in UTC, no zone suffix   "2022-04-10T07:00:00.000000001"
//	timespan     string, integer and unit                  "1500ms", "-2ns"
//	enum-value   JSON string (the name)                    "tcp"
//	set, vector  array of values                           [{"@data-type":"count","data":1}]
//	table        array of {"key": value, "value": value}
//
// Each Value has exactly one JSON form. Details:
//
//   - real: strconv's shortest 'g' form, which round-trips exactly
//     (including -0). JSON has no NaN or infinities, hence the strings; all
//     NaNs read back as math.NaN() (sign and payload are lost).
//   - string, enum-value: JSON text is Unicode, so bytes that are not valid
//     UTF-8 are written as U+FFFD, as encoding/json does: only valid UTF-8
//     round-trips (the binary encoding carries any bytes). '"', '\',
//     control characters and U+2028/U+2029 are escaped, nothing else.
//   - timestamp: the fraction has as many digits as needed, none for whole
//     seconds.
//   - timespan: the largest of the units ns, us, ms, s, min, h, d that
//     represents the value exactly ("90s", "2min"); zero is "0ns".
//   - set and table elements come in the order of Compare.
func AppendJSON(dst []byte, v Value) []byte {
	if v.t > typeMax {
		panic(fmt.Sprintf("BUG: frame: value of unknown type %d", v.t))
	}
	dst = append(dst, `{"@data-type":"`...)
	dst = append(dst, typeNames[v.t]...)
	dst = append(dst, `","data":`...)
	switch v.t {
	case TypeNone:
		dst = append(dst, "{}"...)
	case TypeBool:
		dst = strconv.AppendBool(dst, v.n != 0)
	case TypeCount:
		dst = strconv.AppendUint(dst, v.n, 10)
	case TypeInteger:
		dst = strconv.AppendInt(dst, int64(v.n), 10)
	case TypeReal:
		dst = appendJSONReal(dst, math.Float64frombits(v.n))
	case TypeString, TypeEnum:
		dst = appendJSONString(dst, v.s)
	case TypeAddress:
		dst = append(v.a.AppendTo(append(dst, '"')), '"')
	case TypeSubnet:
		dst = append(v.Subnet().AppendTo(append(dst, '"')), '"')
	case TypePort:
		p := v.Port()
		dst = strconv.AppendUint(append(dst, '"'), uint64(p.Number), 10)
		dst = append(append(append(dst, '/'), p.Proto.String()...), '"')
	case TypeTimestamp:
		dst = time.Unix(0, int64(v.n)).UTC().AppendFormat(append(dst, '"'), jsonTimeLayout)
		dst = append(dst, '"')
	case TypeTimespan:
		dst = append(appendTimespan(append(dst, '"'), int64(v.n)), '"')
	case TypeSet, TypeVector:
		dst = append(dst, '[')
		for i, e := range v.c {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = AppendJSON(dst, e)
		}
		dst = append(dst, ']')
	case TypeTable:
		dst = append(dst, '[')
		for i := 0; i+1 < len(v.c); i += 2 {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = AppendJSON(append(dst, `{"key":`...), v.c[i])
			dst = append(AppendJSON(append(dst, `,"value":`...), v.c[i+1]), '}')
		}
		dst = append(dst, ']')
	}
	return append(dst, '}')
}

func appendJSONReal(dst []byte, f float64) []byte {
	switch {
	case math.IsNaN(f):
		return append(dst, `"nan"`...)
	case math.IsInf(f, 1):
		return append(dst, `"inf"`...)
	case math.IsInf(f, -1):
		return append(dst, `"-inf"`...)
	}
	return strconv.AppendFloat(dst, f, 'g', -1, 64)
}

// appendJSONString appends s as a JSON string, replacing invalid UTF-8 with
// U+FFFD.
func appendJSONString(dst []byte, s string) []byte {
	const hex = "0123456789abcdef"
	dst = append(dst, '"')
	start := 0 // s[start:i] is pending, needing no escapes
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch c {
			case '"', '\\':
				dst = append(dst, '\\', c)
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			case '\b':
				dst = append(dst, '\\', 'b')
			case '\f':
				dst = append(dst, '\\', 'f')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xF])
			}
			i++
			start = i
			continue
		}
		r, n := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && n == 1:
			dst = append(append(dst, s[start:i]...), "\uFFFD"...)
		case r == '\u2028' || r == '\u2029':
			// Valid JSON, but line terminators in JavaScript source.
			dst = append(append(dst, s[start:i]...), '\\', 'u', '2', '0', '2', hex[r&0xF])
		default:
			i += n
			continue
		}
		i += n
		start = i
	}
	return append(append(dst, s[start:]...), '"')
}

func appendTimespan(dst []byte, n int64) []byte {
	if n == 0 {
		return append(dst, "0ns"...)
	}
	for _, u := range timespanUnits {
		if n%u.ns == 0 {
			return append(strconv.AppendInt(dst, n/u.ns, 10), u.name...)
		}
	}
	panic("BUG: frame: timespan not a multiple of 1ns")
}

// MarshalJSON returns the JSON form of v (see AppendJSON).
func (v Value) MarshalJSON() ([]byte, error) {
	return AppendJSON(nil, v), nil
}

// UnmarshalJSON parses the JSON form of a value with the default limits
// (see ParseJSON). As encoding/json suggests for Unmarshalers, the literal
// null leaves v unchanged; on error v is unchanged too.
func (v *Value) UnmarshalJSON(b []byte) error {
	if string(bytes.TrimSpace(b)) == "null" {
		return nil
	}
	x, err := ParseJSON(b, nil)
	if err != nil {
		return err
	}
	*v = x
	return nil
}

// ParseJSON parses the JSON form of one value (see AppendJSON); whitespace
// may surround it, nothing else may follow. lim may be nil; lim.MaxDepth
// bounds container nesting as in DecodeValue (0 means the default; values
// above 1000 count as 1000) and deeper input fails with ErrTooDeep. Any
// other defect gives an error wrapping ErrBadValue that says what was
// wrong. Beyond what AppendJSON writes, it accepts:
//
//   - object members in any order, and whitespace; a member other than
//     "@data-type" and "data" ("key" and "value" in table entries), a
//     duplicate member or a missing one is an error;
//   - null as the data of none;
//   - any JSON number as a real (underflow gives 0, overflow is an error);
//   - invalid UTF-8 and unpaired \u surrogates in strings, as U+FFFD;
//   - IPv4-mapped IPv6 addresses and subnets, as IPv4; subnets with host
//     bits set, cleared ("10.1.2.3/8" is 10.0.0.0/8); not address zones;
//   - timestamps ending in "Z" or a "±hh:mm" offset, converted to UTC, and
//     fractions finer than 1ns if the extra digits are zeros; only the
//     int64-ns range 1677-09-21T00:12:43.145224192 …
//     2262-04-11T23:47:16.854775807;
//   - timespans with a decimal fraction ("1.5s", "0.25d"): converted
//     exactly, then rounded to the nearest nanosecond, halves away from
//     zero;
//   - set elements and table entries in any order, built with NewSet and
//     NewTable: duplicate set elements collapse, and of entries with equal
//     keys the last one wins.
func ParseJSON(b []byte, lim *Limits) (Value, error) {
	depth := DefaultMaxDepth
	if lim != nil && lim.MaxDepth != 0 {
		depth = min(lim.MaxDepth, jsonMaxDepth)
	}
	p := jsonParser{b: b, maxDepth: depth}
	v, err := p.value(depth)
	if err != nil {
		return None, err
	}
	if p.ws(); p.i != len(p.b) {
		return None, p.syntaxErr("data after the value")
	}
	return v, nil
}

// parseDigits parses a non-empty run of decimal digits; ok is false on
// overflow or a non-digit.
func parseDigits(s []byte) (u uint64, ok bool) {
	if len(s) == 0 {
		return 0, false
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return 0, false
		}
		hi, lo := bits.Mul64(u, 10)
		lo, carry := bits.Add64(lo, uint64(c-'0'), 0)
		if hi != 0 || carry != 0 {
			return 0, false
		}
		u = lo
	}
	return u, true
}

func parsePort(s string) (Port, bool) {
	i := len(s) - 1
	for i >= 0 && s[i] != '/' {
		i--
	}
	if i < 0 {
		return Port{}, false
	}
	n, ok := parseDigits([]byte(s[:i]))
	if !ok || n > math.MaxUint16 {
		return Port{}, false
	}
	proto := slices.Index(protoNames[:], s[i+1:])
	if proto < 0 {
		return Port{}, false
	}
	return Port{Number: uint16(n), Proto: Protocol(proto)}, true
}

// parseTimestamp parses YYYY-MM-DDTHH:MM:SS[.fraction][Z|±hh:mm] into ns
// since the epoch. A non-empty string says what is wrong.
func parseTimestamp(s string) (int64, string) {
	const form = "want YYYY-MM-DDTHH:MM:SS[.fraction][Z|±hh:mm]"
	num := func(i, n int) int { // n digits at s[i:], -1 if not digits
		if i+n > len(s) {
			return -1
		}
		v := 0
		for _, c := range []byte(s[i : i+n]) {
			if c < '0' || c > '9' {
				return -1
			}
			v = v*10 + int(c-'0')
		}
		return v
	}
	if len(s) < 19 || s[4] != '-' || s[7] != '-' || s[10] != 'T' || s[13] != ':' || s[16] != ':' {
		return 0, form
	}
	year, month, day := num(0, 4), num(5, 2), num(8, 2)
	hour, minute, sec := num(11, 2), num(14, 2), num(17, 2)
	if year < 0 || month < 1 || month > 12 || day < 1 || hour < 0 || hour > 23 ||
		minute < 0 || minute > 59 || sec < 0 || sec > 59 {
		return 0, form
	}
	i, frac := 19, 0
	if i < len(s) && s[i] == '.' {
		i++
		n := 0
		for ; i < len(s) && s[i] >= '0' && s[i] <= '9'; i, n = i+1, n+1 {
			switch d := int(s[i] - '0'); {
			case n < 9:
				frac = frac*10 + d
			case d != 0:
				return 0, "fraction finer than nanoseconds"
			}
		}
		if n == 0 {
			return 0, form
		}
		for ; n < 9; n++ {
			frac *= 10
		}
	}
	offset := 0 // seconds east of UTC
	switch rest := s[i:]; {
	case rest == "" || rest == "Z":
	case len(rest) == 6 && (rest[0] == '+' || rest[0] == '-') && rest[3] == ':':
		oh, om := num(i+1, 2), num(i+4, 2)
		if oh < 0 || oh > 23 || om < 0 || om > 59 {
			return 0, form
		}
		offset = oh*3600 + om*60
		if rest[0] == '-' {
			offset = -offset
		}
	default:
		return 0, form
	}
	t := time.Date(year, time.Month(month), day, hour, minute, sec, frac, time.UTC)
	if t.Day() != day {
		return 0, "no such day"
	}
	t = t.Add(-time.Duration(offset) * time.Second)
	if t.Before(time.Unix(0, math.MinInt64)) || t.After(time.Unix(0, math.MaxInt64)) {
		return 0, "outside 1677-09-21T00:12:43.145224192 … 2262-04-11T23:47:16.854775807"
	}
	return t.UnixNano(), ""
}

// parseTimespan parses [-]digits[.digits]unit into ns, rounding a decimal
// to the nearest ns, halves away from zero. A non-empty string says what
// is wrong.
func parseTimespan(s string) (int64, string) {
	const form = "want [-]digits[.digits] and a unit (ns, us, ms, s, min, h, d)"
	neg := len(s) > 0 && s[0] == '-'
	if neg {
		s = s[1:]
	}
	i := 0
	for i < len(s) && (s[i] >= '0' && s[i] <= '9' || s[i] == '.') {
		i++
	}
	num, name := s[:i], s[i:]
	whole, frac := num, ""
	for j := range len(num) {
		if num[j] == '.' {
			whole, frac = num[:j], num[j+1:]
			if frac == "" {
				return 0, form
			}
			break
		}
	}
	w, ok := parseDigits([]byte(whole))
	if !ok && whole != "" && bytesAreDigits(whole) {
		return 0, "out of range"
	}
	if !ok || frac != "" && !bytesAreDigits(frac) {
		return 0, form
	}
	u := -1
	for k := range timespanUnits {
		if timespanUnits[k].name == name {
			u = k
		}
	}
	if u < 0 {
		return 0, form
	}
	unit := timespanUnits[u]
	// The unit is c·10^e ns. Of the fraction, the first e digits (A) are
	// whole multiples of c ns; c times the rest (r = 0.ddd…) is computed
	// exactly by long multiplication, giving its integer part and whether
	// its fractional part is at least one half.
	var a uint64
	for k := range unit.e {
		a *= 10
		if k < len(frac) {
			a += uint64(frac[k] - '0')
		}
	}
	var carry, first uint64
	for k := len(frac) - 1; k >= unit.e; k-- {
		x := uint64(frac[k]-'0')*unit.c + carry
		carry, first = x/10, x%10
	}
	if first >= 5 {
		carry++
	}
	hi, mag := bits.Mul64(w, uint64(unit.ns))
	mag, c1 := bits.Add64(mag, a*unit.c, 0)
	mag, c2 := bits.Add64(mag, carry, 0)
	switch {
	case hi != 0 || c1 != 0 || c2 != 0:
		return 0, "out of range"
	case neg && mag <= 1<<63:
		return int64(-mag), ""
	case !neg && mag <= math.MaxInt64:
		return int64(mag), ""
	}
	return 0, "out of range"
}

func bytesAreDigits(s string) bool {
	for _, c := range []byte(s) {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}
