package stats

import (
	"math"
	"slices"
)

// Alpha is the significance level below which compare calls a difference
// real (benchstat's default).
const Alpha = 0.05

// exactLimit bounds the sample sizes for which MannWhitney computes the
// exact distribution of U (the table is (n1+1) × (n1·n2+1) per n2 step).
const exactLimit = 50

// MannWhitney returns the two-sided p-value of the Mann-Whitney U test
// (Wilcoxon rank-sum) of the hypothesis that xs and ys come from the same
// distribution. It returns 1 when either sample is empty or every value is
// the same.
func MannWhitney(xs, ys []float64) float64 {
	n1, n2 := len(xs), len(ys)
	if n1 == 0 || n2 == 0 {
		return 1
	}
	u, ties := uStatistic(xs, ys)
	if !ties && n1 <= exactLimit && n2 <= exactLimit {
		return exactP(u, n1, n2)
	}
	return normalP(u, n1, n2, xs, ys)
}

// uStatistic returns U for xs (the number of pairs (x, y) with x > y, ties
// counting one half) and whether any value occurs more than once.
func uStatistic(xs, ys []float64) (u float64, ties bool) {
	type obs struct {
		v     float64
		fromX bool
	}
	all := make([]obs, 0, len(xs)+len(ys))
	for _, x := range xs {
		all = append(all, obs{x, true})
	}
	for _, y := range ys {
		all = append(all, obs{y, false})
	}
	slices.SortFunc(all, func(a, b obs) int {
		switch {
		case a.v < b.v:
			return -1
		case a.v > b.v:
			return 1
		}
		return 0
	})
	// Rank sum of xs with tied values sharing their mean rank.
	var rx float64
	for i := 0; i < len(all); {
		j := i
		for j < len(all) && all[j].v == all[i].v {
			j++
		}
		if j-i > 1 {
			ties = true
		}
		mean := float64(i+1+j) / 2 // ranks i+1..j
		for k := i; k < j; k++ {
			if all[k].fromX {
				rx += mean
			}
		}
		i = j
	}
	n1 := float64(len(xs))
	return rx - n1*(n1+1)/2, ties
}

// exactP returns the two-sided p-value of U = u under the null hypothesis,
// from the exact distribution of U: the number of arrangements of n1 x's
// and n2 y's with a given U obeys c(n1, n2, u) = c(n1-1, n2, u-n2) +
// c(n1, n2-1, u) (the largest value is an x or a y).
func exactP(u float64, n1, n2 int) float64 {
	maxU := n1 * n2
	// prev[a][k] = c(a, b-1, k); built up over b.
	cur := make([][]float64, n1+1)
	for a := range cur {
		cur[a] = make([]float64, maxU+1)
	}
	for a := 0; a <= n1; a++ {
		cur[a][0] = 1 // b = 0: only U = 0
	}
	for b := 1; b <= n2; b++ {
		next := make([][]float64, n1+1)
		for a := 0; a <= n1; a++ {
			next[a] = make([]float64, maxU+1)
			for k := 0; k <= a*b; k++ {
				v := cur[a][k] // largest is a y: U unchanged
				if a > 0 && k >= b {
					v += next[a-1][k-b] // largest is an x: beats all b y's
				}
				next[a][k] = v
			}
		}
		cur = next
	}
	dist := cur[n1]
	var total, le, ge float64
	for k, c := range dist {
		total += c
		if float64(k) <= u {
			le += c
		}
		if float64(k) >= u {
			ge += c
		}
	}
	return min(1, 2*min(le, ge)/total)
}

// normalP returns the two-sided p-value from the normal approximation of U,
// with the variance corrected for ties and a continuity correction of ½.
func normalP(u float64, n1, n2 int, xs, ys []float64) float64 {
	n := float64(n1 + n2)
	mu := float64(n1*n2) / 2
	counts := map[float64]int{}
	for _, v := range xs {
		counts[v]++
	}
	for _, v := range ys {
		counts[v]++
	}
	var tieSum float64
	for _, t := range counts {
		tt := float64(t)
		tieSum += tt*tt*tt - tt
	}
	sigma2 := float64(n1*n2) / 12 * ((n + 1) - tieSum/(n*(n-1)))
	if sigma2 <= 0 {
		return 1 // every value the same
	}
	z := (math.Abs(u-mu) - 0.5) / math.Sqrt(sigma2)
	if z < 0 {
		z = 0
	}
	return min(1, math.Erfc(z/math.Sqrt2))
}
