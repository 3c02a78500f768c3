package fastcpu

import (
	"fmt"
	"math/rand/v2"
	"os"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestGemmPerfTable prints a best-of-N GFLOP/s table for every shape of
// gemmBenchShapes and every path, running the paths round-robin so that they
// see the same machine load. It is skipped unless GEMM_PERF is set:
//
//	GEMM_PERF=1 go test -run TestGemmPerfTable -v ./fastcpu
//	GEMM_PERF=1 GEMM_PERF_ROUNDS=5 GEMM_PERF_SHAPES='^96x|1024x768x768$' ...
//	GEMM_PERF=1 GEMM_PERF_EXTRA='4,256,256,256;2,512,512,512,0,1' ...  (batch,m,k,n[,transA,transB])
//
// Best-of-N (rather than the mean) is used because the development machine is
// shared; the best run is the one least disturbed by other processes.
func TestGemmPerfTable(t *testing.T) {
	if os.Getenv("GEMM_PERF") == "" {
		t.Skip("set GEMM_PERF=1 to run")
	}
	rounds := 3
	if v, err := strconv.Atoi(os.Getenv("GEMM_PERF_ROUNDS")); err == nil && v > 0 {
		rounds = v
	}
	// GEMM_GO_BLOCKING="kc,mc,nc" overrides the float32 Go kernel's blocking (tuning).
	if v := os.Getenv("GEMM_GO_BLOCKING"); v != "" {
		kr := *gemmGoKernel32
		if _, err := fmt.Sscanf(v, "%d,%d,%d", &kr.kc, &kr.mc, &kr.nc); err != nil {
			t.Fatalf("bad GEMM_GO_BLOCKING %q: %v", v, err)
		}
		kr.mc, kr.nc = gemmRoundUp(kr.mc, kr.mr), gemmRoundUp(kr.nc, kr.nr)
		old := gemmGoKernel32
		gemmGoKernel32 = &kr
		defer func() { gemmGoKernel32 = old }()
	}
	var filter *regexp.Regexp
	if f := os.Getenv("GEMM_PERF_SHAPES"); f != "" {
		filter = regexp.MustCompile(f)
	}
	type path struct {
		name  string
		setup func() func()
	}
	mode := func(m blasThreading) func() func() {
		return func() func() {
			blasThreadsMode, forceBLASSmall = m, true
			return func() { blasThreadsMode, forceBLASSmall = blasAutoThreads, false }
		}
	}
	paths := []path{{"default", func() func() { return func() {} }}}
	if gemmBLAS() != nil {
		paths = append(paths, path{"openblas", mode(blasGoThreads)}, path{"openblas-mt", mode(blasOpenBLASThreads)})
	}
	paths = append(paths, path{"go" + gemmGoKernelSuffix(), func() func() {
		forceGoGemm = true
		return func() { forceGoGemm = false }
	}})

	if f := os.Getenv("GEMM_PERF_PATHS"); f != "" {
		re := regexp.MustCompile(f)
		var kept []path
		for _, p := range paths {
			if re.MatchString(p.name) {
				kept = append(kept, p)
			}
		}
		paths = kept
	}
	var sb strings.Builder
	fmt.Fprintf(&sb, "%-28s", "shape b×(m×k×n)")
	for _, p := range paths {
		fmt.Fprintf(&sb, " %14s", p.name)
	}
	fmt.Fprintf(&sb, "   default picks\n")
	shapes := gemmBenchShapes
	// GEMM_PERF_EXTRA="b,m,k,n;b,m,k,n" adds shapes (and runs only those when GEMM_PERF_SHAPES is unset).
	if extra := os.Getenv("GEMM_PERF_EXTRA"); extra != "" {
		shapes = nil
		for _, spec := range strings.Split(extra, ";") {
			var s gemmBenchShape
			var ta, tb int
			f := strings.Split(spec, ",")
			if len(f) == 4 {
				f = append(f, "0", "0")
			}
			if _, err := fmt.Sscanf(strings.Join(f, " "), "%d %d %d %d %d %d", &s.batch, &s.m, &s.k, &s.n, &ta, &tb); err != nil {
				t.Fatalf("bad GEMM_PERF_EXTRA entry %q (want batch,m,k,n[,transA,transB]): %v", spec, err)
			}
			s.transA, s.transB = ta != 0, tb != 0
			s.name = fmt.Sprintf("%dx(%dx%dx%d)", s.batch, s.m, s.k, s.n)
			if s.transA {
				s.name += "_tA"
			}
			if s.transB {
				s.name += "_tB"
			}
			shapes = append(shapes, s)
		}
	}
	for _, s := range shapes {
		if filter != nil && !filter.MatchString(s.name) {
			continue
		}
		rng := rand.New(rand.NewPCG(1, 2))
		bStride := s.k * s.n
		if s.broadcastB {
			bStride = 0
		}
		a := gemmRandSlice[float32](rng, s.batch*s.m*s.k)
		b := gemmRandSlice[float32](rng, (s.batch-1)*bStride+s.k*s.n)
		c := make([]float32, s.batch*s.m*s.n)
		flops := 2 * float64(s.batch) * float64(s.m) * float64(s.n) * float64(s.k)
		call := func() { Gemm(s.batch, s.m, s.n, s.k, a, s.m*s.k, s.transA, b, bStride, s.transB, c) }
		best := make([]float64, len(paths))
		gemmWaitIdle(60 * time.Second)
		load0 := gemmReadLoad()
		for range rounds {
			for pi, p := range paths {
				restore := p.setup()
				call() // warm-up
				// Run for ~0.3 s (at least 2 calls), keep the best per-call time.
				deadline := time.Now().Add(300 * time.Millisecond)
				for n := 0; n < 2 || time.Now().Before(deadline); n++ {
					t0 := time.Now()
					reps := 1
					if flops < 1e8 {
						reps = int(1e8/flops) + 1
					}
					for range reps {
						call()
					}
					g := flops * float64(reps) / time.Since(t0).Seconds() / 1e9
					best[pi] = max(best[pi], g)
				}
				restore()
			}
		}
		fmt.Fprintf(&sb, "%-28s", s.name)
		for _, g := range best {
			fmt.Fprintf(&sb, " %14.1f", g)
		}
		other := gemmReadLoad().otherSince(load0)
		mark := ""
		if other > 0.1 {
			mark = fmt.Sprintf(" (other load %.0f%% of a CPU)", other*100)
		}
		fmt.Fprintf(&sb, "   %s%s\n", gemmDefaultPathName(s.batch, s.m, s.n, s.k), mark)
	}
	t.Logf("GemmImpl()=%s  (GFLOP/s, best of %d rounds)\n%s", GemmImpl(), rounds, sb.String())
}

// gemmDefaultPathName describes what Gemm does by default for a problem size.
func gemmDefaultPathName(batch, m, n, k int) string {
	if gemmBLAS() == nil || gemmGoForTiny(batch, m, n, k) {
		return "go" + gemmGoKernelSuffix()
	}
	plan := newGemmPlan(batch, m, n, k, 16, 16, runtime.GOMAXPROCS(0))
	if blasUseOpenBLASThreads(plan, m, n, k) {
		return "openblas-mt"
	}
	return "openblas"
}
