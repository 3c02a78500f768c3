//go:build goexperiment.simd && amd64

package fastcpu

// SIMD micro-kernels written with simd/archsimd (GOEXPERIMENT=simd, Go 1.26).
// Only built with GOEXPERIMENT=simd; a plain build uses the scalar kernels.
//
// Tile shape: mr rows × one vector of columns. Per k step the kernel loads one
// vector of the packed B panel and, for each row, broadcasts one A value and
// does one FMA into that row's accumulator. The broadcast register dies in the
// FMA (Go only exposes the 213 FMA form, whose result overwrites the first
// multiplicand), so no copies are needed; 12 accumulators + B + broadcasts fit
// in the 15 vector registers Go's register allocator uses (X0-X14: in Go 1.26
// X16-X31 are not allocatable even with AVX-512).
//
// The `_ = g[i]` bounds checks are deliberate: each one ends a basic block.
// Go's scheduler otherwise issues every load and broadcast of the loop body
// before the FMAs (values only used by loop phis are scheduled last), which
// needs 24 live vectors and spills. With the checks each block holds one
// broadcast+FMA. Measured: 2x faster than without (Zen 4).

import "simd/archsimd"

// gemmGuard is only used for the block-splitting bounds checks; its length is
// not known to the compiler.
var gemmGuard = make([]int, 16)

func init() {
	switch {
	case archsimd.X86.AVX512():
		gemmGoKernel32 = &gemmKernel[float32]{name: "avx512", mr: 12, nr: 16, kc: 256, mc: 240, nc: 4096, kern: gemmKernAVX512F32}
		gemmGoKernel64 = &gemmKernel[float64]{name: "avx512", mr: 12, nr: 8, kc: 256, mc: 120, nc: 4096, kern: gemmKernAVX512F64}
		// For n <= 8 the 16-wide tile would be half padding.
		gemmGoKernel32Narrow = &gemmKernel[float32]{name: "avx2", mr: 12, nr: 8, kc: 256, mc: 240, nc: 4096, kern: gemmKernAVX2F32}
		gemmGoKernelName = "avx512"
	case archsimd.X86.AVX2() && archsimd.X86.FMA():
		gemmUseAVX2Kernels()
	}
}

// gemmUseAVX2Kernels selects the AVX2 kernels (also used by tests on AVX-512 machines).
func gemmUseAVX2Kernels() {
	gemmGoKernel32 = &gemmKernel[float32]{name: "avx2", mr: 12, nr: 8, kc: 256, mc: 240, nc: 4096, kern: gemmKernAVX2F32}
	gemmGoKernel64 = &gemmKernel[float64]{name: "scalar", mr: 2, nr: 4, kc: 256, mc: 64, nc: 2048, kern: gemmKernScalar2x4[float64]}
	gemmGoKernel32Narrow = nil
	gemmGoKernelName = "avx2"
}

// gemmKernAVX512F32 computes a 12×16 tile with 12 Float32x16 accumulators (one per row of C).
func gemmKernAVX512F32(kc int, ap, bp []float32, c []float32, ldc int, accumulate bool) {
	var c0, c1, c2, c3, c4, c5, c6, c7, c8, c9, c10, c11 archsimd.Float32x16
	g := gemmGuard
	ap = ap[:12*kc]
	bp = bp[:16*kc]
	for len(ap) >= 12 && len(bp) >= 16 {
		a := (*[12]float32)(ap)
		b := archsimd.LoadFloat32x16((*[16]float32)(bp))
		_ = g[0]
		c0 = archsimd.BroadcastFloat32x16(a[0]).MulAdd(b, c0)
		_ = g[1]
		c1 = archsimd.BroadcastFloat32x16(a[1]).MulAdd(b, c1)
		_ = g[2]
		c2 = archsimd.BroadcastFloat32x16(a[2]).MulAdd(b, c2)
		_ = g[3]
		c3 = archsimd.BroadcastFloat32x16(a[3]).MulAdd(b, c3)
		_ = g[4]
		c4 = archsimd.BroadcastFloat32x16(a[4]).MulAdd(b, c4)
		_ = g[5]
		c5 = archsimd.BroadcastFloat32x16(a[5]).MulAdd(b, c5)
		_ = g[6]
		c6 = archsimd.BroadcastFloat32x16(a[6]).MulAdd(b, c6)
		_ = g[7]
		c7 = archsimd.BroadcastFloat32x16(a[7]).MulAdd(b, c7)
		_ = g[8]
		c8 = archsimd.BroadcastFloat32x16(a[8]).MulAdd(b, c8)
		_ = g[9]
		c9 = archsimd.BroadcastFloat32x16(a[9]).MulAdd(b, c9)
		_ = g[10]
		c10 = archsimd.BroadcastFloat32x16(a[10]).MulAdd(b, c10)
		_ = g[11]
		c11 = archsimd.BroadcastFloat32x16(a[11]).MulAdd(b, c11)
		ap = ap[12:]
		bp = bp[16:]
	}
	if accumulate {
		c0 = c0.Add(archsimd.LoadFloat32x16((*[16]float32)(c[0*ldc:])))
		c1 = c1.Add(archsimd.LoadFloat32x16((*[16]float32)(c[1*ldc:])))
		c2 = c2.Add(archsimd.LoadFloat32x16((*[16]float32)(c[2*ldc:])))
		c3 = c3.Add(archsimd.LoadFloat32x16((*[16]float32)(c[3*ldc:])))
		c4 = c4.Add(archsimd.LoadFloat32x16((*[16]float32)(c[4*ldc:])))
		c5 = c5.Add(archsimd.LoadFloat32x16((*[16]float32)(c[5*ldc:])))
		c6 = c6.Add(archsimd.LoadFloat32x16((*[16]float32)(c[6*ldc:])))
		c7 = c7.Add(archsimd.LoadFloat32x16((*[16]float32)(c[7*ldc:])))
		c8 = c8.Add(archsimd.LoadFloat32x16((*[16]float32)(c[8*ldc:])))
		c9 = c9.Add(archsimd.LoadFloat32x16((*[16]float32)(c[9*ldc:])))
		c10 = c10.Add(archsimd.LoadFloat32x16((*[16]float32)(c[10*ldc:])))
		c11 = c11.Add(archsimd.LoadFloat32x16((*[16]float32)(c[11*ldc:])))
	}
	c0.Store((*[16]float32)(c[0*ldc:]))
	c1.Store((*[16]float32)(c[1*ldc:]))
	c2.Store((*[16]float32)(c[2*ldc:]))
	c3.Store((*[16]float32)(c[3*ldc:]))
	c4.Store((*[16]float32)(c[4*ldc:]))
	c5.Store((*[16]float32)(c[5*ldc:]))
	c6.Store((*[16]float32)(c[6*ldc:]))
	c7.Store((*[16]float32)(c[7*ldc:]))
	c8.Store((*[16]float32)(c[8*ldc:]))
	c9.Store((*[16]float32)(c[9*ldc:]))
	c10.Store((*[16]float32)(c[10*ldc:]))
	c11.Store((*[16]float32)(c[11*ldc:]))
}

// gemmKernAVX2F32 computes a 12×8 tile with 12 Float32x8 accumulators (one per row of C).
func gemmKernAVX2F32(kc int, ap, bp []float32, c []float32, ldc int, accumulate bool) {
	var c0, c1, c2, c3, c4, c5, c6, c7, c8, c9, c10, c11 archsimd.Float32x8
	g := gemmGuard
	ap = ap[:12*kc]
	bp = bp[:8*kc]
	for len(ap) >= 12 && len(bp) >= 8 {
		a := (*[12]float32)(ap)
		b := archsimd.LoadFloat32x8((*[8]float32)(bp))
		_ = g[0]
		c0 = archsimd.BroadcastFloat32x8(a[0]).MulAdd(b, c0)
		_ = g[1]
		c1 = archsimd.BroadcastFloat32x8(a[1]).MulAdd(b, c1)
		_ = g[2]
		c2 = archsimd.BroadcastFloat32x8(a[2]).MulAdd(b, c2)
		_ = g[3]
		c3 = archsimd.BroadcastFloat32x8(a[3]).MulAdd(b, c3)
		_ = g[4]
		c4 = archsimd.BroadcastFloat32x8(a[4]).MulAdd(b, c4)
		_ = g[5]
		c5 = archsimd.BroadcastFloat32x8(a[5]).MulAdd(b, c5)
		_ = g[6]
		c6 = archsimd.BroadcastFloat32x8(a[6]).MulAdd(b, c6)
		_ = g[7]
		c7 = archsimd.BroadcastFloat32x8(a[7]).MulAdd(b, c7)
		_ = g[8]
		c8 = archsimd.BroadcastFloat32x8(a[8]).MulAdd(b, c8)
		_ = g[9]
		c9 = archsimd.BroadcastFloat32x8(a[9]).MulAdd(b, c9)
		_ = g[10]
		c10 = archsimd.BroadcastFloat32x8(a[10]).MulAdd(b, c10)
		_ = g[11]
		c11 = archsimd.BroadcastFloat32x8(a[11]).MulAdd(b, c11)
		ap = ap[12:]
		bp = bp[8:]
	}
	if accumulate {
		c0 = c0.Add(archsimd.LoadFloat32x8((*[8]float32)(c[0*ldc:])))
		c1 = c1.Add(archsimd.LoadFloat32x8((*[8]float32)(c[1*ldc:])))
		c2 = c2.Add(archsimd.LoadFloat32x8((*[8]float32)(c[2*ldc:])))
		c3 = c3.Add(archsimd.LoadFloat32x8((*[8]float32)(c[3*ldc:])))
		c4 = c4.Add(archsimd.LoadFloat32x8((*[8]float32)(c[4*ldc:])))
		c5 = c5.Add(archsimd.LoadFloat32x8((*[8]float32)(c[5*ldc:])))
		c6 = c6.Add(archsimd.LoadFloat32x8((*[8]float32)(c[6*ldc:])))
		c7 = c7.Add(archsimd.LoadFloat32x8((*[8]float32)(c[7*ldc:])))
		c8 = c8.Add(archsimd.LoadFloat32x8((*[8]float32)(c[8*ldc:])))
		c9 = c9.Add(archsimd.LoadFloat32x8((*[8]float32)(c[9*ldc:])))
		c10 = c10.Add(archsimd.LoadFloat32x8((*[8]float32)(c[10*ldc:])))
		c11 = c11.Add(archsimd.LoadFloat32x8((*[8]float32)(c[11*ldc:])))
	}
	c0.Store((*[8]float32)(c[0*ldc:]))
	c1.Store((*[8]float32)(c[1*ldc:]))
	c2.Store((*[8]float32)(c[2*ldc:]))
	c3.Store((*[8]float32)(c[3*ldc:]))
	c4.Store((*[8]float32)(c[4*ldc:]))
	c5.Store((*[8]float32)(c[5*ldc:]))
	c6.Store((*[8]float32)(c[6*ldc:]))
	c7.Store((*[8]float32)(c[7*ldc:]))
	c8.Store((*[8]float32)(c[8*ldc:]))
	c9.Store((*[8]float32)(c[9*ldc:]))
	c10.Store((*[8]float32)(c[10*ldc:]))
	c11.Store((*[8]float32)(c[11*ldc:]))
}

// gemmKernAVX512F64 computes a 12×8 tile with 12 Float64x8 accumulators (one per row of C).
func gemmKernAVX512F64(kc int, ap, bp []float64, c []float64, ldc int, accumulate bool) {
	var c0, c1, c2, c3, c4, c5, c6, c7, c8, c9, c10, c11 archsimd.Float64x8
	g := gemmGuard
	ap = ap[:12*kc]
	bp = bp[:8*kc]
	for len(ap) >= 12 && len(bp) >= 8 {
		a := (*[12]float64)(ap)
		b := archsimd.LoadFloat64x8((*[8]float64)(bp))
		_ = g[0]
		c0 = archsimd.BroadcastFloat64x8(a[0]).MulAdd(b, c0)
		_ = g[1]
		c1 = archsimd.BroadcastFloat64x8(a[1]).MulAdd(b, c1)
		_ = g[2]
		c2 = archsimd.BroadcastFloat64x8(a[2]).MulAdd(b, c2)
		_ = g[3]
		c3 = archsimd.BroadcastFloat64x8(a[3]).MulAdd(b, c3)
		_ = g[4]
		c4 = archsimd.BroadcastFloat64x8(a[4]).MulAdd(b, c4)
		_ = g[5]
		c5 = archsimd.BroadcastFloat64x8(a[5]).MulAdd(b, c5)
		_ = g[6]
		c6 = archsimd.BroadcastFloat64x8(a[6]).MulAdd(b, c6)
		_ = g[7]
		c7 = archsimd.BroadcastFloat64x8(a[7]).MulAdd(b, c7)
		_ = g[8]
		c8 = archsimd.BroadcastFloat64x8(a[8]).MulAdd(b, c8)
		_ = g[9]
		c9 = archsimd.BroadcastFloat64x8(a[9]).MulAdd(b, c9)
		_ = g[10]
		c10 = archsimd.BroadcastFloat64x8(a[10]).MulAdd(b, c10)
		_ = g[11]
		c11 = archsimd.BroadcastFloat64x8(a[11]).MulAdd(b, c11)
		ap = ap[12:]
		bp = bp[8:]
	}
	if accumulate {
		c0 = c0.Add(archsimd.LoadFloat64x8((*[8]float64)(c[0*ldc:])))
		c1 = c1.Add(archsimd.LoadFloat64x8((*[8]float64)(c[1*ldc:])))
		c2 = c2.Add(archsimd.LoadFloat64x8((*[8]float64)(c[2*ldc:])))
		c3 = c3.Add(archsimd.LoadFloat64x8((*[8]float64)(c[3*ldc:])))
		c4 = c4.Add(archsimd.LoadFloat64x8((*[8]float64)(c[4*ldc:])))
		c5 = c5.Add(archsimd.LoadFloat64x8((*[8]float64)(c[5*ldc:])))
		c6 = c6.Add(archsimd.LoadFloat64x8((*[8]float64)(c[6*ldc:])))
		c7 = c7.Add(archsimd.LoadFloat64x8((*[8]float64)(c[7*ldc:])))
		c8 = c8.Add(archsimd.LoadFloat64x8((*[8]float64)(c[8*ldc:])))
		c9 = c9.Add(archsimd.LoadFloat64x8((*[8]float64)(c[9*ldc:])))
		c10 = c10.Add(archsimd.LoadFloat64x8((*[8]float64)(c[10*ldc:])))
		c11 = c11.Add(archsimd.LoadFloat64x8((*[8]float64)(c[11*ldc:])))
	}
	c0.Store((*[8]float64)(c[0*ldc:]))
	c1.Store((*[8]float64)(c[1*ldc:]))
	c2.Store((*[8]float64)(c[2*ldc:]))
	c3.Store((*[8]float64)(c[3*ldc:]))
	c4.Store((*[8]float64)(c[4*ldc:]))
	c5.Store((*[8]float64)(c[5*ldc:]))
	c6.Store((*[8]float64)(c[6*ldc:]))
	c7.Store((*[8]float64)(c[7*ldc:]))
	c8.Store((*[8]float64)(c[8*ldc:]))
	c9.Store((*[8]float64)(c[9*ldc:]))
	c10.Store((*[8]float64)(c[10*ldc:]))
	c11.Store((*[8]float64)(c[11*ldc:]))
}
