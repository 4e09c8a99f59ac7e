package netio

import (
	"bytes"
	"net"
	"testing"

	"github.com/weirio/weir/frame"
)

// fakeWire is a wire without a socket: it records what flush writes.
type fakeWire struct {
	queued  int // backlog() reports this
	written [][]byte
	wakes   int
}

func (w *fakeWire) RemoteAddr() net.Addr { return &net.TCPAddr{} }
func (w *fakeWire) write([]byte)         {}
func (w *fakeWire) backlog() int         { return w.queued }
func (w *fakeWire) wake() error          { w.wakes++; return nil }
func (w *fakeWire) finish([][]byte)      {}
func (w *fakeWire) abort()               {}
func (w *fakeWire) writev(bs [][]byte) int {
	n := 0
	for _, b := range bs {
		w.written = append(w.written, bytes.Clone(b))
		n += len(b)
	}
	return n
}

// forwardFixture is two established connections on one event loop, from
// and to, without sockets, as Peer.Forward sees them on a relay.
func forwardFixture(t *testing.T) (from, to *Peer, w *fakeWire, ls *loopState) {
	t.Helper()
	o := Options{Logger: quietLogger()}
	o.EnsureDefaults()
	e := &Engine{opts: o, log: o.Logger}
	ls = &loopState{}
	mk := func(c wire) *Peer {
		st := &connState{e: e, c: c, loop: ls}
		st.stage.Store(stageUp)
		p := &Peer{st: st, out: newOutbox(o.QueueFrames, o.QueueBytes, o.Policy, kindSet{})}
		st.peer.Store(p)
		return p
	}
	w = &fakeWire{}
	from, to = mk(&fakeWire{}), mk(w)
	t.Cleanup(func() {
		if tm := to.st.retryTimer; tm != nil {
			tm.Stop()
		}
	})
	return from, to, w, ls
}

// testFrames returns n data frames back to back in one buffer (as a read
// holds them) and each frame's view.
func testFrames(n int) ([]byte, [][]byte) {
	var buf []byte
	var ends []int
	for i := range n {
		buf = frame.AppendDataString(buf, frame.Header{}, []byte("t"), bytes.Repeat([]byte{byte(i)}, 10+i))
		ends = append(ends, len(buf))
	}
	views := make([][]byte, n)
	start := 0
	for i, end := range ends {
		views[i] = buf[start:end:end] // Scan caps a frame's view like this
		start = end
	}
	return buf, views
}

func TestForwardWithoutCopy(t *testing.T) {
	from, to, w, ls := forwardFixture(t)
	buf, fr := testFrames(5)
	// Frames 0-2 adjacent, then 4 (3 goes elsewhere): two runs.
	for _, i := range []int{0, 1, 2, 4} {
		if err := to.Forward(from, fr[i]); err != nil {
			t.Fatal(err)
		}
	}
	if len(to.st.fwd) != 2 || to.st.fwdFrames != 4 || len(ls.dirty) != 1 {
		t.Fatalf("runs %d frames %d dirty %d, want 2, 4, 1", len(to.st.fwd), to.st.fwdFrames, len(ls.dirty))
	}
	if to.out.pending() {
		t.Fatal("forwarded frames were copied into the queue")
	}
	ls.flushDirty()
	want := [][]byte{buf[:len(fr[0])+len(fr[1])+len(fr[2])], fr[4]}
	if len(w.written) != 2 || !bytes.Equal(w.written[0], want[0]) || !bytes.Equal(w.written[1], want[1]) {
		t.Fatalf("written %d buffers, want the two runs", len(w.written))
	}
	if st := to.Stats(); st.FramesOut != 4 || st.BytesOut != uint64(len(want[0])+len(want[1])) {
		t.Fatalf("stats %+v", st)
	}
	if len(to.st.fwd) != 0 || len(ls.dirty) != 0 || to.st.dirty || w.wakes != 0 {
		t.Fatalf("after the flush: runs %d, dirty %d/%v, wakes %d", len(to.st.fwd), len(ls.dirty), to.st.dirty, w.wakes)
	}
}

// TestForwardBehindQueue: with frames already queued (a local publisher's,
// whose wake-up is on its way), forwarded frames are copied behind them and
// go out with them, in order, when that wake-up flushes the queue.
func TestForwardBehindQueue(t *testing.T) {
	from, to, w, ls := forwardFixture(t)
	_, fr := testFrames(3)
	if err := to.Send(fr[0]); err != nil { // queued; its wake-up is the fake's
		t.Fatal(err)
	}
	for _, f := range fr[1:] {
		if err := to.Forward(from, f); err != nil {
			t.Fatal(err)
		}
	}
	if len(to.st.fwd) != 0 || len(ls.dirty) != 0 || w.wakes != 1 {
		t.Fatalf("runs %d, dirty %d, wakes %d; want the frames queued behind the pending wake-up", len(to.st.fwd), len(ls.dirty), w.wakes)
	}
	to.st.flush() // what the wake-up does on the loop
	var got []byte
	for _, b := range w.written {
		got = append(got, b...)
	}
	if want := bytes.Join(fr, nil); !bytes.Equal(got, want) {
		t.Fatalf("wrote %d bytes, want the 3 frames in order (%d bytes)", len(got), len(want))
	}
}

// TestForwardPastHighWater: when the socket is past the high-water mark
// at flush time, forwarded frames are copied into the bounded queue (their
// input buffer is about to be reused) and nothing is written.
func TestForwardPastHighWater(t *testing.T) {
	from, to, w, ls := forwardFixture(t)
	_, fr := testFrames(4)
	for _, f := range fr {
		if err := to.Forward(from, f); err != nil {
			t.Fatal(err)
		}
	}
	w.queued = to.st.e.opts.SocketHighWater + 1
	ls.flushDirty()
	if len(w.written) != 0 {
		t.Fatalf("wrote %d buffers past the high-water mark", len(w.written))
	}
	frames, n := to.out.depth()
	if frames != 4 || n != len(bytes.Join(fr, nil)) || len(to.st.fwd) != 0 {
		t.Fatalf("queue holds %d frames / %d bytes, runs %d; want 4 frames", frames, n, len(to.st.fwd))
	}
}

// TestForwardAcrossLoops: connections on different loops (or none) get
// Send's behaviour: a copy into the queue and a wake-up.
func TestForwardAcrossLoops(t *testing.T) {
	from, to, w, ls := forwardFixture(t)
	from.st.loop = &loopState{}
	_, fr := testFrames(1)
	if err := to.Forward(from, fr[0]); err != nil {
		t.Fatal(err)
	}
	if !to.out.pending() || len(to.st.fwd) != 0 || len(ls.dirty) != 0 || w.wakes != 1 {
		t.Fatalf("queued %v, runs %d, dirty %d, wakes %d", to.out.pending(), len(to.st.fwd), len(ls.dirty), w.wakes)
	}
}
