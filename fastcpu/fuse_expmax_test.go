package fastcpu

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/tensors"
)

// TestExpSubMaxFusedIsExact: a softmax whose exp and sum the gradient reads (a training graph)
// has its max, subtraction and exp fused into one pass, with the attention's scale and causal
// mask folded in when they are the scores' own; the exp, the softmax and its gradient are bit for
// bit the unfused graph's, on rows with -inf entries, a row of -inf only and a row holding a NaN.
// The Go kernel (builds without cgo) gives the C kernel's bits.
func TestExpSubMaxFusedIsExact(t *testing.T) {
	be, err := New("")
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(7, 8))
	const b, h, p = 3, 4, 9 // scores [b, h, p, p]
	n := b * h * p * p
	x, w, mask := make([]float32, n), make([]float32, n), make([]float32, p*p)
	for i := range x {
		x[i], w[i] = float32(rng.NormFloat64()*4), float32(rng.NormFloat64())
		if i%p > (i/p)%p+3 {
			x[i] = float32(math.Inf(-1))
		}
	}
	for i := range p {
		x[5*p+i] = float32(math.Inf(-1)) // row 5: nothing visible
	}
	x[9*p+4] = float32(math.NaN()) // row 9: a NaN
	for q := range p {
		for k := range p {
			if k > q {
				mask[q*p+k] = float32(math.Inf(-1))
			}
		}
	}
	same := func(a, b float32) bool {
		return a == b && math.Signbit(float64(a)) == math.Signbit(float64(b)) || a != a && b != b
	}
	for _, tc := range []struct {
		name          string
		scaled, masks bool
	}{{"plain", false, false}, {"scaled", true, false}, {"masked", false, true}, {"scaled and masked", true, true}} {
		run := func(fused bool) ([][]float32, int64, int64) {
			noSoftmaxExpFusion = !fused
			defer func() { noSoftmaxExpFusion = false }()
			before, folded := fusedExpSubMax.Load(), foldedScoreOps.Load()
			e := graph.MustNewExec(be, func(a, wt, m *graph.Node) []*graph.Node {
				s := a
				if tc.scaled {
					s = graph.MulScalar(s, 0.35)
				}
				if tc.masks {
					s = graph.Add(s, graph.Reshape(m, 1, 1, p, p))
				}
				// graph.Softmax's ops, with the exp also returned.
				ex := graph.Exp(graph.Sub(s, graph.StopGradient(graph.ReduceAndKeep(s, graph.ReduceMax, -1))))
				sm := graph.Div(ex, graph.ReduceAndKeep(ex, graph.ReduceSum, -1))
				return []*graph.Node{sm, graph.Gradient(graph.ReduceAllSum(graph.Mul(sm, wt)), a)[0], ex}
			})
			outs := e.MustExec(tensors.FromFlatDataAndDimensions(x, b, h, p, p), tensors.FromFlatDataAndDimensions(w, b, h, p, p),
				tensors.FromFlatDataAndDimensions(mask, p, p))
			var flat [][]float32
			for _, o := range outs {
				flat = append(flat, tensors.MustCopyFlatData[float32](o))
			}
			return flat, fusedExpSubMax.Load() - before, foldedScoreOps.Load() - folded
		}
		got, k, f := run(true)
		wantFolded := int64(0)
		if tc.scaled {
			wantFolded++
		}
		if tc.masks {
			wantFolded++
		}
		if k != 1 || f != wantFolded {
			t.Fatalf("%s: %d exp(x - max) fused with %d ops folded, want 1 with %d", tc.name, k, f, wantFolded)
		}
		want, _, _ := run(false)
		for o := range want {
			for i := range want[o] {
				if !same(got[o][i], want[o][i]) {
					t.Fatalf("%s: output %d element %d (row %d): fused %g, unfused %g", tc.name, o, i, i/p, got[o][i], want[o][i])
				}
			}
		}
		if v := got[2][9*p]; v == v {
			t.Fatalf("%s: the exp of the row holding a NaN gives %g, want NaN", tc.name, v)
		}
	}
	// The kernels alone, from a row in the middle of the mask's period.
	const r0 = 4
	xs := x[r0*p:]
	c, g := make([]float32, len(xs)), make([]float32, len(xs))
	vexpSubRowMax(xs, c, p, 0.35, true, mask, p, r0)
	expSubRowMaxGo(xs, g, p, 0.35, true, mask, p, r0)
	for i := range c {
		if !same(c[i], g[i]) {
			t.Fatalf("element %d: kernel %g, Go %g", i, c[i], g[i])
		}
	}
}
