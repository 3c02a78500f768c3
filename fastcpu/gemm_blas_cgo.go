//go:build cgo && (linux || darwin) && (amd64 || arm64)

package fastcpu

/*
#include <stdint.h>

// Calls a Fortran-interface ?gemm_ whose address was found with dlsym (by
// purego): no BLAS header or library is needed at build time.
typedef void (*interp_gemm_fn)(const char *transa, const char *transb,
	const int *m, const int *n, const int *k, const void *alpha,
	const void *a, const int *lda, const void *b, const int *ldb,
	const void *beta, void *c, const int *ldc);

// interp_blas_args mirrors the Go blasArgs struct.
typedef struct {
	char transa[4], transb[4];
	int m, n, k, lda, ldb, ldc;
	char alpha[8], beta[8];
} interp_blas_args;

static void interp_blas_call(uintptr_t fn, const interp_blas_args *p, const void *a, const void *b, void *c) {
	((interp_gemm_fn)fn)(p->transa, p->transb, &p->m, &p->n, &p->k, p->alpha,
		a, &p->lda, b, &p->ldb, p->beta, c, &p->ldc);
}
*/
import "C"

import "unsafe"

// blasCall calls sgemm_/dgemm_ through cgo (~0.05 µs per call, vs ~0.25 µs
// through purego.SyscallN).
func blasCall(fn uintptr, args *blasArgs, ptrA, ptrB, ptrC unsafe.Pointer) {
	// Note: ptrB is the column-major call's "A" and ptrA its "B" (see newBlasArgs).
	C.interp_blas_call(C.uintptr_t(fn), (*C.interp_blas_args)(unsafe.Pointer(args)), ptrB, ptrA, ptrC)
}

// The C struct must have the layout of blasArgs (compile error otherwise).
var (
	_ = [1]int{}[unsafe.Sizeof(blasArgs{})-C.sizeof_interp_blas_args]
	_ = [1]int{}[C.sizeof_interp_blas_args-unsafe.Sizeof(blasArgs{})]
)
