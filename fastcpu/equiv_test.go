package fastcpu_test

// Equivalence harness: every test in equiv*_test.go builds one GoMLX graph function, runs it on
// fastcpu and on GoMLX's pure-Go backend ("go", configured "go:ops_sequential") with the same
// random inputs, and compares the outputs.
//
// Comparison rules (compareOutputs):
//   - shapes must be equal: same dtype and same dimensions;
//   - integers and bools must be equal exactly;
//   - floats: NaN matches only NaN, an infinity only the same infinity, and otherwise
//     |got - want| <= tol.abs + tol.rel*|want|, with the tolerance each test states.
//
// The tolerances used (see the tol* helpers below):
//   - float32 elementwise ops: abs 1e-5 + rel 1e-5 (simplego computes in float64 and rounds;
//     fastcpu does too, or uses float32 polynomials accurate to a few ulps for exp, tanh and
//     logistic: ~100x headroom);
//   - float64 elementwise ops: abs 1e-12 + rel 1e-12;
//   - reductions and matmuls over K terms (accumulation order and precision differ: fastcpu sums
//     in float64, simplego in the input dtype): float32 abs 1e-5*sqrt(K) + rel 1e-4*sqrt(K),
//     float64 abs 1e-12*sqrt(K) + rel 1e-12*sqrt(K);
//   - gradients of compositions: stated per test, derived from the same rule.
//
// When fastcpu rejects a graph, the error must say "not implemented" (the case is then skipped
// and the op is listed by TestEquivZZMissingOpsReport); any other fastcpu error fails the case.
// Where the pure-Go backend cannot run a case (it has no Pad, and no Equal/NotEqual on bools),
// the case supplies a naive Go reference instead.
//
// The random generators are seeded per test (math/rand/v2 PCG), so failures reproduce; each
// subtest is named op/dtype/case#/shapes.

import (
	"fmt"
	"hash/fnv"
	"math"
	"math/rand/v2"
	"reflect"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/gomlx/gomlx/backends"
	_ "github.com/gomlx/gomlx/backends/simplego" // the reference backend, registered as "go"
	"github.com/gomlx/gomlx/pkg/core/dtypes"
	"github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/shapes"
	"github.com/gomlx/gomlx/pkg/core/tensors"

	"github.com/interp-dev/interp/autodiff"
	"github.com/interp-dev/interp/fastcpu"
)

// refBackendConfig is the reference: simplego running one op at a time, which cannot hit
// simplego's nested worker-pool deadlock (see package autodiff) and prints nothing.
const refBackendConfig = "go:ops_sequential"

var (
	equivOnce          sync.Once
	equivFast, equivRf backends.Backend
	equivErr           error
)

// equivBackends returns (fastcpu, go) and installs the project's VJPs (DotGeneral, Slice), so
// gradient graphs are the ones the model builds.
func equivBackends(t testing.TB) (fast, ref backends.Backend) {
	t.Helper()
	equivOnce.Do(func() {
		autodiff.Register()
		autodiff.RegisterSlice()
		equivFast, equivErr = backends.NewWithConfig(fastcpu.BackendName)
		if equivErr != nil {
			return
		}
		equivRf, equivErr = backends.NewWithConfig(refBackendConfig)
	})
	if equivErr != nil {
		t.Fatalf("creating backends: %v", equivErr)
	}
	return equivFast, equivRf
}

// ---- tolerances -----------------------------------------------------------------------------

type tolerance struct{ abs, rel float64 }

var (
	tolExact  = tolerance{}
	tolElem32 = tolerance{abs: 1e-5, rel: 1e-5}   // float32 elementwise
	tolElem64 = tolerance{abs: 1e-12, rel: 1e-12} // float64 elementwise
)

// tolElem is the elementwise tolerance for dtype dt (exact for ints and bools).
func tolElem(dt dtypes.DType) tolerance {
	switch dt {
	case dtypes.Float32:
		return tolElem32
	case dtypes.Float64:
		return tolElem64
	}
	return tolExact
}

// tolSum is the tolerance of a reduction or matmul that accumulates k terms: float32
// abs 1e-5*sqrt(K) + rel 1e-4*sqrt(K); float64 abs 1e-12*sqrt(K) + rel 1e-12*sqrt(K).
func tolSum(dt dtypes.DType, k int) tolerance {
	s := math.Sqrt(float64(max(k, 1)))
	switch dt {
	case dtypes.Float32:
		return tolerance{abs: 1e-5 * s, rel: 1e-4 * s}
	case dtypes.Float64:
		return tolerance{abs: 1e-12 * s, rel: 1e-12 * s}
	}
	return tolExact
}

func (tl tolerance) ok(got, want float64) bool {
	if math.IsNaN(got) || math.IsNaN(want) {
		return math.IsNaN(got) && math.IsNaN(want)
	}
	if math.IsInf(got, 0) || math.IsInf(want, 0) {
		return got == want
	}
	return math.Abs(got-want) <= tl.abs+tl.rel*math.Abs(want)
}

// ---- inputs ---------------------------------------------------------------------------------

// arg is one graph input: a flat Go slice ([]float32, []float64, []int32, []int64, []bool) and
// its dimensions. Each backend gets its own tensor (a GoMLX tensor is bound to one backend).
type arg struct {
	flat any
	dims []int
}

func (a arg) tensor() *tensors.Tensor {
	switch f := a.flat.(type) {
	case []float32:
		return tensors.FromFlatDataAndDimensions(slices.Clone(f), a.dims...)
	case []float64:
		return tensors.FromFlatDataAndDimensions(slices.Clone(f), a.dims...)
	case []int32:
		return tensors.FromFlatDataAndDimensions(slices.Clone(f), a.dims...)
	case []int64:
		return tensors.FromFlatDataAndDimensions(slices.Clone(f), a.dims...)
	case []bool:
		return tensors.FromFlatDataAndDimensions(slices.Clone(f), a.dims...)
	case []int8:
		return tensors.FromFlatDataAndDimensions(slices.Clone(f), a.dims...)
	case []int16:
		return tensors.FromFlatDataAndDimensions(slices.Clone(f), a.dims...)
	case []uint8:
		return tensors.FromFlatDataAndDimensions(slices.Clone(f), a.dims...)
	case []uint16:
		return tensors.FromFlatDataAndDimensions(slices.Clone(f), a.dims...)
	case []uint32:
		return tensors.FromFlatDataAndDimensions(slices.Clone(f), a.dims...)
	case []uint64:
		return tensors.FromFlatDataAndDimensions(slices.Clone(f), a.dims...)
	}
	panic(fmt.Sprintf("arg: unsupported flat type %T", a.flat))
}

// makeFlat converts generated values to []T (Go's conversion rules: values must fit T).
func makeFlat[T int8 | int16 | uint8 | uint16 | uint32 | uint64](n int, v func(i int) float64) []T {
	f := make([]T, n)
	for i := range f {
		f[i] = T(v(i))
	}
	return f
}

// newArg makes an input of dtype dt and dims with element i = v(i) (bools: v(i) != 0).
func newArg(dt dtypes.DType, dims []int, v func(i int) float64) arg {
	n := shapes.Make(dt, dims...).Size()
	a := arg{dims: slices.Clone(dims)}
	switch dt {
	case dtypes.Float32:
		f := make([]float32, n)
		for i := range f {
			f[i] = float32(v(i))
		}
		a.flat = f
	case dtypes.Float64:
		f := make([]float64, n)
		for i := range f {
			f[i] = v(i)
		}
		a.flat = f
	case dtypes.Int32:
		f := make([]int32, n)
		for i := range f {
			f[i] = int32(v(i))
		}
		a.flat = f
	case dtypes.Int64:
		f := make([]int64, n)
		for i := range f {
			f[i] = int64(v(i))
		}
		a.flat = f
	case dtypes.Bool:
		f := make([]bool, n)
		for i := range f {
			f[i] = v(i) != 0
		}
		a.flat = f
	case dtypes.Int8:
		a.flat = makeFlat[int8](n, v)
	case dtypes.Int16:
		a.flat = makeFlat[int16](n, v)
	case dtypes.Uint8:
		a.flat = makeFlat[uint8](n, v)
	case dtypes.Uint16:
		a.flat = makeFlat[uint16](n, v)
	case dtypes.Uint32:
		a.flat = makeFlat[uint32](n, v)
	case dtypes.Uint64:
		a.flat = makeFlat[uint64](n, v)
	default:
		panic(fmt.Sprintf("newArg: dtype %s", dt))
	}
	return a
}

// ---- random generation ----------------------------------------------------------------------

type rng struct{ *rand.Rand }

// newRNG seeds a generator from the test's name, so each test is reproducible on its own.
func newRNG(t testing.TB) rng {
	h := fnv.New64a()
	_, _ = h.Write([]byte(t.Name()))
	return rng{rand.New(rand.NewPCG(h.Sum64(), 0x5eed))}
}

// dims returns random dimensions: rank in [minRank, maxRank], each dim in [1, maxDim].
func (r rng) dims(minRank, maxRank, maxDim int) []int {
	d := make([]int, minRank+r.IntN(maxRank-minRank+1))
	for i := range d {
		d[i] = 1 + r.IntN(maxDim)
	}
	return d
}

// uniform returns a value generator uniform in [lo, hi).
func (r rng) uniform(lo, hi float64) func(int) float64 {
	return func(int) float64 { return lo + (hi-lo)*r.Float64() }
}

// intIn returns a value generator of integers in [lo, hi].
func (r rng) intIn(lo, hi int) func(int) float64 {
	return func(int) float64 { return float64(lo + r.IntN(hi-lo+1)) }
}

// magnitude returns values with |v| in [lo, hi) and a random sign (never near zero).
func (r rng) magnitude(lo, hi float64) func(int) float64 {
	return func(int) float64 {
		v := lo + (hi-lo)*r.Float64()
		if r.IntN(2) == 0 {
			return -v
		}
		return v
	}
}

// withSpecials replaces a fraction p of v's values with NaN, +-Inf, +-0 or exact ties.
func (r rng) withSpecials(p float64, v func(int) float64) func(int) float64 {
	specials := []float64{math.NaN(), math.Inf(1), math.Inf(-1), 0, math.Copysign(0, -1), 1, -1, 0.5}
	return func(i int) float64 {
		if r.Float64() < p {
			return specials[r.IntN(len(specials))]
		}
		return v(i)
	}
}

// bools returns a generator of random 0/1.
func (r rng) bools() func(int) float64 { return func(int) float64 { return float64(r.IntN(2)) } }

// broadcastPair returns operand dimensions for a broadcasting binary op: same rank with random
// 1-dims on either side, or a scalar on one or both sides.
func (r rng) broadcastPair() (lhs, rhs []int) {
	out := r.dims(0, 4, 6)
	mk := func() []int {
		switch r.IntN(6) {
		case 0:
			return nil // scalar
		case 1, 2:
			return slices.Clone(out)
		}
		d := slices.Clone(out)
		for i := range d {
			if r.IntN(3) == 0 {
				d[i] = 1
			}
		}
		return d
	}
	return mk(), mk()
}

func (r rng) perm(n int) []int { return r.Perm(n) }

// ---- running --------------------------------------------------------------------------------

// equivCase is one graph evaluated on both backends.
type equivCase struct {
	name  string
	args  []arg
	build func(g *graph.Graph, x []*graph.Node) []*graph.Node
	tol   tolerance // for float outputs (integer and bool outputs are compared exactly)
	// ref, when set, computes the expected outputs in plain Go; it is used when the reference
	// backend cannot run the case (Pad; Equal on bools).
	ref func() []arg
}

// execOn builds and runs c on backend b. A dummy scalar input comes first so build always has
// the graph even when the case takes no inputs.
func execOn(b backends.Backend, c equivCase) (outs []*tensors.Tensor, err error) {
	defer func() {
		if r := recover(); r != nil {
			if e, ok := r.(error); ok {
				err = fmt.Errorf("panic: %w", e)
			} else {
				err = fmt.Errorf("panic: %v", r)
			}
		}
	}()
	exec, err := graph.NewExec(b, func(ins []*graph.Node) []*graph.Node {
		return c.build(ins[0].Graph(), ins[1:])
	})
	if err != nil {
		return nil, err
	}
	args := []any{tensors.FromScalar(float32(0))}
	for _, a := range c.args {
		args = append(args, a.tensor())
	}
	return exec.Exec(args...)
}

// isNotImplemented reports whether err is an op a backend lacks.
func isNotImplemented(err error) bool {
	return err != nil && strings.Contains(err.Error(), "not implemented")
}

var (
	missingMu  sync.Mutex
	missingOps = map[string]string{} // op or case -> first error line
)

func noteMissing(what string, err error) {
	missingMu.Lock()
	defer missingMu.Unlock()
	if _, ok := missingOps[what]; !ok {
		line, _, _ := strings.Cut(err.Error(), "\n")
		missingOps[what] = line
	}
}

// runEquiv runs c on both backends as the current (sub)test and compares the outputs.
func runEquiv(t *testing.T, c equivCase) {
	t.Helper()
	fast, ref := equivBackends(t)
	want, err := execOn(ref, c)
	var wantArgs []arg
	if err != nil {
		if c.ref == nil {
			t.Fatalf("reference backend %q failed: %v", refBackendConfig, err)
		}
		wantArgs = c.ref()
	}
	got, err := execOn(fast, c)
	if err != nil {
		if isNotImplemented(err) {
			noteMissing(missingKey(t.Name()), err)
			t.Skipf("fastcpu: not implemented: %v", firstLine(err))
		}
		t.Fatalf("fastcpu failed (and the error does not say \"not implemented\"): %v", err)
	}
	if wantArgs != nil {
		want = make([]*tensors.Tensor, len(wantArgs))
		for i, a := range wantArgs {
			want[i] = a.tensor()
		}
	}
	compareOutputs(t, got, want, c)
}

// missingKey names the op (and dtype) of a subtest: its name without the case suffix.
func missingKey(name string) string {
	parts := strings.Split(name, "/")
	if len(parts) > 3 {
		parts = parts[:len(parts)-1] // Test/Op/dtype/case -> Test/Op/dtype
	}
	return strings.Join(parts, "/")
}

func firstLine(err error) string {
	line, _, _ := strings.Cut(err.Error(), "\n")
	return line
}

// compareOutputs checks shapes, then values (see the rules at the top of this file).
func compareOutputs(t *testing.T, got, want []*tensors.Tensor, c equivCase) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("fastcpu returned %d outputs, go returned %d", len(got), len(want))
	}
	for o := range want {
		tl := c.tol
		if !got[o].Shape().Equal(want[o].Shape()) {
			t.Fatalf("output #%d: fastcpu shape %s, go shape %s", o, got[o].Shape(), want[o].Shape())
		}
		dt := want[o].DType()
		if dt.IsInt() {
			// Exact, through int64 (float64 would hide differences beyond 2^53).
			gi, wi := flatInt64(got[o]), flatInt64(want[o])
			var bad []string
			n := 0
			for i := range wi {
				if gi[i] != wi[i] {
					if n < 6 {
						bad = append(bad, fmt.Sprintf("[%d]%v: fastcpu %d, go %d", i, coords(i, want[o].Shape().Dimensions), gi[i], wi[i]))
					}
					n++
				}
			}
			if n > 0 {
				t.Errorf("output #%d (%s): %d of %d values differ:\n  %s", o, want[o].Shape(), n, len(wi), strings.Join(bad, "\n  "))
			}
			continue
		}
		g, w := flatValues(got[o]), flatValues(want[o])
		if dt == dtypes.Bool {
			tl = tolExact
		}
		var bad []string
		worst := 0.0
		for i := range w {
			if !tl.ok(g[i], w[i]) {
				if len(bad) < 6 {
					bad = append(bad, fmt.Sprintf("[%d]%v: fastcpu %v, go %v (diff %.3g)", i,
						coords(i, want[o].Shape().Dimensions), g[i], w[i], math.Abs(g[i]-w[i])))
				}
				worst = max(worst, math.Abs(g[i]-w[i]))
			}
		}
		if len(bad) > 0 {
			t.Errorf("output #%d (%s): %d of %d values differ beyond abs %g + rel %g (worst %.3g):\n  %s",
				o, want[o].Shape(), countBad(g, w, tl), len(w), tl.abs, tl.rel, worst, strings.Join(bad, "\n  "))
		}
	}
}

func countBad(g, w []float64, tl tolerance) int {
	n := 0
	for i := range w {
		if !tl.ok(g[i], w[i]) {
			n++
		}
	}
	return n
}

func coords(i int, dims []int) []int {
	c := make([]int, len(dims))
	for k := len(dims) - 1; k >= 0; k-- {
		c[k] = i % dims[k]
		i /= dims[k]
	}
	return c
}

// flatValues reads any supported tensor as float64 (exact for the integers the tests use;
// int64 values beyond 2^53 are compared through flatInt64 by the tests that need it).
func flatValues(t *tensors.Tensor) []float64 {
	var out []float64
	t.MustConstFlatData(func(flat any) {
		switch f := flat.(type) {
		case []float32:
			out = make([]float64, len(f))
			for i, v := range f {
				out[i] = float64(v)
			}
		case []float64:
			out = slices.Clone(f)
		case []int32:
			out = make([]float64, len(f))
			for i, v := range f {
				out[i] = float64(v)
			}
		case []int64:
			out = make([]float64, len(f))
			for i, v := range f {
				out[i] = float64(v)
			}
		case []bool:
			out = make([]float64, len(f))
			for i, v := range f {
				if v {
					out[i] = 1
				}
			}
		}
	})
	if out == nil && t.DType().IsInt() {
		for _, v := range flatInt64(t) {
			out = append(out, float64(v))
		}
	}
	if out == nil && t.Shape().Size() > 0 {
		panic(fmt.Sprintf("flatValues: unsupported %s", t.Shape()))
	}
	return out
}

// flatInt64 reads an integer tensor as int64.
func flatInt64(t *tensors.Tensor) []int64 {
	var out []int64
	t.MustConstFlatData(func(flat any) {
		switch f := flat.(type) {
		case []int32:
			out = make([]int64, len(f))
			for i, v := range f {
				out[i] = int64(v)
			}
		case []int64:
			out = slices.Clone(f)
		case []int8:
			out = toInt64(f)
		case []int16:
			out = toInt64(f)
		case []uint8:
			out = toInt64(f)
		case []uint16:
			out = toInt64(f)
		case []uint32:
			out = toInt64(f)
		case []uint64: // compared as int64 bit patterns: still exact
			out = toInt64(f)
		default:
			panic(fmt.Sprintf("flatInt64: unsupported %T", flat))
		}
	})
	return out
}

func toInt64[T int8 | int16 | uint8 | uint16 | uint32 | uint64](f []T) []int64 {
	out := make([]int64, len(f))
	for i, v := range f {
		out[i] = int64(v)
	}
	return out
}

// flatArgValues reads an arg's values as float64.
func flatArgValues(a arg) []float64 { return flatValues(a.tensor()) }

func sliceElemType(flat any) reflect.Type { return reflect.TypeOf(flat).Elem() }

func dimsName(ds ...[]int) string {
	parts := make([]string, len(ds))
	for i, d := range ds {
		if len(d) == 0 {
			parts[i] = "[]"
			continue
		}
		s := make([]string, len(d))
		for k, v := range d {
			s[k] = fmt.Sprint(v)
		}
		parts[i] = "[" + strings.Join(s, ",") + "]"
	}
	return strings.Join(parts, "x")
}

func dtName(dt dtypes.DType) string {
	switch dt {
	case dtypes.Float32:
		return "f32"
	case dtypes.Float64:
		return "f64"
	case dtypes.Int32:
		return "i32"
	case dtypes.Int64:
		return "i64"
	case dtypes.Bool:
		return "bool"
	}
	return strings.ToLower(dt.String())
}

func prod(d []int) int {
	p := 1
	for _, v := range d {
		p *= v
	}
	return p
}

// TestEquivZZMissingOpsReport runs last (file and name order) and lists the ops the equivalence
// tests hit that fastcpu does not implement. It never fails: a missing op is reported, and the
// cases that need it are skipped.
func TestEquivZZMissingOpsReport(t *testing.T) {
	missingMu.Lock()
	defer missingMu.Unlock()
	if len(missingOps) == 0 {
		t.Log("no case hit an op fastcpu lacks")
		return
	}
	keys := make([]string, 0, len(missingOps))
	for k := range missingOps {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		t.Logf("fastcpu lacks an op used by %s: %s", k, missingOps[k])
	}
}
