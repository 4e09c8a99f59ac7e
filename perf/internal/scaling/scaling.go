package scaling

import (
	"fmt"
	"math"
	"strings"

	"github.com/weirio/weir/perf/internal/results"
	"github.com/weirio/weir/perf/internal/stats"
)

// Cluster is the target of a plan and the hardware it is planned on.
type Cluster struct {
	EventsPerSec float64 // published events, each delivered to one subscriber through one proxy
	EventBytes   int     // event payload
	// FrameOverhead is the frame header and topic per event, in bytes
	// (internal/bench sizes its window with the same 40).
	FrameOverhead    int
	LogRecordsPerSec float64
	NodeCores        int
	NICGbps          float64
	DiskMBps         float64 // sustained sequential write per logger
	// Headroom is the fraction of each resource a plan may use.
	Headroom float64
}

// DefaultCluster is the target the perf README discusses: 10M events/s
// and 1M log records/s on 16-core nodes with 25 GbE and NVMe disks.
var DefaultCluster = Cluster{
	EventsPerSec: 10e6, EventBytes: 64, FrameOverhead: 40, LogRecordsPerSec: 1e6,
	NodeCores: 16, NICGbps: 25, DiskMBps: 1000, Headroom: 0.6,
}

// Costs are the measured per-unit CPU costs, in ns; NaN when not measured.
type Costs struct {
	Endpoints float64 // publisher + subscriber per 64 B message (direct run)
	Relay     float64 // relay per 64 B frame (relay run minus direct run)
	Relay1K   float64 // the same at 1 KiB
	LogRecord float64 // one log record, end to end
	// LogSource says where LogRecord comes from.
	LogSource   string
	LogRawBytes float64 // bytes per record as the logger writes it (TSV)
	LogWire     float64 // bytes per record on the wire (compressed)
}

func nan() float64 { return math.NaN() }

// Derive reads the costs from a suite's medians.
func Derive(s *results.Suite) Costs {
	pts := s.Summarize()
	c := Costs{Endpoints: nan(), Relay: nan(), Relay1K: nan(), LogRecord: nan(), LogRawBytes: nan(), LogWire: nan()}
	cpu := func(scenario string, size int) float64 {
		p, _ := results.Find(pts, results.Key{Group: results.GroupPubSub, Scenario: scenario, Size: size}, results.CPUNsPerMsg)
		return p.Weir
	}
	c.Endpoints = cpu("direct", 64)
	if d := cpu("relay", 64) - c.Endpoints; d > 0 {
		c.Relay = d
	}
	if d := cpu("relay", 1024) - cpu("direct", 1024); d > 0 {
		c.Relay1K = d
	}
	// Log records: the end-to-end bench when there is one, at batch 400 s2
	// (Zeek's default batch) or the first point measured.
	logs := results.Select(pts, results.GroupLogs, "cpu_ns_per_record")
	for _, p := range logs {
		if !math.IsNaN(p.Weir) && (math.IsNaN(c.LogRecord) || (p.Key.Batch == 400 && p.Key.Codec == "s2")) {
			c.LogRecord = p.Weir
			c.LogSource = fmt.Sprintf("weir-bench logs (%s, batch %d), all processes", p.Key.Codec, p.Key.Batch)
			if w, ok := results.Find(pts, p.Key, "wire_bytes_per_record"); ok {
				c.LogWire = w.Weir
			}
			if r, ok := results.Find(pts, p.Key, "compression_ratio"); ok && !math.IsNaN(c.LogWire) {
				c.LogRawBytes = c.LogWire * r.Weir
			}
		}
	}
	if math.IsNaN(c.LogRecord) {
		c.logFromMicro(s)
	}
	return c
}

// batchRecords is logsink.DefaultMaxRecords, the batch its codec
// benchmarks compress (400 records).
const batchRecords = 400

// logFromMicro adds up the log pipeline's pieces from logsink's
// micro-benchmarks. Two generations of them exist: the per-record set
// (BatcherAppend, CompressBatch, DecompressLogBatch, ParsePayload,
// ConnWriteViews, each reporting cpu-ns/rec) and the older per-batch one
// (BatcherAppend, Codec/s2/compress and decompress, WriterTSV); the newer
// is used when the run has it.
func (c *Costs) logFromMicro(s *results.Suite) {
	med := func(id, unit string) float64 {
		b, ok := s.FindMicro(id)
		if !ok {
			return nan()
		}
		return stats.Median(b.Values[unit])
	}
	// perRec prefers CPU time per record (steadier on a loaded VM) and
	// falls back to wall time per op.
	perRec := func(id string, recsPerOp float64) float64 {
		if v := med(id, "cpu-ns/rec"); !math.IsNaN(v) {
			return v
		}
		return med(id, "ns/op") / recsPerOp
	}
	if _, ok := s.FindMicro("logsink.CompressBatch/s2"); ok {
		parts := []struct {
			name string
			ns   float64
		}{
			{"encode", perRec("logsink.BatcherAppend/parallel=false", 1)},
			{"s2 compress", perRec("logsink.CompressBatch/s2", batchRecords)},
			{"decompress", perRec("logsink.DecompressLogBatch/s2", batchRecords)},
			{"parse", perRec("logsink.ParsePayload", batchRecords)},
			{"TSV write", perRec("logsink.ConnWriteViews", batchRecords)},
		}
		var sum float64
		var desc []string
		for _, p := range parts {
			sum += p.ns
			desc = append(desc, fmt.Sprintf("%s %.0f", p.name, p.ns))
		}
		if math.IsNaN(sum) {
			return
		}
		c.LogRecord = sum
		c.LogSource = "logsink micro-benchmarks: " + strings.Join(desc, " + ") + " ns (no network: a lower bound)"
		c.LogWire = med("logsink.CompressBatch/s2", "wire-B/rec")
		c.LogRawBytes = c.LogWire * med("logsink.CompressBatch/s2", "ratio-tsv")
		return
	}
	enc := med("logsink.BatcherAppend/parallel=false", "ns/op")
	comp := med("logsink.Codec/s2/compress", "ns/op") / batchRecords
	decomp := med("logsink.Codec/s2/decompress", "ns/op") / batchRecords
	write := med("logsink.WriterTSV", "ns/op")
	sum := enc + comp + decomp + write
	if math.IsNaN(sum) {
		return
	}
	c.LogRecord = sum
	c.LogSource = fmt.Sprintf("logsink micro-benchmarks: encode %.0f + s2 compress %.0f + decompress %.0f + TSV write %.0f ns "+
		"(no network, no decode on the logger: a lower bound)", enc, comp, decomp, write)
	// MB/s × ns/op gives bytes per op: a TSV line; a batch's raw bytes over
	// its ratio give the wire bytes.
	c.LogRawBytes = med("logsink.WriterTSV", "MB/s") * write / 1e3
	ratio := med("logsink.Codec/s2/compress", "ratio")
	raw := med("logsink.Codec/s2/compress", "MB/s") * med("logsink.Codec/s2/compress", "ns/op") / 1e3 / batchRecords
	c.LogWire = raw / ratio
}

// Need is how many nodes a role needs and what binds it.
type Need struct {
	Role     string
	CPUCores float64 // cores of CPU at 100% (before headroom)
	NICGbps  float64 // per direction (links are full duplex)
	DiskMBps float64
	Nodes    int
	Limit    string // "CPU", "NIC" or "disk"
	Note     string
}

// Plan sizes the proxies and loggers of cl from the costs, and states the
// workers' messaging overhead (their count is set by packet analysis, not
// by messaging).
func Plan(c Costs, cl Cluster) []Need {
	var out []Need
	frame := float64(cl.EventBytes + cl.FrameOverhead)
	usableCores := float64(cl.NodeCores) * cl.Headroom
	usableNIC := cl.NICGbps * cl.Headroom
	if !math.IsNaN(c.Endpoints) {
		cores := cl.EventsPerSec * c.Endpoints / 1e9
		out = append(out, Need{Role: "workers (messaging share)", CPUCores: cores, NICGbps: cl.EventsPerSec * frame * 8 / 1e9, DiskMBps: nan(),
			Note: fmt.Sprintf("%.1f cores across all workers and receivers to publish and deliver; spread over the worker fleet", cores)})
	}
	proxies := func(role string, relayNs float64, eventBytes int) {
		frame := float64(eventBytes + cl.FrameOverhead)
		cores := cl.EventsPerSec * relayNs / 1e9
		// A proxy receives and sends every frame; Ethernet is full duplex,
		// so each direction carries the event rate once.
		nic := cl.EventsPerSec * frame * 8 / 1e9
		n := Need{Role: role, CPUCores: cores, NICGbps: nic, DiskMBps: nan()}
		n.Nodes, n.Limit = size(map[string]float64{"CPU": cores / usableCores, "NIC": nic / usableNIC})
		n.Note = fmt.Sprintf("%.2f nodes' worth of CPU, %.2f of NIC", cores/usableCores, nic/usableNIC)
		out = append(out, n)
	}
	if !math.IsNaN(c.Relay) {
		proxies("proxies", c.Relay, cl.EventBytes)
	}
	if !math.IsNaN(c.Relay1K) && cl.EventBytes != 1024 {
		proxies("proxies, if events were 1 KiB", c.Relay1K, 1024)
	}
	if !math.IsNaN(c.LogRecord) {
		cores := cl.LogRecordsPerSec * c.LogRecord / 1e9
		n := Need{Role: "loggers", CPUCores: cores, NICGbps: nan(), DiskMBps: nan()}
		load := map[string]float64{"CPU": cores / usableCores}
		if !math.IsNaN(c.LogWire) {
			n.NICGbps = cl.LogRecordsPerSec * c.LogWire * 8 / 1e9
			load["NIC"] = n.NICGbps / usableNIC
		}
		if !math.IsNaN(c.LogRawBytes) {
			n.DiskMBps = cl.LogRecordsPerSec * c.LogRawBytes / 1e6
			load["disk"] = n.DiskMBps / (cl.DiskMBps * cl.Headroom)
		}
		n.Nodes, n.Limit = size(load)
		n.Note = fmt.Sprintf("%.2f nodes' worth of CPU, %.2f of NIC, %.2f of disk", load["CPU"], load["NIC"], load["disk"])
		out = append(out, n)
	}
	return out
}

// size returns the nodes needed for the given loads (in nodes' worth of
// each resource) and the resource that binds.
func size(load map[string]float64) (int, string) {
	limit, most := "", 0.0
	for _, r := range []string{"CPU", "NIC", "disk"} {
		if v, ok := load[r]; ok && v > most {
			limit, most = r, v
		}
	}
	return int(max(1, math.Ceil(most))), limit
}

// Check is one prediction of the model tested against a measured run on
// the machine that measured the costs.
type Check struct {
	Name      string
	Predicted float64
	Measured  float64
	Unit      string
	Note      string
}

// Error is (predicted − measured) / measured.
func (c Check) Error() float64 { return stats.Delta(c.Measured, c.Predicted) }

// Checks returns the model's predictions for runs in s that s also
// measured.
func Checks(s *results.Suite) []Check {
	pts := s.Summarize()
	var out []Check
	cores := float64(max(1, s.Meta.Machine.Cores))
	fan := func(subs int, metric string) float64 {
		p, _ := results.Find(pts, results.Key{Group: results.GroupFanout, Scenario: "fanout", Size: 64, Subs: subs}, metric)
		return p.Weir
	}
	c1, c4, c16 := fan(1, results.CPUNsPerMsg), fan(4, results.CPUNsPerMsg), fan(16, results.CPUNsPerMsg)
	if !math.IsNaN(c1 + c4 + c16) {
		// CPU per published message = a + b·subs, fitted on 1 and 4.
		b := (c4 - c1) / 3
		a := c1 - b
		pred := a + 16*b
		out = append(out, Check{Name: "fan-out to 16 subs: CPU per published message", Predicted: pred, Measured: c16, Unit: "ns",
			Note: fmt.Sprintf("fitted on 1 and 4 subs: %.0f ns per message + %.0f ns per subscriber", a, b)})
		// If the 16-sub run is CPU-bound, its aggregate rate is
		// 16 · cores / CPU per message.
		rate := 16 * cores * 1e9 / pred
		measured := fan(16, results.MsgsPerSec)
		out = append(out, Check{Name: "fan-out to 16 subs: aggregate deliveries/s if CPU-bound", Predicted: rate,
			Measured: measured, Unit: "msgs/s",
			Note: fmt.Sprintf("the predicted cost on %d cores; the run kept %.0f%% of the cores busy (measured rate × measured cost)",
				int(cores), 100*measured/16*c16/(cores*1e9))})
	}
	relay := func(metric string) float64 {
		p, _ := results.Find(pts, results.Key{Group: results.GroupPubSub, Scenario: "relay", Size: 64}, metric)
		return p.Weir
	}
	if c := relay(results.CPUNsPerMsg); !math.IsNaN(c) {
		m := relay(results.MsgsPerSec)
		out = append(out, Check{Name: "relay 64 B: msgs/s if CPU-bound", Predicted: cores * 1e9 / c, Measured: m,
			Unit: "msgs/s", Note: fmt.Sprintf("%.0f ns of CPU per message over %d cores; the run kept %.0f%% of them busy",
				c, int(cores), 100*m*c/(cores*1e9))})
	}
	return out
}

// Markdown writes the costs, the plan for cl and the checks.
func Markdown(s *results.Suite, cl Cluster) string {
	c := Derive(s)
	var b strings.Builder
	b.WriteString("\n## Scaling beyond one machine, on paper (from this run)\n\n")
	b.WriteString("Measured costs (CPU ns per unit, all processes of the run):\n\n| cost | ns | source |\n|---|---:|---|\n")
	fmt.Fprintf(&b, "| publish + deliver a 64 B message (endpoints) | %s | weir direct run |\n", results.Num(c.Endpoints))
	fmt.Fprintf(&b, "| relay a 64 B frame | %s | relay run minus direct run |\n", results.Num(c.Relay))
	fmt.Fprintf(&b, "| relay a 1 KiB frame | %s | relay run minus direct run |\n", results.Num(c.Relay1K))
	src := c.LogSource
	if src == "" {
		src = "not measured"
	}
	fmt.Fprintf(&b, "| ship and write a log record | %s | %s |\n", results.Num(c.LogRecord), src)
	fmt.Fprintf(&b, "\nPlan for %s events/s (%d B, one proxy hop each) and %s log records/s on %d-core nodes with %.0f GbE "+
		"and %.0f MB/s disks, using %.0f%% of each:\n\n", results.Num(cl.EventsPerSec), cl.EventBytes,
		results.Num(cl.LogRecordsPerSec), cl.NodeCores, cl.NICGbps, cl.DiskMBps, 100*cl.Headroom)
	b.WriteString("| role | CPU cores | NIC Gb/s each way | disk MB/s | nodes | bound by | |\n|---|---:|---:|---:|---:|---|---|\n")
	for _, n := range Plan(c, cl) {
		nodes := "—"
		if n.Nodes > 0 {
			nodes = fmt.Sprint(n.Nodes)
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %s | %s |\n", n.Role, results.Num(n.CPUCores), results.Num(n.NICGbps),
			results.Num(n.DiskMBps), nodes,
			orDash(n.Limit), n.Note)
	}
	if checks := Checks(s); len(checks) > 0 {
		b.WriteString("\nThe model against measured multi-process runs on this machine:\n\n")
		b.WriteString("| prediction | predicted | measured | error | |\n|---|---:|---:|---:|---|\n")
		for _, ch := range checks {
			fmt.Fprintf(&b, "| %s | %s %s | %s %s | %s | %s |\n", ch.Name, results.Num(ch.Predicted), ch.Unit,
				results.Num(ch.Measured), ch.Unit, results.Pct(ch.Error()), ch.Note)
		}
	}
	return b.String()
}

func orDash(s string) string {
	if s == "" {
		return "—"
	}
	return s
}
