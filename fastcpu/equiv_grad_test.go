package fastcpu_test

// Gradients: graph.Gradient of a scalar through compositions the model uses (softmax,
// LayerNorm, matmul chains, attention, embeddings, shape ops), with the project's VJPs
// installed (autodiff.Register, autodiff.RegisterSlice), compared across backends. The backward
// graphs exercise ScatterSum, BroadcastInDim, transposed DotGenerals, Concatenate (the Slice
// VJP), Where and the comparison ops.
//
// Tolerance: the loss and every gradient use the reduction rule of equiv_test.go with K the
// largest number of terms any value on the path accumulates (stated per case).

import (
	"fmt"
	"math"
	"testing"

	"github.com/gomlx/gomlx/pkg/core/dtypes"
	"github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/shapes"
)

// gradCase wraps a scalar-loss builder: outputs are the loss and its gradients with respect to
// the first nGrad inputs; the remaining inputs are constants (weights of the loss, indices).
func gradCase(args []arg, nGrad, k int, dt dtypes.DType, loss func(x []*graph.Node) *graph.Node) equivCase {
	tl := tolSum(dt, k)
	return equivCase{
		args: args,
		build: func(_ *graph.Graph, x []*graph.Node) []*graph.Node {
			l := loss(x)
			return append([]*graph.Node{l}, graph.Gradient(l, x[:nGrad]...)...)
		},
		tol: tl,
	}
}

// weighted is sum(y * w): a loss whose gradient wrt y is w (random, so no symmetry hides errors).
func weighted(y, w *graph.Node) *graph.Node { return graph.ReduceAllSum(graph.Mul(y, w)) }

func TestEquivGradients(t *testing.T) {
	r := newRNG(t)
	for _, dt := range []dtypes.DType{f32, f64} {
		v := r.uniform(-1.5, 1.5)
		for i := range 4 {
			// Softmax over a random axis (ReduceMax with StopGradient, Exp, ReduceSum, Div).
			d := r.dims(1, 3, 6)
			axis := r.IntN(len(d))
			c := gradCase([]arg{newArg(dt, d, r.uniform(-3, 3)), newArg(dt, d, v)}, 1, prod(d), dt,
				func(x []*graph.Node) *graph.Node { return weighted(graph.Softmax(x[0], axis), x[1]) })
			t.Run(fmt.Sprintf("Softmax/%s/%02d_%s_axis%d", dtName(dt), i, dimsName(d), axis), func(t *testing.T) { runEquiv(t, c) })

			// LayerNorm as the model writes it, gradients wrt x, scale and bias.
			B, P, D := 1+r.IntN(3), 1+r.IntN(5), 2+r.IntN(12)
			xd, wd := []int{B, P, D}, []int{D}
			c = gradCase([]arg{newArg(dt, xd, r.uniform(-2, 2)), newArg(dt, wd, v), newArg(dt, wd, v), newArg(dt, xd, v)}, 3, B*P*D, dt,
				func(x []*graph.Node) *graph.Node {
					y := graph.Sub(x[0], graph.ReduceAndKeep(x[0], graph.ReduceMean, -1))
					scale := graph.Sqrt(graph.AddScalar(graph.ReduceAndKeep(graph.Square(y), graph.ReduceMean, -1), 1e-5))
					y = graph.Div(y, scale)
					y = graph.Add(graph.Mul(y, graph.ExpandLeftToRank(x[1], 3)), graph.ExpandLeftToRank(x[2], 3))
					return weighted(y, x[3])
				})
			t.Run(fmt.Sprintf("LayerNorm/%s/%02d_%s", dtName(dt), i, dimsName(xd)), func(t *testing.T) { runEquiv(t, c) })

			// MLP: gelu_new(x W1 + b1) W2 -- grads wrt x, W1, b1, W2.
			M, K, H, N := 1+r.IntN(6), 1+r.IntN(9), 1+r.IntN(9), 1+r.IntN(6)
			c = gradCase([]arg{
				newArg(dt, []int{B, M, K}, v), newArg(dt, []int{K, H}, v), newArg(dt, []int{H}, v),
				newArg(dt, []int{H, N}, v), newArg(dt, []int{B, M, N}, v),
			}, 4, B*M*max(K, H, N), dt, func(x []*graph.Node) *graph.Node {
				h := graph.DotGeneral(x[0], []int{2}, nil, x[1], []int{0}, nil)
				h = graph.Add(h, graph.ExpandLeftToRank(x[2], 3))
				inner := graph.MulScalar(graph.Add(h, graph.MulScalar(graph.Mul(h, graph.Square(h)), 0.044715)), math.Sqrt(2/math.Pi))
				h = graph.Mul(graph.MulScalar(h, 0.5), graph.AddScalar(graph.Tanh(inner), 1))
				y := graph.DotGeneral(h, []int{2}, nil, x[3], []int{0}, nil)
				return weighted(y, x[4])
			})
			t.Run(fmt.Sprintf("MLP/%s/%02d_B%dM%dK%dH%dN%d", dtName(dt), i, B, M, K, H, N), func(t *testing.T) { runEquiv(t, c) })

			// Causal attention with per-head weights, as in model.attention: grads wrt x, W_Q,
			// W_K, W_V, W_O.
			nh, dh := 1+r.IntN(3), 1+r.IntN(4)
			dm := 2 + r.IntN(6)
			c = gradCase([]arg{
				newArg(dt, []int{B, P, dm}, v), newArg(dt, []int{dm, nh, dh}, v), newArg(dt, []int{dm, nh, dh}, v),
				newArg(dt, []int{dm, nh, dh}, v), newArg(dt, []int{nh, dh, dm}, v), newArg(dt, []int{B, P, dm}, v),
			}, 5, B*P*dm*nh*dh, dt, func(x []*graph.Node) *graph.Node {
				proj := func(w *graph.Node) *graph.Node { return graph.DotGeneral(x[0], []int{2}, nil, w, []int{0}, nil) }
				q, k, vv := proj(x[1]), proj(x[2]), proj(x[3])                                 // [B, P, H, Dh]
				scores := graph.DotGeneral(q, []int{3}, []int{0, 2}, k, []int{3}, []int{0, 2}) // [B, H, P, P]
				scores = graph.MulScalar(scores, 1/math.Sqrt(float64(dh)))
				sd := scores.Shape().Dimensions
				causal := graph.BroadcastToDims(graph.ExpandLeftToRank(graph.LowerTriangular(scores.Graph(), sd[2]), 4), sd...)
				scores = graph.Where(causal, scores, graph.BroadcastToDims(graph.Infinity(scores.Graph(), scores.DType(), -1), sd...))
				pattern := graph.Softmax(scores, -1)
				z := graph.DotGeneral(pattern, []int{3}, []int{0, 1}, vv, []int{1}, []int{0, 2}) // [B, H, P, Dh]
				z = graph.TransposeAllAxes(z, 0, 2, 1, 3)                                        // [B, P, H, Dh]
				out := graph.DotGeneral(z, []int{2, 3}, nil, x[4], []int{0, 1}, nil)             // [B, P, D]
				return weighted(out, x[5])
			})
			t.Run(fmt.Sprintf("Attention/%s/%02d_B%dP%dD%dH%dDh%d", dtName(dt), i, B, P, dm, nh, dh), func(t *testing.T) { runEquiv(t, c) })

			// The same with the model's additive mask (scores * scale + [1, 1, P, P] of 0 and -inf):
			// in float32 this is the graph whose backward fastcpu fuses (fuseAttentionGrad).
			c = gradCase([]arg{
				newArg(dt, []int{B, P, dm}, v), newArg(dt, []int{dm, nh, dh}, v), newArg(dt, []int{dm, nh, dh}, v),
				newArg(dt, []int{dm, nh, dh}, v), newArg(dt, []int{nh, dh, dm}, v), newArg(dt, []int{B, P, dm}, v),
			}, 5, B*P*dm*nh*dh, dt, func(x []*graph.Node) *graph.Node {
				g := x[0].Graph()
				proj := func(w *graph.Node) *graph.Node { return graph.DotGeneral(x[0], []int{2}, nil, w, []int{0}, nil) }
				q, k, vv := proj(x[1]), proj(x[2]), proj(x[3])
				scores := graph.MulScalar(graph.DotGeneral(q, []int{3}, []int{0, 2}, k, []int{3}, []int{0, 2}), 1/math.Sqrt(float64(dh)))
				mask := graph.Where(graph.LowerTriangular(g, P), graph.BroadcastToDims(graph.ScalarZero(g, dt), P, P),
					graph.BroadcastToDims(graph.Infinity(g, dt, -1), P, P))
				pattern := graph.Softmax(graph.Add(scores, graph.ExpandLeftToRank(mask, 4)), -1)
				z := graph.TransposeAllAxes(graph.DotGeneral(pattern, []int{3}, []int{0, 1}, vv, []int{1}, []int{0, 2}), 0, 2, 1, 3)
				return weighted(graph.DotGeneral(z, []int{2, 3}, nil, x[4], []int{0, 1}, nil), x[5])
			})
			t.Run(fmt.Sprintf("AttentionAddMask/%s/%02d_B%dP%dD%dH%dDh%d", dtName(dt), i, B, P, dm, nh, dh), func(t *testing.T) { runEquiv(t, c) })

			// Embedding lookup (Gather): the gradient wrt the table is a ScatterSum with
			// duplicate indices; positions gathered with an Iota, as the model does.
			V := 1 + r.IntN(8)
			c = gradCase([]arg{
				newArg(dt, []int{V, D}, v), newArg(dt, []int{P, D}, v),
				newArg(i32, []int{B, P, 1}, r.intIn(0, V-1)), newArg(dt, []int{B, P, D}, v),
			}, 2, B*P, dt, func(x []*graph.Node) *graph.Node {
				e := graph.Gather(x[0], x[2])
				pos := graph.Gather(x[1], graph.Iota(x[0].Graph(), shapes.Make(i32, P, 1), 0))
				e = graph.Add(e, graph.BroadcastToDims(graph.InsertAxes(pos, 0), B, P, D))
				return weighted(graph.Tanh(e), x[3])
			})
			t.Run(fmt.Sprintf("Embedding/%s/%02d_V%dD%dB%dP%d", dtName(dt), i, V, D, B, P), func(t *testing.T) { runEquiv(t, c) })

			// Shape ops: unit-stride Slice (VJP: Concatenate), Concatenate, Transpose, Reshape,
			// BroadcastToDims, ReduceMax (VJP: Equal mask), Where.
			d = []int{2 + r.IntN(4), 2 + r.IntN(4), 1 + r.IntN(4)}
			c = gradCase([]arg{newArg(dt, d, r.uniform(-2, 2)), newArg(dt, []int{d[0], d[2]}, v)}, 1, prod(d), dt,
				func(x []*graph.Node) *graph.Node {
					a := graph.Slice(x[0], graph.AxisRange(1), graph.AxisRange(0, d[1]-1))
					b := graph.Slice(x[0], graph.AxisRange(0, d[0]-1), graph.AxisRange(1))
					y := graph.Concatenate([]*graph.Node{a, graph.Neg(b)}, 2) // [d0-1, d1-1, 2*d2]
					y = graph.TransposeAllAxes(y, 1, 0, 2)                    // [d1-1, d0-1, 2*d2]
					y = graph.Reshape(y, (d[1]-1)*(d[0]-1), 2*d[2])           // 2D
					m := graph.ReduceMax(graph.Mul(x[0], x[0]), 1)            // [d0, d2]
					relu := graph.Where(graph.GreaterThan(m, graph.OnesLike(m)), m, graph.ZerosLike(m))
					return graph.Add(graph.ReduceAllSum(graph.Tanh(y)), weighted(relu, x[1]))
				})
			t.Run(fmt.Sprintf("ShapeOps/%s/%02d_%s", dtName(dt), i, dimsName(d)), func(t *testing.T) { runEquiv(t, c) })

			// Elementwise zoo: each op's VJP, on positive inputs where needed (Expm1 and Rsqrt have no VJP in
			// GoMLX v0.26.0).
			d = r.dims(1, 3, 5)
			c = gradCase([]arg{newArg(dt, d, r.uniform(0.2, 2)), newArg(dt, d, r.uniform(-2, 2)), newArg(dt, d, v)}, 2, prod(d), dt,
				func(x []*graph.Node) *graph.Node {
					p, s := x[0], x[1]
					terms := []*graph.Node{
						graph.Exp(s), graph.Log(p), graph.Sqrt(p), graph.Erf(s),
						graph.Logistic(s), graph.Div(s, p), graph.Pow(p, s), graph.Max(s, graph.ZerosLike(s)),
						graph.Min(s, p), graph.Abs(s), graph.Log1p(p), graph.Cos(s), graph.Sin(s),
						graph.Mul(graph.Sign(s), p),
					}
					sum := terms[0]
					for _, tm := range terms[1:] {
						sum = graph.Add(sum, tm)
					}
					return weighted(sum, x[2])
				})
			t.Run(fmt.Sprintf("Elementwise/%s/%02d_%s", dtName(dt), i, dimsName(d)), func(t *testing.T) { runEquiv(t, c) })
		}
	}
}
