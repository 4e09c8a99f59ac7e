// Package hrw partitions keys over a pool of named, weighted members by
// rendezvous hashing (highest random weight, HRW): every live member scores
// the key, and the member with the highest score owns it.
//
// It owns the score function and a concurrent Pool of members; it knows
// nothing about nodes, sockets or topics. The cluster package builds the
// proxy, worker and logger pools on it (Zeek's publish_hrw).
//
// # Properties
//
//   - Deterministic: a score depends only on the key, the member's name and
//     its weight, through fixed hashes with no per-process seed and floating
//     point that is bit-identical on every GOARCH (below). Every node of a
//     cluster that agrees on the members picks the same owner for a key.
//   - Minimal disruption, exactly: a member's score for a key does not depend
//     on the other members, so removing or killing a member moves only the
//     keys it owned, and adding or reviving one moves only keys to it.
//   - Proportional: a member's expected share of keys is its weight divided
//     by the sum of the live weights.
//
// # Score function (version 2)
//
// Changing any line of this moves keys between the members of a running
// cluster whose nodes run different versions; golden_test.go pins it.
//
//	hm    = XXH64(name, seed 0)           once, when the member is added
//	f     = mix64(hm) XOR 0xe7037ed1a0b428db
//	                                      once, when the member is added;
//	                                      mix64 is the SplitMix64 finalizer
//	                                      (a bijection):
//	          z ^= z >> 30; z *= 0xbf58476d1ce4e5b9
//	          z ^= z >> 27; z *= 0x94d049bb133111eb
//	          z ^= z >> 31
//	hk    = XXH64(key, seed 0)            once per pick
//	a     = hk XOR 0xa0761d6478bd642f     once per pick
//	h     = hi XOR lo, where hi:lo is the 128-bit product a*f
//	                                      per member (wyhash's "mum")
//	u     = (2*(h >> 12) + 1) / 2^53      in [2^-53, 1-2^-53], exact in float64
//	score = weight / -ln(u)               float64; see below for ln
//
// The member with the highest score wins. Equal scores are won by the higher
// h, and equal h (for every key if two names have the same XXH64, else by
// chance, with probability 2^-64 for a given key and pair of members) by the
// name that sorts first bytewise. PickN returns members in this same order.
//
// Version 2 replaced version 1, whose per-member step was h = mix64(hk XOR
// hm): two dependent multiplies per member, where version 2 does one, its
// operand f computed when the member is added. The product alone, on hm
// instead of mix64(hm), would not do: members whose name hashes are close
// (one bit apart, say) would get nearly the same high half and low halves
// that differ by a multiple of a, and so would be ranked alike from key to
// key; mix64 spreads such hashes first (the tests check it). An operand of
// zero makes h = 0: a key whose XXH64 is 0xa0761d6478bd642f ties all
// members (the first name wins it), and a member whose mix64(hm) is
// 0xe7037ed1a0b428db has the lowest h for every key (it owns almost none);
// either happens with probability 2^-64.
//
// Why the weights are exact: for a random key, u is uniform on (0,1), so
// -ln(u)/weight is exponentially distributed with rate weight, and the
// smallest of independent exponentials (the highest score) belongs to member
// i with probability weight_i / Σ weight. This is the logarithmic method of
// weighted rendezvous hashing (Schindelhauer and Schomaker, 2005); unlike
// weight-scaled hashes it needs no table and keeps minimal disruption.
//
// Fast path: when all live members have the same weight, score is a
// non-decreasing function of h (ln is monotone on the grid of u; the tests
// check it), so comparing h alone gives exactly the order above, ties in
// score being broken by h anyway, and no logarithm is computed.
// With mixed weights a cheap bound, -ln(u) >= 1-u, skips the logarithm for
// members that cannot beat the best score so far; it is exact, not a
// heuristic (see canBeat in score.go).
//
// # Floating point
//
// ln is not math.Log, which is assembly on amd64 and s390x and is not
// promised to agree to the last bit with the generic code elsewhere. It is a
// copy of the same FreeBSD algorithm in which every product is explicitly
// rounded with a float64 conversion, which the Go spec says forbids fusing it
// into an FMA (gc fuses x*y+z otherwise on arm64, ppc64x, s390x, riscv64,
// loong64, and on amd64 built with GOAMD64=v3). What remains are IEEE 754
// basic operations, correctly rounded on every platform Go supports (the 387
// unit is unused since Go 1.16), so every node computes the same bits.
//
// # Concurrency
//
// All methods of Pool are safe for concurrent use. Pick and PickN are
// lock-free and (PickN for n <= 16 into a slice with room) allocation-free:
// they read an immutable snapshot of the membership with one atomic load. Add, Remove and SetAlive serialize on a
// mutex, build a new snapshot (O(members), copy-on-write) and publish it; a
// pick running meanwhile sees the old membership or the new one, never a
// mix. Membership changes are meant to be rare (a node joins, leaves, goes
// down); picks are the hot path.
package hrw
