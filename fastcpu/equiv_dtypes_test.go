package fastcpu_test

// The smaller and unsigned integer dtypes fastcpu's Capabilities list (int8, int16, uint8,
// uint16, uint32, uint64), through the ops that accept integers, against the pure-Go backend;
// and the "not implemented" contract the model's fallback to the pure-Go backend relies on.
// Here an op may be "not implemented" for a dtype (the case is skipped, e.g. comparisons of
// int16), but must not fail any other way: at the time of writing Where and ScatterSum on these
// dtypes panic at execution ("Where: dtype Int8 not supported", "ScatterSum: unsupported type
// []int8"), and a uint64 constant is rejected ("Constant: []uint64[1] does not fit dims []",
// because GoMLX's DType.IsSupported omits Uint64).

import (
	"fmt"
	"strings"
	"testing"

	"github.com/gomlx/gomlx/pkg/core/dtypes"
	"github.com/gomlx/gomlx/pkg/core/graph"

	"github.com/interp-dev/interp/fastcpu"
)

func TestEquivOtherIntDTypes(t *testing.T) {
	r := newRNG(t)
	type intOp struct {
		name  string
		nArgs int
		fn    func(x []*graph.Node) *graph.Node
	}
	ops := []intOp{
		{"Add", 2, func(x []*graph.Node) *graph.Node { return graph.Add(x[0], x[1]) }},
		{"Mul", 2, func(x []*graph.Node) *graph.Node { return graph.Mul(x[0], x[1]) }},
		{"Max", 2, func(x []*graph.Node) *graph.Node { return graph.Max(x[0], x[1]) }},
		{"Div", 2, func(x []*graph.Node) *graph.Node { return graph.Div(x[0], x[2]) }}, // x[2]: positive
		{"Rem", 2, func(x []*graph.Node) *graph.Node { return graph.Rem(x[0], x[2]) }},
		{"Constant", 1, func(x []*graph.Node) *graph.Node { return graph.Add(x[0], graph.OnesLike(x[0])) }},
		{"LessThan", 2, func(x []*graph.Node) *graph.Node { return graph.LessThan(x[0], x[1]) }},
		{"Equal", 2, func(x []*graph.Node) *graph.Node { return graph.Equal(x[0], x[1]) }},
		{"Where", 2, func(x []*graph.Node) *graph.Node {
			i32 := func(n *graph.Node) *graph.Node { return graph.ConvertDType(n, dtypes.Int32) }
			return graph.Where(graph.LessThan(i32(x[0]), i32(x[1])), x[0], x[1])
		}},
		{"Abs", 1, func(x []*graph.Node) *graph.Node { return graph.Abs(x[0]) }},
		{"ReduceSum", 1, func(x []*graph.Node) *graph.Node { return graph.ReduceSum(x[0], -1) }},
		{"ReduceMax", 1, func(x []*graph.Node) *graph.Node { return graph.ReduceMax(x[0], 0) }},
		{"ArgMax", 1, func(x []*graph.Node) *graph.Node { return graph.ArgMax(x[0], -1) }},
		{"Transpose", 1, func(x []*graph.Node) *graph.Node { return graph.TransposeAllAxes(x[0], 1, 0) }},
		{"Concatenate", 2, func(x []*graph.Node) *graph.Node { return graph.Concatenate(x, 0) }},
		{"Slice", 1, func(x []*graph.Node) *graph.Node {
			return graph.Slice(x[0], graph.AxisRange(1), graph.AxisRange().Stride(2))
		}},
		{"BroadcastToDims", 1, func(x []*graph.Node) *graph.Node { return graph.BroadcastToDims(graph.InsertAxes(x[0], 0), 3, 4, 5) }},
		{"ConvertToF32", 1, func(x []*graph.Node) *graph.Node { return graph.ConvertDType(x[0], dtypes.Float32) }},
		{"ConvertToI32", 1, func(x []*graph.Node) *graph.Node { return graph.ConvertDType(x[0], dtypes.Int32) }},
		{"Gather", 1, func(x []*graph.Node) *graph.Node {
			return graph.Gather(x[0], graph.Const(x[0].Graph(), [][]int32{{2}, {0}, {3}, {2}}))
		}},
		{"ScatterSum", 1, func(x []*graph.Node) *graph.Node {
			idx := graph.Const(x[0].Graph(), [][]int32{{2}, {0}, {2}})
			return graph.ScatterSum(x[0], idx, graph.Slice(x[0], graph.AxisRange(0, 3)), false, false)
		}},
		{"Iota", 1, func(x []*graph.Node) *graph.Node { return graph.Iota(x[0].Graph(), x[0].Shape(), 1) }},
	}
	for _, dt := range []dtypes.DType{dtypes.Int8, dtypes.Int16, dtypes.Uint8, dtypes.Uint16, dtypes.Uint32, dtypes.Uint64} {
		lo, hi := -11, 11 // products stay within int8
		if dt.IsUnsigned() {
			lo = 0
		}
		for _, op := range ops {
			d := []int{4, 5}
			var args []arg
			for range op.nArgs {
				args = append(args, newArg(dt, d, r.intIn(lo, hi)))
			}
			args = append(args, newArg(dt, d, r.intIn(1, hi))) // divisors
			fn := op.fn
			c := equivCase{
				args:  args,
				build: func(_ *graph.Graph, x []*graph.Node) []*graph.Node { return one(fn(x)) },
			}
			if op.name == "ReduceMax" { // simplego panics on int8 ReduceMax ("is int16, not int8")
				in := flatArgValues(args[0])
				c.ref = func() []arg {
					return []arg{newArg(dt, d[1:], func(j int) float64 {
						m := in[j]
						for i := 1; i < d[0]; i++ {
							m = max(m, in[i*d[1]+j])
						}
						return m
					})}
				}
			}
			t.Run(fmt.Sprintf("%s/%s", op.name, dtName(dt)), func(t *testing.T) { runEquiv(t, c) })
		}
	}
}

// TestEquivNotImplementedContract: a graph using an op fastcpu lacks must fail with an error
// that says "not implemented" and that fastcpu.IsNotImplemented recognises (the model then
// reruns the graph on the pure-Go backend), never with a panic or another error.
func TestEquivNotImplementedContract(t *testing.T) {
	fast, _ := equivBackends(t)
	for _, tc := range []struct {
		name string
		fn   func(x *graph.Node) *graph.Node
	}{
		{"IsNaN", graph.IsNaN},
		{"Clamp", func(x *graph.Node) *graph.Node {
			return graph.Clamp(graph.ScalarZero(x.Graph(), x.DType()), x, graph.ScalarOne(x.Graph(), x.DType()))
		}},
		{"BitwiseAnd", func(x *graph.Node) *graph.Node {
			i := graph.ConvertDType(x, dtypes.Int32)
			return graph.BitwiseAnd(i, i)
		}},
		{"DynamicSlice", func(x *graph.Node) *graph.Node {
			z := graph.ScalarZero(x.Graph(), dtypes.Int32)
			return graph.DynamicSlice(x, []*graph.Node{z, z}, []int{1, 2})
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := equivCase{
				args:  []arg{newArg(f32, []int{2, 3}, func(i int) float64 { return float64(i) })},
				build: func(_ *graph.Graph, x []*graph.Node) []*graph.Node { return one(tc.fn(x[0])) },
			}
			_, err := execOn(fast, c)
			if err == nil {
				t.Skipf("fastcpu implements %s now", tc.name)
			}
			if !strings.Contains(err.Error(), "not implemented") || !fastcpu.IsNotImplemented(err) {
				t.Fatalf("error does not say \"not implemented\" (or IsNotImplemented is false): %v", err)
			}
		})
	}
}
