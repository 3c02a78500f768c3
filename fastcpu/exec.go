package fastcpu

import (
	"fmt"
	"reflect"
	"time"

	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/pkg/core/shapes"
	"github.com/pkg/errors"
)

// Executable runs a compiled graph: nodes in order, one at a time (kernels parallelise inside,
// with plain goroutines, never waiting on a shared worker pool), dropping each intermediate
// value after its last use.
type Executable struct {
	b       *Builder
	order   []*node
	outputs []*node
	lastUse map[int]int // node id -> index in order of its last consumer
}

func newExecutable(b *Builder, outputs []*node) *Executable {
	fuse(b, outputs)
	needed := make([]bool, len(b.nodes))
	var mark func(n *node)
	mark = func(n *node) {
		if needed[n.id] {
			return
		}
		needed[n.id] = true
		for _, in := range n.inputs {
			mark(in)
		}
	}
	for _, o := range outputs {
		mark(o)
	}
	e := &Executable{b: b, outputs: outputs, lastUse: map[int]int{}}
	for _, n := range b.nodes { // ids are a topological order
		if needed[n.id] {
			for _, in := range n.inputs {
				e.lastUse[in.id] = len(e.order)
			}
			e.order = append(e.order, n)
		}
	}
	for _, o := range outputs {
		e.lastUse[o.id] = len(e.order) // outputs live to the end
	}
	return e
}

func (e *Executable) Finalize() {}

func (e *Executable) Inputs() ([]string, []shapes.Shape) {
	names := make([]string, len(e.b.params))
	ss := make([]shapes.Shape, len(e.b.params))
	for i, p := range e.b.params {
		names[i] = fmt.Sprintf("p%d", i)
		ss[i] = p.shape
	}
	return names, ss
}

func (e *Executable) Outputs() []shapes.Shape {
	ss := make([]shapes.Shape, len(e.outputs))
	for i, o := range e.outputs {
		ss[i] = o.shape
	}
	return ss
}

// Execute runs the graph. Donation is accepted but not used: inputs are never written.
func (e *Executable) Execute(inputs []backends.Buffer, _ []bool, _ backends.DeviceNum) (outs []backends.Buffer, err error) {
	if len(inputs) != len(e.b.params) {
		return nil, errors.Errorf("backend %q: graph %q takes %d inputs, got %d", BackendName, e.b.name, len(e.b.params), len(inputs))
	}
	defer func() {
		if r := recover(); r != nil {
			if re, ok := r.(error); ok {
				err = errors.Wrapf(re, "backend %q: executing graph %q", BackendName, e.b.name)
			} else {
				err = errors.Errorf("backend %q: executing graph %q: %v", BackendName, e.b.name, r)
			}
		}
	}()
	vals := make([]*Buffer, len(e.b.nodes))
	protected := map[uintptr]bool{} // data that must not be handed out as an output: inputs and constants
	refs := map[uintptr]int{}       // live values per data pointer (views share their input's data)
	for i, n := range e.order {
		switch {
		case n.param >= 0:
			buf, err := toBuffer(inputs[n.param])
			if err != nil {
				return nil, err
			}
			if !buf.shape.Equal(n.shape) {
				return nil, errors.Errorf("backend %q: input #%d has shape %s, graph expects %s", BackendName, n.param, buf.shape, n.shape)
			}
			vals[n.id] = buf
			protected[dataPtr(buf)] = true
		case n.constant != nil:
			vals[n.id] = n.constant
			protected[dataPtr(n.constant)] = true
		default:
			ins := make([]*Buffer, len(n.inputs))
			for j, in := range n.inputs {
				ins[j] = vals[in.id]
			}
			var t0 time.Time
			if opTimes != nil {
				t0 = time.Now()
			}
			out := n.fn(ins)
			if opTimes != nil {
				opTimes.add(n.op, time.Since(t0))
			}
			if !out.shape.Equal(n.shape) {
				panic(errors.Errorf("op %s produced shape %s, want %s", n.op, out.shape, n.shape))
			}
			vals[n.id] = out
			refs[dataPtr(out)]++
		}
		for _, in := range n.inputs {
			if e.lastUse[in.id] == i && vals[in.id] != nil {
				v := vals[in.id]
				vals[in.id] = nil
				if in.param >= 0 || in.constant != nil {
					continue
				}
				p := dataPtr(v)
				if refs[p]--; refs[p] == 0 && !protected[p] && p != 0 {
					release(v)
				}
			}
		}
	}
	outs = make([]backends.Buffer, len(e.outputs))
	given := map[uintptr]bool{}
	for i, o := range e.outputs {
		v := vals[o.id]
		p := dataPtr(v)
		if protected[p] || given[p] || v.shape.Size() == 0 {
			v = cloneBuffer(v)
			p = dataPtr(v)
		} else if o.view || !v.shape.Equal(o.shape) {
			v = &Buffer{shape: o.shape, flat: v.flat}
		}
		given[p] = true
		v.owned = true
		outs[i] = v
	}
	return outs, nil
}

func dataPtr(b *Buffer) uintptr {
	v := reflect.ValueOf(b.flat)
	if v.Len() == 0 {
		return 0
	}
	return v.Pointer()
}

func cloneBuffer(b *Buffer) *Buffer {
	out := newBuffer(b.shape)
	reflect.Copy(reflect.ValueOf(out.flat), reflect.ValueOf(b.flat))
	return out
}
