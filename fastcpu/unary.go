package fastcpu

import (
	"math"

	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/backends/shapeinference"
	"github.com/gomlx/gomlx/pkg/core/dtypes"
	"github.com/pkg/errors"
)

// unaryF64 is each float op's definition in float64; float32 inputs are computed in float64 and
// rounded, which matches the pure-Go backend to the last bit or so.
var unaryF64 = map[backends.OpType]func(float64) float64{
	backends.OpTypeNeg:      func(x float64) float64 { return -x },
	backends.OpTypeAbs:      math.Abs,
	backends.OpTypeExp:      math.Exp,
	backends.OpTypeExpm1:    math.Expm1,
	backends.OpTypeLog:      math.Log,
	backends.OpTypeLog1p:    math.Log1p,
	backends.OpTypeSqrt:     math.Sqrt,
	backends.OpTypeRsqrt:    func(x float64) float64 { return 1 / math.Sqrt(x) },
	backends.OpTypeTanh:     math.Tanh,
	backends.OpTypeErf:      math.Erf,
	backends.OpTypeCos:      math.Cos,
	backends.OpTypeSin:      math.Sin,
	backends.OpTypeFloor:    math.Floor,
	backends.OpTypeCeil:     math.Ceil,
	backends.OpTypeRound:    math.RoundToEven,
	backends.OpTypeLogistic: func(x float64) float64 { return 1 / (1 + math.Exp(-x)) },
	backends.OpTypeSign: func(x float64) float64 {
		switch {
		case x > 0:
			return 1
		case x < 0:
			return -1
		}
		return x // 0, -0 or NaN
	},
}

func init() {
	for op := range unaryF64 {
		implementedOps[op] = true
	}
	implementedOps[backends.OpTypeIsFinite] = true
}

func (b *Builder) unary(op backends.OpType, x backends.Op) (backends.Op, error) {
	n, err := b.in1(x)
	if err != nil {
		return nil, err
	}
	shape, err := shapeinference.UnaryOp(op, n.shape)
	if err != nil {
		return nil, err
	}
	f := unaryF64[op]
	var k kernel
	switch shape.DType {
	case dtypes.Float32:
		k = func(ins []*Buffer) *Buffer {
			out := newBuffer(shape)
			o, a := out.flat.([]float32), ins[0].flat.([]float32)
			parallelFor(len(o), 1<<13, func(s, e int) {
				switch op {
				case backends.OpTypeNeg:
					for i := s; i < e; i++ {
						o[i] = -a[i]
					}
				case backends.OpTypeExp:
					vexp(a[s:e], o[s:e])
				case backends.OpTypeTanh:
					vtanh(a[s:e], o[s:e])
				case backends.OpTypeLogistic:
					for i := s; i < e; i++ {
						o[i] = 1 / (1 + expF32(-a[i]))
					}
				default:
					for i := s; i < e; i++ {
						o[i] = float32(f(float64(a[i])))
					}
				}
			})
			return out
		}
	case dtypes.Float64:
		k = func(ins []*Buffer) *Buffer {
			out := newBuffer(shape)
			o, a := out.flat.([]float64), ins[0].flat.([]float64)
			parallelFor(len(o), 1<<13, func(s, e int) {
				for i := s; i < e; i++ {
					o[i] = f(a[i])
				}
			})
			return out
		}
	case dtypes.Int32:
		k = intUnary[int32](op, shape.Size())
	case dtypes.Int64:
		k = intUnary[int64](op, shape.Size())
	default:
		k = nil
	}
	if k == nil {
		return nil, errors.Wrapf(b.Builder.ErrFn(op), "dtype %s", shape.DType)
	}
	return b.add(op, shape, func(ins []*Buffer) *Buffer {
		out := k(ins)
		out.shape = shape
		return out
	}, n), nil
}

func intUnary[T int32 | int64](op backends.OpType, size int) kernel {
	var f func(T) T
	switch op {
	case backends.OpTypeNeg:
		f = func(x T) T { return -x }
	case backends.OpTypeAbs:
		f = func(x T) T {
			if x < 0 {
				return -x
			}
			return x
		}
	case backends.OpTypeSign:
		f = func(x T) T {
			switch {
			case x > 0:
				return 1
			case x < 0:
				return -1
			}
			return 0
		}
	default:
		return nil
	}
	return func(ins []*Buffer) *Buffer {
		out := &Buffer{flat: make([]T, size)}
		o, a := out.flat.([]T), ins[0].flat.([]T)
		for i := range o {
			o[i] = f(a[i])
		}
		return out
	}
}

func (b *Builder) Neg(x backends.Op) (backends.Op, error)   { return b.unary(backends.OpTypeNeg, x) }
func (b *Builder) Abs(x backends.Op) (backends.Op, error)   { return b.unary(backends.OpTypeAbs, x) }
func (b *Builder) Exp(x backends.Op) (backends.Op, error)   { return b.unary(backends.OpTypeExp, x) }
func (b *Builder) Expm1(x backends.Op) (backends.Op, error) { return b.unary(backends.OpTypeExpm1, x) }
func (b *Builder) Log(x backends.Op) (backends.Op, error)   { return b.unary(backends.OpTypeLog, x) }
func (b *Builder) Log1p(x backends.Op) (backends.Op, error) { return b.unary(backends.OpTypeLog1p, x) }
func (b *Builder) Sqrt(x backends.Op) (backends.Op, error)  { return b.unary(backends.OpTypeSqrt, x) }
func (b *Builder) Rsqrt(x backends.Op) (backends.Op, error) { return b.unary(backends.OpTypeRsqrt, x) }
func (b *Builder) Tanh(x backends.Op) (backends.Op, error)  { return b.unary(backends.OpTypeTanh, x) }
func (b *Builder) Erf(x backends.Op) (backends.Op, error)   { return b.unary(backends.OpTypeErf, x) }
func (b *Builder) Cos(x backends.Op) (backends.Op, error)   { return b.unary(backends.OpTypeCos, x) }
func (b *Builder) Sin(x backends.Op) (backends.Op, error)   { return b.unary(backends.OpTypeSin, x) }
func (b *Builder) Floor(x backends.Op) (backends.Op, error) { return b.unary(backends.OpTypeFloor, x) }
func (b *Builder) Ceil(x backends.Op) (backends.Op, error)  { return b.unary(backends.OpTypeCeil, x) }
func (b *Builder) Round(x backends.Op) (backends.Op, error) { return b.unary(backends.OpTypeRound, x) }
func (b *Builder) Logistic(x backends.Op) (backends.Op, error) {
	return b.unary(backends.OpTypeLogistic, x)
}
func (b *Builder) Sign(x backends.Op) (backends.Op, error) { return b.unary(backends.OpTypeSign, x) }

func (b *Builder) IsFinite(x backends.Op) (backends.Op, error) {
	n, err := b.in1(x)
	if err != nil {
		return nil, err
	}
	shape := n.shape.Clone()
	shape.DType = dtypes.Bool
	return b.add(backends.OpTypeIsFinite, shape, func(ins []*Buffer) *Buffer {
		out := newBuffer(shape)
		o := out.flat.([]bool)
		switch a := ins[0].flat.(type) {
		case []float32:
			for i := range o {
				o[i] = !math.IsInf(float64(a[i]), 0) && !math.IsNaN(float64(a[i]))
			}
		case []float64:
			for i := range o {
				o[i] = !math.IsInf(a[i], 0) && !math.IsNaN(a[i])
			}
		default:
			panic(errors.Errorf("IsFinite: dtype %s", n.shape.DType))
		}
		return out
	}, n), nil
}
