package fastcpu

import (
	"testing"

	"github.com/gomlx/gomlx/pkg/core/dtypes"
	"github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/tensors"

	"github.com/interp-dev/interp/autodiff"
)

// BenchmarkAttention: causal attention of the toy model's shape (batch 32, 64 positions, 8 heads
// of 8), as the model builds it, with the attention fused into one kernel per (batch, head) and
// with only the softmax fused (what a hook on the scores or the pattern gets):
//
//	go test ./fastcpu -run '^$' -bench Attention
func BenchmarkAttention(b *testing.B) {
	be, err := New("")
	if err != nil {
		b.Fatal(err)
	}
	const B, P, H, K = 32, 64, 8, 8
	for _, fused := range []bool{true, false} {
		b.Run(map[bool]string{true: "fused", false: "softmax-only"}[fused], func(b *testing.B) {
			noAttentionFusion = !fused
			defer func() { noAttentionFusion = false }()
			e := graph.MustNewExec(be, func(q, k, v *graph.Node) *graph.Node {
				g := q.Graph()
				mask := graph.Where(graph.LowerTriangular(g, P), graph.BroadcastToDims(graph.ScalarZero(g, dtypes.Float32), P, P),
					graph.BroadcastToDims(graph.Infinity(g, dtypes.Float32, -1), P, P))
				scores := graph.MulScalar(graph.DotGeneral(q, []int{3}, []int{0, 2}, k, []int{3}, []int{0, 2}), 0.35)
				pattern := graph.Softmax(graph.Add(scores, graph.ExpandLeftToRank(mask, 4)), -1)
				return graph.DotGeneral(pattern, []int{3}, []int{0, 1}, v, []int{1}, []int{0, 2})
			})
			q, k, v := benchQKV(B, P, H, K, 0), benchQKV(B, P, H, K, 1), benchQKV(B, P, H, K, 2)
			e.MustExec(q, k, v)[0].FinalizeAll() // compile
			b.ResetTimer()
			for b.Loop() {
				e.MustExec(q, k, v)[0].FinalizeAll()
			}
		})
	}
}

// BenchmarkAttentionGrad: the gradient of the same causal attention (transposed back to the
// model's [B,P,H,K] and weighted, as the model's output projection reads it) with respect to q,
// k and v, with the backward fused into one kernel per (batch, head) and unfused (the matmuls
// and the fused softmax gradient; INTERP_NO_ATTENTION_GRAD_FUSION=1):
//
//	go test ./fastcpu -run '^$' -bench AttentionGrad
func BenchmarkAttentionGrad(b *testing.B) {
	autodiff.Register()
	be, err := New("")
	if err != nil {
		b.Fatal(err)
	}
	const B, P, H, K = 32, 64, 8, 8
	for _, fused := range []bool{true, false} {
		b.Run(map[bool]string{true: "fused", false: "unfused"}[fused], func(b *testing.B) {
			noAttentionGradFusion = !fused
			defer func() { noAttentionGradFusion = false }()
			e := graph.MustNewExec(be, func(q, k, v, w *graph.Node) []*graph.Node {
				g := q.Graph()
				mask := graph.Where(graph.LowerTriangular(g, P), graph.BroadcastToDims(graph.ScalarZero(g, dtypes.Float32), P, P),
					graph.BroadcastToDims(graph.Infinity(g, dtypes.Float32, -1), P, P))
				scores := graph.MulScalar(graph.DotGeneral(q, []int{3}, []int{0, 2}, k, []int{3}, []int{0, 2}), 0.35)
				pattern := graph.Softmax(graph.Add(scores, graph.ExpandLeftToRank(mask, 4)), -1)
				z := graph.TransposeAllDims(graph.DotGeneral(pattern, []int{3}, []int{0, 1}, v, []int{1}, []int{0, 2}), 0, 2, 1, 3)
				return graph.Gradient(graph.ReduceAllSum(graph.Mul(z, w)), q, k, v)
			})
			q, k, v, w := benchQKV(B, P, H, K, 0), benchQKV(B, P, H, K, 1), benchQKV(B, P, H, K, 2), benchQKV(B, P, H, K, 3)
			run := func() {
				for _, o := range e.MustExec(q, k, v, w) {
					o.FinalizeAll()
				}
			}
			run() // compile
			b.ResetTimer()
			for b.Loop() {
				run()
			}
		})
	}
}

// benchQKV is a deterministic [B, P, H, K] input for the attention benchmarks.
func benchQKV(B, P, H, K, seed int) *tensors.Tensor {
	d := make([]float32, B*P*H*K)
	for i := range d {
		d[i] = float32((i*7+seed)%13) * 0.1
	}
	return tensors.FromFlatDataAndDimensions(d, B, P, H, K)
}
