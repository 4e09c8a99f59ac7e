package frame

import (
	"fmt"
	"math"
	"net/netip"
	"slices"
	"time"
)

// Type is a value's data type: the Broker data model. The numbers are the
// wire tags (docs/PROTOCOL.md §4) and define the first key of the total
// order.
type Type uint8

// The data types.
const (
	TypeNone      Type = 0
	TypeBool      Type = 1
	TypeCount     Type = 2 // u64
	TypeInteger   Type = 3 // i64
	TypeReal      Type = 4 // f64
	TypeString    Type = 5
	TypeAddress   Type = 6 // IPv4 or IPv6
	TypeSubnet    Type = 7
	TypePort      Type = 8
	TypeTimestamp Type = 9  // ns since the Unix epoch
	TypeTimespan  Type = 10 // ns
	TypeEnum      Type = 11
	TypeSet       Type = 12
	TypeTable     Type = 13
	TypeVector    Type = 14

	typeMax = TypeVector
)

var typeNames = [...]string{
	"none", "boolean", "count", "integer", "real", "string", "address", "subnet", "port",
	"timestamp", "timespan", "enum-value", "set", "table", "vector",
}

// String returns the type's name as used by the JSON form ("count",
// "enum-value", ...).
func (t Type) String() string {
	if t <= typeMax {
		return typeNames[t]
	}
	return fmt.Sprintf("type(%d)", uint8(t))
}

// Protocol is a port's transport protocol.
type Protocol uint8

// Port protocols (wire values).
const (
	ProtoUnknown Protocol = 0
	ProtoTCP     Protocol = 1
	ProtoUDP     Protocol = 2
	ProtoICMP    Protocol = 3
)

var protoNames = [...]string{"?", "tcp", "udp", "icmp"}

func (p Protocol) String() string {
	if p <= ProtoICMP {
		return protoNames[p]
	}
	return fmt.Sprintf("proto(%d)", uint8(p))
}

// Port is a transport port: number and protocol ("8080/tcp").
type Port struct {
	Number uint16
	Proto  Protocol
}

func (p Port) String() string { return fmt.Sprintf("%d/%s", p.Number, p.Proto) }

// Enum is the Go form of an enum value: its name.
type Enum string

// Value is a typed value in memory: the form the public API takes and
// returns. Values are immutable once built; the zero Value is none. Sets
// are kept sorted and free of duplicates and tables sorted by key, so a
// Value has exactly one encoding. The decoding side of the hot path works
// on View instead, which does not allocate.
type Value struct {
	t Type
	n uint64     // bool, count, integer, real bits, timestamp, timespan, port, subnet bits
	s string     // string, enum
	a netip.Addr // address, subnet
	c []Value    // set and vector elements; table keys and values interleaved
}

// Constructors.

// None is the none value.
var None = Value{}

// NewBool returns a bool value.
func NewBool(b bool) Value {
	v := Value{t: TypeBool}
	if b {
		v.n = 1
	}
	return v
}

// NewCount returns a count (u64) value.
func NewCount(u uint64) Value { return Value{t: TypeCount, n: u} }

// NewInt returns an integer (i64) value.
func NewInt(i int64) Value { return Value{t: TypeInteger, n: uint64(i)} }

// NewReal returns a real value.
func NewReal(f float64) Value { return Value{t: TypeReal, n: math.Float64bits(f)} }

// NewString returns a string value.
func NewString(s string) Value { return Value{t: TypeString, s: s} }

// NewEnum returns an enum value with the given name.
func NewEnum(name string) Value { return Value{t: TypeEnum, s: name} }

// NewAddr returns an address value; IPv4-mapped IPv6 addresses are stored
// as IPv4, as on the wire, and zones are dropped.
func NewAddr(a netip.Addr) Value { return Value{t: TypeAddress, a: canonAddr(a)} }

// NewSubnet returns a subnet value with its address masked to the prefix
// (10.1.2.3/8 becomes 10.0.0.0/8). An IPv4-mapped prefix of at least 96
// bits is stored as IPv4 (::ffff:10.0.0.0/104 is 10.0.0.0/8); a shorter one
// covers more than IPv4 and stays IPv6. An invalid prefix yields none.
func NewSubnet(p netip.Prefix) Value {
	if !p.IsValid() {
		return None
	}
	a, bits := p.Addr().WithZone(""), p.Bits()
	if a.Is4In6() && bits >= 96 {
		a, bits = a.Unmap(), bits-96
	}
	m, err := a.Prefix(bits)
	if err != nil {
		return None
	}
	return Value{t: TypeSubnet, a: m.Addr(), n: uint64(bits)}
}

// NewPort returns a port value; a protocol other than unknown, tcp, udp
// and icmp yields none.
func NewPort(p Port) Value {
	if p.Proto > ProtoICMP {
		return None
	}
	return Value{t: TypePort, n: uint64(p.Number) | uint64(p.Proto)<<16}
}

// NewTimestamp returns a timestamp with nanosecond precision.
func NewTimestamp(t time.Time) Value { return Value{t: TypeTimestamp, n: uint64(t.UnixNano())} }

// NewTimespan returns a timespan.
func NewTimespan(d time.Duration) Value { return Value{t: TypeTimespan, n: uint64(d)} }

// NewVector returns a vector of the given elements (the slice is kept).
func NewVector(elems ...Value) Value { return Value{t: TypeVector, c: elems} }

// NewSet returns a set of the given elements, sorted by the total order
// with duplicates removed.
func NewSet(elems ...Value) Value {
	c := slices.Clone(elems)
	slices.SortFunc(c, Compare)
	c = slices.CompactFunc(c, func(a, b Value) bool { return Compare(a, b) == 0 })
	return Value{t: TypeSet, c: c}
}

// Entry is one key/value pair of a table.
type Entry struct {
	Key, Value Value
}

// NewTable returns a table of the given entries sorted by key; of several
// entries with equal keys the last one wins.
func NewTable(entries ...Entry) Value {
	e := slices.Clone(entries)
	slices.SortStableFunc(e, func(a, b Entry) int { return Compare(a.Key, b.Key) })
	c := make([]Value, 0, 2*len(e))
	for i := range e {
		if i+1 < len(e) && Compare(e[i].Key, e[i+1].Key) == 0 {
			continue
		}
		c = append(c, e[i].Key, e[i].Value)
	}
	return Value{t: TypeTable, c: c}
}

func canonAddr(a netip.Addr) netip.Addr {
	if !a.IsValid() {
		return netip.IPv6Unspecified()
	}
	return a.Unmap().WithZone("")
}

// Accessors. Each returns the zero value of its result when v is of
// another type.

// Type returns the value's type.
func (v Value) Type() Type { return v.t }

// Bool returns a bool value.
func (v Value) Bool() bool { return v.t == TypeBool && v.n != 0 }

// Count returns a count value.
func (v Value) Count() uint64 {
	if v.t != TypeCount {
		return 0
	}
	return v.n
}

// Int returns an integer value.
func (v Value) Int() int64 {
	if v.t != TypeInteger {
		return 0
	}
	return int64(v.n)
}

// Real returns a real value.
func (v Value) Real() float64 {
	if v.t != TypeReal {
		return 0
	}
	return math.Float64frombits(v.n)
}

// Str returns a string value or an enum's name.
func (v Value) Str() string {
	if v.t != TypeString && v.t != TypeEnum {
		return ""
	}
	return v.s
}

// Addr returns an address value, or a subnet's address.
func (v Value) Addr() netip.Addr {
	if v.t != TypeAddress && v.t != TypeSubnet {
		return netip.Addr{}
	}
	return v.a
}

// Subnet returns a subnet value.
func (v Value) Subnet() netip.Prefix {
	if v.t != TypeSubnet {
		return netip.Prefix{}
	}
	return netip.PrefixFrom(v.a, int(v.n))
}

// Port returns a port value.
func (v Value) Port() Port {
	if v.t != TypePort {
		return Port{}
	}
	return Port{Number: uint16(v.n), Proto: Protocol(v.n >> 16)}
}

// Time returns a timestamp value (in UTC).
func (v Value) Time() time.Time {
	if v.t != TypeTimestamp {
		return time.Time{}
	}
	return time.Unix(0, int64(v.n)).UTC()
}

// Duration returns a timespan value.
func (v Value) Duration() time.Duration {
	if v.t != TypeTimespan {
		return 0
	}
	return time.Duration(v.n)
}

// Len returns the number of elements of a set or vector, or of entries of
// a table; 0 for scalars.
func (v Value) Len() int {
	if v.t == TypeTable {
		return len(v.c) / 2
	}
	return len(v.c)
}

// Elems returns the elements of a set (in order) or a vector. The slice
// must not be modified.
func (v Value) Elems() []Value {
	if v.t != TypeSet && v.t != TypeVector {
		return nil
	}
	return v.c
}

// Entry returns the i-th entry of a table, in key order.
func (v Value) Entry(i int) Entry {
	if v.t != TypeTable {
		return Entry{}
	}
	return Entry{Key: v.c[2*i], Value: v.c[2*i+1]}
}

// Lookup returns the value stored under key in a table.
func (v Value) Lookup(key Value) (Value, bool) {
	if v.t != TypeTable {
		return None, false
	}
	lo, hi := 0, len(v.c)/2
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		switch c := Compare(v.c[2*m], key); {
		case c == 0:
			return v.c[2*m+1], true
		case c < 0:
			lo = m + 1
		default:
			hi = m
		}
	}
	return None, false
}

// Contains reports whether a set holds x.
func (v Value) Contains(x Value) bool {
	if v.t != TypeSet {
		return false
	}
	_, ok := slices.BinarySearchFunc(v.c, x, Compare)
	return ok
}

// Equal reports whether a and b are the same value.
func Equal(a, b Value) bool { return Compare(a, b) == 0 }

// String formats v for humans (not the JSON form).
func (v Value) String() string {
	switch v.t {
	case TypeNone:
		return "nil"
	case TypeBool:
		return fmt.Sprint(v.Bool())
	case TypeCount:
		return fmt.Sprint(v.n)
	case TypeInteger:
		return fmt.Sprint(int64(v.n))
	case TypeReal:
		return fmt.Sprint(v.Real())
	case TypeString:
		return fmt.Sprintf("%q", v.s)
	case TypeEnum:
		return v.s
	case TypeAddress:
		return v.a.String()
	case TypeSubnet:
		return v.Subnet().String()
	case TypePort:
		return v.Port().String()
	case TypeTimestamp:
		return v.Time().Format(time.RFC3339Nano)
	case TypeTimespan:
		return v.Duration().String()
	case TypeTable:
		s := "{"
		for i := 0; i < v.Len(); i++ {
			if i > 0 {
				s += ", "
			}
			e := v.Entry(i)
			s += e.Key.String() + " -> " + e.Value.String()
		}
		return s + "}"
	default:
		open, close := "[", "]"
		if v.t == TypeSet {
			open, close = "{", "}"
		}
		s := open
		for i, e := range v.c {
			if i > 0 {
				s += ", "
			}
			s += e.String()
		}
		return s + close
	}
}
