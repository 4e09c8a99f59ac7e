package stats

import (
	"math"
	"strings"
	"testing"
)

func TestMedianQuantileSpread(t *testing.T) {
	for _, tc := range []struct {
		xs     []float64
		median float64
		spread float64
	}{
		{[]float64{3}, 3, 0},
		{[]float64{4, 1, 3, 2}, 2.5, 0.6},
		{[]float64{10, 12, 8, 11, 9}, 10, 0.2},
	} {
		if got := Median(tc.xs); got != tc.median {
			t.Errorf("Median(%v) = %v, want %v", tc.xs, got, tc.median)
		}
		if got := Spread(tc.xs); math.Abs(got-tc.spread) > 1e-12 {
			t.Errorf("Spread(%v) = %v, want %v", tc.xs, got, tc.spread)
		}
	}
	if !math.IsNaN(Median(nil)) {
		t.Error("Median(nil) is not NaN")
	}
	xs := []float64{5, 1, 4}
	if Quantile(xs, 0) != 1 || Quantile(xs, 1) != 5 || xs[0] != 5 {
		t.Errorf("Quantile ends or input order wrong: %v", xs)
	}
	if d := Delta(200, 150); d != -0.25 {
		t.Errorf("Delta = %v, want -0.25", d)
	}
	if Delta(0, 0) != 0 || !math.IsNaN(Delta(0, 1)) {
		t.Error("Delta from 0 is not NaN")
	}
}

func TestMannWhitneyExact(t *testing.T) {
	// Completely separated samples of 5 and 5: P(U = 0) = 1/C(10,5) = 1/252,
	// two-sided 2/252 (benchstat prints p=0.008 for this case).
	a := []float64{1, 2, 3, 4, 5}
	b := []float64{6, 7, 8, 9, 10}
	if p := MannWhitney(a, b); math.Abs(p-2.0/252) > 1e-12 {
		t.Errorf("separated 5 vs 5: p = %v, want %v", p, 2.0/252)
	}
	if p := MannWhitney(b, a); math.Abs(p-2.0/252) > 1e-12 {
		t.Errorf("symmetric: p = %v", p)
	}
	// 3 vs 3 separated: 2/20 = 0.1, not significant: too few runs.
	if p := MannWhitney([]float64{1, 2, 3}, []float64{4, 5, 6}); math.Abs(p-0.1) > 1e-12 {
		t.Errorf("3 vs 3: p = %v, want 0.1", p)
	}
	// Interleaved samples: U = 12.5-ish, far from significant.
	if p := MannWhitney([]float64{1, 3, 5, 7, 9}, []float64{2, 4, 6, 8, 10}); p < 0.5 {
		t.Errorf("interleaved: p = %v, want large", p)
	}
	// A hand-computed case: x = {1, 4}, y = {2, 3, 5}: U = 2 (4 > 2, 4 > 3).
	// U over C(5,2) = 10 arrangements: counts 1,1,2,2,2,1,1 for U = 0..6,
	// P(U ≤ 2) = 4/10, P(U ≥ 2) = 8/10: p = 0.8.
	if p := MannWhitney([]float64{1, 4}, []float64{2, 3, 5}); math.Abs(p-0.8) > 1e-12 {
		t.Errorf("hand case: p = %v, want 0.8", p)
	}
}

func TestMannWhitneyNormal(t *testing.T) {
	// Ties force the normal approximation.
	if p := MannWhitney([]float64{1, 1, 1, 1}, []float64{1, 1, 1, 1}); p != 1 {
		t.Errorf("all equal: p = %v, want 1", p)
	}
	a := []float64{1, 1, 2, 2, 3, 3, 4, 4}
	b := []float64{10, 10, 11, 11, 12, 12, 13, 13}
	if p := MannWhitney(a, b); p >= Alpha {
		t.Errorf("separated with ties: p = %v, want < %v", p, Alpha)
	}
	// Large samples: 60 vs 60 shifted by a lot, and identical ones.
	var x, y []float64
	for i := range 60 {
		x = append(x, float64(i))
		y = append(y, float64(i)+1000)
	}
	if p := MannWhitney(x, y); p > 1e-10 {
		t.Errorf("large separated: p = %v", p)
	}
	if p := MannWhitney(x, x); p < 0.9 {
		t.Errorf("large identical: p = %v", p)
	}
	if p := MannWhitney(nil, x); p != 1 {
		t.Errorf("empty: p = %v", p)
	}
}

func TestParseBench(t *testing.T) {
	out := `goos: linux
goarch: amd64
pkg: github.com/weirio/weir/router
cpu: AMD EPYC
BenchmarkMatch/cached-2         	 1502959	        38.88 ns/op	       0 B/op	       0 allocs/op
BenchmarkMatch/uncached-10k-2   	  265148	       235.1 ns/op	      30.00 topic-bytes
BenchmarkLogging
    bench_test.go:12: a log line
BenchmarkSolo 	 100	 5 ns/op
PASS
ok  	github.com/weirio/weir/router	0.617s
pkg: github.com/weirio/weir/hrw
BenchmarkPick/members=16-2        	  952362	        56.86 ns/op
`
	got, err := ParseBench(strings.NewReader(out))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 4 {
		t.Fatalf("got %d lines, want 4: %+v", len(got), got)
	}
	b := got[1]
	if b.Pkg != "github.com/weirio/weir/router" || b.Name != "Match/uncached-10k" || b.Procs != 2 || b.Iters != 265148 ||
		b.Values["ns/op"] != 235.1 || b.Values["topic-bytes"] != 30 {
		t.Errorf("line 2 = %+v", b)
	}
	if got[2].Name != "Solo" || got[2].Procs != 1 {
		t.Errorf("no procs suffix: %+v", got[2])
	}
	if got[3].Pkg != "github.com/weirio/weir/hrw" || got[3].Name != "Pick/members=16" {
		t.Errorf("second package: %+v", got[3])
	}
	if _, err := ParseBench(strings.NewReader("BenchmarkBad-2 10 5 ns/op 7\n")); err == nil {
		t.Error("odd fields: no error")
	}
}
