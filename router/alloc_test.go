package router

import (
	"fmt"
	"testing"
)

// TestMatchAllocs checks the zero-allocation claims of the hot paths: a
// cache hit, and a trie walk into a dst with room, with and without dedup.
func TestMatchAllocs(t *testing.T) {
	setup := func(o Options, subs int) *Router[int] {
		r := mustNew[int](t, o)
		var cs []Change[int]
		for s := range subs {
			cs = append(cs,
				Change[int]{OpSubscribe, fmt.Sprintf("weir/%d", s%50), s},
				Change[int]{OpSubscribe, "weir/", s},      // second prefix on the path: dedup
				Change[int]{OpSubscribe, "solo/topic", s}) // one prefix on the path
		}
		r.Apply(cs)
		return r
	}
	cases := []struct {
		name  string
		o     Options
		subs  int
		topic string
		skip  bool
	}{
		{"cached/single", Options{}, 10, "solo/topic/x", false},
		{"cached/dedup", Options{}, 10, "weir/7/x", false},
		{"cached/large", Options{}, 100, "weir/7/x", false},
		{"uncached/single", Options{CacheSize: -1}, 10, "solo/topic/x", false},
		{"uncached/dedup", Options{CacheSize: -1}, 10, "weir/7/x", false},
		{"uncached/dedup-pooled-bitset", Options{CacheSize: -1}, 5000, "weir/7/x", raceEnabled},
		{"uncached/no-match", Options{CacheSize: -1}, 10, "nothing", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if tc.skip {
				t.Skip("sync.Pool drops items under the race detector")
			}
			r := setup(tc.o, tc.subs)
			topic := []byte(tc.topic)
			dst := make([]int, 0, tc.subs)
			want := len(r.Match(topic, dst))
			if want == 0 && tc.topic != "nothing" {
				t.Fatal("setup: no match")
			}
			check := func(form string, f func()) {
				t.Helper()
				if a := testing.AllocsPerRun(100, f); a != 0 {
					t.Errorf("%s: %v allocs per run, want 0", form, a)
				}
			}
			check("Match", func() {
				if len(r.Match(topic, dst[:0])) != want {
					panic("wrong result")
				}
			})
			check("MatchString", func() { r.MatchString(tc.topic, dst[:0]) })
			var m Memo[int]
			r.MatchMemo(&m, topic, dst[:0]) // fills the memo's buffers
			check("MatchMemo", func() { r.MatchMemo(&m, topic, dst[:0]) })
			// Each walks into a 16-element stack buffer; a hit needs none.
			if tc.subs <= 16 || tc.o.CacheSize >= 0 {
				n := 0
				check("Each", func() { r.Each(topic, func(int) { n++ }) })
			}
		})
	}
}

// TestRefreshAllocs checks that an Apply which leaves a cached topic's
// result as it was costs that topic's next match no allocation (its entry
// is refreshed in place, not replaced), and that one which changes the
// result still replaces it.
func TestRefreshAllocs(t *testing.T) {
	r := mustNew[int](t, Options{})
	r.Apply([]Change[int]{{OpSubscribe, "weir/a", 1}, {OpSubscribe, "weir/a/b", 2}})
	topic := []byte("weir/a/b/event")
	dst := make([]int, 0, 4)
	r.Match(topic, dst) // the entry
	unrelated := []Change[int]{{OpSubscribe, "other/", 9}}
	a := testing.AllocsPerRun(100, func() {
		r.Apply(unrelated)
		unrelated[0].Op ^= OpSubscribe ^ OpUnsubscribe
		if got := r.Match(topic, dst[:0]); len(got) != 2 {
			panic(fmt.Sprintf("Match = %v, want 2 subscribers", got))
		}
	})
	// Apply itself allocates the new snapshot and the changed path; the
	// match after it must add nothing: measure Apply alone to compare.
	b := testing.AllocsPerRun(100, func() {
		r.Apply(unrelated)
		unrelated[0].Op ^= OpSubscribe ^ OpUnsubscribe
	})
	if a != b {
		t.Errorf("Apply and a refreshing Match: %v allocs, Apply alone %v; want the same", a, b)
	}
	r.Unsubscribe("weir/a/b", 2)
	if got := r.Match(topic, dst[:0]); len(got) != 1 || got[0] != 1 {
		t.Errorf("after a change on the topic's path, Match = %v, want [1]", got)
	}
}
