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

// TestMixIndependence checks that mix ranks members independently of one
// another even when their name hashes are as alike as they can be: 16
// members whose hashes differ from the first in one bit each (low, middle
// and high bits), or are consecutive integers. A mix that carried such a
// difference through would rank these members alike from key to key (the
// product alone, without factor's mix64, does), which shows as uneven
// shares, as one member beating another on more than half of the keys, or
// as a runner-up that depends on the winner.
func TestMixIndependence(t *testing.T) {
	const base = 0x9e3779b97f4a7c15
	oneBit, consecutive := []uint64{base}, []uint64{base}
	for i, b := range []uint{0, 1, 2, 3, 7, 8, 15, 16, 31, 32, 47, 48, 61, 62, 63} {
		oneBit = append(oneBit, base^1<<b)
		consecutive = append(consecutive, base+uint64(i)+1)
	}
	for name, hms := range map[string][]uint64{"one bit": oneBit, "consecutive": consecutive} {
		t.Run(name, func(t *testing.T) { checkIndependence(t, hms) })
	}
}

func checkIndependence(t *testing.T, hms []uint64) {
	const n, keys = 16, 500_000
	all := make([]entry, n)
	for i, hm := range hms {
		all[i] = entry{m: Member{Name: "m" + pad2(i), Weight: 1, Alive: true}, hm: hm}
	}
	s := newSnapshot(all)
	var wins [n]int
	var beats [n][n]int  // beats[i][j]: keys for which i's h > j's h
	var second [n][n]int // second[i][j]: keys won by i with j the runner-up
	for _, k := range testKeys(keys) {
		hk := hashKey(k)
		var h [n]uint64
		first, runner := 0, -1
		for i, hm := range hms {
			h[i] = mix(hk, hm)
			switch {
			case h[i] > h[first]:
				first, runner = i, first
			case i > 0 && (runner < 0 || h[i] > h[runner]):
				runner = i
			}
		}
		if got := s.best(hk); got != first {
			t.Fatalf("key %s: best = %d, by mix = %d", k, got, first)
		}
		wins[first]++
		second[first][runner]++
		for i := range n {
			for j := i + 1; j < n; j++ {
				if h[i] > h[j] {
					beats[i][j]++
				}
			}
		}
	}
	// Shares: binomial, sd = sqrt(keys/16 * 15/16) = 171, so 3% is 4.6 sd.
	for i, w := range wins {
		if dev := float64(w)/(keys/n) - 1; math.Abs(dev) > 0.03 {
			t.Errorf("member %d (hash %#x): %d keys, off the expected share by %+.2f%%", i, hms[i], w, 100*dev)
		}
	}
	// One member beats another on a key with probability 1/2: binomial,
	// sd = sqrt(keys)/2 = 354; 6 sd is 2121.
	for i := range n {
		for j := i + 1; j < n; j++ {
			if d := beats[i][j] - keys/2; d > 2121 || d < -2121 {
				t.Errorf("member %d beats member %d on %d of %d keys", i, j, beats[i][j], keys)
			}
		}
	}
	// Whoever won, the runner-up is uniform over the other 15: a
	// chi-square over the 16x15 cells, 224 degrees of freedom (mean 224,
	// sd 21.2), must stay below mean + 6 sd.
	var chi2 float64
	for i := range n {
		for j := range n {
			if i != j {
				want := float64(wins[i]) / (n - 1)
				d := float64(second[i][j]) - want
				chi2 += d * d / want
			}
		}
	}
	t.Logf("runner-up chi-square %.1f (224 expected)", chi2)
	if chi2 > 224+6*21.2 {
		t.Errorf("runner-up depends on the winner: chi-square %.1f over 224 degrees of freedom", chi2)
	}
}
