package fastcpu

import (
	"fmt"
	"math"
	"slices"

	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/pkg/core/dtypes"
)

// Fused attention (forward). The model's attention reaches the backend as
//
//	scores  = DotGeneral(q [B,Pq,H,K], k [B,Pk,H,K]; contract K, batch B,H) -> [B,H,Pq,Pk]
//	scaled  = Mul(scores, scalar)            (absent when the scale is 1)
//	masked  = Add(scaled, mask [1,1,Pq,Pk])  (0 or -inf)
//	pattern = softmax(masked) over Pk        (already fused into one node by fuseSoftmax)
//	z       = DotGeneral(pattern, v [B,Pk,H,K]; contract Pk, batch B,H) -> [B,H,Pq,K]
//
// When nothing else reads scores, scaled, masked or pattern (no hook caches or replaces them:
// a hooked intermediate is a graph output, and a replaced pattern is not the softmax's), z's node
// is rewritten to compute all of it block by block, one (batch, head) at a time, with the
// [Pq, Pk] scores of a block in cache: the [B,H,Pq,Pk] tensors are never written, and q, k and v
// are read in place (no transposes). Training graphs, whose gradient reads the pattern, keep the
// unfused ops. The scores' sums run in another order than the matmul's, so results agree with
// the unfused graph to float32 rounding, not bit for bit (TestAttentionFused).

func fuseAttention(pv *node, consumers map[*node]int) {
	if noAttentionFusion || pv.op != backends.OpTypeDotGeneral || pv.shape.DType != dtypes.Float32 || pv.shape.Rank() != 4 ||
		!pv.dot.is([]int{3}, []int{0, 1}, []int{1}, []int{0, 2}) {
		return
	}
	sm, v := pv.inputs[0], pv.inputs[1]
	if sm.softmaxOf == nil || consumers[sm] != 1 {
		return
	}
	masked := sm.softmaxOf
	if masked.op != backends.OpTypeAdd || consumers[masked] != 2 { // the softmax's max and subtraction
		return
	}
	scaled, mask := masked.inputs[0], masked.inputs[1]
	var scale *node
	qk := scaled
	if scaled.op == backends.OpTypeMul {
		if consumers[scaled] != 1 || scaled.inputs[1].shape.Rank() != 0 {
			return
		}
		qk, scale = scaled.inputs[0], scaled.inputs[1]
	}
	if qk.op != backends.OpTypeDotGeneral || consumers[qk] != 1 || !qk.dot.is([]int{3}, []int{0, 2}, []int{3}, []int{0, 2}) {
		return
	}
	q, k := qk.inputs[0], qk.inputs[1]
	qd, kd, vd, sd := q.shape.Dimensions, k.shape.Dimensions, v.shape.Dimensions, masked.shape.Dimensions
	B, Pq, H, K, Pk := qd[0], qd[1], qd[2], qd[3], kd[1]
	if q.shape.DType != dtypes.Float32 || k.shape.DType != dtypes.Float32 || v.shape.DType != dtypes.Float32 ||
		mask.shape.DType != dtypes.Float32 || (scale != nil && scale.shape.DType != dtypes.Float32) ||
		!slices.Equal(kd, []int{B, Pk, H, K}) || !slices.Equal(vd, []int{B, Pk, H, K}) ||
		!slices.Equal(sd, []int{B, H, Pq, Pk}) || !slices.Equal(mask.shape.Dimensions, []int{1, 1, Pq, Pk}) ||
		!slices.Equal(pv.shape.Dimensions, []int{B, H, Pq, K}) || Pq == 0 || Pk == 0 || K == 0 {
		return
	}
	shape := pv.shape
	fusedAttentions.Add(1)
	if debugFuse {
		fmt.Println("fused attention", pv.id, pv.shape)
	}
	if scale == nil {
		pv.inputs = []*node{q, k, mask, v}
	} else {
		pv.inputs = []*node{q, k, mask, v, scale}
	}
	pv.fn = func(ins []*Buffer) *Buffer {
		out := newBuffer(shape)
		qf, kf, mf, vf := ins[0].flat.([]float32), ins[1].flat.([]float32), ins[2].flat.([]float32), ins[3].flat.([]float32)
		var sc float32 = 1
		if len(ins) == 5 {
			sc = ins[4].flat.([]float32)[0]
		}
		zf := out.flat.([]float32)
		parallelFor(B*H, 1, func(lo, hi int) {
			kt, vt, s := make([]float32, K*Pk), make([]float32, K*Pk), make([]float32, Pk)
			for blk := lo; blk < hi; blk++ {
				b, h := blk/H, blk%H
				attentionBlock(qf[(b*Pq*H+h)*K:], kf[(b*Pk*H+h)*K:], vf[(b*Pk*H+h)*K:], mf, zf[blk*Pq*K:(blk+1)*Pq*K],
					kt, vt, s, Pq, Pk, K, H*K, H*K, H*K, sc, len(ins) == 5)
			}
		})
		return out
	}
}

// attentionBlockGo is interp_attention_block in Go (builds without cgo), in the same order but
// with plain (not lane-split) reductions.
func attentionBlockGo(q, k, v, mask, z, kt, vt, s []float32, pq, pk, dk, qs, ks, vs int, scale float32, scaled bool) {
	for j := range pk {
		for d := range dk {
			kt[d*pk+j] = k[j*ks+d]
			vt[d*pk+j] = v[j*vs+d]
		}
	}
	negInf := float32(math.Inf(-1))
	for i := range pq {
		qi, mi, zi := q[i*qs:i*qs+dk], mask[i*pk:(i+1)*pk], z[i*dk:(i+1)*dk]
		lo, hi := 0, pk
		for lo < hi && mi[lo] == negInf {
			lo++
		}
		for hi > lo && mi[hi-1] == negInf {
			hi--
		}
		if lo == hi {
			for d := range zi {
				zi[d] = float32(math.NaN())
			}
			continue
		}
		hi = min(pk, lo+(hi-lo+15)&^15) // as the C kernel: whole groups of 16 keys, the extra ones masked
		row := s[:hi-lo]
		clear(row)
		for d, a := range qi {
			kd := kt[d*pk+lo : d*pk+hi]
			for j := range row {
				row[j] += a * kd[j]
			}
		}
		for j := range row {
			if scaled {
				row[j] = row[j]*scale + mi[lo+j]
			} else {
				row[j] += mi[lo+j]
			}
		}
		m := row[0]
		for _, x := range row[1:] {
			if x > m {
				m = x
			}
		}
		var sum float32
		for j, x := range row {
			row[j] = expF32(x - m)
			sum += row[j]
		}
		inv := 1 / sum
		for j := range row {
			row[j] *= inv
		}
		for d := range zi {
			vd := vt[d*pk+lo : d*pk+hi]
			var acc float32
			for j, p := range row {
				acc += p * vd[j]
			}
			zi[d] = acc
		}
	}
}

// FusedAttentions is the number of attention blocks the fusion pass has fused in this process
// (tests in other packages check which graphs were fused).
func FusedAttentions() int64 { return fusedAttentions.Load() }
