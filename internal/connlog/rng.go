package connlog

import (
	"math"
	"math/bits"
	"math/rand/v2"
)

// rng is the generator's source of randomness: a PCG (math/rand/v2's) called
// directly, with the draws Next needs made cheap. Next makes some twenty
// draws and four log-normal sizes per record, and cmd/bench counts the
// generator in the worker's CPU: through *rand.Rand every draw was an
// interface call, and the normals and their exponentials (math.Exp) were
// a third of Next's time. The distributions are the same: normals by a
// quantile table with exact tails, exponentials by a polynomial accurate
// to 2e-7 relative — far below what a log-normal size rounded to a byte
// or a microsecond shows.
type rng struct {
	pcg rand.PCG
}

func newRNG(seed1, seed2 uint64) *rng {
	r := &rng{}
	r.pcg.Seed(seed1, seed2)
	return r
}

// Uint64 returns 64 random bits.
func (r *rng) Uint64() uint64 { return r.pcg.Uint64() }

// Uint32 returns 32 random bits.
func (r *rng) Uint32() uint32 { return uint32(r.pcg.Uint64() >> 32) }

// IntN returns a number in [0, n), n > 0, by Lemire's multiply-shift (its
// bias, at most n/2^64, is far below anything a test could see).
func (r *rng) IntN(n int) int {
	hi, _ := bits.Mul64(r.pcg.Uint64(), uint64(n))
	return int(hi)
}

// Float64 returns a number in [0, 1) with 53 random bits.
func (r *rng) Float64() float64 { return float64(r.pcg.Uint64()>>11) * 0x1p-53 }

// ExpFloat64 returns an exponential number with rate 1.
func (r *rng) ExpFloat64() float64 {
	return -math.Log1p(-r.Float64()) // 1-u in (0, 1]: never log(0)
}

// normTableBits sizes normQuantiles: 2^normTableBits equal-probability
// segments, linearly interpolated.
const normTableBits = 12

// normQuantiles[i] is the standard normal quantile of i/2^normTableBits
// (i = 1 .. 2^normTableBits-1; the ends are never read). Read-only after
// init.
var normQuantiles = func() []float64 {
	const n = 1 << normTableBits
	q := make([]float64, n+1)
	for i := 1; i < n; i++ {
		q[i] = math.Sqrt2 * math.Erfinv(2*float64(i)/n-1)
	}
	return q
}()

// NormFloat64 returns a standard normal number: the quantile of a uniform
// number, from the table inside its outermost segments (linear
// interpolation, error below 1e-5 there) and computed exactly in them
// (one draw in 2048), so the tails are not cut off.
func (r *rng) NormFloat64() float64 {
	u := r.pcg.Uint64()
	i := u >> (64 - normTableBits)
	if i == 0 || i == 1<<normTableBits-1 {
		p := (float64(u>>11) + 0.5) * 0x1p-53
		return math.Sqrt2 * math.Erfinv(2*p-1)
	}
	f := float64(u<<normTableBits>>11) * 0x1p-53 // position inside the segment
	return normQuantiles[i] + f*(normQuantiles[i+1]-normQuantiles[i])
}

// Shuffle shuffles n elements (Fisher-Yates).
func (r *rng) Shuffle(n int, swap func(i, j int)) {
	for i := n - 1; i > 0; i-- {
		swap(i, r.IntN(i+1))
	}
}

// fastExp returns e^x with a relative error below 2e-7 for |x| < 700:
// 2^n times a degree-6 polynomial on |f| <= ln2/2.
func fastExp(x float64) float64 {
	const (
		log2e = 1.4426950408889634
		ln2   = 0.6931471805599453
	)
	if x > 700 || x < -700 {
		return math.Exp(x)
	}
	n := math.Floor(x*log2e + 0.5)
	f := x - n*ln2
	p := 1 + f*(1+f*(1.0/2+f*(1.0/6+f*(1.0/24+f*(1.0/120+f*(1.0/720))))))
	return math.Float64frombits(uint64(int64(n)+1023)<<52) * p
}
