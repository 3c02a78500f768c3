//go:build !linux

package fastcpu

import "time"

// Machine-load sampling is only implemented on Linux.
type gemmLoadSample struct{}

func gemmReadLoad() gemmLoadSample                            { return gemmLoadSample{} }
func (l gemmLoadSample) otherSince(l0 gemmLoadSample) float64 { return 0 }
func gemmWaitIdle(maxWait time.Duration)                      {}
