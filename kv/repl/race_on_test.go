//go:build race

package repl

// raceEnabled: the race detector slows the randomized test tenfold and
// finds nothing there (no goroutines), so it runs fewer seeds.
const raceEnabled = true
