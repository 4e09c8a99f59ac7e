package router

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
)

// TestConcurrentReadersWriters runs lock-free readers against writers under
// the race detector. Readers check what holds in every snapshot:
//   - no subscriber appears twice in a result;
//   - subscriber 0, subscribed to "" before the readers start and never
//     removed, is in every result;
//   - subscriber 1 always holds exactly one of "ab" and "abc", moved between
//     them by single Apply calls, so a reader that could see half an Apply
//     would miss it on topics under "abc";
//   - Len never drops below the pinned subscriptions.
func TestConcurrentReadersWriters(t *testing.T) {
	writes := 400
	if testing.Short() {
		writes = 100
	}
	for _, o := range []Options{{CacheSize: 64}, {CacheSize: -1}} {
		t.Run(fmt.Sprint("cache=", o.CacheSize), func(t *testing.T) {
			r := mustNew[int](t, o)
			r.mu.slack = 0 // rebuild the arrays often, under the readers
			r.Subscribe("", 0)
			r.Subscribe("ab", 1)

			var stop atomic.Bool
			var wg sync.WaitGroup
			errs := make(chan error, 4)
			topics := []string{"abc", "abcd", "abcabc", "abca"}
			for g := range 3 {
				wg.Go(func() {
					rng := rand.New(rand.NewPCG(uint64(g), 1))
					var dst []int
					for n := 0; !stop.Load() || n < 100; n++ {
						topic := topics[rng.IntN(len(topics))]
						if rng.IntN(4) == 0 {
							topic = randString(rng, 5, "abc")
						}
						dst = r.MatchString(topic, dst[:0])
						if err := checkResult(topic, dst); err != nil {
							errs <- err
							return
						}
						if r.Len() < 2 {
							errs <- fmt.Errorf("Len %d < 2", r.Len())
							return
						}
					}
				})
			}

			var writers sync.WaitGroup
			for g := range 2 {
				writers.Go(func() {
					rng := rand.New(rand.NewPCG(uint64(g), 2))
					for i := range writes {
						s := 2 + rng.IntN(20)
						switch rng.IntN(4) {
						case 0:
							r.Subscribe(randString(rng, 4, "abc"), s)
						case 1:
							r.Unsubscribe(randString(rng, 4, "abc"), s)
						case 2:
							cs := make([]Change[int], 50)
							for j := range cs {
								cs[j] = Change[int]{Op: OpSubscribe + Op(rng.IntN(2)), Prefix: randString(rng, 4, "abc"), Sub: 2 + rng.IntN(20)}
							}
							r.Apply(cs)
						case 3:
							r.RemoveSubscriber(s)
						}
						if g == 0 {
							from, to := "ab", "abc"
							if i%2 == 1 {
								from, to = to, from
							}
							r.Apply([]Change[int]{{OpUnsubscribe, from, 1}, {OpSubscribe, to, 1}})
						}
					}
				})
			}
			writers.Wait()
			stop.Store(true)
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Error(err)
			}
			if err := checkTrie(r); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func checkResult(topic string, got []int) error {
	s := slices.Clone(got)
	slices.Sort(s)
	if len(slices.Compact(s)) != len(got) {
		return fmt.Errorf("Match(%q) = %v: duplicates", topic, got)
	}
	if !slices.Contains(got, 0) {
		return fmt.Errorf("Match(%q) = %v: lacks subscriber 0 (prefix \"\")", topic, got)
	}
	if len(topic) >= 3 && topic[:3] == "abc" && !slices.Contains(got, 1) {
		return fmt.Errorf("Match(%q) = %v: lacks subscriber 1 (half an Apply seen)", topic, got)
	}
	return nil
}
