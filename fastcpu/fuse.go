package fastcpu

import (
	"fmt"
	"math"
	"os"
	"slices"
	"sync/atomic"

	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/pkg/core/dtypes"
)

// Fusion: graph.Softmax reaches the backend as seven ops (ReduceMax, Reshape, Identity, Sub, Exp,
// ReduceSum, Reshape, Div), five passes over the data. When a float32 softmax over the last axis
// has no other consumers of its intermediates (inference graphs; training graphs reuse them for
// the gradient, and are left alone), the Div node is rewritten to compute the whole softmax row
// by row in cache: max, exp and sum, scale.

// fuse rewrites fusable patterns among the nodes reachable from outputs. Broadcast elision runs
// last, on the graph the other fusions leave (their patterns read some broadcasts themselves).
func fuse(b *Builder, outputs []*node) {
	if noFusion {
		return
	}
	consumers, seen := countConsumers(outputs)
	for _, n := range b.nodes {
		if debugFuse {
			ins := []string{}
			for _, in := range n.inputs {
				ins = append(ins, fmt.Sprint(in.id))
			}
			fmt.Println(n.id, n.op, n.shape, ins, consumers[n], n.axes)
		}
		if seen[n] {
			fuseSoftmax(n, consumers)
			fuseSoftmaxGrad(n, consumers)
			fuseAttention(n, consumers)
			fuseNorm(n, consumers)
			fuseNormGrad(n, consumers)
		}
	}
	consumers, seen = countConsumers(outputs)
	for _, n := range b.nodes {
		if seen[n] {
			fuseBroadcast(n, consumers)
			fuseExpSubMax(n, consumers)
			fuseScaledSoftmaxGrad(n, consumers)
		}
	}
	fuseAttentionGrads(b.nodes, outputs)
}

// fuseExpSubMax rewrites exp(t - max(t)) over the last axis, the exp of a softmax that the
// inference fusion left alone because the gradient reads the exp and its sum (training graphs),
// into one row-by-row pass. When t is the attention's scores scaled and masked, t = x * c + mask
// (c a scalar, mask [1, .., 1, Pq, Pk]; either part optional) and nothing else reads them, those
// ops join the pass. Each step is the unfused op's arithmetic, so the exp is bit for bit the
// unfused graph's (TestExpSubMaxFusedIsExact). The exp's node keeps its other readers.
func fuseExpSubMax(e *node, consumers map[*node]int) {
	if noSoftmaxExpFusion || e.op != backends.OpTypeExp || e.shape.DType != dtypes.Float32 || e.shape.Rank() == 0 {
		return
	}
	sub := e.inputs[0]
	if sub.op != backends.OpTypeSub || consumers[sub] != 1 {
		return
	}
	t, mx := sub.inputs[0], skipViews(sub.inputs[1], consumers)
	if !isLastAxisReduce(mx, backends.OpTypeReduceMax) || mx.inputs[0] != t || consumers[mx] != 1 || !t.shape.Equal(e.shape) {
		return
	}
	dims := e.shape.Dimensions
	n := dims[len(dims)-1]
	if n == 0 {
		return
	}
	// When only the max and the subtraction read t, fold in the mask and the scale that make it.
	x, scale, mask, pq := t, (*node)(nil), (*node)(nil), 1
	if consumers[t] == 2 {
		if t.op == backends.OpTypeAdd && len(t.inputs) == 2 && isRowMask(t.inputs[1].shape.Dimensions, dims) &&
			t.inputs[0].shape.Equal(e.shape) {
			x, mask = t.inputs[0], t.inputs[1]
			pq = dims[len(dims)-2]
		}
		if (x == t || consumers[x] == 1) && x.op == backends.OpTypeMul && len(x.inputs) == 2 && isScalarF32(x.inputs[1]) &&
			x.inputs[0].shape.Equal(e.shape) {
			x, scale = x.inputs[0], x.inputs[1]
		}
	}
	shape := e.shape
	fusedExpSubMax.Add(1)
	e.inputs = []*node{x}
	if scale != nil {
		e.inputs = append(e.inputs, scale)
		foldedScoreOps.Add(1)
	}
	if mask != nil {
		e.inputs = append(e.inputs, mask)
		foldedScoreOps.Add(1)
	}
	scaled, masked := scale != nil, mask != nil
	e.fn = func(ins []*Buffer) *Buffer {
		out := newBuffer(shape)
		in, o := ins[0].flat.([]float32), out.flat.([]float32)
		var c float32 = 1
		var m []float32
		if scaled {
			c = ins[1].flat.([]float32)[0]
		}
		if masked {
			m = ins[len(ins)-1].flat.([]float32)
		}
		parallelFor(len(in)/n, max(1, (1<<13)/n), func(s, e int) {
			vexpSubRowMax(in[s*n:e*n], o[s*n:e*n], n, c, scaled, m, pq, s)
		})
		return out
	}
}

// isRowMask reports whether a mask of dims broadcasts over out's rows as [1, .., 1, Pq, Pk].
func isRowMask(mask, out []int) bool {
	r := len(out)
	if len(mask) != r || r < 2 || mask[r-1] != out[r-1] || mask[r-2] != out[r-2] {
		return false
	}
	for _, d := range mask[:r-2] {
		if d != 1 {
			return false
		}
	}
	return true
}

// expSubRowMaxGo is interp_exp_sub_rowmax in Go (builds without cgo): t = x * c (scaled) + mask
// row (r0 + r) % pq (mask non-nil), then exp(t - rowmax(t)).
func expSubRowMaxGo(x, y []float32, n int, c float32, scaled bool, mask []float32, pq, r0 int) {
	for r := range len(x) / n {
		xr, yr := x[r*n:(r+1)*n], y[r*n:(r+1)*n]
		if scaled || mask != nil {
			for i, v := range xr {
				if scaled {
					v = float32(v * c)
				}
				if mask != nil {
					v += mask[((r0+r)%pq)*n+i]
				}
				yr[i] = v
			}
			xr = yr
		}
		m := float32(math.Inf(-1))
		for _, v := range xr {
			if v > m || v != v {
				m = v
			}
		}
		for i, v := range xr {
			yr[i] = expF32(v - m)
		}
	}
}

// countConsumers counts, for every node reachable from outputs, the edges that read it (an
// output counts as read by the caller, 1<<20 times), and marks the reachable nodes.
func countConsumers(outputs []*node) (consumers map[*node]int, seen map[*node]bool) {
	consumers, seen = map[*node]int{}, map[*node]bool{}
	var walk func(n *node)
	walk = func(n *node) {
		if seen[n] {
			return
		}
		seen[n] = true
		for _, in := range n.inputs {
			consumers[in]++
			walk(in)
		}
	}
	for _, o := range outputs {
		walk(o)
		consumers[o] += 1 << 20 // outputs are consumed by the caller
	}
	return consumers, seen
}

// skipViews follows Reshape/Identity nodes with a single consumer.
func skipViews(n *node, consumers map[*node]int) *node {
	for (n.op == backends.OpTypeReshape || n.op == backends.OpTypeIdentity) && consumers[n] == 1 {
		n = n.inputs[0]
	}
	return n
}

func isLastAxisReduce(n *node, op backends.OpType) bool {
	if n.op != op || len(n.axes) != 1 {
		return false
	}
	in := n.inputs[0].shape
	return n.axes[0] == in.Rank()-1
}

func fuseSoftmax(div *node, consumers map[*node]int) {
	if div.op != backends.OpTypeDiv || div.shape.DType != dtypes.Float32 || div.shape.Rank() == 0 {
		return
	}
	exp, den := div.inputs[0], div.inputs[1]
	if exp.op != backends.OpTypeExp || consumers[exp] != 2 || consumers[den] != 1 {
		return
	}
	sum := skipViews(den, consumers)
	if !isLastAxisReduce(sum, backends.OpTypeReduceSum) || sum.inputs[0] != exp || consumers[sum] != 1 {
		return
	}
	sub := exp.inputs[0]
	if sub.op != backends.OpTypeSub || consumers[sub] != 1 {
		return
	}
	x, mx := sub.inputs[0], skipViews(sub.inputs[1], consumers)
	if !isLastAxisReduce(mx, backends.OpTypeReduceMax) || mx.inputs[0] != x || consumers[mx] != 1 {
		return
	}
	if !x.shape.Equal(div.shape) {
		return
	}
	rowLen := div.shape.Dimensions[div.shape.Rank()-1]
	shape := div.shape
	div.inputs = []*node{x}
	div.softmaxOf = x
	div.fn = func(ins []*Buffer) *Buffer {
		out := newBuffer(shape)
		softmaxRows(out.flat.([]float32), ins[0].flat.([]float32), rowLen)
		return out
	}
}

// softmaxRows computes a numerically stable softmax over each row of length n, in parallel
// chunks of rows, with the vector kernel.
func softmaxRows(out, in []float32, n int) {
	rows := len(in) / max(n, 1)
	parallelFor(rows, max(1, (1<<13)/max(n, 1)), func(s, e int) {
		vsoftmaxRows(in[s*n:e*n], out[s*n:e*n], n)
	})
}

// softmaxRowsGo is the pure-Go softmax (no cgo).
func softmaxRowsGo(out, in []float32, n int) {
	rows := len(in) / max(n, 1)
	parallelFor(rows, max(1, (1<<13)/max(n, 1)), func(s, e int) {
		for r := s; r < e; r++ {
			x, o := in[r*n:(r+1)*n], out[r*n:(r+1)*n]
			m := x[0]
			for _, v := range x[1:] {
				if v > m || v != v {
					m = v
				}
			}
			var sum float32
			for i, v := range x {
				ev := expF32(v - m)
				o[i] = ev
				sum += ev
			}
			inv := 1 / sum
			for i := range o {
				o[i] *= inv
			}
		}
	})
}

// Fusion of the softmax's gradient. GoMLX differentiates y = e / s (e = exp(x - max), s = the sum
// of e over the last axis) into ten ops over the whole [.., n] tensor (the sum broadcast, two
// divisions, two products, a negation, a sum, a broadcast, an addition, a product):
//
//	dx = (g / S + B(sum(-(g * (e / (S * S)))))) * e        S = B(s), B = broadcast over the last axis
//
// fuseSoftmaxGrad rewrites the final product to compute it row by row from g, e and s, with the
// same float32 operations in the same order per element and the sum accumulated in float64 as
// ReduceSum does, so the result is the same bit for bit.
func fuseSoftmaxGrad(mul *node, consumers map[*node]int) {
	if mul.op != backends.OpTypeMul || mul.shape.DType != dtypes.Float32 || mul.shape.Rank() == 0 {
		return
	}
	add, e := mul.inputs[0], mul.inputs[1]
	if add.op != backends.OpTypeAdd || consumers[add] != 1 || e.op != backends.OpTypeExp {
		return
	}
	div, bsum := add.inputs[0], add.inputs[1]
	if div.op != backends.OpTypeDiv || consumers[div] != 1 || bsum.op != backends.OpTypeBroadcastInDim || consumers[bsum] != 1 {
		return
	}
	g, bden := div.inputs[0], div.inputs[1]
	// bden = B(s): the row sums of e broadcast back; used by div and twice by den*den.
	if bden.op != backends.OpTypeBroadcastInDim || consumers[bden] != 3 {
		return
	}
	den := bden.inputs[0]
	if sum := skipViewsAny(den); !isLastAxisReduce(sum, backends.OpTypeReduceSum) || sum.inputs[0] != e {
		return
	}
	// bsum = B(sum(-(g * (e / (S*S))))) through views.
	red := skipViews(bsum.inputs[0], consumers)
	if !isLastAxisReduce(red, backends.OpTypeReduceSum) || consumers[red] != 1 {
		return
	}
	neg := red.inputs[0]
	if neg.op != backends.OpTypeNeg || consumers[neg] != 1 {
		return
	}
	prod := neg.inputs[0]
	if prod.op != backends.OpTypeMul || consumers[prod] != 1 || prod.inputs[0] != g {
		return
	}
	q := prod.inputs[1]
	if q.op != backends.OpTypeDiv || consumers[q] != 1 || q.inputs[0] != e {
		return
	}
	sq := q.inputs[1]
	if sq.op != backends.OpTypeMul || consumers[sq] != 1 || sq.inputs[0] != bden || sq.inputs[1] != bden {
		return
	}
	if !g.shape.Equal(mul.shape) || !e.shape.Equal(mul.shape) || den.shape.Size()*mul.shape.Dimensions[mul.shape.Rank()-1] != mul.shape.Size() {
		return
	}
	n := mul.shape.Dimensions[mul.shape.Rank()-1]
	shape := mul.shape
	fusedSoftmaxGrads.Add(1)
	mul.inputs = []*node{g, e, den}
	mul.softmaxGrad = true
	mul.fn = func(ins []*Buffer) *Buffer {
		out := newBuffer(shape)
		softmaxGradRows(out.flat.([]float32), ins[0].flat.([]float32), ins[1].flat.([]float32), ins[2].flat.([]float32), n, 1, false)
		return out
	}
}

// skipViewsAny follows Reshape/Identity nodes whatever their consumers.
func skipViewsAny(n *node) *node {
	for n.op == backends.OpTypeReshape || n.op == backends.OpTypeIdentity {
		n = n.inputs[0]
	}
	return n
}

// softmaxGradRows computes, for each row r of length n, out = (g/s + t) * e with
// t = float32(sum_j -(g_j * (e_j / (s*s)))) (float64 accumulation), in parallel chunks of rows.
func softmaxGradRows(out, g, e, s []float32, n int, c float32, scaled bool) {
	rows := len(g) / max(n, 1)
	parallelFor(rows, max(1, (1<<13)/max(n, 1)), func(lo, hi int) {
		vsoftmaxGradRows(out[lo*n:hi*n], g[lo*n:hi*n], e[lo*n:hi*n], s[lo:hi], n, c, scaled)
	})
}

// softmaxGradRowsGo is interp_softmax_grad_rows in Go (builds without cgo).
func softmaxGradRowsGo(out, g, e, s []float32, n int, c float32, scaled bool) {
	for r := range len(g) / max(n, 1) {
		gr, er, or := g[r*n:(r+1)*n], e[r*n:(r+1)*n], out[r*n:(r+1)*n]
		den := s[r]
		sq := den * den
		var acc float64
		for j, gv := range gr {
			acc += float64(-(gv * (er[j] / sq)))
		}
		t := float32(acc)
		for j, gv := range gr {
			v := (gv/den + t) * er[j]
			if scaled {
				v = float32(v) * c
			}
			or[j] = v
		}
	}
}

// fuseScaledSoftmaxGrad folds a multiplication by a scalar (the attention scale's gradient) into
// the fused softmax gradient it reads, when nothing else reads that gradient: the same product,
// rounded the same, in the same pass.
func fuseScaledSoftmaxGrad(mul *node, consumers map[*node]int) {
	if noFusion || mul.op != backends.OpTypeMul || len(mul.inputs) != 2 || !isScalarF32(mul.inputs[1]) {
		return
	}
	sg := mul.inputs[0]
	if !sg.softmaxGrad || sg.scaled || consumers[sg] != 1 || !sg.shape.Equal(mul.shape) {
		return
	}
	n := mul.shape.Dimensions[mul.shape.Rank()-1]
	shape := mul.shape
	scaledSoftmaxGrads.Add(1)
	mul.inputs = append(slices.Clone(sg.inputs), mul.inputs[1])
	mul.softmaxGrad, mul.scaled = true, true
	mul.fn = func(ins []*Buffer) *Buffer {
		out := newBuffer(shape)
		softmaxGradRows(out.flat.([]float32), ins[0].flat.([]float32), ins[1].flat.([]float32), ins[2].flat.([]float32), n,
			ins[3].flat.([]float32)[0], true)
		return out
	}
}

var (
	debugFuse = os.Getenv("INTERP_DEBUG_FUSE") != ""
	// noFusion turns the fusion pass off (tests compare fused and unfused graphs).
	noFusion = false
	// fusedSoftmaxGrads counts the softmax gradients fused (tests check that the pattern matched),
	// and scaledSoftmaxGrads those with a scale folded in.
	fusedSoftmaxGrads, scaledSoftmaxGrads atomic.Int64
	// noAttentionFusion leaves attention unfused (the softmax is still fused); for benchmarks.
	noAttentionFusion = false
	// fusedAttentions counts the attention blocks fused.
	fusedAttentions atomic.Int64
	// noNormFusion leaves LayerNorm and RMSNorm unfused (INTERP_NO_NORM_FUSION=1; for benchmarks).
	noNormFusion = os.Getenv("INTERP_NO_NORM_FUSION") != ""
	// fusedNorms counts the norms fused.
	fusedNorms atomic.Int64
	// noBroadcastFusion materialises every broadcast (INTERP_NO_BROADCAST_FUSION=1; for benchmarks).
	noBroadcastFusion = os.Getenv("INTERP_NO_BROADCAST_FUSION") != ""
	// elidedBroadcasts counts the broadcasts elided.
	elidedBroadcasts atomic.Int64
	// noSoftmaxExpFusion leaves training softmaxes' max, subtraction and exp unfused
	// (INTERP_NO_SOFTMAX_EXP_FUSION=1; for benchmarks).
	noSoftmaxExpFusion = os.Getenv("INTERP_NO_SOFTMAX_EXP_FUSION") != ""
	// fusedExpSubMax counts them fused, and foldedScoreOps the scales and masks folded in.
	fusedExpSubMax, foldedScoreOps atomic.Int64
)
