package connlog

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestZipf: the draws follow P(k) ∝ (v+k)^-s, against the exact
// probabilities: each of the first entries and the mass of the tail within
// five standard deviations, for the generator's populations.
func TestZipf(t *testing.T) {
	for _, tc := range []struct {
		s, v float64
		n    int
	}{{1.07, 8, internalV4}, {1.15, 3, externalV4}, {1.3, 1, servers}, {1.15, 3, 2}} {
		z := newZipf(tc.s, tc.v, tc.n)
		r := rand.New(rand.NewPCG(1, 2))
		const draws = 400_000
		counts := make([]int, tc.n)
		for range draws {
			counts[z.draw(r.Uint64())]++
		}
		var sum float64
		for k := range tc.n {
			sum += math.Pow(tc.v+float64(k), -tc.s)
		}
		check := func(what string, p float64, got int) {
			t.Helper()
			sd := math.Sqrt(p * (1 - p) / draws)
			if f := float64(got) / draws; math.Abs(f-p) > 5*sd+1e-9 {
				t.Errorf("zipf(%v, %v, %d): %s at %.5f, want %.5f", tc.s, tc.v, tc.n, what, f, p)
			}
		}
		tail := tc.n / 2
		var pTail float64
		nTail := 0
		for k := range tc.n {
			p := math.Pow(tc.v+float64(k), -tc.s) / sum
			if k < 20 {
				check("entry "+string(rune('0'+k%10)), p, counts[k])
			}
			if k >= tail {
				pTail += p
				nTail += counts[k]
			}
		}
		check("upper half", pTail, nTail)
	}
}
