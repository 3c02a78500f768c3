package fastcpu_test

// Large shapes: the random property tests use dims <= 7 (at most 2401 elements), below every
// kernel's parallel grain (fastcpu splits work across goroutines only from ~8K-32K elements),
// so these cases exercise the split paths -- chunk starts decomposed into odometer coordinates
// in forEachRun and copyStrided, parallel row reductions, parallel Gather -- and the float32
// fast paths (f32Loop, expF32/tanhF32) on long runs. Same tolerances as the small cases.

import (
	"fmt"
	"testing"

	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/pkg/core/dtypes"
	"github.com/gomlx/gomlx/pkg/core/graph"
)

func TestEquivLarge(t *testing.T) {
	r := newRNG(t)
	run := func(name string, c equivCase) { t.Run(name, func(t *testing.T) { runEquiv(t, c) }) }

	// Broadcasting binary ops over ~90K outputs, every broadcast pattern of the inner run.
	out := []int{2, 37, 29, 41}
	pairs := [][2][]int{
		{{2, 37, 1, 41}, {1, 37, 29, 41}},
		{{2, 37, 29, 41}, {2, 37, 29, 1}}, // rhs repeated along the inner run
		{{2, 1, 29, 1}, {2, 37, 29, 41}},  // lhs repeated along the inner run
		{{2, 37, 29, 41}, nil},            // scalar
		{{1, 37, 1, 41}, {2, 1, 29, 1}},   // both broadcast, alternating
		{out, out},
	}
	for i, p := range pairs {
		for _, op := range []struct {
			name string
			fn   func(a, b *graph.Node) *graph.Node
		}{{"Add", graph.Add}, {"Sub", graph.Sub}, {"Mul", graph.Mul}, {"Div", graph.Div}, {"Max", graph.Max}, {"Pow", graph.Pow}} {
			lv, rv := r.uniform(-3, 3), r.uniform(-3, 3)
			if op.name == "Pow" {
				lv = r.uniform(0.1, 2)
			}
			if op.name == "Div" {
				rv = r.magnitude(0.25, 3)
			}
			fn := op.fn
			run(fmt.Sprintf("%s/f32/%d_%s", op.name, i, dimsName(p[0], p[1])), equivCase{
				args:  []arg{newArg(f32, p[0], lv), newArg(f32, p[1], rv)},
				build: func(_ *graph.Graph, x []*graph.Node) []*graph.Node { return one(fn(x[0], x[1])) },
				tol:   tolElem32,
			})
		}
		run(fmt.Sprintf("Mul/i32/%d_%s", i, dimsName(p[0], p[1])), equivCase{
			args:  []arg{newArg(i32, p[0], r.intIn(-1000, 1000)), newArg(i32, p[1], r.intIn(-1000, 1000))},
			build: func(_ *graph.Graph, x []*graph.Node) []*graph.Node { return one(graph.Mul(x[0], x[1])) },
		})
		run(fmt.Sprintf("LessThan/f64/%d_%s", i, dimsName(p[0], p[1])), equivCase{
			args:  []arg{newArg(f64, p[0], r.intIn(-3, 3)), newArg(f64, p[1], r.intIn(-3, 3))},
			build: func(_ *graph.Graph, x []*graph.Node) []*graph.Node { return one(graph.LessThan(x[0], x[1])) },
		})
	}

	// Unary float32 kernels over 60K elements.
	big := []int{3, 100, 201}
	for _, op := range []struct {
		name string
		fn   func(*graph.Node) *graph.Node
	}{{"Exp", graph.Exp}, {"Tanh", graph.Tanh}, {"Erf", graph.Erf}, {"Logistic", graph.Logistic}, {"Neg", graph.Neg}, {"Sqrt", graph.Sqrt}} {
		fn := op.fn
		v := r.withSpecials(0.01, r.uniform(-20, 20))
		if op.name == "Sqrt" {
			v = r.uniform(0, 100)
		}
		run(op.name+"/f32/"+dimsName(big), equivCase{
			args:  []arg{newArg(f32, big, v)},
			build: func(_ *graph.Graph, x []*graph.Node) []*graph.Node { return one(fn(x[0])) },
			tol:   tolElem32,
		})
	}

	// Where with a scalar branch, IsFinite, LogicalNot, ConvertDType.
	run("Where/f32/"+dimsName(big), equivCase{
		args: []arg{newArg(boolDT, big, r.bools()), newArg(f32, big, r.uniform(-1, 1)), newArg(f32, nil, r.uniform(-1, 1))},
		build: func(_ *graph.Graph, x []*graph.Node) []*graph.Node {
			return []*graph.Node{graph.Where(x[0], x[1], x[2]), graph.Where(x[0], x[2], x[1]), graph.LogicalNot(x[0]),
				graph.ConvertDType(x[0], dtypes.Float32), graph.ConvertDType(x[1], dtypes.Int32)}
		},
		tol: tolElem32,
	})

	// Data movement: transposes, broadcasts, strided slices, concatenation, pad.
	for i, perm := range [][]int{{2, 0, 1}, {1, 0, 2}, {2, 1, 0}, {0, 2, 1}} {
		run(fmt.Sprintf("Transpose/f32/%d_%v", i, perm), equivCase{
			args:  []arg{newArg(f32, []int{37, 29, 41}, r.uniform(-1, 1))},
			build: func(_ *graph.Graph, x []*graph.Node) []*graph.Node { return one(graph.TransposeAllAxes(x[0], perm...)) },
		})
	}
	run("Transpose/i64/4d", equivCase{
		args: []arg{newArg(i64, []int{9, 17, 13, 23}, r.intIn(-1000, 1000))},
		build: func(_ *graph.Graph, x []*graph.Node) []*graph.Node {
			return one(graph.TransposeAllAxes(x[0], 3, 1, 0, 2))
		},
	})
	run("BroadcastToDims/f32", equivCase{
		args: []arg{newArg(f32, []int{1, 57, 1, 33}, r.uniform(-1, 1))},
		build: func(_ *graph.Graph, x []*graph.Node) []*graph.Node {
			return []*graph.Node{graph.BroadcastToDims(x[0], 5, 57, 7, 33), graph.BroadcastPrefix(x[0], 3, 4)}
		},
	})
	run("Slice/f32/strided", equivCase{
		args: []arg{newArg(f32, []int{61, 47, 39}, r.uniform(-1, 1))},
		build: func(_ *graph.Graph, x []*graph.Node) []*graph.Node {
			return []*graph.Node{
				graph.Slice(x[0], graph.AxisRange(3, 60).Stride(2), graph.AxisRange(1, 47), graph.AxisRange(0, 39).Stride(3)),
				graph.Slice(x[0], graph.AxisRange(), graph.AxisRange(5, 40), graph.AxisRange()),
			}
		},
	})
	run("Concatenate/f32", equivCase{
		args: []arg{newArg(f32, []int{40, 31, 30}, r.uniform(-1, 1)), newArg(f32, []int{40, 9, 30}, r.uniform(-1, 1)), newArg(f32, []int{40, 50, 30}, r.uniform(-1, 1))},
		build: func(_ *graph.Graph, x []*graph.Node) []*graph.Node {
			return []*graph.Node{graph.Concatenate(x, 1), graph.Concatenate([]*graph.Node{x[0], x[0]}, 2)}
		},
	})
	padIn := newArg(f32, []int{40, 33, 25}, r.uniform(-1, 1))
	padCfg := []backends.PadAxis{{Start: 1, End: 2, Interior: 0}, {Start: 0, End: 3, Interior: 1}, {Start: 2, End: 0, Interior: 0}}
	run("Pad/f32", equivCase{
		args: []arg{padIn, newArg(f32, nil, func(int) float64 { return -7 })},
		build: func(_ *graph.Graph, x []*graph.Node) []*graph.Node {
			return one(graph.Pad(x[0], x[1], padCfg...))
		},
		ref: func() []arg { return []arg{padRef(padIn, -7, padCfg)} },
	})

	// Reductions: row-wise (suffix axes) with many rows, and the general strided path.
	for i, tc := range []struct {
		dims []int
		axes []int
	}{{[]int{3000, 17}, []int{1}}, {[]int{40, 50, 60}, []int{2}}, {[]int{40, 50, 60}, []int{1, 2}}, {[]int{170, 300}, []int{0}}, {[]int{40, 50, 60}, []int{0, 2}}} {
		k := 1
		for _, a := range tc.axes {
			k *= tc.dims[a]
		}
		for _, op := range []struct {
			name string
			fn   func(*graph.Node, ...int) *graph.Node
		}{{"ReduceSum", graph.ReduceSum}, {"ReduceMax", graph.ReduceMax}, {"ReduceMin", graph.ReduceMin}} {
			fn := op.fn
			run(fmt.Sprintf("%s/f32/%d_%s_%v", op.name, i, dimsName(tc.dims), tc.axes), equivCase{
				args:  []arg{newArg(f32, tc.dims, r.uniform(-1, 1))},
				build: func(_ *graph.Graph, x []*graph.Node) []*graph.Node { return one(fn(x[0], tc.axes...)) },
				tol:   tolSum(f32, k),
			})
		}
		run(fmt.Sprintf("ArgMax/f32/%d_%s", i, dimsName(tc.dims)), equivCase{
			args:  []arg{newArg(f32, tc.dims, r.uniform(-1, 1))},
			build: func(_ *graph.Graph, x []*graph.Node) []*graph.Node { return one(graph.ArgMax(x[0], tc.axes[0])) },
		})
	}
	run("Softmax/f32/[8,64,513]", equivCase{
		args:  []arg{newArg(f32, []int{8, 64, 513}, r.uniform(-8, 8))},
		build: func(_ *graph.Graph, x []*graph.Node) []*graph.Node { return one(graph.Softmax(x[0], -1)) },
		tol:   tolSum(f32, 513),
	})

	// Gather (parallel over index batches) and its gradient (ScatterSum) on an embedding table.
	run("Gather/f32/embedding", equivCase{
		args: []arg{newArg(f32, []int{1000, 64}, r.uniform(-1, 1)), newArg(i32, []int{4, 50, 1}, r.intIn(0, 999)), newArg(f32, []int{4, 50, 64}, r.uniform(-1, 1))},
		build: func(_ *graph.Graph, x []*graph.Node) []*graph.Node {
			e := graph.Gather(x[0], x[1])
			return []*graph.Node{e, graph.Gradient(graph.ReduceAllSum(graph.Mul(e, x[2])), x[0])[0]}
		},
		tol: tolSum(f32, 200),
	})
}
