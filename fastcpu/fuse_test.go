package fastcpu

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/tensors"
)

// TestSoftmaxGradFusedIsExact differentiates softmax over the last axis (masked with -inf, as the
// attention scores are) and compares the fused gradient with the unfused ops bit for bit; the
// pattern must have matched. A softmax over another axis is left unfused.
func TestSoftmaxGradFusedIsExact(t *testing.T) {
	be, err := New("")
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	dims := []int{3, 4, 7, 9}
	n := 3 * 4 * 7 * 9
	x, w := make([]float32, n), make([]float32, n)
	for i := range x {
		x[i], w[i] = float32(rng.NormFloat64()*3), float32(rng.NormFloat64())
		if i%9 > (i/9)%7+2 { // a causal-style mask: some -inf entries
			x[i] = float32(math.Inf(-1))
		}
	}
	run := func(fused bool, axis int) []float32 {
		noFusion = !fused
		defer func() { noFusion = false }()
		e := graph.MustNewExec(be, func(a, b *graph.Node) *graph.Node {
			loss := graph.ReduceAllSum(graph.Mul(graph.Softmax(a, axis), b))
			return graph.Gradient(loss, a)[0]
		})
		return tensors.MustCopyFlatData[float32](e.MustExec(tensors.FromFlatDataAndDimensions(x, dims...), tensors.FromFlatDataAndDimensions(w, dims...))[0])
	}
	before := fusedSoftmaxGrads.Load()
	got := run(true, -1)
	if fusedSoftmaxGrads.Load() != before+1 {
		t.Fatalf("the softmax gradient over the last axis was not fused")
	}
	want := run(false, -1)
	for i := range want {
		if got[i] != want[i] && !(got[i] != got[i] && want[i] != want[i]) {
			t.Fatalf("element %d: fused %g, unfused %g", i, got[i], want[i])
		}
	}
	if slices.Equal(got, make([]float32, n)) {
		t.Fatal("the gradient is all zeros")
	}
	before = fusedSoftmaxGrads.Load()
	run(true, 1)
	if fusedSoftmaxGrads.Load() != before {
		t.Error("a softmax over axis 1 was fused")
	}
}
