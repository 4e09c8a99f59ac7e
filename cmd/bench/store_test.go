package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// The perf suite (perf/internal/suite/extra.go) probes `weir-bench store
// -h` for these flags and reads these JSON members: keep them.
func TestStoreContract(t *testing.T) {
	var out, errOut bytes.Buffer
	if err := store(context.Background(), []string{"-h"}, nil, &out, &errOut); !errors.Is(err, flag.ErrHelp) {
		t.Fatalf("-h: %v", err)
	}
	for _, f := range []string{"-clones", "-writers", "-ops", "-json", "loopback"} {
		if !strings.Contains(errOut.String(), f) {
			t.Errorf("help does not mention %q:\n%s", f, errOut.String())
		}
	}
	if testing.Short() {
		t.Skip("starts real nodes")
	}
	out.Reset()
	errOut.Reset()
	err := store(context.Background(), []string{"--in-process", "--clones", "1", "--ops", "1000", "--expire-keys", "1000",
		"--expire-after", "200ms", "--before", "200ms", "--rate", "20000", "--dir", t.TempDir(), "--json"}, nil, &out, &errOut)
	if err != nil {
		t.Fatalf("run: %v\n%s", err, errOut.String())
	}
	var m map[string]any
	if err := json.Unmarshal(out.Bytes(), &m); err != nil {
		t.Fatalf("output %q: %v", out.String(), err)
	}
	for _, k := range []string{"puts_per_sec", "put_unique_per_sec", "gets_per_sec", "staleness_p99_us", "cpu_sec"} {
		if v, ok := m[k].(float64); !ok || v <= 0 {
			t.Errorf("%s = %v, want a positive number", k, m[k])
		}
	}
	if m["clones_consistent"] != true || m["errors"] != float64(0) {
		t.Errorf("clones_consistent %v, errors %v", m["clones_consistent"], m["errors"])
	}
}

// The default store run puts the master and each clone in a child process
// of the binary; with --cpuprofile each child profiles itself. The run is
// clean, says it used processes, and every profile is written.
func TestStoreProcesses(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and runs four processes")
	}
	bin := buildBench(t)
	dir := t.TempDir()
	prof := filepath.Join(dir, "cpu.pprof")
	cmd := exec.Command(bin, "store", "--clones", "2", "--ops", "2000", "--expire-keys", "2000",
		"--expire-after", "300ms", "--before", "300ms", "--rate", "20000", "--dir", dir,
		"--cpuprofile", prof, "--profile-phase", "staleness", "--timeout", "5m", "--json")
	var errOut bytes.Buffer
	cmd.Stderr = &errOut
	out, err := cmd.Output()
	var res struct {
		Processes        bool    `json:"processes"`
		ClonesConsistent bool    `json:"clones_consistent"`
		Errors           uint64  `json:"errors"`
		StaleSamples     int64   `json:"staleness_samples"`
		PutsPerSec       float64 `json:"puts_per_sec"`
		GetsPerSec       float64 `json:"gets_per_sec"`
		CPUSec           float64 `json:"cpu_sec"`
	}
	if jerr := json.Unmarshal(out, &res); jerr != nil {
		t.Fatalf("run: %v, output %q: %v\n%s", err, out, jerr, errOut.String())
	}
	if err != nil || !res.Processes || !res.ClonesConsistent || res.Errors != 0 {
		t.Fatalf("run: %v\n%s\n%s", err, out, errOut.String())
	}
	if res.StaleSamples != 2*2000 || !(res.PutsPerSec > 0) || !(res.GetsPerSec > 0) || !(res.CPUSec > 0) {
		t.Errorf("staleness samples %d (want 4000), puts/s %v, gets/s %v, CPU %v s",
			res.StaleSamples, res.PutsPerSec, res.GetsPerSec, res.CPUSec)
	}
	for _, f := range []string{prof, prof + "-master", prof + "-clone-0", prof + "-clone-1"} {
		if st, err := os.Stat(f); err != nil || st.Size() == 0 {
			t.Errorf("profile %s: %v", f, err)
		}
	}
}
