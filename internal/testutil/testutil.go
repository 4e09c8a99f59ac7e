// Package testutil holds helpers shared by the tests of several packages.
package testutil

import (
	"net"
	"testing"
	"time"

	"github.com/weirio/weir/frame"
)

// Deadline is how long WaitFor waits. It is generous on purpose: CI runs
// the end-to-end tests under -race on a busy 2-core machine.
const Deadline = 30 * time.Second

// WaitFor polls cond until it holds, failing the test after Deadline. It
// is how end-to-end tests wait for a condition instead of sleeping.
func WaitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	if !Poll(cond) {
		t.Fatalf("timed out waiting for %s", what)
	}
}

// Poll polls cond until it holds and reports whether it did within
// Deadline: WaitFor for callers that report the outcome themselves.
func Poll(cond func() bool) bool {
	deadline := time.Now().Add(Deadline)
	for !cond() {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(2 * time.Millisecond)
	}
	return true
}

// StalledPeer connects to a node at addr as a peer named name whose filter
// is prefixes, sends its hello and then never reads: a subscriber that has
// stopped. Its receive buffer is small, so the node's queue for it fills
// soon. The connection is closed at the end of the test.
func StalledPeer(t testing.TB, addr, name string, id frame.NodeID, prefixes ...string) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	_ = c.(*net.TCPConn).SetReadBuffer(4096)
	hello := frame.AppendHello(nil, frame.Hello{MinVersion: frame.MinVersion, MaxVersion: frame.Version, ID: id,
		Name: []byte(name), Filter: frame.MakeStrList(prefixes...)})
	if _, err := c.Write(hello); err != nil {
		t.Fatal(err)
	}
	return c
}
