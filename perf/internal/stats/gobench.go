package stats

import (
	"bufio"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// BenchLine is one result line of `go test -bench` output.
type BenchLine struct {
	// Pkg is the import path from the preceding "pkg:" line.
	Pkg string
	// Name is the benchmark name without the "Benchmark" prefix and the
	// "-GOMAXPROCS" suffix: "Match/cached".
	Name string
	// Procs is the GOMAXPROCS suffix (1 when there is none).
	Procs int
	// Iters is the iteration count.
	Iters int64
	// Values maps each unit ("ns/op", "B/op", "allocs/op", "MB/s" and any
	// b.ReportMetric unit) to its value.
	Values map[string]float64
}

// ParseBench reads `go test -bench` output and returns its result lines in
// order; other lines (goos, PASS, ok, logs) are skipped. A line that starts
// like a result but does not parse is an error naming its line number.
func ParseBench(r io.Reader) ([]BenchLine, error) {
	var out []BenchLine
	var pkg string
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		if p, ok := strings.CutPrefix(line, "pkg: "); ok {
			pkg = strings.TrimSpace(p)
			continue
		}
		if !strings.HasPrefix(line, "Benchmark") {
			continue
		}
		f := strings.Fields(line)
		if len(f) < 2 {
			continue // "BenchmarkX" alone: a benchmark that logged before its result
		}
		iters, err := strconv.ParseInt(f[1], 10, 64)
		if err != nil {
			continue // a log line that happens to start with "Benchmark"
		}
		if len(f)%2 != 0 {
			return nil, fmt.Errorf("line %d: odd number of value/unit fields: %q", n, line)
		}
		b := BenchLine{Pkg: pkg, Iters: iters, Values: make(map[string]float64, (len(f)-2)/2)}
		b.Name, b.Procs = splitProcs(strings.TrimPrefix(f[0], "Benchmark"))
		for i := 2; i < len(f); i += 2 {
			v, err := strconv.ParseFloat(f[i], 64)
			if err != nil {
				return nil, fmt.Errorf("line %d: value %q: %w", n, f[i], err)
			}
			b.Values[f[i+1]] = v
		}
		out = append(out, b)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("cannot read benchmark output: %w", err)
	}
	return out, nil
}

// splitProcs splits "Match/cached-2" into "Match/cached" and 2.
func splitProcs(name string) (string, int) {
	i := strings.LastIndexByte(name, '-')
	if i < 0 {
		return name, 1
	}
	p, err := strconv.Atoi(name[i+1:])
	if err != nil || p <= 0 {
		return name, 1
	}
	return name[:i], p
}
