package connlog

import "math"

// zipf draws k in [0, n) with P(k) proportional to (v+k)^-s: the
// distribution of math/rand/v2's Zipf, by inversion of its cumulative
// distribution with a guide table. rand.Zipf computes two to six
// exponentials and logarithms per draw, and two draws per record made it
// the generator's largest cost, which cmd/bench counts in the worker's
// CPU. Here a draw is one random number, a guide table read (4 KiB) and a
// short binary search; as most of the mass is in the first entries, most
// draws read only memory that stays in cache (an alias table would read a
// uniformly random entry of the whole table every time).
type zipf struct {
	cdf   []uint64 // 2^64 P(X <= k), rounded; the last entry is the maximum
	guide []uint32 // guide[j]: the least k with cdf[k] > j<<(64-guideBits); 2^guideBits+1 entries
}

const guideBits = 10

func newZipf(s, v float64, n int) *zipf {
	w := make([]float64, n)
	var sum float64
	for k := range w {
		w[k] = math.Pow(v+float64(k), -s)
		sum += w[k]
	}
	z := &zipf{cdf: make([]uint64, n), guide: make([]uint32, 1<<guideBits+1)}
	var c float64
	for k := range w {
		c += w[k]
		z.cdf[k] = math.MaxUint64
		if x := math.Ldexp(c/sum, 64); x < math.MaxUint64 {
			z.cdf[k] = uint64(x)
		}
	}
	z.cdf[n-1] = math.MaxUint64
	k := 0
	for j := range z.guide {
		lim := uint64(j) << (64 - guideBits)
		if j == 1<<guideBits {
			lim = math.MaxUint64
		}
		for k < n-1 && z.cdf[k] <= lim {
			k++
		}
		z.guide[j] = uint32(k)
	}
	return z
}

// draw returns the least k with u < cdf[k] (n-1 if none); u is random.
func (z *zipf) draw(u uint64) int {
	j := u >> (64 - guideBits)
	lo, hi := int(z.guide[j]), int(z.guide[j+1])
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if u < z.cdf[m] {
			hi = m
		} else {
			lo = m + 1
		}
	}
	return lo
}
