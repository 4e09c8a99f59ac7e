package stats

import (
	"math"
	"slices"
)

// Median returns the median of xs (the mean of the middle two for an even
// count), or NaN for none. xs is not modified.
func Median(xs []float64) float64 {
	return Quantile(xs, 0.5)
}

// Quantile returns the q-quantile (0 ≤ q ≤ 1) of xs by linear interpolation
// between closest ranks, or NaN for none. xs is not modified.
func Quantile(xs []float64, q float64) float64 {
	if len(xs) == 0 {
		return math.NaN()
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	pos := q * float64(len(s)-1)
	lo := int(math.Floor(pos))
	hi := int(math.Ceil(pos))
	return s[lo] + (s[hi]-s[lo])*(pos-float64(lo))
}

// Spread returns the largest relative distance of a sample from the
// median, as a fraction (benchstat's "± x%"), or 0 when it cannot be told.
func Spread(xs []float64) float64 {
	m := Median(xs)
	if len(xs) < 2 || m == 0 || math.IsNaN(m) {
		return 0
	}
	var d float64
	for _, x := range xs {
		d = max(d, math.Abs(x-m))
	}
	return d / math.Abs(m)
}

// Delta returns the relative change from old to new as a fraction
// (0.1 = +10%): 0 when both are zero, NaN when only old is or either is
// NaN.
func Delta(old, new float64) float64 {
	if old == 0 && new == 0 {
		return 0
	}
	if old == 0 || math.IsNaN(old) || math.IsNaN(new) {
		return math.NaN()
	}
	return (new - old) / math.Abs(old)
}
