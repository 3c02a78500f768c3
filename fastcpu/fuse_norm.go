package fastcpu

import (
	"fmt"
	"math"

	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/pkg/core/dtypes"
)

// Fused LayerNorm and RMSNorm (forward). The model's norm over the last axis (model.Normalize)
// reaches the backend as
//
//	LayerNorm:  xc = Sub(x, Reshape(Mul(ReduceSum(x), c)))          c = 1/N
//	            v  = Reshape(Mul(ReduceSum(Mul(xc, xc)), c))
//	            y  = Add(Mul(Div(xc, Sqrt(Add(v, eps))), Reshape(w)), Reshape(b))
//	RMSNorm:    v  = Reshape(Mul(ReduceSum(Mul(x, x)), c));  y = Mul(Div(x, Sqrt(Add(v, eps))), Reshape(w))
//
// about ten passes over [..., N] and as many buffers. When nothing else reads the intermediates
// (no hook caches or replaces hook_scale, the centred input or the mean: a hooked intermediate is
// a graph output; training graphs read them for the gradient), y's node is rewritten to compute
// the norm row by row in cache. Each step is the unfused op's own arithmetic in the same order
// (float32 products and quotients, row sums accumulated in float64 from the first element as
// reduceRowsF32 does, the square root rounded from float64), so the result is bit for bit the
// unfused graph's (TestNormFusedIsExact).

func fuseNorm(root *node, consumers map[*node]int) {
	if noNormFusion || root.shape.DType != dtypes.Float32 || root.shape.Rank() < 1 {
		return
	}
	var b *node
	mulW := root
	if root.op == backends.OpTypeAdd { // LayerNorm: + b
		mulW, b = root.inputs[0], root.inputs[1]
		if consumers[mulW] != 1 {
			return
		}
	}
	if mulW.op != backends.OpTypeMul {
		return
	}
	div, w := mulW.inputs[0], mulW.inputs[1]
	if div.op != backends.OpTypeDiv || consumers[div] != 1 {
		return
	}
	xn, sq := div.inputs[0], div.inputs[1]
	if sq.op != backends.OpTypeSqrt || consumers[sq] != 1 {
		return
	}
	addEps := sq.inputs[0]
	if addEps.op != backends.OpTypeAdd || consumers[addEps] != 1 || !isScalarF32(addEps.inputs[1]) {
		return
	}
	eps := addEps.inputs[1]
	ss, c, ok := meanOf(addEps.inputs[0], consumers)
	if !ok {
		return
	}
	sqr := ss
	if sqr.op != backends.OpTypeMul || consumers[sqr] != 1 || sqr.inputs[0] != xn || sqr.inputs[1] != xn {
		return
	}
	x, center := xn, false
	if b == nil && isCentring(xn, consumers) && consumers[mulW] == 1 {
		return // a LayerNorm's inner part: its Add node fuses the whole
	}
	if b != nil { // LayerNorm: xn = x - mean(x), read by the square (twice) and the division only
		if xn.op != backends.OpTypeSub || consumers[xn] != 3 {
			return
		}
		m, c2, ok := meanOf(xn.inputs[1], consumers)
		if !ok || c2 != c && !sameScalar(c, c2) {
			return
		}
		x, center = xn.inputs[0], true
		if m != x {
			return
		}
	}
	dims := x.shape.Dimensions
	N := dims[len(dims)-1]
	if x.shape.DType != dtypes.Float32 || !x.shape.Equal(root.shape) || N == 0 ||
		w.shape.Size() != N || w.shape.Dimensions[w.shape.Rank()-1] != N || w.shape.DType != dtypes.Float32 ||
		(b != nil && (b.shape.Size() != N || b.shape.DType != dtypes.Float32)) {
		return
	}
	shape := root.shape
	fusedNorms.Add(1)
	if debugFuse {
		fmt.Println("fused norm", root.id, root.shape, "centred", center)
	}
	root.inputs = []*node{x, w, c, eps}
	if b != nil {
		root.inputs = append(root.inputs, b)
	}
	root.fn = func(ins []*Buffer) *Buffer {
		out := newBuffer(shape)
		var bf []float32
		if len(ins) == 5 {
			bf = ins[4].flat.([]float32)
		}
		normRows(out.flat.([]float32), ins[0].flat.([]float32), ins[1].flat.([]float32), bf,
			ins[2].flat.([]float32)[0], ins[3].flat.([]float32)[0], N, center)
		return out
	}
}

// isCentring reports whether n is a LayerNorm's x - mean(x) read only by its square and division.
func isCentring(n *node, consumers map[*node]int) bool {
	if n.op != backends.OpTypeSub || consumers[n] != 3 {
		return false
	}
	m, _, ok := meanOf(n.inputs[1], consumers)
	return ok && m == n.inputs[0]
}

// meanOf matches Reshape(Mul(ReduceSum over the last axis (x), c)) with c a float32 scalar, each
// with a single consumer, and returns x and c.
func meanOf(n *node, consumers map[*node]int) (x, c *node, ok bool) {
	mul := skipViews(n, consumers)
	if mul == n || mul.op != backends.OpTypeMul || consumers[mul] != 1 || !isScalarF32(mul.inputs[1]) {
		return nil, nil, false
	}
	sum := mul.inputs[0]
	if !isLastAxisReduce(sum, backends.OpTypeReduceSum) || consumers[sum] != 1 {
		return nil, nil, false
	}
	return sum.inputs[0], mul.inputs[1], true
}

func isScalarF32(n *node) bool { return n.shape.Rank() == 0 && n.shape.DType == dtypes.Float32 }

// sameScalar reports whether two scalar constants hold the same value (graph.ReduceMean makes
// one constant per call).
func sameScalar(a, b *node) bool {
	if a.op != backends.OpTypeConstant || b.op != backends.OpTypeConstant {
		return false
	}
	if a.constant == nil || b.constant == nil {
		return false
	}
	av, aok := a.constant.flat.([]float32)
	bv, bok := b.constant.flat.([]float32)
	return aok && bok && len(av) == 1 && len(bv) == 1 && av[0] == bv[0]
}

// normRows is the fused norm over rows of length n: for a LayerNorm (center) xc = x - float32(sum
// x) * c, else xc = x; scale = sqrt(float32(sum xc*xc) * c + eps); y = xc / scale * w (+ b).
func normRows(out, x, w, b []float32, c, eps float32, n int, center bool) {
	rows := len(x) / n
	parallelFor(rows, max(1, (1<<13)/n), func(s, e int) {
		for r := s; r < e; r++ {
			xr, yr := x[r*n:(r+1)*n], out[r*n:(r+1)*n]
			var mean float32
			if center {
				var acc float64
				for _, v := range xr {
					acc += float64(v)
				}
				mean = float32(float32(acc) * c)
			}
			var acc float64
			for _, v := range xr {
				d := v - mean
				acc += float64(float32(d * d))
			}
			v := float32(float32(acc)*c) + eps
			scale := float32(math.Sqrt(float64(v)))
			for i, xv := range xr {
				y := float32(float32((xv-mean)/scale) * w[i])
				if b != nil {
					y += b[i]
				}
				yr[i] = y
			}
		}
	})
}

// FusedNorms is the number of norms the fusion pass has fused in this process.
func FusedNorms() int64 { return fusedNorms.Load() }
