// Package metrics exposes a node's counters to Prometheus and serves the
// operator endpoints (/metrics, /healthz, /status). It uses
// github.com/prometheus/client_golang, the reference Prometheus client.
//
// The collector reads a node's snapshot at scrape time, so the data path
// updates no metric objects: its counters are the plain atomics the node
// keeps anyway.
package metrics

import (
	"encoding/json"
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/weirio/weir/node"
)

// Source is what the collector reads; *node.Node implements it.
type Source interface {
	Report() node.Report
}

// Collector is a prometheus.Collector over a node.
type Collector struct {
	src Source
	// Extra, if set, adds fields to the /status document (e.g. pools).
	Extra func() map[string]any

	peers, subs                            *prometheus.Desc
	framesIn, framesOut, bytesIn, bytesOut *prometheus.Desc
	dropped, overflows, qFrames, qBytes    *prometheus.Desc
	failures, accepted, dials, dialFails   *prometheus.Desc
	refused, limits                        *prometheus.Desc
	published, delivered, forwarded, dups  *prometheus.Desc
	handlerPanics, storeLost               *prometheus.Desc
}

// New returns a collector for src.
func New(src Source) *Collector {
	d := func(name, help string, labels ...string) *prometheus.Desc {
		return prometheus.NewDesc("weir_"+name, help, labels, nil)
	}
	return &Collector{src: src,
		peers:         d("peers", "Established peers."),
		subs:          d("subscriptions", "Local (prefix, subscription) pairs."),
		framesIn:      d("peer_frames_in_total", "Frames received from a peer.", "peer"),
		framesOut:     d("peer_frames_out_total", "Frames written to a peer.", "peer"),
		bytesIn:       d("peer_bytes_in_total", "Bytes received from a peer.", "peer"),
		bytesOut:      d("peer_bytes_out_total", "Bytes written to a peer.", "peer"),
		dropped:       d("peer_dropped_total", "Frames dropped by the backpressure policy.", "peer", "policy"),
		overflows:     d("peer_overflow_disconnects_total", "Disconnects by the disconnect policy.", "peer"),
		qFrames:       d("peer_queue_frames", "Frames queued for a peer.", "peer"),
		qBytes:        d("peer_queue_bytes", "Bytes queued for a peer.", "peer"),
		failures:      d("connection_failures_total", "Connections this node closed, by reason (handshake failures, protocol errors, limits, timeouts).", "code"),
		refused:       d("handshakes_refused_total", "Handshakes a peer refused (error frame or TLS alert), by the code it sent.", "code"),
		limits:        d("limit_hits_total", "Times a limit that protects the node was hit: a connection closed, or (limit store) a store request refused.", "limit"),
		accepted:      d("connections_accepted_total", "Inbound connections accepted."),
		dials:         d("dials_total", "Outbound connection attempts."),
		dialFails:     d("dial_failures_total", "Failed outbound connection attempts."),
		published:     d("published_total", "Messages published by this node."),
		delivered:     d("delivered_total", "Messages delivered to local subscriptions."),
		forwarded:     d("forwarded_total", "Frames relayed to other peers."),
		dups:          d("duplicates_total", "Stamped frames dropped as already seen."),
		handlerPanics: d("handler_panics_total", "Recovered panics in event handlers."),
		storeLost:     d("store_requests_lost_total", "Store requests of this node failed without an answer (lost on the way, master lost, or timed out)."),
	}
}

// Describe implements prometheus.Collector.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.peers, c.subs, c.framesIn, c.framesOut, c.bytesIn, c.bytesOut, c.dropped,
		c.overflows, c.qFrames, c.qBytes, c.failures, c.refused, c.limits, c.accepted, c.dials, c.dialFails, c.published, c.delivered,
		c.forwarded, c.dups, c.handlerPanics, c.storeLost} {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	r := c.src.Report()
	g := func(d *prometheus.Desc, v float64, l ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, l...)
	}
	k := func(d *prometheus.Desc, v uint64, l ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), l...)
	}
	g(c.peers, float64(len(r.Peers)))
	g(c.subs, float64(r.Stats.Subscriptions))
	for _, p := range r.Peers {
		k(c.framesIn, p.Stats.FramesIn, p.Name)
		k(c.framesOut, p.Stats.FramesOut, p.Name)
		k(c.bytesIn, p.Stats.BytesIn, p.Name)
		k(c.bytesOut, p.Stats.BytesOut, p.Name)
		k(c.dropped, p.Stats.Dropped, p.Name, r.Policy)
		k(c.overflows, p.Stats.Overflows, p.Name)
		g(c.qFrames, float64(p.Stats.QueuedFrames), p.Name)
		g(c.qBytes, float64(p.Stats.QueuedBytes), p.Name)
	}
	for code, n := range r.Net.Failures {
		k(c.failures, n, code.String())
	}
	for code, n := range r.Net.Refused {
		k(c.refused, n, code.String())
	}
	lim := r.Net.Limits
	for name, n := range map[string]uint64{"peers": lim.Peers, "handshakes": lim.Handshakes, "subscriptions": lim.Subscriptions,
		"frame_size": lim.FrameSize, "topic_size": lim.TopicSize, "queue": lim.Queue, "store": r.Stats.StoreLimit} {
		k(c.limits, n, name)
	}
	k(c.accepted, r.Net.Accepted)
	k(c.dials, r.Net.Dials)
	k(c.dialFails, r.Net.DialFailures)
	k(c.published, r.Stats.Published)
	k(c.delivered, r.Stats.Delivered)
	k(c.forwarded, r.Stats.Forwarded)
	k(c.dups, r.Stats.Duplicates)
	k(c.handlerPanics, r.Stats.HandlerPanics)
	k(c.storeLost, r.Stats.StoreLost)
}

// Handler serves /metrics (Prometheus text format), /healthz ("ok" while
// the node runs) and /status (the node's Report as JSON, plus Extra).
func (c *Collector) Handler() http.Handler {
	reg := prometheus.NewRegistry()
	reg.MustRegister(c)
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write([]byte("ok\n"))
	})
	mux.HandleFunc("/status", func(w http.ResponseWriter, _ *http.Request) {
		doc := map[string]any{"node": c.src.Report()}
		if c.Extra != nil {
			for k, v := range c.Extra() {
				doc[k] = v
			}
		}
		w.Header().Set("Content-Type", "application/json")
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		_ = enc.Encode(doc)
	})
	return mux
}
