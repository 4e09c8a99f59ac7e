package kv

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"
)

// waitFilter waits for a running filter build and installs it.
func waitFilter(p *Pebble) {
	for p.filter.building {
		p.installFilterBuild(<-p.filter.result)
	}
}

// smallFilters makes filters tiny for the test, so that builds, rebuilds
// and abandoned builds happen after a few dozen writes.
func smallFilters(t *testing.T, minKeys, maxPending int) {
	oldMin, oldPending := filterMinKeys, filterMaxPending
	filterMinKeys, filterMaxPending = minKeys, maxPending
	t.Cleanup(func() { filterMinKeys, filterMaxPending = oldMin, oldPending })
}

func TestBloomFilter(t *testing.T) {
	f := newBloomFilter(10_000)
	rng := rand.New(rand.NewPCG(1, 2))
	added := make([]uint64, 10_000)
	for i := range added {
		added[i] = rng.Uint64()
		f.add(added[i])
	}
	for _, h := range added {
		if !f.has(h) {
			t.Fatalf("hash %#x added but not found", h)
		}
	}
	fp := 0
	const probes = 100_000
	for range probes {
		if f.has(rng.Uint64()) {
			fp++
		}
	}
	// At capacity the rate is about 1 %; far above it means broken bits.
	if rate := float64(fp) / probes; rate > 0.03 {
		t.Errorf("false-positive rate %.4f at capacity, want about 0.01", rate)
	}
	if f.added != len(added) {
		t.Errorf("added = %d, want %d", f.added, len(added))
	}
}

// TestPebbleFilterAnswersMissingKeys: once built, the filter answers
// lookups of keys never written, and never hides a written one.
func TestPebbleFilterAnswersMissingKeys(t *testing.T) {
	p := openPebble(t, PebbleOptions{FS: vfs.NewMem()})
	defer p.Close()
	key := func(i int) []byte { return []byte(fmt.Sprintf("key-%06d", i)) }
	for i := range 2000 {
		if err := p.Put(key(i), []byte("v"), 0); err != nil {
			t.Fatal(err)
		}
	}
	waitFilter(p)
	if p.filter.f == nil {
		t.Fatal("no filter after the build")
	}
	before := p.filter.answered
	for i := range 2000 {
		ok, err := p.probe(key(i))
		if err != nil || !ok {
			t.Fatalf("probe(%s) = %v, %v; want true", key(i), ok, err)
		}
	}
	for i := 2000; i < 4000; i++ {
		ok, err := p.probe(key(i))
		if err != nil || ok {
			t.Fatalf("probe(%s) = %v, %v; want false", key(i), ok, err)
		}
		if _, _, ok, err := p.Get(key(i)); err != nil || ok {
			t.Fatalf("Get(%s) = %v, %v; want not found", key(i), ok, err)
		}
	}
	// 4000 lookups of missing keys; a handful may be false positives.
	if got := p.filter.answered - before; got < 3900 {
		t.Errorf("the filter answered %d of 4000 lookups of missing keys", got)
	}
}

// TestPebbleFilterExact runs random writes, deletes, clears and lookups, in
// groups and not, against a map, with filters so small that builds start,
// finish, get abandoned and restart all along: a key that exists must
// always be found.
func TestPebbleFilterExact(t *testing.T) {
	smallFilters(t, 16, 40)
	for seed := range uint64(4) {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(seed, 7))
			p := openPebble(t, PebbleOptions{FS: vfs.NewMem(), CompactAfter: -1})
			defer p.Close()
			model := map[string]bool{}
			key := func() []byte { return []byte(fmt.Sprintf("k%d", rng.IntN(300))) }
			check := func(k []byte) {
				t.Helper()
				ok, err := p.probe(k)
				if err != nil {
					t.Fatal(err)
				}
				if ok != model[string(k)] {
					t.Fatalf("probe(%s) = %v, model says %v", k, ok, model[string(k)])
				}
			}
			builds := 0
			for i := range 6000 {
				switch r := rng.IntN(100); {
				case r < 40:
					k := key()
					if err := p.Put(k, []byte("value"), 0); err != nil {
						t.Fatal(err)
					}
					model[string(k)] = true
				case r < 55:
					k := key()
					existed, err := p.Delete(k)
					if err != nil {
						t.Fatal(err)
					}
					if existed != model[string(k)] {
						t.Fatalf("Delete(%s) = %v, model says %v", k, existed, model[string(k)])
					}
					delete(model, string(k))
				case r < 85:
					check(key())
				case r < 95:
					// A group of writes, some read back inside it.
					p.BeginGroup()
					for range rng.IntN(20) {
						k := key()
						if err := p.Put(k, []byte("g"), 0); err != nil {
							t.Fatal(err)
						}
						model[string(k)] = true
						check(key())
					}
					if err := p.EndGroup(); err != nil {
						t.Fatal(err)
					}
				case r < 96:
					if err := p.Clear(); err != nil {
						t.Fatal(err)
					}
					clear(model)
				default:
					if p.filter.building {
						builds++
					}
					waitFilter(p)
				}
				if i%500 == 0 {
					for k := range model {
						check([]byte(k))
					}
				}
			}
			if builds == 0 {
				t.Error("no build was running when the test waited for one")
			}
			if p.filter.answered == 0 {
				t.Error("the filter never answered a lookup")
			}
		})
	}
}

// TestPebbleFilterReopen: a reopened database builds its filter from what
// is on disk, and a Close during a build neither hangs nor leaks its
// snapshot.
func TestPebbleFilterReopen(t *testing.T) {
	fs := vfs.NewMem()
	p := openPebble(t, PebbleOptions{FS: fs, Dir: "db"})
	for i := range 5000 {
		if err := p.Put([]byte(fmt.Sprintf("key-%d", i)), []byte("v"), 0); err != nil {
			t.Fatal(err)
		}
	}
	if err := p.Close(); err != nil { // maybe during the first build
		t.Fatal(err)
	}
	p = openPebble(t, PebbleOptions{FS: fs, Dir: "db"})
	defer p.Close()
	waitFilter(p)
	if p.filter.f == nil || p.filter.lastKeys != 5000 {
		t.Fatalf("filter after reopen: %v, %d keys; want one of 5000 keys", p.filter.f != nil, p.filter.lastKeys)
	}
	for i := range 5000 {
		if ok, err := p.probe([]byte(fmt.Sprintf("key-%d", i))); err != nil || !ok {
			t.Fatalf("key-%d: probe = %v, %v after reopen", i, ok, err)
		}
	}
}
