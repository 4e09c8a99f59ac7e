package hrw

import (
	"math"
	"math/bits"
)

// The score function. Every step here is part of the wire contract between
// the nodes of a cluster: change any of it and the nodes that run the new
// code pick other owners than the ones that run the old. The golden tests in
// golden_test.go pin it.

// The constants of mix, wyhash's first two secrets (odd, 32 bits set in
// each): XORed into the key's hash and the member's, they keep a hash of
// 0 (or one that mix64 maps to 0) from zeroing every product.
const (
	mixKey    = 0xa0761d6478bd642f
	mixMember = 0xe7037ed1a0b428db
)

// mix returns h, the per-member hash of doc.go, for the key's hash hk and
// the member's name hash hm: the 128-bit product of hk^mixKey and
// factor(hm), folded by XORing its two halves (wyhash's "mum"). The pick
// loops compute its two operands once per pick and once per member, and
// do only the multiply (mum) per member.
func mix(hk, hm uint64) uint64 {
	return mum(hk^mixKey, factor(hm))
}

// factor returns the member's operand of mix, computed once when a member
// is added. The product alone would rank members whose operands are close
// (differing in a few low bits, say) alike from one key to the next: their
// high halves are nearly equal and their low halves differ by a multiple of
// the key's operand. Two name hashes that differ in one bit are close, so
// each is first spread by mix64, a bijection with full avalanche; operands
// that are close after that would take names chosen to invert XXH64 and
// mix64, which the deterministic, unseeded design does not guard against
// anyway.
func factor(hm uint64) uint64 {
	return mix64(hm) ^ mixMember
}

// mix64 is the SplitMix64 finalizer (Stafford's "Mix13" constants): a
// bijection on uint64 with full avalanche. (In version 1 of the score
// function it was the per-member mix, on hk^hm.)
func mix64(z uint64) uint64 {
	z ^= z >> 30
	z *= 0xbf58476d1ce4e5b9
	z ^= z >> 27
	z *= 0x94d049bb133111eb
	z ^= z >> 31
	return z
}

// mum returns the XOR of the high and low halves of the 128-bit product
// a*b.
//
// Hot path: inlined, one MULQ and one XOR per member.
func mum(a, b uint64) uint64 {
	hi, lo := bits.Mul64(a, b)
	return hi ^ lo
}

// score is the weighted score of a member with weight w whose mixed hash for
// the key is h: w / -ln(u) with u = (2*(h>>12)+1) / 2^53.
//
// u takes the top 52 bits of h and adds a half step, so it lies in
// [2^-53, 1-2^-53], never 0 or 1, and is exact in a float64 (taking 53 bits
// would need 54 bits of precision and round some u to 1, where ln u = 0).
func score(w float64, h uint64) float64 {
	return w / negLn(h)
}

// oneMinusU returns 1-u for the u that score derives from h, exactly.
func oneMinusU(h uint64) float64 {
	// Through int64: the value is below 2^53, and signed conversion is
	// cheaper than unsigned on amd64.
	return float64(int64(1<<53-(h>>12<<1|1))) * 0x1p-53
}

// pruneSlack makes the pruning test in the pick loops safe against rounding:
// see canBeat.
const pruneSlack = 1 + 0x1p-20

// canBeat reports whether a member of weight w and mixed hash h may score at
// least best. When it reports false, score(w, h) < best for certain, so the
// member can be skipped without computing a logarithm.
//
// Why it is safe: -ln u >= 1-u for u in (0,1), so score <= w/(1-u) in exact
// arithmetic; negLn is within 1 ulp and the division rounds once, so the
// computed score is below w/(1-u) * (1+2^-50). The test below is off by at
// most 2^-52 relative on each side, far less than the 2^-20 slack. So this is
// a pure speed-up: picks are bit-for-bit the same with or without it, even if
// a compiler fused the products here into FMAs.
func canBeat(w float64, h uint64, best float64) bool {
	return w*pruneSlack >= best*oneMinusU(h)
}

// Constants of the FreeBSD logarithm (see negLn).
const (
	ln2Hi = 6.93147180369123816490e-01 /* 3fe62e42 fee00000 */
	ln2Lo = 1.90821492927058770002e-10 /* 3dea39ef 35793c76 */
	lg1   = 6.666666666666735130e-01   /* 3FE55555 55555593 */
	lg2   = 3.999999999940941908e-01   /* 3FD99999 9997FA04 */
	lg3   = 2.857142874366239149e-01   /* 3FD24924 94229359 */
	lg4   = 2.222219843214978396e-01   /* 3FCC71C5 1D8E78AF */
	lg5   = 1.818357216161805012e-01   /* 3FC74664 96CB03DE */
	lg6   = 1.531383769920937332e-01   /* 3FC39A09 D078C69F */
	lg7   = 1.479819860511658591e-01   /* 3FC2F112 DF3E5244 */
	sqrt2 = 1.41421356237309504880168872420969807856967187537694807317667974
)

// negLn returns -ln(u) > 0 for u = (2*(h>>12)+1) / 2^53.
//
// It is the logarithm of FreeBSD's msun (e_log.c), as ported in Go's
// math/log.go, with two changes that make its result the same bit pattern on
// every GOARCH:
//
//   - The argument reduction is done on the integer x = 2*(h>>12)+1, with
//     math/bits, instead of math.Frexp.
//   - Every product is wrapped in an explicit float64 conversion. The Go spec
//     lets a compiler fuse x*y+z into one FMA instruction (gc does on arm64,
//     ppc64x, s390x, riscv64, loong64, and amd64 with GOAMD64=v3), which
//     rounds once instead of twice; an explicit conversion forbids that.
//
// What is left are IEEE 754 additions, subtractions, multiplications and
// divisions, each correctly rounded on every platform Go supports (387
// floating point is gone since Go 1.16), so the result is deterministic.
// math.Log is not used because it is assembly on amd64 and s390x, and nothing
// promises that those agree to the last bit with the generic code.
//
// The original code came with this notice:
//
//	====================================================
//	Copyright (C) 1993 by Sun Microsystems, Inc. All rights reserved.
//
//	Developed at SunPro, a Sun Microsystems, Inc. business.
//	Permission to use, copy, modify, and distribute this
//	software is freely granted, provided that this notice
//	is preserved.
//	====================================================
//
// and the Go port is Copyright 2009 The Go Authors (BSD-style license).
func negLn(h uint64) float64 {
	x := h>>12<<1 | 1 // odd, in [1, 2^53): u = x / 2^53
	// Reduce: x = f1 * 2^e with f1 in [0.5, 1), so u = f1 * 2^(e-53).
	e := bits.Len64(x)
	f1 := float64(float64(int64(x)) * pow2(-e)) // exact: x < 2^53
	ki := e - 53
	if f1 < sqrt2/2 {
		f1 = float64(f1 * 2)
		ki--
	}
	f := f1 - 1 // exact (Sterbenz)
	k := float64(ki)

	s := f / (2 + f)
	s2 := float64(s * s)
	s4 := float64(s2 * s2)
	t1 := float64(s2 * (lg1 + float64(s4*(lg3+float64(s4*(lg5+float64(s4*lg7)))))))
	t2 := float64(s4 * (lg2 + float64(s4*(lg4+float64(s4*lg6)))))
	r := t1 + t2
	hfsq := float64(0.5 * float64(f*f))
	ln := float64(k*ln2Hi) - ((hfsq - (float64(s*(hfsq+r)) + float64(k*ln2Lo))) - f)
	return -ln
}

// pow2 returns 2^n for -1074 < n < 1024 (here -53 <= n <= -1), exactly.
func pow2(n int) float64 {
	return math.Float64frombits(uint64(n+1023) << 52)
}
