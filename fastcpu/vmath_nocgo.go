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

func vexpFMANonPos(x, y []float32) { vexp(x, y) }

func attentionBlock(q, k, v, mask, z, kt, vt, s []float32, pq, pk, dk, qs, ks, vs int, scale float32, scaled bool) {
	attentionBlockGo(q, k, v, mask, z, kt, vt, s, pq, pk, dk, qs, ks, vs, scale, scaled)
}

func attentionGradBlock(q, k, v, dz, p, e, den, dq, dk, dv, vt, g, ds []float32, pq, pk, kd, hs int, c float32, scaled bool) {
	attentionGradBlockGo(q, k, v, dz, p, e, den, dq, dk, dv, vt, g, ds, pq, pk, kd, hs, c, scaled)
}

func vsoftmaxRows(x, y []float32, n int) { softmaxRowsGo(y, x, n) }

func vexpSubRowMax(x, y []float32, n int, c float32, scaled bool, mask []float32, pq, r0 int) {
	expSubRowMaxGo(x, y, n, c, scaled, mask, pq, r0)
}

// vbinary is only called when haveVMath.
func vbinary(op, mode int, a, b, y []float32) { panic("fastcpu: vbinary without cgo") }

func vsoftmaxGradRows(out, g, e, s []float32, n int, c float32, scaled bool) {
	softmaxGradRowsGo(out, g, e, s, n, c, scaled)
}
