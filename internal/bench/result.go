package bench

import (
	"encoding/base64"
	"fmt"

	"github.com/HdrHistogram/hdrhistogram-go"
)

// LatencySummary gives latency percentiles in microseconds.
type LatencySummary struct {
	Count int64   `json:"count"`
	P50   float64 `json:"p50_us"`
	P90   float64 `json:"p90_us"`
	P99   float64 `json:"p99_us"`
	P999  float64 `json:"p99_9_us"`
	Max   float64 `json:"max_us"`
	Mean  float64 `json:"mean_us"`
}

func summarize(h *hdrhistogram.Histogram) LatencySummary {
	if h.TotalCount() == 0 {
		return LatencySummary{}
	}
	us := func(ns int64) float64 { return float64(ns) / 1e3 }
	return LatencySummary{
		Count: h.TotalCount(),
		P50:   us(h.ValueAtQuantile(50)), P90: us(h.ValueAtQuantile(90)),
		P99: us(h.ValueAtQuantile(99)), P999: us(h.ValueAtQuantile(99.9)),
		Max: us(h.Max()), Mean: h.Mean() / 1e3,
	}
}

// encodeHist serializes a histogram in HdrHistogram's compressed V2 form
// (base64), the form children send their parent.
func encodeHist(h *hdrhistogram.Histogram) string {
	b, err := h.Encode(hdrhistogram.V2CompressedEncodingCookieBase)
	if err != nil {
		panic("BUG: bench: cannot encode histogram: " + err.Error())
	}
	return base64.StdEncoding.EncodeToString(b)
}

func decodeHist(s string) (*hdrhistogram.Histogram, error) {
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		return nil, fmt.Errorf("cannot decode histogram: %w", err)
	}
	h, err := hdrhistogram.Decode(b)
	if err != nil {
		return nil, fmt.Errorf("cannot decode histogram: %w", err)
	}
	return h, nil
}

// PubLoss is how many messages of one publisher a subscriber missed.
type PubLoss struct {
	Pub  int    `json:"pub"`
	Lost uint64 `json:"lost"`
}

// SubResult is one subscriber's outcome. Rates are measured from its
// first to its last received message.
type SubResult struct {
	ID         int       `json:"id"`
	Expected   uint64    `json:"expected"`
	Received   uint64    `json:"received"`  // distinct messages
	Delivered  uint64    `json:"delivered"` // every data message, duplicates included
	Bytes      uint64    `json:"bytes"`
	Lost       uint64    `json:"lost"`
	Duplicates uint64    `json:"duplicates"`
	Reordered  uint64    `json:"reordered"`
	Bad        uint64    `json:"bad"`
	LossByPub  []PubLoss `json:"loss_by_pub,omitempty"`
	FirstNs    int64     `json:"first_ns"`
	LastNs     int64     `json:"last_ns"`
	MsgsPerSec float64   `json:"msgs_per_sec"`
	MBPerSec   float64   `json:"mb_per_sec"`

	Latency LatencySummary `json:"latency"`
	// Hist is the encoded latency histogram (sent child to parent; cleared
	// in the final report).
	Hist string `json:"hist,omitempty"`
}

func (r *SubResult) fillRates() {
	r.MsgsPerSec, r.MBPerSec = rates(r.Received, r.Bytes, r.FirstNs, r.LastNs)
}

// rates returns msgs/s and MB/s (10^6 bytes) over [first, last].
func rates(msgs, bytes uint64, firstNs, lastNs int64) (float64, float64) {
	span := float64(lastNs-firstNs) / 1e9
	if msgs < 2 || span <= 0 {
		return 0, 0
	}
	return float64(msgs) / span, float64(bytes) / span / 1e6
}

// PubResult is one publisher's outcome.
type PubResult struct {
	ID         int     `json:"id"`
	Sent       uint64  `json:"sent"`
	Bytes      uint64  `json:"bytes"`
	StartNs    int64   `json:"start_ns"`
	EndNs      int64   `json:"end_ns"`
	MsgsPerSec float64 `json:"msgs_per_sec"`
	// Dropped counts frames its peers' queues discarded (PublishWait ran
	// out); Errors counts PublishBytes calls that failed.
	Dropped uint64 `json:"dropped"`
	Errors  uint64 `json:"errors"`
	// WindowWaits counts waits for acknowledgments (the flow-control
	// window was full); WindowTimeouts counts waits that ran out of
	// PublishWait, after which the publisher ran without a window.
	WindowWaits    uint64 `json:"window_waits"`
	WindowTimeouts uint64 `json:"window_timeouts"`
}

// RelayResult is the relay node's outcome.
type RelayResult struct {
	Received   uint64 `json:"received"` // frames in from all peers
	Forwarded  uint64 `json:"forwarded"`
	Duplicates uint64 `json:"duplicates"`
	// Dropped counts frames discarded by the backpressure policy of its
	// peers' outbound queues (a subscriber slower than the publisher).
	Dropped uint64 `json:"dropped"`
}

// SubAggregate sums the subscribers' outcomes. MsgsPerSec counts every
// delivery over the span from the earliest first to the latest last
// message (NATS bench's aggregate); PerSubMsgsPerSec is the mean of the
// subscribers' own rates.
type SubAggregate struct {
	Expected         uint64  `json:"expected"`
	Received         uint64  `json:"received"`
	Lost             uint64  `json:"lost"`
	Duplicates       uint64  `json:"duplicates"`
	Reordered        uint64  `json:"reordered"`
	Bad              uint64  `json:"bad"`
	MsgsPerSec       float64 `json:"msgs_per_sec"`
	MBPerSec         float64 `json:"mb_per_sec"`
	PerSubMsgsPerSec float64 `json:"per_sub_msgs_per_sec"`
}

// PubAggregate sums the publishers' outcomes.
type PubAggregate struct {
	Sent       uint64  `json:"sent"`
	MsgsPerSec float64 `json:"msgs_per_sec"`
	MBPerSec   float64 `json:"mb_per_sec"`
	Dropped    uint64  `json:"dropped"`
	Errors     uint64  `json:"errors"`
	// WindowTimeouts sums the publishers' window timeouts.
	WindowTimeouts uint64 `json:"window_timeouts"`
}

// Report is the outcome of one benchmark run.
type Report struct {
	Scenario   Scenario       `json:"scenario"`
	Size       int            `json:"size"`
	Msgs       uint64         `json:"msgs"`
	Pubs       int            `json:"pubs"`
	Subs       int            `json:"subs"`
	Rate       float64        `json:"rate"` // requested total msgs/s; 0: as fast as possible
	ElapsedSec float64        `json:"elapsed_sec"`
	Sub        SubAggregate   `json:"sub"`
	Pub        PubAggregate   `json:"pub"`
	Latency    LatencySummary `json:"latency"`
	Relay      *RelayResult   `json:"relay,omitempty"`
	SubResults []SubResult    `json:"sub_results"`
	PubResults []PubResult    `json:"pub_results"`
}

// Clean reports whether every subscriber got every message exactly once,
// in order, and nothing was dropped anywhere.
func (r *Report) Clean() bool {
	dropped := r.Pub.Dropped
	if r.Relay != nil {
		dropped += r.Relay.Dropped
	}
	return r.Sub.Lost == 0 && r.Sub.Duplicates == 0 && r.Sub.Reordered == 0 && r.Sub.Bad == 0 && dropped == 0
}

// Aggregate combines the role results into a report: sums, the aggregate
// rates and the merged latency histogram. The subscribers' encoded
// histograms are dropped from the result.
func Aggregate(cfg Config, subs []SubResult, pubs []PubResult, relay *RelayResult) (Report, error) {
	r := Report{Scenario: cfg.Scenario, Size: cfg.Size, Msgs: cfg.Msgs, Pubs: cfg.Pubs, Subs: cfg.Subs, Rate: cfg.Rate, Relay: relay}
	merged := newHistogram()
	var first, last int64
	var bytes uint64
	for i, s := range subs {
		if s.Hist != "" {
			h, err := decodeHist(s.Hist)
			if err != nil {
				return Report{}, fmt.Errorf("sub %d: %w", s.ID, err)
			}
			merged.Merge(h)
		}
		subs[i].Hist = ""
		a := &r.Sub
		a.Expected += s.Expected
		a.Received += s.Received
		a.Lost += s.Lost
		a.Duplicates += s.Duplicates
		a.Reordered += s.Reordered
		a.Bad += s.Bad
		a.PerSubMsgsPerSec += s.MsgsPerSec / float64(len(subs))
		bytes += s.Bytes
		if s.Received > 0 {
			if first == 0 || s.FirstNs < first {
				first = s.FirstNs
			}
			last = max(last, s.LastNs)
		}
	}
	r.Sub.MsgsPerSec, r.Sub.MBPerSec = rates(r.Sub.Received, bytes, first, last)
	var pfirst, plast int64
	var pbytes uint64
	for _, p := range pubs {
		r.Pub.Sent += p.Sent
		r.Pub.Dropped += p.Dropped
		r.Pub.Errors += p.Errors
		r.Pub.WindowTimeouts += p.WindowTimeouts
		pbytes += p.Bytes
		if pfirst == 0 || p.StartNs < pfirst {
			pfirst = p.StartNs
		}
		plast = max(plast, p.EndNs)
	}
	r.Pub.MsgsPerSec, r.Pub.MBPerSec = rates(r.Pub.Sent, pbytes, pfirst, plast)
	r.Latency = summarize(merged)
	r.SubResults, r.PubResults = subs, pubs
	return r, nil
}
