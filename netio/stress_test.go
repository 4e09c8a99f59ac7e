package netio

import (
	"sync/atomic"
	"testing"
	"time"

	"github.com/weirio/weir/frame"
	"github.com/weirio/weir/internal/testutil"
)

// countingHandler counts data frames and checks their sequence.
type countingHandler struct {
	*recorder
	n, bad atomic.Int64
}

func (c *countingHandler) Frame(p *Peer, f frame.Frame) {
	v, err := frame.DecodeData(f.Body(), nil)
	if err != nil || len(v.Bytes()) < 4 {
		c.bad.Add(1)
		return
	}
	c.n.Add(1)
}

// TestStreamIntegrityUnderPings: large frames pushed from another goroutine
// while keepalive pings interleave must arrive intact.
func TestStreamIntegrityUnderPings(t *testing.T) {
	ra := &countingHandler{recorder: newRecorder()}
	rb := newRecorder()
	fast := func(o *Options) {
		o.PingInterval = 2 * time.Millisecond
		o.PeerTimeout = 10 * time.Second
		o.Tick = time.Millisecond
		o.QueueFrames = 1 << 20
	}
	a := newEngine(t, "a", ra, fast)
	b := newEngine(t, "b", rb, fast)
	_ = b.Dial(listen(t, a))
	testutil.WaitFor(t, "up", func() bool { return rb.peer("a") != nil })
	p := rb.peer("a")
	fr := frame.AppendDataString(nil, frame.Header{}, []byte("bench/topic"), make([]byte, 1024))
	const n = 300000
	for i := 0; i < n; i++ {
		if err := p.SendWait(fr, 10*time.Second); err != nil {
			downErr, _ := rb.downErr("a")
			t.Fatalf("send %d: %v (down: %v; a failures %v)", i, err, downErr, a.Stats().Failures)
		}
	}
	deadline := time.Now().Add(15 * time.Second)
	testutil.WaitFor(t, "all frames", func() bool {
		if time.Now().After(deadline) {
			t.Fatalf("got %d of %d; sender %+v receiver %+v", ra.n.Load(), n, p.Stats(), ra.peer("b").Stats())
		}
		if _, down := rb.downErr("a"); down {
			err, _ := rb.downErr("a")
			t.Fatalf("connection lost: %v; failures %v", err, a.Stats().Failures)
		}
		return ra.n.Load() == n
	})
	if ra.bad.Load() != 0 {
		t.Fatalf("%d bad frames", ra.bad.Load())
	}
}
