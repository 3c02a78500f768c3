package fastcpu

// Scalar (portable) micro-kernels, used by a plain build (no GOEXPERIMENT=simd)
// when OpenBLAS is not available. Go compiles each multiply-add to a
// MULSS+ADDSS pair (no FMA contraction at the default GOAMD64=v1) and does
// not vectorise, so this is at best ~12 GFLOP/s per core on Zen 4.

var (
	gemmGoKernel32 = &gemmKernel[float32]{name: "scalar", mr: 2, nr: 4, kc: 256, mc: 128, nc: 2048, kern: gemmKernScalar2x4[float32]}
	gemmGoKernel64 = &gemmKernel[float64]{name: "scalar", mr: 2, nr: 4, kc: 256, mc: 64, nc: 2048, kern: gemmKernScalar2x4[float64]}

	// gemmGoKernel32Narrow, if set, is used instead of gemmGoKernel32 when n <= its nr.
	gemmGoKernel32Narrow *gemmKernel[float32]

	// gemmGoKernelName names the SIMD kernels when they are in use.
	gemmGoKernelName string
)

func gemmGoKernelSuffix() string {
	if gemmGoKernelName == "" {
		return ""
	}
	return "+" + gemmGoKernelName
}

func gemmGoKernel[T gemmFloat](n int) *gemmKernel[T] {
	var zero T
	if _, ok := any(zero).(float32); ok {
		if nk := gemmGoKernel32Narrow; nk != nil && n <= nk.nr {
			return any(nk).(*gemmKernel[T])
		}
		return any(gemmGoKernel32).(*gemmKernel[T])
	}
	return any(gemmGoKernel64).(*gemmKernel[T])
}

// gemmKernScalar2x4 computes a 2×4 tile. The k loop is unrolled 8 times through
// array-pointer conversions (one length check per 8 steps). A 2×4 tile is the
// largest that fits Go's 15 X registers (8 accumulators, 2 A values, B value,
// product): larger tiles, or no unrolling, make Go's scheduler hoist all the
// multiplications of the loop body above the additions and spill (measured:
// 4×4 tile 3.8 GFLOP/s, this one 12 GFLOP/s per core, about what gcc -O2
// makes of the same scalar loop).
func gemmKernScalar2x4[T gemmFloat](kc int, ap, bp []T, c []T, ldc int, accumulate bool) {
	var c00, c01, c02, c03, c10, c11, c12, c13 T
	ap = ap[:2*kc]
	bp = bp[:4*kc]
	for len(ap) >= 16 && len(bp) >= 32 {
		a := (*[16]T)(ap)
		b := (*[32]T)(bp)
		c00 += a[0] * b[0]
		c10 += a[1] * b[0]
		c01 += a[0] * b[1]
		c11 += a[1] * b[1]
		c02 += a[0] * b[2]
		c12 += a[1] * b[2]
		c03 += a[0] * b[3]
		c13 += a[1] * b[3]
		c00 += a[2] * b[4]
		c10 += a[3] * b[4]
		c01 += a[2] * b[5]
		c11 += a[3] * b[5]
		c02 += a[2] * b[6]
		c12 += a[3] * b[6]
		c03 += a[2] * b[7]
		c13 += a[3] * b[7]
		c00 += a[4] * b[8]
		c10 += a[5] * b[8]
		c01 += a[4] * b[9]
		c11 += a[5] * b[9]
		c02 += a[4] * b[10]
		c12 += a[5] * b[10]
		c03 += a[4] * b[11]
		c13 += a[5] * b[11]
		c00 += a[6] * b[12]
		c10 += a[7] * b[12]
		c01 += a[6] * b[13]
		c11 += a[7] * b[13]
		c02 += a[6] * b[14]
		c12 += a[7] * b[14]
		c03 += a[6] * b[15]
		c13 += a[7] * b[15]
		c00 += a[8] * b[16]
		c10 += a[9] * b[16]
		c01 += a[8] * b[17]
		c11 += a[9] * b[17]
		c02 += a[8] * b[18]
		c12 += a[9] * b[18]
		c03 += a[8] * b[19]
		c13 += a[9] * b[19]
		c00 += a[10] * b[20]
		c10 += a[11] * b[20]
		c01 += a[10] * b[21]
		c11 += a[11] * b[21]
		c02 += a[10] * b[22]
		c12 += a[11] * b[22]
		c03 += a[10] * b[23]
		c13 += a[11] * b[23]
		c00 += a[12] * b[24]
		c10 += a[13] * b[24]
		c01 += a[12] * b[25]
		c11 += a[13] * b[25]
		c02 += a[12] * b[26]
		c12 += a[13] * b[26]
		c03 += a[12] * b[27]
		c13 += a[13] * b[27]
		c00 += a[14] * b[28]
		c10 += a[15] * b[28]
		c01 += a[14] * b[29]
		c11 += a[15] * b[29]
		c02 += a[14] * b[30]
		c12 += a[15] * b[30]
		c03 += a[14] * b[31]
		c13 += a[15] * b[31]
		ap = ap[16:]
		bp = bp[32:]
	}
	for len(ap) >= 2 && len(bp) >= 4 {
		a := (*[2]T)(ap)
		b := (*[4]T)(bp)
		c00 += a[0] * b[0]
		c10 += a[1] * b[0]
		c01 += a[0] * b[1]
		c11 += a[1] * b[1]
		c02 += a[0] * b[2]
		c12 += a[1] * b[2]
		c03 += a[0] * b[3]
		c13 += a[1] * b[3]
		ap = ap[2:]
		bp = bp[4:]
	}
	r0 := (*[4]T)(c[0*ldc:])
	r1 := (*[4]T)(c[1*ldc:])
	if accumulate {
		r0[0] += c00
		r0[1] += c01
		r0[2] += c02
		r0[3] += c03
		r1[0] += c10
		r1[1] += c11
		r1[2] += c12
		r1[3] += c13
		return
	}
	r0[0], r0[1], r0[2], r0[3] = c00, c01, c02, c03
	r1[0], r1[1], r1[2], r1[3] = c10, c11, c12, c13
}
