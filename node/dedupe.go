package node

import "sync"

// dedupe remembers, per origin, which recent sequence numbers a forwarding
// node has seen, so a frame that reaches it over two paths is delivered and
// relayed once. Per origin it keeps the highest sequence and a bitmap of
// the window below it (the anti-replay window of IPsec, RFC 4303 §3.4.3);
// a sequence older than the window counts as seen.
type dedupe struct {
	mu      sync.Mutex
	window  uint64
	origins map[uint64]*seqWindow
}

type seqWindow struct {
	top  uint64
	bits []uint64 // bit (seq % window) set: seen
}

// maxOrigins bounds the table; past it the least useful state is dropped
// (a cleared table only risks one duplicate per origin).
const maxOrigins = 1 << 14

func newDedupe(window int) *dedupe {
	w := uint64(window+63) &^ 63
	return &dedupe{window: w, origins: make(map[uint64]*seqWindow)}
}

// seen records (origin, seq) and reports whether it was seen before.
//
// Hot path for forwarding nodes: one map lookup and a bit test under an
// uncontended mutex (frames of one origin mostly arrive on one loop).
func (d *dedupe) seen(origin, seq uint64) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	w := d.origins[origin]
	if w == nil {
		if len(d.origins) >= maxOrigins {
			clear(d.origins)
		}
		w = &seqWindow{top: seq, bits: make([]uint64, d.window/64)}
		d.origins[origin] = w
		w.set(seq, d.window)
		return false
	}
	switch {
	case seq > w.top:
		// Slide: clear the bits of the sequences skipped over.
		gap := seq - w.top
		if gap >= d.window {
			clear(w.bits)
		} else {
			for s := w.top + 1; s < seq; s++ {
				w.clear(s, d.window)
			}
		}
		w.top = seq
		w.set(seq, d.window)
		return false
	case w.top-seq >= d.window:
		return true // too old to tell: assume seen
	default:
		i := seq % d.window
		if w.bits[i/64]&(1<<(i%64)) != 0 {
			return true
		}
		w.set(seq, d.window)
		return false
	}
}

func (w *seqWindow) set(seq, window uint64) {
	i := seq % window
	w.bits[i/64] |= 1 << (i % 64)
}

func (w *seqWindow) clear(seq, window uint64) {
	i := seq % window
	w.bits[i/64] &^= 1 << (i % 64)
}
