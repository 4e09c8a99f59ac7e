package hrw

import (
	"math"
	"strconv"
	"testing"
)

// distKeys is the number of keys of the distribution tests. Picks are cheap
// (about 1 µs each under -race), so the full count runs in -race and -short.
const distKeys = 1_000_000

// maxShareDeviation picks distKeys keys ("key-0"…) from a pool of members and
// returns the largest relative deviation of a member's share from
// weight/Σweight.
func maxShareDeviation(t *testing.T, members []Member) float64 {
	t.Helper()
	p := mustNew(t, members...)
	index := make(map[string]int, len(members))
	var total float64
	for i, m := range members {
		index[m.Name] = i
		total += m.Weight
	}
	counts := make([]int, len(members))
	var key []byte
	for i := range distKeys {
		key = strconv.AppendInt(append(key[:0], "key-"...), int64(i), 10)
		m, ok := p.Pick(key)
		if !ok {
			t.Fatal("no member")
		}
		counts[index[m.Name]]++
	}
	var worst float64
	for i, m := range members {
		want := distKeys * m.Weight / total
		dev := (float64(counts[i]) - want) / want
		if math.Abs(dev) > 0.03 {
			t.Errorf("%s (weight %v): %d keys, want %.0f ± 3%% (off by %+.2f%%)",
				m.Name, m.Weight, counts[i], want, 100*dev)
		}
		worst = max(worst, math.Abs(dev))
	}
	t.Logf("%d members, %d keys: max relative deviation from the expected share %.2f%%",
		len(members), distKeys, 100*worst)
	return worst
}

func TestDistributionEqual(t *testing.T) {
	maxShareDeviation(t, live(16, 1))
}

func TestDistributionWeighted(t *testing.T) {
	t.Run("1,2,3,4", func(t *testing.T) {
		maxShareDeviation(t, live(16, 1, 2, 3, 4))
	})
	t.Run("mix", func(t *testing.T) {
		maxShareDeviation(t, live(6, 0.5, 1, 1.5, 2.5, 4, 10))
	})
	t.Run("large weights", func(t *testing.T) {
		// Only ratios matter; this also exercises the extremes of the range.
		maxShareDeviation(t, live(3, 1e99, 2e99, 3e99))
	})
}
