package connlog

import "unsafe"

// Zeek's base62 digits (util::uitoa_n).
const base62 = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"

// feistelKeys key the four rounds of the uid permutation. They are fixed so
// that RecordID needs no generator.
var feistelKeys = [4]uint64{0x243f6a8885a308d3, 0x13198a2e03707344, 0xa4093822299f31d0, 0x082efa98ec4e6c89}

const mask48 = 1<<48 - 1

// mix is splitmix64's finalizer: a bijective 64-bit mixer.
func mix(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	return x ^ x>>31
}

// check is the 32-bit tag stored beside an id in the uid's 96 bits; it
// tells the right split of an unpadded uid from wrong ones (RecordID).
func check(id uint64) uint32 { return uint32(mix(id^0x9e3779b97f4a7c15) >> 32) }

// permute maps (id, tag), 96 bits, to the uid's two words (64 and 32 bits)
// by a 4-round Feistel network on 48-bit halves: a bijection, so distinct
// ids give distinct uids, and inverted by unpermute.
func permute(id uint64, tag uint32) (hi uint64, lo uint32) {
	l, r := id>>16, (id&0xffff)<<32|uint64(tag)
	for _, k := range feistelKeys {
		l, r = r, l^(mix(r^k)&mask48)
	}
	return l<<16 | r>>32, uint32(r)
}

func unpermute(hi uint64, lo uint32) (id uint64, tag uint32) {
	l, r := hi>>16, (hi&0xffff)<<32|uint64(lo)
	for i := len(feistelKeys) - 1; i >= 0; i-- {
		l, r = r^(mix(l^feistelKeys[i])&mask48), l
	}
	return l<<16 | r>>32, uint32(r)
}

// arenaSize is the uid arena's chunk; see uid.
const arenaSize = 64 << 10

// uid returns "C" + base62(hi) + base62(lo), Zeek's form. The string's
// bytes live in an append-only arena that is never written again once a
// string points into it (a full arena is replaced, not reused), so the
// strings are immutable as Go requires and Next allocates only once per
// arena.
func (g *Gen) uid(hi uint64, lo uint32) string {
	const maxUID = 1 + 11 + 6
	if cap(g.arena)-len(g.arena) < maxUID {
		g.arena = make([]byte, 0, arenaSize)
	}
	start := len(g.arena)
	g.arena = append(g.arena, 'C')
	g.arena = appendBase62(g.arena, hi)
	g.arena = appendBase62(g.arena, uint64(lo))
	b := g.arena[start:]
	return unsafe.String(&b[0], len(b))
}

// UID returns the uid Next gives record id.
func UID(id uint64) string {
	hi, lo := permute(id, check(id))
	b := appendBase62([]byte{'C'}, hi)
	return string(appendBase62(b, uint64(lo)))
}

// base62Pairs holds the two base62 digits of every number below 62²,
// most significant first. Read-only after init.
var base62Pairs = func() (t [2 * 62 * 62]byte) {
	for i := range 62 * 62 {
		t[2*i], t[2*i+1] = base62[i/62], base62[i%62]
	}
	return t
}()

// appendBase62 appends u in base 62, most significant digit first, without
// padding ("0" for 0). Two digits per division: half the divisions of one
// digit at a time (it was a sixth of Next's instructions).
func appendBase62(dst []byte, u uint64) []byte {
	var tmp [12]byte
	i := len(tmp)
	for u >= 62*62 {
		q := u / (62 * 62)
		r := u - q*(62*62)
		i -= 2
		tmp[i], tmp[i+1] = base62Pairs[2*r], base62Pairs[2*r+1]
		u = q
	}
	if u >= 62 {
		i -= 2
		tmp[i], tmp[i+1] = base62Pairs[2*u], base62Pairs[2*u+1]
	} else {
		i--
		tmp[i] = base62[u]
	}
	return append(dst, tmp[i:]...)
}

// parseBase62 parses an unpadded base62 number that fits in bits bits.
func parseBase62(s string, bits uint) (uint64, bool) {
	if len(s) == 0 || len(s) > 1 && s[0] == '0' {
		return 0, false
	}
	var u uint64
	for i := 0; i < len(s); i++ {
		c := s[i]
		var d uint64
		switch {
		case c >= '0' && c <= '9':
			d = uint64(c - '0')
		case c >= 'a' && c <= 'z':
			d = uint64(c-'a') + 10
		case c >= 'A' && c <= 'Z':
			d = uint64(c-'A') + 36
		default:
			return 0, false
		}
		if u > (1<<64-1-d)/62 {
			return 0, false
		}
		u = u*62 + d
	}
	if bits < 64 && u>>bits != 0 {
		return 0, false
	}
	return u, true
}

// RecordID returns the record id encoded in a uid made by Next (or UID);
// ok is false for any other string (up to a 2^-32 chance per split tried).
// Zeek's uids are unpadded, so the boundary between the two words is
// unknown: each split is tried and the one whose tag checks out wins.
func RecordID(uid string) (id uint64, ok bool) {
	if len(uid) < 3 || len(uid) > 18 || uid[0] != 'C' {
		return 0, false
	}
	s := uid[1:]
	for k := 1; k <= 11 && k < len(s); k++ {
		if len(s)-k > 6 {
			continue
		}
		hi, ok1 := parseBase62(s[:k], 64)
		lo, ok2 := parseBase62(s[k:], 32)
		if !ok1 || !ok2 {
			continue
		}
		id, tag := unpermute(hi, uint32(lo))
		if tag == check(id) {
			return id, true
		}
	}
	return 0, false
}
