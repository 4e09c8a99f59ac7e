package results_test

import (
	"bytes"
	"encoding/csv"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/weirio/weir/perf/internal/results"
	"github.com/weirio/weir/perf/internal/results/resultstest"
	"github.com/weirio/weir/perf/internal/stats"
)

func TestSummarize(t *testing.T) {
	s := resultstest.Suite(1, true)
	pts := s.Summarize()
	k := results.Key{Group: results.GroupPubSub, Scenario: "relay", Size: 64}
	p, ok := results.Find(pts, k, results.MsgsPerSec)
	if !ok || p.WeirN != 2 || p.PeerN != 2 {
		t.Fatalf("relay 64: %+v, %v", p, ok)
	}
	// Runs are 1.00× and 1.02×: the median of two is their mean.
	if math.Abs(p.Weir-7e5*1.01) > 1e-6 || math.Abs(p.Peer-3.5e5*1.01) > 1e-6 || math.Abs(p.Ratio()-2) > 1e-12 {
		t.Errorf("medians: weir %v nats %v ratio %v", p.Weir, p.Peer, p.Ratio())
	}
	// The failed NATS fan-out run (msgs/s 1) is not in the median.
	f, _ := results.Find(pts, results.Key{Group: results.GroupFanout, Scenario: "fanout", Size: 64, Subs: 16}, results.MsgsPerSec)
	if f.PeerN != 2 || f.Peer < 1000 {
		t.Errorf("failed sample counted: %+v", f)
	}
	// Weir-only metric: peer is NaN, ratio NaN.
	d, _ := results.Find(pts, results.Key{Group: results.GroupPubSub, Scenario: "direct", Size: 64}, results.MsgsPerSec)
	if d.PeerN != 0 || !math.IsNaN(d.Peer) || !math.IsNaN(d.Ratio()) {
		t.Errorf("direct: %+v", d)
	}
	if got := len(results.Select(pts, results.GroupLatency, results.P99)); got != 3 {
		t.Errorf("latency p99 points: %d", got)
	}
	if _, ok := results.Find(pts, k, "no-such-metric"); ok {
		t.Error("found a metric that was never recorded")
	}
}

func TestSaveLoadCSV(t *testing.T) {
	dir := t.TempDir()
	s := resultstest.Suite(1, false)
	s.Samples[0].Metrics["bad"] = math.NaN() // JSON has no NaN: dropped on save
	if err := results.Save(dir, s); err != nil {
		t.Fatal(err)
	}
	got, err := results.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, s) {
		t.Errorf("round trip differs:\n%+v\n%+v", got.Meta, s.Meta)
	}
	if _, ok := got.Samples[0].Metrics["bad"]; ok {
		t.Error("NaN metric saved")
	}

	rows := readCSV(t, filepath.Join(dir, results.SamplesCSV))
	if strings.Join(rows[0], ",") != "group,scenario,size,subs,rate,batch,codec,system,run,metric,value,error" {
		t.Errorf("samples header %v", rows[0])
	}
	metrics := 0
	for _, smp := range s.Samples {
		metrics += max(1, len(smp.Metrics))
	}
	if len(rows)-1 != metrics {
		t.Errorf("samples rows %d, want %d", len(rows)-1, metrics)
	}
	var failed []string
	for _, r := range rows[1:] {
		if r[11] != "" {
			failed = append(failed, r[7]+" "+r[9]+" "+r[10])
		}
	}
	if len(failed) != 1 || failed[0] != "nats msgs_per_sec 1" {
		t.Errorf("failed rows %v", failed)
	}

	sum := readCSV(t, filepath.Join(dir, results.SummaryCSV))
	found := false
	for _, r := range sum[1:] {
		if r[0] == "pubsub" && r[1] == "relay" && r[2] == "1024" && r[7] == results.MsgsPerSec {
			ratio, _ := strconv.ParseFloat(r[10], 64)
			found = math.Abs(ratio-2) < 1e-9 && r[11] == "2" && r[12] == "2"
		}
	}
	if !found {
		t.Errorf("summary lacks relay 1024 msgs/s with ratio 2 and 2/2 runs: %v", sum[:3])
	}
	micro := readCSV(t, filepath.Join(dir, results.MicroCSV))
	if len(micro)-1 != 15+5+9+3+3+6 {
		t.Errorf("micro rows %d", len(micro)-1)
	}
	if _, err := results.Load(filepath.Join(dir, "missing")); err == nil {
		t.Error("loading a missing dir succeeded")
	}
}

func readCSV(t *testing.T, path string) [][]string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	rows, err := csv.NewReader(bytes.NewReader(b)).ReadAll()
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return rows
}

func TestMarkdown(t *testing.T) {
	var b strings.Builder
	if err := results.WriteMarkdown(&b, resultstest.Suite(1, false)); err != nil {
		t.Fatal(err)
	}
	md := b.String()
	for _, want := range []string{
		"AMD EPYC, 2 cores, 24.0 GiB, Linux 6.1.0",
		"| pub → relay → sub, 64 B, msgs/s | 707,000 | 353,500 | 2.00× |",
		"| pub → sub direct (no broker), 64 B, msgs/s | 1,010,000 | — | — |",
		"| log shipping, records/s | not available in this build (no weir-bench logs) | — | — |",
		"| 16 KiB |",
		"Not available in this build: no logs subcommand",
		"| router.Match/cached | 24.1 |",
		"- **store (weir-bench store)**: no store subcommand",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("markdown lacks %q", want)
		}
	}
	b.Reset()
	_ = results.WriteMarkdown(&b, resultstest.Suite(1, true))
	if !strings.Contains(b.String(), "| batch=1600 codec=s2 |") || !strings.Contains(b.String(), "log shipping, records/s (best: s2, batch 1600)") {
		t.Errorf("logs table or headline missing:\n%s", b.String())
	}
}

func TestAddBench(t *testing.T) {
	var s results.Suite
	s.AddBench([]stats.BenchLine{
		{Pkg: "p", Name: "A", Values: map[string]float64{"ns/op": 1}},
		{Pkg: "p", Name: "B", Values: map[string]float64{"ns/op": 5}},
		{Pkg: "p", Name: "A", Values: map[string]float64{"ns/op": 2, "B/op": 0}},
	})
	if len(s.Micro) != 2 || !reflect.DeepEqual(s.Micro[0].Values["ns/op"], []float64{1, 2}) || len(s.Micro[0].Values["B/op"]) != 1 {
		t.Errorf("merged %+v", s.Micro)
	}
	if _, ok := s.FindMicro("p.B"); !ok {
		t.Error("FindMicro")
	}
}

func TestFormatAndDirection(t *testing.T) {
	for v, want := range map[float64]string{1234567.4: "1,234,567", -4321: "-4,321", 512.4: "512", 12.34: "12.3",
		1.234: "1.23", 0: "0", math.NaN(): "—"} {
		if got := results.Num(v); got != want {
			t.Errorf("Num(%v) = %q, want %q", v, got, want)
		}
	}
	if results.Ratio(1.934) != "1.93×" || results.Pct(-0.1234) != "-12.3%" || results.SizeLabel(16384) != "16 KiB" ||
		results.SizeLabel(256) != "256 B" {
		t.Error("Ratio, Pct or SizeLabel")
	}
	for m, lower := range map[string]bool{results.MsgsPerSec: false, results.P99: true, results.CPUNsPerMsg: true,
		"wire_bytes_per_record": true, "compression_ratio": false, "ns/op": true, "MB/s": false, "allocs/op": true,
		"staleness_p50_us": true, "lost": true, "puts_vs_local": false} {
		if results.LowerIsBetter(m) != lower {
			t.Errorf("LowerIsBetter(%q) = %v", m, !lower)
		}
	}
	k := results.Key{Group: "logs", Scenario: "logs", Batch: 400, Codec: "s2"}
	if k.String() != "logs batch=400 codec=s2" {
		t.Errorf("key %q", k.String())
	}
}
