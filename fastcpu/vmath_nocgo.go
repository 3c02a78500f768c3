//go:build !cgo

package fastcpu

// Without cgo the vector kernels are the scalar Go ones.

const haveVMath = false

func vexp(x, y []float32) {
	for i, v := range x {
		y[i] = expF32(v)
	}
}

func vtanh(x, y []float32) {
	for i, v := range x {
		y[i] = tanhF32(v)
	}
}

func vexpNonPos(x, y []float32) { vexp(x, y) }

func vsoftmaxRows(x, y []float32, n int) { softmaxRowsGo(y, x, n) }

// vbinary is only called when haveVMath.
func vbinary(op, mode int, a, b, y []float32) { panic("fastcpu: vbinary without cgo") }
