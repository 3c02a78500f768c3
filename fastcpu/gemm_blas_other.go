//go:build !((linux || darwin) && (amd64 || arm64))

package fastcpu

// No purego dlopen on this platform: Gemm always uses the Go kernels.

type blasLibrary struct{ path string }

func blasLoad() *blasLibrary { return nil }

func (lib *blasLibrary) sgemmBatch(batch, m, n, k int, a []float32, aStride int, transA bool, b []float32, bStride int, transB bool, c []float32) {
	panic("unreachable")
}

func (lib *blasLibrary) dgemmBatch(batch, m, n, k int, a []float64, aStride int, transA bool, b []float64, bStride int, transB bool, c []float64) {
	panic("unreachable")
}

func blasNumThreads() int { return 0 }

func blasUseOpenBLASThreads(p gemmPlan, m, n, k int) bool { return false }
