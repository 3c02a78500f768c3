package fastcpu

// Batched float32/float64 matrix multiplication (GEMM).
//
// Gemm uses OpenBLAS when it can be loaded at runtime (dlopen through purego,
// see gemm_blas.go: no OpenBLAS headers or link-time dependency), and falls back to
// a pure-Go cache-blocked kernel otherwise (gemm_go.go; an AVX-512/AVX2 kernel
// written with simd/archsimd is used instead of the scalar one when the package
// is built with GOEXPERIMENT=simd, see gemm_simd_amd64.go).
//
// Environment variables:
//
//	INTERP_NO_BLAS=1   never load OpenBLAS, always use the Go kernels.
//	INTERP_BLAS_LIB=p  dlopen p instead of libopenblas.so.0 / libopenblas.so.
//
// Threading policy (measured on the 2-core AMD EPYC Zen 4 dev machine with
// OpenBLAS 0.3.21; tables in gemm_bench_test.go / TestGemmPerfTable):
//
//   - A call is planned as tasks (newGemmPlan): the problems of the batch, or,
//     when the batch is smaller than the number of goroutines (GOMAXPROCS) or
//     does not spread evenly over them, row (or column) blocks of each C.
//     Work under ~2 MFLOP per goroutine is not split at all (waking a core
//     costs several µs, more in a VM).
//   - Batches that spread evenly (the batch-parallel case: attention,
//     per-head products, ...): OpenBLAS single-threaded, tasks on goroutines.
//     Much faster than looping over multi-threaded OpenBLAS calls: attention
//     96×(128×64×128) ~165 vs ~105 GFLOP/s, 256×(64×8×64) ~125 vs ~80.
//   - Problems that would be cut into blocks (typically one big GEMM): one
//     OpenBLAS call per problem, threaded by OpenBLAS itself (it shares packed
//     panels between its threads): ~5% faster on 1024×768×3072 (~205 vs ~195
//     GFLOP/s), 20-40% on 64..128-row problems. Thin ones (m or n < 16, or
//     k < 128) are still cut into blocks on goroutines, which measured faster.
//   - OpenBLAS's thread pool is started lazily (OPENBLAS_NUM_THREADS=1 at
//     dlopen) and its threads spin only 2^20 cycles (~0.4 ms) after a call
//     (OPENBLAS_THREAD_TIMEOUT=20 unless set by the user) instead of the
//     default 2^28 (~0.1 s), during which they steal the CPU from the Go code
//     running between two GEMMs (measured: GoMLX-style Go work after a GEMM
//     ran 2x slower with the default).
//   - In the goroutine mode, for A·Bᵀ with small k (<= 32) B is first copied
//     transposed: OpenBLAS's small-matrix path is up to 2x slower for A·Bᵀ
//     than for A·B (256×(64×8×64) with transB: 61 -> 86 GFLOP/s).
//   - One-row products (m = 1: a decoding step, one token per sequence) call ?gemv_ instead of
//     ?gemm_, columns split over goroutines: gemm packs all of B into panels first, doubling the
//     memory traffic of a product that only streams B (768×3072: 0.39 -> 0.23 ms; a GPT-2-small
//     decoding step 58 -> 28 ms).
//   - Problems with m·n·k <= 384 use the Go kernel (gemmDirect), cheaper than
//     the call overhead plus OpenBLAS's own.
//   - Without OpenBLAS the Go kernels use the same task plan.

import (
	"fmt"
	"os"
	"sync"
)

// Gemm computes, for each of `batch` independent problems, C[i] = A[i] · B[i]
// (C overwritten, not accumulated), all row-major and contiguous: A[i] is m×k
// (or k×m when transA: then A[i] is stored as its transpose), B[i] is k×n (or
// n×k when transB). a, b, c hold batch*m*k, batch*k*n, batch*m*n elements.
// aBatchStride/bBatchStride may be 0 to broadcast one A or B across the batch.
// T is float32 (sgemm) or float64 (dgemm).
//
// C[i] starts at c[i*m*n]. Gemm is safe for concurrent use.
func Gemm[T gemmFloat](batch, m, n, k int, a []T, aBatchStride int, transA bool, b []T, bBatchStride int, transB bool, c []T) {
	if !gemmCheck(batch, m, n, k, len(a), aBatchStride, len(b), bBatchStride, len(c)) {
		return
	}
	if k == 0 {
		clear(c[:batch*m*n])
		return
	}
	if blas := gemmBLAS(); blas != nil && !gemmGoForTiny(batch, m, n, k) {
		blasGemmBatch(blas, batch, m, n, k, a, aBatchStride, transA, b, bBatchStride, transB, c)
		return
	}
	gemmGo(batch, m, n, k, a, aBatchStride, transA, b, bBatchStride, transB, c)
}

// GemmImpl reports which implementation Gemm uses: "openblas (/path/libopenblas.so.0)" or "go"
// (or "go+avx512"/"go+avx2" when built with GOEXPERIMENT=simd on a CPU that supports it).
func GemmImpl() string {
	if blas := gemmBLAS(); blas != nil {
		return "openblas (" + blas.path + ")"
	}
	return "go" + gemmGoKernelSuffix()
}

// gemmCheck validates the arguments; it returns false if there is nothing to do.
func gemmCheck(batch, m, n, k, la, aStride, lb, bStride, lc int) bool {
	if batch < 0 || m < 0 || n < 0 || k < 0 || aStride < 0 || bStride < 0 {
		panic(fmt.Sprintf("fastcpu.Gemm: negative dimension or stride: batch=%d m=%d n=%d k=%d aBatchStride=%d bBatchStride=%d",
			batch, m, n, k, aStride, bStride))
	}
	if batch == 0 || m == 0 || n == 0 {
		return false
	}
	if lc < batch*m*n {
		panic(fmt.Sprintf("fastcpu.Gemm: len(c)=%d < batch*m*n=%d", lc, batch*m*n))
	}
	if k == 0 {
		return true
	}
	if need := (batch-1)*aStride + m*k; la < need {
		panic(fmt.Sprintf("fastcpu.Gemm: len(a)=%d < %d (batch=%d, aBatchStride=%d, m=%d, k=%d)", la, need, batch, aStride, m, k))
	}
	if need := (batch-1)*bStride + k*n; lb < need {
		panic(fmt.Sprintf("fastcpu.Gemm: len(b)=%d < %d (batch=%d, bBatchStride=%d, k=%d, n=%d)", lb, need, batch, bStride, k, n))
	}
	return true
}

// gemmGoForTiny reports whether the problem is small enough that the Go
// kernel (gemmDirect) beats OpenBLAS plus the fixed cost of a purego call
// (measured crossover: between 6×6×6 and 8×8×8).
func gemmGoForTiny(batch, m, n, k int) bool {
	return !forceBLASSmall && m*n*k <= gemmDirectMaxMNK
}

var (
	blasOnce sync.Once
	blasLib  *blasLibrary // nil if OpenBLAS is not available or disabled.

	// forceGoGemm is a test hook: when true, Gemm uses the Go kernels.
	forceGoGemm bool
	// forceBLASSmall is a benchmark hook: never use the Go kernel for tiny problems.
	forceBLASSmall bool
)

func gemmBLAS() *blasLibrary {
	if forceGoGemm {
		return nil
	}
	blasOnce.Do(func() {
		if v := os.Getenv("INTERP_NO_BLAS"); v != "" && v != "0" {
			return
		}
		blasLib = blasLoad()
	})
	return blasLib
}

// blasThreadsMode selects how OpenBLAS calls are parallelised.
type blasThreading int

const (
	// blasAutoThreads (default): blasGoThreads, except for problems that would
	// be cut into parts (batch < cores, or not spread evenly), which use
	// blasOpenBLASThreads. See blasUseOpenBLASThreads.
	blasAutoThreads blasThreading = iota
	// blasGoThreads: OpenBLAS runs single-threaded; each Gemm call is cut into
	// tasks (problems of the batch, or row/column blocks of C) run on
	// GOMAXPROCS goroutines.
	blasGoThreads
	// blasOpenBLASThreads: one OpenBLAS call per problem, multi-threaded by
	// OpenBLAS's own thread pool.
	blasOpenBLASThreads
)

var blasThreadsMode = blasAutoThreads
