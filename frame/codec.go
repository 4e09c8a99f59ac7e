package frame

import (
	"bytes"
	"cmp"
	"encoding/binary"
	"fmt"
	"math"
	"net/netip"
	"time"
)

// Encoded sizes of fixed-size values, tag included.
const (
	sizeAddr       = 1 + 16
	sizeSubnet     = 1 + 16 + 1
	sizePort       = 1 + 2 + 1
	sizeFixed64    = 1 + 8
	containerExtra = 4 // u32 body length after the element count
)

// AppendValue appends the canonical encoding of v to dst.
func AppendValue(dst []byte, v Value) []byte {
	dst = append(dst, byte(v.t))
	switch v.t {
	case TypeNone:
	case TypeBool:
		dst = append(dst, byte(v.n))
	case TypeCount, TypeInteger, TypeReal, TypeTimestamp, TypeTimespan:
		dst = binary.LittleEndian.AppendUint64(dst, v.n)
	case TypeString, TypeEnum:
		dst = binary.AppendUvarint(dst, uint64(len(v.s)))
		dst = append(dst, v.s...)
	case TypeAddress:
		dst = appendAddr(dst, v.a)
	case TypeSubnet:
		dst = append(appendAddr(dst, v.a), byte(v.n))
	case TypePort:
		dst = append(dst, byte(v.n), byte(v.n>>8), byte(v.n>>16))
	case TypeSet, TypeTable, TypeVector:
		dst = binary.AppendUvarint(dst, uint64(v.Len()))
		at := len(dst)
		dst = append(dst, 0, 0, 0, 0)
		for _, e := range v.c {
			dst = AppendValue(dst, e)
		}
		binary.LittleEndian.PutUint32(dst[at:], uint32(len(dst)-at-containerExtra))
	default:
		panic(fmt.Sprintf("BUG: frame: value of unknown type %d", v.t))
	}
	return dst
}

// AppendString appends a string value without building a Value.
//
// Hot path: the publish path encodes payloads with it; no allocation.
func AppendString(dst []byte, s []byte) []byte {
	dst = append(dst, byte(TypeString))
	dst = binary.AppendUvarint(dst, uint64(len(s)))
	return append(dst, s...)
}

func appendAddr(dst []byte, a netip.Addr) []byte {
	b := a.As16() // IPv4 becomes ::ffff:a.b.c.d
	return append(dst, b[:]...)
}

// View is a validated, encoded value: a view into the bytes it was decoded
// from. Accessors read the bytes in place and do not allocate (except
// Value, which converts to the in-memory form). Each accessor returns the
// zero value of its result when the view is of another type.
type View struct {
	b []byte
}

// DecodeValue validates the value at the start of src and returns a view of
// it and the bytes after it. Validation walks nested containers (bounded by
// lim.MaxDepth) and checks the canonical form — minimal varints, sorted and
// unique set elements and table keys, masked subnets — so that iterating a
// returned view never fails. It does not allocate. lim may be nil.
func DecodeValue(src []byte, lim *Limits) (View, []byte, error) {
	n, err := validate(src, limitsOrDefault(lim).MaxDepth)
	if err != nil {
		return View{}, src, err
	}
	return View{b: src[:n:n]}, src[n:], nil
}

// uvarint reads a canonical (minimally encoded) uvarint.
func uvarint(b []byte) (uint64, int, error) {
	u, n := binary.Uvarint(b)
	switch {
	case n == 0:
		return 0, 0, ErrTruncated
	case n < 0:
		return 0, 0, fmt.Errorf("%w: varint overflows 64 bits", ErrBadValue)
	case n > 1 && b[n-1] == 0:
		return 0, 0, ErrNonCanonical
	}
	return u, n, nil
}

// validate returns the encoded length of the value at the start of b.
func validate(b []byte, depth int) (int, error) {
	if len(b) == 0 {
		return 0, ErrTruncated
	}
	t := Type(b[0])
	switch t {
	case TypeNone:
		return 1, nil
	case TypeBool:
		if len(b) < 2 {
			return 0, ErrTruncated
		}
		if b[1] > 1 {
			return 0, fmt.Errorf("%w: bool byte %d", ErrBadValue, b[1])
		}
		return 2, nil
	case TypeCount, TypeInteger, TypeReal, TypeTimestamp, TypeTimespan:
		if len(b) < sizeFixed64 {
			return 0, ErrTruncated
		}
		return sizeFixed64, nil
	case TypeString, TypeEnum:
		l, n, err := uvarint(b[1:])
		if err != nil {
			return 0, err
		}
		if l > uint64(len(b)-1-n) {
			return 0, ErrTruncated
		}
		return 1 + n + int(l), nil
	case TypeAddress:
		if len(b) < sizeAddr {
			return 0, ErrTruncated
		}
		return sizeAddr, nil
	case TypeSubnet:
		if len(b) < sizeSubnet {
			return 0, ErrTruncated
		}
		a := netip.AddrFrom16([16]byte(b[1:17])).Unmap()
		bits := int(b[17])
		if bits > a.BitLen() {
			return 0, fmt.Errorf("%w: subnet length %d", ErrBadValue, bits)
		}
		if p, _ := a.Prefix(bits); p.Addr() != a {
			return 0, fmt.Errorf("%w: subnet has host bits set", ErrNonCanonical)
		}
		return sizeSubnet, nil
	case TypePort:
		if len(b) < sizePort {
			return 0, ErrTruncated
		}
		if Protocol(b[3]) > ProtoICMP {
			return 0, fmt.Errorf("%w: port protocol %d", ErrBadValue, b[3])
		}
		return sizePort, nil
	case TypeSet, TypeTable, TypeVector:
		return validateContainer(b, t, depth)
	default:
		return 0, fmt.Errorf("%w: unknown type tag %d", ErrBadValue, t)
	}
}

func validateContainer(b []byte, t Type, depth int) (int, error) {
	if depth <= 0 {
		return 0, ErrTooDeep
	}
	count, n, err := uvarint(b[1:])
	if err != nil {
		return 0, err
	}
	hdr := 1 + n + containerExtra
	if len(b) < hdr {
		return 0, ErrTruncated
	}
	bodyLen := uint64(binary.LittleEndian.Uint32(b[1+n:]))
	if bodyLen > uint64(len(b)-hdr) {
		return 0, ErrTruncated
	}
	elems := count
	if t == TypeTable {
		elems = 2 * count
	}
	// Every element takes at least one byte: bounds the loop by the input.
	if count > bodyLen || elems > bodyLen {
		return 0, fmt.Errorf("%w: %d elements in %d bytes", ErrBadValue, count, bodyLen)
	}
	body := b[hdr : hdr+int(bodyLen)]
	var prev []byte // previous element (set) or key (table), for order checks
	for i := uint64(0); i < elems; i++ {
		m, err := validate(body, depth-1)
		if err != nil {
			return 0, err
		}
		cur := body[:m]
		if t == TypeSet || (t == TypeTable && i%2 == 0) {
			if prev != nil && compareEnc(prev, cur) >= 0 {
				return 0, fmt.Errorf("%w: %s elements not strictly ascending", ErrNonCanonical, t)
			}
			prev = cur
		}
		body = body[m:]
	}
	if len(body) != 0 {
		return 0, fmt.Errorf("%w: container body has %d bytes past its elements", ErrBadValue, len(body))
	}
	return hdr + int(bodyLen), nil
}

// skip returns the length of the already validated value at b[0].
func skip(b []byte) int {
	switch Type(b[0]) {
	case TypeNone:
		return 1
	case TypeBool:
		return 2
	case TypeCount, TypeInteger, TypeReal, TypeTimestamp, TypeTimespan:
		return sizeFixed64
	case TypeString, TypeEnum:
		l, n := binary.Uvarint(b[1:])
		return 1 + n + int(l)
	case TypeAddress:
		return sizeAddr
	case TypeSubnet:
		return sizeSubnet
	case TypePort:
		return sizePort
	default:
		_, n := binary.Uvarint(b[1:])
		return 1 + n + containerExtra + int(binary.LittleEndian.Uint32(b[1+n:]))
	}
}

// Raw returns the view's encoded bytes.
func (v View) Raw() []byte { return v.b }

// Type returns the value's type; an empty (zero) view is none.
func (v View) Type() Type {
	if len(v.b) == 0 {
		return TypeNone
	}
	return Type(v.b[0])
}

func (v View) u64(t Type) uint64 {
	if v.Type() != t || len(v.b) < sizeFixed64 {
		return 0
	}
	return binary.LittleEndian.Uint64(v.b[1:])
}

// Bool returns a bool.
func (v View) Bool() bool { return v.Type() == TypeBool && v.b[1] == 1 }

// Count returns a count.
func (v View) Count() uint64 { return v.u64(TypeCount) }

// Int returns an integer.
func (v View) Int() int64 { return int64(v.u64(TypeInteger)) }

// Real returns a real.
func (v View) Real() float64 { return math.Float64frombits(v.u64(TypeReal)) }

// TimestampNanos returns a timestamp as ns since the Unix epoch.
func (v View) TimestampNanos() int64 { return int64(v.u64(TypeTimestamp)) }

// Time returns a timestamp in UTC.
func (v View) Time() time.Time {
	if v.Type() != TypeTimestamp {
		return time.Time{}
	}
	return time.Unix(0, v.TimestampNanos()).UTC()
}

// Duration returns a timespan.
func (v View) Duration() time.Duration { return time.Duration(v.u64(TypeTimespan)) }

// Bytes returns a string's bytes or an enum's name, as a view.
func (v View) Bytes() []byte {
	if t := v.Type(); t != TypeString && t != TypeEnum {
		return nil
	}
	l, n := binary.Uvarint(v.b[1:])
	return v.b[1+n : 1+n+int(l)]
}

// Addr returns an address, or a subnet's address.
func (v View) Addr() netip.Addr {
	if t := v.Type(); t != TypeAddress && t != TypeSubnet {
		return netip.Addr{}
	}
	return netip.AddrFrom16([16]byte(v.b[1:17])).Unmap()
}

// Subnet returns a subnet.
func (v View) Subnet() netip.Prefix {
	if v.Type() != TypeSubnet {
		return netip.Prefix{}
	}
	return netip.PrefixFrom(v.Addr(), int(v.b[17]))
}

// Port returns a port.
func (v View) Port() Port {
	if v.Type() != TypePort {
		return Port{}
	}
	return Port{Number: binary.LittleEndian.Uint16(v.b[1:]), Proto: Protocol(v.b[3])}
}

// Len returns the element count of a set or vector, or the entry count of a
// table; 0 for scalars.
func (v View) Len() int {
	switch v.Type() {
	case TypeSet, TypeTable, TypeVector:
		c, _ := binary.Uvarint(v.b[1:])
		return int(c)
	}
	return 0
}

// Iter returns an iterator over a container's elements (for a table: key,
// value, key, value, ...). It is empty for scalars.
func (v View) Iter() Iter {
	switch v.Type() {
	case TypeSet, TypeTable, TypeVector:
	default:
		return Iter{}
	}
	c, n := binary.Uvarint(v.b[1:])
	if v.Type() == TypeTable {
		c *= 2
	}
	return Iter{rest: v.b[1+n+containerExtra:], left: int(c)}
}

// Iter walks the elements of a container view without materializing them.
type Iter struct {
	rest []byte
	left int
}

// Next returns the next element.
func (it *Iter) Next() (View, bool) {
	if it.left == 0 {
		return View{}, false
	}
	n := skip(it.rest)
	v := View{b: it.rest[:n:n]}
	it.rest = it.rest[n:]
	it.left--
	return v, true
}

// NextEntry returns the next key and value of a table iterator.
func (it *Iter) NextEntry() (key, val View, ok bool) {
	if it.left < 2 {
		return View{}, View{}, false
	}
	key, _ = it.Next()
	val, _ = it.Next()
	return key, val, true
}

// Remaining returns how many elements Next will still return.
func (it *Iter) Remaining() int { return it.left }

// Value converts the view to the in-memory form (allocates for strings and
// containers).
func (v View) Value() Value {
	switch t := v.Type(); t {
	case TypeNone:
		return None
	case TypeBool:
		return NewBool(v.Bool())
	case TypeCount, TypeInteger, TypeReal, TypeTimestamp, TypeTimespan:
		return Value{t: t, n: v.u64(t)}
	case TypeString, TypeEnum:
		return Value{t: t, s: string(v.Bytes())}
	case TypeAddress:
		return Value{t: t, a: v.Addr()}
	case TypeSubnet:
		return Value{t: t, a: v.Addr(), n: uint64(v.b[17])}
	case TypePort:
		return NewPort(v.Port())
	default:
		it := v.Iter()
		c := make([]Value, 0, it.Remaining())
		for e, ok := it.Next(); ok; e, ok = it.Next() {
			c = append(c, e.Value())
		}
		return Value{t: t, c: c}
	}
}

// The total order (docs/PROTOCOL.md §4.3): by type tag, then within a type
// numerically (counts unsigned, integers, timestamps and timespans signed,
// reals by IEEE 754 totalOrder), bytewise for strings, enums and addresses,
// (address, length) for subnets, (number, protocol) for ports, and
// lexicographically element by element for containers (table entries by
// key, then value), a proper prefix ordering first.

// realKey maps float bits to an unsigned key whose order is IEEE 754
// totalOrder: -NaN < -Inf < ... < -0 < +0 < ... < +Inf < +NaN.
func realKey(bits uint64) uint64 {
	if bits>>63 != 0 {
		return ^bits
	}
	return bits | 1<<63
}

// Compare orders two values by the total order: -1, 0 or +1.
func Compare(a, b Value) int {
	if a.t != b.t {
		return cmp.Compare(a.t, b.t)
	}
	switch a.t {
	case TypeNone:
		return 0
	case TypeBool, TypeCount, TypePort:
		if a.t == TypePort {
			pa, pb := a.Port(), b.Port()
			if c := cmp.Compare(pa.Number, pb.Number); c != 0 {
				return c
			}
			return cmp.Compare(pa.Proto, pb.Proto)
		}
		return cmp.Compare(a.n, b.n)
	case TypeInteger, TypeTimestamp, TypeTimespan:
		return cmp.Compare(int64(a.n), int64(b.n))
	case TypeReal:
		return cmp.Compare(realKey(a.n), realKey(b.n))
	case TypeString, TypeEnum:
		return cmp.Compare(a.s, b.s)
	case TypeAddress, TypeSubnet:
		x, y := a.a.As16(), b.a.As16()
		if c := bytes.Compare(x[:], y[:]); c != 0 {
			return c
		}
		return cmp.Compare(a.n, b.n)
	default:
		for i := 0; i < len(a.c) && i < len(b.c); i++ {
			if c := Compare(a.c[i], b.c[i]); c != 0 {
				return c
			}
		}
		return cmp.Compare(len(a.c), len(b.c))
	}
}

// CompareViews orders two views by the same total order as Compare.
func CompareViews(a, b View) int { return compareEnc(a.b, b.b) }

// compareEnc compares two validated encodings.
func compareEnc(a, b []byte) int {
	if a[0] != b[0] {
		return cmp.Compare(a[0], b[0])
	}
	switch Type(a[0]) {
	case TypeNone:
		return 0
	case TypeBool:
		return cmp.Compare(a[1], b[1])
	case TypeCount:
		return cmp.Compare(binary.LittleEndian.Uint64(a[1:]), binary.LittleEndian.Uint64(b[1:]))
	case TypeInteger, TypeTimestamp, TypeTimespan:
		return cmp.Compare(int64(binary.LittleEndian.Uint64(a[1:])), int64(binary.LittleEndian.Uint64(b[1:])))
	case TypeReal:
		return cmp.Compare(realKey(binary.LittleEndian.Uint64(a[1:])), realKey(binary.LittleEndian.Uint64(b[1:])))
	case TypeString, TypeEnum:
		return bytes.Compare(View{a}.Bytes(), View{b}.Bytes())
	case TypeAddress:
		return bytes.Compare(a[1:sizeAddr], b[1:sizeAddr])
	case TypeSubnet:
		return bytes.Compare(a[1:sizeSubnet], b[1:sizeSubnet])
	case TypePort:
		if c := cmp.Compare(binary.LittleEndian.Uint16(a[1:]), binary.LittleEndian.Uint16(b[1:])); c != 0 {
			return c
		}
		return cmp.Compare(a[3], b[3])
	default:
		ia, ib := View{a}.Iter(), View{b}.Iter()
		for {
			x, okA := ia.Next()
			y, okB := ib.Next()
			switch {
			case !okA && !okB:
				return 0
			case !okA:
				return -1
			case !okB:
				return 1
			}
			if c := compareEnc(x.b, y.b); c != 0 {
				return c
			}
		}
	}
}
