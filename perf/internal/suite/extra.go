package suite

import (
	"bytes"
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"github.com/weirio/weir/perf/internal/results"
	"github.com/weirio/weir/perf/internal/stats"
)

// micro runs the Go micro-benchmarks of the plan and adds their samples.
func (r *runner) micro(ctx context.Context) {
	for _, m := range r.plan.Micro {
		r.logf("go test -bench '%s' -count %d -benchtime %s %s", m.Bench, m.Count, m.Benchtime, m.Pkg)
		raw := filepath.Join(r.scratch, "micro-"+strings.Trim(strings.ReplaceAll(m.Pkg, "/", "-"), ".-")+".txt")
		timeout := 3 * time.Minute
		if !r.o.Quick {
			timeout = 20 * time.Minute
		}
		p := runCmd(ctx, cmdSpec{Dir: r.src, Timeout: timeout, Raw: raw}, "go", "test", "-run", "^$",
			"-bench", m.Bench, "-benchmem", "-count", itoa(m.Count), "-benchtime", m.Benchtime, m.Pkg)
		lines, err := stats.ParseBench(bytes.NewReader(p.Stdout))
		switch {
		case err != nil:
			r.unavailable("micro-benchmarks "+m.Pkg, "cannot parse go test output: "+err.Error())
		case p.Err != nil && len(lines) == 0:
			r.unavailable("micro-benchmarks "+m.Pkg, fmt.Sprintf("go test failed: %v: %s", p.Err, lastLines(p.Stdout, 5)))
		default:
			if p.Err != nil {
				r.s.Notes = append(r.s.Notes, fmt.Sprintf("go test %s failed after %d results: %v", m.Pkg, len(lines), p.Err))
			}
			r.s.AddBench(lines)
			r.logf("%s: %d samples", m.Pkg, len(lines))
		}
	}
}

func lastLines(b []byte, n int) string {
	ls := strings.Split(strings.TrimSpace(string(b)), "\n")
	return strings.Join(ls[max(0, len(ls)-n):], " / ")
}

// probe reports whether this weir-bench has subcommand sub with the given
// flags (see hasSubcommand).
func (r *runner) probe(ctx context.Context, sub string, flags ...string) bool {
	p := runCmd(ctx, cmdSpec{Dir: r.scratch, Timeout: 30 * time.Second}, r.bench, sub, "-h")
	return hasSubcommand(string(p.Stdout)+string(p.Stderr), flags...)
}

// logs sweeps `weir-bench logs` over batch sizes and codecs, if this build
// has it.
func (r *runner) logs(ctx context.Context) {
	if !r.probe(ctx, "logs", "records", "codec", "batch") {
		r.logf("weir-bench has no logs subcommand: recorded as not available")
		r.unavailable("logs (weir-bench logs)", "this build of weir-bench has no `logs` subcommand (`weir-bench logs -h` "+
			"does not document --records, --codec and --batch); nothing was measured")
		return
	}
	for run := 1; run <= r.o.Runs; run++ {
		for _, codec := range r.plan.LogCodecs {
			for _, batch := range r.plan.LogBatches {
				key := results.Key{Group: results.GroupLogs, Scenario: "logs", Batch: batch, Codec: codec}
				r.tool(ctx, key, run, checkLogs, "logs", "--workers", itoa(r.plan.LogWorkers), "--loggers",
					itoa(r.plan.LogLoggers), "--records", itoa(r.plan.LogRecords), "--codec", codec, "--batch", itoa(batch), "--json")
				if ctx.Err() != nil {
					return
				}
			}
		}
	}
}

// store runs `weir-bench store`, if this build has it.
func (r *runner) store(ctx context.Context) {
	if !r.probe(ctx, "store", "clones", "ops") {
		r.logf("weir-bench has no store subcommand: recorded as not available")
		r.unavailable("store (weir-bench store)", "this build of weir-bench has no `store` subcommand (`weir-bench store -h` "+
			"does not document --clones and --ops); nothing was measured")
		return
	}
	for run := 1; run <= r.o.Runs; run++ {
		key := results.Key{Group: results.GroupStore, Scenario: "store", Subs: r.plan.StoreClones}
		check := func(m map[string]float64) error {
			if m[results.PutsPerSec] <= 0 {
				return fmt.Errorf("no %s in the output", results.PutsPerSec)
			}
			m["cpu_ns_per_op"] = m["cpu_sec"] * 1e9 / float64(r.plan.StoreOps)
			return nil
		}
		r.tool(ctx, key, run, check, "store", "--clones", itoa(r.plan.StoreClones), "--ops", itoa(r.plan.StoreOps), "--json")
		if ctx.Err() != nil {
			return
		}
	}
}

// tool runs a weir-bench subcommand whose --json output is one object,
// records every number in it plus the process tree's CPU and wall time,
// and lets check reject (or extend) the metrics.
func (r *runner) tool(ctx context.Context, key results.Key, run int, check func(map[string]float64) error, args ...string) {
	path, name := r.rawPath(results.Weir, key, run, ".json")
	p := runCmd(ctx, cmdSpec{Dir: r.scratch, Timeout: r.plan.RunTimeout, Raw: path}, r.bench, args...)
	smp := results.Sample{Key: key, System: results.Weir, Run: run, Raw: name}
	m, _, err := flattenJSON(p.Stdout)
	if err != nil {
		smp.Error = fmt.Sprintf("%v (exit %d): %s", err, p.exitCode(), p.tail(300))
		r.record(smp)
		return
	}
	m["cpu_sec"] = p.CPUSec()
	m["wall_sec"] = p.Wall.Seconds()
	if err := check(m); err != nil {
		smp.Error = err.Error()
	} else if p.Err != nil {
		smp.Error = fmt.Sprintf("weir-bench %s: %v: %s", args[0], p.Err, p.tail(300))
	}
	smp.Metrics = m
	r.s.Samples = append(r.s.Samples, smp)
	r.logf("weir %s run %d: %s", key, run, summaryLine(m, smp.Error))
}

func summaryLine(m map[string]float64, errText string) string {
	if errText != "" {
		return errText
	}
	var parts []string
	for _, k := range sortedKeys(m) {
		if strings.HasSuffix(k, "_per_sec") {
			parts = append(parts, k+" "+results.Num(m[k]))
		}
	}
	return strings.Join(parts, ", ")
}
