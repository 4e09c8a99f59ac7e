// Package testutil holds helpers shared by the tests of several packages.
package testutil

import (
	"testing"
	"time"
)

// Deadline is how long WaitFor waits. It is generous on purpose: CI runs
// the end-to-end tests under -race on a busy 2-core machine.
const Deadline = 30 * time.Second

// WaitFor polls cond until it holds, failing the test after Deadline. It
// is how end-to-end tests wait for a condition instead of sleeping.
func WaitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(Deadline)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}
