package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"strings"
	"testing"
)

// The perf suite (perf/internal/suite/extra.go) probes `weir-bench store
// -h` for these flags and reads these JSON members: keep them.
func TestStoreContract(t *testing.T) {
	var out, errOut bytes.Buffer
	if err := store(context.Background(), []string{"-h"}, &out, &errOut); !errors.Is(err, flag.ErrHelp) {
		t.Fatalf("-h: %v", err)
	}
	for _, f := range []string{"-clones", "-ops", "-json", "loopback"} {
		if !strings.Contains(errOut.String(), f) {
			t.Errorf("help does not mention %q:\n%s", f, errOut.String())
		}
	}
	if testing.Short() {
		t.Skip("starts real nodes")
	}
	out.Reset()
	errOut.Reset()
	err := store(context.Background(), []string{"--clones", "1", "--ops", "1000", "--expire-keys", "1000",
		"--expire-after", "200ms", "--before", "200ms", "--rate", "20000", "--dir", t.TempDir(), "--json"}, &out, &errOut)
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
