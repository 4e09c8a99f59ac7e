package hrw

import (
	"go/ast"
	"go/parser"
	"go/token"
	"math"
	"math/rand/v2"
	"testing"
)

// hOfX returns an h whose u is x/2^53 (x odd).
func hOfX(x uint64) uint64 { return x >> 1 << 12 }

// edgeXs are the odd x = 2*(h>>12)+1 around the places where negLn's
// argument reduction changes: the ends of the range, powers of two and
// sqrt(2)/2 times powers of two.
func edgeXs() []uint64 {
	var xs []uint64
	add := func(c float64) {
		for d := -6.0; d <= 6; d++ {
			if x := uint64(c+d) | 1; x >= 1 && x < 1<<53 {
				xs = append(xs, x)
			}
		}
	}
	for e := 1; e <= 53; e++ {
		add(math.Ldexp(1, e))
		add(math.Ldexp(math.Sqrt2/2, e))
	}
	add(0)
	add(1 << 53)
	return xs
}

// TestNegLnAccuracy compares negLn with math.Log: they must agree within one
// ulp (they are the same algorithm; math.Log may be assembly).
func TestNegLnAccuracy(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	xs := edgeXs()
	for range 300_000 {
		xs = append(xs, rng.Uint64()>>11|1)
		xs = append(xs, (rng.Uint64()>>uint(11+rng.IntN(53)))|1) // small u too
	}
	same := 0
	for _, x := range xs {
		got := negLn(hOfX(x))
		want := -math.Log(float64(x) * 0x1p-53)
		if !(got > 0) {
			t.Fatalf("x=%d: negLn = %v, want > 0", x, got)
		}
		if ulps := math.Abs(got-want) / ulp(want); ulps > 1 {
			t.Fatalf("x=%d: negLn = %v, -math.Log = %v (%.1f ulp apart)", x, got, want, ulps)
		}
		if got == want {
			same++
		}
	}
	t.Logf("negLn equals -math.Log bit for bit on %d of %d inputs", same, len(xs))
}

func ulp(x float64) float64 { return math.Nextafter(x, math.Inf(1)) - x }

// TestNegLnMonotone checks that negLn is non-increasing in u over its grid,
// which is what makes comparing h on the equal-weight path exact (doc.go).
// The true values of neighbouring grid points are at least e ulps apart, so
// a 1-ulp function cannot reverse them; this checks the edges and a sample.
func TestNegLnMonotone(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	xs := edgeXs()
	for range 300_000 {
		xs = append(xs, rng.Uint64()>>11|1)
	}
	for _, x := range xs {
		if x+2 >= 1<<53 {
			continue
		}
		if a, b := negLn(hOfX(x)), negLn(hOfX(x+2)); a < b {
			t.Fatalf("negLn not monotone: x=%d → %v, x+2 → %v", x, a, b)
		}
	}
}

// TestCanBeatIsSafe checks that canBeat never rules out a member whose score
// reaches best: for best at or just below the member's own score it must
// answer true.
func TestCanBeatIsSafe(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	hs := []uint64{0, math.MaxUint64}
	for _, x := range edgeXs() {
		hs = append(hs, hOfX(x))
	}
	for range 300_000 {
		hs = append(hs, rng.Uint64())
	}
	ws := []float64{MinWeight, 1, 3, MaxWeight}
	pruned := 0
	for i, h := range hs {
		w := ws[i%len(ws)]
		if i%2 == 0 {
			w = math.Exp(rng.Float64()*20 - 10)
		}
		sc := score(w, h)
		for _, best := range []float64{sc, math.Nextafter(sc, 0), sc * (1 - 0x1p-40)} {
			if !canBeat(w, h, best) {
				t.Fatalf("w=%v h=%#x: canBeat(best=%v) false, but score is %v", w, h, best, sc)
			}
		}
		if !canBeat(w, h, 4*sc) {
			pruned++
		}
	}
	// canBeat must also do its job: rule out most members that are clearly
	// behind, or the pick loops compute logarithms for nothing.
	if frac := float64(pruned) / float64(len(hs)); frac < 0.5 {
		t.Fatalf("canBeat pruned only %.0f%% of members scoring a quarter of the best", 100*frac)
	}
}

// TestEqualPathMatchesWeighted compares, key by key, the equal-weight fast
// path with the full weighted computation on the same members.
func TestEqualPathMatchesWeighted(t *testing.T) {
	for _, n := range []int{2, 16, 100} {
		p := mustNew(t, live(n, 2.5)...)
		s := p.snap.Load()
		if !s.equal {
			t.Fatal("pool of equal weights not on the equal path")
		}
		for i, k := range testKeys(100_000) {
			hk := hashKey(k)
			if a, b := s.best(hk), s.bestWeighted(hk); a != b {
				t.Fatalf("n=%d key %d: equal path picks %v, weighted %v", n, i, s.live[a], s.live[b])
			}
		}
	}
}

// unmix64 inverts mix64, to build members whose hashes tie.
func unmix64(z uint64) uint64 {
	unshift := func(y uint64, s uint) uint64 {
		x := y
		for range 64 / s {
			x = y ^ x>>s
		}
		return x
	}
	inv := func(c uint64) uint64 { // c^-1 mod 2^64, Newton's method
		x := c
		for range 6 {
			x *= 2 - c*x
		}
		return x
	}
	z = unshift(z, 31)
	z *= inv(0x94d049bb133111eb)
	z = unshift(z, 27)
	z *= inv(0xbf58476d1ce4e5b9)
	return unshift(z, 30)
}

// tieKey is a key hash whose operand in mix is 1 (tieKey^mixKey), so that
// mix(tieKey, hm) = factor(hm), which unmix64 inverts.
const tieKey = mixKey ^ 1

// TestTieBreaks builds members whose scores tie, by choosing their name
// hashes hm so that their h for the key hash tieKey are the given ones.
func TestTieBreaks(t *testing.T) {
	for _, z := range []uint64{1, 0x1234_5678_9abc_d000, math.MaxUint64 - 1} {
		if unmix64(mix64(z)) != z {
			t.Fatalf("unmix64 does not invert mix64 at %#x", z)
		}
	}
	const top = 0xfedc_ba98_7654_3000 // h>>12 equal for top..top+4095
	mk := func(name string, w float64, h uint64) entry {
		hm := unmix64(h ^ mixMember)
		if got := mix(tieKey, hm); got != h {
			t.Fatalf("mix(tieKey, %#x) = %#x, want %#x", hm, got, h)
		}
		return entry{m: Member{Name: name, Weight: w, Alive: true}, hm: hm}
	}
	for _, tc := range []struct {
		name    string
		entries []entry // sorted by name
		want    string
	}{
		// Same u, so the same score: the higher h wins, on both paths.
		{"score tie, equal path", []entry{mk("a", 1, top+1), mk("b", 1, top+7)}, "b"},
		{"score tie, weighted path", []entry{mk("a", 1, top+1), mk("b", 1, top+7), mk("c", 5, 1<<20)}, "b"},
		// Same h (two names with one xxhash): the smaller name wins.
		{"hash tie, equal path", []entry{mk("a", 1, top), mk("b", 1, top)}, "a"},
		// The same inside the equal path's two-at-a-time loop.
		{"score tie, equal path, pair", []entry{mk("a", 1, 1<<20), mk("b", 1, top+1), mk("c", 1, top+7)}, "c"},
		{"hash tie, equal path, pair", []entry{mk("a", 1, 1<<20), mk("b", 1, top), mk("c", 1, top)}, "b"},
		{"hash tie, weighted path", []entry{mk("a", 1, top), mk("b", 1, top), mk("c", 5, 1<<20)}, "a"},
	} {
		s := newSnapshot(tc.entries)
		if m, _ := s.pick(tieKey); m.Name != tc.want {
			t.Errorf("%s: Pick = %s, want %s", tc.name, m.Name, tc.want)
		}
		for _, n := range []int{2, 40} { // stack and sorting paths of PickN
			if got := s.appendTop(nil, tieKey, n); got[0].Name != tc.want {
				t.Errorf("%s: PickN(%d) = %v, want %s first", tc.name, n, got, tc.want)
			}
		}
	}
}

// TestNegLnRoundsEveryProduct is a lint rule: every multiplication in negLn
// must be wrapped in float64(...), which is what keeps the compiler from
// fusing it into an FMA and so keeps scores identical across GOARCH and
// GOAMD64 levels (doc.go). The golden checksum catches a violation only on
// a machine that fuses; this catches it everywhere.
func TestNegLnRoundsEveryProduct(t *testing.T) {
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, "score.go", nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	var fn *ast.FuncDecl
	for _, d := range f.Decls {
		if d, ok := d.(*ast.FuncDecl); ok && d.Name.Name == "negLn" {
			fn = d
		}
	}
	if fn == nil {
		t.Fatal("negLn not found in score.go")
	}
	products := 0
	var stack []ast.Node
	ast.Inspect(fn.Body, func(n ast.Node) bool {
		if n == nil {
			stack = stack[:len(stack)-1]
			return true
		}
		switch n := n.(type) {
		case *ast.AssignStmt:
			if n.Tok == token.MUL_ASSIGN {
				t.Errorf("%s: use x = float64(x * y), not *=", fset.Position(n.Pos()))
			}
		case *ast.BinaryExpr:
			if n.Op == token.MUL {
				products++
				parent, _ := stack[len(stack)-1].(*ast.CallExpr)
				if id, ok := parentFun(parent); !ok || id != "float64" {
					t.Errorf("%s: product not wrapped in float64(...)", fset.Position(n.Pos()))
				}
			}
		}
		stack = append(stack, n)
		return true
	})
	if products < 10 {
		t.Fatalf("found only %d products in negLn; is the rule still looking at the right code?", products)
	}
}

func parentFun(c *ast.CallExpr) (string, bool) {
	if c == nil {
		return "", false
	}
	id, ok := c.Fun.(*ast.Ident)
	if !ok {
		return "", false
	}
	return id.Name, true
}
