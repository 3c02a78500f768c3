package fastcpu

import (
	"slices"

	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/backends/shapeinference"
	"github.com/gomlx/gomlx/pkg/core/shapes"
	"github.com/pkg/errors"
)

// Gather and ScatterSum with XLA semantics (see backends.StandardOps). Each gathered slice is
// one strided copy, so an embedding lookup [B, P] -> [B, P, D] is B*P copies of D contiguous
// floats; ScatterSum (Gather's gradient) adds each update window into a copy of the operand.

func init() {
	implementedOps[backends.OpTypeGather] = true
	implementedOps[backends.OpTypeScatterSum] = true
}

// indexReader returns the integer at flat position i of an index buffer.
func indexReader(flat any) func(i int) int {
	switch f := flat.(type) {
	case []int32:
		return func(i int) int { return int(f[i]) }
	case []int64:
		return func(i int) int { return int(f[i]) }
	case []uint8:
		return func(i int) int { return int(f[i]) }
	case []uint32:
		return func(i int) int { return int(f[i]) }
	case []uint64:
		return func(i int) int { return int(f[i]) }
	case []int16:
		return func(i int) int { return int(f[i]) }
	case []int8:
		return func(i int) int { return int(f[i]) }
	}
	panic(errors.Errorf("indices of type %T are not supported", flat))
}

// indexBatches describes the "batch" positions of an index tensor: every axis but
// indexVectorAxis (which may equal the rank: an implicit trailing axis of size 1).
type indexBatches struct {
	dims      []int // batch dims, in order
	strides   []int // index-tensor strides of the batch axes
	vecStride int   // stride of the index vector axis
	vecLen    int
}

func newIndexBatches(s shapes.Shape, indexVectorAxis int) indexBatches {
	str := rowMajorStrides(s.Dimensions)
	ib := indexBatches{vecLen: 1}
	for ax := range s.Rank() {
		if ax == indexVectorAxis {
			ib.vecStride, ib.vecLen = str[ax], s.Dimensions[ax]
			continue
		}
		ib.dims = append(ib.dims, s.Dimensions[ax])
		ib.strides = append(ib.strides, str[ax])
	}
	return ib
}

func (ib indexBatches) count() int {
	n := 1
	for _, d := range ib.dims {
		n *= d
	}
	return n
}

// coords fills idx with the batch coordinates of batch number g and returns the index tensor
// offset of its index vector.
func (ib indexBatches) coords(g int, idx []int) int {
	off := 0
	for k := len(ib.dims) - 1; k >= 0; k-- {
		idx[k] = g % ib.dims[k]
		g /= ib.dims[k]
		off += idx[k] * ib.strides[k]
	}
	return off
}

func (b *Builder) Gather(operand, startIndices backends.Op, indexVectorAxis int,
	offsetOutputAxes, collapsedSliceAxes, startIndexMap, sliceSizes []int, indicesAreSorted bool) (backends.Op, error) {
	ns, err := b.in(operand, startIndices)
	if err != nil {
		return nil, err
	}
	opShape, idxShape := ns[0].shape, ns[1].shape
	shape, err := shapeinference.Gather(opShape, idxShape, indexVectorAxis, offsetOutputAxes, collapsedSliceAxes,
		startIndexMap, sliceSizes, indicesAreSorted)
	if err != nil {
		return nil, err
	}
	ib := newIndexBatches(idxShape, indexVectorAxis)
	outStr := rowMajorStrides(shape.Dimensions)
	opStr := rowMajorStrides(opShape.Dimensions)
	var batchOutAxes []int
	for ax := range shape.Rank() {
		if !slices.Contains(offsetOutputAxes, ax) {
			batchOutAxes = append(batchOutAxes, ax)
		}
	}
	// The slice box: operand axes that are not collapsed, mapped in order to offsetOutputAxes.
	var boxDims, boxSrcStr, boxDstStr []int
	j := 0
	for ax := range opShape.Rank() {
		if slices.Contains(collapsedSliceAxes, ax) {
			continue
		}
		boxDims = append(boxDims, sliceSizes[ax])
		boxSrcStr = append(boxSrcStr, opStr[ax])
		boxDstStr = append(boxDstStr, outStr[offsetOutputAxes[j]])
		j++
	}
	return b.add(backends.OpTypeGather, shape, func(ins []*Buffer) *Buffer {
		out := newBuffer(shape)
		readIdx := indexReader(ins[1].flat)
		nb := ib.count()
		parallelFor(nb, 64, func(s, e int) {
			idx := make([]int, len(ib.dims))
			for g := s; g < e; g++ {
				vec := ib.coords(g, idx)
				dOff := 0
				for k, ax := range batchOutAxes {
					dOff += idx[k] * outStr[ax]
				}
				sOff := 0
				for i, ax := range startIndexMap {
					start := readIdx(vec + i*ib.vecStride)
					start = min(max(start, 0), opShape.Dimensions[ax]-sliceSizes[ax])
					sOff += start * opStr[ax]
				}
				copyAny(out.flat, dOff, boxDstStr, ins[0].flat, sOff, boxSrcStr, boxDims)
			}
		})
		return out
	}, ns...), nil
}

func (b *Builder) ScatterSum(operand, scatterIndices, updates backends.Op, indexVectorAxis int,
	updateWindowAxes, insertedWindowAxes, scatterAxesToOperandAxes []int, indicesAreSorted, uniqueIndices bool) (backends.Op, error) {
	ns, err := b.in(operand, scatterIndices, updates)
	if err != nil {
		return nil, err
	}
	opShape, idxShape, upShape := ns[0].shape, ns[1].shape, ns[2].shape
	shape, err := shapeinference.ScatterOp(opShape, idxShape, upShape, indexVectorAxis, updateWindowAxes,
		insertedWindowAxes, scatterAxesToOperandAxes)
	if err != nil {
		return nil, err
	}
	ib := newIndexBatches(idxShape, indexVectorAxis)
	upStr := rowMajorStrides(upShape.Dimensions)
	opStr := rowMajorStrides(opShape.Dimensions)
	var upBatchAxes []int
	for ax := range upShape.Rank() {
		if !slices.Contains(updateWindowAxes, ax) {
			upBatchAxes = append(upBatchAxes, ax)
		}
	}
	// Window: update axes in updateWindowAxes map, in order, to operand axes not inserted.
	var winDims, winUpStr, winOpStr, winOpAxes []int
	j := 0
	for ax := range opShape.Rank() {
		if slices.Contains(insertedWindowAxes, ax) {
			continue
		}
		ua := updateWindowAxes[j]
		winDims = append(winDims, upShape.Dimensions[ua])
		winUpStr = append(winUpStr, upStr[ua])
		winOpStr = append(winOpStr, opStr[ax])
		winOpAxes = append(winOpAxes, ax)
		j++
	}
	return b.add(backends.OpTypeScatterSum, shape, func(ins []*Buffer) *Buffer {
		out := cloneBuffer(ins[0])
		readIdx := indexReader(ins[1].flat)
		idx := make([]int, len(ib.dims))
		start := make([]int, opShape.Rank())
		for g := range ib.count() {
			vec := ib.coords(g, idx)
			uOff := 0
			for k, ax := range upBatchAxes {
				uOff += idx[k] * upStr[ax]
			}
			clear(start)
			for i, ax := range scatterAxesToOperandAxes {
				start[ax] = readIdx(vec + i*ib.vecStride)
			}
			// XLA skips a whole update window that would fall out of bounds.
			inBounds := true
			for ax := range opShape.Rank() {
				w := 1
				if k := slices.Index(winOpAxes, ax); k >= 0 {
					w = winDims[k]
				}
				if start[ax] < 0 || start[ax]+w > opShape.Dimensions[ax] {
					inBounds = false
				}
			}
			if !inBounds {
				continue
			}
			oOff := 0
			for ax, s := range start {
				oOff += s * opStr[ax]
			}
			addStrided(out.flat, oOff, winOpStr, ins[2].flat, uOff, winUpStr, winDims)
		}
		return out
	}, ns...), nil
}

// addStrided adds src into dst over an index box (sequentially: windows may overlap).
func addStrided(dst any, dOff int, dStr []int, src any, sOff int, sStr []int, dims []int) {
	switch d := dst.(type) {
	case []float32:
		addBox(d, dOff, dStr, src.([]float32), sOff, sStr, dims)
	case []float64:
		addBox(d, dOff, dStr, src.([]float64), sOff, sStr, dims)
	case []int32:
		addBox(d, dOff, dStr, src.([]int32), sOff, sStr, dims)
	case []int64:
		addBox(d, dOff, dStr, src.([]int64), sOff, sStr, dims)
	case []int8:
		addBox(d, dOff, dStr, src.([]int8), sOff, sStr, dims)
	case []int16:
		addBox(d, dOff, dStr, src.([]int16), sOff, sStr, dims)
	case []uint8:
		addBox(d, dOff, dStr, src.([]uint8), sOff, sStr, dims)
	case []uint16:
		addBox(d, dOff, dStr, src.([]uint16), sOff, sStr, dims)
	case []uint32:
		addBox(d, dOff, dStr, src.([]uint32), sOff, sStr, dims)
	case []uint64:
		addBox(d, dOff, dStr, src.([]uint64), sOff, sStr, dims)
	default:
		panic(errors.Errorf("ScatterSum: unsupported type %T", dst))
	}
}

func addBox[T number](dst []T, dOff int, dStr []int, src []T, sOff int, sStr []int, dims []int) {
	dims, dStr, sStr = mergeAxes(dims, dStr, sStr)
	if len(dims) == 0 {
		dst[dOff] += src[sOff]
		return
	}
	r := len(dims) - 1
	n, ds, ss := dims[r], dStr[r], sStr[r]
	// Sequential: ScatterSum adds its boxes one after another, and they may overlap.
	walkRuns(dims[:r], dStr[:r], sStr[:r], dOff, sOff, 0, numRuns(dims[:r]), func(_, do, so int) {
		for i := range n {
			dst[do+i*ds] += src[so+i*ss]
		}
	})
}
