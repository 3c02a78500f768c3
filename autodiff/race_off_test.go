//go:build !race

package autodiff

// raceEnabled: see race_on_test.go.
const raceEnabled = false
