package netio

import (
	"encoding/binary"
	"errors"
	"io"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/weirio/weir/frame"
	"github.com/weirio/weir/internal/testutil"
)

// dialStalled opens a TCP connection that never says anything.
func dialStalled(t *testing.T, addr string) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func TestMaxPeers(t *testing.T) {
	r := newRecorder()
	e := newEngine(t, "srv", r, func(o *Options) { o.MaxPeers = 3 })
	addr := listen(t, e)
	rawHandshake(t, addr, frame.NodeID{1})
	dialStalled(t, addr)
	dialStalled(t, addr)
	testutil.WaitFor(t, "three connections", func() bool { return e.Stats().Conns == 3 })
	if got := expectClosed(t, dialStalled(t, addr)); got != frame.CodeLimit {
		t.Fatalf("fourth connection closed with %v, want limit", got)
	}
	s := e.Stats()
	if s.Limits.Peers != 1 || s.Failures[frame.CodeLimit] != 1 {
		t.Fatalf("limits %+v failures %v", s.Limits, s.Failures)
	}
	// What this node dials is not refused by its own limit.
	ro := newRecorder()
	other := newEngine(t, "other", ro, nil)
	if err := e.Dial(listen(t, other)); err != nil {
		t.Fatal(err)
	}
	testutil.WaitFor(t, "dialed peer up beyond MaxPeers", func() bool { return r.peer("other") != nil })
}

func TestMaxHandshakesEvictsOldest(t *testing.T) {
	r := newRecorder()
	e := newEngine(t, "srv", r, func(o *Options) { o.MaxHandshakes = 2; o.HandshakeTimeout = time.Minute })
	addr := listen(t, e)
	oldest := dialStalled(t, addr)
	testutil.WaitFor(t, "one handshaking", func() bool { return e.Stats().Handshaking == 1 })
	second := dialStalled(t, addr)
	testutil.WaitFor(t, "two handshaking", func() bool { return e.Stats().Handshaking == 2 })
	dialStalled(t, addr)
	if got := expectClosed(t, oldest); got != frame.CodeLimit {
		t.Fatalf("oldest closed with %v, want limit", got)
	}
	testutil.WaitFor(t, "eviction counted", func() bool {
		s := e.Stats()
		return s.Limits.Handshakes == 1 && s.Handshaking == 2 && s.Conns == 2
	})
	// The second is still there, and a good peer still gets in (evicting
	// the second on its way).
	rawHandshake(t, addr, frame.NodeID{3})
	testutil.WaitFor(t, "good peer up", func() bool { return r.peer("raw") != nil })
	if got := expectClosed(t, second); got != frame.CodeLimit {
		t.Fatalf("second closed with %v, want limit", got)
	}
}

func TestMaxSubscriptions(t *testing.T) {
	r := newRecorder()
	e := newEngine(t, "srv", r, func(o *Options) { o.MaxSubscriptions = 3 })
	addr := listen(t, e)
	hello := func(id byte, n int) []byte {
		pre := make([]string, n)
		for i := range pre {
			pre[i] = strings.Repeat("p", i+1)
		}
		return frame.AppendHello(nil, frame.Hello{MinVersion: 1, MaxVersion: 1, ID: frame.NodeID{id}, Name: []byte("raw"), Filter: frame.MakeStrList(pre...)})
	}
	c := dialStalled(t, addr)
	_, _ = c.Write(hello(1, 4))
	if got := expectClosed(t, c); got != frame.CodeLimit {
		t.Fatalf("4 prefixes: closed with %v, want limit", got)
	}
	c = dialStalled(t, addr)
	_, _ = c.Write(hello(2, 3))
	if f := readFrame(t, c); f.Kind() != frame.KindWelcome {
		t.Fatalf("3 prefixes: got %v, want welcome", f.Kind())
	}
	testutil.WaitFor(t, "peer up", func() bool { return r.peer("raw") != nil })
	// The node enforces the limit on later subscribe frames with
	// CloseLimit; the peer hears error(limit).
	r.peer("raw").CloseLimit(LimitSubscriptions, "too many subscriptions")
	if got := expectClosed(t, c); got != frame.CodeLimit {
		t.Fatalf("CloseLimit: closed with %v, want limit", got)
	}
	if s := e.Stats(); s.Limits.Subscriptions != 2 || s.Failures[frame.CodeLimit] != 2 {
		t.Fatalf("limits %+v failures %v", s.Limits, s.Failures)
	}
	// A dialer refuses a welcome over its limit; the listener (for which
	// the handshake was complete once it sent the welcome) hears why.
	rl := newRecorder("a", "b")
	l := newEngine(t, "l", rl, nil)
	d := newEngine(t, "d", newRecorder(), func(o *Options) { o.MaxSubscriptions = 1 })
	_ = d.Dial(listen(t, l))
	testutil.WaitFor(t, "refusal counted and heard", func() bool {
		err, down := rl.downErr("d")
		var re *RemoteError
		return d.Stats().Limits.Subscriptions >= 1 && down && errors.As(err, &re) && re.Code == frame.CodeLimit
	})
}

func TestTopicLimit(t *testing.T) {
	r := newRecorder()
	e := newEngine(t, "srv", r, func(o *Options) { o.Limits.MaxTopic = 8 })
	c := rawHandshake(t, listen(t, e), frame.NodeID{1})
	testutil.WaitFor(t, "peer up", func() bool { return r.peer("raw") != nil })
	_, _ = c.Write(frame.AppendDataString(nil, frame.Header{}, []byte("a/topic/too/long"), []byte("x")))
	if got := expectClosed(t, c); got != frame.CodeLimit {
		t.Fatalf("closed with %v, want limit", got)
	}
	if s := e.Stats(); s.Limits.TopicSize != 1 {
		t.Fatalf("limits %+v", s.Limits)
	}
}

// TestFlushManyChunks: a queue of more than 1024 chunks (IOV_MAX) built
// up behind a stalled reader is written in several writev calls when the
// reader resumes. Before the fix the single writev failed with EINVAL and
// the connection dropped.
func TestFlushManyChunks(t *testing.T) {
	r := newRecorder()
	e := newEngine(t, "srv", r, func(o *Options) {
		o.QueueBytes = 64 << 20
		o.SocketHighWater = 64 << 10
	})
	c := rawHandshake(t, listen(t, e), frame.NodeID{5})
	testutil.WaitFor(t, "peer up", func() bool { return r.peer("raw") != nil })
	p := r.peer("raw")
	// Frames over half a chunk: one chunk each.
	const n = 1500
	for i := 0; i < n; i++ {
		b := make([]byte, chunkSize/2+100)
		binary.LittleEndian.PutUint32(b, uint32(i))
		if err := p.Send(frame.AppendDataString(nil, frame.Header{}, []byte("t"), b)); err != nil {
			t.Fatalf("send %d: %v", i, err)
		}
	}
	testutil.WaitFor(t, "over IOV_MAX chunks queued", func() bool {
		if err, down := r.downErr("raw"); down {
			t.Fatalf("connection dropped: %v", err)
		}
		return p.Stats().QueuedFrames > 1024
	})
	_ = c.SetReadDeadline(time.Now().Add(testutil.Deadline))
	for i := 0; i < n; {
		f := readFrame(t, c)
		if f.Kind() != frame.KindData {
			continue // a ping
		}
		if s := firstSeq(t, f.Bytes()); s != uint32(i) {
			t.Fatalf("frame %d has seq %d", i, s)
		}
		i++
	}
	if _, down := r.downErr("raw"); down {
		t.Fatal("connection dropped")
	}
}

// TestHandshakeFlood: garbage and stalled handshakes, opened as fast as a
// goroutine can, cost little and do not keep a good peer out: it connects
// and exchanges frames while the flood goes on.
func TestHandshakeFlood(t *testing.T) {
	r := newRecorder()
	srv := newEngine(t, "srv", r, func(o *Options) {
		o.MaxHandshakes = 32
		o.MaxPeers = 256
		o.HandshakeTimeout = time.Minute // only eviction frees a stalled slot
	})
	addr := listen(t, srv)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var opened atomic.Int64
	garbage := []byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	partial := frame.AppendHello(nil, frame.Hello{MinVersion: 1, MaxVersion: 1, ID: frame.NodeID{9}, Name: []byte("x")})[:20]
	for g := 0; g < 2; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var held []net.Conn // the attacker keeps its stalled connections open
			defer func() {
				for _, c := range held {
					c.Close()
				}
			}()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				c, err := net.Dial("tcp", addr)
				if err != nil {
					continue
				}
				opened.Add(1)
				if i%2 == 0 {
					_, _ = c.Write(garbage)
					go func() { _, _ = io.Copy(io.Discard, c); c.Close() }()
					continue
				}
				_, _ = c.Write(partial)
				held = append(held, c)
				if len(held) > 400 { // stay within the file descriptor limit
					held[0].Close()
					held = held[1:]
				}
			}
		}()
	}
	defer func() { close(stop); wg.Wait() }()
	testutil.WaitFor(t, "flood under way", func() bool { return srv.Stats().Limits.Handshakes > 100 })

	rg := newRecorder()
	good := newEngine(t, "good", rg, nil)
	if err := good.Dial(addr); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	testutil.WaitFor(t, "good peer up during the flood", func() bool { return r.peer("good") != nil && rg.peer("srv") != nil })
	for _, fr := range frames(1000, 32) {
		_ = rg.peer("srv").SendWait(fr, 10*time.Second)
	}
	testutil.WaitFor(t, "frames delivered during the flood", func() bool { return r.nframes("good") == 1000 })
	s := srv.Stats()
	t.Logf("good peer connected and delivered in %v; flood opened %d connections; stats %+v", time.Since(start), opened.Load(), s)
	// Handshaking is sampled while the flood goes on: connections accepted
	// but not yet evicted by their loop can briefly exceed the cap, so the
	// check is that it stays bounded, not exact.
	if s.Handshaking > 2*32 || s.Failures[frame.CodeProtocol] == 0 {
		t.Fatalf("handshaking %d, failures %v", s.Handshaking, s.Failures)
	}
}

// TestMaxHandshakeFrame: a stranger's hello larger than MaxHandshakeFrame
// is refused on its header, before it is buffered, though it is within
// Limits.MaxFrame.
func TestMaxHandshakeFrame(t *testing.T) {
	e := newEngine(t, "srv", newRecorder(), func(o *Options) { o.MaxHandshakeFrame = 4096 })
	hello := frame.AppendHello(nil, frame.Hello{MinVersion: 1, MaxVersion: 1, ID: frame.NodeID{1}, Name: []byte("raw"),
		Filter: frame.MakeStrList(strings.Repeat("p", 5000))})
	c := dialStalled(t, listen(t, e))
	_, _ = c.Write(hello[:100]) // the header announces 5 KB; the rest never comes
	if got := expectClosed(t, c); got != frame.CodeLimit {
		t.Fatalf("closed with %v, want limit", got)
	}
	if s := e.Stats(); s.Limits.FrameSize != 1 {
		t.Fatalf("limits %+v", s.Limits)
	}
	o := Options{MaxHandshakeFrame: 1 << 30}
	o.EnsureDefaults()
	if o.Validate() == nil {
		t.Fatal("MaxHandshakeFrame above Limits.MaxFrame validated")
	}
}
