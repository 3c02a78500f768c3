package fastcpu

import (
	"math"

	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/backends/shapeinference"
	"github.com/gomlx/gomlx/pkg/core/dtypes"
	"github.com/gomlx/gomlx/pkg/core/shapes"
	"github.com/pkg/errors"
)

type number interface {
	~float32 | ~float64 | ~int8 | ~int16 | ~int32 | ~int64 | ~uint8 | ~uint16 | ~uint32 | ~uint64
}

type integer interface {
	~int8 | ~int16 | ~int32 | ~int64 | ~uint8 | ~uint16 | ~uint32 | ~uint64
}

// ---- binary arithmetic -------------------------------------------------------------------

// binLoop applies op on one broadcast run.
func binLoop[T any, O any](out []O, a, b []T, o, ao, bo, n, sa, sb int, op func(x, y T) O) {
	out = out[o : o+n]
	switch {
	case sa == 1 && sb == 1:
		a, b = a[ao:ao+n], b[bo:bo+n]
		for i := range out {
			out[i] = op(a[i], b[i])
		}
	case sa == 0 && sb == 1:
		x, b := a[ao], b[bo:bo+n]
		for i := range out {
			out[i] = op(x, b[i])
		}
	case sa == 1 && sb == 0:
		a, y := a[ao:ao+n], b[bo]
		for i := range out {
			out[i] = op(a[i], y)
		}
	default:
		v := op(a[ao], b[bo])
		for i := range out {
			out[i] = v
		}
	}
}

// f32Loop is binLoop for float32 Add/Sub/Mul/Div/Max/Min with the op inlined (these dominate
// the graphs this engine builds).
func f32Loop(kind backends.OpType, out, a, b []float32, o, ao, bo, n, sa, sb int) bool {
	out = out[o : o+n]
	if haveVMath && n >= 512 {
		op := -1
		switch kind {
		case backends.OpTypeAdd:
			op = 0
		case backends.OpTypeSub:
			op = 1
		case backends.OpTypeMul:
			op = 2
		case backends.OpTypeDiv:
			op = 3
		}
		if op >= 0 {
			switch {
			case sa == 1 && sb == 1:
				vbinary(op, 0, a[ao:ao+n], b[bo:bo+n], out)
				return true
			case sa == 1 && sb == 0:
				vbinary(op, 1, a[ao:ao+n], b[bo:bo+1], out)
				return true
			case sa == 0 && sb == 1:
				vbinary(op, 2, a[ao:ao+1], b[bo:bo+n], out)
				return true
			}
		}
	}
	if sa == 1 && sb == 1 {
		a, b = a[ao:ao+n], b[bo:bo+n]
		switch kind {
		case backends.OpTypeAdd:
			for i := range out {
				out[i] = a[i] + b[i]
			}
		case backends.OpTypeSub:
			for i := range out {
				out[i] = a[i] - b[i]
			}
		case backends.OpTypeMul:
			for i := range out {
				out[i] = a[i] * b[i]
			}
		case backends.OpTypeDiv:
			for i := range out {
				out[i] = a[i] / b[i]
			}
		default:
			return false
		}
		return true
	}
	if sa == 1 && sb == 0 {
		a, y := a[ao:ao+n], b[bo]
		switch kind {
		case backends.OpTypeAdd:
			for i := range out {
				out[i] = a[i] + y
			}
		case backends.OpTypeSub:
			for i := range out {
				out[i] = a[i] - y
			}
		case backends.OpTypeMul:
			for i := range out {
				out[i] = a[i] * y
			}
		case backends.OpTypeDiv:
			for i := range out {
				out[i] = a[i] / y
			}
		default:
			return false
		}
		return true
	}
	return false
}

func arith[T number](op backends.OpType) func(x, y T) T {
	switch op {
	case backends.OpTypeAdd:
		return func(x, y T) T { return x + y }
	case backends.OpTypeSub:
		return func(x, y T) T { return x - y }
	case backends.OpTypeMul:
		return func(x, y T) T { return x * y }
	case backends.OpTypeDiv:
		return func(x, y T) T { return x / y }
	case backends.OpTypeMax:
		return func(x, y T) T {
			if isNaN(x) || x > y {
				return x
			}
			return y
		}
	case backends.OpTypeMin:
		return func(x, y T) T {
			if isNaN(x) || x < y {
				return x
			}
			return y
		}
	case backends.OpTypePow:
		return func(x, y T) T { return T(math.Pow(float64(x), float64(y))) }
	case backends.OpTypeRem:
		return func(x, y T) T { return T(math.Mod(float64(x), float64(y))) }
	}
	return nil
}

func intArith[T integer](op backends.OpType) func(x, y T) T {
	switch op {
	case backends.OpTypeDiv:
		return func(x, y T) T { return x / y }
	case backends.OpTypeRem:
		return func(x, y T) T { return x % y }
	case backends.OpTypePow:
		return func(x, y T) T {
			r := T(1)
			for i := T(0); i < y; i++ {
				r *= x
			}
			return r
		}
	}
	return arith[T](op)
}

func isNaN[T number](x T) bool { return x != x } //nolint:gocritic // NaN test

func binaryKernel[T number](op backends.OpType, aDims, bDims []int, outShape shapes.Shape, isInt bool) kernel {
	var f func(x, y T) T
	if isInt {
		f = intArithDispatch[T](op)
	} else {
		f = arith[T](op)
	}
	return func(ins []*Buffer) *Buffer {
		out := newBuffer(outShape)
		o, a, b := out.flat.([]T), ins[0].flat.([]T), ins[1].flat.([]T)
		of, _ := any(o).([]float32)
		forEachRun(outShape.Dimensions, aDims, bDims, func(oo, ao, bo, n, sa, sb int) {
			if of != nil {
				if f32Loop(op, of, any(a).([]float32), any(b).([]float32), oo, ao, bo, n, sa, sb) {
					return
				}
			}
			binLoop(o, a, b, oo, ao, bo, n, sa, sb, f)
		})
		return out
	}
}

// intArithDispatch picks integer semantics for integer T (the type switch is resolved once).
func intArithDispatch[T number](op backends.OpType) func(x, y T) T {
	var z T
	switch any(z).(type) {
	case int8:
		return any(intArith[int8](op)).(func(x, y T) T)
	case int16:
		return any(intArith[int16](op)).(func(x, y T) T)
	case int32:
		return any(intArith[int32](op)).(func(x, y T) T)
	case int64:
		return any(intArith[int64](op)).(func(x, y T) T)
	case uint8:
		return any(intArith[uint8](op)).(func(x, y T) T)
	case uint16:
		return any(intArith[uint16](op)).(func(x, y T) T)
	case uint32:
		return any(intArith[uint32](op)).(func(x, y T) T)
	case uint64:
		return any(intArith[uint64](op)).(func(x, y T) T)
	}
	return arith[T](op)
}

func dimsOf(s shapes.Shape) []int {
	if s.IsScalar() {
		return nil
	}
	return s.Dimensions
}

func (b *Builder) binary(op backends.OpType, lhs, rhs backends.Op) (backends.Op, error) {
	ns, err := b.in(lhs, rhs)
	if err != nil {
		return nil, err
	}
	shape, err := shapeinference.BinaryOp(op, ns[0].shape, ns[1].shape)
	if err != nil {
		return nil, err
	}
	ad, bd := dimsOf(ns[0].shape), dimsOf(ns[1].shape)
	var k kernel
	switch shape.DType {
	case dtypes.Float32:
		k = binaryKernel[float32](op, ad, bd, shape, false)
	case dtypes.Float64:
		k = binaryKernel[float64](op, ad, bd, shape, false)
	case dtypes.Int32:
		k = binaryKernel[int32](op, ad, bd, shape, true)
	case dtypes.Int64:
		k = binaryKernel[int64](op, ad, bd, shape, true)
	case dtypes.Int8:
		k = binaryKernel[int8](op, ad, bd, shape, true)
	case dtypes.Int16:
		k = binaryKernel[int16](op, ad, bd, shape, true)
	case dtypes.Uint8:
		k = binaryKernel[uint8](op, ad, bd, shape, true)
	case dtypes.Uint16:
		k = binaryKernel[uint16](op, ad, bd, shape, true)
	case dtypes.Uint32:
		k = binaryKernel[uint32](op, ad, bd, shape, true)
	case dtypes.Uint64:
		k = binaryKernel[uint64](op, ad, bd, shape, true)
	default:
		return nil, errors.Wrapf(b.Builder.ErrFn(op), "dtype %s", shape.DType)
	}
	return b.add(op, shape, k, ns...), nil
}

func init() {
	for _, op := range []backends.OpType{backends.OpTypeAdd, backends.OpTypeSub, backends.OpTypeMul, backends.OpTypeDiv,
		backends.OpTypeMax, backends.OpTypeMin, backends.OpTypePow, backends.OpTypeRem} {
		implementedOps[op] = true
	}
}

func (b *Builder) Add(x, y backends.Op) (backends.Op, error) {
	return b.binary(backends.OpTypeAdd, x, y)
}
func (b *Builder) Sub(x, y backends.Op) (backends.Op, error) {
	return b.binary(backends.OpTypeSub, x, y)
}
func (b *Builder) Mul(x, y backends.Op) (backends.Op, error) {
	return b.binary(backends.OpTypeMul, x, y)
}
func (b *Builder) Div(x, y backends.Op) (backends.Op, error) {
	return b.binary(backends.OpTypeDiv, x, y)
}
func (b *Builder) Max(x, y backends.Op) (backends.Op, error) {
	return b.binary(backends.OpTypeMax, x, y)
}
func (b *Builder) Min(x, y backends.Op) (backends.Op, error) {
	return b.binary(backends.OpTypeMin, x, y)
}
func (b *Builder) Pow(x, y backends.Op) (backends.Op, error) {
	return b.binary(backends.OpTypePow, x, y)
}
func (b *Builder) Rem(x, y backends.Op) (backends.Op, error) {
	return b.binary(backends.OpTypeRem, x, y)
}

// ---- comparisons and logical ops ---------------------------------------------------------

func cmp[T number](op backends.OpType) func(x, y T) bool {
	switch op {
	case backends.OpTypeEqual:
		return func(x, y T) bool { return x == y }
	case backends.OpTypeNotEqual:
		return func(x, y T) bool { return x != y }
	case backends.OpTypeGreaterThan:
		return func(x, y T) bool { return x > y }
	case backends.OpTypeGreaterOrEqual:
		return func(x, y T) bool { return x >= y }
	case backends.OpTypeLessThan:
		return func(x, y T) bool { return x < y }
	case backends.OpTypeLessOrEqual:
		return func(x, y T) bool { return x <= y }
	}
	return nil
}

func cmpKernel[T number](op backends.OpType, aDims, bDims []int, outShape shapes.Shape) kernel {
	f := cmp[T](op)
	return func(ins []*Buffer) *Buffer {
		out := newBuffer(outShape)
		o, a, b := out.flat.([]bool), ins[0].flat.([]T), ins[1].flat.([]T)
		forEachRun(outShape.Dimensions, aDims, bDims, func(oo, ao, bo, n, sa, sb int) {
			binLoop(o, a, b, oo, ao, bo, n, sa, sb, f)
		})
		return out
	}
}

func (b *Builder) compare(op backends.OpType, lhs, rhs backends.Op) (backends.Op, error) {
	ns, err := b.in(lhs, rhs)
	if err != nil {
		return nil, err
	}
	shape, err := shapeinference.ComparisonOp(op, ns[0].shape, ns[1].shape)
	if err != nil {
		return nil, err
	}
	ad, bd := dimsOf(ns[0].shape), dimsOf(ns[1].shape)
	var k kernel
	switch ns[0].shape.DType {
	case dtypes.Float32:
		k = cmpKernel[float32](op, ad, bd, shape)
	case dtypes.Float64:
		k = cmpKernel[float64](op, ad, bd, shape)
	case dtypes.Int32:
		k = cmpKernel[int32](op, ad, bd, shape)
	case dtypes.Int64:
		k = cmpKernel[int64](op, ad, bd, shape)
	case dtypes.Uint8:
		k = cmpKernel[uint8](op, ad, bd, shape)
	case dtypes.Int8:
		k = cmpKernel[int8](op, ad, bd, shape)
	case dtypes.Uint32:
		k = cmpKernel[uint32](op, ad, bd, shape)
	case dtypes.Uint64:
		k = cmpKernel[uint64](op, ad, bd, shape)
	case dtypes.Bool:
		if op != backends.OpTypeEqual && op != backends.OpTypeNotEqual {
			return nil, errors.Wrapf(b.Builder.ErrFn(op), "dtype %s", ns[0].shape.DType)
		}
		eq := op == backends.OpTypeEqual
		k = func(ins []*Buffer) *Buffer {
			out := newBuffer(shape)
			o, a, bb := out.flat.([]bool), ins[0].flat.([]bool), ins[1].flat.([]bool)
			forEachRun(shape.Dimensions, ad, bd, func(oo, ao, bo, n, sa, sb int) {
				binLoop(o, a, bb, oo, ao, bo, n, sa, sb, func(x, y bool) bool { return (x == y) == eq })
			})
			return out
		}
	default:
		return nil, errors.Wrapf(b.Builder.ErrFn(op), "dtype %s", ns[0].shape.DType)
	}
	return b.add(op, shape, k, ns...), nil
}

func init() {
	for _, op := range []backends.OpType{backends.OpTypeEqual, backends.OpTypeNotEqual, backends.OpTypeGreaterThan,
		backends.OpTypeGreaterOrEqual, backends.OpTypeLessThan, backends.OpTypeLessOrEqual,
		backends.OpTypeLogicalAnd, backends.OpTypeLogicalOr, backends.OpTypeLogicalXor, backends.OpTypeLogicalNot} {
		implementedOps[op] = true
	}
}

func (b *Builder) Equal(x, y backends.Op) (backends.Op, error) {
	return b.compare(backends.OpTypeEqual, x, y)
}
func (b *Builder) NotEqual(x, y backends.Op) (backends.Op, error) {
	return b.compare(backends.OpTypeNotEqual, x, y)
}
func (b *Builder) GreaterThan(x, y backends.Op) (backends.Op, error) {
	return b.compare(backends.OpTypeGreaterThan, x, y)
}
func (b *Builder) GreaterOrEqual(x, y backends.Op) (backends.Op, error) {
	return b.compare(backends.OpTypeGreaterOrEqual, x, y)
}
func (b *Builder) LessThan(x, y backends.Op) (backends.Op, error) {
	return b.compare(backends.OpTypeLessThan, x, y)
}
func (b *Builder) LessOrEqual(x, y backends.Op) (backends.Op, error) {
	return b.compare(backends.OpTypeLessOrEqual, x, y)
}

func (b *Builder) logical(op backends.OpType, lhs, rhs backends.Op, f func(x, y bool) bool) (backends.Op, error) {
	ns, err := b.in(lhs, rhs)
	if err != nil {
		return nil, err
	}
	shape, err := shapeinference.BinaryOp(op, ns[0].shape, ns[1].shape)
	if err != nil {
		return nil, err
	}
	ad, bd := dimsOf(ns[0].shape), dimsOf(ns[1].shape)
	return b.add(op, shape, func(ins []*Buffer) *Buffer {
		out := newBuffer(shape)
		o, a, bb := out.flat.([]bool), ins[0].flat.([]bool), ins[1].flat.([]bool)
		forEachRun(shape.Dimensions, ad, bd, func(oo, ao, bo, n, sa, sb int) {
			binLoop(o, a, bb, oo, ao, bo, n, sa, sb, f)
		})
		return out
	}, ns...), nil
}

func (b *Builder) LogicalAnd(x, y backends.Op) (backends.Op, error) {
	return b.logical(backends.OpTypeLogicalAnd, x, y, func(p, q bool) bool { return p && q })
}
func (b *Builder) LogicalOr(x, y backends.Op) (backends.Op, error) {
	return b.logical(backends.OpTypeLogicalOr, x, y, func(p, q bool) bool { return p || q })
}
func (b *Builder) LogicalXor(x, y backends.Op) (backends.Op, error) {
	return b.logical(backends.OpTypeLogicalXor, x, y, func(p, q bool) bool { return p != q })
}

func (b *Builder) LogicalNot(x backends.Op) (backends.Op, error) {
	n, err := b.in1(x)
	if err != nil {
		return nil, err
	}
	if n.shape.DType != dtypes.Bool {
		return nil, errors.Errorf("LogicalNot: want bool, got %s", n.shape)
	}
	return b.add(backends.OpTypeLogicalNot, n.shape, func(ins []*Buffer) *Buffer {
		out := newBuffer(n.shape)
		o, a := out.flat.([]bool), ins[0].flat.([]bool)
		for i := range o {
			o[i] = !a[i]
		}
		return out
	}, n), nil
}

// ---- Where ---------------------------------------------------------------------------------

func (b *Builder) Where(condition, onTrue, onFalse backends.Op) (backends.Op, error) {
	ns, err := b.in(condition, onTrue, onFalse)
	if err != nil {
		return nil, err
	}
	shape, err := shapeinference.WhereOp(ns[0].shape, ns[1].shape, ns[2].shape)
	if err != nil {
		return nil, err
	}
	size := shape.Size()
	scalarC, scalarT, scalarF := ns[0].shape.IsScalar(), ns[1].shape.IsScalar(), ns[2].shape.IsScalar()
	k := func(ins []*Buffer) *Buffer {
		out := newBuffer(shape)
		c := ins[0].flat.([]bool)
		switch o := out.flat.(type) {
		case []float32:
			whereLoop(o, c, ins[1].flat.([]float32), ins[2].flat.([]float32), size, scalarC, scalarT, scalarF)
		case []float64:
			whereLoop(o, c, ins[1].flat.([]float64), ins[2].flat.([]float64), size, scalarC, scalarT, scalarF)
		case []int32:
			whereLoop(o, c, ins[1].flat.([]int32), ins[2].flat.([]int32), size, scalarC, scalarT, scalarF)
		case []int64:
			whereLoop(o, c, ins[1].flat.([]int64), ins[2].flat.([]int64), size, scalarC, scalarT, scalarF)
		case []bool:
			whereLoop(o, c, ins[1].flat.([]bool), ins[2].flat.([]bool), size, scalarC, scalarT, scalarF)
		case []int8:
			whereLoop(o, c, ins[1].flat.([]int8), ins[2].flat.([]int8), size, scalarC, scalarT, scalarF)
		case []int16:
			whereLoop(o, c, ins[1].flat.([]int16), ins[2].flat.([]int16), size, scalarC, scalarT, scalarF)
		case []uint8:
			whereLoop(o, c, ins[1].flat.([]uint8), ins[2].flat.([]uint8), size, scalarC, scalarT, scalarF)
		case []uint16:
			whereLoop(o, c, ins[1].flat.([]uint16), ins[2].flat.([]uint16), size, scalarC, scalarT, scalarF)
		case []uint32:
			whereLoop(o, c, ins[1].flat.([]uint32), ins[2].flat.([]uint32), size, scalarC, scalarT, scalarF)
		case []uint64:
			whereLoop(o, c, ins[1].flat.([]uint64), ins[2].flat.([]uint64), size, scalarC, scalarT, scalarF)
		default:
			panic(errors.Errorf("Where: dtype %s not supported", shape.DType))
		}
		return out
	}
	return b.add(backends.OpTypeWhere, shape, k, ns...), nil
}

func init() { implementedOps[backends.OpTypeWhere] = true }

func whereLoop[T any](o []T, c []bool, t, f []T, n int, sc, st, sf bool) {
	parallelFor(n, 1<<15, func(s, e int) {
		switch {
		case !sc && !st && !sf:
			for i := s; i < e; i++ {
				if c[i] {
					o[i] = t[i]
				} else {
					o[i] = f[i]
				}
			}
		case !sc && !st && sf:
			f0 := f[0]
			for i := s; i < e; i++ {
				if c[i] {
					o[i] = t[i]
				} else {
					o[i] = f0
				}
			}
		case !sc && st && !sf:
			t0 := t[0]
			for i := s; i < e; i++ {
				if c[i] {
					o[i] = t0
				} else {
					o[i] = f[i]
				}
			}
		default:
			for i := s; i < e; i++ {
				ci, ti, fi := i, i, i
				if sc {
					ci = 0
				}
				if st {
					ti = 0
				}
				if sf {
					fi = 0
				}
				if c[ci] {
					o[i] = t[ti]
				} else {
					o[i] = f[fi]
				}
			}
		}
	})
}
