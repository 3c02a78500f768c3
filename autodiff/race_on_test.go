//go:build race

package autodiff

// raceEnabled: built with -race. simplego's parallel ops executor (used by the default config and by
// "parallelism=-1") has data races of its own (exec.go: the unsynchronised read of numUsed/owned that
// decides in-place buffer reuse vs. the locked increment after each op), so tests that run graphs with
// it are skipped under -race.
const raceEnabled = true
