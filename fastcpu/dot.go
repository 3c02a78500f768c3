package fastcpu

import (
	"slices"

	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/pkg/core/dtypes"
	"github.com/gomlx/gomlx/pkg/core/shapes"
	"github.com/pkg/errors"
)

// DotGeneral is a batched matrix multiply. Each operand is brought (by a strided copy, skipped
// when its axes are already in order) to [batch, rows, contracted] or [batch, contracted, rows]
// and the product goes to Gemm as batch x (M x K) . (K x N), which writes the output directly in
// GoMLX's [batch..., lhs cross..., rhs cross...] layout.

func init() { implementedOps[backends.OpTypeDotGeneral] = true }

// dotSide describes how one operand enters Gemm.
type dotSide struct {
	perm      []int // axis order to copy into, or nil when used in place
	permDims  []int
	trans     bool // stored as [batch, K, M] (lhs) / [batch, N, K] (rhs)
	rows, k   int
	batchSize int
}

// planSide chooses between the two layouts Gemm accepts without a copy, copying only when
// neither matches. first names the layout of the non-transposed form.
func planSide(s shapes.Shape, batch, contract []int, isLHS bool) dotSide {
	var cross []int
	for ax := range s.Rank() {
		if !slices.Contains(batch, ax) && !slices.Contains(contract, ax) {
			cross = append(cross, ax)
		}
	}
	prod := func(axes []int) int {
		p := 1
		for _, a := range axes {
			p *= s.Dimensions[a]
		}
		return p
	}
	d := dotSide{rows: prod(cross), k: prod(contract), batchSize: prod(batch)}
	isIdentity := func(p []int) bool {
		// Axes of size 1 can sit anywhere without changing the memory layout.
		var nz []int
		for _, a := range p {
			if s.Dimensions[a] != 1 {
				nz = append(nz, a)
			}
		}
		return slices.IsSorted(nz)
	}
	plain := slices.Concat(batch, cross, contract) // lhs [B, M, K]; rhs [B, N, K] (transposed)
	other := slices.Concat(batch, contract, cross) // lhs [B, K, M] (transposed); rhs [B, K, N]
	if isLHS {
		if isIdentity(plain) {
			return d
		}
		if isIdentity(other) {
			d.trans = true
			return d
		}
		d.perm = plain
	} else {
		if isIdentity(other) {
			return d
		}
		if isIdentity(plain) {
			d.trans = true
			return d
		}
		d.perm = other
	}
	for _, a := range d.perm {
		d.permDims = append(d.permDims, s.Dimensions[a])
	}
	return d
}

// arrange returns the operand in the planned layout: buf itself, or a copy that done releases.
func (d dotSide) arrange(buf *Buffer) *Buffer {
	if d.perm == nil {
		return buf
	}
	inStr := rowMajorStrides(buf.shape.Dimensions)
	sStr := make([]int, len(d.perm))
	for k, p := range d.perm {
		sStr[k] = inStr[p]
	}
	out := newBuffer(shapes.Make(buf.shape.DType, d.permDims...))
	copyAny(out.flat, 0, rowMajorStrides(d.permDims), buf.flat, 0, sStr, d.permDims)
	return out
}

// done returns a copy made by arrange to the pool.
func (d dotSide) done(arranged *Buffer) {
	if d.perm != nil {
		release(arranged)
	}
}

func (b *Builder) DotGeneral(lhs backends.Op, lhsContractingAxes, lhsBatchAxes []int,
	rhs backends.Op, rhsContractingAxes, rhsBatchAxes []int) (backends.Op, error) {
	ns, err := b.in(lhs, rhs)
	if err != nil {
		return nil, err
	}
	ls, rs := ns[0].shape, ns[1].shape
	if ls.DType != rs.DType {
		return nil, errors.Errorf("DotGeneral: dtypes differ: %s and %s", ls, rs)
	}
	if len(lhsContractingAxes) != len(rhsContractingAxes) || len(lhsBatchAxes) != len(rhsBatchAxes) {
		return nil, errors.Errorf("DotGeneral: %d/%d contracting and %d/%d batch axes", len(lhsContractingAxes),
			len(rhsContractingAxes), len(lhsBatchAxes), len(rhsBatchAxes))
	}
	for i := range lhsContractingAxes {
		if ls.Dimensions[lhsContractingAxes[i]] != rs.Dimensions[rhsContractingAxes[i]] {
			return nil, errors.Errorf("DotGeneral: contracting axes %v of %s and %v of %s differ", lhsContractingAxes, ls, rhsContractingAxes, rs)
		}
	}
	outDims := []int{}
	for i, a := range lhsBatchAxes {
		if ls.Dimensions[a] != rs.Dimensions[rhsBatchAxes[i]] {
			return nil, errors.Errorf("DotGeneral: batch axes %v of %s and %v of %s differ", lhsBatchAxes, ls, rhsBatchAxes, rs)
		}
		outDims = append(outDims, ls.Dimensions[a])
	}
	for ax := range ls.Rank() {
		if !slices.Contains(lhsBatchAxes, ax) && !slices.Contains(lhsContractingAxes, ax) {
			outDims = append(outDims, ls.Dimensions[ax])
		}
	}
	for ax := range rs.Rank() {
		if !slices.Contains(rhsBatchAxes, ax) && !slices.Contains(rhsContractingAxes, ax) {
			outDims = append(outDims, rs.Dimensions[ax])
		}
	}
	shape := shapes.Make(ls.DType, outDims...)
	L := planSide(ls, lhsBatchAxes, lhsContractingAxes, true)
	R := planSide(rs, rhsBatchAxes, rhsContractingAxes, false)
	batch, m, n, k := L.batchSize, L.rows, R.rows, L.k
	var fn kernel
	axes := &dotAxes{lc: lhsContractingAxes, lb: lhsBatchAxes, rc: rhsContractingAxes, rb: rhsBatchAxes}
	if outer, inner, ok := thinSlabs(L, R, rs, rhsBatchAxes, rhsContractingAxes, m); ok {
		fn = slabKernel(shape, ls.DType, L, m, k, outer, inner)
		if fn != nil {
			out := b.add(backends.OpTypeDotGeneral, shape, fn, ns...)
			out.dot = axes
			return out, nil
		}
	}
	switch ls.DType {
	case dtypes.Float32:
		fn = func(ins []*Buffer) *Buffer {
			out := newBuffer(shape)
			la, ra := L.arrange(ins[0]), R.arrange(ins[1])
			Gemm(batch, m, n, k, la.flat.([]float32), m*k, L.trans, ra.flat.([]float32), k*n, R.trans, out.flat.([]float32))
			L.done(la)
			R.done(ra)
			return out
		}
	case dtypes.Float64:
		fn = func(ins []*Buffer) *Buffer {
			out := newBuffer(shape)
			la, ra := L.arrange(ins[0]), R.arrange(ins[1])
			Gemm(batch, m, n, k, la.flat.([]float64), m*k, L.trans, ra.flat.([]float64), k*n, R.trans, out.flat.([]float64))
			L.done(la)
			R.done(ra)
			return out
		}
	default:
		return nil, errors.Wrapf(b.Builder.ErrFn(backends.OpTypeDotGeneral), "dtype %s", ls.DType)
	}
	out := b.add(backends.OpTypeDotGeneral, shape, fn, ns...)
	out.dot = axes
	return out, nil
}

// dotAxes are a DotGeneral's contracting and batch axes (lhs, rhs), kept for the fusion pass.
type dotAxes struct{ lc, lb, rc, rb []int }

// is reports whether the axes are exactly these.
func (d *dotAxes) is(lc, lb, rc, rb []int) bool {
	return d != nil && slices.Equal(d.lc, lc) && slices.Equal(d.lb, lb) && slices.Equal(d.rc, rc) && slices.Equal(d.rb, rb)
}

// thinSlabMaxRows is the most lhs rows for which a product with an rhs whose contracted axes sit
// between its other axes ([outer, K, inner], such as per-head weights [H, D, K] contracted over
// D) is done slab by slab instead of copying the rhs into [K, outer*inner]: the copy reads and
// writes the whole rhs on every call, which dominates when the lhs is a few rows (a decoding
// step reads each weight once). The slab products then go to one batched Gemm with the lhs
// broadcast, and only the small [outer, m, inner] result is rearranged.
const thinSlabMaxRows = 16

// thinSlabs reports whether the rhs is [outer..., contracted..., inner...] in that order (no
// batch axes) with the lhs usable in place and at most thinSlabMaxRows rows, and returns the
// outer and inner sizes.
func thinSlabs(L, R dotSide, rs shapes.Shape, rb, rc []int, m int) (outer, inner int, ok bool) {
	if R.perm == nil || L.perm != nil || len(rb) > 0 || L.batchSize != 1 || m > thinSlabMaxRows || len(rc) == 0 {
		return 0, 0, false
	}
	if !slices.IsSorted(rc) || rc[len(rc)-1]-rc[0] != len(rc)-1 { // contracted axes contiguous, in order
		return 0, 0, false
	}
	outer, inner = 1, 1
	for ax := range rs.Rank() {
		switch {
		case ax < rc[0]:
			outer *= rs.Dimensions[ax]
		case ax > rc[len(rc)-1]:
			inner *= rs.Dimensions[ax]
		}
	}
	return outer, inner, outer > 1 && inner > 1
}

// slabKernel computes out [m, outer, inner] = lhs [m, K] . rhs[o] [K, inner] for each o.
func slabKernel(shape shapes.Shape, dt dtypes.DType, L dotSide, m, k, outer, inner int) kernel {
	switch dt {
	case dtypes.Float32:
		return func(ins []*Buffer) *Buffer {
			return slabProduct(shape, L, m, k, outer, inner, ins[0].flat.([]float32), ins[1].flat.([]float32), Gemm[float32])
		}
	case dtypes.Float64:
		return func(ins []*Buffer) *Buffer {
			return slabProduct(shape, L, m, k, outer, inner, ins[0].flat.([]float64), ins[1].flat.([]float64), Gemm[float64])
		}
	}
	return nil
}

func slabProduct[T float32 | float64](shape shapes.Shape, L dotSide, m, k, outer, inner int, a, b []T,
	gemm func(batch, m, n, k int, a []T, aStride int, transA bool, b []T, bStride int, transB bool, c []T)) *Buffer {
	tmp := newBuffer(shapes.Make(shape.DType, outer, m, inner))
	t := tmp.flat.([]T)
	gemm(outer, m, inner, k, a, 0, L.trans, b, k*inner, false, t)
	out := newBuffer(shape)
	o := out.flat.([]T)
	for j := range outer {
		for i := range m {
			copy(o[(i*outer+j)*inner:(i*outer+j+1)*inner], t[(j*m+i)*inner:(j*m+i+1)*inner])
		}
	}
	release(tmp)
	return out
}
