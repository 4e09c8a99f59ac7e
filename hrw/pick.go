package hrw

import (
	"slices"

	"github.com/cespare/xxhash/v2"
)

// Pick returns the live member that owns key: the one with the highest score
// (see the package documentation). ok is false when no member is alive.
//
// Hot path: no allocation and no lock, one atomic load.
func (p *Pool) Pick(key []byte) (m Member, ok bool) {
	return p.snap.Load().pick(xxhash.Sum64(key))
}

// PickString is Pick for a string key; it hashes the same bytes, so
// PickString(s) == Pick([]byte(s)), and does not allocate.
func (p *Pool) PickString(key string) (m Member, ok bool) {
	return p.snap.Load().pick(xxhash.Sum64String(key))
}

// PickN appends to dst the n live members with the highest scores for key,
// best first, and returns the extended slice; it appends fewer when fewer
// are alive, and none when none is. The first member appended is Pick's, and
// removing or killing a member does not change the relative order of the
// others, so the rest of the list is a stable fallback order.
//
// Hot path: no allocation when dst has room and n <= 16 (a larger n
// allocates scratch space to sort all live members).
func (p *Pool) PickN(dst []Member, key []byte, n int) []Member {
	return p.snap.Load().appendTop(dst, xxhash.Sum64(key), n)
}

// PickNString is PickN for a string key.
func (p *Pool) PickNString(dst []Member, key string, n int) []Member {
	return p.snap.Load().appendTop(dst, xxhash.Sum64String(key), n)
}

func (s *snapshot) pick(hk uint64) (Member, bool) {
	if s == nil || len(s.fac) == 0 {
		return Member{}, false
	}
	return s.live[s.best(hk)], true
}

// best returns the index of the live member with the highest score for hk;
// there must be one.
//
// With equal weights the score is a non-decreasing function of the mixed
// hash h, so the member with the highest h also has the highest score and
// wins the tie-break on h (doc.go). Members are in name order and only a
// strictly higher h replaces the best, so a full tie (equal h) goes to the
// smaller name. The loop is written out here rather than in a function of
// its own so that a pick costs one call.
//
// Hot path: per member, a load, a multiply (mum) and a compare; no
// logarithm, no allocation.
func (s *snapshot) best(hk uint64) int {
	if !s.equal {
		return s.bestWeighted(hk)
	}
	a, fac := hk^mixKey, s.fac
	bh, bi := mum(a, fac[0]), 0
	// Two members per iteration: the two multiplies overlap, and the loop
	// overhead halves. The compares stay in index order.
	i := 1
	for ; i+1 < len(fac); i += 2 {
		h0, h1 := mum(a, fac[i]), mum(a, fac[i+1])
		if h0 > bh {
			bh, bi = h0, i
		}
		if h1 > bh {
			bh, bi = h1, i+1
		}
	}
	if i < len(fac) && mum(a, fac[i]) > bh {
		bi = i
	}
	return bi
}

func (s *snapshot) bestWeighted(hk uint64) int {
	a, fac, w := hk^mixKey, s.fac, s.w[:len(s.fac)]
	bh := mum(a, fac[0])
	bs, bi := score(w[0], bh), 0
	for i := 1; i < len(fac); i++ {
		h := mum(a, fac[i])
		if !canBeat(w[i], h, bs) {
			continue // most members: no logarithm needed
		}
		if sc := score(w[i], h); sc > bs || sc == bs && h > bh {
			bs, bh, bi = sc, h, i
		}
	}
	return bi
}

// maxStackN bounds the n that PickN serves from stack arrays.
const maxStackN = 16

func (s *snapshot) appendTop(dst []Member, hk uint64, n int) []Member {
	if s == nil || n <= 0 || len(s.fac) == 0 {
		return dst
	}
	n = min(n, len(s.fac))
	switch {
	case n == 1:
		return append(dst, s.live[s.best(hk)])
	case n > maxStackN:
		return s.appendSorted(dst, hk, n)
	case s.equal:
		return s.appendTopEqual(dst, hk, n)
	}
	return s.appendTopWeighted(dst, hk, n)
}

// appendTopEqual keeps the n best members seen so far in hs/is, best first,
// by insertion. As in best, visiting members in name order and moving
// only past strictly lower h puts the smaller name first on a full tie.
func (s *snapshot) appendTopEqual(dst []Member, hk uint64, n int) []Member {
	var hs [maxStackN]uint64
	var is [maxStackN]int32
	a, k := hk^mixKey, 0
	for i, f := range s.fac {
		h := mum(a, f)
		if k == n {
			if h <= hs[n-1] {
				continue
			}
			k--
		}
		j := k
		for ; j > 0 && h > hs[j-1]; j-- {
			hs[j], is[j] = hs[j-1], is[j-1]
		}
		hs[j], is[j] = h, int32(i)
		k++
	}
	for _, i := range is[:n] {
		dst = append(dst, s.live[i])
	}
	return dst
}

// appendTopWeighted is appendTopEqual with scores: ordered by score, then h.
func (s *snapshot) appendTopWeighted(dst []Member, hk uint64, n int) []Member {
	var ss [maxStackN]float64
	var hs [maxStackN]uint64
	var is [maxStackN]int32
	w := s.w[:len(s.fac)]
	a, k := hk^mixKey, 0
	for i, f := range s.fac {
		h := mum(a, f)
		if k == n && !canBeat(w[i], h, ss[n-1]) {
			continue
		}
		sc := score(w[i], h)
		if k == n {
			if sc < ss[n-1] || sc == ss[n-1] && h <= hs[n-1] {
				continue
			}
			k--
		}
		j := k
		for ; j > 0 && (sc > ss[j-1] || sc == ss[j-1] && h > hs[j-1]); j-- {
			ss[j], hs[j], is[j] = ss[j-1], hs[j-1], is[j-1]
		}
		ss[j], hs[j], is[j] = sc, h, int32(i)
		k++
	}
	for _, i := range is[:n] {
		dst = append(dst, s.live[i])
	}
	return dst
}

// cand is a live member's rank for one key, for appendSorted. Its score s is
// 0 in a pool with equal weights, where h alone orders members.
type cand struct {
	s float64
	h uint64
	i int // index in the live slices; smaller is the smaller name
}

// beats is the total order of doc.go: higher score, then higher h, then
// smaller name.
func (a cand) beats(b cand) bool {
	if a.s != b.s {
		return a.s > b.s
	}
	if a.h != b.h {
		return a.h > b.h
	}
	return a.i < b.i
}

// appendSorted is appendTop for large n: rank every live member and sort.
func (s *snapshot) appendSorted(dst []Member, hk uint64, n int) []Member {
	cs := make([]cand, len(s.fac))
	a := hk ^ mixKey
	for i, f := range s.fac {
		cs[i] = cand{h: mum(a, f), i: i}
		if !s.equal {
			cs[i].s = score(s.w[i], cs[i].h)
		}
	}
	slices.SortFunc(cs, func(a, b cand) int {
		switch {
		case a.i == b.i:
			return 0
		case a.beats(b):
			return -1
		}
		return 1
	})
	for _, c := range cs[:n] {
		dst = append(dst, s.live[c.i])
	}
	return dst
}
