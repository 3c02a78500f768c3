package fastcpu

import (
	"bytes"
	"os"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// gemmLoadSample is a snapshot of the machine's busy CPU time and this process's CPU time.
type gemmLoadSample struct {
	wall       time.Time
	busy, self time.Duration
}

func gemmReadLoad() gemmLoadSample {
	ls := gemmLoadSample{wall: time.Now()}
	if data, err := os.ReadFile("/proc/stat"); err == nil {
		line, _, _ := bytes.Cut(data, []byte("\n"))
		f := strings.Fields(string(line)) // cpu user nice system idle iowait irq softirq steal ...
		for i, v := range f[1:] {
			if i == 3 || i == 4 {
				continue // idle, iowait
			}
			n, _ := strconv.Atoi(v)
			ls.busy += time.Duration(n) * 10 * time.Millisecond // USER_HZ = 100
		}
	}
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) == nil {
		ls.self = time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
	return ls
}

// otherSince returns the average number of CPUs used by other processes since l0.
func (l gemmLoadSample) otherSince(l0 gemmLoadSample) float64 {
	wall := l.wall.Sub(l0.wall)
	if wall <= 0 {
		return 0
	}
	return max(0, float64((l.busy-l0.busy)-(l.self-l0.self))/float64(wall))
}

// gemmWaitIdle waits (up to maxWait) until other processes use less than 10% of a CPU.
func gemmWaitIdle(maxWait time.Duration) {
	deadline := time.Now().Add(maxWait)
	for time.Now().Before(deadline) {
		l0 := gemmReadLoad()
		time.Sleep(time.Second)
		if gemmReadLoad().otherSince(l0) < 0.1 {
			return
		}
	}
}

// TestGemmNoOpenBLASSpin checks that OpenBLAS's thread pool does not burn CPU
// after a Gemm call (its worker threads spin ~0.1 s after each multi-threaded
// call by default; we keep OpenBLAS single-threaded).
func TestGemmNoOpenBLASSpin(t *testing.T) {
	gemmRequireBLAS(t)
	a := make([]float32, 512*512)
	c := make([]float32, 4*512*512)
	Gemm(1, 512, 512, 512, a, 0, false, a, 0, false, c) // OpenBLAS-threaded (auto policy)
	Gemm(4, 512, 512, 512, a, 0, false, a, 0, false, c) // goroutines
	runtime.GC()                                        // settle the garbage collector first: its work would count as "spinning"
	var ru0, ru1 syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru0)
	time.Sleep(200 * time.Millisecond)
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru1)
	used := time.Duration(ru1.Utime.Nano() + ru1.Stime.Nano() - ru0.Utime.Nano() - ru0.Stime.Nano())
	t.Logf("CPU time used while sleeping 200 ms after a Gemm: %v", used)
	if used > 50*time.Millisecond {
		t.Errorf("process used %v of CPU while idle for 200 ms after Gemm: OpenBLAS threads spinning?", used)
	}
}
