package fastcpu_test

// Property tests: each op fastcpu implements, on random shapes, axes and values, against the
// pure-Go backend. See equiv_test.go for the harness and the tolerance rules.

import (
	"fmt"
	"math"
	"slices"
	"testing"

	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/pkg/core/dtypes"
	"github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/shapes"
)

var (
	f32, f64, i32, i64, boolDT = dtypes.Float32, dtypes.Float64, dtypes.Int32, dtypes.Int64, dtypes.Bool
	numericDTypes              = []dtypes.DType{f32, f64, i32, i64}
)

func one(n *graph.Node) []*graph.Node { return []*graph.Node{n} }

// intExtremes mixes a few extreme integers (wrap-around on Add/Sub/Mul is Go's, on both sides)
// into v.
func (r rng) intExtremes(dt dtypes.DType, p float64, v func(int) float64) func(int) float64 {
	ext := []float64{math.MaxInt32, math.MinInt32, math.MaxInt32 - 1, math.MinInt32 + 1}
	if dt == i64 {
		ext = []float64{1 << 40, -(1 << 40), 1<<52 - 1, -(1 << 52)}
	}
	return func(i int) float64 {
		if r.Float64() < p {
			return ext[r.IntN(len(ext))]
		}
		return v(i)
	}
}

// ---- binary arithmetic ---------------------------------------------------------------------

func TestEquivBinaryArith(t *testing.T) {
	r := newRNG(t)
	ops := []struct {
		name string
		fn   func(a, b *graph.Node) *graph.Node
	}{
		{"Add", graph.Add}, {"Sub", graph.Sub}, {"Mul", graph.Mul}, {"Div", graph.Div},
		{"Max", graph.Max}, {"Min", graph.Min}, {"Pow", graph.Pow}, {"Rem", graph.Rem},
	}
	for _, op := range ops {
		for _, dt := range numericDTypes {
			for i := range 8 {
				ld, rd := r.broadcastPair()
				var lv, rv func(int) float64
				if dt.IsFloat() {
					switch op.name {
					case "Pow":
						lv, rv = r.uniform(0.05, 3), r.uniform(-3, 3)
					case "Rem":
						lv, rv = r.uniform(-10, 10), r.magnitude(0.3, 3)
					case "Div":
						lv, rv = r.uniform(-3, 3), r.magnitude(0.25, 3)
					default:
						lv, rv = r.uniform(-3, 3), r.uniform(-3, 3)
					}
					// IEEE specials (NaN, +-Inf, +-0) behave the same under Go's float ops and
					// math functions on both backends.
					lv, rv = r.withSpecials(0.05, lv), r.withSpecials(0.05, rv)
				} else {
					switch op.name {
					case "Pow": // small exponents: fastcpu's integer Pow loops y times
						lv, rv = r.intIn(-4, 4), r.intIn(-2, 6)
					case "Div", "Rem": // no zero divisors (Go panics)
						lv, rv = r.intExtremes(dt, 0.1, r.intIn(-50, 50)), func(int) float64 {
							v := float64(1 + r.IntN(7))
							if r.IntN(2) == 0 {
								return -v
							}
							return v
						}
					default:
						lv, rv = r.intExtremes(dt, 0.1, r.intIn(-50, 50)), r.intExtremes(dt, 0.1, r.intIn(-50, 50))
					}
				}
				fn := op.fn
				c := equivCase{
					args:  []arg{newArg(dt, ld, lv), newArg(dt, rd, rv)},
					build: func(_ *graph.Graph, x []*graph.Node) []*graph.Node { return one(fn(x[0], x[1])) },
					tol:   tolElem(dt),
				}
				t.Run(fmt.Sprintf("%s/%s/%02d_%s", op.name, dtName(dt), i, dimsName(ld, rd)), func(t *testing.T) { runEquiv(t, c) })
			}
		}
	}
}

// ---- comparisons and logical ops -----------------------------------------------------------

func TestEquivCompare(t *testing.T) {
	r := newRNG(t)
	ops := []struct {
		name string
		fn   func(a, b *graph.Node) *graph.Node
	}{
		{"Equal", graph.Equal}, {"NotEqual", graph.NotEqual}, {"GreaterThan", graph.GreaterThan},
		{"GreaterOrEqual", graph.GreaterOrEqual}, {"LessThan", graph.LessThan}, {"LessOrEqual", graph.LessOrEqual},
	}
	for _, op := range ops {
		for _, dt := range numericDTypes {
			for i := range 6 {
				ld, rd := r.broadcastPair()
				// Values from a small set, so ties (Equal true) are common.
				v := func(int) float64 { return float64(r.IntN(7))/2 - 1.5 }
				if dt.IsInt() {
					v = r.intIn(-3, 3)
				} else {
					v = r.withSpecials(0.08, v)
				}
				fn := op.fn
				c := equivCase{
					args:  []arg{newArg(dt, ld, v), newArg(dt, rd, v)},
					build: func(_ *graph.Graph, x []*graph.Node) []*graph.Node { return one(fn(x[0], x[1])) },
				}
				t.Run(fmt.Sprintf("%s/%s/%02d_%s", op.name, dtName(dt), i, dimsName(ld, rd)), func(t *testing.T) { runEquiv(t, c) })
			}
		}
	}
	// Equal / NotEqual on bools: simplego rejects them ("unsupported data type Bool"), so the
	// expected values are computed in Go.
	for oi, op := range ops[:2] {
		for i := range 6 {
			ld, rd := r.broadcastPair()
			fn := op.fn
			la, ra := newArg(boolDT, ld, r.bools()), newArg(boolDT, rd, r.bools())
			eq := oi == 0
			c := equivCase{
				args:  []arg{la, ra},
				build: func(_ *graph.Graph, x []*graph.Node) []*graph.Node { return one(fn(x[0], x[1])) },
				ref: func() []arg {
					out, lv, rv := broadcastRef(la, ra)
					return []arg{newArg(boolDT, out, func(i int) float64 {
						if (lv(i) == rv(i)) == eq {
							return 1
						}
						return 0
					})}
				},
			}
			t.Run(fmt.Sprintf("%s/bool/%02d_%s", op.name, i, dimsName(ld, rd)), func(t *testing.T) { runEquiv(t, c) })
		}
	}
}

func TestEquivLogical(t *testing.T) {
	r := newRNG(t)
	ops := []struct {
		name string
		fn   func(a, b *graph.Node) *graph.Node
	}{{"LogicalAnd", graph.LogicalAnd}, {"LogicalOr", graph.LogicalOr}, {"LogicalXor", graph.LogicalXor}}
	for _, op := range ops {
		for i := range 20 {
			ld, rd := r.broadcastPair()
			fn := op.fn
			c := equivCase{
				args:  []arg{newArg(boolDT, ld, r.bools()), newArg(boolDT, rd, r.bools())},
				build: func(_ *graph.Graph, x []*graph.Node) []*graph.Node { return one(fn(x[0], x[1])) },
			}
			t.Run(fmt.Sprintf("%s/bool/%02d_%s", op.name, i, dimsName(ld, rd)), func(t *testing.T) { runEquiv(t, c) })
		}
	}
	for i := range 20 {
		d := r.dims(0, 4, 6)
		c := equivCase{
			args:  []arg{newArg(boolDT, d, r.bools())},
			build: func(_ *graph.Graph, x []*graph.Node) []*graph.Node { return one(graph.LogicalNot(x[0])) },
		}
		t.Run(fmt.Sprintf("LogicalNot/bool/%02d_%s", i, dimsName(d)), func(t *testing.T) { runEquiv(t, c) })
	}
}

// ---- Where ---------------------------------------------------------------------------------

func TestEquivWhere(t *testing.T) {
	r := newRNG(t)
	for _, dt := range []dtypes.DType{f32, f64, i32, i64, boolDT} {
		for i := range 10 {
			out := r.dims(0, 4, 6)
			condDims := slices.Clone(out)
			switch r.IntN(4) {
			case 0:
				condDims = nil // scalar condition
			case 1:
				condDims = out[:r.IntN(len(out)+1)] // prefix: graph.Where broadcasts it
			}
			tDims, fDims := slices.Clone(out), slices.Clone(out)
			switch r.IntN(4) {
			case 0:
				tDims = nil
			case 1:
				fDims = nil
			case 2:
				tDims, fDims = nil, nil // both branches scalar: output takes the condition's shape
				condDims = slices.Clone(out)
			}
			v := r.uniform(-3, 3)
			if dt == boolDT {
				v = r.bools()
			} else if dt.IsInt() {
				v = r.intIn(-100, 100)
			}
			c := equivCase{
				args: []arg{newArg(boolDT, condDims, r.bools()), newArg(dt, tDims, v), newArg(dt, fDims, v)},
				build: func(_ *graph.Graph, x []*graph.Node) []*graph.Node {
					return one(graph.Where(x[0], x[1], x[2]))
				},
				tol: tolExact,
			}
			t.Run(fmt.Sprintf("Where/%s/%02d_%s", dtName(dt), i, dimsName(condDims, tDims, fDims)), func(t *testing.T) { runEquiv(t, c) })
		}
	}
}

// ---- unary ops -----------------------------------------------------------------------------

func TestEquivUnary(t *testing.T) {
	r := newRNG(t)
	type unary struct {
		name   string
		fn     func(*graph.Node) *graph.Node
		values func() func(int) float64 // float inputs
		ints   bool                     // also int32/int64
	}
	sym := func(a float64) func() func(int) float64 {
		return func() func(int) float64 { return r.withSpecials(0.05, r.uniform(-a, a)) }
	}
	pos := func(lo, hi float64) func() func(int) float64 {
		return func() func(int) float64 { return r.withSpecials(0.05, r.uniform(lo, hi)) }
	}
	ops := []unary{
		{"Neg", graph.Neg, sym(5), true},
		{"Abs", graph.Abs, sym(5), true},
		{"Exp", graph.Exp, sym(10), false},
		{"Expm1", graph.Expm1, sym(10), false},
		{"Log", graph.Log, pos(0.01, 10), false},
		{"Log1p", graph.Log1p, pos(-0.99, 10), false},
		{"Sqrt", graph.Sqrt, pos(0, 10), false},
		{"Rsqrt", graph.Rsqrt, pos(0.01, 10), false},
		{"Tanh", graph.Tanh, sym(5), false},
		{"Erf", graph.Erf, sym(4), false},
		{"Cos", graph.Cos, sym(10), false},
		{"Sin", graph.Sin, sym(10), false},
		{"Floor", graph.Floor, sym(5), false},
		{"Ceil", graph.Ceil, sym(5), false},
		// Round: no exact halves here. On ties the backends disagree: fastcpu rounds half to even
		// (what GoMLX documents and XLA does), simplego uses math.Round (half away from zero);
		// TestEquivEdgeRoundHalfToEven pins fastcpu's behaviour.
		{"Round", graph.Round, func() func(int) float64 { return r.uniform(-5, 5) }, false},
		{"Logistic", graph.Logistic, sym(10), false},
		// Sign: no NaN here. GoMLX documents Sign(NaN) = NaN, which fastcpu returns; simplego
		// returns 0 (see TestEquivEdgeSignNaN).
		{"Sign", graph.Sign, func() func(int) float64 {
			v := r.uniform(-3, 3)
			return func(i int) float64 {
				if r.IntN(8) == 0 {
					return 0
				}
				return v(i)
			}
		}, true},
		{"IsFinite", graph.IsFinite, func() func(int) float64 { return r.withSpecials(0.4, r.uniform(-3, 3)) }, false},
	}
	for _, op := range ops {
		dts := []dtypes.DType{f32, f64}
		if op.ints {
			dts = append(dts, i32, i64)
		}
		for _, dt := range dts {
			for i := range 10 {
				d := r.dims(0, 4, 6)
				v := op.values()
				if dt.IsInt() {
					v = r.intExtremes(dt, 0.1, r.intIn(-20, 20))
				}
				fn := op.fn
				c := equivCase{
					args:  []arg{newArg(dt, d, v)},
					build: func(_ *graph.Graph, x []*graph.Node) []*graph.Node { return one(fn(x[0])) },
					tol:   tolElem(dt),
				}
				t.Run(fmt.Sprintf("%s/%s/%02d_%s", op.name, dtName(dt), i, dimsName(d)), func(t *testing.T) { runEquiv(t, c) })
			}
		}
	}
}

// ---- shape ops -----------------------------------------------------------------------------

func primeFactors(n int) []int {
	var f []int
	for p := 2; p*p <= n; p++ {
		for n%p == 0 {
			f = append(f, p)
			n /= p
		}
	}
	if n > 1 {
		f = append(f, n)
	}
	return f
}

// refactor returns random dimensions with the same total size as d.
func (r rng) refactor(d []int) []int {
	var f []int
	for _, v := range d {
		f = append(f, primeFactors(v)...)
	}
	rank := r.IntN(5)
	if rank == 0 && len(f) > 0 {
		rank = 1 + r.IntN(4)
	}
	out := make([]int, rank)
	for i := range out {
		out[i] = 1
	}
	for _, p := range f {
		out[r.IntN(rank)] *= p
	}
	return out
}

var shapeDTypes = []dtypes.DType{f32, f64, i32, i64, boolDT}

// valuesFor returns a generic value generator for dt.
func (r rng) valuesFor(dt dtypes.DType) func(int) float64 {
	switch {
	case dt == boolDT:
		return r.bools()
	case dt.IsInt():
		return r.intIn(-1000, 1000)
	}
	return r.uniform(-3, 3)
}

func TestEquivReshapeTranspose(t *testing.T) {
	r := newRNG(t)
	for i := range 25 {
		dt := shapeDTypes[i%len(shapeDTypes)]
		d := r.dims(0, 4, 6)
		nd := r.refactor(d)
		// Reshape, then an elementwise op so the output is not just a view of the input, and
		// the view itself as a second output.
		c := equivCase{
			args: []arg{newArg(dt, d, r.valuesFor(dt))},
			build: func(_ *graph.Graph, x []*graph.Node) []*graph.Node {
				y := graph.Reshape(x[0], nd...)
				return []*graph.Node{y, graph.Reshape(graph.Reshape(x[0], prod(d)), nd...)}
			},
		}
		t.Run(fmt.Sprintf("Reshape/%s/%02d_%s_to_%s", dtName(dt), i, dimsName(d), dimsName(nd)), func(t *testing.T) { runEquiv(t, c) })
	}
	for i := range 30 {
		dt := shapeDTypes[i%len(shapeDTypes)]
		d := r.dims(1, 5, 5)
		perm := r.perm(len(d))
		c := equivCase{
			args: []arg{newArg(dt, d, r.valuesFor(dt))},
			build: func(_ *graph.Graph, x []*graph.Node) []*graph.Node {
				return one(graph.TransposeAllAxes(x[0], perm...))
			},
		}
		t.Run(fmt.Sprintf("Transpose/%s/%02d_%s_perm%v", dtName(dt), i, dimsName(d), perm), func(t *testing.T) { runEquiv(t, c) })
	}
}

func TestEquivBroadcast(t *testing.T) {
	r := newRNG(t)
	for i := range 20 {
		dt := shapeDTypes[i%len(shapeDTypes)]
		out := r.dims(1, 4, 5)
		d := slices.Clone(out)
		for k := range d {
			if r.IntN(2) == 0 {
				d[k] = 1
			}
		}
		if r.IntN(5) == 0 {
			d = nil // scalar
		}
		c := equivCase{
			args:  []arg{newArg(dt, d, r.valuesFor(dt))},
			build: func(_ *graph.Graph, x []*graph.Node) []*graph.Node { return one(graph.BroadcastToDims(x[0], out...)) },
		}
		t.Run(fmt.Sprintf("BroadcastToDims/%s/%02d_%s_to_%s", dtName(dt), i, dimsName(d), dimsName(out)), func(t *testing.T) { runEquiv(t, c) })
	}
	for i := range 15 {
		dt := shapeDTypes[i%len(shapeDTypes)]
		d := r.dims(0, 3, 5)
		prefix := r.dims(1, 2, 4)
		c := equivCase{
			args: []arg{newArg(dt, d, r.valuesFor(dt))},
			build: func(_ *graph.Graph, x []*graph.Node) []*graph.Node {
				return one(graph.BroadcastPrefix(x[0], prefix...))
			},
		}
		t.Run(fmt.Sprintf("BroadcastPrefix/%s/%02d_%s_prefix%v", dtName(dt), i, dimsName(d), prefix), func(t *testing.T) { runEquiv(t, c) })
	}
	// InsertAxes / ExpandAxes (reshapes) followed by a broadcast of the new axes.
	for i := range 15 {
		dt := shapeDTypes[i%len(shapeDTypes)]
		d := r.dims(0, 3, 5)
		pos := r.IntN(len(d) + 1)
		n := 2 + r.IntN(4)
		useExpand := i%2 == 0
		c := equivCase{
			args: []arg{newArg(dt, d, r.valuesFor(dt))},
			build: func(_ *graph.Graph, x []*graph.Node) []*graph.Node {
				var y *graph.Node
				if useExpand {
					y = graph.ExpandAxes(x[0], pos)
				} else {
					y = graph.InsertAxes(x[0], pos)
				}
				out := slices.Clone(y.Shape().Dimensions)
				out[pos] = n
				return []*graph.Node{y, graph.BroadcastToDims(y, out...)}
			},
		}
		t.Run(fmt.Sprintf("InsertAxes/%s/%02d_%s_at%d", dtName(dt), i, dimsName(d), pos), func(t *testing.T) { runEquiv(t, c) })
	}
}

// TestEquivBackendBroadcast checks the Broadcast op (prefix dims), which neither the graph
// package nor the backends.Builder interface of GoMLX v0.26.0 reach, through the builders' own
// Broadcast methods.
func TestEquivBackendBroadcast(t *testing.T) {
	r := newRNG(t)
	fast, ref := equivBackends(t)
	for i := range 10 {
		d := r.dims(0, 3, 4)
		prefix := r.dims(1, 2, 4)
		in := newArg(f32, d, r.uniform(-3, 3))
		t.Run(fmt.Sprintf("Broadcast/f32/%02d_%s_prefix%v", i, dimsName(d), prefix), func(t *testing.T) {
			run := func(b backends.Backend) []float32 {
				bl := b.Builder("broadcast")
				shape := shapes.Make(f32, d...)
				p, err := bl.Parameter("x", shape, nil)
				if err != nil {
					t.Fatal(err)
				}
				bc, ok := bl.(interface {
					Broadcast(x backends.Op, prefixDims ...int) (backends.Op, error)
				})
				if !ok {
					t.Skipf("%s: builder has no Broadcast method", b.Name())
				}
				y, err := bc.Broadcast(p, prefix...)
				if err != nil {
					t.Fatalf("%s: Broadcast: %v", b.Name(), err)
				}
				exe, err := bl.Compile([]backends.Op{y}, nil)
				if err != nil {
					t.Fatal(err)
				}
				buf, err := b.BufferFromFlatData(0, slices.Clone(in.flat.([]float32)), shape)
				if err != nil {
					t.Fatal(err)
				}
				outs, err := exe.Execute([]backends.Buffer{buf}, nil, 0)
				if err != nil {
					t.Fatalf("%s: Execute: %v", b.Name(), err)
				}
				s, err := b.BufferShape(outs[0])
				if err != nil {
					t.Fatal(err)
				}
				if want := append(slices.Clone(prefix), d...); !slices.Equal(s.Dimensions, want) {
					t.Fatalf("%s: Broadcast shape %s, want dims %v", b.Name(), s, want)
				}
				flat := make([]float32, s.Size())
				if err := b.BufferToFlatData(outs[0], flat); err != nil {
					t.Fatal(err)
				}
				return flat
			}
			if got, want := run(fast), run(ref); !slices.Equal(got, want) {
				t.Fatalf("fastcpu %v, go %v", got, want)
			}
		})
	}
}

// ---- reductions ----------------------------------------------------------------------------

func TestEquivReduce(t *testing.T) {
	r := newRNG(t)
	ops := []struct {
		name string
		fn   func(x *graph.Node, axes ...int) *graph.Node
	}{{"ReduceSum", graph.ReduceSum}, {"ReduceMax", graph.ReduceMax}, {"ReduceMin", graph.ReduceMin}, {"ReduceProduct", graph.ReduceMultiply}}
	for _, op := range ops {
		for _, dt := range numericDTypes {
			for i := range 8 {
				d := r.dims(0, 4, 7)
				// Axis subsets: nil (GoMLX: all axes), all explicitly, none of a scalar, one
				// axis (sometimes negative), or a random subset in random order.
				var axes []int
				kind := "all"
				switch {
				case len(d) == 0:
					kind = "scalar"
				case i%4 == 1:
					for k := range d {
						axes = append(axes, k)
					}
					kind = "allexplicit"
				case i%4 == 2:
					axes = []int{r.IntN(len(d))}
					if r.IntN(2) == 0 {
						axes[0] -= len(d)
					}
					kind = "one"
				case i%4 == 3:
					for _, k := range r.perm(len(d)) {
						if r.IntN(2) == 0 {
							axes = append(axes, k)
						}
					}
					kind = "subset"
					if len(axes) == 0 {
						axes = []int{len(d) - 1}
					}
				}
				kTerms := 1
				if axes == nil {
					kTerms = prod(d)
				}
				for _, a := range axes {
					kTerms *= d[(a+len(d))%len(d)]
				}
				var v func(int) float64
				tl := tolElem(dt)
				switch op.name {
				case "ReduceSum":
					v = r.uniform(-1, 1)
					if dt.IsInt() {
						v = r.intIn(-50, 50)
					}
					tl = tolSum(dt, kTerms)
				case "ReduceProduct":
					v = r.magnitude(0.7, 1.4)
					if dt.IsInt() {
						v = func(int) float64 { // mostly +-1, a few +-2: no overflow
							x := 1.0
							if r.IntN(60) == 0 {
								x = 2
							}
							if r.IntN(2) == 0 {
								x = -x
							}
							return x
						}
					}
					tl = tolSum(dt, kTerms)
				default:
					v = r.withSpecials(0.02, r.uniform(-3, 3))
					if dt.IsInt() {
						v = r.intExtremes(dt, 0.05, r.intIn(-50, 50))
					}
				}
				fn := op.fn
				c := equivCase{
					args:  []arg{newArg(dt, d, v)},
					build: func(_ *graph.Graph, x []*graph.Node) []*graph.Node { return one(fn(x[0], axes...)) },
					tol:   tl,
				}
				t.Run(fmt.Sprintf("%s/%s/%02d_%s_%s%v", op.name, dtName(dt), i, dimsName(d), kind, axes), func(t *testing.T) { runEquiv(t, c) })
			}
		}
	}
}

func TestEquivArgMinMax(t *testing.T) {
	r := newRNG(t)
	for _, isMin := range []bool{false, true} {
		name := "ArgMax"
		if isMin {
			name = "ArgMin"
		}
		for _, dt := range numericDTypes {
			for i := range 6 {
				d := r.dims(1, 4, 7)
				axis := r.IntN(len(d))
				outDT := []dtypes.DType{i32, i64}[i%2]
				// Values from a small set (ties: both pick the first), with infinities but no
				// NaN (see TestEquivEdgeArgMaxNaN).
				v := func(int) float64 {
					switch r.IntN(20) {
					case 0:
						return math.Inf(1)
					case 1:
						return math.Inf(-1)
					}
					return float64(r.IntN(9)) - 4
				}
				if dt.IsInt() {
					v = r.intIn(-4, 4)
				}
				c := equivCase{
					args: []arg{newArg(dt, d, v)},
					build: func(_ *graph.Graph, x []*graph.Node) []*graph.Node {
						if isMin {
							return one(graph.ArgMin(x[0], axis, outDT))
						}
						return one(graph.ArgMax(x[0], axis, outDT))
					},
				}
				t.Run(fmt.Sprintf("%s/%s/%02d_%s_axis%d_%s", name, dtName(dt), i, dimsName(d), axis, dtName(outDT)), func(t *testing.T) { runEquiv(t, c) })
			}
		}
	}
}

// ---- DotGeneral and Einsum -----------------------------------------------------------------

type dotRole struct {
	kind byte // 'b' batch, 'c' contracting, 'x' cross
	i    int
}

// randomDot returns the operand dims and DotGeneral axes for a random batched contraction with
// batch, contracting and cross axes in random positions.
func (r rng) randomDot(maxB, maxC, maxX int) (ld, rd, lc, lb, rc, rb []int) {
	nb, nc, nl, nr := r.IntN(3), r.IntN(3), r.IntN(3), r.IntN(3)
	for nb+nc+nl > 4 || nb+nc+nr > 4 {
		nb, nc, nl, nr = r.IntN(3), r.IntN(3), r.IntN(3), r.IntN(3)
	}
	bd, cd := r.dims(nb, nb, maxB), r.dims(nc, nc, maxC)
	xl, xr := r.dims(nl, nl, maxX), r.dims(nr, nr, maxX)
	side := func(nx int, xd []int) (dims, contract, batch []int) {
		var roles []dotRole
		for i := range nb {
			roles = append(roles, dotRole{'b', i})
		}
		for i := range nc {
			roles = append(roles, dotRole{'c', i})
		}
		for i := range nx {
			roles = append(roles, dotRole{'x', i})
		}
		r.Shuffle(len(roles), func(a, b int) { roles[a], roles[b] = roles[b], roles[a] })
		contract, batch = make([]int, nc), make([]int, nb)
		for ax, ro := range roles {
			switch ro.kind {
			case 'b':
				batch[ro.i] = ax
				dims = append(dims, bd[ro.i])
			case 'c':
				contract[ro.i] = ax
				dims = append(dims, cd[ro.i])
			default:
				dims = append(dims, xd[ro.i])
			}
		}
		return dims, contract, batch
	}
	ld, lc, lb = side(nl, xl)
	rd, rc, rb = side(nr, xr)
	return
}

func TestEquivDotGeneral(t *testing.T) {
	r := newRNG(t)
	for _, dt := range []dtypes.DType{f32, f64} {
		for i := range 60 {
			// 50 small cases (dims <= 7), then 10 medium ones (dims up to 40: several Gemm blocks).
			ld, rd, lc, lb, rc, rb := r.randomDot(4, 7, 6)
			if i >= 50 {
				ld, rd, lc, lb, rc, rb = r.randomDot(3, 40, 40)
			}
			k := 1
			for _, a := range lc {
				k *= ld[a]
			}
			c := equivCase{
				args: []arg{newArg(dt, ld, r.uniform(-1, 1)), newArg(dt, rd, r.uniform(-1, 1))},
				build: func(_ *graph.Graph, x []*graph.Node) []*graph.Node {
					return one(graph.DotGeneral(x[0], lc, lb, x[1], rc, rb))
				},
				tol: tolSum(dt, k),
			}
			t.Run(fmt.Sprintf("DotGeneral/%s/%02d_%s_c%v%v_b%v%v", dtName(dt), i, dimsName(ld, rd), lc, rc, lb, rb), func(t *testing.T) { runEquiv(t, c) })
		}
	}
	// Larger matmuls, to reach the real Gemm's blocked paths: [B, M, K] x [K, N] and
	// [B, M, K] x [B, N, K] with sizes not multiple of typical block sizes.
	for i, sz := range [][4]int{{1, 33, 70, 17}, {2, 65, 129, 31}, {3, 8, 257, 9}, {1, 130, 64, 66}} {
		b, m, kk, n := sz[0], sz[1], sz[2], sz[3]
		for _, transB := range []bool{false, true} {
			ld := []int{b, m, kk}
			rd, rc := []int{kk, n}, []int{0}
			var lb, rb []int
			if transB {
				rd, rc, lb, rb = []int{b, n, kk}, []int{2}, []int{0}, []int{0}
			}
			c := equivCase{
				args: []arg{newArg(f32, ld, r.uniform(-1, 1)), newArg(f32, rd, r.uniform(-1, 1))},
				build: func(_ *graph.Graph, x []*graph.Node) []*graph.Node {
					return one(graph.DotGeneral(x[0], []int{2}, lb, x[1], rc, rb))
				},
				tol: tolSum(f32, kk),
			}
			t.Run(fmt.Sprintf("DotGeneral/f32/large%d_%s_batchedRHS=%v", i, dimsName(ld, rd), transB), func(t *testing.T) { runEquiv(t, c) })
		}
	}
}

// TestEquivThinSlabDot covers DotGeneral's thin-lhs path: a few lhs rows times an rhs whose
// contracted axes sit between its others ([outer, K, inner], per-head weights), done slab by
// slab; lhs in both layouts, one and two contracted axes.
func TestEquivThinSlabDot(t *testing.T) {
	r := newRNG(t)
	for i, tc := range []struct {
		ld, rd, lc, rc []int
	}{
		{[]int{1, 1, 40}, []int{3, 40, 5}, []int{2}, []int{1}},           // decoding: [B, P, D] . [H, D, K]
		{[]int{4, 1, 33}, []int{7, 33, 9}, []int{2}, []int{1}},           // a batch of 4
		{[]int{16, 70}, []int{2, 70, 130}, []int{1}, []int{1}},           // the most rows the path takes
		{[]int{17, 70}, []int{2, 70, 13}, []int{1}, []int{1}},            // one more: the copying path
		{[]int{70, 5}, []int{3, 70, 6}, []int{0}, []int{1}},              // lhs stored transposed
		{[]int{2, 3, 4, 5}, []int{6, 4, 5, 7}, []int{2, 3}, []int{1, 2}}, // two contracted axes
	} {
		k := 1
		for _, a := range tc.lc {
			k *= tc.ld[a]
		}
		for _, dt := range []dtypes.DType{f32, f64} {
			c := equivCase{
				args: []arg{newArg(dt, tc.ld, r.uniform(-1, 1)), newArg(dt, tc.rd, r.uniform(-1, 1))},
				build: func(_ *graph.Graph, x []*graph.Node) []*graph.Node {
					return one(graph.DotGeneral(x[0], tc.lc, nil, x[1], tc.rc, nil))
				},
				tol: tolSum(dt, k),
			}
			t.Run(fmt.Sprintf("ThinSlab/%s/%d_%s", dtName(dt), i, dimsName(tc.ld, tc.rd)), func(t *testing.T) { runEquiv(t, c) })
		}
	}
}

func TestEquivEinsum(t *testing.T) {
	r := newRNG(t)
	patterns := []string{
		"ij,jk->ik", "ij,kj->ik", "ji,jk->ik", "bij,bjk->bik", "bij,bkj->bik",
		"bqhd,bkhd->bhqk", "bhqk,bkhd->bqhd", "bpd,dhk->bphk", "bphk,hkd->bpd",
		"i,i->", "i,j->ij", "bi,bi->b", "ijk,kj->i",
	}
	for _, dt := range []dtypes.DType{f32, f64} {
		for i, p := range patterns {
			size := map[rune]int{}
			for _, ch := range p {
				if ch >= 'a' && ch <= 'z' {
					if _, ok := size[ch]; !ok {
						size[ch] = 1 + r.IntN(6)
					}
				}
			}
			var ops [2][]int
			var out string
			lhsRhs, o, _ := cutArrow(p)
			out = o
			for s, spec := range splitComma(lhsRhs) {
				for _, ch := range spec {
					ops[s] = append(ops[s], size[ch])
				}
			}
			k := 1
			for ch, n := range size {
				if !containsRune(out, ch) {
					k *= n
				}
			}
			eq := p
			c := equivCase{
				args: []arg{newArg(dt, ops[0], r.uniform(-1, 1)), newArg(dt, ops[1], r.uniform(-1, 1))},
				build: func(_ *graph.Graph, x []*graph.Node) []*graph.Node {
					return one(graph.Einsum(eq, x[0], x[1]))
				},
				tol: tolSum(dt, k),
			}
			t.Run(fmt.Sprintf("Einsum/%s/%02d_%s_%s", dtName(dt), i, p, dimsName(ops[0], ops[1])), func(t *testing.T) { runEquiv(t, c) })
		}
	}
}

func cutArrow(s string) (string, string, bool) {
	for i := 0; i+1 < len(s); i++ {
		if s[i] == '-' && s[i+1] == '>' {
			return s[:i], s[i+2:], true
		}
	}
	return s, "", false
}

func splitComma(s string) []string {
	for i := range s {
		if s[i] == ',' {
			return []string{s[:i], s[i+1:]}
		}
	}
	return []string{s}
}

func containsRune(s string, r rune) bool {
	for _, c := range s {
		if c == r {
			return true
		}
	}
	return false
}

// ---- Gather and ScatterSum -----------------------------------------------------------------

func TestEquivGather(t *testing.T) {
	r := newRNG(t)
	// Embedding-style: params [V, D...], indices [B..., n] indexing the first n axes.
	for i := range 24 {
		dt := []dtypes.DType{f32, f64, i32, f32}[i%4]
		idxDT := []dtypes.DType{i32, i64}[(i/4)%2]
		params := r.dims(1, 4, 7)
		n := 1
		if i%3 == 2 && len(params) > 1 {
			n = 1 + r.IntN(len(params)) // several indexed axes
		}
		batch := r.dims(0, 2, 5)
		idxDims := append(slices.Clone(batch), n)
		idx := func(j int) float64 { return float64(r.IntN(params[j%n])) }
		c := equivCase{
			args: []arg{newArg(dt, params, r.valuesFor(dt)), newArg(idxDT, idxDims, idx)},
			build: func(_ *graph.Graph, x []*graph.Node) []*graph.Node {
				return one(graph.Gather(x[0], x[1]))
			},
		}
		t.Run(fmt.Sprintf("Gather/%s/%02d_%s_idx%s", dtName(dt), i, dimsName(params), dimsName(idxDims)), func(t *testing.T) { runEquiv(t, c) })
	}
	// GatherSlices: slices of static sizes at dynamic starts along sorted axes.
	for i := range 16 {
		dt := []dtypes.DType{f32, i32, f64, i64}[i%4]
		in := r.dims(1, 4, 7)
		var axes, sizes []int
		for k := range in {
			if r.IntN(2) == 0 || (k == len(in)-1 && len(axes) == 0) {
				axes = append(axes, k)
				sizes = append(sizes, 1+r.IntN(in[k]))
			}
		}
		nStart := r.dims(1, 1, 4) // (a start rank > 2 trips an indexVectorAxis error in graph.GatherSlices)
		startDims := append(slices.Clone(nStart), len(axes))
		start := func(j int) float64 {
			a := j % len(axes)
			return float64(r.IntN(in[axes[a]] - sizes[a] + 1))
		}
		c := equivCase{
			args: []arg{newArg(dt, in, r.valuesFor(dt)), newArg(i32, startDims, start)},
			build: func(_ *graph.Graph, x []*graph.Node) []*graph.Node {
				return one(graph.GatherSlices(x[0], axes, x[1], sizes, false))
			},
		}
		t.Run(fmt.Sprintf("GatherSlices/%s/%02d_%s_axes%v_sizes%v_start%s", dtName(dt), i, dimsName(in), axes, sizes, dimsName(startDims)), func(t *testing.T) { runEquiv(t, c) })
	}
}

func TestEquivScatterSum(t *testing.T) {
	r := newRNG(t)
	for i := range 24 {
		dt := []dtypes.DType{f32, f64, i32, i64}[i%4]
		op := r.dims(1, 4, 6)
		k := 1 + r.IntN(len(op))
		nIdx := r.dims(1, 2, 5) // index batch dims; duplicates are frequent
		idxDims := append(slices.Clone(nIdx), k)
		upDims := append(slices.Clone(nIdx), op[k:]...)
		idx := func(j int) float64 { return float64(r.IntN(op[j%k])) }
		v := r.uniform(-2, 2)
		if dt.IsInt() {
			v = r.intIn(-100, 100)
		}
		c := equivCase{
			args: []arg{newArg(dt, op, v), newArg(i32, idxDims, idx), newArg(dt, upDims, v)},
			build: func(_ *graph.Graph, x []*graph.Node) []*graph.Node {
				return one(graph.ScatterSum(x[0], x[1], x[2], false, false))
			},
			tol: tolSum(dt, prod(nIdx)+1),
		}
		t.Run(fmt.Sprintf("ScatterSum/%s/%02d_%s_idx%s_upd%s", dtName(dt), i, dimsName(op), dimsName(idxDims), dimsName(upDims)), func(t *testing.T) { runEquiv(t, c) })
	}
}

// ---- Slice, Concatenate, Pad, Iota, ConvertDType -------------------------------------------

func TestEquivSlice(t *testing.T) {
	r := newRNG(t)
	for i := range 30 {
		dt := shapeDTypes[i%len(shapeDTypes)]
		d := r.dims(1, 4, 7)
		specs := make([]graph.SliceAxisSpec, len(d))
		desc := ""
		for k, n := range d {
			s := r.IntN(n)
			e := s + 1 + r.IntN(n-s)
			stride := 1
			if r.IntN(2) == 0 {
				stride = 1 + r.IntN(3)
			}
			specs[k] = graph.AxisRange(s, e).Stride(stride)
			desc += fmt.Sprintf("%d:%d:%d,", s, e, stride)
		}
		c := equivCase{
			args:  []arg{newArg(dt, d, r.valuesFor(dt))},
			build: func(_ *graph.Graph, x []*graph.Node) []*graph.Node { return one(graph.Slice(x[0], specs...)) },
		}
		t.Run(fmt.Sprintf("Slice/%s/%02d_%s_%s", dtName(dt), i, dimsName(d), desc), func(t *testing.T) { runEquiv(t, c) })
	}
}

func TestEquivConcatenate(t *testing.T) {
	r := newRNG(t)
	for i := range 25 {
		dt := shapeDTypes[i%len(shapeDTypes)]
		base := r.dims(1, 4, 5)
		axis := r.IntN(len(base))
		n := 1 + r.IntN(4)
		var args []arg
		var ds [][]int
		for range n {
			d := slices.Clone(base)
			d[axis] = 1 + r.IntN(4)
			ds = append(ds, d)
			args = append(args, newArg(dt, d, r.valuesFor(dt)))
		}
		c := equivCase{
			args:  args,
			build: func(_ *graph.Graph, x []*graph.Node) []*graph.Node { return one(graph.Concatenate(x, axis)) },
		}
		t.Run(fmt.Sprintf("Concatenate/%s/%02d_axis%d_%s", dtName(dt), i, axis, dimsName(ds...)), func(t *testing.T) { runEquiv(t, c) })
	}
}

// padRef is a plain-Go Pad (the pure-Go backend has no Pad in GoMLX v0.26.0).
func padRef(in arg, fill float64, cfg []backends.PadAxis) arg {
	outDims := make([]int, len(in.dims))
	for k, d := range in.dims {
		outDims[k] = cfg[k].Start + cfg[k].End + d + max(0, d-1)*cfg[k].Interior
	}
	src := flatArgValues(in)
	outStr := make([]int, len(outDims))
	s := 1
	for k := len(outDims) - 1; k >= 0; k-- {
		outStr[k] = s
		s *= outDims[k]
	}
	pos := map[int]int{} // output index -> input index
	for i := range prod(in.dims) {
		c := coords(i, in.dims)
		o := 0
		for k := range c {
			o += (cfg[k].Start + c[k]*(cfg[k].Interior+1)) * outStr[k]
		}
		pos[o] = i
	}
	dt := dtypes.FromGoType(sliceElemType(in.flat))
	return newArg(dt, outDims, func(i int) float64 {
		if j, ok := pos[i]; ok {
			return src[j]
		}
		return fill
	})
}

func TestEquivPad(t *testing.T) {
	r := newRNG(t)
	for i := range 20 {
		dt := []dtypes.DType{f32, f64, i32, i64}[i%4]
		d := r.dims(1, 3, 5)
		cfg := make([]backends.PadAxis, len(d))
		for k := range cfg {
			cfg[k] = backends.PadAxis{Start: r.IntN(3), End: r.IntN(3), Interior: r.IntN(3)}
		}
		in := newArg(dt, d, r.valuesFor(dt))
		fill := float64(r.IntN(10)) - 5
		c := equivCase{
			args: []arg{in, newArg(dt, nil, func(int) float64 { return fill })},
			build: func(_ *graph.Graph, x []*graph.Node) []*graph.Node {
				return one(graph.Pad(x[0], x[1], cfg...))
			},
			ref: func() []arg { return []arg{padRef(in, fill, cfg)} },
		}
		t.Run(fmt.Sprintf("Pad/%s/%02d_%s_%v", dtName(dt), i, dimsName(d), cfg), func(t *testing.T) { runEquiv(t, c) })
	}
}

func TestEquivIota(t *testing.T) {
	r := newRNG(t)
	for i := range 16 {
		dt := numericDTypes[i%4]
		d := r.dims(1, 4, 6)
		axis := r.IntN(len(d))
		full := i%4 == 3
		c := equivCase{
			build: func(g *graph.Graph, _ []*graph.Node) []*graph.Node {
				if full {
					return one(graph.IotaFull(g, shapes.Make(dt, d...)))
				}
				return one(graph.Iota(g, shapes.Make(dt, d...), axis))
			},
		}
		t.Run(fmt.Sprintf("Iota/%s/%02d_%s_axis%d_full%v", dtName(dt), i, dimsName(d), axis, full), func(t *testing.T) { runEquiv(t, c) })
	}
}

func TestEquivConvertDType(t *testing.T) {
	r := newRNG(t)
	pairs := [][2]dtypes.DType{
		{f32, i32}, {f32, i64}, {f32, f64}, {f64, f32}, {i32, f32}, {i64, f32}, {i32, i64}, {i64, i32},
		{i32, f64}, {boolDT, f32}, {f32, boolDT}, {i32, boolDT}, {boolDT, i32}, {f64, i64},
	}
	for _, p := range pairs {
		for i := range 3 {
			d := r.dims(0, 4, 6)
			v := r.valuesFor(p[0])
			if p[0].IsFloat() {
				// Truncation towards zero on both sides; exact zeros for the bool conversions.
				v = func(int) float64 {
					if r.IntN(5) == 0 {
						return 0
					}
					return r.Float64()*200 - 100
				}
			}
			to := p[1]
			c := equivCase{
				args:  []arg{newArg(p[0], d, v)},
				build: func(_ *graph.Graph, x []*graph.Node) []*graph.Node { return one(graph.ConvertDType(x[0], to)) },
				tol:   tolElem(to),
			}
			t.Run(fmt.Sprintf("ConvertDType/%s_to_%s/%02d_%s", dtName(p[0]), dtName(p[1]), i, dimsName(d)), func(t *testing.T) { runEquiv(t, c) })
		}
	}
}

// TestEquivOutputAliasing returns the same node twice, a parameter, a reshape of a parameter
// and a view of an intermediate: each output must be its own buffer with the right values.
func TestEquivOutputAliasing(t *testing.T) {
	r := newRNG(t)
	d := []int{3, 4}
	c := equivCase{
		args: []arg{newArg(f32, d, r.uniform(-1, 1)), newArg(f32, d, r.uniform(-1, 1))},
		build: func(_ *graph.Graph, x []*graph.Node) []*graph.Node {
			s := graph.Add(x[0], x[1])
			return []*graph.Node{s, s, x[0], graph.Reshape(x[1], 12), graph.Reshape(s, 4, 3), graph.Neg(s)}
		},
		tol: tolElem32,
	}
	t.Run("Aliasing/f32", func(t *testing.T) { runEquiv(t, c) })
}

// broadcastRef returns the broadcast output dims of two operands (same rank with 1-dims, or
// scalars) and accessors of each operand's value at an output flat index.
func broadcastRef(a, b arg) (out []int, av, bv func(int) float64) {
	out = slices.Clone(a.dims)
	if len(out) == 0 {
		out = slices.Clone(b.dims)
	}
	for k := range out {
		if len(b.dims) > 0 && b.dims[k] > out[k] {
			out[k] = b.dims[k]
		}
	}
	at := func(x arg) func(int) float64 {
		vals := flatArgValues(x)
		return func(i int) float64 {
			if len(x.dims) == 0 {
				return vals[0]
			}
			c := coords(i, out)
			j := 0
			for k, d := range x.dims {
				j *= d
				if d > 1 {
					j += c[k]
				}
			}
			return vals[j]
		}
	}
	return out, at(a), at(b)
}

// TestEquivDynamicUpdateSlice: updates written at run-time starts, including starts that XLA
// clamps (negative, or past dim - update dim), against a plain-Go reference (the pure-Go backend
// has no DynamicUpdateSlice).
func TestEquivDynamicUpdateSlice(t *testing.T) {
	r := newRNG(t)
	for _, dt := range []dtypes.DType{f32, f64} {
		for i := range 20 {
			rank := 1 + r.IntN(4)
			od := r.dims(rank, rank, 6)
			ud := make([]int, rank)
			starts := make([]float64, rank)
			for a := range rank {
				ud[a] = 1 + r.IntN(od[a])
				starts[a] = float64(r.IntN(od[a]+3) - 1) // -1 .. dim+1: some clamped
			}
			operand, update := newArg(dt, od, r.uniform(-1, 1)), newArg(dt, ud, r.uniform(-1, 1))
			c := equivCase{
				args: []arg{operand, update, newArg(dtypes.Int32, []int{rank}, func(i int) float64 { return starts[i] })},
				build: func(_ *graph.Graph, x []*graph.Node) []*graph.Node {
					idx := make([]*graph.Node, rank)
					for a := range rank {
						idx[a] = graph.Reshape(graph.Slice(x[2], graph.AxisRange(a, a+1)))
					}
					return one(graph.DynamicUpdateSlice(x[0], x[1], idx))
				},
				tol: tolSum(dt, 1),
				ref: func() []arg {
					ov, uv := argFloats(operand), argFloats(update)
					strides := func(d []int) []int {
						st := make([]int, len(d))
						for a, n := len(d)-1, 1; a >= 0; a-- {
							st[a], n = n, n*d[a]
						}
						return st
					}
					oStr, uStr := strides(od), strides(ud)
					for j := range uv {
						off := 0
						for a := range rank {
							s := min(max(int(starts[a]), 0), od[a]-ud[a])
							off += (s + j/uStr[a]%ud[a]) * oStr[a]
						}
						ov[off] = uv[j]
					}
					return []arg{newArg(dt, od, func(i int) float64 { return ov[i] })}
				},
			}
			t.Run(fmt.Sprintf("DynamicUpdateSlice/%s/%02d_%s_starts%v", dtName(dt), i, dimsName(od, ud), starts), func(t *testing.T) { runEquiv(t, c) })
		}
	}
}

// argFloats is a float argument's values as float64.
func argFloats(a arg) []float64 {
	switch f := a.flat.(type) {
	case []float32:
		out := make([]float64, len(f))
		for i, x := range f {
			out[i] = float64(x)
		}
		return out
	case []float64:
		return slices.Clone(f)
	}
	panic(fmt.Sprintf("argFloats: %T", a.flat))
}
