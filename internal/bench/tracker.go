package bench

import (
	"github.com/HdrHistogram/hdrhistogram-go"
)

// Latency histogram geometry: 1 ns to 60 s at 3 significant digits (about
// 0.1% resolution, ~450 KiB of counters).
const (
	histMin    = 1
	histMax    = 60_000_000_000
	histDigits = 3
)

func newHistogram() *hdrhistogram.Histogram { return hdrhistogram.New(histMin, histMax, histDigits) }

// Tracker does a subscriber's accounting: which sequence numbers arrived
// from each publisher, duplicates, reordering, bytes, first and last
// arrival, and the latency histogram. It is a plain state machine — no
// clock, no locks: the caller passes the arrival time and serializes calls.
type Tracker struct {
	pubs []pubTrack
	hist *hdrhistogram.Histogram

	expected  uint64 // total over publishers
	unique    uint64 // distinct (publisher, sequence) pairs seen
	delivered uint64 // every data message, duplicates included
	bytes     uint64 // payload bytes of unique messages
	dups      uint64
	reordered uint64
	bad       uint64 // undecodable, unknown publisher, or sequence out of range
	firstNs   int64
	lastNs    int64
}

// pubTrack is one publisher's sequence state: a bitmap of the sequence
// numbers seen (they are dense, 0..expect-1) and the highest seen so far.
type pubTrack struct {
	seen   []uint64
	expect uint64
	count  uint64
	max    uint64
	any    bool
}

// NewTracker returns a tracker expecting expect[i] messages, with
// sequences 0..expect[i]-1, from publisher i.
func NewTracker(expect []uint64) *Tracker {
	t := &Tracker{pubs: make([]pubTrack, len(expect)), hist: newHistogram()}
	for i, n := range expect {
		t.pubs[i] = pubTrack{seen: make([]uint64, (n+63)/64), expect: n}
		t.expected += n
	}
	return t
}

// Observe accounts for one data message that arrived at nowNs with size
// payload bytes. A message with SentNs 0 (not stamped, see
// maxRateStampEvery) counts, but adds no latency sample and does not move
// the first and last arrival times; nowNs is ignored for it. A message is a duplicate when its (publisher, sequence)
// was seen before, and reordered when its sequence is below the highest
// already seen from its publisher (a gap filled late).
//
// Hot path: called once per received message; no allocation.
func (t *Tracker) Observe(p Payload, size int, nowNs int64) {
	if int(p.Pub) >= len(t.pubs) || p.Seq >= t.pubs[p.Pub].expect {
		t.bad++
		return
	}
	t.delivered++
	pt := &t.pubs[p.Pub]
	w, bit := p.Seq/64, uint64(1)<<(p.Seq%64)
	if pt.seen[w]&bit != 0 {
		t.dups++
		return
	}
	pt.seen[w] |= bit
	pt.count++
	if pt.any && p.Seq < pt.max {
		t.reordered++
	} else {
		pt.max, pt.any = p.Seq, true
	}
	t.unique++
	t.bytes += uint64(size)
	if p.SentNs == 0 {
		return // not stamped: no latency sample, and nowNs was not read
	}
	if t.firstNs == 0 {
		t.firstNs = nowNs
	}
	t.lastNs = nowNs
	lat := nowNs - p.SentNs
	if lat < histMin {
		lat = histMin
	}
	if lat > histMax {
		lat = histMax
	}
	_ = t.hist.RecordValue(lat) // in range by the clamp above
}

// Bad counts a message on the benchmark topic that is not a benchmark
// payload.
func (t *Tracker) Bad() { t.bad++ }

// Count returns the number of distinct messages seen from publisher pub.
func (t *Tracker) Count(pub uint32) uint64 {
	if int(pub) >= len(t.pubs) {
		return 0
	}
	return t.pubs[pub].count
}

// Unique returns the number of distinct messages seen.
func (t *Tracker) Unique() uint64 { return t.unique }

// Done reports whether every expected message has arrived.
func (t *Tracker) Done() bool { return t.unique == t.expected }

// Result summarizes the accounting for subscriber id.
func (t *Tracker) Result(id int) SubResult {
	r := SubResult{
		ID: id, Expected: t.expected, Received: t.unique, Delivered: t.delivered, Bytes: t.bytes,
		Lost: t.expected - t.unique, Duplicates: t.dups, Reordered: t.reordered, Bad: t.bad,
		FirstNs: t.firstNs, LastNs: t.lastNs,
	}
	for i := range t.pubs {
		if t.pubs[i].count < t.pubs[i].expect {
			r.LossByPub = append(r.LossByPub, PubLoss{Pub: i, Lost: t.pubs[i].expect - t.pubs[i].count})
		}
	}
	r.fillRates()
	r.Hist = encodeHist(t.hist)
	r.Latency = summarize(t.hist)
	return r
}
