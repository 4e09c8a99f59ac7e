package frame

import (
	"fmt"
	"net/netip"
	"time"
)

// FromGo converts a Go value to a Value: nil → none, bool, signed integers
// → integer, unsigned → count, float32/64 → real, string and []byte →
// string, Enum → enum, netip.Addr → address, netip.Prefix → subnet, Port,
// time.Time → timestamp, time.Duration → timespan, Value itself, []any →
// vector, map[any]any and map[string]any → table. Anything else is
// ErrUnsupportedType.
func FromGo(x any) (Value, error) {
	switch v := x.(type) {
	case nil:
		return None, nil
	case Value:
		return v, nil
	case bool:
		return NewBool(v), nil
	case int:
		return NewInt(int64(v)), nil
	case int8:
		return NewInt(int64(v)), nil
	case int16:
		return NewInt(int64(v)), nil
	case int32:
		return NewInt(int64(v)), nil
	case int64:
		return NewInt(v), nil
	case uint:
		return NewCount(uint64(v)), nil
	case uint8:
		return NewCount(uint64(v)), nil
	case uint16:
		return NewCount(uint64(v)), nil
	case uint32:
		return NewCount(uint64(v)), nil
	case uint64:
		return NewCount(v), nil
	case float32:
		return NewReal(float64(v)), nil
	case float64:
		return NewReal(v), nil
	case string:
		return NewString(v), nil
	case []byte:
		return NewString(string(v)), nil
	case Enum:
		return NewEnum(string(v)), nil
	case netip.Addr:
		if !v.IsValid() {
			return None, fmt.Errorf("%w: invalid netip.Addr", ErrBadValue)
		}
		return NewAddr(v), nil
	case netip.Prefix:
		s := NewSubnet(v)
		if s.Type() != TypeSubnet {
			return None, fmt.Errorf("%w: invalid netip.Prefix", ErrBadValue)
		}
		return s, nil
	case Port:
		p := NewPort(v)
		if p.Type() != TypePort {
			return None, fmt.Errorf("%w: port protocol %d", ErrBadValue, v.Proto)
		}
		return p, nil
	case time.Time:
		return NewTimestamp(v), nil
	case time.Duration:
		return NewTimespan(v), nil
	case []any:
		elems := make([]Value, len(v))
		for i, e := range v {
			var err error
			if elems[i], err = FromGo(e); err != nil {
				return None, err
			}
		}
		return NewVector(elems...), nil
	case map[string]any:
		es := make([]Entry, 0, len(v))
		for k, e := range v {
			ev, err := FromGo(e)
			if err != nil {
				return None, err
			}
			es = append(es, Entry{Key: NewString(k), Value: ev})
		}
		return NewTable(es...), nil
	case map[any]any:
		es := make([]Entry, 0, len(v))
		for k, e := range v {
			kv, err := FromGo(k)
			if err != nil {
				return None, err
			}
			ev, err := FromGo(e)
			if err != nil {
				return None, err
			}
			es = append(es, Entry{Key: kv, Value: ev})
		}
		return NewTable(es...), nil
	}
	return None, fmt.Errorf("%w: %T", ErrUnsupportedType, x)
}

// Go converts v to a plain Go value: none → nil, bool, count → uint64,
// integer → int64, real → float64, string → string, enum → Enum, address
// → netip.Addr, subnet → netip.Prefix, port → Port, timestamp → time.Time
// (UTC), timespan → time.Duration, set and vector → []any (sets in order),
// table → []TableEntry in key order (keys may be unhashable containers).
func (v Value) Go() any {
	switch v.t {
	case TypeNone:
		return nil
	case TypeBool:
		return v.Bool()
	case TypeCount:
		return v.n
	case TypeInteger:
		return int64(v.n)
	case TypeReal:
		return v.Real()
	case TypeString:
		return v.s
	case TypeEnum:
		return Enum(v.s)
	case TypeAddress:
		return v.a
	case TypeSubnet:
		return v.Subnet()
	case TypePort:
		return v.Port()
	case TypeTimestamp:
		return v.Time()
	case TypeTimespan:
		return v.Duration()
	case TypeTable:
		out := make([]TableEntry, v.Len())
		for i := range out {
			e := v.Entry(i)
			out[i] = TableEntry{Key: e.Key.Go(), Value: e.Value.Go()}
		}
		return out
	default:
		out := make([]any, len(v.c))
		for i, e := range v.c {
			out[i] = e.Go()
		}
		return out
	}
}

// TableEntry is one entry of a table in Go form (Value.Go).
type TableEntry struct {
	Key, Value any
}
