//go:build !((linux || darwin) && (amd64 || arm64))

package fastcpu

// No purego dlopen on this platform: Gemm always uses the Go kernels.

type blasLibrary struct{ path string }

func blasLoad() *blasLibrary { return nil }

func blasGemmBatch[T gemmFloat](lib *blasLibrary, batch, m, n, k int, a []T, aStride int, transA bool, b []T, bStride int, transB bool, c []T) {
	panic("unreachable")
}

func blasNumThreads() int { return 0 }

func blasUseOpenBLASThreads(p gemmPlan, m, n, k int) bool { return false }
