package frame

import (
	"bytes"
	"encoding/json"
	"errors"
	"math"
	"math/rand/v2"
	"net/netip"
	"runtime"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

// randJSONValue returns a random value of any type whose JSON form
// round-trips: strings are valid UTF-8 and NaNs are math.NaN(). depth
// bounds nesting.
func randJSONValue(r *rand.Rand, depth int) Value {
	maxT := int(TypeEnum)
	if depth > 0 {
		maxT = int(TypeVector)
	}
	switch Type(r.IntN(maxT + 1)) {
	case TypeNone:
		return None
	case TypeBool:
		return NewBool(r.IntN(2) == 1)
	case TypeCount:
		return NewCount([]uint64{0, 1, math.MaxUint64, r.Uint64(), r.Uint64N(1000)}[r.IntN(5)])
	case TypeInteger:
		return NewInt([]int64{0, -1, math.MinInt64, math.MaxInt64, int64(r.Uint64()), r.Int64N(2000) - 1000}[r.IntN(6)])
	case TypeReal:
		return NewReal(randJSONReal(r))
	case TypeString:
		return NewString(randJSONString(r))
	case TypeAddress:
		return NewAddr(randJSONAddr(r))
	case TypeSubnet:
		a := randJSONAddr(r)
		return NewSubnet(netip.PrefixFrom(a, r.IntN(a.BitLen()+1)))
	case TypePort:
		return NewPort(Port{Number: uint16(r.Uint32()), Proto: Protocol(r.IntN(4))})
	case TypeTimestamp:
		ns := []int64{0, math.MinInt64, math.MaxInt64, int64(r.Uint64()), r.Int64N(1e9) * 1e9}[r.IntN(5)]
		return NewTimestamp(time.Unix(0, ns))
	case TypeTimespan:
		return NewTimespan(time.Duration(randJSONTimespan(r)))
	case TypeEnum:
		return NewEnum([]string{"Conn::LOG", "tcp", "", randJSONString(r)}[r.IntN(4)])
	case TypeSet, TypeVector:
		elems := make([]Value, r.IntN(5))
		for i := range elems {
			elems[i] = randJSONValue(r, depth-1)
		}
		if r.IntN(2) == 0 {
			return NewSet(elems...)
		}
		return NewVector(elems...)
	case TypeTable:
		es := make([]Entry, r.IntN(5))
		for i := range es {
			es[i] = Entry{Key: randJSONValue(r, depth-1), Value: randJSONValue(r, depth-1)}
		}
		return NewTable(es...)
	}
	panic("unreachable")
}

func randJSONReal(r *rand.Rand) float64 {
	switch r.IntN(4) {
	case 0:
		return []float64{0, math.Copysign(0, -1), math.Inf(1), math.Inf(-1), math.NaN(), 0.1, 1e21, 1e-7,
			math.MaxFloat64, math.SmallestNonzeroFloat64, -math.MaxFloat64, 5e-324, 1 << 53}[r.IntN(13)]
	case 1:
		return r.NormFloat64() * math.Pow(10, float64(r.IntN(40)-20))
	default:
		f := math.Float64frombits(r.Uint64())
		if math.IsNaN(f) {
			return math.NaN()
		}
		return f
	}
}

// randJSONString draws from an alphabet of characters that need escaping,
// multi-byte runes and astral runes (surrogate pairs in \u form).
func randJSONString(r *rand.Rand) string {
	alphabet := []rune{'a', 'Z', '0', ' ', '"', '\\', '/', '\n', '\t', '\r', '\b', '\f', 0, 0x1f, 0x7f,
		'<', '&', 'é', '世', '😀', '\u2028', '\u2029', utf8.RuneError, 0x10FFFF}
	b := make([]rune, r.IntN(8))
	for i := range b {
		b[i] = alphabet[r.IntN(len(alphabet))]
	}
	return string(b)
}

func randJSONAddr(r *rand.Rand) netip.Addr {
	if r.IntN(2) == 0 {
		return netip.AddrFrom4([4]byte{byte(r.Uint32()), byte(r.Uint32()), byte(r.IntN(2)), byte(r.Uint32())})
	}
	var b [16]byte
	for i := range b {
		if r.IntN(3) == 0 {
			b[i] = byte(r.Uint32())
		}
	}
	return netip.AddrFrom16(b)
}

func randJSONTimespan(r *rand.Rand) int64 {
	switch r.IntN(3) {
	case 0:
		return []int64{0, 1, -1, math.MinInt64, math.MaxInt64, 86400e9, 90e9, 1500e6}[r.IntN(8)]
	case 1:
		u := timespanUnits[r.IntN(len(timespanUnits))]
		return (r.Int64N(2001) - 1000) * u.ns
	}
	return int64(r.Uint64())
}

func mustParseJSON(t *testing.T, s string) Value {
	t.Helper()
	v, err := ParseJSON([]byte(s), nil)
	if err != nil {
		t.Fatalf("ParseJSON(%s): %v", s, err)
	}
	return v
}

func ts(s string) Value {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		panic(err)
	}
	return NewTimestamp(t)
}

func TestJSONGolden(t *testing.T) {
	const day = 24 * time.Hour
	count := func(u uint64) Value { return NewCount(u) }
	for _, tc := range []struct {
		v    Value
		want string // the data member; "" for the type name
	}{
		{None, `{}`},
		{NewBool(true), `true`},
		{NewBool(false), `false`},
		{NewCount(42), `42`},
		{NewCount(math.MaxUint64), `18446744073709551615`},
		{NewInt(-7), `-7`},
		{NewInt(math.MinInt64), `-9223372036854775808`},
		{NewReal(1.5), `1.5`},
		{NewReal(0.1), `0.1`},
		{NewReal(math.Copysign(0, -1)), `-0`},
		{NewReal(1e21), `1e+21`},
		{NewReal(1e-7), `1e-07`},
		{NewReal(100), `100`},
		{NewReal(math.NaN()), `"nan"`},
		{NewReal(math.Inf(1)), `"inf"`},
		{NewReal(math.Inf(-1)), `"-inf"`},
		{NewString(""), `""`},
		{NewString("a\"b\\c/\n\r\t\b\f\x00\x1f\x7fé😀<&"), `"a\"b\\c/\n\r\t\b\f\u0000\u001f` + "\x7fé😀<&\""},
		{NewString("x\u2028y\u2029"), `"x\u2028y\u2029"`},
		{NewString("bad\xffutf8\xc3"), "\"bad\uFFFDutf8\uFFFD\""},
		{NewEnum("Conn::LOG"), `"Conn::LOG"`},
		{NewAddr(netip.MustParseAddr("192.168.0.1")), `"192.168.0.1"`},
		{NewAddr(netip.MustParseAddr("2001:db8::1")), `"2001:db8::1"`},
		{NewAddr(netip.MustParseAddr("::ffff:1.2.3.4")), `"1.2.3.4"`},
		{NewSubnet(netip.MustParsePrefix("10.0.0.0/8")), `"10.0.0.0/8"`},
		{NewSubnet(netip.MustParsePrefix("2001:db8::/32")), `"2001:db8::/32"`},
		{NewPort(Port{8080, ProtoTCP}), `"8080/tcp"`},
		{NewPort(Port{53, ProtoUDP}), `"53/udp"`},
		{NewPort(Port{8, ProtoICMP}), `"8/icmp"`},
		{NewPort(Port{0, ProtoUnknown}), `"0/?"`},
		{ts("2022-04-10T07:00:00Z"), `"2022-04-10T07:00:00"`},
		{ts("2022-04-10T07:00:00.000000001Z"), `"2022-04-10T07:00:00.000000001"`},
		{ts("2022-04-10T07:00:00.5Z"), `"2022-04-10T07:00:00.5"`},
		{ts("1969-12-31T23:59:59.999Z"), `"1969-12-31T23:59:59.999"`},
		{NewTimestamp(time.Unix(0, math.MinInt64)), `"1677-09-21T00:12:43.145224192"`},
		{NewTimestamp(time.Unix(0, math.MaxInt64)), `"2262-04-11T23:47:16.854775807"`},
		{NewTimespan(1500 * time.Millisecond), `"1500ms"`},
		{NewTimespan(3 * time.Second), `"3s"`},
		{NewTimespan(-2), `"-2ns"`},
		{NewTimespan(0), `"0ns"`},
		{NewTimespan(1500), `"1500ns"`},
		{NewTimespan(2 * time.Microsecond), `"2us"`},
		{NewTimespan(90 * time.Second), `"90s"`},
		{NewTimespan(-2 * time.Minute), `"-2min"`},
		{NewTimespan(36 * time.Hour), `"36h"`},
		{NewTimespan(2 * day), `"2d"`},
		{NewTimespan(math.MinInt64), `"-9223372036854775808ns"`},
		{NewVector(), `[]`},
		{NewVector(count(1), NewString("a")),
			`[{"@data-type":"count","data":1},{"@data-type":"string","data":"a"}]`},
		{NewSet(count(2), count(1), count(2)),
			`[{"@data-type":"count","data":1},{"@data-type":"count","data":2}]`},
		{NewTable(Entry{count(1), NewString("x")}),
			`[{"key":{"@data-type":"count","data":1},"value":{"@data-type":"string","data":"x"}}]`},
		{NewTable(), `[]`},
	} {
		want := `{"@data-type":"` + tc.v.Type().String() + `","data":` + tc.want + `}`
		got := AppendJSON([]byte("prefix"), tc.v)
		if string(got) != "prefix"+want {
			t.Errorf("%v:\n got  %s\n want %s", tc.v, got[6:], want)
			continue
		}
		if !json.Valid(got[6:]) {
			t.Errorf("%v: invalid JSON %s", tc.v, got[6:])
		}
		back := mustParseJSON(t, want)
		if tc.v.Type() == TypeString && !utf8.ValidString(tc.v.Str()) {
			continue // invalid UTF-8 was replaced
		}
		if !Equal(back, tc.v) {
			t.Errorf("%s parsed as %v, want %v", want, back, tc.v)
		}
	}
}

// TestJSONAccepts covers inputs other than the canonical output.
func TestJSONAccepts(t *testing.T) {
	ns := func(d time.Duration) Value { return NewTimespan(d) }
	str := func(s string) Value { return NewString(s) }
	cnt := func(u uint64) Value { return NewCount(u) }
	for _, tc := range []struct {
		in   string
		want Value
	}{
		{`{"@data-type":"none","data":null}`, None},
		{" \t\r\n{ \"data\" : { } ,\n \"@data-type\" : \"none\" } \n", None},
		{`{"data":42,"@data-type":"count"}`, cnt(42)},
		{`{"\u0040data-type":"count","d\u0061ta":1}`, cnt(1)},
		{`{"@data-type":"\u0063ount","data":1}`, cnt(1)},
		{`{"@data-type":"count","data":-0}`, cnt(0)},
		{`{"@data-type":"integer","data":-0}`, NewInt(0)},
		{`{"@data-type":"integer","data":9223372036854775807}`, NewInt(math.MaxInt64)},
		{`{"@data-type":"real","data":5}`, NewReal(5)},
		{`{"@data-type":"real","data":1E2}`, NewReal(100)},
		{`{"@data-type":"real","data":-0.0}`, NewReal(math.Copysign(0, -1))},
		{`{"@data-type":"real","data":2.5e-1}`, NewReal(0.25)},
		{`{"@data-type":"real","data":1e-400}`, NewReal(0)},
		{`{"@data-type":"real","data":"nan"}`, NewReal(math.NaN())},
		{`{"@data-type":"string","data":"\ud83d\ude00\u00e9\/"}`, str("😀é/")},
		{`{"@data-type":"string","data":"\ud83dx\udc00"}`, str("\uFFFDx\uFFFD")},
		{`{"@data-type":"string","data":"\ud83d\u0041"}`, str("\uFFFDA")},
		{"{\"@data-type\":\"string\",\"data\":\"a\xffb\xed\xa0\x80\"}", str("a\uFFFDb\uFFFD\uFFFD\uFFFD")},
		{`{"@data-type":"enum-value","data":""}`, NewEnum("")},
		{`{"@data-type":"address","data":"::ffff:1.2.3.4"}`, NewAddr(netip.MustParseAddr("1.2.3.4"))},
		{`{"@data-type":"subnet","data":"10.1.2.3/8"}`, NewSubnet(netip.MustParsePrefix("10.0.0.0/8"))},
		{`{"@data-type":"subnet","data":"::ffff:10.0.0.0/104"}`, NewSubnet(netip.MustParsePrefix("10.0.0.0/8"))},
		{`{"@data-type":"subnet","data":"::ffff:0:0/95"}`, NewSubnet(netip.MustParsePrefix("::fffe:0:0/95"))},
		{`{"@data-type":"port","data":"0080/udp"}`, NewPort(Port{80, ProtoUDP})},
		{`{"@data-type":"port","data":"65535/?"}`, NewPort(Port{65535, ProtoUnknown})},
		{`{"@data-type":"timestamp","data":"2022-04-10T07:00:00Z"}`, ts("2022-04-10T07:00:00Z")},
		{`{"@data-type":"timestamp","data":"2022-04-10T09:30:00+02:30"}`, ts("2022-04-10T07:00:00Z")},
		{`{"@data-type":"timestamp","data":"2022-04-10T02:00:00.5-05:00"}`, ts("2022-04-10T07:00:00.5Z")},
		{`{"@data-type":"timestamp","data":"2022-04-10T07:00:00.000000001000"}`, ts("2022-04-10T07:00:00.000000001Z")},
		{`{"@data-type":"timestamp","data":"2024-02-29T00:00:00"}`, ts("2024-02-29T00:00:00Z")},
		{`{"@data-type":"timestamp","data":"2262-04-12T01:47:16.854775807+02:00"}`, NewTimestamp(time.Unix(0, math.MaxInt64))},
		{`{"@data-type":"timespan","data":"1.5s"}`, ns(1500 * time.Millisecond)},
		{`{"@data-type":"timespan","data":"-1.5s"}`, ns(-1500 * time.Millisecond)},
		{`{"@data-type":"timespan","data":"1.25us"}`, ns(1250)},
		{`{"@data-type":"timespan","data":"0.5ns"}`, ns(1)},
		{`{"@data-type":"timespan","data":"-0.5ns"}`, ns(-1)},
		{`{"@data-type":"timespan","data":"0.4999ns"}`, ns(0)},
		{`{"@data-type":"timespan","data":"-0ns"}`, ns(0)},
		{`{"@data-type":"timespan","data":"0.1min"}`, ns(6 * time.Second)},
		{`{"@data-type":"timespan","data":"1.5h"}`, ns(90 * time.Minute)},
		{`{"@data-type":"timespan","data":"0.5d"}`, ns(12 * time.Hour)},
		{`{"@data-type":"timespan","data":"0.000000000001d"}`, ns(86)},    // 86.4ns
		{`{"@data-type":"timespan","data":"0.0000000000001d"}`, ns(9)},    // 8.64ns
		{`{"@data-type":"timespan","data":"0.00000000000001d"}`, ns(1)},   // 0.864ns
		{`{"@data-type":"timespan","data":"0.000000000000005d"}`, ns(0)},  // 0.432ns
		{`{"@data-type":"timespan","data":"0.0000000000000058d"}`, ns(1)}, // 0.50112ns
		// 0.5ns is 8.333…e-12 min: just above and just below it.
		{`{"@data-type":"timespan","data":"0.0000000000083333333333334min"}`, ns(1)},
		{`{"@data-type":"timespan","data":"0.0000000000083333333333333min"}`, ns(0)},
		{`{"@data-type":"timespan","data":"1.0000000004999999999999999999s"}`, ns(time.Second)},
		{`{"@data-type":"timespan","data":"1.0000000005s"}`, ns(time.Second + 1)},
		{`{"@data-type":"timespan","data":"9223372036854775807ns"}`, ns(math.MaxInt64)},
		{`{"@data-type":"timespan","data":"-9223372036854775808ns"}`, ns(math.MinInt64)},
		{`{"@data-type":"timespan","data":"-9223372036.854775808s"}`, ns(math.MinInt64)},
		{`{"@data-type":"timespan","data":"106751d"}`, ns(106751 * 24 * time.Hour)},
		{`{"@data-type":"set","data":[{"@data-type":"count","data":2},{"@data-type":"count","data":1},` +
			`{"@data-type":"count","data":2}]}`, NewSet(cnt(1), cnt(2))},
		{`{"@data-type":"table","data":[` +
			`{"key":{"@data-type":"count","data":2},"value":{"@data-type":"string","data":"a"}},` +
			`{"value":{"@data-type":"string","data":"b"},"key":{"@data-type":"count","data":1}},` +
			`{"key":{"@data-type":"count","data":2},"value":{"@data-type":"string","data":"c"}}]}`,
			NewTable(Entry{cnt(1), str("b")}, Entry{cnt(2), str("c")})},
		{`{"data":[{"data":[],"@data-type":"vector"}],"@data-type":"vector"}`, NewVector(NewVector())},
	} {
		got, err := ParseJSON([]byte(tc.in), nil)
		if err != nil {
			t.Errorf("%s: %v", tc.in, err)
			continue
		}
		if !Equal(got, tc.want) {
			t.Errorf("%s: got %v, want %v", tc.in, got, tc.want)
		}
	}
}

func TestJSONRejects(t *testing.T) {
	typed := func(typ, data string) string { return `{"@data-type":"` + typ + `","data":` + data + `}` }
	cnt := typed("count", "1")
	for _, tc := range []struct {
		in      string
		wantMsg string // a substring of the message, if given
	}{
		{"", "unexpected end"},
		{"   ", ""},
		{"null", ""},
		{"42", ""},
		{"[]", ""},
		{`"count"`, ""},
		{"\x00", ""},
		{`{}`, "without @data-type"},
		{`{"@data-type":"count"}`, "count value without data"},
		{`{"data":1}`, "without @data-type"},
		{typed("counts", "1"), `unknown @data-type "counts"`},
		{typed("Count", "1"), `unknown @data-type`},
		{`{"@data-type":2,"data":1}`, "@data-type must be a JSON string"},
		{`{"@data-type":"count","data":1,"extra":0}`, `unknown member "extra"`},
		{`{"@data-type":"count","@data-type":"count","data":1}`, "duplicate @data-type"},
		{`{"@data-type":"count","data":1,"data":1}`, "duplicate data"},
		{`{"@data-type":"count","data":1,}`, "syntax"},
		{`{"@data-type":"count","data":1`, "unexpected end"},
		{`{"@data-type":"count" "data":1}`, "syntax"},
		{`{"@data-type":"count","data"1}`, "syntax"},
		{`{'@data-type':"count","data":1}`, "syntax"},
		{cnt + " x", "data after the value"},
		{cnt + cnt, "data after the value"},
		{typed("count", `"1"`), "count data must be an integer, got a string"},
		{typed("count", "-1"), "negative"},
		{typed("count", "1.0"), "must be an integer"},
		{typed("count", "1e3"), "must be an integer"},
		{typed("count", "01"), "syntax"},
		{typed("count", "18446744073709551616"), "out of range"},
		{typed("count", "-"), "syntax"},
		{typed("count", "+1"), "must be an integer, got invalid JSON"},
		{typed("integer", "9223372036854775808"), "out of range"},
		{typed("integer", "-9223372036854775809"), "out of range"},
		{typed("integer", "1.5"), "must be an integer"},
		{typed("integer", "true"), "got a boolean"},
		{typed("real", `"NaN"`), `"nan", "inf" or "-inf"`},
		{typed("real", `"1.5"`), `"nan", "inf" or "-inf"`},
		{typed("real", "1e400"), "out of range"},
		{typed("real", "1."), "syntax"},
		{typed("real", ".5"), "must be a number"},
		{typed("real", "1e"), "syntax"},
		{typed("real", "Infinity"), "must be a number"},
		{typed("real", "null"), "got null"},
		{typed("boolean", `"true"`), "true or false"},
		{typed("boolean", "1"), "true or false"},
		{typed("boolean", "tru"), "syntax"},
		{typed("none", "0"), "{} or null"},
		{typed("none", `{"a":1}`), "{} or null"},
		{typed("none", "nul"), "syntax"},
		{typed("string", "5"), "string data must be a string, got a number"},
		{typed("string", `"\x"`), "invalid escape"},
		{typed("string", `"\u12"`), "invalid escape"},
		{typed("string", `"\u12g4"`), "invalid escape"},
		{typed("string", "\"a\nb\""), "control character"},
		{typed("string", `"abc`), "unterminated"},
		{typed("string", `"abc\`), "invalid escape"},
		{typed("enum-value", "[]"), "got an array"},
		{typed("address", `"1.2.3"`), "bad address"},
		{typed("address", `"fe80::1%eth0"`), "bad address"},
		{typed("address", `""`), "bad address"},
		{typed("address", "16909060"), "must be a string"},
		{typed("subnet", `"10.0.0.0/33"`), "bad subnet"},
		{typed("subnet", `"10.0.0.0"`), "bad subnet"},
		{typed("subnet", `"10.0.0.0/-1"`), "bad subnet"},
		{typed("port", `"8080"`), "bad port"},
		{typed("port", `"8080/sctp"`), "bad port"},
		{typed("port", `"8080/TCP"`), "bad port"},
		{typed("port", `"65536/tcp"`), "bad port"},
		{typed("port", `"/tcp"`), "bad port"},
		{typed("port", `"-1/tcp"`), "bad port"},
		{typed("port", `"80/tcp/udp"`), "bad port"},
		{typed("port", "80"), "must be a string"},
		{typed("timestamp", `"2022-04-10"`), "bad timestamp"},
		{typed("timestamp", `"2022-04-10 07:00:00"`), "bad timestamp"},
		{typed("timestamp", `"2022-13-01T00:00:00"`), "bad timestamp"},
		{typed("timestamp", `"2022-00-01T00:00:00"`), "bad timestamp"},
		{typed("timestamp", `"2022-02-29T00:00:00"`), "no such day"},
		{typed("timestamp", `"2022-04-31T00:00:00"`), "no such day"},
		{typed("timestamp", `"2022-04-10T24:00:00"`), "bad timestamp"},
		{typed("timestamp", `"2022-04-10T07:60:00"`), "bad timestamp"},
		{typed("timestamp", `"2022-04-10T07:00:60"`), "bad timestamp"},
		{typed("timestamp", `"2022-04-10T07:00:00."`), "bad timestamp"},
		{typed("timestamp", `"2022-04-10T07:00:00.1234567891"`), "finer than nanoseconds"},
		{typed("timestamp", `"2022-04-10T07:00:00+2:00"`), "bad timestamp"},
		{typed("timestamp", `"2022-04-10T07:00:00+02:00Z"`), "bad timestamp"},
		{typed("timestamp", `"2022-04-10T07:00:00 "`), "bad timestamp"},
		{typed("timestamp", `"2022-04-10T07:00:00z"`), "bad timestamp"},
		{typed("timestamp", `"+022-04-10T07:00:00"`), "bad timestamp"},
		{typed("timestamp", `"2262-04-11T23:47:16.854775808"`), "outside"},
		{typed("timestamp", `"1677-09-21T00:12:43.145224191"`), "outside"},
		{typed("timestamp", `"9999-12-31T23:59:59"`), "outside"},
		{typed("timestamp", "1649574000"), "must be a string"},
		{typed("timespan", `"1500"`), "bad timespan"},
		{typed("timespan", `"1500 ms"`), "bad timespan"},
		{typed("timespan", `"ms"`), "bad timespan"},
		{typed("timespan", `"-s"`), "bad timespan"},
		{typed("timespan", `"1.s"`), "bad timespan"},
		{typed("timespan", `".5s"`), "bad timespan"},
		{typed("timespan", `"1.2.3s"`), "bad timespan"},
		{typed("timespan", `"1.5x"`), "bad timespan"},
		{typed("timespan", `"1sec"`), "bad timespan"},
		{typed("timespan", `"+1s"`), "bad timespan"},
		{typed("timespan", `"--1s"`), "bad timespan"},
		{typed("timespan", `"1e3ns"`), "bad timespan"},
		{typed("timespan", `"9223372036854775808ns"`), "out of range"},
		{typed("timespan", `"-9223372036854775809ns"`), "out of range"},
		{typed("timespan", `"18446744073709551616ns"`), "out of range"},
		{typed("timespan", `"106752d"`), "out of range"},
		{typed("timespan", `"9223372036.8547758075s"`), "out of range"},
		{typed("timespan", "1500"), "must be a string"},
		{typed("vector", "{}"), "vector data must be an array, got an object"},
		{typed("vector", "[1]"), "syntax"},
		{typed("vector", "["+cnt+","+"]"), "syntax"},
		{typed("vector", "["+cnt+" "+cnt+"]"), "syntax"},
		{typed("vector", "["+cnt), "expected ',' or ']'"},
		{`{"@data-type":"vector","data":[` + cnt, "unexpected end"},
		{typed("set", "[null]"), "syntax"},
		{typed("set", "["+typed("count", "-1")+"]"), "negative"},
		{typed("table", "["+cnt+"]"), "unknown member"},
		{typed("table", "[1]"), "table entries must be"},
		{typed("table", "[{}]"), "without key or value"},
		{typed("table", `[{"key":`+cnt+`}]`), "without key or value"},
		{typed("table", `[{"value":`+cnt+`}]`), "without key or value"},
		{typed("table", `[{"key":`+cnt+`,"key":`+cnt+`,"value":`+cnt+`}]`), "duplicate key"},
		{typed("table", `[{"key":`+cnt+`,"value":`+cnt+`,"value":`+cnt+`}]`), "duplicate value"},
		{typed("table", `[{"key":`+cnt+`,"value":`+cnt+`,"x":1}]`), `unknown member "x" in table entry`},
		{typed("table", `[{"key":1,"value":`+cnt+`}]`), "syntax"},
		// Data before the type: syntax is checked while skipping it.
		{`{"data":[1,],"@data-type":"vector"}`, "syntax"},
		{`{"data":"abc,"@data-type":"string"}`, "syntax"},
		{`{"data":{"a" 1},"@data-type":"none"}`, "syntax"},
		{`{"data":tru,"@data-type":"boolean"}`, "syntax"},
		{`{"data":1,"@data-type":"counts"}`, "unknown @data-type"},
		{`{"data":"1","@data-type":"count"}`, "must be an integer"},
		{`{"data":1}  `, "without @data-type"},
	} {
		_, err := ParseJSON([]byte(tc.in), nil)
		switch {
		case err == nil:
			t.Errorf("%s: accepted", tc.in)
		case !errors.Is(err, ErrBadValue):
			t.Errorf("%s: %v does not wrap ErrBadValue", tc.in, err)
		case !strings.Contains(err.Error(), tc.wantMsg):
			t.Errorf("%s: error %q does not contain %q", tc.in, err, tc.wantMsg)
		}
	}
	_, err := ParseJSON([]byte(typed("counts", "1")), nil)
	if want := `frame: malformed value: unknown @data-type "counts"`; err == nil || err.Error() != want {
		t.Errorf("got %v, want %s", err, want)
	}
}

// nestJSON returns a value with depth levels of containers around a none,
// its data member first when dataFirst (the parser then skips and
// re-parses it). Tables put the nesting in the entry value, the deepest
// JSON per level.
func nestJSON(kind string, depth int, dataFirst bool) string {
	obj := func(typ, data string) string {
		if dataFirst {
			return `{"data":` + data + `,"@data-type":"` + typ + `"}`
		}
		return `{"@data-type":"` + typ + `","data":` + data + `}`
	}
	s := obj("none", "{}")
	for range depth {
		if kind == "table" {
			s = obj("table", `[{"key":`+obj("none", "{}")+`,"value":`+s+`}]`)
		} else {
			s = obj(kind, "["+s+"]")
		}
	}
	return s
}

func TestJSONDepth(t *testing.T) {
	for _, lim := range []*Limits{nil, {MaxDepth: 1}, {MaxDepth: 3}} {
		max := DefaultMaxDepth
		if lim != nil {
			max = lim.MaxDepth
		}
		for _, kind := range []string{"vector", "set", "table"} {
			for _, dataFirst := range []bool{false, true} {
				ok := nestJSON(kind, max, dataFirst)
				v, err := ParseJSON([]byte(ok), lim)
				if err != nil {
					t.Fatalf("%s depth %d (data first %v, limit %d): %v", kind, max, dataFirst, max, err)
				}
				// The binary decoder draws the same line.
				if _, _, err := DecodeValue(AppendValue(nil, v), lim); err != nil {
					t.Fatalf("%s depth %d: binary: %v", kind, max, err)
				}
				deep := nestJSON(kind, max+1, dataFirst)
				if _, err := ParseJSON([]byte(deep), lim); !errors.Is(err, ErrTooDeep) {
					t.Fatalf("%s depth %d (data first %v, limit %d): got %v, want ErrTooDeep", kind, max+1, dataFirst, max, err)
				}
			}
		}
	}
	// Nesting far past any limit fails without exhausting the stack, in
	// data that is parsed and in data that is skipped.
	const n = 200000
	for _, in := range []string{
		strings.Repeat(`{"@data-type":"vector","data":[`, n),
		`{"data":` + strings.Repeat("[", n),
		`{"data":` + strings.Repeat(`{"a":`, n),
	} {
		if _, err := ParseJSON([]byte(in), nil); !errors.Is(err, ErrTooDeep) {
			t.Errorf("%.40s…: got %v, want ErrTooDeep", in, err)
		}
	}
	// An out-of-range MaxDepth is capped rather than trusted.
	in := []byte(strings.Repeat(`{"@data-type":"vector","data":[`, n))
	if _, err := ParseJSON(in, &Limits{MaxDepth: math.MaxInt}); !errors.Is(err, ErrTooDeep) {
		t.Errorf("MaxInt limit: got %v, want ErrTooDeep", err)
	}
}

func TestJSONRoundTripRandom(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 11))
	var buf []byte
	for range 5000 {
		v := randJSONValue(r, 3)
		buf = AppendJSON(buf[:0], v)
		if !json.Valid(buf) {
			t.Fatalf("%v: invalid JSON %s", v, buf)
		}
		back, err := ParseJSON(buf, nil)
		if err != nil {
			t.Fatalf("%v: %s: %v", v, buf, err)
		}
		if !Equal(back, v) {
			t.Fatalf("%s: got %v, want %v", buf, back, v)
		}
		// The same through encoding/json, which re-indents the output.
		in, err := json.MarshalIndent(v, "", "  ")
		if err != nil {
			t.Fatal(err)
		}
		var viaStd Value
		if err := json.Unmarshal(in, &viaStd); err != nil || !Equal(viaStd, v) {
			t.Fatalf("encoding/json %s: got %v, %v", in, viaStd, err)
		}
	}
}

func TestJSONEncodingJSON(t *testing.T) {
	type msg struct {
		Topic string           `json:"topic"`
		V     Value            `json:"v"`
		P     *Value           `json:"p"`
		L     []Value          `json:"l"`
		M     map[string]Value `json:"m"`
	}
	r := rand.New(rand.NewPCG(5, 6))
	for range 200 {
		p := randJSONValue(r, 2)
		in := msg{
			Topic: "/zeek/event",
			V:     randJSONValue(r, 3),
			P:     &p,
			L:     []Value{randJSONValue(r, 1), None},
			M:     map[string]Value{"a": randJSONValue(r, 2)},
		}
		b, err := json.Marshal(in)
		if err != nil {
			t.Fatal(err)
		}
		var out msg
		if err := json.Unmarshal(b, &out); err != nil {
			t.Fatalf("%s: %v", b, err)
		}
		if out.Topic != in.Topic || !Equal(out.V, in.V) || out.P == nil || !Equal(*out.P, *in.P) ||
			len(out.L) != 2 || !Equal(out.L[0], in.L[0]) || !Equal(out.L[1], None) || !Equal(out.M["a"], in.M["a"]) {
			t.Fatalf("%s: got %+v", b, out)
		}
	}
	// null leaves a Value alone; errors come through encoding/json.
	v := NewCount(1)
	if err := json.Unmarshal([]byte(`null`), &v); err != nil || !Equal(v, NewCount(1)) {
		t.Errorf("null: %v, %v", v, err)
	}
	var m msg
	err := json.Unmarshal([]byte(`{"v":{"@data-type":"count","data":-1}}`), &m)
	if !errors.Is(err, ErrBadValue) {
		t.Errorf("bad value through encoding/json: %v", err)
	}
}

// TestJSONAllocBounded: parsing allocates a small multiple of the input,
// for the shapes that allocate most per input byte. The worst is a long
// array of 32-byte nones: each becomes an 80-byte Value, the element stack
// doubles (up to 4x the final size allocated in all, when the last
// doubling has just happened) and the result is copied out once: at most
// 5·80/32 = 12.5 bytes per input byte.
func TestJSONAllocBounded(t *testing.T) {
	const n = 20000
	none := `{"@data-type":"none","data":{}}`
	entry := `{"key":` + none + `,"value":` + none + `}`
	vec := func(typ, elem string) string {
		return `{"@data-type":"` + typ + `","data":[` + strings.Repeat(elem+",", n-1) + elem + `]}`
	}
	for name, str := range map[string]string{
		"vector":     vec("vector", none),
		"set":        vec("set", none),
		"table":      vec("table", entry),
		"nested":     vec("vector", `{"@data-type":"vector","data":[`+none+`]}`),
		"data-first": vec("vector", `{"data":{},"@data-type":"none"}`),
		"escapes":    `{"@data-type":"string","data":"` + strings.Repeat(`\u0000`, n) + `"}`,
		"bad-utf8":   `{"@data-type":"string","data":"` + strings.Repeat("\xff", n) + `"}`,
	} {
		in := []byte(str)
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		if _, err := ParseJSON(in, nil); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		runtime.ReadMemStats(&after)
		ratio := float64(after.TotalAlloc-before.TotalAlloc) / float64(len(in))
		t.Logf("%s: %.1f bytes allocated per input byte", name, ratio)
		if ratio > 13 {
			t.Errorf("%s: %.1f bytes allocated per input byte, want at most 13", name, ratio)
		}
	}
}

func TestAppendJSONAllocFree(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 9))
	vals := make([]Value, 50)
	for i := range vals {
		vals[i] = randJSONValue(r, 3)
	}
	buf := make([]byte, 0, 1<<16)
	if a := testing.AllocsPerRun(20, func() {
		for _, v := range vals {
			buf = AppendJSON(buf[:0], v)
		}
	}); a != 0 {
		t.Errorf("AppendJSON: %v allocs/op, want 0", a)
	}
}

// FuzzJSON: ParseJSON never panics and fails only with its sentinels; what
// it accepts prints canonically (print, parse, print is stable) and
// survives the binary encoding.
func FuzzJSON(f *testing.F) {
	f.Fuzz(func(t *testing.T, b []byte) {
		v, err := ParseJSON(b, nil)
		if err != nil {
			if !errors.Is(err, ErrBadValue) && !errors.Is(err, ErrTooDeep) {
				t.Fatalf("error wraps no sentinel: %v", err)
			}
			return
		}
		out := AppendJSON(nil, v)
		if !json.Valid(out) {
			t.Fatalf("invalid JSON output %s", out)
		}
		back, err := ParseJSON(out, nil)
		if err != nil {
			t.Fatalf("output %s does not parse: %v", out, err)
		}
		if !Equal(back, v) {
			t.Fatalf("%s: parsed back as %v, want %v", out, back, v)
		}
		if again := AppendJSON(nil, back); !bytes.Equal(again, out) {
			t.Fatalf("output not stable:\n %s\n %s", out, again)
		}
		enc := AppendValue(nil, v)
		view, rest, err := DecodeValue(enc, nil)
		if err != nil || len(rest) != 0 {
			t.Fatalf("%s: binary decode: %v (%d bytes left)", out, err, len(rest))
		}
		if !Equal(view.Value(), v) {
			t.Fatalf("%s: binary round trip gave %v", out, view.Value())
		}
	})
}

var jsonSink []byte

func BenchmarkAppendJSON(b *testing.B) {
	v := NewVector(NewString("Conn::new_connection"), NewCount(42), NewAddr(netip.MustParseAddr("10.0.0.1")),
		NewPort(Port{443, ProtoTCP}), NewTimestamp(time.Unix(1649574000, 123)), NewTimespan(1500*time.Millisecond),
		NewTable(Entry{NewString("a"), NewReal(1.5)}))
	buf := AppendJSON(nil, v)
	b.SetBytes(int64(len(buf)))
	b.ReportAllocs()
	for b.Loop() {
		buf = AppendJSON(buf[:0], v)
	}
	jsonSink = buf
}

func BenchmarkParseJSON(b *testing.B) {
	in := AppendJSON(nil, NewVector(NewString("Conn::new_connection"), NewCount(42),
		NewAddr(netip.MustParseAddr("10.0.0.1")), NewPort(Port{443, ProtoTCP}),
		NewTimestamp(time.Unix(1649574000, 123)), NewTimespan(1500*time.Millisecond),
		NewTable(Entry{NewString("a"), NewReal(1.5)})))
	b.SetBytes(int64(len(in)))
	b.ReportAllocs()
	var v Value
	for b.Loop() {
		v, _ = ParseJSON(in, nil)
	}
	if v.Len() != 7 {
		b.Fatal(v)
	}
}
