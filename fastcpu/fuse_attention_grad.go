package fastcpu

import (
	"fmt"
	"math"
	"os"
	"slices"
	"sync/atomic"

	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/pkg/core/dtypes"
	"github.com/gomlx/gomlx/pkg/core/shapes"
)

// Fused attention (backward). GoMLX differentiates the model's attention (see fuse_attention.go)
// into these ops, with dz the gradient of z in the model's layout [B,Pq,H,K]:
//
//	dzT = Transpose(dz) -> [B,H,Pq,K]
//	g   = DotGeneral(dzT, v; contract K, batch B,H)      the pattern's gradient [B,H,Pq,Pk]
//	dvT = DotGeneral(dzT, pattern; contract Pq)          [B,H,K,Pk]; dv = Transpose(dvT) [B,Pk,H,K]
//	ds  = softmax gradient of g (e, row sums s)          one node after fuseSoftmaxGrad, times the
//	                                                     scale after fuseScaledSoftmaxGrad
//	dqT = DotGeneral(ds, k; contract Pk) [B,H,Pq,K];    dq = Transpose(dqT) [B,Pq,H,K]
//	dkT = DotGeneral(ds, q; contract Pq) [B,H,Pk,K];    dk = Transpose(dkT) [B,Pk,H,K]
//
// Four batched matmuls with a contraction of K or P terms, three [B,H,P,P] tensors (g, ds and
// the softmax gradient's own) and four transposes. When nothing else reads dzT, g, dvT, ds, dqT or
// dkT, fuseAttentionGrad computes dq, dk and dv together, one (batch, head) block at a time with
// the block's rows of g and ds in cache (interp_attention_grad_block), into one buffer holding
// [dq; dk; dv] in the model's layout, and the three Transposes become copies of their part. It
// reads the pattern, exp and row sums the forward pass wrote, so the forward is unchanged, and
// applies the softmax gradient's own arithmetic to each row of g. The sums over K and P run in
// another order than the matmuls', so results agree with the unfused graph to float32 rounding,
// not bit for bit (TestAttentionGradFused derives the bound). A hook that replaces the pattern or
// the scores changes this subgraph (the gradient then goes through the replacement), and it stays
// unfused; one that only caches them leaves the backward as it is, and it is fused. Head sizes
// above 512 stay unfused (the kernel's row buffer).

var (
	// noAttentionGradFusion leaves the attention's backward unfused (INTERP_NO_ATTENTION_GRAD_FUSION=1;
	// for benchmarks and tests).
	noAttentionGradFusion = os.Getenv("INTERP_NO_ATTENTION_GRAD_FUSION") != ""
	// fusedAttentionGrads counts the attention backward passes fused.
	fusedAttentionGrads atomic.Int64
)

// FusedAttentionGrads is the number of attention backward passes the fusion pass has fused in
// this process (tests in other packages check which graphs were fused).
func FusedAttentionGrads() int64 { return fusedAttentionGrads.Load() }

// fuseAttentionGrads finds every fusable attention backward among the nodes (ids in topological
// order) and rewrites it.
func fuseAttentionGrads(nodes []*node, outputs []*node) {
	if noAttentionGradFusion {
		return
	}
	consumers, seen := countConsumers(outputs)
	users := map[*node][]*node{}
	for _, n := range nodes {
		if seen[n] {
			for _, in := range n.inputs {
				users[in] = append(users[in], n)
			}
		}
	}
	for _, n := range nodes {
		if seen[n] && n.softmaxGrad {
			fuseAttentionGrad(n, consumers, users)
		}
	}
}

// isTranspose reports whether n is a Transpose by perm.
func isTranspose(n *node, perm ...int) bool {
	return n.op == backends.OpTypeTranspose && slices.Equal(n.axes, perm)
}

// onlyUser returns n's single user, or nil.
func onlyUser(n *node, consumers map[*node]int, users map[*node][]*node) *node {
	if consumers[n] != 1 || len(users[n]) != 1 {
		return nil
	}
	return users[n][0]
}

func fuseAttentionGrad(ds *node, consumers map[*node]int, users map[*node][]*node) {
	if len(ds.inputs) < 3 || ds.shape.DType != dtypes.Float32 || ds.shape.Rank() != 4 {
		return
	}
	g, e, den := ds.inputs[0], ds.inputs[1], ds.inputs[2]
	var scale *node
	if ds.scaled {
		scale = ds.inputs[3]
	}
	// g = dzT . v^T
	if g.op != backends.OpTypeDotGeneral || consumers[g] != 1 || !g.dot.is([]int{3}, []int{0, 1}, []int{3}, []int{0, 2}) {
		return
	}
	dzT, v := g.inputs[0], g.inputs[1]
	if !isTranspose(dzT, 0, 2, 1, 3) || consumers[dzT] != 2 || len(users[dzT]) != 2 {
		return
	}
	dz := dzT.inputs[0]
	// dvT = dzT^T . pattern, the other reader of dzT; dv = its transpose.
	dvT := users[dzT][0]
	if dvT == g {
		dvT = users[dzT][1]
	}
	if dvT.op != backends.OpTypeDotGeneral || dvT.inputs[0] != dzT || !dvT.dot.is([]int{2}, []int{0, 1}, []int{2}, []int{0, 1}) {
		return
	}
	pattern := dvT.inputs[1]
	dv := onlyUser(dvT, consumers, users)
	if dv == nil || !isTranspose(dv, 0, 3, 1, 2) {
		return
	}
	// dqT = ds . k and dkT = ds^T . q, the only readers of ds; dq, dk their transposes.
	if consumers[ds] != 2 || len(users[ds]) != 2 {
		return
	}
	var dqT, dkT *node
	for _, u := range users[ds] {
		switch {
		case u.op == backends.OpTypeDotGeneral && u.inputs[0] == ds && u.dot.is([]int{3}, []int{0, 1}, []int{1}, []int{0, 2}):
			dqT = u
		case u.op == backends.OpTypeDotGeneral && u.inputs[0] == ds && u.dot.is([]int{2}, []int{0, 1}, []int{1}, []int{0, 2}):
			dkT = u
		}
	}
	if dqT == nil || dkT == nil {
		return
	}
	k, q := dqT.inputs[1], dkT.inputs[1]
	dq, dk := onlyUser(dqT, consumers, users), onlyUser(dkT, consumers, users)
	if dq == nil || dk == nil || !isTranspose(dq, 0, 2, 1, 3) || !isTranspose(dk, 0, 2, 1, 3) {
		return
	}
	// Shapes: q, dz [B,Pq,H,K]; k, v [B,Pk,H,K]; pattern, e [B,H,Pq,Pk]; den B*H*Pq values.
	qd := q.shape.Dimensions
	if len(qd) != 4 || len(k.shape.Dimensions) != 4 {
		return
	}
	B, Pq, H, K, Pk := qd[0], qd[1], qd[2], qd[3], k.shape.Dimensions[1]
	f32 := func(ns ...*node) bool {
		for _, n := range ns {
			if n.shape.DType != dtypes.Float32 {
				return false
			}
		}
		return true
	}
	if !f32(q, k, v, dz, pattern, e, den) || (scale != nil && !isScalarF32(scale)) ||
		!slices.Equal(dz.shape.Dimensions, qd) || !slices.Equal(k.shape.Dimensions, []int{B, Pk, H, K}) ||
		!slices.Equal(v.shape.Dimensions, []int{B, Pk, H, K}) || !slices.Equal(pattern.shape.Dimensions, []int{B, H, Pq, Pk}) ||
		!slices.Equal(e.shape.Dimensions, []int{B, H, Pq, Pk}) || den.shape.Size() != B*H*Pq ||
		!slices.Equal(dq.shape.Dimensions, qd) || !slices.Equal(dk.shape.Dimensions, []int{B, Pk, H, K}) ||
		!slices.Equal(dv.shape.Dimensions, []int{B, Pk, H, K}) || B == 0 || Pq == 0 || Pk == 0 || H == 0 || K == 0 || K > 512 {
		return
	}
	// The fused node takes the place of an internal node that comes after all of its inputs and
	// before the three transposes (node ids are the execution order).
	inputs := []*node{q, k, v, dz, pattern, e, den}
	if scale != nil {
		inputs = append(inputs, scale)
	}
	after := 0
	for _, in := range inputs {
		after = max(after, in.id)
	}
	before := min(dq.id, dk.id, dv.id)
	var fused *node
	for _, c := range []*node{dzT, g, dvT, ds, dqT, dkT} {
		if c.id > after && c.id < before {
			fused = c
			break
		}
	}
	if fused == nil {
		return
	}
	fusedAttentionGrads.Add(1)
	if debugFuse {
		fmt.Println("fused attention gradient", fused.id, "->", dq.id, dk.id, dv.id)
	}
	nq, nk := B*Pq*H*K, B*Pk*H*K
	fused.op = backends.OpTypeDotGeneral
	fused.shape = shapes.Make(dtypes.Float32, nq+2*nk)
	fused.inputs = inputs
	fused.dot, fused.axes, fused.softmaxGrad, fused.scaled, fused.softmaxOf, fused.view = nil, nil, false, false, nil, false
	shape, scaled := fused.shape, scale != nil
	fused.fn = func(ins []*Buffer) *Buffer {
		out := newBuffer(shape)
		o := out.flat.([]float32)
		qf, kf, vf, dzf := ins[0].flat.([]float32), ins[1].flat.([]float32), ins[2].flat.([]float32), ins[3].flat.([]float32)
		pf, ef, sf := ins[4].flat.([]float32), ins[5].flat.([]float32), ins[6].flat.([]float32)
		var c float32 = 1
		if scaled {
			c = ins[7].flat.([]float32)[0]
		}
		dqf, dkf, dvf := o[:nq], o[nq:nq+nk], o[nq+nk:]
		hs := H * K
		parallelFor(B*H, 1, func(lo, hi int) {
			vt, gr, dsr := make([]float32, K*Pk), make([]float32, Pk), make([]float32, Pk)
			for blk := lo; blk < hi; blk++ {
				b, h := blk/H, blk%H
				qo, ko := (b*Pq*H+h)*K, (b*Pk*H+h)*K
				attentionGradBlock(qf[qo:], kf[ko:], vf[ko:], dzf[qo:], pf[blk*Pq*Pk:], ef[blk*Pq*Pk:], sf[blk*Pq:],
					dqf[qo:], dkf[ko:], dvf[ko:], vt, gr, dsr, Pq, Pk, K, hs, c, scaled)
			}
		})
		return out
	}
	for i, t := range []*node{dq, dk, dv} {
		lo, hi := 0, nq
		if i > 0 {
			lo, hi = nq+(i-1)*nk, nq+i*nk
		}
		tShape := t.shape
		t.inputs = []*node{fused}
		t.axes = nil
		t.fn = func(ins []*Buffer) *Buffer {
			out := newBuffer(tShape)
			copy(out.flat.([]float32), ins[0].flat.([]float32)[lo:hi])
			return out
		}
	}
}

// attentionGradBlockGo is interp_attention_grad_block in Go (builds without cgo), the same
// operations in the same order, including which masked keys it skips, so it gives the C kernel's
// bits.
func attentionGradBlockGo(q, k, v, dz, p, e, den, dq, dk, dv, vt, g, ds []float32, pq, pk, kd, hs int, c float32, scaled bool) {
	for j := range pk {
		for d := range kd {
			vt[d*pk+j] = v[j*hs+d]
			dk[j*hs+d] = 0
			dv[j*hs+d] = 0
		}
	}
	finite := func(x []float32, rows int) (bool, float32) {
		ok, m := true, float32(0)
		for r := range rows {
			for _, a := range x[r*hs : r*hs+kd] {
				a = float32(math.Abs(float64(a)))
				ok = ok && a <= 3.4e38
				m = max(m, a)
			}
		}
		return ok, m
	}
	okq, _ := finite(q, pq)
	okk, _ := finite(k, pk)
	okv, mv := finite(v, pk)
	okz, mz := finite(dz, pq)
	skip := okq && okk && okv && okz && float64(kd)*float64(pk)*float64(mz)*float64(mv) < 3.4e38/4
	for _, dn := range den[:pq] {
		skip = skip && dn >= 1 && dn <= 3.4e38
	}
	acc := make([]float32, kd)
	for i := range pq {
		dzi, qi, ei, pi := dz[i*hs:i*hs+kd], q[i*hs:i*hs+kd], e[i*pk:(i+1)*pk], p[i*pk:(i+1)*pk]
		lo, hi := 0, pk
		if skip {
			for lo < hi && ei[lo] == 0 {
				lo++
			}
			for hi > lo && ei[hi-1] == 0 {
				hi--
			}
		}
		clear(acc)
		if lo < hi {
			gr, dsr := g[lo:hi], ds[lo:hi]
			clear(gr)
			for d, a := range dzi {
				vd := vt[d*pk+lo : d*pk+hi]
				for j := range gr {
					gr[j] += float32(a * vd[j]) // explicit roundings: no fused multiply-add on any GOARCH
				}
			}
			dn := den[i]
			sq := dn * dn
			var l4 [4]float64 // the float64 sum in 4 interleaved lanes, as the C kernel adds them
			for j := range dsr {
				dsr[j] = -(gr[j] * (ei[lo+j] / sq))
				l4[j%4] += float64(dsr[j])
			}
			t := float32(((l4[0] + l4[1]) + l4[2]) + l4[3])
			for j := range dsr {
				x := (gr[j]/dn + t) * ei[lo+j]
				if scaled {
					x = float32(x) * c
				}
				dsr[j] = x
			}
			for jj, sj := range dsr {
				j := lo + jj
				pj := pi[j]
				kj, dkj, dvj := k[j*hs:j*hs+kd], dk[j*hs:j*hs+kd], dv[j*hs:j*hs+kd]
				for d := range acc {
					acc[d] += float32(sj * kj[d])
					dkj[d] += float32(sj * qi[d])
					dvj[d] += float32(pj * dzi[d])
				}
			}
		}
		copy(dq[i*hs:i*hs+kd], acc)
	}
}
