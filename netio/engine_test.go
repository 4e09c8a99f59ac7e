package netio

import (
	"context"
	"encoding/binary"
	"errors"
	"io"
	"log/slog"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/weirio/weir/frame"
	"github.com/weirio/weir/internal/testutil"
)

// recorder is a Handler that records what happens.
type recorder struct {
	mu      sync.Mutex
	up      map[string]*Peer
	filters map[string][]string
	down    map[string]error
	frames  map[string][][]byte // copies
	fails   int
	filter  []string
	changed chan struct{}
}

func newRecorder(filter ...string) *recorder {
	return &recorder{up: map[string]*Peer{}, filters: map[string][]string{}, down: map[string]error{},
		frames: map[string][][]byte{}, filter: filter, changed: make(chan struct{}, 1)}
}

func (r *recorder) poke() {
	select {
	case r.changed <- struct{}{}:
	default:
	}
}

func (r *recorder) Filter() (frame.StrList, uint64) { return frame.MakeStrList(r.filter...), 1 }
func (r *recorder) PeerUp(p *Peer, f frame.StrList) {
	r.mu.Lock()
	r.up[p.Name] = p
	delete(r.down, p.Name)
	r.filters[p.Name] = f.Strings()
	r.mu.Unlock()
	r.poke()
}
func (r *recorder) PeerDown(p *Peer, err error) {
	r.mu.Lock()
	if r.up[p.Name] == p {
		delete(r.up, p.Name)
	}
	r.down[p.Name] = err
	r.mu.Unlock()
	r.poke()
}
func (r *recorder) Frame(p *Peer, f frame.Frame) {
	r.mu.Lock()
	r.frames[p.Name] = append(r.frames[p.Name], append([]byte(nil), f.Bytes()...))
	r.mu.Unlock()
	r.poke()
}
func (r *recorder) DialFailed(string, error, time.Duration) {
	r.mu.Lock()
	r.fails++
	r.mu.Unlock()
	r.poke()
}

func (r *recorder) peer(name string) *Peer {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.up[name]
}

func (r *recorder) downErr(name string) (error, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	err, ok := r.down[name]
	return err, ok
}

func (r *recorder) nframes(name string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.frames[name])
}

func quietLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func newEngine(t *testing.T, name string, h Handler, mod func(*Options)) *Engine {
	t.Helper()
	o := Options{Name: name, Logger: quietLogger(), Loops: 2, RetryInitial: 50 * time.Millisecond, RetryMax: 200 * time.Millisecond, Tick: 20 * time.Millisecond}
	if mod != nil {
		mod(&o)
	}
	e, err := New(o, h)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = e.Close(ctx)
	})
	return e
}

func listen(t *testing.T, e *Engine) string {
	t.Helper()
	a, err := e.Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return a.String()
}

func TestPeerAndDeliverInOrder(t *testing.T) {
	ra, rb := newRecorder("a/"), newRecorder("b/", "")
	const n = 20000
	a := newEngine(t, "a", ra, nil)
	// The queue holds the whole burst: this test is about order, not policy.
	b := newEngine(t, "b", rb, func(o *Options) { o.QueueFrames = n })
	if err := b.Dial(listen(t, a)); err != nil {
		t.Fatal(err)
	}
	testutil.WaitFor(t, "both peers up", func() bool { return ra.peer("b") != nil && rb.peer("a") != nil })
	if got := ra.filters["b"]; len(got) != 2 || got[0] != "b/" || got[1] != "" {
		t.Fatalf("a saw b's filter %q", got)
	}
	if got := rb.filters["a"]; len(got) != 1 || got[0] != "a/" {
		t.Fatalf("b saw a's filter %q", got)
	}
	pa := rb.peer("a")
	if !pa.Dialed() || ra.peer("b").Dialed() {
		t.Fatal("dialed flags wrong")
	}
	for _, fr := range frames(n, 64) {
		for errors.Is(pa.Send(fr), ErrDropped) {
			t.Fatal("dropped with an empty peer")
		}
	}
	testutil.WaitFor(t, "all frames", func() bool { return ra.nframes("b") == n })
	ra.mu.Lock()
	for i, fr := range ra.frames["b"] {
		if s := firstSeq(t, fr); s != uint32(i) {
			ra.mu.Unlock()
			t.Fatalf("frame %d has seq %d", i, s)
		}
	}
	ra.mu.Unlock()
	st := pa.Stats()
	if st.FramesOut != n || st.Dropped != 0 {
		t.Fatalf("stats %+v", st)
	}
	testutil.WaitFor(t, "receiver counts", func() bool { return ra.peer("b").Stats().FramesIn == n })
}

// rawHandshake dials addr and completes a handshake by hand; it returns
// the connection for the test to misbehave on.
func rawHandshake(t *testing.T, addr string, id frame.NodeID) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	if _, err := c.Write(frame.AppendHello(nil, frame.Hello{MinVersion: 1, MaxVersion: 1, ID: id, Name: []byte("raw")})); err != nil {
		t.Fatal(err)
	}
	f := readFrame(t, c)
	if f.Kind() != frame.KindWelcome {
		t.Fatalf("got %v, want welcome", f.Kind())
	}
	return c
}

// readFrame reads one frame from a raw connection.
func readFrame(t *testing.T, c net.Conn) frame.Frame {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(20 * time.Second))
	hdr := make([]byte, frame.HeaderSize)
	if _, err := io.ReadFull(c, hdr); err != nil {
		t.Fatalf("read header: %v", err)
	}
	b := make([]byte, binary.LittleEndian.Uint32(hdr))
	copy(b, hdr)
	if _, err := io.ReadFull(c, b[frame.HeaderSize:]); err != nil {
		t.Fatalf("read body: %v", err)
	}
	f, _, err := frame.Scan(b, nil)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// expectClosed reads until EOF and returns the code of the last error or
// bye frame seen.
func expectClosed(t *testing.T, c net.Conn) frame.ErrCode {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(20 * time.Second))
	data, err := io.ReadAll(c)
	if err != nil {
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			t.Fatal("connection not closed")
		}
	}
	code := frame.ErrCode(0xffff)
	for len(data) > 0 {
		f, need, err := frame.Scan(data, nil)
		if err != nil || need > 0 {
			break
		}
		if f.Kind() == frame.KindError || f.Kind() == frame.KindBye {
			r, _ := frame.DecodeReason(f.Body())
			code = r.Code
		}
		data = data[f.Len():]
	}
	return code
}

func TestHandshakeFailures(t *testing.T) {
	r := newRecorder()
	e := newEngine(t, "srv", r, func(o *Options) {
		// Long enough that a busy CI machine still reports the protocol error
		// under test rather than a timeout; the two silence cases wait it out.
		o.HandshakeTimeout = 2 * time.Second
		o.Limits.MaxFrame = 1 << 16
	})
	addr := listen(t, e)
	hello := func(min, max uint16, id frame.NodeID) []byte {
		return frame.AppendHello(nil, frame.Hello{MinVersion: min, MaxVersion: max, ID: id, Name: []byte("x")})
	}
	huge := hello(1, 1, frame.NodeID{9})
	binary.LittleEndian.PutUint32(huge, 1<<20)
	cases := []struct {
		name string
		send []byte
		want frame.ErrCode
	}{
		{"garbage", []byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"), frame.CodeProtocol},
		{"wrong-version", hello(5, 9, frame.NodeID{9}), frame.CodeVersion},
		{"unknown-kind", func() []byte { b := hello(1, 1, frame.NodeID{9}); b[4] = 200; return b }(), frame.CodeProtocol},
		{"not-hello-first", frame.AppendPing(nil, frame.KindPing, frame.Ping{}), frame.CodeProtocol},
		{"over-limit", huge, frame.CodeLimit},
		{"self", hello(1, 1, e.ID()), frame.CodeSelf},
		{"truncated-then-silence", hello(1, 1, frame.NodeID{9})[:20], frame.CodeTimeout},
		{"silence", nil, frame.CodeTimeout},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			conn, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			if c.send != nil {
				if _, err := conn.Write(c.send); err != nil {
					t.Fatal(err)
				}
			}
			if got := expectClosed(t, conn); got != c.want {
				t.Fatalf("closed with %v, want %v", got, c.want)
			}
		})
	}
	s := e.Stats()
	if s.Failures[frame.CodeProtocol] != 3 || s.Failures[frame.CodeLimit] != 1 || s.Failures[frame.CodeVersion] != 1 ||
		s.Failures[frame.CodeTimeout] != 2 || s.Failures[frame.CodeSelf] != 1 || s.Limits.FrameSize != 1 {
		t.Fatalf("failure counters %v, limits %+v", s.Failures, s.Limits)
	}
	// A good peer still gets through afterwards.
	rawHandshake(t, addr, frame.NodeID{42})
	testutil.WaitFor(t, "good peer up", func() bool { return r.peer("raw") != nil })
}

func TestKeepaliveDetectsSilentPeer(t *testing.T) {
	r := newRecorder()
	e := newEngine(t, "srv", r, func(o *Options) {
		o.PingInterval = 50 * time.Millisecond
		o.PeerTimeout = 300 * time.Millisecond
	})
	c := rawHandshake(t, listen(t, e), frame.NodeID{7})
	testutil.WaitFor(t, "peer up", func() bool { return r.peer("raw") != nil })
	// The engine pings the idle raw peer; it never answers.
	if f := readFrame(t, c); f.Kind() != frame.KindPing {
		t.Fatalf("got %v, want ping", f.Kind())
	}
	testutil.WaitFor(t, "peer declared lost", func() bool { _, ok := r.downErr("raw"); return ok })
	err, _ := r.downErr("raw")
	if !errors.Is(err, ErrPeerTimeout) {
		t.Fatalf("down reason %v", err)
	}
}

func TestPingKeepsPeerAlive(t *testing.T) {
	ra, rb := newRecorder(), newRecorder()
	// Generous margins: CI runs this under -race on a busy machine, where a
	// scheduling gap of a few hundred milliseconds is normal. Pings every 50ms
	// must keep the peer alive across several 2s timeouts.
	fast := func(o *Options) { o.PingInterval = 50 * time.Millisecond; o.PeerTimeout = 2 * time.Second }
	a := newEngine(t, "a", ra, fast)
	b := newEngine(t, "b", rb, fast)
	_ = b.Dial(listen(t, a))
	testutil.WaitFor(t, "up", func() bool { return ra.peer("b") != nil && rb.peer("a") != nil })
	// Idle for several timeouts: pings keep both sides up.
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		if _, down := ra.downErr("b"); down {
			t.Fatal("idle peer declared lost despite pings")
		}
		time.Sleep(50 * time.Millisecond)
	}
	if ra.peer("b").Stats().FramesIn < 10 {
		t.Fatalf("only %d frames (pings) arrived in 5s", ra.peer("b").Stats().FramesIn)
	}
}

func TestReconnectAfterListenerRestart(t *testing.T) {
	ra, rb := newRecorder(), newRecorder()
	a := newEngine(t, "a", ra, nil)
	addr := listen(t, a)
	b := newEngine(t, "b", rb, nil)
	_ = b.Dial(addr)
	testutil.WaitFor(t, "up", func() bool { return rb.peer("a") != nil })
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := a.Close(ctx); err != nil {
		t.Fatal(err)
	}
	testutil.WaitFor(t, "down", func() bool { _, ok := rb.downErr("a"); return ok })
	if err, _ := rb.downErr("a"); !isBye(err, frame.CodeShutdown) {
		t.Fatalf("down reason %v, want bye(shutdown)", err)
	}
	ra2 := newRecorder()
	a2 := newEngine(t, "a", ra2, nil)
	if _, err := a2.Listen(addr); err != nil {
		t.Fatal(err)
	}
	testutil.WaitFor(t, "reconnected", func() bool { return rb.peer("a") != nil && ra2.peer("b") != nil })
}

func isBye(err error, code frame.ErrCode) bool {
	var re *RemoteError
	return errors.As(err, &re) && re.Bye && re.Code == code
}

func TestUndialStopsRetrying(t *testing.T) {
	rb := newRecorder()
	b := newEngine(t, "b", rb, nil)
	l, _ := net.Listen("tcp", "127.0.0.1:0")
	addr := l.Addr().String()
	l.Close() // nothing listens: every attempt fails
	_ = b.Dial(addr)
	testutil.WaitFor(t, "two failed attempts", func() bool { rb.mu.Lock(); defer rb.mu.Unlock(); return rb.fails >= 2 })
	b.Undial(addr)
	rb.mu.Lock()
	n := rb.fails
	rb.mu.Unlock()
	time.Sleep(500 * time.Millisecond) // several retry periods: none may happen
	rb.mu.Lock()
	defer rb.mu.Unlock()
	if rb.fails > n+1 { // one attempt may have been in flight
		t.Fatalf("retries continued after Undial: %d -> %d", n, rb.fails)
	}
}

func TestSimultaneousDialOneConnection(t *testing.T) {
	for i := 0; i < 5; i++ {
		ra, rb := newRecorder(), newRecorder()
		a := newEngine(t, "a", ra, nil)
		b := newEngine(t, "b", rb, nil)
		aa, ba := listen(t, a), listen(t, b)
		_ = a.Dial(ba)
		_ = b.Dial(aa)
		testutil.WaitFor(t, "one connection each way settled", func() bool {
			return len(a.Peers()) == 1 && len(b.Peers()) == 1 && a.Stats().Conns == 1 && b.Stats().Conns == 1
		})
		pa, pb := a.Peers()[0], b.Peers()[0]
		if pa.Dialed() == pb.Dialed() {
			t.Fatalf("both ends think they dialed (or neither): %v %v", pa.Dialed(), pb.Dialed())
		}
		// Frames flow on the surviving connection.
		_ = pb.Send(frames(1, 8)[0])
		testutil.WaitFor(t, "frame over the survivor", func() bool { return ra.nframes("b") >= 1 })
	}
}

func TestBackpressureStalledReader(t *testing.T) {
	for _, pol := range []Policy{DropOldest, DropNewest, Disconnect} {
		t.Run(pol.String(), func(t *testing.T) {
			r := newRecorder()
			e := newEngine(t, "srv", r, func(o *Options) {
				o.Policy = pol
				o.QueueFrames = 1000
				o.QueueBytes = 1 << 20
				o.SocketHighWater = 64 << 10
				o.Limits.MaxFrame = 1 << 16
			})
			c := rawHandshake(t, listen(t, e), frame.NodeID{5})
			c.(*net.TCPConn).SetReadBuffer(4096)
			testutil.WaitFor(t, "peer up", func() bool { return r.peer("raw") != nil })
			p := r.peer("raw")
			fr := frame.AppendDataString(nil, frame.Header{}, []byte("t"), make([]byte, 1000))
			// The raw client never reads: the kernel buffers fill, then the
			// socket high-water mark, then the queue bound.
			var dropped bool
			for i := 0; i < 20000; i++ {
				err := p.Send(fr)
				if errors.Is(err, ErrPeerClosed) {
					break
				}
				dropped = dropped || err != nil
				if i%100 == 0 {
					time.Sleep(time.Millisecond) // let the loop flush into the socket
				}
			}
			st := p.Stats()
			if st.QueuedFrames > 1000 || st.QueuedBytes > 1<<20 {
				t.Fatalf("queue beyond its bound: %+v", st)
			}
			switch pol {
			case Disconnect:
				testutil.WaitFor(t, "disconnect", func() bool { _, ok := r.downErr("raw"); return ok })
				if p.Stats().Overflows == 0 {
					t.Fatal("overflow not counted")
				}
			default:
				if !dropped || st.Dropped == 0 {
					t.Fatalf("nothing dropped: %+v", st)
				}
				if _, down := r.downErr("raw"); down {
					t.Fatal("peer disconnected under a drop policy")
				}
			}
		})
	}
}
