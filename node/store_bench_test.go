package node

import (
	"context"
	"testing"
	"time"

	"github.com/weirio/weir/frame"
	"github.com/weirio/weir/kv"
)

// BenchmarkStorePipelinedPut: remote puts from a frontend node to a master
// node over loopback, 1024 in flight, by backend. With Pebble in sync mode
// the master commits each batch of requests with one fsync.
func BenchmarkStorePipelinedPut(b *testing.B) {
	for _, bc := range []struct {
		name string
		open func(dir string) (kv.Backend, error)
	}{
		{"memory", func(string) (kv.Backend, error) { return kv.NewMemory(), nil }},
		{"pebble-nosync", func(dir string) (kv.Backend, error) {
			return kv.OpenPebble(kv.PebbleOptions{Dir: dir, Sync: kv.NoSync})
		}},
		{"pebble-sync", func(dir string) (kv.Backend, error) {
			return kv.OpenPebble(kv.PebbleOptions{Dir: dir, Sync: kv.Sync})
		}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
			defer cancel()
			be, err := bc.open(b.TempDir())
			if err != nil {
				b.Fatal(err)
			}
			t := &testing.T{}
			a := newNode(t, "master", nil)
			defer a.Close()
			if _, err := a.AttachMaster("s", be, StoreOptions{}); err != nil {
				b.Fatal(err)
			}
			addr, err := a.Listen("127.0.0.1:0")
			if err != nil {
				b.Fatal(err)
			}
			c := newNode(t, "writer", nil)
			defer c.Close()
			if err := c.Peer(addr.String()); err != nil {
				b.Fatal(err)
			}
			f, err := c.StoreFrontend("s")
			if err != nil {
				b.Fatal(err)
			}
			// The first answer proves the path is up: requests sent before
			// the peering and the master's filter are in place are lost.
			for {
				wctx, wcancel := context.WithTimeout(ctx, 100*time.Millisecond)
				_, err := f.Do(frame.OpPut, frame.NewCount(0), frame.NewCount(0), 0).Wait(wctx)
				wcancel()
				if err == nil {
					break
				}
				if ctx.Err() != nil {
					b.Fatal("no answer from the master")
				}
			}
			const window = 1024
			ring := make([]*Future, window)
			b.ResetTimer()
			for i := range b.N {
				if p := ring[i%window]; p != nil {
					if _, err := p.Wait(ctx); err != nil {
						b.Fatal(err)
					}
				}
				ring[i%window] = f.Do(frame.OpPut, frame.NewCount(uint64(i)*0x9e3779b97f4a7c15), frame.NewString("value-0123456789abcdef"), 0)
			}
			for _, p := range ring {
				if p != nil {
					if _, err := p.Wait(ctx); err != nil {
						b.Fatal(err)
					}
				}
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "puts/s")
			b.StopTimer() // closing the nodes is not part of it
		})
	}
}
