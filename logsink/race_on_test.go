//go:build race

package logsink

// raceEnabled reports whether the race detector is on: it makes sync.Pool
// drop items at random, so pooled paths allocate and their zero-alloc
// tests are skipped.
const raceEnabled = true
