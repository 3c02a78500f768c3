//go:build leadstub

package fastcpu

func GemmImpl() string { return "stub" }

func Gemm(batch, m, n, k int, a []float32, aBatchStride int, transA bool, b []float32, bBatchStride int, transB bool, c []float32) {
	for bt := range batch {
		A, B, C := a[bt*aBatchStride:], b[bt*bBatchStride:], c[bt*m*n:]
		for i := range m {
			for j := range n {
				var s float32
				for p := range k {
					var x, y float32
					if transA {
						x = A[p*m+i]
					} else {
						x = A[i*k+p]
					}
					if transB {
						y = B[j*k+p]
					} else {
						y = B[p*n+j]
					}
					s += x * y
				}
				C[i*n+j] = s
			}
		}
	}
}

func GemmF64(batch, m, n, k int, a []float64, aBatchStride int, transA bool, b []float64, bBatchStride int, transB bool, c []float64) {
	for bt := range batch {
		A, B, C := a[bt*aBatchStride:], b[bt*bBatchStride:], c[bt*m*n:]
		for i := range m {
			for j := range n {
				var s float64
				for p := range k {
					var x, y float64
					if transA {
						x = A[p*m+i]
					} else {
						x = A[i*k+p]
					}
					if transB {
						y = B[j*k+p]
					} else {
						y = B[p*n+j]
					}
					s += x * y
				}
				C[i*n+j] = s
			}
		}
	}
}
