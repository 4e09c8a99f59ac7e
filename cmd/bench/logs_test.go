package main

import (
	"encoding/json"
	"os/exec"
	"path/filepath"
	"testing"
)

// buildBench builds weir-bench into the test's temp dir and returns its
// path (the build cache makes every build after the first a link).
func buildBench(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "weir-bench")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	return bin
}

// A logger killed with SIGKILL in the middle of a run, while a second
// logger is live, then restarted: afterwards every record id is in the
// output files exactly once.
func TestLogsLoggerKilled(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and runs three processes")
	}
	cmd := exec.Command(buildBench(t), "logs", "--records", "200000", "--loggers", "2", "--kill-at", "0.5",
		"--timeout", "5m", "--json")
	out, err := cmd.Output()
	var res struct {
		Killed     bool   `json:"killed"`
		Verified   bool   `json:"verified"`
		Lost       uint64 `json:"lost"`
		Duplicates uint64 `json:"duplicates"`
		Dropped    uint64 `json:"dropped"`
	}
	if jerr := json.Unmarshal(out, &res); jerr != nil {
		t.Fatalf("run: %v, output %q: %v", err, out, jerr)
	}
	if err != nil || !res.Killed || !res.Verified || res.Lost != 0 || res.Duplicates != 0 || res.Dropped != 0 {
		t.Fatalf("run: %v\n%s", err, out)
	}
}
