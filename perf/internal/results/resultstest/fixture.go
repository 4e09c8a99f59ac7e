package resultstest

import "github.com/weirio/weir/perf/internal/results"

// Suite returns a two-run suite whose figures are scaled by f (1 for the
// base; 0.8 for a run 20% slower on rates and 25% costlier per message).
// logs says whether it has log shipping points or records them as
// unavailable.
func Suite(f float64, logs bool) *results.Suite {
	s := &results.Suite{Meta: results.Meta{
		Date: "2026-11-26T07:00:00Z", Commit: "686558b0000000000000000000000000000000000", ShortCommit: "686558b",
		GoVersion: "go1.26.8", Command: "perf/run --quick", Quick: true, Runs: 2, Source: "clean export of HEAD",
		Machine: results.Machine{CPUModel: "AMD EPYC", Cores: 2, Kernel: "6.1.0", MemBytes: 24 << 30},
		Peers:   []string{"nats-server v2.15.2"},
	}}
	add := func(k results.Key, sys string, run int, m map[string]float64) {
		s.Samples = append(s.Samples, results.Sample{Key: k, System: sys, Run: run, Metrics: m})
	}
	for run := 1; run <= 2; run++ {
		jitter := 1 + 0.02*float64(run-1)
		for _, size := range []int{16, 64, 256, 1024, 16384} {
			scale := 64.0 / float64(max(size, 64))
			rate := func(base float64) float64 { return base * scale * f * jitter }
			cost := func(base float64) float64 { return base / f * jitter }
			add(results.Key{Group: results.GroupPubSub, Scenario: "direct", Size: size}, results.Weir, run,
				map[string]float64{results.MsgsPerSec: rate(1.0e6), results.CPUNsPerMsg: cost(600)})
			k := results.Key{Group: results.GroupPubSub, Scenario: "relay", Size: size}
			add(k, results.Weir, run, map[string]float64{results.MsgsPerSec: rate(7e5), results.CPUNsPerMsg: cost(900),
				results.MBPerSec: rate(7e5) * float64(size) / 1e6})
			add(k, results.NATS, run, map[string]float64{results.MsgsPerSec: rate(3.5e5), results.CPUNsPerMsg: cost(2500)})
		}
		for _, subs := range []int{1, 4, 16} {
			k := results.Key{Group: results.GroupFanout, Scenario: "fanout", Size: 64, Subs: subs}
			add(k, results.Weir, run, map[string]float64{
				results.MsgsPerSec: 7e5 * float64(subs) / (1 + 0.1*float64(subs)) * f, results.PerSubMsgsPerSec: 7e5 / (1 + 0.1*float64(subs)) * f,
				results.CPUNsPerMsg: (700 + 300*float64(subs)) / f, results.CPUNsPerDelivery: (700 + 300*float64(subs)) / float64(subs) / f,
			})
			add(k, results.NATS, run, map[string]float64{results.MsgsPerSec: 2.5e5 * float64(subs) / (1 + 0.3*float64(subs))})
		}
		for _, r := range []float64{10_000, 50_000, 200_000} {
			k := results.Key{Group: results.GroupLatency, Scenario: "relay", Size: 64, Rate: r}
			add(k, results.Weir, run, map[string]float64{results.P50: 100 + r/1000, results.P90: 200 + r/500,
				results.P99: (400 + r/200) / f, results.P999: 2000, results.AchievedRate: r})
			add(k, results.NATS, run, map[string]float64{results.P50: 500 + r/100, results.P90: 900, results.P99: 3000 + r/50,
				results.P999: 9000, results.AchievedRate: r * 0.9})
		}
		if logs {
			for _, codec := range []string{"s2", "zstd"} {
				for _, batch := range []int{100, 400, 1600} {
					k := results.Key{Group: results.GroupLogs, Scenario: "logs", Batch: batch, Codec: codec}
					c := map[string]float64{"s2": 1, "zstd": 0.7}[codec]
					add(k, results.Weir, run, map[string]float64{results.RecordsPerSec: 2e5 * c * f * (1 + float64(batch)/1600),
						"cpu_ns_per_record": 1500 / c, "wire_bytes_per_record": 40 * c, "compression_ratio": 6 / c,
						"lost": 0, "duplicates": 0})
				}
			}
		}
	}
	if !logs {
		s.Unavailable = append(s.Unavailable, results.Unavailable{What: "logs (weir-bench logs)", Why: "no logs subcommand"})
	}
	s.Unavailable = append(s.Unavailable, results.Unavailable{What: "store (weir-bench store)", Why: "no store subcommand"})
	// A failed NATS run: kept, but out of the medians.
	s.Samples = append(s.Samples, results.Sample{Key: results.Key{Group: results.GroupFanout, Scenario: "fanout", Size: 64, Subs: 16},
		System: results.NATS, Run: 3, Error: "slow consumer", Metrics: map[string]float64{results.MsgsPerSec: 1}})
	// Micro-benchmarks: five samples each; Pick moves by f, Match does not.
	s.Micro = []results.Benchmark{
		{Pkg: "github.com/weirio/weir/router", Name: "Match/cached", Values: map[string][]float64{
			"ns/op": {24.1, 24.5, 23.9, 24.3, 24.0}, "B/op": {0, 0, 0, 0, 0}, "allocs/op": {0, 0, 0, 0, 0}}},
		{Pkg: "github.com/weirio/weir/hrw", Name: "Pick/members=16", Values: map[string][]float64{
			"ns/op": {46 / f, 47 / f, 46.5 / f, 45.8 / f, 46.2 / f}}},
		{Pkg: "github.com/weirio/weir/logsink", Name: "Codec/s2/compress", Values: map[string][]float64{
			"ns/op": {80000, 81000, 79000}, "MB/s": {1200, 1190, 1210}, "ratio": {5.5, 5.5, 5.5}}},
		{Pkg: "github.com/weirio/weir/logsink", Name: "Codec/s2/decompress", Values: map[string][]float64{"ns/op": {40000, 40500, 39800}}},
		{Pkg: "github.com/weirio/weir/logsink", Name: "BatcherAppend/parallel=false", Values: map[string][]float64{"ns/op": {150, 152, 149}}},
		{Pkg: "github.com/weirio/weir/logsink", Name: "WriterTSV", Values: map[string][]float64{"ns/op": {400, 410, 405}, "MB/s": {600, 590, 605}}},
	}
	return s
}
