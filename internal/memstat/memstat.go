// Package memstat reads the process's memory figures that the benchmarks report.
package memstat

import (
	"os"
	"strconv"
	"strings"
)

// PeakRSSGiB is the process's peak resident set size (VmHWM in /proc/self/status, Linux) in GiB,
// or -1 where it cannot be read.
func PeakRSSGiB() float64 {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return -1
	}
	for _, line := range strings.Split(string(data), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, err := strconv.Atoi(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")))
			if err == nil {
				return float64(kb) / (1 << 20)
			}
		}
	}
	return -1
}
