package fastcpu

import (
	"math"
	"slices"

	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/backends/shapeinference"
	"github.com/gomlx/gomlx/pkg/core/dtypes"
	"github.com/gomlx/gomlx/pkg/core/shapes"
	"github.com/pkg/errors"
)

// Reductions accumulate in float64 (sums of float32 lose nothing to accumulation order) and are
// computed either row-wise, when the reduced axes are a suffix (softmax and LayerNorm shapes:
// each output is one contiguous run), or by streaming the input once and accumulating into the
// output through strides that are 0 on reduced axes (bias gradients, sums over the batch).

type reduceKind int

const (
	rSum reduceKind = iota
	rMax
	rMin
	rProd
)

func (k reduceKind) init() float64 {
	switch k {
	case rMax:
		return math.Inf(-1)
	case rMin:
		return math.Inf(1)
	case rProd:
		return 1
	}
	return 0
}

func (k reduceKind) step(acc, x float64) float64 {
	switch k {
	case rSum:
		return acc + x
	case rMax:
		if x > acc || math.IsNaN(x) {
			return x
		}
		return acc
	case rMin:
		if x < acc || math.IsNaN(x) {
			return x
		}
		return acc
	}
	return acc * x
}

func init() {
	for _, op := range []backends.OpType{backends.OpTypeReduceSum, backends.OpTypeReduceMax, backends.OpTypeReduceMin,
		backends.OpTypeReduceProduct, backends.OpTypeArgMinMax} {
		implementedOps[op] = true
	}
}

func (b *Builder) ReduceSum(x backends.Op, axes ...int) (backends.Op, error) {
	return b.reduce(backends.OpTypeReduceSum, rSum, x, axes)
}
func (b *Builder) ReduceMax(x backends.Op, axes ...int) (backends.Op, error) {
	return b.reduce(backends.OpTypeReduceMax, rMax, x, axes)
}
func (b *Builder) ReduceMin(x backends.Op, axes ...int) (backends.Op, error) {
	return b.reduce(backends.OpTypeReduceMin, rMin, x, axes)
}
func (b *Builder) ReduceProduct(x backends.Op, axes ...int) (backends.Op, error) {
	return b.reduce(backends.OpTypeReduceProduct, rProd, x, axes)
}

func (b *Builder) reduce(op backends.OpType, kind reduceKind, x backends.Op, axes []int) (backends.Op, error) {
	n, err := b.in1(x)
	if err != nil {
		return nil, err
	}
	if len(axes) == 0 { // no axes: reduce all of them
		for ax := range n.shape.Rank() {
			axes = append(axes, ax)
		}
	}
	shape, err := shapeinference.ReduceOp(n.shape, axes)
	if err != nil {
		return nil, err
	}
	if n.shape.DType == dtypes.Bool || !slices.Contains(supportedDTypes, n.shape.DType) {
		return nil, errors.Wrapf(b.Builder.ErrFn(op), "dtype %s", n.shape.DType)
	}
	in := n.shape
	reduced := make([]bool, in.Rank())
	for _, a := range axes {
		reduced[a] = true
	}
	// Is the reduced set a suffix of the (non-trivial) axes?
	suffix, seen := true, false
	for k := range in.Rank() {
		if reduced[k] {
			seen = true
		} else if seen && in.Dimensions[k] != 1 {
			suffix = false
		}
	}
	rowLen := 1
	for k := range in.Rank() {
		if reduced[k] {
			rowLen *= in.Dimensions[k]
		}
	}
	rn := b.add(op, shape, func(ins []*Buffer) *Buffer {
		out := newBuffer(shape)
		if f, ok := ins[0].flat.([]float32); ok && suffix {
			reduceRowsF32(out.flat.([]float32), f, rowLen, kind)
			return out
		}
		if f, ok := ins[0].flat.([]float32); ok && kind == rSum {
			reduceSumF32(out.flat.([]float32), f, in, reduced)
			return out
		}
		if reduceIntsAny(out.flat, ins[0].flat, in.Dimensions, reduced, kind) {
			return out
		}
		reduceGeneral(out, ins[0], in, reduced, kind)
		return out
	}, n)
	rn.axes = slices.Clone(axes)
	return rn, nil
}

func reduceRowsF32(out, in []float32, rowLen int, kind reduceKind) {
	parallelFor(len(out), max(1, (1<<14)/max(rowLen, 1)), func(s, e int) {
		for r := s; r < e; r++ {
			row := in[r*rowLen : (r+1)*rowLen]
			switch kind {
			case rSum:
				var acc float64
				for _, v := range row {
					acc += float64(v)
				}
				out[r] = float32(acc)
			case rMax:
				acc := float32(math.Inf(-1))
				for _, v := range row {
					if v > acc || v != v {
						acc = v
					}
				}
				out[r] = acc
			default:
				acc := kind.init()
				for _, v := range row {
					acc = kind.step(acc, float64(v))
				}
				out[r] = float32(acc)
			}
		}
	})
}

// reduceSumF32 sums float32 over any axes: the input is streamed once in runs along its last
// (merged) axis, each run either added element-wise into an output row (last axis kept: bias
// gradients, sums over the batch) or summed into one output slot (last axis reduced).
func reduceSumF32(out []float32, in []float32, inShape shapes.Shape, reduced []bool) {
	dims := inShape.Dimensions
	outStr := make([]int, len(dims))
	s := 1
	for k := len(dims) - 1; k >= 0; k-- {
		if !reduced[k] {
			outStr[k] = s
			s *= dims[k]
		}
	}
	inStr := rowMajorStrides(dims)
	md, mo, mi := mergeAxes(dims, outStr, inStr) // axes merge when contiguous in both
	acc := make([]float64, len(out))
	if len(md) == 0 {
		if len(in) > 0 {
			acc[0] = float64(in[0])
		}
	} else {
		r := len(md) - 1
		n, os := md[r], mo[r]
		// Sequential: runs of different input rows add into the same output slots.
		walkRuns(md[:r], mo[:r], mi[:r], 0, 0, 0, numRuns(md[:r]), func(_, o, i int) {
			row := in[i : i+n]
			if os == 0 {
				var sum float64
				for _, v := range row {
					sum += float64(v)
				}
				acc[o] += sum
			} else {
				a := acc[o : o+n]
				for j, v := range row {
					a[j] += float64(v)
				}
			}
		})
	}
	for j, v := range acc {
		out[j] = float32(v)
	}
}

// reduceGeneral streams the input once, accumulating each element into its output slot.
func reduceGeneral(out, in *Buffer, inShape shapes.Shape, reduced []bool, kind reduceKind) {
	outSize := out.shape.Size()
	acc := make([]float64, outSize)
	for i := range acc {
		acc[i] = kind.init()
	}
	// Output strides per input axis (0 where reduced).
	outStr := make([]int, inShape.Rank())
	s := 1
	for k := inShape.Rank() - 1; k >= 0; k-- {
		if !reduced[k] {
			outStr[k] = s
			s *= inShape.Dimensions[k]
		}
	}
	get := getterOf(in.flat)
	if f, ok := in.flat.([]float32); ok {
		get = func(i int) float64 { return float64(f[i]) }
	}
	dims := inShape.Dimensions
	switch {
	case inShape.Size() == 0: // nothing to accumulate
	case len(dims) == 0:
		acc[0] = kind.step(acc[0], get(0))
	default:
		// Runs along the last axis: the input is contiguous, the output steps by its stride there.
		r := len(dims) - 1
		n, os := dims[r], outStr[r]
		walkRuns(dims[:r], outStr[:r], rowMajorStrides(dims)[:r], 0, 0, 0, numRuns(dims[:r]), func(_, o, i int) {
			for j := range n {
				acc[o+j*os] = kind.step(acc[o+j*os], get(i+j))
			}
		})
	}
	set := setterOf(out.flat)
	for i, v := range acc {
		set(i, v)
	}
}

// ArgMinMax returns the index of the min or max along axis (the first one on ties; NaN wins).
func (b *Builder) ArgMinMax(x backends.Op, axis int, outputDType dtypes.DType, isMin bool) (backends.Op, error) {
	n, err := b.in1(x)
	if err != nil {
		return nil, err
	}
	shape, err := shapeinference.ArgMinMaxOp(n.shape, axis, outputDType)
	if err != nil {
		return nil, err
	}
	dims := n.shape.Dimensions
	outer, inner := 1, 1
	for k := range axis {
		outer *= dims[k]
	}
	for k := axis + 1; k < len(dims); k++ {
		inner *= dims[k]
	}
	dim := dims[axis]
	return b.add(backends.OpTypeArgMinMax, shape, func(ins []*Buffer) *Buffer {
		out := newBuffer(shape)
		argMinMaxAny(ins[0].flat, outer, dim, inner, isMin, setterOf(out.flat))
		return out
	}, n), nil
}
