package netio

import (
	"encoding/binary"
	"testing"
	"time"

	"github.com/weirio/weir/frame"
)

func TestAcceptHello(t *testing.T) {
	self, other := frame.NodeID{1}, frame.NodeID{2}
	cases := []struct {
		name     string
		h        frame.Hello
		wantV    uint16
		wantCode frame.ErrCode
	}{
		{"same", frame.Hello{MinVersion: 1, MaxVersion: 1, ID: other}, 1, 0},
		{"newer-peer", frame.Hello{MinVersion: 1, MaxVersion: 7, ID: other}, 1, 0},
		{"too-new", frame.Hello{MinVersion: 2, MaxVersion: 7, ID: other}, 0, frame.CodeVersion},
		{"too-old", frame.Hello{MinVersion: 0, MaxVersion: 0, ID: other}, 0, frame.CodeVersion},
		{"self", frame.Hello{MinVersion: 1, MaxVersion: 1, ID: self}, 0, frame.CodeSelf},
		{"forwarding-client", frame.Hello{MinVersion: 1, MaxVersion: 1, ID: other, Role: frame.RoleClient, Features: frame.FeatForwarding}, 0, frame.CodeProtocol},
	}
	for _, c := range cases {
		v, err := acceptHello(self, 1000, c.h)
		code := frame.CodeOK
		if err != nil {
			code = err.code
		}
		if v != c.wantV || code != c.wantCode {
			t.Errorf("%s: version %d code %v, want %d %v", c.name, v, code, c.wantV, c.wantCode)
		}
	}
	if err := acceptWelcome(self, 1000, frame.Welcome{Version: 2, ID: other}); err == nil || err.code != frame.CodeVersion {
		t.Errorf("welcome v2: %v", err)
	}
	if err := acceptWelcome(self, 1000, frame.Welcome{Version: 1, ID: self}); err == nil || err.code != frame.CodeSelf {
		t.Errorf("welcome self: %v", err)
	}
	if err := acceptWelcome(self, 1000, frame.Welcome{Version: 1, ID: other}); err != nil {
		t.Errorf("welcome ok: %v", err)
	}
	two := frame.MakeStrList("a", "b")
	if _, err := acceptHello(self, 1, frame.Hello{MinVersion: 1, MaxVersion: 1, ID: other, Filter: two}); err == nil ||
		err.code != frame.CodeLimit || err.limit != LimitSubscriptions {
		t.Errorf("hello over MaxSubscriptions: %v", err)
	}
	if err := acceptWelcome(self, 1, frame.Welcome{Version: 1, ID: other, Filter: two}); err == nil || err.code != frame.CodeLimit {
		t.Errorf("welcome over MaxSubscriptions: %v", err)
	}
	if _, err := acceptHello(self, 2, frame.Hello{MinVersion: 1, MaxVersion: 1, ID: other, Filter: two}); err != nil {
		t.Errorf("hello at MaxSubscriptions: %v", err)
	}
}

// TestKeepNewConverges: for a simultaneous dial both nodes must keep the
// same connection, whichever completes first on each side.
func TestKeepNewConverges(t *testing.T) {
	a, b := frame.NodeID{1}, frame.NodeID{2}
	// Connection X is dialed by a, Y by b. At a: X is "dialed by self".
	// a sees X first then Y, or Y first then X; b likewise.
	keepAt := func(self, peer frame.NodeID, firstBySelf bool) (keptDialedBySelf bool) {
		secondBySelf := !firstBySelf
		if keepNew(self, peer, firstBySelf, secondBySelf) {
			return secondBySelf
		}
		return firstBySelf
	}
	for _, aFirst := range []bool{true, false} {
		for _, bFirst := range []bool{true, false} {
			// a keeps X iff it keeps the one it dialed; b keeps X iff it keeps
			// the one it did not dial.
			aKeepsX := keepAt(a, b, aFirst)
			bKeepsX := !keepAt(b, a, bFirst)
			if aKeepsX != bKeepsX || !aKeepsX {
				t.Errorf("aFirst=%v bFirst=%v: a keeps X=%v, b keeps X=%v; want both X (dialed by the smaller id)", aFirst, bFirst, aKeepsX, bKeepsX)
			}
		}
	}
	// Same dialer twice (a re-dial): the newer wins on both sides.
	if !keepNew(a, b, true, true) || !keepNew(b, a, false, false) {
		t.Error("re-dial must replace the old connection")
	}
}

func frames(n, size int) [][]byte {
	out := make([][]byte, n)
	for i := range out {
		p := make([]byte, size)
		binary.LittleEndian.PutUint32(p, uint32(i))
		out[i] = frame.AppendDataString(nil, frame.Header{}, []byte("t"), p)
	}
	return out
}

// joined concatenates a taken chunk list.
func joined(cs [][]byte) []byte {
	var b []byte
	for _, c := range cs {
		b = append(b, c...)
	}
	return b
}

// firstSeq returns the sequence number in the first frame of b.
func firstSeq(t *testing.T, b []byte) uint32 {
	f, _, err := frame.Scan(b, nil)
	if err != nil {
		t.Fatal(err)
	}
	v, err := frame.DecodeData(f.Body(), nil)
	if err != nil {
		t.Fatal(err)
	}
	return binary.LittleEndian.Uint32(v.Bytes())
}

func TestOutboxPolicies(t *testing.T) {
	fs := frames(10, 8)
	t.Run("drop_oldest", func(t *testing.T) {
		o := newOutbox(4, 1<<20, DropOldest, kindSet{})
		if r := o.push(fs[0], 1); r != pushWake {
			t.Fatalf("first push %v, want wake", r)
		}
		for _, f := range fs[1:] {
			o.push(f, 1)
		}
		cs, n := o.take()
		b := joined(cs)
		if n != 4 || firstSeq(t, b) != 6 || o.dropped.Load() != 6 {
			t.Fatalf("n %d first %d dropped %d", n, firstSeq(t, b), o.dropped.Load())
		}
		o.give(cs)
		if r := o.push(fs[0], 1); r != pushWake {
			t.Fatalf("push after take %v, want wake", r)
		}
	})
	t.Run("drop_newest", func(t *testing.T) {
		o := newOutbox(4, 1<<20, DropNewest, kindSet{})
		for _, f := range fs {
			o.push(f, 1)
		}
		cs, n := o.take()
		b := joined(cs)
		if n != 4 || firstSeq(t, b) != 0 || o.dropped.Load() != 6 {
			t.Fatalf("n %d first %d dropped %d", n, firstSeq(t, b), o.dropped.Load())
		}
	})
	t.Run("disconnect", func(t *testing.T) {
		o := newOutbox(4, 1<<20, Disconnect, kindSet{})
		for i, f := range fs[:4] {
			if r := o.push(f, 1); r != pushWake && r != pushQueued {
				t.Fatalf("push %d: %v", i, r)
			}
		}
		if r := o.push(fs[4], 1); r != pushOverflow {
			t.Fatalf("overflow push %v", r)
		}
	})
	t.Run("bytes", func(t *testing.T) {
		o := newOutbox(1000, 3*len(fs[0]), DropOldest, kindSet{})
		for _, f := range fs {
			o.push(f, 1)
		}
		cs, n := o.take()
		b := joined(cs)
		if n != 3 || len(b) != 3*len(fs[0]) || firstSeq(t, b) != 7 {
			t.Fatalf("n %d len %d first %d", n, len(b), firstSeq(t, b))
		}
		big := frame.AppendDataString(nil, frame.Header{}, nil, make([]byte, 1000))
		if r := o.push(big, 1); r != pushDropped {
			t.Fatalf("oversized frame: %v", r)
		}
	})
	t.Run("closed", func(t *testing.T) {
		o := newOutbox(4, 1<<20, DropOldest, kindSet{})
		o.close()
		if r := o.push(fs[0], 1); r != pushClosed {
			t.Fatalf("push after close %v", r)
		}
	})
}

func TestParsePolicy(t *testing.T) {
	for _, p := range []Policy{DropOldest, DropNewest, Disconnect} {
		got, err := ParsePolicy(p.String())
		if err != nil || got != p {
			t.Errorf("%v: %v %v", p, got, err)
		}
	}
	if _, err := ParsePolicy("drop_all"); err == nil {
		t.Error("drop_all accepted")
	}
}

func TestOutboxPushWait(t *testing.T) {
	fs := frames(3, 8)
	o := newOutbox(2, 1<<20, DropNewest, kindSet{})
	o.push(fs[0], 1)
	o.push(fs[1], 1)
	done := make(chan pushResult)
	go func() { done <- o.pushWait(fs[2], 1, time.Minute) }()
	// The waiter must not get in before the queue is taken.
	for o.waiters.Load() == 0 {
		time.Sleep(time.Millisecond)
	}
	cs, n := o.take()
	if n != 2 {
		t.Fatalf("took %d", n)
	}
	o.give(cs)
	if r := <-done; r != pushWake {
		t.Fatalf("waiter got %v, want wake into the empty queue", r)
	}
	if o.dropped.Load() != 0 {
		t.Fatal("dropped while waiting")
	}
	// With no loop draining, the wait ends and the policy applies.
	o.push(fs[0], 1)
	if r := o.pushWait(fs[1], 1, 10*time.Millisecond); r != pushDropped {
		t.Fatalf("after timeout got %v, want dropped", r)
	}
}

// TestOutboxChunks: frames spanning many chunks come out intact and in
// order, including after drops from the head and frames larger than a chunk.
func TestOutboxChunks(t *testing.T) {
	o := newOutbox(1<<20, 1<<30, DropOldest, kindSet{})
	var want []byte
	for i := 0; i < 5000; i++ {
		size := 4 + i%3000
		if i%1000 == 999 {
			size = 3 * chunkSize // larger than a chunk
		}
		p := make([]byte, size)
		binary.LittleEndian.PutUint32(p, uint32(i))
		fr := frame.AppendDataString(nil, frame.Header{}, []byte("t"), p)
		o.push(fr, 1)
		want = append(want, fr...)
	}
	cs, n := o.take()
	if n != 5000 || string(joined(cs)) != string(want) {
		t.Fatalf("n %d, bytes equal %v", n, string(joined(cs)) == string(want))
	}
	o.give(cs)
	// Drop from the head across chunk boundaries.
	small := newOutbox(10, 1<<30, DropOldest, kindSet{})
	for i := 0; i < 100; i++ {
		p := make([]byte, 20000)
		binary.LittleEndian.PutUint32(p, uint32(i))
		small.push(frame.AppendDataString(nil, frame.Header{}, []byte("t"), p), 1)
	}
	cs, n = small.take()
	b := joined(cs)
	if n != 10 || firstSeq(t, b) != 90 {
		t.Fatalf("n %d first %d", n, firstSeq(t, b))
	}
}
