package model

import (
	"fmt"
	"os"
	"strings"

	"github.com/gomlx/gomlx/backends"
	_ "github.com/gomlx/gomlx/backends/simplego" // the pure-Go backend, registered as "go"
	_ "github.com/interp-dev/interp/fastcpu"     // this project's CPU backend, registered as "fastcpu"

	"github.com/interp-dev/interp/autodiff"
)

// BackendEnv is the environment variable that chooses the backend when no --backend flag is
// given, as in GoMLX: "go", "xla", "xla:cuda", "go:ops_sequential", ...
const BackendEnv = "GOMLX_BACKEND"

// xlaProbe reports the PJRT plugins installed on this machine without downloading anything,
// and xlaDisableAutoInstall turns GoMLX's plugin auto-download off. Both are nil when the
// binary was built without XLA (build tag noxla).
var (
	xlaProbe              func() []string
	xlaDisableAutoInstall func()
)

// NewBackend returns the backend to run models on and its printable name.
//
// name (or, when empty, $GOMLX_BACKEND) chooses: "fastcpu" is this project's CPU backend
// (package fastcpu), "go[:options]" GoMLX's pure-Go backend, "xla[:plugin]" XLA through a PJRT
// plugin. With neither set the default is XLA when a PJRT plugin is installed (in
// $PJRT_PLUGIN_LIBRARY_PATH or the standard folders), fastcpu otherwise; fastcpu itself runs a
// graph with an op it lacks on the pure-Go backend. Plugins are never downloaded: asking for XLA without one is an error that
// says how to install one.
func NewBackend(name string) (backends.Backend, string, error) {
	if xlaDisableAutoInstall != nil && os.Getenv("INTERP_XLA_AUTO_INSTALL") != "1" {
		xlaDisableAutoInstall()
	}
	if name == "" {
		name = os.Getenv(BackendEnv)
	}
	if name == "" || name == "auto" {
		name = "fastcpu"
		if xlaProbe != nil {
			if plugins := xlaProbe(); len(plugins) > 0 {
				name = "xla:" + plugins[0]
			}
		}
	}
	kind, _, _ := strings.Cut(name, ":")
	switch kind {
	case "fastcpu":
	case "go":
		name = goBackendConfig(name)
	case "xla", "stablehlo", "shlo", "hlo":
		if xlaProbe == nil {
			return nil, "", fmt.Errorf("backend %q: this binary was built without XLA (build tag noxla)", name)
		}
		if plugins := xlaProbe(); len(plugins) == 0 {
			return nil, "", fmt.Errorf("backend %q: no PJRT plugin installed; put one (e.g. pjrt_c_api_cpu_plugin.so) "+
				"in a folder named by $PJRT_PLUGIN_LIBRARY_PATH or in /usr/local/lib/go-xla, or use --backend go", name)
		}
	default:
		return nil, "", fmt.Errorf("backend %q: unknown backend (known: %v)", name, backends.List())
	}
	var b backends.Backend
	err := Catch(func() {
		var e error
		b, e = backends.NewWithConfig(name)
		if e != nil {
			panic(e)
		}
	})
	if err != nil {
		return nil, "", fmt.Errorf("backend %q: %w", name, err)
	}
	autodiff.Register()
	autodiff.RegisterSlice()
	return b, name, nil
}

// goBackendConfig keeps GoMLX's pure-Go backend clear of its nested worker-pool deadlock (see
// package autodiff): plain "go" runs ops sequentially (each op still uses every core; no stdout
// chatter, clean under -race), and a user's parallel configuration gets the guard appended.
func goBackendConfig(name string) string {
	if name == "go" {
		return autodiff.LowMemorySafeGoBackendConfig()
	}
	return autodiff.GuardGoBackendConfig(name)
}

// MustNewBackend is NewBackend for tests and notebooks.
func MustNewBackend(name string) (backends.Backend, string) {
	b, n, err := NewBackend(name)
	if err != nil {
		panic(err)
	}
	return b, n
}
