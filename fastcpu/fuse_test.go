package fastcpu

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/pkg/core/dtypes"
	"github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/shapes"
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

// TestScaledSoftmaxGradFusedIsExact: the gradient of softmax(a * c) multiplies the softmax's
// gradient by c; that product joins the fused softmax gradient's pass, bit for bit the unfused
// graph's. The Go kernel (builds without cgo) gives the C kernel's bits, scaled or not.
func TestScaledSoftmaxGradFusedIsExact(t *testing.T) {
	be, err := New("")
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(3, 9))
	dims := []int{2, 5, 8, 8}
	n := 2 * 5 * 8 * 8
	x, w := make([]float32, n), make([]float32, n)
	for i := range x {
		x[i], w[i] = float32(rng.NormFloat64()*3), float32(rng.NormFloat64())
		if i%8 > (i/8)%8 {
			x[i] = float32(math.Inf(-1))
		}
	}
	run := func(fused bool) []float32 {
		noFusion = !fused
		defer func() { noFusion = false }()
		e := graph.MustNewExec(be, func(a, b *graph.Node) *graph.Node {
			return graph.Gradient(graph.ReduceAllSum(graph.Mul(graph.Softmax(graph.MulScalar(a, 0.3), -1), b)), a)[0]
		})
		return tensors.MustCopyFlatData[float32](e.MustExec(tensors.FromFlatDataAndDimensions(x, dims...), tensors.FromFlatDataAndDimensions(w, dims...))[0])
	}
	before := scaledSoftmaxGrads.Load()
	got := run(true)
	if scaledSoftmaxGrads.Load() != before+1 {
		t.Fatal("the scale was not folded into the softmax gradient")
	}
	want := run(false)
	for i := range want {
		if got[i] != want[i] && !(got[i] != got[i] && want[i] != want[i]) {
			t.Fatalf("element %d: fused %g, unfused %g", i, got[i], want[i])
		}
	}
	// The kernels alone: softmax-like e and its row sums s.
	e, s := make([]float32, n), make([]float32, n/8)
	for i := range e {
		e[i] = float32(rng.Float64())
		s[i/8] += e[i]
	}
	for _, scaled := range []bool{false, true} {
		c, g := make([]float32, n), make([]float32, n)
		vsoftmaxGradRows(c, w, e, s, 8, 0.3, scaled)
		softmaxGradRowsGo(g, w, e, s, 8, 0.3, scaled)
		for i := range c {
			if c[i] != g[i] {
				t.Fatalf("scaled %v, element %d: kernel %g, Go %g", scaled, i, c[i], g[i])
			}
		}
	}
}

// TestAttentionFused builds attention as the model does (scores, scale, causal or windowed -inf
// mask, softmax, pattern x v) and checks that the fused kernel replaces it when nothing reads
// the intermediates, and that it agrees with the unfused ops within the rounding bound of the
// reordered sums: the scores' dot products over K terms differ by at most K u sum_d |q_d k_d|
// times the scale, which moves a softmax output by at most twice that relative to itself, and
// the pattern x v sum over Pk terms by Pk u sum_j p_j |v_j| (u = 2^-24; each term doubled for
// the unfused side's own rounding). When the pattern is also an output, nothing is fused.
func TestAttentionFused(t *testing.T) {
	be, err := New("")
	if err != nil {
		t.Fatal(err)
	}
	for _, K := range []int{5, 8, 16} { // 8 and 16 take the kernel's fixed-width path
		t.Run(fmt.Sprintf("K=%d", K), func(t *testing.T) { testAttentionFused(t, be, K) })
	}
}

func testAttentionFused(t *testing.T, be backends.Backend, K int) {
	const B, P, H = 2, 11, 3
	rng := rand.New(rand.NewPCG(3, uint64(K)))
	randn := func(n int, sd float64) []float32 {
		x := make([]float32, n)
		for i := range x {
			x[i] = float32(rng.NormFloat64() * sd)
		}
		return x
	}
	q, k, v := randn(B*P*H*K, 2), randn(B*P*H*K, 2), randn(B*P*H*K, 1)
	for _, c := range []struct {
		name   string
		scale  float64
		window int // 0: causal only
	}{{"scaled causal", 1 / math.Sqrt(float64(K)), 0}, {"unscaled causal", 1, 0}, {"scaled local window 4", 0.5, 4}, {"nothing visible", 0.5, -1}} {
		t.Run(c.name, func(t *testing.T) {
			build := func(withPattern bool) func(q, k, v *graph.Node) []*graph.Node {
				return func(q, k, v *graph.Node) []*graph.Node {
					g := q.Graph()
					visible := graph.LowerTriangular(g, P)
					if c.window != 0 { // -1: a window that shows no key at all
						qi := graph.Iota(g, shapes.Make(dtypes.Int32, P, P), 0)
						si := graph.Iota(g, shapes.Make(dtypes.Int32, P, P), 1)
						visible = graph.LogicalAnd(visible, graph.LessThan(graph.Sub(qi, si), graph.Scalar(g, dtypes.Int32, c.window)))
					}
					mask := graph.Where(visible, graph.BroadcastToDims(graph.ScalarZero(g, dtypes.Float32), P, P),
						graph.BroadcastToDims(graph.Infinity(g, dtypes.Float32, -1), P, P))
					scores := graph.DotGeneral(q, []int{3}, []int{0, 2}, k, []int{3}, []int{0, 2})
					if c.scale != 1 {
						scores = graph.MulScalar(scores, c.scale)
					}
					pattern := graph.Softmax(graph.Add(scores, graph.ExpandLeftToRank(mask, 4)), -1)
					z := graph.DotGeneral(pattern, []int{3}, []int{0, 1}, v, []int{1}, []int{0, 2})
					if withPattern {
						return []*graph.Node{z, pattern}
					}
					return []*graph.Node{z}
				}
			}
			run := func(fused, withPattern bool) []float32 {
				noFusion = !fused
				defer func() { noFusion = false }()
				e := graph.MustNewExec(be, build(withPattern))
				return tensors.MustCopyFlatData[float32](e.MustExec(tensors.FromFlatDataAndDimensions(q, B, P, H, K),
					tensors.FromFlatDataAndDimensions(k, B, P, H, K), tensors.FromFlatDataAndDimensions(v, B, P, H, K))[0])
			}
			before := fusedAttentions.Load()
			got := run(true, false)
			if fusedAttentions.Load() != before+1 {
				t.Fatal("the attention block was not fused")
			}
			want := run(false, false)
			before = fusedAttentions.Load()
			hooked := run(true, true) // the softmax alone is fused, the attention is not
			if fusedAttentions.Load() != before {
				t.Fatal("attention was fused although the pattern is an output")
			}
			if c.window < 0 {
				for i := range want {
					if !math.IsNaN(float64(want[i])) || !math.IsNaN(float64(got[i])) || !math.IsNaN(float64(hooked[i])) {
						t.Fatalf("element %d with no visible key: fused %g, unfused %g, want NaN", i, got[i], want[i])
					}
				}
				return
			}
			const u = 1.0 / (1 << 24)
			for b := range B {
				for h := range H {
					for i := range P {
						// The pattern row in float64, and the scores' rounding bound of the row.
						s := make([]float64, P)
						var maxAbsDot float64
						for j := range P {
							var dot, abs float64
							for d := range K {
								x := float64(q[((b*P+i)*H+h)*K+d]) * float64(k[((b*P+j)*H+h)*K+d])
								dot, abs = dot+x, abs+math.Abs(x)
							}
							s[j] = dot * c.scale
							if j > i || (c.window > 0 && i-j >= c.window) {
								s[j] = math.Inf(-1)
							} else {
								maxAbsDot = max(maxAbsDot, abs*c.scale)
							}
						}
						m := math.Inf(-1)
						for _, x := range s {
							m = max(m, x)
						}
						var sum float64
						for j := range s {
							s[j] = math.Exp(s[j] - m)
							sum += s[j]
						}
						for d := range K {
							var pv float64
							for j := range P {
								pv += s[j] / sum * math.Abs(float64(v[((b*P+j)*H+h)*K+d]))
							}
							bound := 2 * (2*float64(K)*u*maxAbsDot*2 + 2*P*u + 8*u) * pv
							idx := ((b*H+h)*P+i)*K + d
							for _, x := range []float32{got[idx], hooked[idx]} {
								if diff := math.Abs(float64(x) - float64(want[idx])); diff > bound || math.IsNaN(float64(x)) {
									t.Fatalf("z[%d,%d,%d,%d]: fused %g (softmax alone fused: %g), unfused %g (difference %.3g, bound %.3g)",
										b, h, i, d, got[idx], hooked[idx], want[idx], diff, bound)
								}
							}
						}
					}
				}
			}
		})
	}
}
