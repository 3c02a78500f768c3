//go:build !noxla

package model

import "github.com/gomlx/gomlx/backends/xla"

func init() {
	xlaProbe = xla.GetAvailablePlugins
	xlaDisableAutoInstall = func() { xla.EnableAutoInstall(false) }
}
