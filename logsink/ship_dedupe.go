package logsink

import (
	"fmt"

	"github.com/weirio/weir/frame"
)

// DedupeOptions configure a Dedupe. The zero value means the defaults.
type DedupeOptions struct {
	// Window is how many recent sequence numbers per (origin, stream) are
	// remembered, rounded up to a multiple of 64. Default 1024.
	Window int
	// MaxStreams bounds the (origin, stream) pairs tracked; past it the
	// least recently seen pair is forgotten. Default 65536.
	MaxStreams int
}

// EnsureDefaults fills zero fields with their defaults and returns o.
func (o *DedupeOptions) EnsureDefaults() *DedupeOptions {
	if o.Window == 0 {
		o.Window = 1024
	}
	o.Window = (o.Window + 63) &^ 63
	if o.MaxStreams == 0 {
		o.MaxStreams = 1 << 16
	}
	return o
}

// Validate reports options that cannot work.
func (o *DedupeOptions) Validate() error {
	if o.Window < 0 || o.Window > 1<<20 || o.MaxStreams < 0 {
		return fmt.Errorf("%w: dedupe window %d, max streams %d", ErrBadConfig, o.Window, o.MaxStreams)
	}
	return nil
}

// Verdict is Dedupe's answer for one batch.
type Verdict uint8

// Verdicts.
const (
	// New: not seen; write it, then Mark it.
	New Verdict = iota
	// Duplicate: already marked; ack it again without writing.
	Duplicate
	// TooOld: older than the window, so unknown. Almost surely a late
	// retransmission of something written long ago; the logger acks it
	// without writing (counted), rather than risk a duplicate.
	TooOld
)

func (v Verdict) String() string {
	switch v {
	case New:
		return "new"
	case Duplicate:
		return "duplicate"
	case TooOld:
		return "too-old"
	}
	return fmt.Sprintf("Verdict(%d)", uint8(v))
}

type dedupeKey struct {
	origin frame.NodeID
	stream string
}

// window is an anti-replay window (as in IPsec, RFC 4303 §3.4.3): top is
// the highest seq marked, and bit (seq % size) of bits is set when seq in
// (top-size, top] was marked.
type window struct {
	top  uint64
	bits []uint64
	used uint64 // Dedupe.clock when last touched, for eviction
}

// Dedupe tells a logger whether a batch, keyed by (origin node, stream,
// seq), was already written, so that a retransmitted batch is acknowledged
// again but written once. Memory is bounded: Window bits per pair, at most
// MaxStreams pairs. It is not safe for concurrent use.
type Dedupe struct {
	opts  DedupeOptions
	m     map[dedupeKey]*window
	clock uint64
}

// NewDedupe returns an empty Dedupe. opts may be nil.
func NewDedupe(opts *DedupeOptions) (*Dedupe, error) {
	var o DedupeOptions
	if opts != nil {
		o = *opts
	}
	o.EnsureDefaults()
	if err := o.Validate(); err != nil {
		return nil, err
	}
	return &Dedupe{opts: o, m: make(map[dedupeKey]*window)}, nil
}

// Check says whether (origin, stream, seq) is new, without recording it.
func (d *Dedupe) Check(origin frame.NodeID, stream string, seq uint64) Verdict {
	w := d.m[dedupeKey{origin, stream}]
	if w == nil {
		return New
	}
	return w.check(seq, uint64(d.opts.Window))
}

// Mark records (origin, stream, seq) as written. Call it after the write
// succeeded.
func (d *Dedupe) Mark(origin frame.NodeID, stream string, seq uint64) {
	k := dedupeKey{origin, stream}
	w := d.m[k]
	if w == nil {
		if len(d.m) >= d.opts.MaxStreams {
			d.evict()
		}
		w = &window{bits: make([]uint64, d.opts.Window/64)}
		d.m[k] = w
	}
	d.clock++
	w.used = d.clock
	w.mark(seq, uint64(d.opts.Window))
}

// Accept is Check then Mark when new, for a logger whose write cannot fail
// after the check.
func (d *Dedupe) Accept(origin frame.NodeID, stream string, seq uint64) Verdict {
	v := d.Check(origin, stream, seq)
	if v == New {
		d.Mark(origin, stream, seq)
	}
	return v
}

// Len returns the number of (origin, stream) pairs tracked.
func (d *Dedupe) Len() int { return len(d.m) }

// evict forgets the least recently marked pair. O(pairs), paid only at the
// MaxStreams cap.
func (d *Dedupe) evict() {
	var old dedupeKey
	var oldUsed uint64
	first := true
	for k, w := range d.m {
		if first || w.used < oldUsed {
			old, oldUsed, first = k, w.used, false
		}
	}
	delete(d.m, old)
}

func (w *window) check(seq, size uint64) Verdict {
	switch {
	case seq > w.top:
		return New
	case w.top-seq >= size:
		return TooOld
	case w.bits[(seq%size)/64]&(1<<(seq%64)) != 0:
		return Duplicate
	}
	return New
}

func (w *window) mark(seq, size uint64) {
	if seq > w.top {
		if seq-w.top >= size {
			clear(w.bits)
		} else {
			for s := w.top + 1; s < seq; s++ {
				w.bits[(s%size)/64] &^= 1 << (s % 64)
			}
		}
		w.top = seq
	} else if w.top-seq >= size {
		return
	}
	w.bits[(seq%size)/64] |= 1 << (seq % 64)
}
