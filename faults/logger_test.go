//go:build faults

package faults

import (
	"encoding/json"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

// TestLoggerKilled (case 1): of two loggers, one is SIGKILLed half way
// through a stream of conn.log records and restarted on the same address
// and directory; afterwards every record id is in the loggers' files
// exactly once.
//
// It runs the weir-bench scenario that does exactly that (`weir-bench
// logs --kill-at`, loggers as child processes, which the test binary
// cannot be) from a fresh build of cmd/bench, and checks its JSON result.
func TestLoggerKilled(t *testing.T) {
	r := newReport(t, "1.logger-kill")
	bin := filepath.Join(t.TempDir(), "weir-bench")
	build := exec.Command("go", "build", "-o", bin, "github.com/weirio/weir/cmd/bench")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build weir-bench: %v\n%s", err, out)
	}
	const records = 100_000
	start := time.Now()
	cmd := exec.Command(bin, "logs", "--records", strconv.Itoa(records), "--loggers", "2", "--kill-at", "0.5",
		"--restart-after", "500ms", "--dir", t.TempDir(), "--timeout", "3m", "--json")
	out, err := cmd.Output()
	var res struct {
		Records       uint64 `json:"records"`
		Killed        bool   `json:"killed"`
		RecordsAtKill uint64 `json:"records_at_kill"`
		Verified      bool   `json:"verified"`
		Lost          uint64 `json:"lost"`
		Duplicates    uint64 `json:"duplicates"`
		Dropped       uint64 `json:"dropped"`
		Resent        uint64 `json:"resent_batches"`
	}
	if jerr := json.Unmarshal(out, &res); jerr != nil {
		var stderr []byte
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = ee.Stderr
		}
		t.Fatalf("weir-bench logs: %v, output %q: %v\n%s", err, out, jerr, stderr)
	}
	// A run that loses or duplicates records exits non-zero with its JSON:
	// the checks below say what went wrong.
	r.check("logger-0 SIGKILLed mid-stream and restarted", res.Killed && res.RecordsAtKill > 0 && res.RecordsAtKill < records,
		"killed after %d of %d records; %d batches resent", res.RecordsAtKill, records, res.Resent)
	r.check("files read back", res.Verified && res.Records == records, "%d record ids checked in %.1fs", res.Records, time.Since(start).Seconds())
	r.check("records lost", res.Lost == 0, "%d", res.Lost)
	r.check("records duplicated in the files", res.Duplicates == 0, "%d", res.Duplicates)
	r.check("records dropped by the workers", res.Dropped == 0, "%d", res.Dropped)
	if err != nil && !t.Failed() {
		t.Fatalf("weir-bench logs failed with a clean result: %v", err)
	}
}
