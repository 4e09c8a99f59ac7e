package node

import (
	"cmp"
	"math/rand/v2"
	"slices"
	"sync/atomic"
	"testing"
)

// pendingModel is what a pendingMap must do, as a plain map.
type pendingModel struct {
	m              map[uint64]*Future
	acked, answers uint64
}

func (r *pendingModel) answer(id uint64, ordered bool) (*Future, []*Future) {
	r.answers++
	f := r.m[id]
	delete(r.m, id)
	if !ordered || id <= r.acked {
		return f, nil
	}
	from := r.acked
	r.acked = id
	var lost []*Future
	for i, g := range r.m {
		if i > from && i < id {
			delete(r.m, i)
			lost = append(lost, g)
		}
	}
	slices.SortFunc(lost, func(a, b *Future) int { return cmp.Compare(a.id, b.id) })
	return f, lost
}

func ids(fs []*Future) []uint64 {
	out := make([]uint64, len(fs))
	for i, f := range fs {
		out[i] = f.id
	}
	return out
}

func sortedIDs(fs []*Future) []uint64 {
	out := ids(fs)
	slices.Sort(out)
	return out
}

// The ring-and-map pendingMap against the model under random sequences:
// requests stored with increasing ids (some skipped, some refused at the
// bound), abandoned, answered in order (ending the earlier ones as lost)
// and out of order (refusals), timed out and all taken at once. One
// sequence keeps a request pending across more than maxPendingRing ids,
// so that it moves to the far map; the node's total must follow.
func TestPendingMapModel(t *testing.T) {
	for seed := range uint64(6) {
		r := rand.New(rand.NewPCG(seed, 7))
		var p pendingMap
		ref := pendingModel{m: map[uint64]*Future{}}
		var node atomic.Int64
		const max = 3000
		next := uint64(0)
		steps := 40_000
		if seed == 0 {
			steps = 3 * maxPendingRing // the far map's case
		}
		var old []uint64 // ids stored, for picking targets
		pick := func() uint64 {
			if len(old) == 0 || r.IntN(10) == 0 {
				return next + uint64(r.IntN(3)) // absent, or not yet sent
			}
			return old[len(old)-1-r.IntN(min(len(old), 200))]
		}
		for step := range steps {
			switch k := r.IntN(100); {
			case k < 50: // store
				next += 1 + uint64(r.IntN(2)*r.IntN(3))
				f := &Future{id: next, sent: int64(next) + r.Int64N(5)}
				ok, _ := p.Store(next, f, max, &node, 1<<30)
				if want := len(ref.m) < max; ok != want {
					t.Fatalf("seed %d step %d: Store(%d) = %v with %d pending", seed, step, next, ok, len(ref.m))
				}
				if ok {
					ref.m[next] = f
					old = append(old, next)
				}
			case k < 58: // a Wait gives up
				id := pick()
				f, ok := p.LoadAndDelete(id)
				g, gok := ref.m[id]
				delete(ref.m, id)
				if ok != gok || f != g {
					t.Fatalf("seed %d step %d: LoadAndDelete(%d) = %v, want %v", seed, step, id, ok, gok)
				}
			case k < 97: // answers
				id := pick()
				// Seed 0 keeps its oldest request pending: only refusals
				// (unordered) answer anything until the end.
				ordered := r.IntN(8) != 0 && seed != 0
				f, lost := p.answer(id, ordered)
				g, glost := ref.answer(id, ordered)
				if f != g {
					t.Fatalf("seed %d step %d: answer(%d, %v) found %v, want %v", seed, step, id, ordered, f != nil, g != nil)
				}
				if !slices.Equal(ids(lost), ids(glost)) {
					t.Fatalf("seed %d step %d: answer(%d, %v) lost %v, want %v", seed, step, id, ordered, ids(lost), ids(glost))
				}
			case k < 99: // timeouts
				if seed == 0 {
					continue
				}
				limit := int64(next) - int64(r.IntN(500))
				got := p.takeOlder(limit)
				var want []*Future
				for id, f := range ref.m {
					if f.sent < limit {
						delete(ref.m, id)
						want = append(want, f)
					}
				}
				if !slices.Equal(sortedIDs(got), sortedIDs(want)) {
					t.Fatalf("seed %d step %d: takeOlder(%d) = %v, want %v", seed, step, limit, sortedIDs(got), sortedIDs(want))
				}
			default:
				if seed == 0 || r.IntN(20) != 0 {
					continue
				}
				got := p.takeAll()
				var want []*Future
				for _, f := range ref.m {
					want = append(want, f)
				}
				clear(ref.m)
				if !slices.Equal(sortedIDs(got), sortedIDs(want)) {
					t.Fatalf("seed %d step %d: takeAll = %v, want %v", seed, step, sortedIDs(got), sortedIDs(want))
				}
			}
			if n, a := p.counts(); n != len(ref.m) || a != ref.answers || node.Load() != int64(n) {
				t.Fatalf("seed %d step %d: counts %d, %d (node %d), want %d, %d", seed, step, n, a, node.Load(), len(ref.m), ref.answers)
			}
			if step%997 == 0 {
				for id, f := range ref.m {
					if g, ok := p.Load(id); !ok || g != f {
						t.Fatalf("seed %d step %d: Load(%d) lost it", seed, step, id)
					}
				}
			}
		}
		if seed == 0 {
			if len(p.far) < 2 {
				t.Fatalf("seed 0: %d requests moved to the far map (ring %d ids, %d pending)", len(p.far), len(p.ring), p.n)
			}
			// An answer in order ends every earlier request, far ones
			// included, oldest first.
			_, lost := p.answer(next+1, true)
			_, glost := ref.answer(next+1, true)
			if !slices.Equal(ids(lost), ids(glost)) || len(p.far) != 0 {
				t.Fatalf("seed 0: the last answer lost %d requests (far left %d), want %d", len(lost), len(p.far), len(glost))
			}
		}
		if len(p.ring) > maxPendingRing {
			t.Fatalf("seed %d: ring of %d ids", seed, len(p.ring))
		}
	}
}

// BenchmarkPendingMap is a pipelined handle's bookkeeping per request,
// 1024 in flight: tracked when sent, found and removed when its answer
// comes (ring); and answers in order to requests that moved to the far
// map (far: a refused request's id skipped more than the ring covers),
// which must not scan the map each.
func BenchmarkPendingMap(b *testing.B) {
	b.Run("ring", func(b *testing.B) {
		var p pendingMap
		var node atomic.Int64
		fs := make([]Future, 1024)
		id := uint64(0)
		for ; id < 1024; id++ {
			p.Store(id+1, &fs[id%1024], 4096, &node, 1<<30)
		}
		b.ReportAllocs()
		for b.Loop() {
			if f, lost := p.answer(id-1023, true); f == nil || lost != nil {
				b.Fatal("answer not found")
			}
			id++
			p.Store(id, &fs[id%1024], 4096, &node, 1<<30)
		}
	})
	b.Run("far", func(b *testing.B) {
		const n = 4096
		var p pendingMap
		var node atomic.Int64
		fs := make([]Future, n+1)
		next := uint64(n) // answered next; n: set up again
		b.ReportAllocs()
		for b.Loop() {
			if next == n {
				b.StopTimer()
				p = pendingMap{}
				for i := range uint64(n) {
					fs[i].id = i + 1
					p.Store(i+1, &fs[i], n+1, &node, 1<<30)
				}
				fs[n].id = 1 << 20
				p.Store(1<<20, &fs[n], n+1, &node, 1<<30) // the rest move to far
				if len(p.far) != n {
					b.Fatalf("%d requests in far, want %d", len(p.far), n)
				}
				next = 1
				b.StartTimer()
			}
			if f, lost := p.answer(next, true); f == nil || lost != nil {
				b.Fatal("answer not found")
			}
			next++
		}
	})
}
