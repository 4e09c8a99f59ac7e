package hrw

import (
	"strconv"
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// testKeys returns the keys "key-0" … "key-<n-1>", sharing one backing array.
func testKeys(n int) [][]byte {
	buf := make([]byte, 0, n*12)
	keys := make([][]byte, n)
	for i := range keys {
		start := len(buf)
		buf = strconv.AppendInt(append(buf, "key-"...), int64(i), 10)
		keys[i] = buf[start:len(buf):len(buf)]
	}
	return keys
}

// mustNew is New for members known to be valid.
func mustNew(t testing.TB, members ...Member) *Pool {
	t.Helper()
	p, err := New(members...)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// live returns n alive members "m00"… with the given weights, cycled.
func live(n int, weights ...float64) []Member {
	ms := make([]Member, n)
	for i := range ms {
		ms[i] = Member{Name: "m" + pad2(i), Weight: weights[i%len(weights)], Alive: true}
	}
	return ms
}

func pad2(i int) string {
	s := strconv.Itoa(i)
	if len(s) < 2 {
		s = "0" + s
	}
	return s
}

// owners returns the owner's name of every key, "" where none is alive.
func owners(p *Pool, keys [][]byte) []string {
	out := make([]string, len(keys))
	for i, k := range keys {
		m, _ := p.Pick(k)
		out[i] = m.Name
	}
	return out
}
