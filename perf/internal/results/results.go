package results

import (
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/weirio/weir/perf/internal/stats"
)

// Systems a sample can measure.
const (
	Weir = "weir"
	NATS = "nats"
)

// Groups of scenario points.
const (
	GroupPubSub  = "pubsub"  // throughput vs message size: relay and direct
	GroupFanout  = "fanout"  // pub → relay → N subs
	GroupLatency = "latency" // percentiles at a fixed offered rate
	GroupLogs    = "logs"    // log shipping: records/s vs batch and codec
	GroupStore   = "store"   // replicated store: puts, gets, staleness
)

// Suite is one run of the perf suite.
type Suite struct {
	Meta    Meta        `json:"meta"`
	Samples []Sample    `json:"samples"`
	Micro   []Benchmark `json:"micro"`
	// Unavailable lists what this run could not measure, with the reason.
	Unavailable []Unavailable `json:"unavailable"`
	// Notes are free-form remarks the runner made (e.g. a failed run).
	Notes []string `json:"notes,omitempty"`
}

// Meta describes where and how a run happened.
type Meta struct {
	Date        string   `json:"date"` // RFC 3339, UTC, start of the run
	Commit      string   `json:"commit"`
	ShortCommit string   `json:"short_commit"`
	Dirty       bool     `json:"dirty"`  // the measured work tree had uncommitted changes
	Source      string   `json:"source"` // what was built: a clean export of HEAD or the work tree
	GoVersion   string   `json:"go_version"`
	Command     string   `json:"command"`
	Quick       bool     `json:"quick"`
	Runs        int      `json:"runs"` // repetitions of every scenario point
	Machine     Machine  `json:"machine"`
	Peers       []string `json:"peers"` // peer systems and their versions
	DurationSec float64  `json:"duration_sec"`
	// Scratch is the directory, relative to the repository, that holds the
	// tools' raw output (Sample.Raw); it is not committed.
	Scratch   string `json:"scratch"`
	LoadStart string `json:"load_start"` // /proc/loadavg at start
	LoadEnd   string `json:"load_end"`
}

// Machine is what /proc says about the host.
type Machine struct {
	CPUModel string `json:"cpu_model"`
	Cores    int    `json:"cores"`
	Kernel   string `json:"kernel"`
	MemBytes uint64 `json:"mem_bytes"`
}

// String is a one-line description: "AMD EPYC, 2 cores, 24.0 GiB, Linux 6.1".
func (m Machine) String() string {
	return fmt.Sprintf("%s, %d cores, %.1f GiB, Linux %s", m.CPUModel, m.Cores, float64(m.MemBytes)/(1<<30), m.Kernel)
}

// Key identifies a measured point; zero fields do not apply to its group.
type Key struct {
	Group    string  `json:"group"`
	Scenario string  `json:"scenario"`
	Size     int     `json:"size,omitempty"`  // payload bytes
	Subs     int     `json:"subs,omitempty"`  // subscribers
	Rate     float64 `json:"rate,omitempty"`  // offered msgs/s
	Batch    int     `json:"batch,omitempty"` // log records per batch
	Codec    string  `json:"codec,omitempty"` // log compression
}

// String names the point: "pubsub relay size=64".
func (k Key) String() string {
	var b strings.Builder
	b.WriteString(k.Group)
	if k.Scenario != "" && k.Scenario != k.Group {
		b.WriteString(" " + k.Scenario)
	}
	if k.Size != 0 {
		fmt.Fprintf(&b, " size=%d", k.Size)
	}
	if k.Subs != 0 {
		fmt.Fprintf(&b, " subs=%d", k.Subs)
	}
	if k.Rate != 0 {
		fmt.Fprintf(&b, " rate=%g", k.Rate)
	}
	if k.Batch != 0 {
		fmt.Fprintf(&b, " batch=%d", k.Batch)
	}
	if k.Codec != "" {
		b.WriteString(" codec=" + k.Codec)
	}
	return b.String()
}

// Sample is one run of one system at one point.
type Sample struct {
	Key
	System  string             `json:"system"`
	Run     int                `json:"run"` // 1-based
	Metrics map[string]float64 `json:"metrics"`
	// Error says why the run failed or was not clean; its metrics may be
	// partial or empty and summaries skip it.
	Error string `json:"error,omitempty"`
	// Raw is the file, under the run's scratch directory, that holds the
	// tool's own output.
	Raw string `json:"raw,omitempty"`
}

// Benchmark is one Go micro-benchmark with all its samples (-count).
type Benchmark struct {
	Pkg  string `json:"pkg"`
	Name string `json:"name"`
	// Values maps a unit to one value per sample.
	Values map[string][]float64 `json:"values"`
}

// ID is "pkg.Name" with the module prefix dropped: "router.Match/cached".
func (b Benchmark) ID() string {
	return shortPkg(b.Pkg) + "." + b.Name
}

func shortPkg(p string) string {
	return strings.TrimPrefix(p, "github.com/weirio/weir/")
}

// Unavailable records a scenario or peer that was not measured.
type Unavailable struct {
	What string `json:"what"`
	Why  string `json:"why"`
}

// LowerIsBetter reports whether a smaller value of the metric is an
// improvement, from its name: latencies, CPU costs, bytes on the wire or
// per subscription, losses and errors. Everything else (rates, ratios) is better higher.
func LowerIsBetter(metric string) bool {
	for _, s := range []string{"_us", "_ns", "ns/", "cpu_", "lost", "duplicates", "reordered", "dropped", "errors",
		"bytes_per", "B/op", "B/sub", "allocs/op", "sec/op", "staleness", "wall_sec", "cpu_sec"} {
		if strings.Contains(metric, s) {
			return true
		}
	}
	return false
}

// Point is the summary of one (key, metric): medians over the clean runs of
// each system.
type Point struct {
	Key    Key
	Metric string
	Weir   float64 // NaN when weir has no clean run here
	Peer   float64 // NaN when the peer has none or does not apply
	WeirN  int
	PeerN  int
}

// Ratio is weir's median over the peer's, NaN when either is missing.
func (p Point) Ratio() float64 {
	if math.IsNaN(p.Weir) || math.IsNaN(p.Peer) || p.Peer == 0 {
		return math.NaN()
	}
	return p.Weir / p.Peer
}

// Summarize returns one Point per (key, metric) that has at least one
// clean sample, in the order the keys first appear, metrics sorted.
func (s *Suite) Summarize() []Point {
	type pk struct {
		key    Key
		metric string
	}
	vals := map[pk]map[string][]float64{} // point → system → values
	var order []pk
	for _, smp := range s.Samples {
		if smp.Error != "" {
			continue
		}
		names := make([]string, 0, len(smp.Metrics))
		for m := range smp.Metrics {
			names = append(names, m)
		}
		slices.Sort(names)
		for _, m := range names {
			k := pk{smp.Key, m}
			if vals[k] == nil {
				vals[k] = map[string][]float64{}
				order = append(order, k)
			}
			vals[k][smp.System] = append(vals[k][smp.System], smp.Metrics[m])
		}
	}
	out := make([]Point, 0, len(order))
	for _, k := range order {
		w, p := vals[k][Weir], vals[k][NATS]
		out = append(out, Point{Key: k.key, Metric: k.metric, Weir: stats.Median(w), Peer: stats.Median(p), WeirN: len(w), PeerN: len(p)})
	}
	return out
}

// Find returns the summary point for key and metric from pts.
func Find(pts []Point, key Key, metric string) (Point, bool) {
	for _, p := range pts {
		if p.Key == key && p.Metric == metric {
			return p, true
		}
	}
	return Point{Key: key, Metric: metric, Weir: math.NaN(), Peer: math.NaN()}, false
}

// Select returns the points of a group with the given metric, in order.
func Select(pts []Point, group, metric string) []Point {
	var out []Point
	for _, p := range pts {
		if p.Key.Group == group && p.Metric == metric {
			out = append(out, p)
		}
	}
	return out
}

// IsUnavailable reports whether the suite recorded what as unavailable,
// matching by prefix ("logs" matches "logs (weir-bench logs)").
func (s *Suite) IsUnavailable(what string) (Unavailable, bool) {
	for _, u := range s.Unavailable {
		if strings.HasPrefix(u.What, what) {
			return u, true
		}
	}
	return Unavailable{}, false
}
