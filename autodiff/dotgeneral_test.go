package autodiff

import (
	"fmt"
	"math"
	"math/rand/v2"
	"reflect"
	"sync"
	"testing"

	"github.com/gomlx/gomlx/backends"
	_ "github.com/gomlx/gomlx/backends/simplego"
	"github.com/gomlx/gomlx/pkg/core/dtypes"
	"github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/shapes"
	"github.com/gomlx/gomlx/pkg/core/tensors"
)

// testBackend is the backend shared by the numerical tests: the deadlock-free "go:ops_sequential" (not the
// parallel executor of SafeGoBackendConfig, so that `go test -race` stays clean; the numbers are the same).
var testBackend = sync.OnceValue(func() backends.Backend {
	b, err := backends.NewWithConfig(LowMemorySafeGoBackendConfig())
	if err != nil {
		panic(err)
	}
	return b
})

func newBackend(tb testing.TB, config string) backends.Backend {
	tb.Helper()
	b, err := backends.NewWithConfig(config)
	if err != nil {
		tb.Fatalf("backends.NewWithConfig(%q): %v", config, err)
	}
	return b
}

// withVJP runs fn with graph.VJPRegistration[DotGeneral] temporarily set to vjp.
// Not safe for parallel tests (it mutates a global map): tests in this package don't use t.Parallel.
func withVJP(vjp graph.VJP, fn func()) {
	saved := graph.VJPRegistration[graph.NodeTypeDotGeneral]
	graph.VJPRegistration[graph.NodeTypeDotGeneral] = vjp
	defer func() { graph.VJPRegistration[graph.NodeTypeDotGeneral] = saved }()
	fn()
}

// runGraph builds a graph with one parameter per input, compiles the nodes returned by build as outputs,
// and runs it.
func runGraph(tb testing.TB, backend backends.Backend, build func(g *graph.Graph, params []*graph.Node) []*graph.Node,
	inputs ...*tensors.Tensor) []*tensors.Tensor {
	tb.Helper()
	g := graph.NewGraph(backend, "test")
	defer g.Finalize()
	params := make([]*graph.Node, len(inputs))
	args := make([]any, len(inputs))
	for i, in := range inputs {
		params[i] = graph.Parameter(g, fmt.Sprintf("p%d", i), in.Shape())
		args[i] = in
	}
	outs := build(g, params)
	g.Compile(outs...)
	return g.Run(args...)
}

type dotLayout struct {
	name                  string
	lhsDims               []int
	lhsContract, lhsBatch []int
	rhsDims               []int
	rhsContract, rhsBatch []int
}

// layouts covers the axis layouts the VJP must handle.
var layouts = []dotLayout{
	{"matmul", []int{3, 4}, []int{1}, nil, []int{4, 5}, []int{0}, nil},
	{"matmul_negative_axes", []int{3, 4}, []int{-1}, nil, []int{4, 5}, []int{-2}, nil},
	{"matmul_rhs_transposed", []int{3, 4}, []int{1}, nil, []int{5, 4}, []int{1}, nil},
	{"matmul_lhs_transposed", []int{4, 3}, []int{0}, nil, []int{4, 5}, []int{0}, nil},
	{"matmul_both_transposed", []int{4, 3}, []int{0}, nil, []int{5, 4}, []int{1}, nil},
	{"batched_matmul", []int{2, 3, 4}, []int{2}, []int{0}, []int{2, 4, 5}, []int{1}, []int{0}},
	{"batch_not_leading", []int{3, 2, 4}, []int{2}, []int{1}, []int{4, 5, 2}, []int{0}, []int{2}},
	{"multi_contracting_unsorted_pairing", []int{3, 4, 2}, []int{1, 2}, nil, []int{2, 5, 4}, []int{2, 0}, nil},
	// einsum "bphk,hkd->bpd": b=2, p=3, h=4, k=5, d=6.
	{"einsum_bphk_hkd_bpd", []int{2, 3, 4, 5}, []int{2, 3}, nil, []int{4, 5, 6}, []int{0, 1}, nil},
	// einsum "bqhk,bkhd->bhqd": batch over (b,h), contract k.
	{"einsum_bqhk_bkhd_bhqd", []int{2, 3, 4, 5}, []int{3}, []int{0, 2}, []int{2, 5, 4, 6}, []int{1}, []int{0, 2}},
	// Same, with the batch axes listed in reverse order: output "hbqd".
	{"einsum_bqhk_bkhd_hbqd", []int{2, 3, 4, 5}, []int{3}, []int{2, 0}, []int{2, 5, 4, 6}, []int{1}, []int{2, 0}},
	// Attention scores "bqhd,bkhd->bhqk".
	{"attention_scores", []int{2, 3, 2, 4}, []int{3}, []int{0, 2}, []int{2, 5, 2, 4}, []int{3}, []int{0, 2}},
	{"vector_dot", []int{5}, []int{0}, nil, []int{5}, []int{0}, nil},
	{"outer_product", []int{3}, nil, nil, []int{4}, nil, nil},
	{"matrix_vector", []int{3, 4}, []int{1}, nil, []int{4}, []int{0}, nil},
	{"vector_matrix", []int{4}, []int{0}, nil, []int{4, 5}, []int{0}, nil},
	{"batch_only_elementwise", []int{2, 3}, nil, []int{0, 1}, []int{2, 3}, nil, []int{0, 1}},
	{"batch_and_contract_no_cross", []int{2, 3}, []int{1}, []int{0}, []int{3, 2}, []int{0}, []int{1}},
	// Everything mixed: lhs [2,3,4,5] contract (3,1) batch 2; rhs [3,4,6,5] contract (3,0) batch 1.
	{"mixed", []int{2, 3, 4, 5}, []int{3, 1}, []int{2}, []int{3, 4, 6, 5}, []int{3, 0}, []int{1}},
	{"scalar_operands", []int{}, nil, nil, []int{}, nil, nil},
	{"multi_cross_both_sides", []int{2, 3, 4}, []int{1}, nil, []int{5, 3, 6}, []int{1}, nil},
	// lhs [2,3,4,5,6] contract (4,1) batch 2; rhs [6,4,7,3,2] contract (0,3) batch 1 -> out [4, 2,5, 7,2].
	{"kitchen_sink", []int{2, 3, 4, 5, 6}, []int{4, 1}, []int{2}, []int{6, 4, 7, 3, 2}, []int{0, 3}, []int{1}},
}

func randomTensor[T float32 | float64](rng *rand.Rand, dims []int) *tensors.Tensor {
	size := 1
	for _, d := range dims {
		size *= d
	}
	data := make([]T, size)
	for i := range data {
		data[i] = T(rng.Float64()*2 - 1)
	}
	return tensors.FromFlatDataAndDimensions(data, dims...)
}

// outputDims returns the DotGeneral output dimensions for the layout (with axes normalized).
func (l dotLayout) outputDims() []int {
	norm := func(rank int, axes []int) []int {
		out := make([]int, len(axes))
		for i, a := range axes {
			if a < 0 {
				a += rank
			}
			out[i] = a
		}
		return out
	}
	lc, lb := norm(len(l.lhsDims), l.lhsContract), norm(len(l.lhsDims), l.lhsBatch)
	rc, rb := norm(len(l.rhsDims), l.rhsContract), norm(len(l.rhsDims), l.rhsBatch)
	var dims []int
	for _, a := range lb {
		dims = append(dims, l.lhsDims[a])
	}
	for _, a := range crossAxes(len(l.lhsDims), lc, lb) {
		dims = append(dims, l.lhsDims[a])
	}
	for _, a := range crossAxes(len(l.rhsDims), rc, rb) {
		dims = append(dims, l.rhsDims[a])
	}
	return dims
}

// lossAndGrads computes loss = Σ DotGeneral(lhs, rhs) * w and its gradients wrt lhs and rhs, using
// whichever DotGeneral VJP is registered.
func lossAndGrads(tb testing.TB, backend backends.Backend, l dotLayout, lhs, rhs, w *tensors.Tensor) (loss, gLhs, gRhs *tensors.Tensor) {
	outs := runGraph(tb, backend, func(g *graph.Graph, p []*graph.Node) []*graph.Node {
		out := graph.DotGeneral(p[0], l.lhsContract, l.lhsBatch, p[1], l.rhsContract, l.rhsBatch)
		loss := graph.ReduceAllSum(graph.Mul(out, p[2]))
		grads := graph.Gradient(loss, p[0], p[1])
		return []*graph.Node{loss, grads[0], grads[1]}
	}, lhs, rhs, w)
	return outs[0], outs[1], outs[2]
}

func flat64(t *tensors.Tensor) []float64 {
	switch t.DType() {
	case dtypes.Float64:
		return tensors.MustCopyFlatData[float64](t)
	case dtypes.Float32:
		f := tensors.MustCopyFlatData[float32](t)
		out := make([]float64, len(f))
		for i, v := range f {
			out[i] = float64(v)
		}
		return out
	}
	panic("unsupported dtype " + t.DType().String())
}

func assertClose(t *testing.T, what string, got, want []float64, tol float64) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: length %d != %d", what, len(got), len(want))
	}
	for i := range got {
		if math.Abs(got[i]-want[i]) > tol*(1+math.Abs(want[i])) {
			t.Fatalf("%s: element %d: got %g, want %g (tol %g)\ngot=%v\nwant=%v", what, i, got[i], want[i], tol, got, want)
		}
	}
}

func TestRegisterIdempotent(t *testing.T) {
	Register()
	Register()
	got := reflect.ValueOf(graph.VJPRegistration[graph.NodeTypeDotGeneral]).Pointer()
	if got != reflect.ValueOf(graph.VJP(DotGeneralVJP)).Pointer() {
		t.Fatalf("after Register, VJPRegistration[DotGeneral] is not DotGeneralVJP")
	}
	if StockDotGeneralVJP() == nil {
		t.Fatalf("StockDotGeneralVJP() is nil")
	}
	if reflect.ValueOf(StockDotGeneralVJP()).Pointer() == got {
		t.Fatalf("StockDotGeneralVJP() is the efficient VJP: it was captured after Register")
	}
}

// TestInternalLayout fails if a GoMLX upgrade changes the unexported layout read by ReadDotGeneralParams
// (graph.Node.inputs -> *graph.nodeInputsDotGeneral{lhs, lhsContractingAxes, lhsBatchAxes, rhs,
// rhsContractingAxes, rhsBatchAxes}) or the String() format used as fallback.
func TestInternalLayout(t *testing.T) {
	if err := checkLayout(); err != nil {
		t.Fatal(err)
	}
	backend := testBackend()
	g := graph.NewGraph(backend, "layout")
	defer g.Finalize()
	lhs := graph.Parameter(g, "lhs", shapes.Make(dtypes.Float32, 2, 3, 4, 5))
	rhs := graph.Parameter(g, "rhs", shapes.Make(dtypes.Float32, 3, 4, 6, 5))
	out := graph.DotGeneral(lhs, []int{3, 1}, []int{2}, rhs, []int{-1, 0}, []int{1})
	want := DotGeneralParams{Lhs: lhs, Rhs: rhs,
		LhsContractingAxes: []int{3, 1}, LhsBatchAxes: []int{2},
		RhsContractingAxes: []int{3, 0}, RhsBatchAxes: []int{1}}

	check := func(name string, p DotGeneralParams, err error) {
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if err := validateParams(out, p); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if p.Lhs != want.Lhs || p.Rhs != want.Rhs ||
			!reflect.DeepEqual(p.LhsContractingAxes, want.LhsContractingAxes) ||
			!reflect.DeepEqual(p.LhsBatchAxes, want.LhsBatchAxes) ||
			!reflect.DeepEqual(p.RhsContractingAxes, want.RhsContractingAxes) ||
			!reflect.DeepEqual(p.RhsBatchAxes, want.RhsBatchAxes) {
			t.Fatalf("%s: got %v, want %v", name, p, want)
		}
	}
	p, err := readParamsReflect(out)
	check("reflect", p, err)
	p, err = readParamsString(out)
	check("String()", p, err)
	check("ReadDotGeneralParams", ReadDotGeneralParams(out), nil)

	// A non-DotGeneral node must be rejected by the reflection reader, not misread.
	if _, err := readParamsReflect(graph.Add(lhs, lhs)); err == nil {
		t.Fatalf("readParamsReflect accepted an Add node")
	}
}

// TestDotGeneralVJPMatchesStock compares the efficient VJP with GoMLX's stock one, for float64 and float32.
func TestDotGeneralVJPMatchesStock(t *testing.T) {
	backend := testBackend()
	for _, dtype := range []dtypes.DType{dtypes.Float64, dtypes.Float32} {
		for i, l := range layouts {
			t.Run(fmt.Sprintf("%s/%s", dtype, l.name), func(t *testing.T) {
				rng := rand.New(rand.NewPCG(uint64(i), 7))
				var lhs, rhs, w *tensors.Tensor
				tol := 1e-10
				if dtype == dtypes.Float64 {
					lhs, rhs, w = randomTensor[float64](rng, l.lhsDims), randomTensor[float64](rng, l.rhsDims), randomTensor[float64](rng, l.outputDims())
				} else {
					lhs, rhs, w = randomTensor[float32](rng, l.lhsDims), randomTensor[float32](rng, l.rhsDims), randomTensor[float32](rng, l.outputDims())
					tol = 1e-5
				}
				var stockL, stockR, effL, effR *tensors.Tensor
				withVJP(StockDotGeneralVJP(), func() { _, stockL, stockR = lossAndGrads(t, backend, l, lhs, rhs, w) })
				withVJP(DotGeneralVJP, func() { _, effL, effR = lossAndGrads(t, backend, l, lhs, rhs, w) })
				if !effL.Shape().Equal(stockL.Shape()) || !effR.Shape().Equal(stockR.Shape()) {
					t.Fatalf("shapes differ: efficient (%s, %s), stock (%s, %s)", effL.Shape(), effR.Shape(), stockL.Shape(), stockR.Shape())
				}
				assertClose(t, "grad lhs", flat64(effL), flat64(stockL), tol)
				assertClose(t, "grad rhs", flat64(effR), flat64(stockR), tol)
			})
		}
	}
}

// TestDotGeneralVJPFiniteDifferences checks the efficient VJP against central finite differences of the
// forward loss (float64).
func TestDotGeneralVJPFiniteDifferences(t *testing.T) {
	backend := testBackend()
	for i, l := range layouts {
		t.Run(l.name, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(uint64(i), 11))
			lhs, rhs, w := randomTensor[float64](rng, l.lhsDims), randomTensor[float64](rng, l.rhsDims), randomTensor[float64](rng, l.outputDims())
			var gL, gR *tensors.Tensor
			withVJP(DotGeneralVJP, func() { _, gL, gR = lossAndGrads(t, backend, l, lhs, rhs, w) })

			// Forward-only executor for the loss.
			lossExec, err := graph.NewExec(backend, func(a, b, c *graph.Node) *graph.Node {
				return graph.ReduceAllSum(graph.Mul(graph.DotGeneral(a, l.lhsContract, l.lhsBatch, b, l.rhsContract, l.rhsBatch), c))
			})
			if err != nil {
				t.Fatal(err)
			}
			defer lossExec.Finalize()
			lossOf := func(a, b []float64) float64 {
				out := lossExec.MustExec1(tensors.FromFlatDataAndDimensions(a, l.lhsDims...),
					tensors.FromFlatDataAndDimensions(b, l.rhsDims...), w)
				return tensors.MustCopyFlatData[float64](out)[0]
			}
			const h = 1e-4
			a, b := flat64(lhs), flat64(rhs)
			numeric := func(x []float64, f func() float64) []float64 {
				grad := make([]float64, len(x))
				for j := range x {
					orig := x[j]
					x[j] = orig + h
					plus := f()
					x[j] = orig - h
					minus := f()
					x[j] = orig
					grad[j] = (plus - minus) / (2 * h)
				}
				return grad
			}
			f := func() float64 { return lossOf(a, b) }
			assertClose(t, "grad lhs vs finite differences", flat64(gL), numeric(a, f), 1e-7)
			assertClose(t, "grad rhs vs finite differences", flat64(gR), numeric(b, f), 1e-7)
		})
	}
}

// TestDotGeneralVJPBFloat16 checks the efficient VJP on bfloat16 DotGenerals (the float32 parameters are
// converted to bfloat16 inside the graph) against float64 gradients, with a bfloat16-sized tolerance.
func TestDotGeneralVJPBFloat16(t *testing.T) {
	backend := testBackend()
	for i, l := range layouts {
		t.Run(l.name, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(uint64(i), 13))
			lhs, rhs, w := randomTensor[float32](rng, l.lhsDims), randomTensor[float32](rng, l.rhsDims), randomTensor[float32](rng, l.outputDims())
			grads := func(dtype dtypes.DType) (gl, gr []float64) {
				withVJP(DotGeneralVJP, func() {
					outs := runGraph(t, backend, func(g *graph.Graph, p []*graph.Node) []*graph.Node {
						a, b := graph.ConvertDType(p[0], dtype), graph.ConvertDType(p[1], dtype)
						out := graph.DotGeneral(a, l.lhsContract, l.lhsBatch, b, l.rhsContract, l.rhsBatch)
						loss := graph.ReduceAllSum(graph.Mul(graph.ConvertDType(out, dtypes.Float32), p[2]))
						return graph.Gradient(loss, p[0], p[1])
					}, lhs, rhs, w)
					gl, gr = flat64(outs[0]), flat64(outs[1])
				})
				return
			}
			wantL, wantR := grads(dtypes.Float64)
			gotL, gotR := grads(dtypes.BFloat16)
			// bfloat16 has 8 bits of mantissa: relative error ~ 2^-8 per rounding, a few roundings here.
			assertClose(t, "bf16 grad lhs", gotL, wantL, 3e-2)
			assertClose(t, "bf16 grad rhs", gotR, wantR, 3e-2)
		})
	}
}

// TestDotGeneralVJPSameOperand covers x·xᵀ (the same node as lhs and rhs): the two gradients accumulate.
func TestDotGeneralVJPSameOperand(t *testing.T) {
	backend := testBackend()
	rng := rand.New(rand.NewPCG(3, 3))
	x := randomTensor[float64](rng, []int{3, 4})
	w := randomTensor[float64](rng, []int{3, 3})
	grad := func() []float64 {
		outs := runGraph(t, backend, func(g *graph.Graph, p []*graph.Node) []*graph.Node {
			loss := graph.ReduceAllSum(graph.Mul(graph.DotGeneral(p[0], []int{1}, nil, p[0], []int{1}, nil), p[1]))
			return graph.Gradient(loss, p[0])
		}, x, w)
		return flat64(outs[0])
	}
	var stock, eff []float64
	withVJP(StockDotGeneralVJP(), func() { stock = grad() })
	withVJP(DotGeneralVJP, func() { eff = grad() })
	assertClose(t, "grad x", eff, stock, 1e-10)
}

// gpt2MLPLoss builds loss = Σ (tanh(x·W1)·W2)² with GPT-2-small MLP shapes ([8*128, 768] x [768, 3072]
// x [3072, 768]) and its gradients wrt x, W1 and W2.
func gpt2MLPGraph(g *graph.Graph, dtype dtypes.DType) (params []*graph.Node, outputs []*graph.Node) {
	const tokens, dModel, dMLP = 8 * 128, 768, 3072
	x := graph.Parameter(g, "x", shapes.Make(dtype, tokens, dModel))
	w1 := graph.Parameter(g, "w1", shapes.Make(dtype, dModel, dMLP))
	w2 := graph.Parameter(g, "w2", shapes.Make(dtype, dMLP, dModel))
	h := graph.Tanh(graph.DotGeneral(x, []int{1}, nil, w1, []int{0}, nil))
	y := graph.DotGeneral(h, []int{1}, nil, w2, []int{0}, nil)
	loss := graph.ReduceAllSum(graph.Square(y))
	grads := graph.Gradient(loss, x, w1, w2)
	return []*graph.Node{x, w1, w2}, append([]*graph.Node{loss}, grads...)
}

// maxNodeSize returns the largest number of elements of any node of the graph.
func maxNodeSize(g *graph.Graph) (size int, node *graph.Node) {
	for _, n := range g.Nodes() {
		if n.NumOutputs() != 1 {
			continue
		}
		if s := n.Shape().Size(); s > size {
			size, node = s, n
		}
	}
	return
}

// TestGPT2MLPBackwardMemory is a shape-only test: with the efficient VJP, no node of the GPT-2-small MLP
// backward graph is larger than 4x its largest operand/activation ([1024, 3072]); with the stock VJP there
// is a [1024, 768, 3072] node (2.4G elements, ~9.7 GB in float32).
func TestGPT2MLPBackwardMemory(t *testing.T) {
	backend := testBackend()
	const biggest = 8 * 128 * 3072
	build := func() int {
		g := graph.NewGraph(backend, "gpt2_mlp")
		defer g.Finalize()
		gpt2MLPGraph(g, dtypes.Float32)
		size, node := maxNodeSize(g)
		t.Logf("largest node: %d elements: %s", size, node)
		return size
	}
	var eff, stock int
	withVJP(DotGeneralVJP, func() { eff = build() })
	// The efficient backward of plain matmuls needs no transposes at all.
	withVJP(DotGeneralVJP, func() {
		g := graph.NewGraph(backend, "gpt2_mlp_transposes")
		defer g.Finalize()
		gpt2MLPGraph(g, dtypes.Float32)
		for _, n := range g.Nodes() {
			if n.Type() == graph.NodeTypeTranspose {
				t.Errorf("unexpected transpose in the matmul backward: %s", n)
			}
		}
	})
	withVJP(StockDotGeneralVJP(), func() { stock = build() })
	if eff > 4*biggest {
		t.Errorf("efficient VJP: largest node has %d elements > 4 x %d", eff, biggest)
	}
	if stock <= 4*biggest {
		t.Errorf("stock VJP: expected a node larger than 4 x %d elements (test would not discriminate), got %d", biggest, stock)
	}
}

// TestGPT2MLPBackwardRuns actually executes the GPT-2-small-shaped MLP forward+backward with the efficient
// VJP (a few seconds on 2 cores; skipped with -short).
func TestGPT2MLPBackwardRuns(t *testing.T) {
	if testing.Short() || raceEnabled {
		t.Skip("skipped with -short or -race (slow)")
	}
	backend := testBackend()
	rng := rand.New(rand.NewPCG(5, 5))
	x := randomTensor[float32](rng, []int{8 * 128, 768})
	w1 := randomTensor[float32](rng, []int{768, 3072})
	w2 := randomTensor[float32](rng, []int{3072, 768})
	withVJP(DotGeneralVJP, func() {
		g := graph.NewGraph(backend, "gpt2_mlp")
		defer g.Finalize()
		_, outs := gpt2MLPGraph(g, dtypes.Float32)
		if size, _ := maxNodeSize(g); size > 4*8*128*3072 {
			t.Fatalf("largest node %d", size)
		}
		g.Compile(outs...)
		res := g.Run(x, w1, w2)
		for i, r := range res[1:] {
			if !r.Shape().Equal(outs[i+1].Shape()) {
				t.Fatalf("gradient #%d shape %s", i, r.Shape())
			}
			for _, v := range flat64(r)[:10] {
				if math.IsNaN(v) || math.IsInf(v, 0) {
					t.Fatalf("gradient #%d has non-finite values", i)
				}
			}
		}
	})
}

// BenchmarkMatmulForwardBackward: [1024,768] x [768,3072] matmul, forward + backward (grads wrt both
// operands) with the efficient VJP, for each candidate backend configuration.
//
//	go test ./autodiff/ -run XXX -bench MatmulForwardBackward -benchtime 5x
func BenchmarkMatmulForwardBackward(b *testing.B) {
	Register()
	for _, config := range benchConfigs() {
		// Created outside b.Run: simplego prints "parallelism set to" on stdout, garbling the result line.
		backend := newBackend(b, config)
		b.Run(config, func(b *testing.B) {
			defer backend.Finalize()
			rng := rand.New(rand.NewPCG(1, 2))
			x := randomTensor[float32](rng, []int{1024, 768})
			w := randomTensor[float32](rng, []int{768, 3072})
			g := graph.NewGraph(backend, "matmul_fwd_bwd")
			defer g.Finalize()
			px := graph.Parameter(g, "x", x.Shape())
			pw := graph.Parameter(g, "w", w.Shape())
			loss := graph.ReduceAllSum(graph.Square(graph.DotGeneral(px, []int{1}, nil, pw, []int{0}, nil)))
			grads := graph.Gradient(loss, px, pw)
			g.Compile(loss, grads[0], grads[1])
			for _, t := range g.Run(x, w) { // Warm-up (buffer pools).
				t.FinalizeAll()
			}
			b.ResetTimer()
			for range b.N {
				for _, t := range g.Run(x, w) {
					t.FinalizeAll()
				}
			}
			b.ReportMetric(3*2*1024*768*3072/1e9/(b.Elapsed().Seconds()/float64(b.N)), "GFLOP/s")
		})
	}
}
