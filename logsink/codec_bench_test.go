package logsink

import (
	"fmt"
	"syscall"
	"testing"
	"time"

	"github.com/weirio/weir/frame"
)

var sinkBytes []byte

// BenchmarkCodec measures each codec on a default-size batch (400 conn-like
// records): MB/s of raw payload, and the ratio raw/compressed.
//
//	go test -run '^$' -bench 'Codec' -benchtime 2s ./logsink/
func BenchmarkCodec(b *testing.B) {
	raw := connPayload(42, DefaultMaxRecords)
	c := newTestCodecs(b)
	for _, codec := range []frame.Codec{frame.CodecS2, frame.CodecZstd} {
		comp, err := c.Compress(nil, raw, codec)
		if err != nil {
			b.Fatal(err)
		}
		ratio := float64(len(raw)) / float64(len(comp))
		b.Run(fmt.Sprintf("%v/compress", codec), func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(raw)))
			dst := make([]byte, 0, 2*len(raw))
			cpu0 := cpuTime()
			for b.Loop() {
				dst, _ = c.Compress(dst[:0], raw, codec)
			}
			reportCPU(b, cpu0, len(raw))
			sinkBytes = dst
			b.ReportMetric(ratio, "ratio")
		})
		b.Run(fmt.Sprintf("%v/decompress", codec), func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(raw)))
			dst := make([]byte, 0, len(raw))
			cpu0 := cpuTime()
			for b.Loop() {
				var err error
				dst, err = c.Decompress(dst[:0], comp, codec, uint32(len(raw)))
				if err != nil {
					b.Fatal(err)
				}
			}
			reportCPU(b, cpu0, len(raw))
			sinkBytes = dst
			b.ReportMetric(ratio, "ratio")
		})
	}
}

// BenchmarkBatcherAppend measures encoding one conn-like record into a
// batch, with released buffers (the steady state).
func BenchmarkBatcherAppend(b *testing.B) {
	r := newRand(5)
	recs := make([][]frame.Value, 256)
	for i := range recs {
		recs[i] = connRecord(nil, r, i)
	}
	for _, par := range []bool{false, true} {
		b.Run(fmt.Sprintf("parallel=%v", par), func(b *testing.B) {
			bt, _ := NewBatcher("conn", nil)
			b.ReportAllocs()
			b.SetBytes(int64(len(AppendRecord(nil, recs[0]))))
			if !par {
				i := 0
				for b.Loop() {
					if bb, ok := bt.Append(recs[i&255]); ok {
						bt.Release(bb)
					}
					i++
				}
				return
			}
			b.RunParallel(func(pb *testing.PB) {
				i := 0
				for pb.Next() {
					if bb, ok := bt.Append(recs[i&255]); ok {
						bt.Release(bb)
					}
					i++
				}
			})
		})
	}
}

// cpuTime is the process's user+system CPU time. On a loaded shared VM wall
// time (MB/s) mostly measures waiting for a CPU; CPU time per op does not.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// reportCPU reports "cpu-MB/s": raw bytes per second of CPU time.
func reportCPU(b *testing.B, cpu0 time.Duration, size int) {
	if d := cpuTime() - cpu0; d > 0 {
		b.ReportMetric(float64(size)*float64(b.N)/d.Seconds()/1e6, "cpu-MB/s")
	}
}
