package frame

import (
	"encoding/binary"
	"fmt"
	"iter"
)

// reader decodes a message body field by field. The first error sticks;
// later reads return zero values, so decoders check err once at the end.
// It lives on the caller's stack: decoding allocates nothing.
type reader struct {
	b   []byte
	err error
	lim *Limits
}

func (r *reader) fail(err error, field string) {
	if r.err == nil {
		r.err = fmt.Errorf("%s: %w", field, err)
	}
	r.b = nil
}

func (r *reader) take(n int, field string) []byte {
	if r.err != nil {
		return nil
	}
	if len(r.b) < n {
		r.fail(ErrTruncated, field)
		return nil
	}
	p := r.b[:n:n]
	r.b = r.b[n:]
	return p
}

func (r *reader) u8(field string) uint8 {
	if p := r.take(1, field); p != nil {
		return p[0]
	}
	return 0
}

func (r *reader) u16(field string) uint16 {
	if p := r.take(2, field); p != nil {
		return binary.LittleEndian.Uint16(p)
	}
	return 0
}

func (r *reader) u32(field string) uint32 {
	if p := r.take(4, field); p != nil {
		return binary.LittleEndian.Uint32(p)
	}
	return 0
}

func (r *reader) u64(field string) uint64 {
	if p := r.take(8, field); p != nil {
		return binary.LittleEndian.Uint64(p)
	}
	return 0
}

func (r *reader) uvarint(field string) uint64 {
	if r.err != nil {
		return 0
	}
	u, n, err := uvarint(r.b)
	if err != nil {
		r.fail(err, field)
		return 0
	}
	r.b = r.b[n:]
	return u
}

// str reads a uvarint-length-prefixed byte string of at most max bytes.
func (r *reader) str(field string, max int) []byte {
	l := r.uvarint(field)
	if r.err != nil {
		return nil
	}
	if l > uint64(max) {
		r.fail(fmt.Errorf("%w: %d bytes, limit %d", ErrBadValue, l, max), field)
		return nil
	}
	return r.take(int(l), field)
}

func (r *reader) value(field string) View {
	if r.err != nil {
		return View{}
	}
	v, rest, err := DecodeValue(r.b, r.lim)
	if err != nil {
		r.fail(err, field)
		return View{}
	}
	r.b = rest
	return v
}

// strList reads a count followed by that many strings, each at most max.
func (r *reader) strList(field string, max int) StrList {
	n := r.uvarint(field)
	if r.err != nil {
		return StrList{}
	}
	if n > uint64(len(r.b)) { // each string takes at least one byte
		r.fail(fmt.Errorf("%w: %d strings in %d bytes", ErrBadValue, n, len(r.b)), field)
		return StrList{}
	}
	start := r.b
	for i := uint64(0); i < n; i++ {
		r.str(field, max)
	}
	if r.err != nil {
		return StrList{}
	}
	return StrList{b: start[:len(start)-len(r.b)], n: int(n)}
}

func (r *reader) end() error {
	if r.err == nil && len(r.b) != 0 {
		r.err = fmt.Errorf("%w: %d bytes", ErrTrailingBytes, len(r.b))
	}
	return r.err
}

// StrList is a validated list of byte strings (a subscription filter): a
// view into the frame it came from.
type StrList struct {
	b []byte
	n int
}

// MakeStrList encodes a list of strings into a StrList for sending.
func MakeStrList(items ...string) StrList {
	var b []byte
	for _, s := range items {
		b = binary.AppendUvarint(b, uint64(len(s)))
		b = append(b, s...)
	}
	return StrList{b: b, n: len(items)}
}

// Len returns the number of strings.
func (l StrList) Len() int { return l.n }

// All yields each string as a view.
func (l StrList) All() iter.Seq[[]byte] {
	return func(yield func([]byte) bool) {
		b := l.b
		for i := 0; i < l.n; i++ {
			u, n := binary.Uvarint(b)
			if !yield(b[n : n+int(u)]) {
				return
			}
			b = b[n+int(u):]
		}
	}
}

// Strings copies the list into Go strings.
func (l StrList) Strings() []string {
	out := make([]string, 0, l.n)
	for s := range l.All() {
		out = append(out, string(s))
	}
	return out
}

func appendStr(dst []byte, s []byte) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(s)))
	return append(dst, s...)
}

func appendStrList(dst []byte, l StrList) []byte {
	dst = binary.AppendUvarint(dst, uint64(l.n))
	return append(dst, l.b...)
}
