package fastcpu

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/tensors"
)

// TestExpSubMaxFusedIsExact: a softmax whose exp and sum the gradient reads (a training graph)
// has its max, subtraction and exp fused into one pass; the softmax and its gradient are bit for
// bit the unfused graph's, on rows with -inf entries, a row of -inf only and a row holding a NaN.
// The Go kernel (builds without cgo) gives the C kernel's bits.
func TestExpSubMaxFusedIsExact(t *testing.T) {
	be, err := New("")
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(7, 8))
	const rows, n = 24, 37
	x, w := make([]float32, rows*n), make([]float32, rows*n)
	for i := range x {
		x[i], w[i] = float32(rng.NormFloat64()*4), float32(rng.NormFloat64())
		if i%n > (i/n)%n+3 {
			x[i] = float32(math.Inf(-1))
		}
	}
	for i := range n {
		x[5*n+i] = float32(math.Inf(-1)) // row 5: nothing visible
	}
	x[9*n+4] = float32(math.NaN()) // row 9: a NaN
	run := func(fused bool) ([][]float32, int64) {
		noSoftmaxExpFusion = !fused
		defer func() { noSoftmaxExpFusion = false }()
		before := fusedExpSubMax.Load()
		e := graph.MustNewExec(be, func(a, b *graph.Node) []*graph.Node {
			// graph.Softmax's ops, with the exp also returned.
			ex := graph.Exp(graph.Sub(a, graph.StopGradient(graph.ReduceAndKeep(a, graph.ReduceMax, -1))))
			s := graph.Div(ex, graph.ReduceAndKeep(ex, graph.ReduceSum, -1))
			return []*graph.Node{s, graph.Gradient(graph.ReduceAllSum(graph.Mul(s, b)), a)[0], ex}
		})
		outs := e.MustExec(tensors.FromFlatDataAndDimensions(x, 4, 6, n), tensors.FromFlatDataAndDimensions(w, 4, 6, n))
		var flat [][]float32
		for _, o := range outs {
			flat = append(flat, tensors.MustCopyFlatData[float32](o))
		}
		return flat, fusedExpSubMax.Load() - before
	}
	got, k := run(true)
	if k != 1 {
		t.Fatalf("%d exp(x - max) fused, want 1", k)
	}
	want, _ := run(false)
	same := func(a, b float32) bool {
		return a == b && math.Signbit(float64(a)) == math.Signbit(float64(b)) || a != a && b != b
	}
	for o := range want {
		for i := range want[o] {
			if !same(got[o][i], want[o][i]) {
				t.Fatalf("output %d element %d (row %d): fused %g, unfused %g", o, i, i/n, got[o][i], want[o][i])
			}
		}
	}
	if v := got[2][9*n]; v == v {
		t.Fatalf("the exp of the row holding a NaN gives %g, want NaN", v)
	}
	c, g := make([]float32, len(x)), make([]float32, len(x))
	vexpSubRowMax(x, c, n)
	expSubRowMaxGo(x, g, n)
	for i := range c {
		if !same(c[i], g[i]) {
			t.Fatalf("element %d: kernel %g, Go %g", i, c[i], g[i])
		}
	}
}
