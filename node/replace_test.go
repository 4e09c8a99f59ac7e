package node

import (
	"encoding/binary"
	"io"
	"net"
	"testing"
	"time"

	"github.com/weirio/weir/frame"
	"github.com/weirio/weir/internal/testutil"
)

// TestReplacedConnection: a node connects again while the listener still
// holds its old connection (half-open after a reset the listener never
// saw). The new connection replaces the old one (§6.2); the listener
// reports the peer recovered, never lost for the replacement, and routes
// to the new connection only. faults/partition_test.go runs the same
// through a real partition.
func TestReplacedConnection(t *testing.T) {
	a := newNode(t, "a", nil)
	addr := listen(t, a)
	hello := frame.AppendHello(nil, frame.Hello{MinVersion: 1, MaxVersion: 1, ID: frame.NodeID{7}, Name: []byte("b"),
		Filter: frame.MakeStrList("r/")})
	dial := func() net.Conn {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		if _, err := c.Write(hello); err != nil {
			t.Fatal(err)
		}
		return c
	}
	next := func() Status {
		t.Helper()
		select {
		case s := <-a.Status():
			return s
		case <-time.After(testutil.Deadline):
			t.Fatal("no status event")
		}
		return Status{}
	}
	old := dial()
	if s := next(); s.Kind != StatusPeerAdded {
		t.Fatalf("first connection: %v", s.Kind)
	}
	cur := dial()
	if s := next(); s.Kind != StatusPeerRecovered || s.Peer.Addr.String() != cur.LocalAddr().String() {
		t.Fatalf("replacing connection: %v from %v (%v), want peer_recovered from %v", s.Kind, s.Peer.Addr, s.Err, cur.LocalAddr())
	}
	if err := a.PublishBytes("r/1", []byte("after")); err != nil {
		t.Fatal(err)
	}
	// The message goes out on the new connection, not the old one, which
	// is closed (with a bye) and reported as nothing.
	_ = cur.SetReadDeadline(time.Now().Add(testutil.Deadline))
	for kind := frame.Kind(0); kind != frame.KindData; {
		kind = readKind(t, cur)
	}
	_ = old.SetReadDeadline(time.Now().Add(testutil.Deadline))
	for {
		var hdr [frame.HeaderSize]byte
		if _, err := io.ReadFull(old, hdr[:]); err != nil {
			break
		}
		if frame.Kind(hdr[4]) == frame.KindData {
			t.Fatal("a message went out on the replaced connection")
		}
		if _, err := io.CopyN(io.Discard, old, int64(binary.LittleEndian.Uint32(hdr[:]))-frame.HeaderSize); err != nil {
			break
		}
	}
	cur.Close()
	if s := next(); s.Kind != StatusPeerLost || s.Peer.Addr.String() != cur.LocalAddr().String() {
		t.Fatalf("after closing the new connection: %v from %v (%v), want peer_lost from %v", s.Kind, s.Peer.Addr, s.Err, cur.LocalAddr())
	}
}

// readKind reads one frame from c and returns its kind.
func readKind(t *testing.T, c net.Conn) frame.Kind {
	t.Helper()
	var hdr [frame.HeaderSize]byte
	if _, err := io.ReadFull(c, hdr[:]); err != nil {
		t.Fatalf("read: %v", err)
	}
	if _, err := io.CopyN(io.Discard, c, int64(binary.LittleEndian.Uint32(hdr[:]))-frame.HeaderSize); err != nil {
		t.Fatalf("read: %v", err)
	}
	return frame.Kind(hdr[4])
}
