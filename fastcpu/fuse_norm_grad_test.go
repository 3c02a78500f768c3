package fastcpu

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/tensors"
)

// TestNormGradFusedIsExact differentiates LayerNorm and RMSNorm as the model writes them
// (normGraph) through sum(y * g), with respect to x, w and b, and compares the fused backward
// with the unfused ops bit for bit. With residual, x is also read by sum(x * g2), so its gradient
// has a second part that GoMLX adds between the norm's two (the residual stream's case). Rows of
// 2, 7, 64 and 768, with a large mean; the pattern must match once per norm.
func TestNormGradFusedIsExact(t *testing.T) {
	be, err := New("")
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(5, 6))
	for _, layerNorm := range []bool{true, false} {
		for _, residual := range []bool{false, true} {
			for _, n := range []int{2, 7, 64, 768} { // (rows of 1 take no broadcasts or row sums: another graph)
				name := fmt.Sprintf("layerNorm=%v/residual=%v/n=%d", layerNorm, residual, n)
				rows := 15
				randn := func(k int, mean, sd float64) []float32 {
					x := make([]float32, k)
					for i := range x {
						x[i] = float32(mean + rng.NormFloat64()*sd)
					}
					return x
				}
				x, w, b := randn(rows*n, 40, 3), randn(n, 1, 0.3), randn(n, 0, 1)
				g, g2 := randn(rows*n, 0, 1), randn(rows*n, 0, 1)
				run := func(fused bool) [3][]float32 {
					noFusion = !fused
					defer func() { noFusion = false }()
					e := graph.MustNewExec(be, func(x, w, b, g, g2 *graph.Node) []*graph.Node {
						y := normGraph(layerNorm, false)(x, w, b)[0]
						loss := graph.ReduceAllSum(graph.Mul(y, g))
						if residual {
							loss = graph.Add(loss, graph.ReduceAllSum(graph.Mul(x, g2)))
						}
						grads := graph.Gradient(loss, x, w, b)
						if !layerNorm {
							grads[2] = graph.ZerosLike(b) // b is unused
						}
						return grads
					})
					outs := e.MustExec(tensors.FromFlatDataAndDimensions(x, 3, 5, n), tensors.FromFlatDataAndDimensions(w, n),
						tensors.FromFlatDataAndDimensions(b, n), tensors.FromFlatDataAndDimensions(g, 3, 5, n),
						tensors.FromFlatDataAndDimensions(g2, 3, 5, n))
					var r [3][]float32
					for i := range r {
						r[i] = tensors.MustCopyFlatData[float32](outs[i])
					}
					return r
				}
				before := fusedNormGrads.Load()
				got := run(true)
				if fusedNormGrads.Load() != before+1 {
					t.Fatalf("%s: the norm's backward was not fused", name)
				}
				want := run(false)
				for k := range got {
					for i := range want[k] {
						if math.Float32bits(got[k][i]) != math.Float32bits(want[k][i]) {
							t.Fatalf("%s: gradient %d element %d: fused %g, unfused %g", name, k, i, got[k][i], want[k][i])
						}
					}
				}
				if n > 2 && got[0][0] == got[0][1] && got[0][1] == got[0][2] {
					t.Fatalf("%s: constant gradient %v", name, got[0][:3])
				}
			}
		}
	}
}
