package fastcpu

import (
	"slices"

	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/backends/shapeinference"
	"github.com/gomlx/gomlx/pkg/core/dtypes"
	"github.com/gomlx/gomlx/pkg/core/shapes"
	"github.com/pkg/errors"
)

// Data movement: Transpose, Broadcast, BroadcastInDim, Slice, Concatenate and Pad are all one
// strided copy: dst[dOff + sum_k i_k dStr[k]] = src[sOff + sum_k i_k sStr[k]] over the index box
// dims. Adjacent axes that are contiguous in both are merged, so most copies are long runs.

func rowMajorStrides(dims []int) []int {
	s := make([]int, len(dims))
	acc := 1
	for k := len(dims) - 1; k >= 0; k-- {
		s[k] = acc
		acc *= dims[k]
	}
	return s
}

// mergeAxes drops size-1 axes and merges axes k, k+1 that are contiguous in both layouts.
func mergeAxes(dims, dStr, sStr []int) ([]int, []int, []int) {
	var md, mdS, msS []int
	for k := range dims {
		if dims[k] == 1 {
			continue
		}
		if n := len(md) - 1; n >= 0 && mdS[n] == dStr[k]*dims[k] && msS[n] == sStr[k]*dims[k] {
			md[n] *= dims[k]
			mdS[n], msS[n] = dStr[k], sStr[k]
			continue
		}
		md, mdS, msS = append(md, dims[k]), append(mdS, dStr[k]), append(msS, sStr[k])
	}
	return md, mdS, msS
}

func copyStrided[T any](dst []T, dOff int, dStr []int, src []T, sOff int, sStr []int, dims []int) {
	if slices.Contains(dims, 0) {
		return // empty box
	}
	dims, dStr, sStr = mergeAxes(dims, dStr, sStr)
	if len(dims) == 0 {
		dst[dOff] = src[sOff]
		return
	}
	r := len(dims) - 1
	n, ds, ss := dims[r], dStr[r], sStr[r]
	walkRunsParallel(dims[:r], dStr[:r], sStr[:r], dOff, sOff, max(1, (1<<15)/n), func(_, do, so int) {
		switch {
		case ds == 1 && ss == 1:
			copy(dst[do:do+n], src[so:so+n])
		case ds == 1 && ss == 0:
			v := src[so]
			d := dst[do : do+n]
			for i := range d {
				d[i] = v
			}
		default:
			for i := range n {
				dst[do+i*ds] = src[so+i*ss]
			}
		}
	})
}

// copyAny dispatches copyStrided on the flat slices' element type.
func copyAny(dst any, dOff int, dStr []int, src any, sOff int, sStr []int, dims []int) {
	switch d := dst.(type) {
	case []float32:
		copyStrided(d, dOff, dStr, src.([]float32), sOff, sStr, dims)
	case []float64:
		copyStrided(d, dOff, dStr, src.([]float64), sOff, sStr, dims)
	case []int32:
		copyStrided(d, dOff, dStr, src.([]int32), sOff, sStr, dims)
	case []int64:
		copyStrided(d, dOff, dStr, src.([]int64), sOff, sStr, dims)
	case []bool:
		copyStrided(d, dOff, dStr, src.([]bool), sOff, sStr, dims)
	case []uint8:
		copyStrided(d, dOff, dStr, src.([]uint8), sOff, sStr, dims)
	case []int8:
		copyStrided(d, dOff, dStr, src.([]int8), sOff, sStr, dims)
	case []int16:
		copyStrided(d, dOff, dStr, src.([]int16), sOff, sStr, dims)
	case []uint16:
		copyStrided(d, dOff, dStr, src.([]uint16), sOff, sStr, dims)
	case []uint32:
		copyStrided(d, dOff, dStr, src.([]uint32), sOff, sStr, dims)
	case []uint64:
		copyStrided(d, dOff, dStr, src.([]uint64), sOff, sStr, dims)
	default:
		panic(errors.Errorf("copy: unsupported buffer type %T", dst))
	}
}

func init() {
	for _, op := range []backends.OpType{backends.OpTypeReshape, backends.OpTypeTranspose, backends.OpTypeBroadcast,
		backends.OpTypeBroadcastInDim, backends.OpTypeSlice, backends.OpTypeConcatenate, backends.OpTypePad,
		backends.OpTypeIota, backends.OpTypeConvertDType} {
		implementedOps[op] = true
	}
}

// Reshape shares the operand's data.
func (b *Builder) Reshape(x backends.Op, dims ...int) (backends.Op, error) {
	n, err := b.in1(x)
	if err != nil {
		return nil, err
	}
	shape, err := shapeinference.ReshapeOp(n.shape, dims)
	if err != nil {
		return nil, err
	}
	out := b.add(backends.OpTypeReshape, shape, func(ins []*Buffer) *Buffer {
		return &Buffer{shape: shape, flat: ins[0].flat}
	}, n)
	out.view = true
	return out, nil
}

func (b *Builder) Transpose(x backends.Op, permutation ...int) (backends.Op, error) {
	n, err := b.in1(x)
	if err != nil {
		return nil, err
	}
	shape, err := shapeinference.TransposeOp(n.shape, permutation)
	if err != nil {
		return nil, err
	}
	inStr := rowMajorStrides(n.shape.Dimensions)
	sStr := make([]int, len(permutation))
	for k, p := range permutation {
		sStr[k] = inStr[p]
	}
	dStr := rowMajorStrides(shape.Dimensions)
	out := b.add(backends.OpTypeTranspose, shape, func(ins []*Buffer) *Buffer {
		out := newBuffer(shape)
		copyAny(out.flat, 0, dStr, ins[0].flat, 0, sStr, shape.Dimensions)
		return out
	}, n)
	out.axes = slices.Clone(permutation)
	return out, nil
}

func (b *Builder) Broadcast(x backends.Op, prefixDims ...int) (backends.Op, error) {
	n, err := b.in1(x)
	if err != nil {
		return nil, err
	}
	shape, err := shapeinference.BroadcastOp(n.shape, prefixDims)
	if err != nil {
		return nil, err
	}
	sStr := append(make([]int, len(prefixDims)), rowMajorStrides(n.shape.Dimensions)...)
	dStr := rowMajorStrides(shape.Dimensions)
	return b.add(backends.OpTypeBroadcast, shape, func(ins []*Buffer) *Buffer {
		out := newBuffer(shape)
		copyAny(out.flat, 0, dStr, ins[0].flat, 0, sStr, shape.Dimensions)
		return out
	}, n), nil
}

func (b *Builder) BroadcastInDim(x backends.Op, outputShape shapes.Shape, broadcastAxes []int) (backends.Op, error) {
	n, err := b.in1(x)
	if err != nil {
		return nil, err
	}
	if err := shapeinference.BroadcastInDimOp(n.shape, outputShape, broadcastAxes); err != nil {
		return nil, err
	}
	shape := outputShape.Clone()
	shape.DType = n.shape.DType
	inStr := rowMajorStrides(n.shape.Dimensions)
	sStr := make([]int, shape.Rank())
	for inAxis, outAxis := range broadcastAxes {
		if n.shape.Dimensions[inAxis] != 1 {
			sStr[outAxis] = inStr[inAxis]
		}
	}
	dStr := rowMajorStrides(shape.Dimensions)
	bn := b.add(backends.OpTypeBroadcastInDim, shape, func(ins []*Buffer) *Buffer {
		out := newBuffer(shape)
		copyAny(out.flat, 0, dStr, ins[0].flat, 0, sStr, shape.Dimensions)
		return out
	}, n)
	bn.axes = slices.Clone(broadcastAxes) // for the fusion pass (fuseBroadcast)
	return bn, nil
}

func (b *Builder) Slice(x backends.Op, starts, limits, strides []int) (backends.Op, error) {
	n, err := b.in1(x)
	if err != nil {
		return nil, err
	}
	shape, err := shapeinference.SliceOp(n.shape, starts, limits, strides)
	if err != nil {
		return nil, err
	}
	inStr := rowMajorStrides(n.shape.Dimensions)
	sStr := make([]int, len(inStr))
	sOff := 0
	for k := range inStr {
		step := 1
		if len(strides) > k && strides[k] > 0 {
			step = strides[k]
		}
		sStr[k] = inStr[k] * step
		sOff += starts[k] * inStr[k]
	}
	dStr := rowMajorStrides(shape.Dimensions)
	return b.add(backends.OpTypeSlice, shape, func(ins []*Buffer) *Buffer {
		out := newBuffer(shape)
		if shape.Size() > 0 {
			copyAny(out.flat, 0, dStr, ins[0].flat, sOff, sStr, shape.Dimensions)
		}
		return out
	}, n), nil
}

func (b *Builder) Concatenate(axis int, operands ...backends.Op) (backends.Op, error) {
	ns, err := b.in(operands...)
	if err != nil {
		return nil, err
	}
	inShapes := make([]shapes.Shape, len(ns))
	for i, n := range ns {
		inShapes[i] = n.shape
	}
	shape, err := shapeinference.ConcatenateOp(inShapes, axis)
	if err != nil {
		return nil, err
	}
	dStr := rowMajorStrides(shape.Dimensions)
	return b.add(backends.OpTypeConcatenate, shape, func(ins []*Buffer) *Buffer {
		out := newBuffer(shape)
		off := 0
		for _, in := range ins {
			if in.shape.Size() > 0 {
				copyAny(out.flat, off*dStr[axis], dStr, in.flat, 0, rowMajorStrides(in.shape.Dimensions), in.shape.Dimensions)
			}
			off += in.shape.Dimensions[axis]
		}
		return out
	}, ns...), nil
}

// Pad supports non-negative edge padding and interior padding.
func (b *Builder) Pad(x, fillValue backends.Op, axesConfig ...backends.PadAxis) (backends.Op, error) {
	ns, err := b.in(x, fillValue)
	if err != nil {
		return nil, err
	}
	in := ns[0].shape
	if len(axesConfig) > in.Rank() {
		return nil, errors.Errorf("Pad: %d axes configured for operand %s", len(axesConfig), in)
	}
	shape := in.Clone()
	cfg := make([]backends.PadAxis, in.Rank())
	copy(cfg, axesConfig)
	for k, c := range cfg {
		if c.Start < 0 || c.End < 0 || c.Interior < 0 {
			return nil, errors.Wrapf(b.Builder.ErrFn(backends.OpTypePad), "negative padding %+v", c)
		}
		d := in.Dimensions[k]
		shape.Dimensions[k] = c.Start + c.End + d + max(0, d-1)*c.Interior
	}
	outStr := rowMajorStrides(shape.Dimensions)
	dStr := make([]int, len(outStr))
	dOff := 0
	for k := range outStr {
		dStr[k] = outStr[k] * (cfg[k].Interior + 1)
		dOff += cfg[k].Start * outStr[k]
	}
	return b.add(backends.OpTypePad, shape, func(ins []*Buffer) *Buffer {
		out := newBuffer(shape)
		copyAny(out.flat, 0, rowMajorStrides(shape.Dimensions), ins[1].flat, 0, make([]int, shape.Rank()), shape.Dimensions)
		if in.Size() > 0 {
			copyAny(out.flat, dOff, dStr, ins[0].flat, 0, rowMajorStrides(in.Dimensions), in.Dimensions)
		}
		return out
	}, ns...), nil
}

func (b *Builder) Iota(shape shapes.Shape, iotaAxis int) (backends.Op, error) {
	if iotaAxis < 0 || iotaAxis >= shape.Rank() {
		return nil, errors.Errorf("Iota: axis %d out of range for %s", iotaAxis, shape)
	}
	str := rowMajorStrides(shape.Dimensions)
	dim := shape.Dimensions[iotaAxis]
	return b.add(backends.OpTypeIota, shape, func([]*Buffer) *Buffer {
		out := newBuffer(shape)
		switch o := out.flat.(type) {
		case []float32:
			iotaFill(o, str[iotaAxis], dim)
			return out
		case []float64:
			iotaFill(o, str[iotaAxis], dim)
			return out
		case []int32:
			iotaFill(o, str[iotaAxis], dim)
			return out
		case []int64:
			iotaFill(o, str[iotaAxis], dim)
			return out
		}
		setF := setterOf(out.flat)
		for i := range shape.Size() {
			setF(i, float64((i/str[iotaAxis])%dim))
		}
		return out
	}), nil
}

// iotaFill writes Iota's values into o: runs of stride equal values 0, 1, ..., dim-1, repeated.
func iotaFill[T float32 | float64 | int32 | int64](o []T, stride, dim int) {
	for base := 0; base < len(o); base += stride * dim {
		for d := range dim {
			seg := o[base+d*stride : base+(d+1)*stride]
			for i := range seg {
				seg[i] = T(d)
			}
		}
	}
}

func (b *Builder) ConvertDType(x backends.Op, dtype dtypes.DType) (backends.Op, error) {
	n, err := b.in1(x)
	if err != nil {
		return nil, err
	}
	shape := n.shape.Clone()
	shape.DType = dtype
	if !slices.Contains(supportedDTypes, dtype) || !slices.Contains(supportedDTypes, n.shape.DType) {
		return nil, errors.Wrapf(b.Builder.ErrFn(backends.OpTypeConvertDType), "%s -> %s", n.shape.DType, dtype)
	}
	return b.add(backends.OpTypeConvertDType, shape, func(ins []*Buffer) *Buffer {
		out := newBuffer(shape)
		if f, ok := ins[0].flat.([]int32); ok {
			if o, ok := out.flat.([]float32); ok {
				for i := range o {
					o[i] = float32(f[i])
				}
				return out
			}
		}
		if convertAny(ins[0].flat, out.flat) {
			return out
		}
		get, set := getterOf(ins[0].flat), setterOf(out.flat)
		for i := range shape.Size() {
			set(i, get(i))
		}
		return out
	}, n), nil
}

// getterOf/setterOf read and write any element as float64 (exact for the integers and bools
// indices and masks use; float32 round-trips through float64 exactly).
func getterOf(flat any) func(int) float64 {
	switch f := flat.(type) {
	case []float32:
		return func(i int) float64 { return float64(f[i]) }
	case []float64:
		return func(i int) float64 { return f[i] }
	case []int32:
		return func(i int) float64 { return float64(f[i]) }
	case []int64:
		return func(i int) float64 { return float64(f[i]) }
	case []int8:
		return func(i int) float64 { return float64(f[i]) }
	case []int16:
		return func(i int) float64 { return float64(f[i]) }
	case []uint8:
		return func(i int) float64 { return float64(f[i]) }
	case []uint16:
		return func(i int) float64 { return float64(f[i]) }
	case []uint32:
		return func(i int) float64 { return float64(f[i]) }
	case []uint64:
		return func(i int) float64 { return float64(f[i]) }
	case []bool:
		return func(i int) float64 {
			if f[i] {
				return 1
			}
			return 0
		}
	}
	panic(errors.Errorf("unsupported buffer type %T", flat))
}

func setterOf(flat any) func(int, float64) {
	switch f := flat.(type) {
	case []float32:
		return func(i int, v float64) { f[i] = float32(v) }
	case []float64:
		return func(i int, v float64) { f[i] = v }
	case []int32:
		return func(i int, v float64) { f[i] = int32(v) }
	case []int64:
		return func(i int, v float64) { f[i] = int64(v) }
	case []int8:
		return func(i int, v float64) { f[i] = int8(v) }
	case []int16:
		return func(i int, v float64) { f[i] = int16(v) }
	case []uint8:
		return func(i int, v float64) { f[i] = uint8(v) }
	case []uint16:
		return func(i int, v float64) { f[i] = uint16(v) }
	case []uint32:
		return func(i int, v float64) { f[i] = uint32(v) }
	case []uint64:
		return func(i int, v float64) { f[i] = uint64(v) }
	case []bool:
		return func(i int, v float64) { f[i] = v != 0 }
	}
	panic(errors.Errorf("unsupported buffer type %T", flat))
}

func init() { implementedOps[backends.OpTypeDynamicUpdateSlice] = true }

// DynamicUpdateSlice returns operand with update written at startIndices (scalars, read when
// the graph runs), each clamped to [0, dim - update dim] as XLA does.
func (b *Builder) DynamicUpdateSlice(operand, update backends.Op, startIndices []backends.Op) (backends.Op, error) {
	ns, err := b.in(append([]backends.Op{operand, update}, startIndices...)...)
	if err != nil {
		return nil, err
	}
	os, us := ns[0].shape, ns[1].shape
	if os.DType != us.DType || os.Rank() != us.Rank() || len(startIndices) != os.Rank() {
		return nil, errors.Errorf("DynamicUpdateSlice: operand %s, update %s and %d start indices do not match", os, us, len(startIndices))
	}
	for i, d := range us.Dimensions {
		if d > os.Dimensions[i] {
			return nil, errors.Errorf("DynamicUpdateSlice: update %s larger than operand %s", us, os)
		}
		if !ns[2+i].shape.IsScalar() {
			return nil, errors.Errorf("DynamicUpdateSlice: start index %d has shape %s, want a scalar", i, ns[2+i].shape)
		}
	}
	oStr, uStr := rowMajorStrides(os.Dimensions), rowMajorStrides(us.Dimensions)
	return b.add(backends.OpTypeDynamicUpdateSlice, os, func(ins []*Buffer) *Buffer {
		out := newBuffer(os)
		copyAny(out.flat, 0, oStr, ins[0].flat, 0, oStr, os.Dimensions)
		off := 0
		for i := range us.Dimensions {
			s := indexReader(ins[2+i].flat)(0)
			s = min(max(s, 0), os.Dimensions[i]-us.Dimensions[i])
			off += s * oStr[i]
		}
		if us.Size() > 0 {
			copyAny(out.flat, off, oStr, ins[1].flat, 0, uStr, us.Dimensions)
		}
		return out
	}, ns...), nil
}
