package fastcpu

import (
	"reflect"
	"slices"

	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/backends/notimplemented"
	"github.com/gomlx/gomlx/pkg/core/dtypes"
	"github.com/gomlx/gomlx/pkg/core/shapes"
	"github.com/pkg/errors"
)

// kernel computes a node's value from its inputs' values. It allocates its output, or returns a
// view sharing an input's data (Reshape); it never mutates its inputs.
type kernel func(ins []*Buffer) *Buffer

// node is one op in a graph under construction.
type node struct {
	id       int
	op       backends.OpType
	shape    shapes.Shape
	inputs   []*node
	fn       kernel
	param    int      // parameter index, or -1
	constant *Buffer  // for constants
	view     bool     // the kernel may return an input's data (no allocation)
	axes     []int    // reduced axes of reductions, broadcast axes of BroadcastInDim, Transpose's permutation (used by the fusion pass)
	dot      *dotAxes // DotGeneral's axes (used by the fusion pass)
	// softmaxOf is the input of a softmax the fusion pass has made this node compute.
	softmaxOf *node
	// softmaxGrad marks a node the fusion pass made compute a softmax gradient, scaled when a
	// multiplication by a scalar was folded in.
	softmaxGrad, scaled bool
	builder             *Builder
}

// implementedOps records every op type some Builder method implements (for Capabilities).
var implementedOps = map[backends.OpType]bool{
	backends.OpTypeParameter: true, backends.OpTypeConstant: true, backends.OpTypeIdentity: true,
}

// Builder records a graph; Compile turns it into an Executable. Ops not implemented here fall
// through to notimplemented.Builder and fail with an error IsNotImplemented recognises.
type Builder struct {
	notimplemented.Builder
	backend *Backend
	name    string
	nodes   []*node
	params  []*node
}

var _ backends.Builder = (*Builder)(nil)

func (b *Builder) Name() string { return b.name }

func (b *Builder) add(op backends.OpType, shape shapes.Shape, fn kernel, inputs ...*node) *node {
	recordOp(op)
	n := &node{id: len(b.nodes), op: op, shape: shape, inputs: inputs, fn: fn, param: -1, builder: b}
	b.nodes = append(b.nodes, n)
	return n
}

// in converts ops to nodes of this builder.
func (b *Builder) in(ops ...backends.Op) ([]*node, error) {
	out := make([]*node, len(ops))
	for i, op := range ops {
		n, ok := op.(*node)
		if !ok || n == nil {
			return nil, errors.Errorf("backend %q: op #%d is %T, not a fastcpu op", BackendName, i, op)
		}
		if n.builder != b {
			return nil, errors.Errorf("backend %q: op #%d belongs to another graph", BackendName, i)
		}
		out[i] = n
	}
	return out, nil
}

func (b *Builder) in1(op backends.Op) (*node, error) {
	ns, err := b.in(op)
	if err != nil {
		return nil, err
	}
	return ns[0], nil
}

func (b *Builder) OpShape(op backends.Op) (shapes.Shape, error) {
	n, err := b.in1(op)
	if err != nil {
		return shapes.Invalid(), err
	}
	return n.shape, nil
}

func (b *Builder) Parameter(name string, shape shapes.Shape, _ *backends.ShardingSpec) (backends.Op, error) {
	n := b.add(backends.OpTypeParameter, shape, nil)
	n.param = len(b.params)
	b.params = append(b.params, n)
	return n, nil
}

func (b *Builder) Constant(flat any, dims ...int) (backends.Op, error) {
	v := reflect.ValueOf(flat)
	if v.Kind() != reflect.Slice {
		return nil, errors.Errorf("backend %q: Constant: flat must be a slice, got %T", BackendName, flat)
	}
	shape := shapes.Make(dtypes.FromGoType(v.Type().Elem()), dims...)
	if !slices.Contains(supportedDTypes, shape.DType) || shape.Size() != v.Len() { // dtypes' IsSupported omits Uint64
		return nil, errors.Errorf("backend %q: Constant: %T[%d] does not fit dims %v", BackendName, flat, v.Len(), dims)
	}
	buf := newZeroBuffer(shape)
	reflect.Copy(reflect.ValueOf(buf.flat), v)
	n := b.add(backends.OpTypeConstant, shape, nil)
	n.constant = buf
	return n, nil
}

func (b *Builder) Identity(x backends.Op) (backends.Op, error) {
	n, err := b.in1(x)
	if err != nil {
		return nil, err
	}
	out := b.add(backends.OpTypeIdentity, n.shape, func(ins []*Buffer) *Buffer { return ins[0] }, n)
	out.view = true
	return out, nil
}

// Compile returns the executable computing outputs.
func (b *Builder) Compile(outputs []backends.Op, _ []*backends.ShardingSpec) (backends.Executable, error) {
	outs, err := b.in(outputs...)
	if err != nil {
		return nil, err
	}
	return newExecutable(b, outs), nil
}
