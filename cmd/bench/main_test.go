package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

// A flag whose configuration zero means "default" is refused when the
// command line sets it to zero, instead of silently running the default
// (store --clones 0 once ran two clones). No run starts.
func TestZeroFlagsRefused(t *testing.T) {
	for _, tc := range []struct {
		scenario string
		args     []string
		flag     string
	}{
		{"store", []string{"--clones", "0"}, "--clones"},
		{"store", []string{"--ops", "0"}, "--ops"},
		{"store", []string{"--writers", "0"}, "--writers"},
		{"store", []string{"--expire-after", "0s"}, "--expire-after"},
		{"store", []string{"--rate", "0"}, "--rate"},
		{"pubsub", []string{"--msgs", "0"}, "--msgs"},
		{"pubsub", []string{"--pubs", "0"}, "--pubs"},
		{"pubsub", []string{"--size", "0"}, "--size"},
		{"pubsub", []string{"--idle", "0s"}, "--idle"},
	} {
		var out, errOut bytes.Buffer
		var err error
		if tc.scenario == "store" {
			err = store(context.Background(), tc.args, nil, &out, &errOut)
		} else {
			err = pubsub(context.Background(), "weir-bench", tc.args, nil, &out, &errOut)
		}
		if err == nil || !strings.Contains(err.Error(), tc.flag+" must be positive") {
			t.Errorf("%s %v: %v, want %s refused", tc.scenario, tc.args, err, tc.flag)
		}
		if out.Len() != 0 {
			t.Errorf("%s %v: a run started: %q", tc.scenario, tc.args, out.String())
		}
	}
}
