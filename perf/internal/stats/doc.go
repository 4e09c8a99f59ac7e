// Package stats holds the statistics the perf suite needs and nothing
// else: medians and spreads of a handful of samples, the Mann-Whitney U
// test that says whether two sets of micro-benchmark samples differ, and a
// parser for `go test -bench` output.
//
// It deliberately does not use golang.org/x/perf/benchstat: that module is
// not a dependency of weir (go.mod is edited by the lead only), and the two
// pieces benchstat would give us here — the benchmark line format and the
// U test — are each well under a hundred lines. The test follows benchstat's
// choices: two-sided, exact p-value when there are no ties and both samples
// are small, otherwise the normal approximation with tie and continuity
// corrections; α = 0.05.
//
// Everything here is a pure function of its arguments and safe for
// concurrent use.
package stats
