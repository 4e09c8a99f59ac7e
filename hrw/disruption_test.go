package hrw

import (
	"slices"
	"testing"
)

const disruptionKeys = 100_000

// pools are the memberships the disruption tests start from. "switch" flips
// between the equal-weight fast path and the weighted path when m04 leaves
// or returns, which must not move any other key either.
func disruptionPools() map[string][]Member {
	sw := live(5, 1)
	sw[4].Weight = 2
	return map[string][]Member{
		"equal":    live(10, 1),
		"weighted": live(10, 1, 2, 0.5, 3, 7),
		"switch":   sw,
	}
}

// checkMoves asserts that every key whose owner differs between before and
// after satisfies ok, and that at least one key moved.
func checkMoves(t *testing.T, keys [][]byte, before, after []string, ok func(from, to string) bool) {
	t.Helper()
	moved := 0
	for i := range keys {
		if before[i] == after[i] {
			continue
		}
		moved++
		if !ok(before[i], after[i]) {
			t.Fatalf("key %s moved from %q to %q", keys[i], before[i], after[i])
		}
	}
	if moved == 0 {
		t.Fatal("no key moved; the test proves nothing")
	}
}

func TestRemoveMovesOnlyItsKeys(t *testing.T) {
	keys := testKeys(disruptionKeys)
	for name, members := range disruptionPools() {
		t.Run(name, func(t *testing.T) {
			p := mustNew(t, members...)
			before := owners(p, keys)
			for _, x := range []string{"m00", "m04"} {
				q := mustNew(t, members...)
				if err := q.Remove(x); err != nil {
					t.Fatal(err)
				}
				checkMoves(t, keys, before, owners(q, keys), func(from, to string) bool { return from == x })

				// Killing x is the same as removing it; reviving it restores
				// every key.
				if err := q.Add(Member{Name: x, Weight: 1}); err != nil {
					t.Fatal(err)
				}
				if err := p.SetAlive(x, false); err != nil {
					t.Fatal(err)
				}
				dead := owners(p, keys)
				checkMoves(t, keys, before, dead, func(from, to string) bool { return from == x })
				if err := p.SetAlive(x, true); err != nil {
					t.Fatal(err)
				}
				checkMoves(t, keys, dead, owners(p, keys), func(from, to string) bool { return to == x })
			}
		})
	}
}

func TestAddMovesOnlyToNew(t *testing.T) {
	keys := testKeys(disruptionKeys)
	for name, members := range disruptionPools() {
		t.Run(name, func(t *testing.T) {
			p := mustNew(t, members...)
			before := owners(p, keys)
			for _, y := range []Member{
				{Name: "new-1", Weight: 1, Alive: true},
				{Name: "new-3", Weight: 3, Alive: true}, // makes "equal" weighted
			} {
				if err := p.Add(y); err != nil {
					t.Fatal(err)
				}
				after := owners(p, keys)
				checkMoves(t, keys, before, after, func(from, to string) bool { return to == y.Name })
				before = after
			}
		})
	}
}

// rankOf returns the rank of every live member for key, computed the slow
// way: the full weighted score for every member, whatever the weights.
func rankOf(p *Pool, m Member, key []byte) cand {
	s := p.snap.Load()
	i, ok := slices.BinarySearchFunc(s.live, m.Name, func(a Member, name string) int {
		return cmpString(a.Name, name)
	})
	if !ok {
		panic("BUG: member not live: " + m.Name)
	}
	h := mum(hashKey(key)^mixKey, s.fac[i])
	return cand{s: score(m.Weight, h), h: h, i: i}
}

func TestPickN(t *testing.T) {
	keys := testKeys(3000)
	for name, members := range map[string][]Member{
		"equal":    live(40, 1),
		"weighted": live(40, 1, 2, 0.5, 3, 7),
	} {
		t.Run(name, func(t *testing.T) {
			p := mustNew(t, members...)
			var got []Member
			for _, n := range []int{1, 2, 3, 5, maxStackN, maxStackN + 1, 40, 100} {
				for _, k := range keys {
					got = p.PickN(got[:0], k, n)
					if want := min(n, len(members)); len(got) != want {
						t.Fatalf("n=%d: got %d members, want %d", n, len(got), want)
					}
					if first, _ := p.Pick(k); got[0] != first {
						t.Fatalf("n=%d key %s: first %v, Pick %v", n, k, got[0], first)
					}
					// Strictly descending rank implies distinct members.
					for i := 1; i < len(got); i++ {
						if !rankOf(p, got[i-1], k).beats(rankOf(p, got[i], k)) {
							t.Fatalf("n=%d key %s: %v not ranked above %v", n, k, got[i-1], got[i])
						}
					}
					// Nothing left out ranks above the last one returned.
					last := rankOf(p, got[len(got)-1], k)
					for _, m := range members {
						if !slices.Contains(got, m) && rankOf(p, m, k).beats(last) {
							t.Fatalf("n=%d key %s: %v left out but ranks above %v", n, k, m, got[len(got)-1])
						}
					}
				}
			}
		})
	}
}

// TestPickNOrderSurvivesRemoval checks the fallback property: after a member
// leaves (or dies), each key's order of the others is unchanged.
func TestPickNOrderSurvivesRemoval(t *testing.T) {
	keys := testKeys(5000)
	for name, members := range map[string][]Member{
		"equal":    live(40, 1),
		"weighted": live(40, 1, 2, 0.5, 3, 7),
	} {
		t.Run(name, func(t *testing.T) {
			for _, n := range []int{4, len(members)} { // stack and sorting paths
				p := mustNew(t, members...)
				before := make([][]Member, len(keys))
				for i, k := range keys {
					before[i] = p.PickN(nil, k, n+2) // two members leave below
				}
				if err := p.SetAlive("m03", false); err != nil {
					t.Fatal(err)
				}
				if err := p.Remove("m07"); err != nil {
					t.Fatal(err)
				}
				for i, k := range keys {
					want := slices.DeleteFunc(before[i], func(m Member) bool { return m.Name == "m03" || m.Name == "m07" })
					want = want[:min(n, len(want))]
					if got := p.PickN(nil, k, n); !slices.Equal(got, want) {
						t.Fatalf("n=%d key %s:\n got %v\nwant %v", n, k, got, want)
					}
				}
			}
		})
	}
}
