//go:build faults && race

package faults

// raceEnabled reports whether the race detector is on. It slows the data
// path some thirtyfold, unevenly (sync.Pool drops items at random, so the
// outbound chunk pool allocates), so rate comparisons are printed but not
// checked under it.
const raceEnabled = true
