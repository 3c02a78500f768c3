package fastcpu

import (
	"math/rand/v2"
	"testing"

	"github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/tensors"
)

// TestBroadcastElidedIsExact compares graphs whose elementwise ops read broadcasts (explicit
// ones, and the ones a gradient makes) with and without the elision, bit for bit, and checks that
// the broadcasts were elided, except one read twice.
func TestBroadcastElidedIsExact(t *testing.T) {
	be, err := New("")
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(5, 6))
	fill := func(n int) []float32 {
		x := make([]float32, n)
		for i := range x {
			x[i] = float32(rng.NormFloat64())
		}
		return x
	}
	x, y, z, w := fill(3*4*5), fill(4), fill(3*4), fill(3*4*5)
	for _, tc := range []struct {
		name   string
		fn     func(in []*graph.Node) []*graph.Node
		elided int64
	}{
		{"prefix", func(in []*graph.Node) []*graph.Node { // y [4] -> [3, 4, 5] along axis 1
			return []*graph.Node{graph.Sub(in[0], graph.ExpandAndBroadcast(in[1], []int{3, 4, 5}, []int{0, 2}))}
		}, 1},
		{"left operand", func(in []*graph.Node) []*graph.Node { // z [3, 4, 1] / x
			return []*graph.Node{graph.Div(graph.BroadcastToDims(graph.Reshape(in[2], 3, 4, 1), 3, 4, 5), in[0])}
		}, 1},
		{"read twice", func(in []*graph.Node) []*graph.Node {
			b := graph.BroadcastToDims(graph.Reshape(in[2], 3, 4, 1), 3, 4, 5)
			return []*graph.Node{graph.Mul(graph.Add(in[0], b), b)}
		}, 0},
		{"gradient", func(in []*graph.Node) []*graph.Node { // softmax and a row-scale, differentiated
			x := in[0]
			s := graph.Softmax(graph.Mul(x, graph.BroadcastToDims(graph.Reshape(in[2], 3, 4, 1), 3, 4, 5)), -1)
			loss := graph.ReduceAllSum(graph.Mul(graph.Sub(s, graph.ReduceAndKeep(x, graph.ReduceMean, -1)), in[3]))
			return graph.Gradient(loss, x, in[2])
		}, -1},
	} {
		run := func(fused bool) ([][]float32, int64) {
			noBroadcastFusion = !fused
			defer func() { noBroadcastFusion = false }()
			before := elidedBroadcasts.Load()
			e := graph.MustNewExec(be, tc.fn)
			outs := e.MustExec(tensors.FromFlatDataAndDimensions(x, 3, 4, 5), tensors.FromFlatDataAndDimensions(y, 4),
				tensors.FromFlatDataAndDimensions(z, 3, 4), tensors.FromFlatDataAndDimensions(w, 3, 4, 5))
			var flat [][]float32
			for _, o := range outs {
				flat = append(flat, tensors.MustCopyFlatData[float32](o))
			}
			return flat, elidedBroadcasts.Load() - before
		}
		got, n := run(true)
		want, _ := run(false)
		if tc.elided >= 0 && n != tc.elided || tc.elided < 0 && n == 0 {
			t.Errorf("%s: %d broadcasts elided, want %d (-1: some)", tc.name, n, tc.elided)
		}
		for k := range want {
			for i := range want[k] {
				if got[k][i] != want[k][i] {
					t.Fatalf("%s: output %d element %d: elided %g, materialised %g", tc.name, k, i, got[k][i], want[k][i])
				}
			}
		}
		t.Logf("%s: %d broadcasts elided", tc.name, n)
	}
}
