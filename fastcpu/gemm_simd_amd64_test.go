//go:build goexperiment.simd && amd64

package fastcpu

import (
	"testing"

	"simd/archsimd"
)

// TestGemmGoAVX2 runs the shape table through the AVX2 kernels (the default
// kernels on AVX-512 machines are the AVX-512 ones).
func TestGemmGoAVX2(t *testing.T) {
	if !archsimd.X86.AVX2() || !archsimd.X86.FMA() {
		t.Skip("no AVX2+FMA")
	}
	k32, k64, name := gemmGoKernel32, gemmGoKernel64, gemmGoKernelName
	defer func() { gemmGoKernel32, gemmGoKernel64, gemmGoKernelName = k32, k64, name }()
	gemmUseAVX2Kernels()
	withGoGemm(func() {
		runGemmShapes(t, Gemm[float32], 1e-5)
		runGemmShapes(t, Gemm[float64], 1e-13)
	})
}
