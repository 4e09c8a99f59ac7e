package kv

import (
	"math/rand/v2"
	"runtime"
	"testing"
	"time"

	"github.com/weirio/weir/frame"
)

var sinkValue frame.Value

// benchCmd builds a put of a random count key and a 64-byte string value
// in buf without allocating.
type benchCmd struct {
	r        *rand.Rand
	kb, vb   []byte
	keySpace uint64
}

func newBenchCmd(keySpace uint64) *benchCmd {
	c := &benchCmd{r: rand.New(rand.NewPCG(1, 2)), keySpace: keySpace}
	c.vb = frame.AppendString(nil, make([]byte, 64))
	return c
}

func (c *benchCmd) next(op frame.StoreOp) Command {
	c.kb = frame.AppendValue(c.kb[:0], frame.NewCount(c.r.Uint64N(c.keySpace)))
	k, _, _ := frame.DecodeValue(c.kb, nil)
	v, _, _ := frame.DecodeValue(c.vb, nil)
	return Command{Op: op, Key: k, Value: v}
}

func benchPut(b *testing.B, s *Store, keySpace uint64) {
	c := newBenchCmd(keySpace)
	b.SetBytes(int64(9 + len(c.vb)))
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		if _, _, err := s.Exec(c.next(frame.OpPut), 0); err != nil {
			b.Fatal(err)
		}
	}
}

func benchGet(b *testing.B, s *Store, keySpace uint64) {
	c := newBenchCmd(keySpace)
	for i := range keySpace {
		cmd := c.next(frame.OpPut)
		c.kb = frame.AppendValue(c.kb[:0], frame.NewCount(i))
		cmd.Key, _, _ = frame.DecodeValue(c.kb, nil)
		if _, _, err := s.Exec(cmd, 0); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		v, _, err := s.Exec(c.next(frame.OpGet), 0)
		if err != nil {
			b.Fatal(err)
		}
		sinkValue = v
	}
}

func openBenchPebble(b *testing.B, mode SyncMode) *Store {
	p, err := OpenPebble(PebbleOptions{Dir: b.TempDir(), Sync: mode})
	if err != nil {
		b.Fatal(err)
	}
	return newStore(b, p, Options{})
}

// BenchmarkPebblePut is the local baseline for remote puts: random keys
// (mostly inserts) into a Pebble store in a temp dir, NoSync.
func BenchmarkPebblePut(b *testing.B) { benchPut(b, openBenchPebble(b, NoSync), 1<<62) }

// BenchmarkPebblePutSync is the same with one fsync per put.
func BenchmarkPebblePutSync(b *testing.B) { benchPut(b, openBenchPebble(b, Sync), 1<<62) }

// BenchmarkPebbleGet reads random keys of 100k.
func BenchmarkPebbleGet(b *testing.B) { benchGet(b, openBenchPebble(b, NoSync), 100_000) }

// BenchmarkMemoryPut: random keys of 1M, so most puts overwrite once the
// map is warm.
func BenchmarkMemoryPut(b *testing.B) { benchPut(b, newStore(b, NewMemory(), Options{}), 1<<20) }

// BenchmarkMemoryGet reads random keys of 100k.
func BenchmarkMemoryGet(b *testing.B) { benchGet(b, newStore(b, NewMemory(), Options{}), 100_000) }

// BenchmarkMemoryAddCount increments random counters of 100k.
func BenchmarkMemoryAddCount(b *testing.B) {
	s := newStore(b, NewMemory(), Options{})
	c := newBenchCmd(100_000)
	c.vb = frame.AppendValue(c.vb[:0], frame.NewCount(1))
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		if _, _, err := s.Exec(c.next(frame.OpAdd), 0); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkMemoryAddSet inserts random elements into one set that grows to
// 10k elements: the byte-level splice, O(set size) per insert.
func BenchmarkMemoryAddSet(b *testing.B) {
	s := newStore(b, NewMemory(), Options{})
	init := NewCommand(frame.OpPut, str("set"), set(), 0)
	mustExec(b, s, init, 0)
	key := init.Key
	c := newBenchCmd(10_000)
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		c.kb = frame.AppendValue(c.kb[:0], frame.NewCount(c.r.Uint64N(c.keySpace)))
		v, _, _ := frame.DecodeValue(c.kb, nil)
		if _, _, err := s.Exec(Command{Op: frame.OpAdd, Key: key, Value: v}, 0); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	if v, _ := mustExec(b, s, NewCommand(frame.OpGet, str("set"), frame.None, 0), 0); v.Type() != frame.TypeSet || v.Len() < min(b.N, 5000) {
		b.Fatalf("the set has %d elements after %d inserts", v.Len(), b.N)
	}
}

// BenchmarkMemoryExpire: put a key with an expiry and expire one key per
// iteration, on a heap of 100k.
func BenchmarkMemoryExpire(b *testing.B) {
	m := NewMemory()
	val := enc(cnt(0))
	var kb []byte
	for i := range 100_000 {
		kb = frame.AppendValue(kb[:0], cnt(uint64(i)))
		m.Put(kb, val, int64(1+i))
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		kb = frame.AppendValue(kb[:0], cnt(uint64(100_000+i)))
		m.Put(kb, val, int64(100_001+i))
		if n, _ := m.Expire(int64(1+i), 1, func([]byte) {}); n != 1 {
			b.Fatal("nothing expired")
		}
	}
}

// freshKeys is how many keys BenchmarkMemoryInsertFresh puts into one
// backend before it starts over with an empty one.
const freshKeys = 1 << 20

// BenchmarkMemoryInsertFresh puts fresh keys (count encodings, 66-byte
// string values, no expiry) into a memory backend that grows from empty
// to 1M keys, then starts over: the cost of a new key, growth and the GC
// work the backend's data causes included.
func BenchmarkMemoryInsertFresh(b *testing.B) {
	val := enc(str(string(make([]byte, 64))))
	var kb []byte
	var m *Memory
	b.SetBytes(int64(9 + len(val)))
	b.ReportAllocs()
	for i := range b.N {
		if i%freshKeys == 0 {
			b.StopTimer()
			if m != nil {
				m.Close()
			}
			m = NewMemory()
			runtime.GC()
			b.StartTimer()
		}
		kb = frame.AppendValue(kb[:0], cnt(uint64(i)))
		if err := m.Put(kb, val, 0); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkMemoryPrefetch applies runs of 256 puts of fresh random keys
// (count encodings, 66-byte values) to a Store over a memory backend of
// 1M keys, as a clone applies a batch of updates: plain, and with
// Store.Prefetch of the run's keys first. The table's slots of random
// keys are cache misses; prefetched, they overlap. A run of fresh keys
// past the 1M makes the table grow once in a while, as a clone's does.
func BenchmarkMemoryPrefetch(b *testing.B) {
	for _, prefetch := range []bool{false, true} {
		name := "plain"
		if prefetch {
			name = "prefetch"
		}
		b.Run(name, func(b *testing.B) {
			s := newStore(b, NewMemory(), Options{})
			val := enc(str(string(make([]byte, 64))))
			key := func(i uint64) []byte { return frame.AppendValue(nil, cnt(i*0x9E3779B97F4A7C15)) }
			next := uint64(0)
			for ; next < 1<<20; next++ {
				if err := s.b.Put(key(next), val, 0); err != nil {
					b.Fatal(err)
				}
			}
			const run = 256
			keys := make([][]byte, run)
			for j := range keys {
				keys[j] = make([]byte, 0, 16)
			}
			b.SetBytes(int64(9 + len(val)))
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i += run {
				for j := range keys {
					keys[j] = frame.AppendValue(keys[j][:0], cnt(next*0x9E3779B97F4A7C15))
					next++
				}
				if prefetch {
					for _, k := range keys {
						s.Prefetch(k)
					}
				}
				for _, k := range keys {
					if err := s.b.Put(k, val, 0); err != nil {
						b.Fatal(err)
					}
				}
			}
		})
	}
}

// BenchmarkMemoryFootprint fills a memory backend with 1M keys as
// BenchmarkMemoryInsertFresh does and reports the heap it holds per key
// (B/key, after a GC) and how long a forced GC takes with it live
// (gc-ms: mostly the mark phase, which scales with the pointers the
// backend holds).
func BenchmarkMemoryFootprint(b *testing.B) {
	val := enc(str(string(make([]byte, 64))))
	var kb []byte
	var ms runtime.MemStats
	var perKey, gcTime float64
	for range b.N {
		b.StopTimer()
		runtime.GC()
		runtime.ReadMemStats(&ms)
		before := ms.HeapAlloc
		b.StartTimer()
		m := NewMemory()
		for i := range freshKeys {
			kb = frame.AppendValue(kb[:0], cnt(uint64(i)))
			if err := m.Put(kb, val, 0); err != nil {
				b.Fatal(err)
			}
		}
		b.StopTimer()
		start := time.Now()
		runtime.GC()
		gcTime += float64(time.Since(start).Nanoseconds()) / 1e6
		runtime.ReadMemStats(&ms)
		perKey += (float64(ms.HeapAlloc) - float64(before)) / freshKeys
		runtime.KeepAlive(m)
		m.Close()
		b.StartTimer()
	}
	b.ReportMetric(perKey/float64(b.N), "B/key")
	b.ReportMetric(gcTime/float64(b.N), "gc-ms")
}
