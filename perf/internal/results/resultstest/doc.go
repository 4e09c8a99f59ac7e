// Package resultstest builds small, deterministic results.Suite values for
// the perf packages' tests: a plausible run with every group, two runs per
// point, a failed sample and micro-benchmark samples.
package resultstest
