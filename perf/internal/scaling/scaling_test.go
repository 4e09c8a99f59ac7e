package scaling

import (
	"math"
	"strings"
	"testing"

	"github.com/weirio/weir/perf/internal/results"
	"github.com/weirio/weir/perf/internal/results/resultstest"
)

func near(a, b float64) bool { return math.Abs(a-b) <= 1e-6*math.Max(1, math.Abs(b)) }

func TestDeriveFromScenarios(t *testing.T) {
	c := Derive(resultstest.Suite(1, true))
	// Fixture: direct 600 ns/msg, relay 900 (run 2 is 2% costlier: medians
	// are 1.01×).
	if !near(c.Endpoints, 606) || !near(c.Relay, 303) || !near(c.Relay1K, 303) {
		t.Errorf("pub/sub costs %+v", c)
	}
	if !near(c.LogRecord, 1500) || !near(c.LogWire, 40) || !near(c.LogRawBytes, 240) || !strings.Contains(c.LogSource, "weir-bench logs (s2, batch 400)") {
		t.Errorf("log costs %+v", c)
	}
}

func TestDeriveLogsFromMicro(t *testing.T) {
	c := Derive(resultstest.Suite(1, false))
	// encode 150 + compress 80000/400 + decompress 40000/400 + TSV 405.
	if !near(c.LogRecord, 150+200+100+405) || !strings.Contains(c.LogSource, "micro-benchmarks") {
		t.Errorf("log record %v from %q", c.LogRecord, c.LogSource)
	}
	// TSV line: 600 MB/s × 405 ns = 243 bytes; wire: 1200 MB/s × 80 µs / 400 / 5.5.
	if !near(c.LogRawBytes, 243) || !near(c.LogWire, 1200*80000/1e3/400/5.5) {
		t.Errorf("log bytes raw %v wire %v", c.LogRawBytes, c.LogWire)
	}
}

func TestDeriveLogsFromNewMicro(t *testing.T) {
	s := resultstest.Suite(1, false)
	s.Micro = append(s.Micro,
		results.Benchmark{Pkg: "github.com/weirio/weir/logsink", Name: "CompressBatch/s2", Values: map[string][]float64{
			"ns/op": {40000}, "cpu-ns/rec": {100}, "wire-B/rec": {30}, "ratio-tsv": {7}}},
		results.Benchmark{Pkg: "github.com/weirio/weir/logsink", Name: "DecompressLogBatch/s2", Values: map[string][]float64{"cpu-ns/rec": {50}}},
		results.Benchmark{Pkg: "github.com/weirio/weir/logsink", Name: "ParsePayload", Values: map[string][]float64{"cpu-ns/rec": {200}}},
		// No cpu-ns/rec: wall time per 400-record op.
		results.Benchmark{Pkg: "github.com/weirio/weir/logsink", Name: "ConnWriteViews", Values: map[string][]float64{"ns/op": {160000}}},
	)
	c := Derive(s)
	// encode 150 (ns/op of BatcherAppend) + 100 + 50 + 200 + 400.
	if !near(c.LogRecord, 900) || !near(c.LogWire, 30) || !near(c.LogRawBytes, 210) || !strings.Contains(c.LogSource, "parse 200") {
		t.Errorf("costs %+v", c)
	}
}

func TestPlan(t *testing.T) {
	c := Costs{Endpoints: 600, Relay: 300, Relay1K: math.NaN(), LogRecord: 1500, LogWire: 40, LogRawBytes: 240}
	needs := Plan(c, DefaultCluster)
	if len(needs) != 3 {
		t.Fatalf("needs %+v", needs)
	}
	w, p, l := needs[0], needs[1], needs[2]
	if !near(w.CPUCores, 6) || w.Nodes != 0 {
		t.Errorf("workers %+v", w)
	}
	// Proxies: 3 cores of relay (0.31 of 9.6 usable), and 10M × 104 B × 8
	// = 8.32 Gb/s each way (0.55 of 15 usable): one node, NIC-bound.
	if !near(p.CPUCores, 3) || !near(p.NICGbps, 8.32) || p.Nodes != 1 || p.Limit != "NIC" {
		t.Errorf("proxies %+v", p)
	}
	// Loggers: 240 MB/s of TSV against 600 MB/s usable disk; 1.5 cores.
	if !near(l.DiskMBps, 240) || !near(l.CPUCores, 1.5) || l.Nodes != 1 || l.Limit != "disk" {
		t.Errorf("loggers %+v", l)
	}
	// Costlier relays: 40 cores / 9.6 usable per node = 5 nodes, CPU-bound.
	c.Relay = 4000
	if p := Plan(c, DefaultCluster)[1]; p.Nodes != 5 || p.Limit != "CPU" {
		t.Errorf("CPU-bound proxies %+v", p)
	}
	// 1 KiB events: 10M × 1064 B × 8 = 85 Gb/s over 15 usable: 6 nodes.
	c.Relay1K = 2000
	if p := Plan(c, DefaultCluster)[2]; p.Nodes != 6 || p.Limit != "NIC" || !near(p.CPUCores, 20) {
		t.Errorf("1 KiB proxies %+v", p)
	}
	if got := Plan(Costs{Endpoints: math.NaN(), Relay: math.NaN(), Relay1K: math.NaN(), LogRecord: math.NaN()}, DefaultCluster); len(got) != 0 {
		t.Errorf("plan from nothing: %+v", got)
	}
}

func TestChecks(t *testing.T) {
	checks := Checks(resultstest.Suite(1, true))
	if len(checks) != 3 {
		t.Fatalf("checks %+v", checks)
	}
	// The fixture's fan-out cost is exactly 700 + 300·subs: the fit is exact.
	if !near(checks[0].Predicted, 5500) || !near(checks[0].Measured, 5500) || !near(checks[0].Error(), 0) {
		t.Errorf("fan-out cost check %+v", checks[0])
	}
	if !near(checks[1].Predicted, 16*2e9/5500) {
		t.Errorf("fan-out rate check %+v", checks[1])
	}
	if !near(checks[2].Predicted, 2e9/909) || !near(checks[2].Measured, 707000) {
		t.Errorf("relay check %+v", checks[2])
	}
	md := Markdown(resultstest.Suite(1, true), DefaultCluster)
	for _, want := range []string{"| relay a 64 B frame | 303 |", "| proxies | 3.03 | 8.32 | — | 1 | NIC |", "| fan-out to 16 subs: CPU per published message | 5,500 ns | 5,500 ns | +0.0% |"} {
		if !strings.Contains(md, want) {
			t.Errorf("markdown lacks %q:\n%s", want, md)
		}
	}
}
