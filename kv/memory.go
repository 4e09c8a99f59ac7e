package kv

import (
	"container/heap"
	"fmt"
	"unsafe"
)

// Memory is the in-memory backend: a map from key to entry, and a min-heap
// of the entries that have an expiry, ordered by (expiry time, key). Each
// entry knows its heap position, so changing or dropping an expiry is an
// O(log n) fix-up rather than a lazy tombstone, and Expire pops exactly
// the entries that are due.
//
// Threading: not safe for concurrent use (see Backend).
type Memory struct {
	m       map[string]*mentry
	h       expHeap
	metrics BackendMetrics
	closed  bool
}

type mentry struct {
	key      string
	val      []byte
	expireAt int64 // 0: none
	hidx     int   // position in the heap; -1 when expireAt is 0
}

// NewMemory returns an empty memory backend.
func NewMemory() *Memory { return &Memory{m: make(map[string]*mentry)} }

// bytesOf views a string's bytes without copying; the result must not be
// modified (callers of Backend only read what it passes them).
func bytesOf(s string) []byte { return unsafe.Slice(unsafe.StringData(s), len(s)) }

// Get implements Backend.
func (b *Memory) Get(key []byte) ([]byte, int64, bool, error) {
	if b.closed {
		return nil, 0, false, ErrClosed
	}
	e := b.m[string(key)]
	if e == nil {
		return nil, 0, false, nil
	}
	return e.val, e.expireAt, true, nil
}

// Put implements Backend.
//
// Hot path: an overwrite reuses the entry and, when it is not much too
// large, the value's buffer, so it does not allocate; a new key costs two
// allocations (the entry, and one buffer for its key and value).
func (b *Memory) Put(key, val []byte, expireAt int64) error {
	_, _, err := b.put(key, val, expireAt, false, nil)
	return err
}

// putSwap implements putSwapper: Put, in one map lookup, appending the
// previous value (if any) to old.
func (b *Memory) putSwap(key, val []byte, expireAt int64, old []byte) ([]byte, bool, error) {
	return b.put(key, val, expireAt, true, old)
}

func (b *Memory) put(key, val []byte, expireAt int64, swap bool, old []byte) ([]byte, bool, error) {
	if b.closed {
		return old, false, ErrClosed
	}
	if expireAt < 0 {
		return old, false, fmt.Errorf("kv: negative expiry time %d: %w", expireAt, ErrInvalid)
	}
	e := b.m[string(key)]
	existed := e != nil
	if e == nil {
		buf := make([]byte, len(key)+len(val))
		copy(buf, key)
		e = &mentry{hidx: -1}
		if len(key) > 0 {
			e.key = unsafe.String(&buf[0], len(key))
		}
		e.val = buf[len(key):len(key):len(buf)]
		b.m[e.key] = e
	} else if swap {
		old = append(old, e.val...)
	}
	if cap(e.val) > 2*len(val)+64 {
		e.val = nil // do not pin a buffer far larger than the value
	}
	e.val = append(e.val[:0], val...)
	switch {
	case expireAt == e.expireAt:
	case expireAt == 0:
		heap.Remove(&b.h, e.hidx)
		e.expireAt = 0
	case e.hidx >= 0:
		e.expireAt = expireAt
		heap.Fix(&b.h, e.hidx)
	default:
		e.expireAt = expireAt
		heap.Push(&b.h, e)
	}
	return old, existed, nil
}

// Delete implements Backend.
func (b *Memory) Delete(key []byte) (bool, error) {
	if b.closed {
		return false, ErrClosed
	}
	e := b.m[string(key)]
	if e == nil {
		return false, nil
	}
	if e.hidx >= 0 {
		heap.Remove(&b.h, e.hidx)
	}
	delete(b.m, e.key)
	return true, nil
}

// Clear implements Backend.
func (b *Memory) Clear() error {
	if b.closed {
		return ErrClosed
	}
	b.m = make(map[string]*mentry)
	b.h = nil
	return nil
}

// Iterate implements Backend. The order is unspecified.
func (b *Memory) Iterate(fn func(key, val []byte, expireAt int64) bool) error {
	if b.closed {
		return ErrClosed
	}
	for k, e := range b.m {
		if !fn(bytesOf(k), e.val, e.expireAt) {
			break
		}
	}
	return nil
}

// Len implements Backend.
func (b *Memory) Len() (int, error) {
	if b.closed {
		return 0, ErrClosed
	}
	return len(b.m), nil
}

// NextExpiry implements Backend.
func (b *Memory) NextExpiry() (int64, bool, error) {
	if b.closed {
		return 0, false, ErrClosed
	}
	if len(b.h) == 0 {
		return 0, false, nil
	}
	b.metrics.IndexScanned++
	return b.h[0].expireAt, true, nil
}

// Expire implements Backend: it pops due entries off the heap, O(log n)
// each, and looks at one more entry to find that it is not due.
func (b *Memory) Expire(now int64, max int, fn func(key []byte)) (int, error) {
	if b.closed {
		return 0, ErrClosed
	}
	n := 0
	for len(b.h) > 0 && (max <= 0 || n < max) {
		b.metrics.IndexScanned++
		e := b.h[0]
		if e.expireAt > now {
			break
		}
		heap.Pop(&b.h)
		delete(b.m, e.key)
		n++
		fn(bytesOf(e.key))
	}
	b.metrics.Expired += uint64(n)
	return n, nil
}

// Sync implements Backend; memory has nothing to make durable.
func (b *Memory) Sync() error {
	if b.closed {
		return ErrClosed
	}
	return nil
}

// Close implements Backend and drops the data.
func (b *Memory) Close() error {
	if b.closed {
		return ErrClosed
	}
	b.closed, b.m, b.h = true, nil, nil
	return nil
}

// Metrics implements Backend.
func (b *Memory) Metrics() BackendMetrics { return b.metrics }

// expHeap is a min-heap of entries by (expireAt, key), for container/heap.
type expHeap []*mentry

func (h expHeap) Len() int { return len(h) }

func (h expHeap) Less(i, j int) bool {
	if h[i].expireAt != h[j].expireAt {
		return h[i].expireAt < h[j].expireAt
	}
	return h[i].key < h[j].key
}

func (h expHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].hidx, h[j].hidx = i, j
}

func (h *expHeap) Push(x any) {
	e := x.(*mentry)
	e.hidx = len(*h)
	*h = append(*h, e)
}

func (h *expHeap) Pop() any {
	old := *h
	e := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	e.hidx = -1
	return e
}
