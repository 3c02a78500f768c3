//go:build !cgo && (linux || darwin) && (amd64 || arm64)

package fastcpu

import (
	"unsafe"

	"github.com/ebitengine/purego"
)

// blasCall calls sgemm_/dgemm_ through purego (~0.25 µs per call).
func blasCall(fn uintptr, args *blasArgs, ptrA, ptrB, ptrC unsafe.Pointer) {
	purego.SyscallN(fn,
		uintptr(unsafe.Pointer(&args.transA[0])), uintptr(unsafe.Pointer(&args.transB[0])),
		uintptr(unsafe.Pointer(&args.m)), uintptr(unsafe.Pointer(&args.n)), uintptr(unsafe.Pointer(&args.k)),
		uintptr(unsafe.Pointer(&args.alpha[0])),
		uintptr(ptrB), uintptr(unsafe.Pointer(&args.lda)),
		uintptr(ptrA), uintptr(unsafe.Pointer(&args.ldb)),
		uintptr(unsafe.Pointer(&args.beta[0])),
		uintptr(ptrC), uintptr(unsafe.Pointer(&args.ldc)),
	)
}
