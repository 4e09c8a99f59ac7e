package node

import (
	"runtime"
	"sync/atomic"
	"testing"
	"time"
)

// pipeline starts a publisher, an optional forwarding relay and a
// subscriber on loopback, all in this process, and returns the publisher
// and the subscriber's delivery counter.
func pipeline(b *testing.B, relay bool) (*Node, *atomic.Int64, []*Node) {
	b.Helper()
	quiet := func(o *Options) { o.PublishWait = 10 * time.Second }
	var got atomic.Int64
	sub := newNode(&testing.T{}, "sub", nil)
	b.Cleanup(func() { _ = sub.Close() })
	if _, err := sub.SubscribeFunc("bench/", func(m Message) { got.Add(1) }); err != nil {
		b.Fatal(err)
	}
	pub := newNode(&testing.T{}, "pub", quiet)
	b.Cleanup(func() { _ = pub.Close() })
	target := sub
	if relay {
		// Like a NATS server's 64 MiB pending limit per client: the bound is in
		// bytes; Zeek's 8192-frame default would drop bursts at full speed.
		target = newNode(&testing.T{}, "relay", func(o *Options) { o.Forwarding = true; o.Net.QueueFrames = 1 << 20 })
		b.Cleanup(func() { _ = target.Close() })
	}
	ta, err := target.Listen("127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	if relay {
		_ = sub.Peer(ta.String())
	}
	_ = pub.Peer(ta.String())
	// Probe until the subscriber's filter has reached the publisher.
	deadline := time.Now().Add(20 * time.Second)
	for got.Load() == 0 {
		if time.Now().After(deadline) {
			b.Fatal("pipeline did not come up")
		}
		_ = pub.PublishBytes("bench/probe", nil)
		time.Sleep(time.Millisecond)
	}
	time.Sleep(10 * time.Millisecond)
	got.Store(0)
	return pub, &got, []*Node{pub, target, sub}
}

// benchWindow bounds the messages benchPipeline has in flight.
const benchWindow = 4096

func benchPipeline(b *testing.B, relay bool, size int) {
	pub, got, nodes := pipeline(b, relay)
	payload := make([]byte, size)
	b.ReportAllocs()
	b.SetBytes(int64(size))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		// Keep at most benchWindow messages in flight, below every queue
		// bound: the benchmark measures the path, not the drop policy
		// (without it a relay faster than its subscriber drops frames).
		for int64(i)-got.Load() >= benchWindow {
			runtime.Gosched()
		}
		_ = pub.PublishBytes("bench/topic", payload)
	}
	deadline := time.Now().Add(30 * time.Second)
	for got.Load() < int64(b.N) {
		if time.Now().After(deadline) {
			var dropped uint64
			for _, n := range nodes {
				for _, p := range n.Peers() {
					dropped += p.Stats().Dropped
				}
			}
			for _, n := range nodes {
				for _, p := range n.Peers() {
					b.Logf("%s -> %s: %+v", n.Name(), p.Name, p.Stats())
				}
			}
			b.Fatalf("delivered %d of %d; %d dropped by backpressure", got.Load(), b.N, dropped)
		}
		time.Sleep(100 * time.Microsecond)
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
}

// BenchmarkDirect64: publisher node -> subscriber node, 64-byte payloads,
// one PublishBytes per message, every message delivered to a handler.
func BenchmarkDirect64(b *testing.B) { benchPipeline(b, false, 64) }

// BenchmarkRelay64: publisher -> forwarding relay -> subscriber. allocs/op
// covers all three nodes, so 0 means the relay path allocates nothing per
// message.
func BenchmarkRelay64(b *testing.B) { benchPipeline(b, true, 64) }

// BenchmarkRelay1K is BenchmarkRelay64 with 1 KiB payloads.
func BenchmarkRelay1K(b *testing.B) { benchPipeline(b, true, 1024) }
