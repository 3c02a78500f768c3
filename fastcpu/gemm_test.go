package fastcpu

import (
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// Accuracy criterion: every element of C must satisfy
//
//	|C - ref| <= tol · √k · Σ_p |A(i,p)·B(p,j)|  (+ a tiny absolute term)
//
// where ref is a naive triple loop accumulated in float64 and tol is 1e-5 for
// float32, 1e-13 for float64. Σ|A·B| is the natural scale of the rounding
// error of a dot product (it does not vanish when the terms cancel); an
// indexing bug gives errors of the order of Σ|A·B| itself.

type gemmShape struct {
	batch, m, n, k   int
	aStride, bStride int // -1: contiguous (m*k / k*n); 0: broadcast.
}

func (s gemmShape) String() string {
	return fmt.Sprintf("b%d_m%d_n%d_k%d_as%d_bs%d", s.batch, s.m, s.n, s.k, s.aStride, s.bStride)
}

var gemmTestShapes = []gemmShape{
	{1, 1, 1, 1, -1, -1},
	{1, 2, 3, 4, -1, -1},
	{1, 7, 13, 5, -1, -1},
	{1, 13, 7, 5, -1, -1},
	{1, 5, 5, 1, -1, -1},
	{1, 1, 64, 32, -1, -1},   // row vector × matrix
	{1, 1, 1000, 77, -1, -1}, // row vector × matrix
	{1, 64, 1, 32, -1, -1},   // matrix × column vector
	{1, 1, 1, 300, -1, -1},   // dot product
	{1, 17, 33, 1, -1, -1},   // outer product
	{1, 31, 47, 61, -1, -1},  // odd, all edges
	{1, 33, 65, 129, -1, -1}, // just past powers of two
	{1, 128, 96, 64, -1, -1}, // exact tiles
	{1, 100, 200, 300, -1, -1},
	{1, 37, 3000, 19, -1, -1}, // n larger than the nc block
	{1, 300, 40, 600, -1, -1}, // m larger than mc, k larger than kc
	{1, 256, 512, 128, -1, -1},
	{1, 513, 257, 129, -1, -1}, // big enough to be cut into row blocks
	{1, 3, 1000, 300, -1, -1},  // cut into column blocks
	{1, 20, 4000, 32, -1, -1},  // column blocks, small k (B copied transposed when transB)
	{3, 200, 100, 300, -1, -1}, // odd batch: each problem cut in two
	{3, 7, 13, 5, -1, -1},
	{5, 16, 24, 8, -1, -1},
	{4, 9, 11, 6, 0, -1},      // broadcast A
	{1, 1, 3072, 768, -1, -1}, // one row (OpenBLAS ?gemv_), columns split over goroutines
	{12, 1, 64, 768, 0, -1},   // one row broadcast over a batch (per-head weights in a decoding step)
	{3, 1, 500, 400, -1, 0},   // one row per problem, B broadcast
	{4, 9, 11, 6, -1, 0},      // broadcast B
	{6, 33, 17, 20, 0, -1},
	{6, 33, 17, 20, -1, 0},
	{2, 130, 70, 90, -1, -1},
	{96, 16, 16, 8, -1, -1},
	{256, 64, 64, 8, -1, -1},   // toy model
	{12, 128, 128, 64, -1, -1}, // attention-like
	{12, 128, 64, 128, -1, -1},
	{8, 128, 64, 128, 0, -1},
}

type gemmFunc[T gemmFloat] func(batch, m, n, k int, a []T, aBatchStride int, transA bool, b []T, bBatchStride int, transB bool, c []T)

func gemmRandSlice[T gemmFloat](rng *rand.Rand, n int) []T {
	s := make([]T, n)
	for i := range s {
		s[i] = T(rng.Float64()*2 - 1)
	}
	return s
}

// checkGemm runs gemm on one shape/transposition and compares with the naive reference.
func checkGemm[T gemmFloat](t *testing.T, gemm gemmFunc[T], s gemmShape, transA, transB bool, tol float64) {
	t.Helper()
	rng := rand.New(rand.NewPCG(uint64(s.m*1000003+s.n*1009+s.k), uint64(s.batch)))
	aStride, bStride := s.aStride, s.bStride
	if aStride < 0 {
		aStride = s.m * s.k
	}
	if bStride < 0 {
		bStride = s.k * s.n
	}
	a := gemmRandSlice[T](rng, (s.batch-1)*aStride+s.m*s.k)
	b := gemmRandSlice[T](rng, (s.batch-1)*bStride+s.k*s.n)
	c := make([]T, s.batch*s.m*s.n)
	for i := range c {
		c[i] = T(math.NaN()) // Gemm must overwrite, not accumulate.
	}
	gemm(s.batch, s.m, s.n, s.k, a, aStride, transA, b, bStride, transB, c)

	for bi := range s.batch {
		ab, bb, cb := a[bi*aStride:], b[bi*bStride:], c[bi*s.m*s.n:]
		for i := range s.m {
			for j := range s.n {
				var ref, scale float64
				for p := range s.k {
					var av, bv float64
					if transA {
						av = float64(ab[p*s.m+i])
					} else {
						av = float64(ab[i*s.k+p])
					}
					if transB {
						bv = float64(bb[j*s.k+p])
					} else {
						bv = float64(bb[p*s.n+j])
					}
					ref += av * bv
					scale += math.Abs(av * bv)
				}
				got := float64(cb[i*s.n+j])
				if diff := math.Abs(got - ref); !(diff <= tol*math.Sqrt(float64(s.k))*scale+1e-30) {
					// Errorf+return rather than Fatalf: also called from other goroutines.
					t.Errorf("%v transA=%v transB=%v: C[%d][%d,%d] = %g, want %g (diff %g, scale %g)",
						s, transA, transB, bi, i, j, got, ref, diff, scale)
					return
				}
			}
		}
	}
}

func runGemmShapes[T gemmFloat](t *testing.T, gemm gemmFunc[T], tol float64) {
	for _, s := range gemmTestShapes {
		for _, tr := range [][2]bool{{false, false}, {true, false}, {false, true}, {true, true}} {
			checkGemm(t, gemm, s, tr[0], tr[1], tol)
			if t.Failed() {
				t.FailNow()
			}
		}
	}
}

// withGoGemm runs f with the Go kernels forced.
func withGoGemm(f func()) {
	forceGoGemm = true
	defer func() { forceGoGemm = false }()
	f()
}

func gemmRequireBLAS(t *testing.T) {
	if gemmBLAS() == nil {
		t.Skip("OpenBLAS not available (or INTERP_NO_BLAS set)")
	}
}

func TestGemmGo(t *testing.T) {
	t.Logf("Go kernel: %s", "go"+gemmGoKernelSuffix())
	withGoGemm(func() { runGemmShapes(t, Gemm[float32], 1e-5) })
}

func TestGemmF64Go(t *testing.T) {
	withGoGemm(func() { runGemmShapes(t, Gemm[float64], 1e-13) })
}

func TestGemmBLAS(t *testing.T) {
	gemmRequireBLAS(t)
	t.Logf("GemmImpl: %s", GemmImpl())
	runGemmShapes(t, Gemm[float32], 1e-5)
}

func TestGemmF64BLAS(t *testing.T) {
	gemmRequireBLAS(t)
	runGemmShapes(t, Gemm[float64], 1e-13)
}

// TestGemmBLASThreadModes checks both OpenBLAS threading modes, and that the
// OpenBLAS thread count is back to 1 afterwards.
func TestGemmBLASThreadModes(t *testing.T) {
	gemmRequireBLAS(t)
	defer func() { blasThreadsMode = blasAutoThreads }()
	for _, mode := range []blasThreading{blasOpenBLASThreads, blasGoThreads, blasAutoThreads} {
		blasThreadsMode = mode
		for _, s := range []gemmShape{{5, 7, 13, 5, -1, -1}, {4, 9, 11, 6, 0, -1}, {4, 9, 11, 6, -1, 0},
			{12, 128, 128, 64, -1, -1}, {3, 200, 100, 300, -1, -1}, {1, 513, 257, 129, -1, -1}, {1, 3, 1000, 300, -1, -1}} {
			checkGemm(t, Gemm[float32], s, false, true, 1e-5)
			checkGemm(t, Gemm[float64], s, true, false, 1e-13)
		}
	}
	if n := blasNumThreads(); n != 1 {
		t.Fatalf("openblas_get_num_threads() = %d, want 1", n)
	}
}

// TestGemmConcurrent calls Gemm from several goroutines at once.
func TestGemmConcurrent(t *testing.T) {
	done := make(chan struct{})
	for g := range 4 {
		go func() {
			defer func() { done <- struct{}{} }()
			s := gemmShape{[]int{1, 24, 3, 50}[g], 64, 48, 40, -1, -1}
			checkGemm(t, Gemm[float32], s, g%2 == 0, g/2 == 0, 1e-5)
		}()
	}
	for range 4 {
		<-done
	}
}

func TestGemmEdgeCases(t *testing.T) {
	for _, useGo := range []bool{false, true} {
		forceGoGemm = useGo
		// k == 0: C must be zeroed.
		c := []float32{1, 2, 3, 4, 5, 6}
		Gemm(1, 2, 3, 0, nil, 0, false, nil, 0, false, c)
		for i, v := range c {
			if v != 0 {
				t.Fatalf("useGo=%v k=0: c[%d]=%g, want 0", useGo, i, v)
			}
		}
		// Empty problems are no-ops.
		Gemm[float32](0, 2, 3, 4, nil, 0, false, nil, 0, false, nil)
		Gemm[float64](1, 0, 3, 4, nil, 0, false, nil, 0, false, nil)
		// Longer slices than needed are fine; elements past batch*m*n are untouched.
		a := []float32{1, 2, 3, 4, 99}
		b := []float32{5, 6, 7, 8, 99}
		c = []float32{0, 0, 0, 0, -1}
		Gemm(1, 2, 2, 2, a, 0, false, b, 0, false, c)
		if want := []float32{19, 22, 43, 50, -1}; fmt.Sprint(c) != fmt.Sprint(want) {
			t.Fatalf("useGo=%v: c=%v, want %v", useGo, c, want)
		}
		// Too-short slices panic.
		for _, f := range []func(){
			func() { Gemm(1, 2, 2, 2, a[:3], 0, false, b, 0, false, c) },
			func() { Gemm(1, 2, 2, 2, a, 0, false, b[:3], 0, false, c) },
			func() { Gemm(1, 2, 2, 2, a, 0, false, b, 0, false, c[:3]) },
			func() { Gemm(2, 2, 2, 2, a, 4, false, b, 0, false, c) },
			func() { Gemm(-1, 2, 2, 2, a, 0, false, b, 0, false, c) },
		} {
			func() {
				defer func() {
					if recover() == nil {
						t.Errorf("useGo=%v: expected a panic", useGo)
					}
				}()
				f()
			}()
		}
	}
	forceGoGemm = false
}

// TestGemmNoBLASEnv re-runs the test binary with INTERP_NO_BLAS=1 and checks
// that Gemm then reports (and uses) the Go implementation.
func TestGemmNoBLASEnv(t *testing.T) {
	if os.Getenv("GEMM_TEST_CHILD") == "1" {
		if impl := GemmImpl(); !strings.HasPrefix(impl, "go") {
			t.Fatalf("INTERP_NO_BLAS=1: GemmImpl() = %q, want go...", impl)
		}
		checkGemm(t, Gemm[float32], gemmShape{2, 31, 47, 61, -1, -1}, true, false, 1e-5)
		return
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestGemmNoBLASEnv$", "-test.v")
	cmd.Env = append(os.Environ(), "GEMM_TEST_CHILD=1", "INTERP_NO_BLAS=1")
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "PASS") {
		t.Fatalf("child failed: %v\n%s", err, out)
	}
}

func TestGemmImpl(t *testing.T) {
	impl := GemmImpl()
	t.Logf("GemmImpl() = %q", impl)
	if !strings.HasPrefix(impl, "openblas (") && !strings.HasPrefix(impl, "go") {
		t.Fatalf("unexpected GemmImpl() = %q", impl)
	}
}
