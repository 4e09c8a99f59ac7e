package suite

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/weirio/weir/perf/internal/results"
)

// weirReport is the part of `weir-bench pubsub --json` the suite reads
// (internal/bench.Report). It is decoded here rather than imported so the
// suite keeps building while the bench engine changes.
type weirReport struct {
	Sub struct {
		Expected         uint64  `json:"expected"`
		Received         uint64  `json:"received"`
		Lost             uint64  `json:"lost"`
		Duplicates       uint64  `json:"duplicates"`
		Reordered        uint64  `json:"reordered"`
		Bad              uint64  `json:"bad"`
		MsgsPerSec       float64 `json:"msgs_per_sec"`
		MBPerSec         float64 `json:"mb_per_sec"`
		PerSubMsgsPerSec float64 `json:"per_sub_msgs_per_sec"`
	} `json:"sub"`
	Pub struct {
		Sent       uint64  `json:"sent"`
		MsgsPerSec float64 `json:"msgs_per_sec"`
		Dropped    uint64  `json:"dropped"`
		Errors     uint64  `json:"errors"`
	} `json:"pub"`
	Latency struct {
		Count int64   `json:"count"`
		P50   float64 `json:"p50_us"`
		P90   float64 `json:"p90_us"`
		P99   float64 `json:"p99_us"`
		P999  float64 `json:"p99_9_us"`
		Max   float64 `json:"max_us"`
	} `json:"latency"`
	Relay *struct {
		Forwarded uint64 `json:"forwarded"`
		Dropped   uint64 `json:"dropped"`
	} `json:"relay"`
}

// parseWeirPubSub turns weir-bench's JSON into metrics. cpuSec is the CPU
// the whole run used (every role process). A run that lost, duplicated,
// reordered or dropped anything returns its metrics and a non-nil error.
func parseWeirPubSub(out []byte, cpuSec float64) (map[string]float64, error) {
	var r weirReport
	if err := json.Unmarshal(bytes.TrimSpace(out), &r); err != nil {
		return nil, fmt.Errorf("cannot parse weir-bench output: %w", err)
	}
	if r.Pub.Sent == 0 && r.Sub.Received == 0 {
		return nil, errors.New("weir-bench reported no messages")
	}
	dropped := r.Pub.Dropped
	if r.Relay != nil {
		dropped += r.Relay.Dropped
	}
	m := map[string]float64{
		results.MsgsPerSec:       r.Sub.MsgsPerSec,
		results.MBPerSec:         r.Sub.MBPerSec,
		results.PerSubMsgsPerSec: r.Sub.PerSubMsgsPerSec,
		"pub_msgs_per_sec":       r.Pub.MsgsPerSec,
		"lost":                   float64(r.Sub.Lost),
		"duplicates":             float64(r.Sub.Duplicates),
		"reordered":              float64(r.Sub.Reordered),
		"dropped":                float64(dropped),
		results.P50:              r.Latency.P50,
		results.P90:              r.Latency.P90,
		results.P99:              r.Latency.P99,
		results.P999:             r.Latency.P999,
		"cpu_sec":                cpuSec,
	}
	if cpuSec > 0 && r.Pub.Sent > 0 {
		m[results.CPUNsPerMsg] = cpuSec * 1e9 / float64(r.Pub.Sent)
	}
	if cpuSec > 0 && r.Sub.Received > 0 {
		m[results.CPUNsPerDelivery] = cpuSec * 1e9 / float64(r.Sub.Received)
	}
	if r.Sub.Lost+r.Sub.Duplicates+r.Sub.Reordered+r.Sub.Bad+dropped+r.Pub.Errors > 0 {
		return m, fmt.Errorf("not clean: lost %d, duplicates %d, reordered %d, bad %d, dropped %d, publish errors %d",
			r.Sub.Lost, r.Sub.Duplicates, r.Sub.Reordered, r.Sub.Bad, dropped, r.Pub.Errors)
	}
	return m, nil
}

// flattenJSON returns every number in a JSON object, nested objects'
// fields named "outer.inner"; strings, booleans and arrays are skipped
// (booleans as 1/0 are kept). It is how the suite reads `weir-bench logs`
// and `weir-bench store`, whose outputs it only knows in part.
func flattenJSON(out []byte) (map[string]float64, map[string]string, error) {
	var v map[string]any
	dec := json.NewDecoder(bytes.NewReader(bytes.TrimSpace(out)))
	dec.UseNumber()
	if err := dec.Decode(&v); err != nil {
		return nil, nil, fmt.Errorf("cannot parse JSON output: %w", err)
	}
	nums, strs := map[string]float64{}, map[string]string{}
	var walk func(prefix string, m map[string]any)
	walk = func(prefix string, m map[string]any) {
		for k, x := range m {
			name := prefix + k
			switch x := x.(type) {
			case json.Number:
				if f, err := x.Float64(); err == nil {
					nums[name] = f
				}
			case bool:
				nums[name] = 0
				if x {
					nums[name] = 1
				}
			case string:
				strs[name] = x
			case map[string]any:
				walk(name+".", x)
			}
		}
	}
	walk("", v)
	return nums, strs, nil
}

// checkLogs reports a log run that lost or duplicated records.
func checkLogs(m map[string]float64) error {
	if m["lost"] > 0 || m["duplicates"] > 0 {
		return fmt.Errorf("not clean: lost %.0f, duplicates %.0f", m["lost"], m["duplicates"])
	}
	if m[results.RecordsPerSec] <= 0 {
		return errors.New("no records_per_sec in the output")
	}
	return nil
}

// hasSubcommand reports whether `weir-bench SUB -h` output documents the
// given flags: older builds answer every unknown subcommand with the
// pubsub usage, so the exit status alone cannot tell.
func hasSubcommand(helpOutput string, flags ...string) bool {
	for _, f := range flags {
		if !strings.Contains(helpOutput, "-"+f) {
			return false
		}
	}
	return true
}

// sortedKeys returns m's keys, sorted.
func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
