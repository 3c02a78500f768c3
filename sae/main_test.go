package sae

import (
	"os"
	"testing"

	"github.com/interp-dev/interp/fastcpu"
)

// TestMain prints fastcpu's per-op time table after benchmarks run with INTERP_PROFILE_OPS=1.
func TestMain(m *testing.M) {
	code := m.Run()
	fastcpu.WriteOpTimes(os.Stderr)
	os.Exit(code)
}
