package autodiff

import (
	"strconv"
	"strings"

	"github.com/gomlx/gomlx/backends"
	_ "github.com/gomlx/gomlx/backends/simplego" // Registers the pure-Go backend as "go".
)

// SafeGoBackendConfig returns the recommended GoMLX backend configuration for the pure-Go ("go",
// simplego) backend: "go:parallelism=-1" (unbounded worker pool: nothing ever blocks waiting for a pool
// slot, so the nested worker-pool deadlock is impossible, whatever the graph). It was the fastest of the
// deadlock-free configurations measured on 2 cores (see the package documentation). Caveats: ~30% more
// peak memory than LowMemorySafeGoBackendConfig; simplego prints "SimpleGo backend: parallelism set to
// -1" on stdout when the backend is created; and, like the default config, it runs simplego's parallel
// ops executor, which `go test -race` reports data races in (inside GoMLX).
func SafeGoBackendConfig() string { return "go:parallelism=-1" }

// LowMemorySafeGoBackendConfig returns "go:ops_sequential": also deadlock-free (ops run one at a time on
// the caller's goroutine, which holds no pool slot; each op still uses all cores), with the lowest peak
// memory, no stdout output, clean under `go test -race`, and 0-10% slower than SafeGoBackendConfig on 2
// cores. Prefer it for tests, for memory-bound jobs and for CLIs whose stdout is parsed.
func LowMemorySafeGoBackendConfig() string { return "go:ops_sequential" }

// NewSafeGoBackend creates a pure-Go backend configured with SafeGoBackendConfig.
func NewSafeGoBackend() (backends.Backend, error) {
	return backends.NewWithConfig(SafeGoBackendConfig())
}

// IsSafeGoBackendConfig reports whether a GoMLX backend configuration string (as given to
// backends.NewWithConfig or in $GOMLX_BACKEND) is free of the simplego nested worker-pool deadlock.
//
// Configurations of other backends are reported safe (they are not affected). A "go" configuration is
// safe if it selects ops_sequential, or parallelism=-1 (unbounded pool) or parallelism=0 (no pool) --
// unless a later ops_parallel overrides ops_sequential. The empty string selects the first registered
// backend, which can't be known here: it is reported unsafe.
func IsSafeGoBackendConfig(config string) bool {
	name, options, _ := strings.Cut(config, ":")
	if config == "" {
		return false
	}
	if name != "go" {
		return true
	}
	sequential, noBlockingPool := false, false
	for _, opt := range strings.Split(options, ",") {
		key, value, _ := strings.Cut(opt, "=")
		switch key {
		case "ops_sequential":
			sequential = true
		case "ops_parallel":
			sequential = false
		case "parallelism":
			p, err := strconv.Atoi(value)
			noBlockingPool = err == nil && p <= 0
		}
	}
	return sequential || noBlockingPool
}

// GuardGoBackendConfig returns config made deadlock-free if it is a pure-Go ("go") backend
// configuration that would use the parallel executor with a bounded worker pool:
//
//   - safe configurations (IsSafeGoBackendConfig), other backends and "" are returned unchanged;
//   - an explicit "ops_parallel" is respected (an explicit opt-in to the executor that can deadlock);
//   - if the user chose "parallelism=N" (N > 0), ",ops_sequential" is appended (keeps their N);
//   - otherwise the option of SafeGoBackendConfig ("parallelism=-1") is appended.
//
// E.g. "go" -> "go:parallelism=-1"; "go:dotgeneral_large" -> "go:dotgeneral_large,parallelism=-1";
// "go:parallelism=4" -> "go:parallelism=4,ops_sequential".
func GuardGoBackendConfig(config string) string {
	if config == "" || IsSafeGoBackendConfig(config) {
		return config
	}
	_, options, _ := strings.Cut(config, ":")
	addition := strings.TrimPrefix(SafeGoBackendConfig(), "go:")
	for _, opt := range strings.Split(options, ",") {
		key, _, _ := strings.Cut(opt, "=")
		switch key {
		case "ops_parallel":
			return config
		case "parallelism":
			addition = "ops_sequential"
		}
	}
	if strings.TrimSpace(options) == "" {
		return "go:" + addition
	}
	return config + "," + addition
}
