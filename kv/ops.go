package kv

import (
	"fmt"
	"math"

	"github.com/weirio/weir/frame"
)

// calc computes the results of add, subtract and get_index on encoded
// values. Its scratch buffer is reused between calls; a calc is owned by
// one Store.
type calc struct {
	body     []byte // container body under construction
	maxDepth int
}

func mismatch(verb string, op, cur frame.Type) error {
	return fmt.Errorf("kv: cannot %s %s to %s: %w", verb, op, cur, ErrTypeMismatch)
}

// add appends the encoding of cur ⊕ op to dst. exists is false when the
// key is missing: the result is then the operand's type's zero value ⊕ op,
// which is op itself for every type add is defined on.
func (c *calc) add(dst []byte, cur frame.View, exists bool, op frame.View) ([]byte, error) {
	if !exists {
		switch op.Type() {
		case frame.TypeCount, frame.TypeInteger, frame.TypeReal, frame.TypeTimespan,
			frame.TypeString, frame.TypeSet, frame.TypeTable, frame.TypeVector:
			return append(dst, raw(op)...), nil
		}
		return dst, fmt.Errorf("kv: cannot add %s to a missing key (no zero value): %w", op.Type(), ErrTypeMismatch)
	}
	ct, ot := cur.Type(), op.Type()
	switch ct {
	case frame.TypeCount, frame.TypeInteger, frame.TypeTimespan:
		if ot != ct {
			break
		}
		return appendFixed64(dst, ct, fixed64(cur)+fixed64(op)), nil // wraps, as in Broker
	case frame.TypeTimestamp:
		if ot != frame.TypeTimespan {
			break
		}
		return appendFixed64(dst, ct, fixed64(cur)+fixed64(op)), nil
	case frame.TypeReal:
		if ot != ct {
			break
		}
		return appendFixed64(dst, ct, math.Float64bits(cur.Real()+op.Real())), nil
	case frame.TypeString:
		if ot != ct {
			break
		}
		return appendStringCat(dst, cur.Bytes(), op.Bytes()), nil
	case frame.TypeSet:
		if ot == frame.TypeSet {
			body, n := mergeSets(c.body[:0], cur, op, false)
			c.body = body
			return appendContainer(dst, ct, n, body), nil
		}
		if err := c.checkElemDepth(op); err != nil {
			return dst, err
		}
		body, n := insertElem(c.body[:0], cur, op)
		c.body = body
		return appendContainer(dst, ct, n, body), nil
	case frame.TypeTable:
		switch {
		case ot == frame.TypeTable:
		case ot == frame.TypeVector && op.Len() == 2:
			it := op.Iter()
			k, v, _ := it.NextEntry()
			if err := c.checkElemDepth(k); err != nil {
				return dst, err
			}
			if err := c.checkElemDepth(v); err != nil {
				return dst, err
			}
		default:
			return dst, fmt.Errorf("kv: cannot add %s to table (want a table or a [key, value] vector): %w", ot, ErrTypeMismatch)
		}
		// A [key, value] vector iterates like a one-entry table.
		body, n := mergeTables(c.body[:0], cur, op.Iter())
		c.body = body
		return appendContainer(dst, ct, n, body), nil
	case frame.TypeVector:
		if ot == frame.TypeVector {
			body := append(c.body[:0], containerBody(cur.Raw())...)
			body = append(body, containerBody(op.Raw())...)
			c.body = body
			return appendContainer(dst, ct, cur.Len()+op.Len(), body), nil
		}
		if err := c.checkElemDepth(op); err != nil {
			return dst, err
		}
		body := append(c.body[:0], containerBody(cur.Raw())...)
		body = append(body, raw(op)...)
		c.body = body
		return appendContainer(dst, ct, cur.Len()+1, body), nil
	}
	return dst, mismatch("add", ot, ct)
}

// subtract appends the encoding of cur ⊖ op to dst. A missing key is an
// error (ErrNotFound), as in Broker.
func (c *calc) subtract(dst []byte, cur frame.View, exists bool, op frame.View) ([]byte, error) {
	if !exists {
		return dst, fmt.Errorf("kv: cannot subtract from a missing key: %w", ErrNotFound)
	}
	ct, ot := cur.Type(), op.Type()
	switch ct {
	case frame.TypeCount, frame.TypeInteger, frame.TypeTimespan:
		if ot != ct {
			break
		}
		return appendFixed64(dst, ct, fixed64(cur)-fixed64(op)), nil // wraps, as in Broker
	case frame.TypeTimestamp:
		if ot != frame.TypeTimespan {
			break
		}
		return appendFixed64(dst, ct, fixed64(cur)-fixed64(op)), nil
	case frame.TypeReal:
		if ot != ct {
			break
		}
		return appendFixed64(dst, ct, math.Float64bits(cur.Real()-op.Real())), nil
	case frame.TypeSet:
		var body []byte
		var n int
		if ot == frame.TypeSet {
			body, n = mergeSets(c.body[:0], cur, op, true)
		} else {
			body, n = removeElem(c.body[:0], cur, op)
		}
		c.body = body
		return appendContainer(dst, ct, n, body), nil
	case frame.TypeTable:
		body, n := eraseEntry(c.body[:0], cur, op)
		c.body = body
		return appendContainer(dst, ct, n, body), nil
	case frame.TypeVector:
		// Pop the last element; the operand is ignored, as in Broker.
		n := cur.Len()
		if n == 0 {
			return append(dst, cur.Raw()...), nil
		}
		all := containerBody(cur.Raw())
		it := cur.Iter()
		off := 0
		for i := 0; i < n-1; i++ {
			e, _ := it.Next()
			off += len(e.Raw())
		}
		return appendContainer(dst, ct, n-1, all[:off]), nil
	}
	return dst, mismatch("subtract", ot, ct)
}

// checkElemDepth rejects an element that would nest a container deeper than
// the limit. The container itself is within the limit already (values are
// validated when they enter the store), so only the new element matters.
func (c *calc) checkElemDepth(e frame.View) error {
	if d := depth(e); d+1 > c.maxDepth {
		return fmt.Errorf("kv: cannot nest a depth-%d value in a container (limit %d): %w", d, c.maxDepth, ErrTooDeep)
	}
	return nil
}

// getIndex returns the element of the container cur at index: a table's
// value under key index, a vector's element at count index, or for a set
// whether it holds index (as a bool).
func getIndex(cur, index frame.View) (frame.Value, error) {
	switch cur.Type() {
	case frame.TypeTable:
		it := cur.Iter()
		for k, v, ok := it.NextEntry(); ok; k, v, ok = it.NextEntry() {
			if c := frame.CompareViews(k, index); c == 0 {
				return v.Value(), nil
			} else if c > 0 {
				break
			}
		}
		return frame.None, fmt.Errorf("kv: table has no key %s: %w", index.Value(), ErrNotFound)
	case frame.TypeVector:
		if index.Type() != frame.TypeCount {
			return frame.None, fmt.Errorf("kv: cannot index a vector with %s: %w", index.Type(), ErrTypeMismatch)
		}
		i := index.Count()
		if i >= uint64(cur.Len()) {
			return frame.None, fmt.Errorf("kv: vector index %d out of range [0, %d): %w", i, cur.Len(), ErrNotFound)
		}
		it := cur.Iter()
		for ; i > 0; i-- {
			it.Next()
		}
		e, _ := it.Next()
		return e.Value(), nil
	case frame.TypeSet:
		it := cur.Iter()
		for e, ok := it.Next(); ok; e, ok = it.Next() {
			if c := frame.CompareViews(e, index); c >= 0 {
				return frame.NewBool(c == 0), nil
			}
		}
		return frame.NewBool(false), nil
	}
	return frame.None, fmt.Errorf("kv: cannot index into %s: %w", cur.Type(), ErrTypeMismatch)
}

// mergeSets appends to body the elements of a ∪ b (or a \ b when diff) in
// order and returns the element count.
func mergeSets(body []byte, a, b frame.View, diff bool) ([]byte, int) {
	ia, ib := a.Iter(), b.Iter()
	x, okx := ia.Next()
	y, oky := ib.Next()
	n := 0
	for okx || oky {
		c := -1 // x only
		if !okx {
			c = 1
		} else if oky {
			c = frame.CompareViews(x, y)
		}
		switch {
		case c < 0:
			body = append(body, x.Raw()...)
			n++
			x, okx = ia.Next()
		case c > 0:
			if !diff {
				body = append(body, y.Raw()...)
				n++
			}
			y, oky = ib.Next()
		default:
			if !diff {
				body = append(body, x.Raw()...)
				n++
			}
			x, okx = ia.Next()
			y, oky = ib.Next()
		}
	}
	return body, n
}

// insertElem appends to body the elements of set s with e inserted in
// order and returns the element count. The elements after the insertion
// point are copied in one piece.
func insertElem(body []byte, s, e frame.View) ([]byte, int) {
	all := containerBody(s.Raw())
	n, off := s.Len(), 0
	it := s.Iter()
	for x, ok := it.Next(); ok; x, ok = it.Next() {
		switch c := frame.CompareViews(x, e); {
		case c == 0:
			return append(body, all...), n
		case c > 0:
			body = append(body, all[:off]...)
			body = append(body, raw(e)...)
			return append(body, all[off:]...), n + 1
		}
		off += len(x.Raw())
	}
	return append(append(body, all...), raw(e)...), n + 1
}

// removeElem appends to body the elements of set s without e and returns
// the element count.
func removeElem(body []byte, s, e frame.View) ([]byte, int) {
	all := containerBody(s.Raw())
	off := 0
	it := s.Iter()
	for x, ok := it.Next(); ok; x, ok = it.Next() {
		c := frame.CompareViews(x, e)
		if c == 0 {
			body = append(body, all[:off]...)
			return append(body, all[off+len(x.Raw()):]...), s.Len() - 1
		}
		if c > 0 {
			break
		}
		off += len(x.Raw())
	}
	return append(body, all...), s.Len()
}

// mergeTables appends to body the entries of table t merged with the
// entries src yields (sorted by key), src winning on equal keys, and
// returns the entry count. Once src is exhausted the rest of t is copied
// in one piece.
func mergeTables(body []byte, t frame.View, src frame.Iter) ([]byte, int) {
	all := containerBody(t.Raw())
	off, n := 0, 0
	it := t.Iter()
	k1, v1, ok1 := it.NextEntry()
	k2, v2, ok2 := src.NextEntry()
	for ok2 {
		c := 1
		if ok1 {
			c = frame.CompareViews(k1, k2)
		}
		if c < 0 {
			body = append(append(body, k1.Raw()...), v1.Raw()...)
		} else {
			body = append(append(body, raw(k2)...), raw(v2)...)
		}
		n++
		if c <= 0 {
			off += len(k1.Raw()) + len(v1.Raw())
			k1, v1, ok1 = it.NextEntry()
		}
		if c >= 0 {
			k2, v2, ok2 = src.NextEntry()
		}
	}
	if ok1 {
		n += 1 + it.Remaining()/2
	}
	return append(body, all[off:]...), n
}

// eraseEntry appends to body the entries of table t without key and
// returns the entry count.
func eraseEntry(body []byte, t, key frame.View) ([]byte, int) {
	all := containerBody(t.Raw())
	off := 0
	it := t.Iter()
	for k, v, ok := it.NextEntry(); ok; k, v, ok = it.NextEntry() {
		c := frame.CompareViews(k, key)
		if c == 0 {
			body = append(body, all[:off]...)
			return append(body, all[off+len(k.Raw())+len(v.Raw()):]...), t.Len() - 1
		}
		if c > 0 {
			break
		}
		off += len(k.Raw()) + len(v.Raw())
	}
	return append(body, all...), t.Len()
}
