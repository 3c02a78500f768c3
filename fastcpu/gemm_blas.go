//go:build (linux || darwin) && (amd64 || arm64)

package fastcpu

// OpenBLAS binding, loaded at runtime with dlopen via purego: building needs
// neither OpenBLAS headers nor the library, and a binary runs (with the Go
// fallback) on machines without OpenBLAS.
//
// We call the Fortran entry points sgemm_/dgemm_ (all arguments by pointer)
// rather than cblas_sgemm: purego.SyscallN cannot pass the float alpha/beta
// arguments of cblas_sgemm in the right registers, and purego.RegisterFunc goes
// through reflection on each call. The call itself goes through a tiny cgo
// trampoline when cgo is enabled (gemm_blas_cgo.go: ~0.05 µs per call), else
// through purego.SyscallN (gemm_blas_nocgo.go: ~0.25 µs; up to ~20% slower on
// batches of tiny problems). A row-major C = op(A)·op(B) is computed as the
// column-major Cᵀ = op(B)ᵀ·op(A)ᵀ, exactly what cblas_sgemm does internally.

import (
	"os"
	"runtime"
	"sync"
	"unsafe"

	"github.com/ebitengine/purego"
)

type blasLibrary struct {
	path         string
	sgemm        uintptr // sgemm_
	dgemm        uintptr // dgemm_
	sgemv, dgemv uintptr // sgemv_, dgemv_ (0 when absent: Gemm then uses ?gemm_ for one row too)
	setThreadsFn uintptr // openblas_set_num_threads(int)
	getThreadsFn uintptr // openblas_get_num_threads() int
	maxThreads   int     // Most threads OpenBLAS may use for one call (NumCPU).

	// threadsMu guards OpenBLAS's global thread count, normally 1: calls
	// relying on that hold it for reading; calls threaded by OpenBLAS raise it
	// while holding it for writing, and restore it.
	threadsMu sync.RWMutex
}

// blasCandidates are tried in order by blasLoad.
var blasCandidates = []string{
	"libopenblas.so.0",
	"libopenblas.so",
	"/usr/lib/x86_64-linux-gnu/libopenblas.so.0",
	"/usr/lib/aarch64-linux-gnu/libopenblas.so.0",
	"libopenblas.dylib",
	"/opt/homebrew/opt/openblas/lib/libopenblas.dylib",
	"/usr/local/opt/openblas/lib/libopenblas.dylib",
}

func blasLoad() *blasLibrary {
	candidates := blasCandidates
	if p := os.Getenv("INTERP_BLAS_LIB"); p != "" {
		candidates = []string{p}
	}
	// OpenBLAS is normally called single-threaded (see the threading policy
	// in gemm.go), so it need not start its thread pool at load time, and when
	// it is used its worker threads should not busy-wait (sched_yield) for
	// 2^28 cycles (~0.1 s) after each call, stealing the CPU from the Go code
	// that runs between two GEMMs: 2^20 cycles (~0.4 ms) instead. OpenBLAS
	// reads these variables once, in its constructor; they are restored
	// afterwards. A value set by the user is left alone.
	defer blasSetEnvTemporarily("OPENBLAS_NUM_THREADS", "1")()
	defer blasSetEnvTemporarily("OPENBLAS_THREAD_TIMEOUT", "20")()
	for _, name := range candidates {
		h, err := purego.Dlopen(name, purego.RTLD_NOW|purego.RTLD_LOCAL)
		if err != nil || h == 0 {
			continue
		}
		lib := &blasLibrary{}
		lib.sgemm, _ = purego.Dlsym(h, "sgemm_")
		lib.dgemm, _ = purego.Dlsym(h, "dgemm_")
		lib.sgemv, _ = purego.Dlsym(h, "sgemv_")
		lib.dgemv, _ = purego.Dlsym(h, "dgemv_")
		lib.setThreadsFn, _ = purego.Dlsym(h, "openblas_set_num_threads")
		lib.getThreadsFn, _ = purego.Dlsym(h, "openblas_get_num_threads")
		if lib.sgemm == 0 || lib.dgemm == 0 || lib.setThreadsFn == 0 || lib.getThreadsFn == 0 {
			_ = purego.Dlclose(h)
			continue
		}
		lib.path = blasDlPath(h, lib.sgemm, name)
		lib.maxThreads = max(1, runtime.NumCPU())
		lib.setThreads(1)
		return lib
	}
	return nil
}

// blasDlPath returns the resolved path of the library that defines sym, using
// dladdr when available, else the name given to dlopen.
func blasDlPath(h, sym uintptr, name string) string {
	dladdr, err := purego.Dlsym(purego.RTLD_DEFAULT, "dladdr")
	if err != nil || dladdr == 0 {
		return name
	}
	var info struct {
		fname *byte // C string owned by the dynamic loader.
		fbase uintptr
		sname *byte
		saddr uintptr
	}
	r, _, _ := purego.SyscallN(dladdr, sym, uintptr(unsafe.Pointer(&info)))
	if r == 0 || info.fname == nil {
		return name
	}
	var buf []byte
	for p := info.fname; *p != 0 && len(buf) < 4096; p = (*byte)(unsafe.Add(unsafe.Pointer(p), 1)) {
		buf = append(buf, *p)
	}
	return string(buf)
}

// blasArgs holds the by-pointer scalar arguments of sgemm_/dgemm_. It is heap
// allocated (one per worker per Gemm call) so its address is stable during the
// C call; m and n are updated between calls for the edge tasks.
type blasArgs struct {
	transA, transB [4]byte // Fortran CHARACTER*1 ('N' or 'T'), padded.
	m, n, k        int32
	lda, ldb, ldc  int32
	alpha, beta    [8]byte // float32 or float64 bits.
}

const blasMaxInt32 = 1<<31 - 1

// newBlasArgs prepares the column-major call computing the row-major C
// (m×n, row stride n) = op(A)·op(B) for a problem of full size m×n×k:
// column-major, C is Cᵀ (n×m, ldc=n) = op(B)ᵀ (n×k) · op(A)ᵀ (k×m), and the
// row-major B buffer is, column-major, Bᵀ when !transB (ld = n) or B when
// transB (ld = k); likewise for A.
func newBlasArgs(m, n, k int, transA, transB, f64 bool) *blasArgs {
	if m > blasMaxInt32 || n > blasMaxInt32 || k > blasMaxInt32 {
		panic("fastcpu.Gemm: dimension too large for 32-bit BLAS")
	}
	args := &blasArgs{
		m: int32(n), n: int32(m), k: int32(k), ldc: int32(n),
		transA: [4]byte{'N'}, transB: [4]byte{'N'},
	}
	// "A" of the column-major call is our B.
	if transB {
		args.transA[0] = 'T'
		args.lda = int32(k)
	} else {
		args.lda = int32(n)
	}
	// "B" of the column-major call is our A.
	if transA {
		args.transB[0] = 'T'
		args.ldb = int32(m)
	} else {
		args.ldb = int32(k)
	}
	if f64 {
		*(*float64)(unsafe.Pointer(&args.alpha)) = 1
	} else {
		*(*float32)(unsafe.Pointer(&args.alpha)) = 1
	}
	return args
}

// call invokes fn (sgemm_ or dgemm_) on one (sub)problem; ptrA/B/C point at
// its first elements. blasCall is a cgo call when cgo is available
// (gemm_blas_cgo.go), else a purego.SyscallN (gemm_blas_nocgo.go).
func (lib *blasLibrary) call(fn uintptr, args *blasArgs, ptrA, ptrB, ptrC unsafe.Pointer) {
	blasCall(fn, args, ptrA, ptrB, ptrC)
}

func (lib *blasLibrary) setThreads(n int) { purego.SyscallN(lib.setThreadsFn, uintptr(n)) }

// blasGemmBatch runs Gemm on OpenBLAS: sgemm_ (or sgemv_ for one-row products) for float32,
// dgemm_ (dgemv_) for float64.
func blasGemmBatch[T gemmFloat](lib *blasLibrary, batch, m, n, k int, a []T, aStride int, transA bool, b []T, bStride int, transB bool, c []T) {
	var zero T
	_, f64 := any(zero).(float64)
	gemm, gemv := lib.sgemm, lib.sgemv
	if f64 {
		gemm, gemv = lib.dgemm, lib.dgemv
	}
	if m == 1 && gemv != 0 {
		blasGemvBatch(lib, gemv, f64, batch, n, k, a, aStride, b, bStride, transB, c)
		return
	}
	blasBatch(lib, gemm, f64, batch, m, n, k, a, aStride, transA, b, bStride, transB, c)
}

// blasGemvBatch computes one-row products C[i] (1×n) = A[i] (1×k) · op(B[i]) with ?gemv_: a
// decoding step's products are one row per sequence, and OpenBLAS's gemm packs all of B into
// panels first, which for one row doubles the memory traffic of a product that only streams B.
// A one-row A is k contiguous values whether or not it is stored transposed. The columns are
// split over goroutines as Gemm splits them (each OpenBLAS call single-threaded).
func blasGemvBatch[T float32 | float64](lib *blasLibrary, fn uintptr, f64 bool, batch, n, k int, a []T, aStride int, b []T, bStride int, transB bool, c []T) {
	defer runtime.KeepAlive(a)
	defer runtime.KeepAlive(b)
	defer runtime.KeepAlive(c)
	if n > blasMaxInt32 || k > blasMaxInt32 {
		panic("fastcpu.Gemm: dimension too large for 32-bit BLAS")
	}
	lib.threadsMu.RLock()
	defer lib.threadsMu.RUnlock()
	plan := newGemmPlan(batch, 1, n, k, 16, 16, runtime.GOMAXPROCS(0))
	type gemvArgs struct {
		trans       [4]byte
		m, n, lda   int32
		incx, incy  int32
		alpha, beta [8]byte
	}
	gemmParallel(plan, batch, 1, n, func(_ int, t gemmTask) {
		g := &gemvArgs{trans: [4]byte{'N'}, incx: 1, incy: 1}
		if f64 {
			*(*float64)(unsafe.Pointer(&g.alpha)) = 1
		} else {
			*(*float32)(unsafe.Pointer(&g.alpha)) = 1
		}
		cols := t.j1 - t.j0
		var ptrB unsafe.Pointer
		if transB { // B is n×k row-major: column-major k×n (ld k); y = Bᵀx over columns j0..j1
			g.trans[0], g.m, g.n, g.lda = 'T', int32(k), int32(cols), int32(k)
			ptrB = unsafe.Pointer(&b[t.b*bStride+t.j0*k])
		} else { // B is k×n row-major: column-major n×k (ld n); y = B x over rows j0..j1
			g.m, g.n, g.lda = int32(cols), int32(k), int32(n)
			ptrB = unsafe.Pointer(&b[t.b*bStride+t.j0])
		}
		y := c[t.b*n+t.j0 : t.b*n+t.j1]
		clear(y) // beta = 0 must not propagate a NaN left in C
		purego.SyscallN(fn, uintptr(unsafe.Pointer(&g.trans[0])), uintptr(unsafe.Pointer(&g.m)), uintptr(unsafe.Pointer(&g.n)),
			uintptr(unsafe.Pointer(&g.alpha[0])), uintptr(ptrB), uintptr(unsafe.Pointer(&g.lda)),
			uintptr(unsafe.Pointer(&a[t.b*aStride])), uintptr(unsafe.Pointer(&g.incx)),
			uintptr(unsafe.Pointer(&g.beta[0])), uintptr(unsafe.Pointer(&y[0])), uintptr(unsafe.Pointer(&g.incy)))
		runtime.KeepAlive(g)
	})
}

func blasBatch[T float32 | float64](lib *blasLibrary, fn uintptr, f64 bool, batch, m, n, k int, a []T, aStride int, transA bool, b []T, bStride int, transB bool, c []T) {
	defer runtime.KeepAlive(a)
	defer runtime.KeepAlive(b)
	defer runtime.KeepAlive(c)
	pa, pb, pc := unsafe.Pointer(unsafe.SliceData(a)), unsafe.Pointer(unsafe.SliceData(b)), unsafe.Pointer(unsafe.SliceData(c))
	size := unsafe.Sizeof(a[0])
	at := func(p unsafe.Pointer, elems int) unsafe.Pointer { return unsafe.Add(p, uintptr(elems)*size) }
	// Element offsets of row i of op(A) and of column j of op(B).
	aRow, bCol := k, 1
	if transA {
		aRow = 1
	}
	if transB {
		bCol = k
	}

	plan := newGemmPlan(batch, m, n, k, 16, 16, runtime.GOMAXPROCS(0))
	if blasUseOpenBLASThreads(plan, m, n, k) {
		// One call per problem, multi-threaded by OpenBLAS's own thread pool.
		lib.threadsMu.Lock()
		defer lib.threadsMu.Unlock()
		lib.setThreads(min(runtime.GOMAXPROCS(0), lib.maxThreads))
		defer lib.setThreads(1)
		args := newBlasArgs(m, n, k, transA, transB, f64)
		for i := range batch {
			lib.call(fn, args, at(pa, i*aStride), at(pb, i*bStride), at(pc, i*m*n))
		}
		runtime.KeepAlive(args)
		return
	}

	// OpenBLAS single-threaded, tasks spread over goroutines.
	lib.threadsMu.RLock()
	defer lib.threadsMu.RUnlock()
	// OpenBLAS's small-matrix path is up to 2x slower for A·Bᵀ than for A·B
	// (e.g. 256×(64×8×64): 46 vs 120 GFLOP/s): for small B, copy it transposed
	// first (k·n element copies against 2·m·n·k flops).
	preTransB := transB && !transA && k <= blasPreTransposeMaxK && m >= 16 && k*n <= 1<<16
	type workerState struct {
		args    *blasArgs
		bt      []T            // B transposed (k×n), when preTransB.
		btSrc   unsafe.Pointer // problem whose B is in bt (broadcast B: copied once).
		btJ0    int
		btJ1    int
		started bool
	}
	workers := make([]workerState, plan.nw)
	gemmParallel(plan, batch, m, n, func(w int, t gemmTask) {
		ws := &workers[w]
		if !ws.started {
			ws.started = true
			ws.args = newBlasArgs(m, n, k, transA, transB && !preTransB, f64)
			if preTransB {
				ws.bt = make([]T, k*n)
			}
		}
		args := ws.args
		args.m, args.n = int32(t.j1-t.j0), int32(t.i1-t.i0)
		ptrB := at(pb, t.b*bStride+t.j0*bCol)
		if preTransB {
			src := at(pb, t.b*bStride)
			if src != ws.btSrc || t.j0 != ws.btJ0 || t.j1 != ws.btJ1 {
				gemmTransposeCols(ws.bt, b[t.b*bStride:], n, k, t.j0, t.j1)
				ws.btSrc, ws.btJ0, ws.btJ1 = src, t.j0, t.j1
			}
			ptrB = unsafe.Pointer(&ws.bt[t.j0])
		}
		lib.call(fn, args, at(pa, t.b*aStride+t.i0*aRow), ptrB, at(pc, t.b*m*n+t.i0*n+t.j0))
		runtime.KeepAlive(ws.args)
		runtime.KeepAlive(ws.bt)
	})
}

// Largest k for which a transposed B is copied before small OpenBLAS calls.
const blasPreTransposeMaxK = 32

// gemmTransposeCols writes columns [j0,j1) of op(B) = Bᵀ, where src holds B as
// n×k row-major, into dst as k×n row-major.
func gemmTransposeCols[T gemmFloat](dst, src []T, n, k, j0, j1 int) {
	for j := j0; j < j1; j++ {
		row := src[j*k : j*k+k]
		for p, v := range row {
			dst[p*n+j] = v
		}
	}
}

// blasUseOpenBLASThreads decides, for a call planned as p, whether to let
// OpenBLAS multi-thread each problem itself instead of running tasks on
// goroutines (see the policy in gemm.go).
func blasUseOpenBLASThreads(p gemmPlan, m, n, k int) bool {
	switch blasThreadsMode {
	case blasGoThreads:
		return false
	case blasOpenBLASThreads:
		return true
	}
	// blasAutoThreads: problems that would be cut into parts (a batch too
	// small to spread evenly over the cores) are better threaded by OpenBLAS,
	// which shares its packed panels between threads, unless they are thin.
	return p.nw > 1 && p.s > 1 && m >= 16 && n >= 16 && k >= 128
}

// blasNumThreads returns openblas_get_num_threads(), or 0 if OpenBLAS is not loaded.
func blasNumThreads() int {
	lib := gemmBLAS()
	if lib == nil {
		return 0
	}
	n, _, _ := purego.SyscallN(lib.getThreadsFn)
	return int(int32(n))
}

// blasSetEnvTemporarily sets an environment variable (unless the user already set
// it) and returns a function restoring the previous state.
func blasSetEnvTemporarily(key, value string) (restore func()) {
	if _, ok := os.LookupEnv(key); ok {
		return func() {}
	}
	_ = os.Setenv(key, value)
	return func() { _ = os.Unsetenv(key) }
}
