package logsink

import (
	"encoding/binary"
	"errors"
	"math"
	"math/rand/v2"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/weirio/weir/frame"
)

// testPayload encodes recs (which must fit s) as a payload: columns as
// Batcher.Append fills them, then the encoding of CompressBatch.
func testPayload(t testing.TB, s Schema, recs [][]frame.Value) []byte {
	t.Helper()
	cols := make([]colEnc, len(s.Columns))
	for j := range cols {
		cols[j].reset(s.Columns[j])
	}
	for i, rec := range recs {
		if _, err := addRecord(cols, i, rec); err != nil {
			t.Fatal(err)
		}
	}
	raw, _, err := encodePayload(nil, &s, cols, len(recs), nil)
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

func sameRecords(t *testing.T, got, want [][]frame.Value) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%d records, want %d", len(got), len(want))
	}
	for i := range want {
		if len(got[i]) != len(want[i]) {
			t.Fatalf("record %d: %d columns, want %d", i, len(got[i]), len(want[i]))
		}
		for j := range want[i] {
			if !frame.Equal(got[i][j], want[i][j]) {
				t.Fatalf("record %d column %d: %v, want %v", i, j, got[i][j], want[i][j])
			}
		}
	}
}

func TestPayloadRoundTrip(t *testing.T) {
	s := connSchema()
	recs := connRecords()
	raw := testPayload(t, s, recs)
	p, err := ParsePayload(raw, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !p.Schema.Equal(&s) {
		t.Fatalf("schema %+v, want %+v", p.Schema, s)
	}
	sameRecords(t, decodePayload(t, raw), recs)
	// Each can walk again, and stops at the callback's error.
	stop := errors.New("stop")
	n := 0
	if err := p.Each(func([]frame.View) error { n++; return stop }); err != stop || n != 1 {
		t.Fatalf("Each: %v after %d records", err, n)
	}
	sameRecords(t, decodePayload(t, raw), recs)
	// No records at all.
	empty := testPayload(t, s, nil)
	if p, err := ParsePayload(empty, nil); err != nil || p.Records() != 0 {
		t.Fatalf("empty payload: %v, %d records", err, p.Records())
	}
}

// randValue returns a random value of column c, or none.
func randValue(r *rand.Rand, c Column) frame.Value {
	if r.IntN(6) == 0 {
		return frame.None
	}
	return randScalar(r, c.Type, c.Elem)
}

func randScalar(r *rand.Rand, t, elem frame.Type) frame.Value {
	pick := func(n int) int { return r.IntN(n) }
	switch t {
	case frame.TypeBool:
		return frame.NewBool(pick(2) == 0)
	case frame.TypeCount:
		return frame.NewCount([]uint64{0, 1, 127, 128, math.MaxUint64, r.Uint64(), uint64(pick(1000))}[pick(7)])
	case frame.TypeInteger:
		return frame.NewInt([]int64{0, -1, math.MinInt64, math.MaxInt64, r.Int64(), int64(pick(100) - 50)}[pick(6)])
	case frame.TypeReal:
		return frame.NewReal([]float64{0, math.Copysign(0, -1), math.NaN(), math.Inf(-1), r.NormFloat64() * 1e6, 0.5}[pick(6)])
	case frame.TypeString, frame.TypeEnum:
		words := []string{"", "-", "(empty)", "tcp", "udp", "ssl", "a\tb", "\xff\xfe", strings.Repeat("x", 300), "caf\u00e9"}
		s := words[pick(len(words))]
		if pick(4) == 0 {
			s += string(rune('a' + pick(26)))
		}
		if t == frame.TypeEnum {
			return frame.NewEnum(s)
		}
		return frame.NewString(s)
	case frame.TypeAddress:
		if pick(3) == 0 {
			var b [16]byte
			for i := range b {
				b[i] = byte(pick(4))
			}
			return frame.NewAddr(netip.AddrFrom16(b))
		}
		return frame.NewAddr(netip.AddrFrom4([4]byte{10, 0, byte(pick(3)), byte(pick(256))}))
	case frame.TypeSubnet:
		if pick(2) == 0 {
			return frame.NewSubnet(netip.PrefixFrom(netip.AddrFrom4([4]byte{10, byte(pick(256)), 3, 4}), pick(33)))
		}
		return frame.NewSubnet(netip.PrefixFrom(netip.MustParseAddr("2001:db8::1"), pick(129)))
	case frame.TypePort:
		return frame.NewPort(frame.Port{Number: uint16(r.Uint32()), Proto: frame.Protocol(pick(4))})
	case frame.TypeTimestamp:
		base := []int64{0, -1, math.MinInt64, math.MaxInt64, 1700000000e9}[pick(5)]
		unit := []int64{1, 1000, 1e6, 1e9}[pick(4)]
		return frame.NewTimestamp(time.Unix(0, base+int64(pick(1e6))*unit))
	case frame.TypeTimespan:
		return frame.NewTimespan(time.Duration(int64(pick(2e6)-1e6) * []int64{1, 1000, 1e6}[pick(3)]))
	case frame.TypeSet, frame.TypeVector:
		var el []frame.Value
		for range pick(4) {
			if pick(5) == 0 {
				el = append(el, frame.None)
			} else {
				el = append(el, randScalar(r, elem, frame.TypeNone))
			}
		}
		if t == frame.TypeSet {
			return frame.NewSet(el...)
		}
		return frame.NewVector(el...)
	}
	panic("BUG: type " + t.String())
}

// TestPayloadRandom: random records of every type, with repetition (so
// that dictionaries, scales and mixed address families all occur) and
// without, round-trip exactly, against the values themselves as the model.
func TestPayloadRandom(t *testing.T) {
	s := connSchema()
	for seed := range uint64(40) {
		recs := randomRecords(s, seed, 7)
		raw := testPayload(t, s, recs)
		sameRecords(t, decodePayload(t, raw), recs)
	}
}

// randomRecords returns 1 to 700 random records of s (by seed): for even
// seeds drawn from a small pool, so that dictionaries occur.
func randomRecords(s Schema, seed, stream uint64) [][]frame.Value {
	r := rand.New(rand.NewPCG(seed, stream))
	n := []int{1, 3, 17, 400, 700}[seed%5]
	pool := make([][]frame.Value, 1+r.IntN(20))
	for i := range pool {
		pool[i] = make([]frame.Value, len(s.Columns))
		for j, c := range s.Columns {
			pool[i][j] = randValue(r, c)
		}
	}
	recs := make([][]frame.Value, n)
	for i := range recs {
		recs[i] = make([]frame.Value, len(s.Columns))
		for j, c := range s.Columns {
			if seed%2 == 0 {
				recs[i][j] = pool[r.IntN(len(pool))][j] // repetitive
			} else {
				recs[i][j] = randValue(r, c)
			}
		}
	}
	return recs
}

// TestPayloadEncodings checks that the encoder picks the intended
// encodings, by their effect on size and by the block's first byte.
func TestPayloadEncodings(t *testing.T) {
	s := Schema{Path: "x", Columns: []Column{
		{Name: "svc", Type: frame.TypeString},
		{Name: "ts", Type: frame.TypeTimestamp},
		{Name: "h", Type: frame.TypeAddress},
		{Name: "u", Type: frame.TypeString},
	}}
	var recs [][]frame.Value
	for i := range 300 {
		recs = append(recs, []frame.Value{
			frame.NewString([]string{"dns", "ssl", "http"}[i%3]),
			frame.NewTimestamp(time.Unix(1700000000, int64(i)*1000)),
			frame.NewAddr(netip.AddrFrom4([4]byte{10, 0, 0, byte(i % 5)})),
			frame.NewString(strings.Repeat(string(rune('a'+i%26)), 1+i%7) + string(rune('A'+i/26))),
		})
	}
	raw := testPayload(t, s, recs)
	p, err := ParsePayload(raw, nil)
	if err != nil {
		t.Fatal(err)
	}
	c := p.cols
	if !c[0].dict || !c[2].dict || c[3].dict {
		t.Errorf("dictionaries: svc %v h %v u %v", c[0].dict, c[2].dict, c[3].dict)
	}
	if c[1].scale != 1000 {
		t.Errorf("ts scale %d, want 1000", c[1].scale)
	}
	if c[1].present != nil {
		t.Errorf("ts has a presence bitmap without nulls")
	}
	// One byte per delta (but the first, from 0), one index byte per
	// address and service.
	if len(c[1].a) != 299+8 || len(c[0].a) != 300 || len(c[2].a) != 300 {
		t.Errorf("section sizes: ts %d svc %d h %d", len(c[1].a), len(c[0].a), len(c[2].a))
	}
	sameRecords(t, decodePayload(t, raw), recs)
}

// block builds a payload by hand: a header for cols and n records, then
// the given column blocks, each prefixed with its length.
func handPayload(n int, cols []Column, blocks ...[]byte) []byte {
	s := Schema{Path: "x", Columns: cols}
	dst := appendPayloadHeader(nil, &s, n)
	for _, b := range blocks {
		dst = binary.AppendUvarint(dst, uint64(len(b)))
		dst = append(dst, b...)
	}
	return dst
}

func TestParsePayloadRejects(t *testing.T) {
	count := []Column{{Name: "n", Type: frame.TypeCount}}
	str := []Column{{Name: "s", Type: frame.TypeString}}
	addr := []Column{{Name: "a", Type: frame.TypeAddress}}
	ts := []Column{{Name: "t", Type: frame.TypeTimestamp}}
	port := []Column{{Name: "p", Type: frame.TypePort}}
	subnet := []Column{{Name: "p", Type: frame.TypeSubnet}}
	set := []Column{{Name: "s", Type: frame.TypeSet, Elem: frame.TypeCount}}
	good := handPayload(2, count, []byte{encPlain, 1, 2})
	if _, err := ParsePayload(good, nil); err != nil {
		t.Fatalf("hand-made payload: %v", err)
	}
	setOf := func(v frame.Value) []byte { return frame.AppendValue([]byte{encPlain}, v) }
	cases := map[string][]byte{
		"empty":               nil,
		"version":             append([]byte{2}, good[1:]...),
		"no columns":          {payloadVersion, 0, 1, 'x', 0},
		"too many records":    append([]byte{payloadVersion, 0xff, 0xff, 0xff, 0xff, 0x0f}, good[2:]...),
		"bad schema":          handPayload(1, []Column{{Name: "a b", Type: frame.TypeCount}}, []byte{encPlain, 1}),
		"table column":        handPayload(1, []Column{{Name: "t", Type: frame.TypeTable}}, []byte{encPlain}),
		"missing block":       handPayload(2, count),
		"trailing bytes":      append(append([]byte(nil), good...), 0),
		"short values":        handPayload(2, count, []byte{encPlain, 1}),
		"extra values":        handPayload(2, count, []byte{encPlain, 1, 2, 3}),
		"noncanonical varint": handPayload(2, count, []byte{encPlain, 1, 0x82, 0x00}),
		"unknown encoding":    handPayload(2, count, []byte{7, 1, 2}),
		"dict on counts":      handPayload(2, count, []byte{encDict, 1, 2}),
		"presence past n":     handPayload(2, count, []byte{encNulls | encPlain, 0x07, 1, 2}),
		"presence truncated":  handPayload(9, count, []byte{encNulls | encPlain, 0x01}),
		"string lengths":      handPayload(1, str, []byte{encPlain, 5, 'a', 'b'}),
		"string bytes left":   handPayload(1, str, []byte{encPlain, 1, 'a', 'b'}),
		"dict index":          handPayload(2, str, []byte{encDict, 1, 1, 'a', 0, 1}),
		"dict empty":          handPayload(2, str, []byte{encDict, 0, 0, 0}),
		"dict huge":           handPayload(2, str, []byte{encDict, 0x81, 0x80, 0x04, 0, 0}),
		"address family":      handPayload(1, addr, []byte{encPlain, 6, 1, 2, 3, 4, 5, 6}),
		"address short":       handPayload(1, addr, []byte{encPlain, famV4, 1, 2, 3}),
		"mixed bitmap":        handPayload(1, addr, []byte{encPlain, famMixed, 0x01, 1, 2, 3, 4}),
		"time scale":          handPayload(1, ts, []byte{encPlain, 10, 2}),
		"port protocol":       handPayload(1, port, []byte{encPlain, 80, 0, 4}),
		"subnet host bits":    handPayload(1, subnet, append([]byte{encPlain}, append(v4InV6[:], 10, 0, 0, 1, 8)...)),
		"subnet length":       handPayload(1, subnet, append([]byte{encPlain}, append(v4InV6[:], 10, 0, 0, 0, 33)...)),
		"set element type":    handPayload(1, set, setOf(frame.NewSet(frame.NewString("a")))),
		"set not a set":       handPayload(1, set, setOf(frame.NewVector(frame.NewCount(1)))),
		"set truncated":       handPayload(1, set, setOf(frame.NewSet(frame.NewCount(1)))[:4]),
	}
	for name, raw := range cases {
		if _, err := ParsePayload(raw, nil); !errors.Is(err, ErrBadBatch) {
			t.Errorf("%s: %v", name, err)
		}
	}
	// Nesting is bounded by the limits.
	deep := handPayload(1, []Column{{Name: "v", Type: frame.TypeVector, Elem: frame.TypeCount}}, setOf(frame.NewVector(frame.NewCount(1))))
	if _, err := ParsePayload(deep, &frame.Limits{MaxDepth: 1}); err != nil {
		t.Errorf("depth 1 at limit 1: %v", err)
	}
}

// TestParsePayloadDamage: every truncation of a real payload is refused,
// and any single damaged byte is either refused or parses into a payload
// whose Each succeeds: ParsePayload's promise.
func TestParsePayloadDamage(t *testing.T) {
	raw := testPayload(t, connSchema(), connRecords())
	for i := range raw {
		if _, err := ParsePayload(raw[:i], nil); err == nil {
			t.Fatalf("truncated to %d of %d bytes: accepted", i, len(raw))
		}
	}
	buf := make([]byte, len(raw))
	for i := range raw {
		for _, x := range []byte{0x01, 0x80, 0xff} {
			copy(buf, raw)
			buf[i] ^= x
			checkParseEach(t, buf)
		}
	}
}

// checkParseEach fails if raw parses but cannot be walked.
func checkParseEach(t testing.TB, raw []byte) (Payload, bool) {
	p, err := ParsePayload(raw, nil)
	if err != nil {
		if !errors.Is(err, ErrBadBatch) {
			t.Fatalf("error without ErrBadBatch: %v", err)
		}
		return p, false
	}
	n := 0
	if err := p.Each(func(rec []frame.View) error {
		if len(rec) != len(p.Schema.Columns) {
			t.Fatalf("record of %d values for %d columns", len(rec), len(p.Schema.Columns))
		}
		if err := checkViewsSchema(&p.Schema, rec); err != nil {
			t.Fatalf("record does not fit the payload's schema: %v", err)
		}
		n++
		return nil
	}); err != nil {
		t.Fatalf("parsed payload fails Each: %v", err)
	}
	if n != p.Records() {
		t.Fatalf("Each gave %d of %d records", n, p.Records())
	}
	return p, true
}

// TestEachAllocs checks the hot-path claim: a warm Each allocates nothing.
func TestEachAllocs(t *testing.T) {
	raw := testPayload(t, connSchema(), connRecords())
	p, err := ParsePayload(raw, nil)
	if err != nil {
		t.Fatal(err)
	}
	fn := func([]frame.View) error { return nil }
	_ = p.Each(fn)
	if n := testing.AllocsPerRun(100, func() { _ = p.Each(fn) }); n != 0 {
		t.Fatalf("Each allocates %v times", n)
	}
}
