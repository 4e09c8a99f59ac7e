//go:build race

package router

// raceEnabled reports whether the race detector is on: it makes sync.Pool
// drop items at random, so the pooled-bitset allocation check is skipped.
const raceEnabled = true
