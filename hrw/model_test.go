package hrw

import (
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/cespare/xxhash/v2"
)

func cmpString(a, b string) int { return strings.Compare(a, b) }

func hashKey(key []byte) uint64 { return xxhash.Sum64(key) }

// modelTop is the reference for PickN: score every live member with the
// weighted formula (no fast path, no pruning), sort by the order of doc.go.
func modelTop(members []Member, key []byte, n int) []Member {
	type ranked struct {
		m Member
		s float64
		h uint64
	}
	var rs []ranked
	hk := xxhash.Sum64(key)
	for _, m := range members {
		if m.Alive {
			h := mix(hk, xxhash.Sum64String(m.Name))
			rs = append(rs, ranked{m, score(m.Weight, h), h})
		}
	}
	slices.SortFunc(rs, func(a, b ranked) int {
		switch {
		case a.s != b.s:
			return -cmpFloat(a.s, b.s)
		case a.h != b.h:
			if a.h > b.h {
				return -1
			}
			return 1
		}
		return strings.Compare(a.m.Name, b.m.Name)
	})
	var out []Member
	for _, r := range rs[:min(n, len(rs))] {
		out = append(out, r.m)
	}
	return out
}

func cmpFloat(a, b float64) int {
	if a < b {
		return -1
	}
	return 1
}

// TestAgainstModel applies random membership changes and compares Pick and
// PickN with modelTop after each. Weights are often all equal, so picks go
// back and forth between the fast path and the weighted path.
func TestAgainstModel(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	var p Pool
	var model []Member // sorted by name, like Members()
	weights := []float64{1, 1, 1, 1, 1, 1, 1, 2, 0.5, 3.25}
	var equal, weighted int // steps on each path
	keys := testKeys(300)
	var got []Member
	for step := range 400 {
		name := "n" + strconv.Itoa(rng.IntN(10))
		i, exists := slices.BinarySearchFunc(model, name, func(m Member, name string) int { return strings.Compare(m.Name, name) })
		switch op := rng.IntN(3); {
		case !exists:
			m := Member{Name: name, Weight: weights[rng.IntN(len(weights))], Alive: rng.IntN(4) > 0}
			if err := p.Add(m); err != nil {
				t.Fatal(err)
			}
			model = slices.Insert(model, i, m)
		case op == 0:
			if err := p.Remove(name); err != nil {
				t.Fatal(err)
			}
			model = slices.Delete(model, i, i+1)
		default:
			alive := !model[i].Alive
			if err := p.SetAlive(name, alive); err != nil {
				t.Fatal(err)
			}
			model[i].Alive = alive
		}
		if s := p.snap.Load(); s.equal {
			equal++
		} else {
			weighted++
		}
		if !slices.Equal(p.Members(), model) {
			t.Fatalf("step %d: Members %v, model %v", step, p.Members(), model)
		}
		for _, k := range keys {
			for _, n := range []int{1, 3, 40} {
				want := modelTop(model, k, n)
				got = p.PickN(got[:0], k, n)
				if !slices.Equal(got, want) {
					t.Fatalf("step %d key %s n=%d:\n got %v\nwant %v", step, k, n, got, want)
				}
			}
			m, ok := p.Pick(k)
			if want := modelTop(model, k, 1); ok != (len(want) == 1) || ok && m != want[0] {
				t.Fatalf("step %d key %s: Pick %v %v, model %v", step, k, m, ok, want)
			}
		}
	}
	t.Logf("steps on the equal-weight path: %d, on the weighted path: %d", equal, weighted)
	if equal < 50 || weighted < 50 {
		t.Fatal("the random walk does not exercise both paths")
	}
}
