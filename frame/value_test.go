package frame

import (
	"errors"
	"math"
	"math/rand/v2"
	"net/netip"
	"slices"
	"testing"
	"time"
)

// randValue returns a random value of any type; depth bounds nesting. The
// small alphabets make equal elements (set dedupe, table key collisions)
// likely.
func randValue(r *rand.Rand, depth int) Value {
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
		return NewCount([]uint64{0, 1, math.MaxUint64, r.Uint64(), uint64(r.IntN(4))}[r.IntN(5)])
	case TypeInteger:
		return NewInt([]int64{0, -1, math.MinInt64, math.MaxInt64, r.Int64() - r.Int64(), int64(r.IntN(4))}[r.IntN(6)])
	case TypeReal:
		return NewReal([]float64{0, math.Copysign(0, -1), math.Inf(1), math.Inf(-1), math.NaN(), r.NormFloat64() * 1e6, 1.5}[r.IntN(7)])
	case TypeString:
		return NewString(randString(r))
	case TypeAddress:
		if r.IntN(2) == 0 {
			return NewAddr(netip.AddrFrom4([4]byte{10, 0, byte(r.IntN(3)), byte(r.IntN(256))}))
		}
		var b [16]byte
		for i := range b {
			b[i] = byte(r.IntN(3))
		}
		return NewAddr(netip.AddrFrom16(b))
	case TypeSubnet:
		if r.IntN(2) == 0 {
			return NewSubnet(netip.PrefixFrom(netip.AddrFrom4([4]byte{byte(r.IntN(256)), byte(r.IntN(256)), 1, 2}), r.IntN(33)))
		}
		return NewSubnet(netip.PrefixFrom(netip.MustParseAddr("2001:db8::1"), r.IntN(129)))
	case TypePort:
		return NewPort(Port{Number: uint16(r.IntN(3) * 4000), Proto: Protocol(r.IntN(4))})
	case TypeTimestamp:
		return NewTimestamp(time.Unix(0, r.Int64N(4e18)-2e18))
	case TypeTimespan:
		return NewTimespan(time.Duration(r.Int64N(1e12) - 5e11))
	case TypeEnum:
		return NewEnum([]string{"Conn::LOG", "A", "B"}[r.IntN(3)])
	case TypeSet, TypeVector, TypeTable:
		n := r.IntN(5)
		elems := make([]Value, n)
		for i := range elems {
			elems[i] = randValue(r, depth-1)
		}
		switch r.IntN(3) {
		case 0:
			return NewSet(elems...)
		case 1:
			return NewVector(elems...)
		default:
			es := make([]Entry, n)
			for i := range es {
				es[i] = Entry{Key: elems[i], Value: randValue(r, depth-1)}
			}
			return NewTable(es...)
		}
	}
	panic("unreachable")
}

func randString(r *rand.Rand) string {
	b := make([]byte, r.IntN(6))
	for i := range b {
		b[i] = "ab\x00\xff"[r.IntN(4)]
	}
	return string(b)
}

func TestValueRoundTripRandom(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < 20000; i++ {
		v := randValue(r, 3)
		enc := AppendValue(nil, v)
		view, rest, err := DecodeValue(append(enc, 0xAA), nil)
		if err != nil {
			t.Fatalf("%v: decode: %v", v, err)
		}
		if len(rest) != 1 || len(view.Raw()) != len(enc) {
			t.Fatalf("%v: rest %d raw %d enc %d", v, len(rest), len(view.Raw()), len(enc))
		}
		back := view.Value()
		if !Equal(back, v) || !slices.Equal(AppendValue(nil, back), enc) {
			t.Fatalf("round trip: %v -> %v", v, back)
		}
	}
}

// TestOrderConsistent: Compare on values, CompareViews on encodings and
// the order sets are encoded in all agree, and the order is total.
func TestOrderConsistent(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for i := 0; i < 20000; i++ {
		a, b := randValue(r, 2), randValue(r, 2)
		ea, eb := AppendValue(nil, a), AppendValue(nil, b)
		va, _, _ := DecodeValue(ea, nil)
		vb, _, _ := DecodeValue(eb, nil)
		c := Compare(a, b)
		if cv := CompareViews(va, vb); cv != c {
			t.Fatalf("Compare(%v, %v) = %d, CompareViews = %d", a, b, c, cv)
		}
		if Compare(b, a) != -c {
			t.Fatalf("antisymmetry broken for %v, %v", a, b)
		}
		if (c == 0) != slices.Equal(ea, eb) {
			t.Fatalf("equal values must have equal encodings: %v, %v", a, b)
		}
	}
	s := NewSet(NewInt(3), NewString("x"), NewInt(-1), NewInt(3), None, NewReal(math.NaN()), NewReal(math.Inf(-1)))
	want := []Value{None, NewInt(-1), NewInt(3), NewReal(math.Inf(-1)), NewReal(math.NaN()), NewString("x")}
	if !slices.EqualFunc(s.Elems(), want, Equal) {
		t.Fatalf("set order %v, want %v", s, want)
	}
	tb := NewTable(Entry{NewString("b"), NewCount(1)}, Entry{NewString("a"), NewCount(2)}, Entry{NewString("b"), NewCount(3)})
	if tb.Len() != 2 || tb.Entry(0).Key.Str() != "a" || tb.Entry(1).Value.Count() != 3 {
		t.Fatalf("table %v", tb)
	}
	if v, ok := tb.Lookup(NewString("b")); !ok || v.Count() != 3 {
		t.Fatalf("lookup %v %v", v, ok)
	}
	if !s.Contains(NewString("x")) || s.Contains(NewString("y")) {
		t.Fatal("Contains")
	}
}

func TestValueScalars(t *testing.T) {
	ts := time.Date(2026, 11, 26, 4, 12, 0, 123456789, time.UTC)
	vals := []Value{
		NewBool(true), NewCount(42), NewInt(-42), NewReal(2.5), NewString("hi"), NewEnum("E"),
		NewAddr(netip.MustParseAddr("::ffff:1.2.3.4")), NewSubnet(netip.MustParsePrefix("10.1.2.3/8")),
		NewPort(Port{443, ProtoTCP}), NewTimestamp(ts), NewTimespan(1500 * time.Millisecond),
	}
	for _, v := range vals {
		view, _, err := DecodeValue(AppendValue(nil, v), nil)
		if err != nil {
			t.Fatal(err)
		}
		ok := false
		switch v.Type() {
		case TypeBool:
			ok = view.Bool()
		case TypeCount:
			ok = view.Count() == 42
		case TypeInteger:
			ok = view.Int() == -42
		case TypeReal:
			ok = view.Real() == 2.5
		case TypeString:
			ok = string(view.Bytes()) == "hi"
		case TypeEnum:
			ok = string(view.Bytes()) == "E"
		case TypeAddress:
			ok = view.Addr() == netip.MustParseAddr("1.2.3.4") && v.Addr().Is4()
		case TypeSubnet:
			ok = view.Subnet() == netip.MustParsePrefix("10.0.0.0/8")
		case TypePort:
			ok = view.Port() == Port{443, ProtoTCP} && view.Port().String() == "443/tcp"
		case TypeTimestamp:
			ok = view.Time().Equal(ts) && v.Time().Equal(ts)
		case TypeTimespan:
			ok = view.Duration() == 1500*time.Millisecond
		}
		if !ok {
			t.Errorf("%s: view accessor disagrees with %v", v.Type(), v)
		}
		if view.Count() != 0 && v.Type() != TypeCount {
			t.Errorf("%s: Count on wrong type must be 0", v.Type())
		}
	}
	if NewSubnet(netip.Prefix{}).Type() != TypeNone {
		t.Error("invalid prefix must give none")
	}
}

func TestDecodeValueRejects(t *testing.T) {
	set := AppendValue(nil, NewSet(NewCount(1), NewCount(2)))
	// Swap the two elements: not ascending.
	unsorted := append([]byte{}, set...)
	copy(unsorted[len(unsorted)-18:], AppendValue(AppendValue(nil, NewCount(2)), NewCount(1)))
	dup := append([]byte{}, set...)
	copy(dup[len(dup)-9:], AppendValue(nil, NewCount(1)))
	nested := AppendValue(nil, NewVector(NewVector(NewVector(NewCount(1)))))
	cases := []struct {
		name string
		in   []byte
		lim  *Limits
		want error
	}{
		{"empty", nil, nil, ErrTruncated},
		{"tag", []byte{99}, nil, ErrBadValue},
		{"bool", []byte{byte(TypeBool), 2}, nil, ErrBadValue},
		{"count-short", []byte{byte(TypeCount), 1, 2}, nil, ErrTruncated},
		{"string-overlong-varint", []byte{byte(TypeString), 0x81, 0x00, 'a'}, nil, ErrNonCanonical},
		{"string-short", []byte{byte(TypeString), 5, 'a'}, nil, ErrTruncated},
		{"string-huge-len", []byte{byte(TypeString), 0xff, 0xff, 0xff, 0xff, 0x0f}, nil, ErrTruncated},
		{"varint-overflow", append([]byte{byte(TypeString)}, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01), nil, ErrBadValue},
		{"subnet-host-bits", subnetEnc("10.1.0.0", 8), nil, ErrNonCanonical},
		{"subnet-len", subnetEnc("10.0.0.0", 33), nil, ErrBadValue},
		{"port-proto", []byte{byte(TypePort), 1, 0, 9}, nil, ErrBadValue},
		{"set-unsorted", unsorted, nil, ErrNonCanonical},
		{"set-dup", dup, nil, ErrNonCanonical},
		{"count-lie", []byte{byte(TypeVector), 0x80, 0x80, 0x04, 2, 0, 0, 0, 0, 0}, nil, ErrBadValue},
		{"body-lie", []byte{byte(TypeVector), 1, 200, 0, 0, 0, 0}, nil, ErrTruncated},
		{"body-slack", []byte{byte(TypeVector), 1, 2, 0, 0, 0, 0, 0}, nil, ErrBadValue},
		{"depth", nested, &Limits{MaxDepth: 2}, ErrTooDeep},
	}
	for _, c := range cases {
		_, _, err := DecodeValue(c.in, c.lim)
		if !errors.Is(err, c.want) {
			t.Errorf("%s: err %v, want %v", c.name, err, c.want)
		}
	}
	if _, _, err := DecodeValue(nested, &Limits{MaxDepth: 3}); err != nil {
		t.Errorf("depth 3 within limit 3: %v", err)
	}
}

func subnetEnc(addr string, bits byte) []byte {
	b := AppendValue(nil, NewAddr(netip.MustParseAddr(addr)))
	b[0] = byte(TypeSubnet)
	return append(b, bits)
}

// TestDecodeDeepNestingBounded: a deeply nested hostile input fails at the
// depth limit instead of recursing without bound.
func TestDecodeDeepNestingBounded(t *testing.T) {
	var b []byte
	for i := 0; i < 100000; i++ {
		b = append(b, byte(TypeVector), 1, 0xff, 0xff, 0xff, 0x00)
	}
	if _, _, err := DecodeValue(b, nil); !errors.Is(err, ErrTooDeep) && !errors.Is(err, ErrTruncated) {
		t.Fatalf("err %v", err)
	}
}

func TestViewIter(t *testing.T) {
	v := NewTable(Entry{NewString("a"), NewCount(1)}, Entry{NewString("b"), NewVector(NewInt(1), NewInt(2))})
	view, _, err := DecodeValue(AppendValue(nil, v), nil)
	if err != nil || view.Len() != 2 {
		t.Fatalf("len %d err %v", view.Len(), err)
	}
	it := view.Iter()
	k, val, ok := it.NextEntry()
	if !ok || string(k.Bytes()) != "a" || val.Count() != 1 {
		t.Fatalf("entry 0: %q %d", k.Bytes(), val.Count())
	}
	k, val, ok = it.NextEntry()
	if !ok || string(k.Bytes()) != "b" || val.Len() != 2 {
		t.Fatal("entry 1")
	}
	if _, _, ok := it.NextEntry(); ok {
		t.Fatal("extra entry")
	}
	sum := int64(0)
	for inner, it2 := val.Iter(), val.Iter(); ; {
		_ = inner
		e, ok := it2.Next()
		if !ok {
			break
		}
		sum += e.Int()
	}
	if sum != 3 {
		t.Fatalf("sum %d", sum)
	}
	scalar, _, _ := DecodeValue(AppendValue(nil, NewCount(1)), nil)
	if it := scalar.Iter(); it.Remaining() != 0 {
		t.Fatal("scalar iter not empty")
	}
}

func TestConstructorEdges(t *testing.T) {
	// A mapped prefix shorter than /96 is an IPv6 subnet, masked.
	v := NewSubnet(netip.MustParsePrefix("::ffff:0:0/95"))
	if v.Type() != TypeSubnet || v.Subnet().String() != "::fffe:0:0/95" {
		t.Fatalf("got %v", v)
	}
	v = NewSubnet(netip.MustParsePrefix("::ffff:10.1.2.3/104"))
	if v.Subnet() != netip.MustParsePrefix("10.0.0.0/8") {
		t.Fatalf("got %v", v)
	}
	if _, _, err := DecodeValue(AppendValue(nil, v), nil); err != nil {
		t.Fatal(err)
	}
	if NewPort(Port{80, 7}).Type() != TypeNone {
		t.Fatal("bad protocol accepted")
	}
}
