package fastcpu

import (
	"math/rand/v2"
	"testing"

	"github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/tensors"
)

// normGraph is model.Normalize's computation: LayerNorm (centred, with bias) or RMSNorm over the
// last axis; with extra it also returns the centred input (or the scale for RMSNorm), an
// intermediate a hook could read.
func normGraph(layerNorm, extra bool) func(x, w, b *graph.Node) []*graph.Node {
	return func(x, w, b *graph.Node) []*graph.Node {
		r := x.Rank()
		if layerNorm {
			x = graph.Sub(x, graph.ReduceAndKeep(x, graph.ReduceMean, -1))
		}
		scale := graph.Sqrt(graph.AddScalar(graph.ReduceAndKeep(graph.Square(x), graph.ReduceMean, -1), 1e-5))
		y := graph.Mul(graph.Div(x, scale), graph.ExpandLeftToRank(w, r))
		if layerNorm {
			y = graph.Add(y, graph.ExpandLeftToRank(b, r))
		}
		if extra {
			if layerNorm {
				return []*graph.Node{y, x}
			}
			return []*graph.Node{y, scale}
		}
		return []*graph.Node{y}
	}
}

// TestNormFusedIsExact compares the fused LayerNorm and RMSNorm with the unfused ops bit for bit,
// on rows of several lengths with a large mean (which centring must remove first), and checks
// that the pattern matched once per norm. An RMSNorm whose scale is also an output stays unfused;
// a LayerNorm whose centred input is also an output has only its normalisation of that input
// fused (an RMSNorm of it, plus the bias), still exact.
func TestNormFusedIsExact(t *testing.T) {
	be, err := New("")
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(3, 4))
	for _, layerNorm := range []bool{true, false} {
		for _, n := range []int{1, 7, 64, 768} {
			rows := 15
			x, w, b := make([]float32, rows*n), make([]float32, n), make([]float32, n)
			for i := range x {
				x[i] = float32(rng.NormFloat64()*3 + 40)
			}
			for i := range w {
				w[i], b[i] = float32(1+rng.NormFloat64()*0.3), float32(rng.NormFloat64())
			}
			run := func(fused, extra bool) []float32 {
				noFusion = !fused
				defer func() { noFusion = false }()
				e := graph.MustNewExec(be, normGraph(layerNorm, extra))
				return tensors.MustCopyFlatData[float32](e.MustExec(tensors.FromFlatDataAndDimensions(x, 3, 5, n),
					tensors.FromFlatDataAndDimensions(w, n), tensors.FromFlatDataAndDimensions(b, n))[0])
			}
			before := fusedNorms.Load()
			got := run(true, false)
			if fusedNorms.Load() != before+1 {
				t.Fatalf("layerNorm %v, n %d: the norm was not fused", layerNorm, n)
			}
			want := run(false, false)
			for i := range want {
				if got[i] != want[i] {
					t.Fatalf("layerNorm %v, n %d, element %d: fused %g, unfused %g", layerNorm, n, i, got[i], want[i])
				}
			}
			if n > 1 && got[0] == got[1] && got[1] == got[2] {
				t.Fatalf("layerNorm %v, n %d: constant output %v", layerNorm, n, got[:3])
			}
			before = fusedNorms.Load()
			got = run(true, true)
			wantFused := int64(0)
			if layerNorm {
				wantFused = 1
			}
			if d := fusedNorms.Load() - before; d != wantFused {
				t.Fatalf("layerNorm %v, n %d: %d fused with an intermediate as an output, want %d", layerNorm, n, d, wantFused)
			}
			for i := range want {
				if got[i] != want[i] {
					t.Fatalf("layerNorm %v, n %d, element %d, intermediate an output: fused %g, unfused %g", layerNorm, n, i, got[i], want[i])
				}
			}
		}
	}
}
