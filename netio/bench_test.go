package netio

import (
	"context"
	"crypto/tls"
	"sync/atomic"
	"testing"
	"time"

	"github.com/weirio/weir/frame"
	"github.com/weirio/weir/internal/devcert"
)

// benchHandler counts delivered frames.
type benchHandler struct {
	*recorder
	n atomic.Int64
}

func (h *benchHandler) Frame(*Peer, frame.Frame) { h.n.Add(1) }

// benchPair connects two engines on loopback and returns the sending side's
// peer, the receiver's frame counter and the sender's recorder. mod
// configures both engines. The queue bounds are generous: the benchmark
// measures throughput, not the policy.
func benchPair(b *testing.B, mod func(*Options)) (*Peer, *atomic.Int64, *recorder) {
	b.Helper()
	ra := &benchHandler{recorder: newRecorder()}
	rb := newRecorder()
	o := func(name string) Options {
		o := Options{Name: name, Logger: quietLogger(), Loops: 2, QueueFrames: 1 << 20, QueueBytes: 16 << 20}
		if mod != nil {
			mod(&o)
		}
		return o
	}
	a, err := New(o("a"), ra)
	if err != nil {
		b.Fatal(err)
	}
	bb, err := New(o("b"), rb)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = bb.Close(ctx)
		_ = a.Close(ctx)
	})
	addr, err := a.Listen("127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	if err := bb.Dial(addr.String()); err != nil {
		b.Fatal(err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for rb.peer("a") == nil {
		if time.Now().After(deadline) {
			b.Fatal("engines did not connect")
		}
		time.Sleep(time.Millisecond)
	}
	return rb.peer("a"), &ra.n, rb
}

// benchSend streams b.N data frames with size-byte payloads to p and waits
// until the receiver counted them all.
func benchSend(b *testing.B, downs *recorder, p *Peer, got *atomic.Int64, size int) {
	fr := frame.AppendDataString(nil, frame.Header{}, []byte("bench/topic"), make([]byte, size))
	b.ReportAllocs()
	b.SetBytes(int64(len(fr)))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := p.SendWait(fr, 10*time.Second); err != nil {
			d, _ := downs.downErr("a")
			b.Fatalf("send %d: %v (peer down: %v)", i, err, d)
		}
	}
	deadline := time.Now().Add(30 * time.Second)
	for got.Load() < int64(b.N) {
		if time.Now().After(deadline) {
			b.Fatalf("delivered %d of %d", got.Load(), b.N)
		}
		time.Sleep(50 * time.Microsecond)
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "frames/s")
}

// BenchmarkGnet64 streams 64-byte data frames between two engines on the
// plaintext gnet path: Peer.SendWait, the outbox, one writev per loop
// turn, in-place scanning on the receiver.
func BenchmarkGnet64(b *testing.B) {
	p, got, r := benchPair(b, nil)
	benchSend(b, r, p, got, 64)
}

// BenchmarkGnet1K is BenchmarkGnet64 with 1 KiB payloads.
func BenchmarkGnet1K(b *testing.B) {
	p, got, r := benchPair(b, nil)
	benchSend(b, r, p, got, 1024)
}

// BenchmarkTLS1K is BenchmarkGnet1K on the TLS transport (TLS 1.3,
// AES-GCM): the cost of encryption and of a goroutine pair per connection.
func BenchmarkTLS1K(b *testing.B) {
	ca, err := devcert.NewCA("bench", time.Now())
	if err != nil {
		b.Fatal(err)
	}
	certs := map[string]tls.Certificate{}
	for _, n := range []string{"a", "b"} {
		if certs[n], err = ca.TLSCertificate(n, time.Now()); err != nil {
			b.Fatal(err)
		}
	}
	p, got, r := benchPair(b, func(o *Options) { o.TLS = &TLSConfig{Certificate: certs[o.Name], CAs: ca.Pool()} })
	benchSend(b, r, p, got, 1024)
}

// BenchmarkSecret1K is BenchmarkGnet1K with a shared secret: the check is
// once per connection, so it costs nothing per frame.
func BenchmarkSecret1K(b *testing.B) {
	p, got, r := benchPair(b, func(o *Options) { o.Secret = secretA })
	benchSend(b, r, p, got, 1024)
}

// consumeFixture is an established connection without a socket: consume
// runs on it as the loop would.
func consumeFixture(tb testing.TB) (*Engine, *connState, []byte, *benchHandler) {
	tb.Helper()
	h := &benchHandler{recorder: newRecorder()}
	o := Options{Logger: quietLogger()}
	o.EnsureDefaults()
	e := &Engine{opts: o, h: h, log: o.Logger}
	st := &connState{e: e}
	st.stage.Store(stageUp)
	st.peer.Store(&Peer{st: st, out: newOutbox(o.QueueFrames, o.QueueBytes, o.Policy, kindSet{})})
	var buf []byte
	for _, fr := range frames(64, 64) {
		buf = append(buf, fr...)
	}
	return e, st, buf, h
}

// BenchmarkConsume measures the per-frame receive path shared by both
// transports (scan, dispatch to the Handler, counters) on 64 buffered
// frames, without sockets.
func BenchmarkConsume(b *testing.B) {
	e, st, buf, h := consumeFixture(b)
	b.ReportAllocs()
	b.SetBytes(int64(len(buf)))
	for b.Loop() {
		if e.consume(st, buf) != len(buf) {
			b.Fatal("partial consume")
		}
	}
	b.ReportMetric(float64(h.n.Load())/b.Elapsed().Seconds(), "frames/s")
}

// TestConsumeAllocs: the receive path does not allocate per frame.
func TestConsumeAllocs(t *testing.T) {
	e, st, buf, _ := consumeFixture(t)
	if n := testing.AllocsPerRun(100, func() { e.consume(st, buf) }); n != 0 {
		t.Fatalf("%v allocs per consume, want 0", n)
	}
}
