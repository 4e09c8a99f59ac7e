package results

import "github.com/weirio/weir/perf/internal/stats"

// AddBench merges parsed `go test -bench` lines into s.Micro: one
// Benchmark per (package, name), one value per line and unit, in order.
func (s *Suite) AddBench(lines []stats.BenchLine) {
	idx := make(map[[2]string]int, len(s.Micro))
	for i, b := range s.Micro {
		idx[[2]string{b.Pkg, b.Name}] = i
	}
	for _, l := range lines {
		k := [2]string{l.Pkg, l.Name}
		i, ok := idx[k]
		if !ok {
			i = len(s.Micro)
			idx[k] = i
			s.Micro = append(s.Micro, Benchmark{Pkg: l.Pkg, Name: l.Name, Values: map[string][]float64{}})
		}
		for u, v := range l.Values {
			s.Micro[i].Values[u] = append(s.Micro[i].Values[u], v)
		}
	}
}

// FindMicro returns the benchmark with the given ID ("router.Match/cached").
func (s *Suite) FindMicro(id string) (Benchmark, bool) {
	for _, b := range s.Micro {
		if b.ID() == id {
			return b, true
		}
	}
	return Benchmark{}, false
}
