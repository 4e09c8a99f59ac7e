package node

import (
	"fmt"
	"testing"

	"github.com/weirio/weir/internal/testutil"
)

// A peer whose subscriptions grow past MaxSubscriptions after the
// handshake is disconnected with error(limit) and counted.
func TestPeerSubscriptionLimit(t *testing.T) {
	ao := Options{Name: "a", Logger: testLogger()}
	ao.Net.MaxSubscriptions = 4
	a, b := peeredPair(t, ao)
	testutil.WaitFor(t, "peering", func() bool { return len(a.Peers()) == 1 })
	for i := range 3 {
		if _, err := b.Subscribe(fmt.Sprintf("ok/%d", i)); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 10 {
		if _, err := b.Subscribe(fmt.Sprintf("flood/%d", i)); err != nil {
			t.Fatal(err)
		}
	}
	testutil.WaitFor(t, "limit hit", func() bool {
		return a.NetStats().Limits.Subscriptions > 0
	})
}

// peeredPair starts node a (options ao) listening on loopback and node b
// dialing it, and closes both at the end of the test.
func peeredPair(t *testing.T, ao Options) (a, b *Node) {
	t.Helper()
	return peeredPairWith(t, ao, Options{Name: "b", Logger: testLogger()})
}

// peeredPairWith is peeredPair with b's options given.
func peeredPairWith(t *testing.T, ao, bo Options) (a, b *Node) {
	t.Helper()
	a, err := New(ao)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = a.Close() })
	addr, err := a.Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	b, err = New(bo)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = b.Close() })
	if err := b.Peer(addr.String()); err != nil {
		t.Fatal(err)
	}
	return a, b
}
