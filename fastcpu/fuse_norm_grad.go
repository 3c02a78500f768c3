package fastcpu

import (
	"fmt"
	"sync/atomic"

	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/pkg/core/dtypes"
)

// Fused LayerNorm and RMSNorm (backward). GoMLX differentiates the norm of fuse_norm.go, on the
// path from the output's gradient d to the input's, into about 25 ops over [..., N] (y is the
// centred input x - mean for LayerNorm, x itself for RMSNorm; s = sqrt(var + eps) [..., 1]; c the
// mean's 1/N; B a broadcast over the last axis):
//
//	dh = d * B(w)                        the normalised value's gradient
//	a  = dh / B(s)
//	S1 = sum(-(dh * (y / (B(s) * B(s)))))     over the row (float64, rounded once)
//	e  = (S1 * ((1 / s) * 0.5)) * c     the variance's gradient, through the square root
//	f  = B(e) * y                        (twice: the square's two factors)
//	dy = (a + f) + f                     RMSNorm: the input's gradient from the norm, or
//	                                     ((r + a) + f) + f with the residual's gradient r
//	LayerNorm, through the centring:  m = (-sum(dy)) * c,  dx = dy + B(m)  or  (r + dy) + B(m)
//
// where r, when present, is the input's gradient from its other readers (the residual stream),
// which GoMLX adds between the two. When nothing else reads the intermediates, the last node
// (dx; dy for RMSNorm) is rewritten to compute it row by row (normGradRows), with each step the
// unfused op's own float32 arithmetic in the same order and the row sums in float64 from the first
// element, as ReduceSum does: the result is the unfused graph's bit for bit
// (TestNormGradFusedIsExact). The kernel re-implements the matched ops whatever feeds them, so
// a hooked scale or a replaced normalised value (other ops in the graph) either leaves the
// pattern unmatched or is read as an input. The gain's and bias's gradients (sums over batch and
// position) are left as they are.

// fusedNormGrads counts the norm backward passes fused.
var fusedNormGrads atomic.Int64

// FusedNormGrads is the number of norm backward passes the fusion pass has fused in this process.
func FusedNormGrads() int64 { return fusedNormGrads.Load() }

// scalarConst returns the value of a float32 scalar constant, seen through views and broadcasts
// of it that have no other reader.
func scalarConst(n *node, consumers map[*node]int) (float32, bool) {
	for (n.op == backends.OpTypeBroadcastInDim || n.op == backends.OpTypeReshape) && consumers[n] == 1 {
		n = n.inputs[0]
	}
	if n.op != backends.OpTypeConstant || n.constant == nil || n.shape.Size() != 1 || n.shape.DType != dtypes.Float32 {
		return 0, false
	}
	return n.constant.flat.([]float32)[0], true
}

// rowBroadcastOf returns the source of a BroadcastInDim with want consumers whose source holds
// one value per row of its output (the same rank and leading dimensions, a last dimension of 1),
// or nil.
func rowBroadcastOf(n *node, consumers map[*node]int, want int) *node {
	if n.op != backends.OpTypeBroadcastInDim || consumers[n] != want {
		return nil
	}
	src := n.inputs[0]
	sd, nd := src.shape.Dimensions, n.shape.Dimensions
	if len(sd) != len(nd) || len(sd) == 0 || sd[len(sd)-1] != 1 {
		return nil
	}
	for i := range len(sd) - 1 {
		if sd[i] != nd[i] {
			return nil
		}
	}
	return src
}

// normGradParts are the inputs of a matched dy: d, w's source (N values), s (one per row), y,
// y's gradient from its other readers when GoMLX adds it first (dy = ((r + a) + f) + f, as it
// does for an RMSNorm's input on the residual stream), and the variance's c. (The square root's constants 1 and 0.5 are checked, not kept.)
type normGradParts struct {
	d, w, s, y *node
	rIn        *node // added to a first, or nil
	c          float32
}

// normGradCore matches dy = (a + f) + f above; dy's own consumer count is left to the caller.
func normGradCore(dy *node, consumers map[*node]int) (p normGradParts, ok bool) {
	if dy.op != backends.OpTypeAdd || dy.shape.DType != dtypes.Float32 || dy.shape.Rank() < 1 {
		return p, false
	}
	g, f2 := dy.inputs[0], dy.inputs[1]
	if g.op != backends.OpTypeAdd || consumers[g] != 1 || f2.op != backends.OpTypeMul || consumers[f2] != 1 {
		return p, false
	}
	a, f1 := g.inputs[0], g.inputs[1]
	var rIn *node // g = (r + a) + f: y's gradient from another reader, added first (RMSNorm's residual)
	if a.op == backends.OpTypeAdd && consumers[a] == 1 {
		rIn, a = a.inputs[0], a.inputs[1]
		if a.op != backends.OpTypeDiv {
			rIn, a = a, rIn
		}
		if !rIn.shape.Equal(dy.shape) {
			return p, false
		}
	}
	if f1.op != backends.OpTypeMul || consumers[f1] != 1 || a.op != backends.OpTypeDiv || consumers[a] != 1 {
		return p, false
	}
	bE, y := f1.inputs[0], f1.inputs[1]
	if f2.inputs[0] != bE || f2.inputs[1] != y {
		return p, false
	}
	eRow := rowBroadcastOf(bE, consumers, 2)
	if eRow == nil {
		return p, false
	}
	// e = Mul(Reshape(dv), B(c)) and dv = Mul(Reshape(S1), Mul(Div(1, s), 0.5)).
	e := skipViews(eRow, consumers)
	if e.op != backends.OpTypeMul || consumers[e] != 1 {
		return p, false
	}
	c, okc := scalarConst(e.inputs[1], consumers)
	dv := skipViews(e.inputs[0], consumers)
	if !okc || dv.op != backends.OpTypeMul || consumers[dv] != 1 {
		return p, false
	}
	h := dv.inputs[1]
	if h.op != backends.OpTypeMul || consumers[h] != 1 {
		return p, false
	}
	half, okh := scalarConst(h.inputs[1], consumers)
	inv := h.inputs[0]
	if !okh || half != 0.5 || inv.op != backends.OpTypeDiv || consumers[inv] != 1 {
		return p, false
	}
	one, ok1 := scalarConst(inv.inputs[0], consumers)
	s := inv.inputs[1]
	if !ok1 || one != 1 {
		return p, false
	}
	sum1 := skipViews(dv.inputs[0], consumers)
	if !isLastAxisReduce(sum1, backends.OpTypeReduceSum) || consumers[sum1] != 1 {
		return p, false
	}
	neg := sum1.inputs[0]
	if neg.op != backends.OpTypeNeg || consumers[neg] != 1 {
		return p, false
	}
	u := neg.inputs[0]
	if u.op != backends.OpTypeMul || consumers[u] != 1 {
		return p, false
	}
	dh, t := u.inputs[0], u.inputs[1]
	if t.op != backends.OpTypeDiv || consumers[t] != 1 || t.inputs[0] != y {
		return p, false
	}
	ss := t.inputs[1]
	if ss.op != backends.OpTypeMul || consumers[ss] != 1 || ss.inputs[0] != ss.inputs[1] {
		return p, false
	}
	bS := ss.inputs[0]
	if a.inputs[0] != dh || a.inputs[1] != bS || rowBroadcastOf(bS, consumers, 3) != s {
		return p, false
	}
	// dh = d * B(w), read by a and u only.
	if dh.op != backends.OpTypeMul || consumers[dh] != 2 {
		return p, false
	}
	d, bW := dh.inputs[0], dh.inputs[1]
	if bW.op != backends.OpTypeBroadcastInDim || consumers[bW] != 1 {
		return p, false
	}
	w := bW.inputs[0]
	N := dy.shape.Dimensions[dy.shape.Rank()-1]
	if wd := w.shape.Dimensions; w.shape.Size() != N || len(wd) == 0 || wd[len(wd)-1] != N || w.shape.DType != dtypes.Float32 {
		return p, false
	}
	for _, n := range []*node{d, y} {
		if !n.shape.Equal(dy.shape) {
			return p, false
		}
	}
	if s.shape.DType != dtypes.Float32 || s.shape.Size()*N != dy.shape.Size() || N == 0 {
		return p, false
	}
	return normGradParts{d: d, w: w, s: s, y: y, rIn: rIn, c: c}, true
}

// isCentred reports whether y is x - Reshape(Mul(ReduceSum(x), c)): a LayerNorm's centred input,
// whatever else reads its parts.
func isCentred(y *node) bool {
	if y.op != backends.OpTypeSub {
		return false
	}
	m := skipViewsAny(y.inputs[1])
	if m.op != backends.OpTypeMul {
		return false
	}
	sum := m.inputs[0]
	return isLastAxisReduce(sum, backends.OpTypeReduceSum) && sum.inputs[0] == y.inputs[0]
}

// fuseNormGrad rewrites a LayerNorm backward ending at n = dx, or an RMSNorm one ending at n = dy.
func fuseNormGrad(n *node, consumers map[*node]int) {
	if noNormFusion || n.op != backends.OpTypeAdd || n.shape.DType != dtypes.Float32 || n.shape.Rank() < 1 {
		return
	}
	N := n.shape.Dimensions[n.shape.Rank()-1]
	// RMSNorm: n is dy itself, and y is not a centred input.
	if p, ok := normGradCore(n, consumers); ok {
		if isCentred(p.y) {
			return // a LayerNorm's dy: its dx node fuses the whole
		}
		rewriteNormGrad(n, p, nil, 0, N, false)
		return
	}
	// LayerNorm: n = L + B(m), L = dy or r + dy, m = Mul(Reshape(Neg(Reshape(ReduceSum(dy)))), B(c)).
	L, bM := n.inputs[0], n.inputs[1]
	mRow := rowBroadcastOf(bM, consumers, 1)
	if mRow == nil {
		return
	}
	m := skipViews(mRow, consumers)
	if m.op != backends.OpTypeMul || consumers[m] != 1 {
		return
	}
	c2, okc := scalarConst(m.inputs[1], consumers)
	neg := skipViews(m.inputs[0], consumers)
	if !okc || neg.op != backends.OpTypeNeg || consumers[neg] != 1 {
		return
	}
	sum := skipViews(neg.inputs[0], consumers)
	if !isLastAxisReduce(sum, backends.OpTypeReduceSum) || consumers[sum] != 1 {
		return
	}
	dy := sum.inputs[0]
	var r *node
	switch {
	case L == dy:
	case L.op == backends.OpTypeAdd && consumers[L] == 1 && L.inputs[1] == dy && L.inputs[0] != dy:
		r = L.inputs[0]
	case L.op == backends.OpTypeAdd && consumers[L] == 1 && L.inputs[0] == dy && L.inputs[1] != dy:
		r = L.inputs[1]
	default:
		return
	}
	if consumers[dy] != 2 || (r != nil && !r.shape.Equal(n.shape)) {
		return
	}
	p, ok := normGradCore(dy, consumers)
	if !ok {
		return
	}
	rewriteNormGrad(n, p, r, c2, N, true)
}

func rewriteNormGrad(n *node, p normGradParts, r *node, cm float32, N int, center bool) {
	fusedNormGrads.Add(1)
	if debugFuse {
		fmt.Println("fused norm gradient", n.id, n.shape, "centred", center, "residual", r != nil, p.rIn != nil)
	}
	n.inputs = []*node{p.d, p.w, p.s, p.y}
	rInAt, rAt := -1, -1
	if p.rIn != nil {
		rInAt, n.inputs = len(n.inputs), append(n.inputs, p.rIn)
	}
	if r != nil {
		rAt, n.inputs = len(n.inputs), append(n.inputs, r)
	}
	shape, c := n.shape, p.c
	n.fn = func(ins []*Buffer) *Buffer {
		out := newBuffer(shape)
		var rIn, rOut []float32
		if rInAt >= 0 {
			rIn = ins[rInAt].flat.([]float32)
		}
		if rAt >= 0 {
			rOut = ins[rAt].flat.([]float32)
		}
		normGradRows(out.flat.([]float32), ins[0].flat.([]float32), ins[1].flat.([]float32), ins[2].flat.([]float32),
			ins[3].flat.([]float32), rIn, rOut, c, cm, N, center)
		return out
	}
}

// normGradRows computes the norm's input gradient row by row, as the matched ops do (see the top
// of this file): float32 steps in their order, explicit roundings (no fused multiply-add on any
// GOARCH), row sums in float64 from the first element. c is the variance's 1/N, cm the mean's;
// rIn, when not nil, is added to a first, and r before the mean's share.
func normGradRows(out, d, w, s, y, rIn, r []float32, c, cm float32, n int, center bool) {
	rows := len(y) / n
	parallelFor(rows, max(1, (1<<13)/n), func(lo, hi int) {
		for row := lo; row < hi; row++ {
			dr, yr, o := d[row*n:(row+1)*n], y[row*n:(row+1)*n], out[row*n:(row+1)*n]
			sg := s[row]
			ss := float32(sg * sg)
			var acc float64
			for j, dv := range dr {
				dh := float32(dv * w[j])
				acc += float64(-float32(dh * (yr[j] / ss)))
			}
			e := float32(float32(float32(acc)*float32(float32(1/sg)*0.5)) * c)
			var acc2 float64
			for j, dv := range dr {
				dh := float32(dv * w[j])
				f := float32(e * yr[j])
				a := dh / sg
				if rIn != nil {
					a = rIn[row*n+j] + a
				}
				dy := (a + f) + f
				o[j] = dy
				acc2 += float64(dy)
			}
			if !center {
				continue
			}
			m := float32(-float32(acc2) * cm)
			if r != nil {
				rr := r[row*n : (row+1)*n]
				for j := range o {
					o[j] = (rr[j] + o[j]) + m
				}
			} else {
				for j := range o {
					o[j] += m
				}
			}
		}
	})
}
