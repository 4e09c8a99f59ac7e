package cluster

import (
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"

	"github.com/weirio/weir/frame"
)

func allAlive(t testing.TB, ps *Pools, l *Layout, reverse bool) {
	t.Helper()
	nodes := slices.Clone(l.Nodes)
	if reverse {
		slices.Reverse(nodes)
	}
	for _, n := range nodes {
		if err := ps.SetAlive(n.Name, true); err != nil {
			t.Fatal(err)
		}
	}
}

func keys(n int) [][]byte {
	ks := make([][]byte, n)
	for i := range ks {
		ks[i] = fmt.Appendf(nil, "10.%d.%d.%d", i>>16, (i>>8)&255, i&255)
	}
	return ks
}

func TestNewPools(t *testing.T) {
	l := mustParse(t, bigLayout)
	ps := NewPools(l)
	for _, tc := range []struct {
		role frame.Role
		want []string
	}{
		{frame.RoleProxy, []string{"proxy-1", "proxy-2", "proxy-3"}},
		{frame.RoleWorker, []string{"worker-1", "worker-2", "worker-3", "worker-4"}},
		{frame.RoleLogger, []string{"logger-1", "logger-2"}},
	} {
		p := ps.Pool(tc.role)
		if p.Role() != tc.role || !slices.Equal(p.Members(), tc.want) {
			t.Errorf("%s pool: role %s, members %v, want %v", tc.role, p.Role(), p.Members(), tc.want)
		}
		// Members start dead.
		if live := p.Live(); len(live) != 0 {
			t.Errorf("%s pool: live %v before any SetAlive", tc.role, live)
		}
		if name, ok := p.PickHRW([]byte("k")); ok {
			t.Errorf("%s pool: PickHRW picked %s with no live member", tc.role, name)
		}
		if name, ok := p.PickRR("k"); ok {
			t.Errorf("%s pool: PickRR picked %s with no live member", tc.role, name)
		}
	}
	for _, r := range []frame.Role{frame.RoleManager, frame.RoleNone, frame.RoleClient} {
		if ps.Pool(r) != nil {
			t.Errorf("Pool(%s) != nil", r)
		}
	}
}

func TestSetAliveErrors(t *testing.T) {
	ps := NewPools(mustParse(t, bigLayout))
	if err := ps.SetAlive("manager", true); err != nil {
		t.Errorf("SetAlive(manager) = %v, want nil (no pool)", err)
	}
	if err := ps.SetAlive("nobody", true); !errors.Is(err, ErrUnknownNode) {
		t.Errorf("Pools.SetAlive(nobody) = %v", err)
	}
	if err := ps.Pool(frame.RoleProxy).SetAlive("worker-1", true); !errors.Is(err, ErrUnknownNode) {
		t.Errorf("proxy Pool.SetAlive(worker-1) = %v", err)
	}
	// Idempotent.
	p := ps.Pool(frame.RoleProxy)
	for range 2 {
		if err := p.SetAlive("proxy-2", true); err != nil {
			t.Fatal(err)
		}
	}
	if got := p.Live(); !slices.Equal(got, []string{"proxy-2"}) {
		t.Errorf("Live = %v", got)
	}
}

// TestPickHRWDeterministic: two pools built independently, their members
// brought up in different orders, pick the same member for every key.
func TestPickHRWDeterministic(t *testing.T) {
	l1, l2 := mustParse(t, bigLayout), mustParse(t, bigLayout)
	ps1, ps2 := NewPools(l1), NewPools(l2)
	allAlive(t, ps1, l1, false)
	allAlive(t, ps2, l2, true)
	for _, role := range poolRoles {
		p1, p2 := ps1.Pool(role), ps2.Pool(role)
		for _, k := range keys(10000) {
			a, ok1 := p1.PickHRW(k)
			b, ok2 := p2.PickHRW(k)
			c, _ := p1.PickHRWString(string(k))
			if !ok1 || !ok2 || a != b || a != c {
				t.Fatalf("%s pool, key %s: %s/%v vs %s/%v vs %s", role, k, a, ok1, b, ok2, c)
			}
		}
	}
}

// TestPickHRWGolden pins the assignment of a few keys for bigLayout: every
// node of a cluster, whatever its weir version, must agree on it. A change
// here means nodes of different versions would disagree on key owners.
//
// The values are those of hrw's score function version 2 (hrw/doc.go),
// which replaced version 1 on purpose (a cheaper per-member mix): nodes
// running version 1 and version 2 disagree on owners. The last key was
// added with it so that every proxy owns one of the pinned keys.
func TestPickHRWGolden(t *testing.T) {
	l := mustParse(t, bigLayout)
	ps := NewPools(l)
	allAlive(t, ps, l, false)
	p := ps.Pool(frame.RoleProxy)
	want := map[string]string{
		"10.0.0.1":    "proxy-1",
		"192.168.1.1": "proxy-3",
		"example.com": "proxy-3",
		"":            "proxy-1",
		"key-42":      "proxy-1",
		"192.168.1.2": "proxy-2",
	}
	for k, w := range want {
		if got, _ := p.PickHRWString(k); got != w {
			t.Errorf("PickHRW(%q) = %s, want %s", k, got, w)
		}
	}
}

// TestKillMovesOnlyItsKeys: a proxy that goes down gives up exactly its
// keys, and gets exactly those back when it revives.
func TestKillMovesOnlyItsKeys(t *testing.T) {
	l := mustParse(t, bigLayout)
	ps := NewPools(l)
	allAlive(t, ps, l, false)
	p := ps.Pool(frame.RoleProxy)
	ks := keys(10000)
	owner := func() []string {
		out := make([]string, len(ks))
		for i, k := range ks {
			name, ok := p.PickHRW(k)
			if !ok {
				t.Fatalf("no owner for %s", k)
			}
			out[i] = name
		}
		return out
	}
	before := owner()
	share := map[string]int{}
	for _, o := range before {
		share[o]++
	}
	// proxy-1 has weight 2 of 4: about half the keys; the others a quarter.
	if share["proxy-1"] < 4500 || share["proxy-1"] > 5500 || share["proxy-2"] < 2000 || share["proxy-3"] < 2000 {
		t.Errorf("shares %v, want about 5000/2500/2500", share)
	}
	for _, victim := range []string{"proxy-1", "proxy-2"} {
		if err := p.SetAlive(victim, false); err != nil {
			t.Fatal(err)
		}
		after := owner()
		moved := 0
		for i := range ks {
			switch {
			case before[i] == victim && after[i] == victim:
				t.Fatalf("key %s still on dead %s", ks[i], victim)
			case before[i] == victim:
				moved++
			case after[i] != before[i]:
				t.Fatalf("key %s moved from live %s to %s when %s died", ks[i], before[i], after[i], victim)
			}
		}
		if moved != share[victim] || moved == 0 {
			t.Errorf("%s: %d keys moved, it owned %d", victim, moved, share[victim])
		}
		if err := p.SetAlive(victim, true); err != nil {
			t.Fatal(err)
		}
		if revived := owner(); !slices.Equal(revived, before) {
			t.Errorf("%s revived: assignment differs from before", victim)
		}
	}
}

func TestPickRR(t *testing.T) {
	l := mustParse(t, bigLayout)
	ps := NewPools(l)
	allAlive(t, ps, l, true)
	p := ps.Pool(frame.RoleWorker)
	picks := func(key string, n int) []string {
		var out []string
		for range n {
			name, ok := p.PickRR(key)
			if !ok {
				t.Fatalf("PickRR(%q): no member", key)
			}
			out = append(out, name)
		}
		return out
	}
	// Keys cycle independently, in layout order.
	if got, want := picks("a", 6), []string{"worker-1", "worker-2", "worker-3", "worker-4", "worker-1", "worker-2"}; !slices.Equal(got, want) {
		t.Errorf("a: %v, want %v", got, want)
	}
	if got, want := picks("b", 2), []string{"worker-1", "worker-2"}; !slices.Equal(got, want) {
		t.Errorf("b: %v, want %v", got, want)
	}
	// A dead member is skipped; the key keeps its place.
	if err := p.SetAlive("worker-3", false); err != nil {
		t.Fatal(err)
	}
	if got, want := picks("a", 4), []string{"worker-4", "worker-1", "worker-2", "worker-4"}; !slices.Equal(got, want) {
		t.Errorf("a, worker-3 dead: %v, want %v", got, want)
	}
	if got, want := picks("b", 1), []string{"worker-4"}; !slices.Equal(got, want) {
		t.Errorf("b, worker-3 dead: %v, want %v", got, want)
	}
	if err := p.SetAlive("worker-3", true); err != nil {
		t.Fatal(err)
	}
	if got, want := picks("b", 5), []string{"worker-1", "worker-2", "worker-3", "worker-4", "worker-1"}; !slices.Equal(got, want) {
		t.Errorf("b, worker-3 back: %v, want %v", got, want)
	}
	// Nobody alive: !ok, from both picks.
	for _, w := range p.Members() {
		if err := p.SetAlive(w, false); err != nil {
			t.Fatal(err)
		}
	}
	if name, ok := p.PickRR("a"); ok {
		t.Errorf("PickRR with no live member = %s", name)
	}
	if name, ok := p.PickHRW([]byte("a")); ok {
		t.Errorf("PickHRW with no live member = %s", name)
	}
	// One alive: always it.
	if err := p.SetAlive("worker-2", true); err != nil {
		t.Fatal(err)
	}
	if got := picks("c", 3); !slices.Equal(got, []string{"worker-2", "worker-2", "worker-2"}) {
		t.Errorf("one live member: %v", got)
	}
}

// TestPickRRBounded: at most rrCap keys keep a position; the least
// recently used is dropped and starts over.
func TestPickRRBounded(t *testing.T) {
	l := mustParse(t, bigLayout)
	ps := NewPools(l)
	allAlive(t, ps, l, false)
	p := ps.Pool(frame.RoleLogger)
	p.rrCap = 2
	next := func(k string) string {
		name, _ := p.PickRR(k)
		return name
	}
	next("a") // a: logger-1, next logger-2
	next("b") // b: logger-1
	next("a") // a: logger-2; a is now the most recent
	next("c") // evicts b
	if got := next("a"); got != "logger-1" {
		t.Errorf("a kept its place: got %s, want logger-1", got)
	}
	if got := next("b"); got != "logger-1" { // b started over; evicts c
		t.Errorf("evicted b: got %s, want logger-1", got)
	}
	if n := len(p.mu.rr); n != 2 || p.mu.lru.Len() != 2 {
		t.Errorf("%d counters (%d in LRU), want 2", n, p.mu.lru.Len())
	}
	if got := next("c"); got != "logger-1" {
		t.Errorf("evicted c: got %s, want logger-1", got)
	}
}

func TestEmptyPool(t *testing.T) {
	ps := NewPools(mustParse(t, mgr))
	for _, r := range poolRoles {
		p := ps.Pool(r)
		if _, ok := p.PickHRW([]byte("k")); ok {
			t.Errorf("%s: PickHRW ok on an empty pool", r)
		}
		if _, ok := p.PickRR("k"); ok {
			t.Errorf("%s: PickRR ok on an empty pool", r)
		}
		if len(p.Members()) != 0 || len(p.Live()) != 0 {
			t.Errorf("%s: members %v live %v", r, p.Members(), p.Live())
		}
	}
}

// TestPoolConcurrent runs picks against liveness changes (run with -race):
// a pick sees a live member or none, never a member of another pool.
func TestPoolConcurrent(t *testing.T) {
	l := mustParse(t, bigLayout)
	ps := NewPools(l)
	allAlive(t, ps, l, false)
	p := ps.Pool(frame.RoleProxy)
	members := p.Members()
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for g := range 4 {
		wg.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				k := fmt.Sprint(g, i%100)
				for _, pick := range []func() (string, bool){
					func() (string, bool) { return p.PickHRW([]byte(k)) },
					func() (string, bool) { return p.PickRR(k) },
				} {
					if name, ok := pick(); ok && !slices.Contains(members, name) {
						t.Errorf("picked %s", name)
						return
					}
				}
				_ = p.Live()
			}
		})
	}
	for i := range 2000 {
		if err := ps.SetAlive(members[i%len(members)], i%3 != 0); err != nil {
			t.Error(err)
		}
	}
	close(stop)
	wg.Wait()
}

func TestPickHRWAllocs(t *testing.T) {
	l := mustParse(t, bigLayout)
	ps := NewPools(l)
	allAlive(t, ps, l, false)
	p := ps.Pool(frame.RoleProxy)
	key := []byte("10.1.2.3")
	if n := testing.AllocsPerRun(100, func() { _, _ = p.PickHRW(key) }); n != 0 {
		t.Errorf("PickHRW: %v allocs, want 0", n)
	}
	if n := testing.AllocsPerRun(100, func() { _, _ = p.PickHRWString("10.1.2.3") }); n != 0 {
		t.Errorf("PickHRWString: %v allocs, want 0", n)
	}
}
