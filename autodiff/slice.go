package autodiff

import (
	"fmt"
	"reflect"
	"sync"

	"github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/shapes"
)

// The stock Slice gradient in GoMLX v0.26.0 pads the incoming adjoint with Pad, an op the
// pure-Go backend does not implement, so any metric that slices the logits (a logit difference
// at the last position) had no gradient there. SliceVJP builds the same zero-padded adjoint
// from Concatenate (implemented everywhere) for unit-stride slices, and defers to the stock
// VJP (Pad) for strided ones.

var (
	stockSliceVJP graph.VJP
	sliceOnce     sync.Once
)

// RegisterSlice installs SliceVJP as the gradient of Slice (idempotent).
func RegisterSlice() {
	sliceOnce.Do(func() {
		stockSliceVJP = graph.VJPRegistration[graph.NodeTypeSlice]
		graph.VJPRegistration[graph.NodeTypeSlice] = SliceVJP
	})
}

// SliceParams are a Slice node's per-axis starts, limits and strides.
type SliceParams struct {
	Starts, Limits, Strides []int
}

// ReadSliceParams reads the unexported parameters of a Slice node (graph.nodeInputsSlice in
// GoMLX v0.26.0) with reflection; it panics with a clear message if the layout changed.
func ReadSliceParams(node *graph.Node) (p SliceParams) {
	defer func() {
		if r := recover(); r != nil {
			panic(fmt.Sprintf("autodiff: cannot read Slice parameters of %s (GoMLX internals changed?): %v", node, r))
		}
	}()
	s := reflect.ValueOf(node).Elem().FieldByName("inputs").Elem().Elem()
	if s.Type().Name() != "nodeInputsSlice" {
		panic(fmt.Sprintf("inputs is %s, want nodeInputsSlice", s.Type()))
	}
	ints := func(name string) []int {
		f := s.FieldByName(name)
		if !f.IsValid() || f.Kind() != reflect.Slice {
			panic(fmt.Sprintf("field %q missing or not a slice", name))
		}
		out := make([]int, f.Len())
		for i := range out {
			out[i] = int(f.Index(i).Int())
		}
		return out
	}
	p = SliceParams{Starts: ints("starts"), Limits: ints("limits"), Strides: ints("strides")}
	rank := node.Inputs()[0].Rank()
	if len(p.Starts) != rank || len(p.Limits) != rank || len(p.Strides) != rank {
		panic(fmt.Sprintf("parameters %+v do not match operand rank %d", p, rank))
	}
	return p
}

// SliceVJP is the gradient of Slice: the adjoint placed where the slice came from, zeros
// elsewhere, built with Concatenate.
func SliceVJP(node *graph.Node, vjpOutputs []*graph.Node, outputShape shapes.Shape) []*graph.Node {
	p := ReadSliceParams(node)
	for _, s := range p.Strides {
		if s > 1 {
			return stockSliceVJP(node, vjpOutputs, outputShape)
		}
	}
	x := node.Inputs()[0]
	v := vjpOutputs[0]
	dims := x.Shape().Dimensions
	for axis := range dims {
		before, after := p.Starts[axis], dims[axis]-p.Limits[axis]
		if before == 0 && after == 0 {
			continue
		}
		parts := make([]*graph.Node, 0, 3)
		zeros := func(n int) *graph.Node {
			d := v.Shape().Clone()
			d.Dimensions[axis] = n
			return graph.Zeros(v.Graph(), d)
		}
		if before > 0 {
			parts = append(parts, zeros(before))
		}
		parts = append(parts, v)
		if after > 0 {
			parts = append(parts, zeros(after))
		}
		v = graph.Concatenate(parts, axis)
	}
	return []*graph.Node{v}
}
