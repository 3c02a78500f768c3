package fastcpu

import (
	"fmt"
	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/pkg/core/dtypes"
)

// Fusion: graph.Softmax reaches the backend as seven ops (ReduceMax, Reshape, Identity, Sub, Exp,
// ReduceSum, Reshape, Div), five passes over the data. When a float32 softmax over the last axis
// has no other consumers of its intermediates (inference graphs; training graphs reuse them for
// the gradient, and are left alone), the Div node is rewritten to compute the whole softmax row
// by row in cache: max, exp and sum, scale.

// fuse rewrites fusable patterns among the nodes reachable from outputs.
func fuse(b *Builder, outputs []*node) {
	consumers := map[*node]int{}
	seen := map[*node]bool{}
	var walk func(n *node)
	walk = func(n *node) {
		if seen[n] {
			return
		}
		seen[n] = true
		for _, in := range n.inputs {
			consumers[in]++
			walk(in)
		}
	}
	for _, o := range outputs {
		walk(o)
		consumers[o] += 1 << 20 // outputs are consumed by the caller
	}
	for _, n := range b.nodes {
		if debugFuse {
			ins := []string{}
			for _, in := range n.inputs {
				ins = append(ins, fmt.Sprint(in.id))
			}
			fmt.Println(n.id, n.op, n.shape, ins, consumers[n], n.axes)
		}
		if seen[n] {
			fuseSoftmax(n, consumers)
		}
	}
}

// skipViews follows Reshape/Identity nodes with a single consumer.
func skipViews(n *node, consumers map[*node]int) *node {
	for (n.op == backends.OpTypeReshape || n.op == backends.OpTypeIdentity) && consumers[n] == 1 {
		n = n.inputs[0]
	}
	return n
}

func isLastAxisReduce(n *node, op backends.OpType) bool {
	if n.op != op || len(n.axes) != 1 {
		return false
	}
	in := n.inputs[0].shape
	return n.axes[0] == in.Rank()-1
}

func fuseSoftmax(div *node, consumers map[*node]int) {
	if div.op != backends.OpTypeDiv || div.shape.DType != dtypes.Float32 || div.shape.Rank() == 0 {
		return
	}
	exp, den := div.inputs[0], div.inputs[1]
	if exp.op != backends.OpTypeExp || consumers[exp] != 2 || consumers[den] != 1 {
		return
	}
	sum := skipViews(den, consumers)
	if !isLastAxisReduce(sum, backends.OpTypeReduceSum) || sum.inputs[0] != exp || consumers[sum] != 1 {
		return
	}
	sub := exp.inputs[0]
	if sub.op != backends.OpTypeSub || consumers[sub] != 1 {
		return
	}
	x, mx := sub.inputs[0], skipViews(sub.inputs[1], consumers)
	if !isLastAxisReduce(mx, backends.OpTypeReduceMax) || mx.inputs[0] != x || consumers[mx] != 1 {
		return
	}
	if !x.shape.Equal(div.shape) {
		return
	}
	rowLen := div.shape.Dimensions[div.shape.Rank()-1]
	shape := div.shape
	div.inputs = []*node{x}
	div.fn = func(ins []*Buffer) *Buffer {
		out := newBuffer(shape)
		softmaxRows(out.flat.([]float32), ins[0].flat.([]float32), rowLen)
		return out
	}
}

// softmaxRows computes a numerically stable softmax over each row of length n, in parallel
// chunks of rows, with the vector kernel.
func softmaxRows(out, in []float32, n int) {
	rows := len(in) / max(n, 1)
	parallelFor(rows, max(1, (1<<13)/max(n, 1)), func(s, e int) {
		vsoftmaxRows(in[s*n:e*n], out[s*n:e*n], n)
	})
}

// softmaxRowsGo is the pure-Go softmax (no cgo).
func softmaxRowsGo(out, in []float32, n int) {
	rows := len(in) / max(n, 1)
	parallelFor(rows, max(1, (1<<13)/max(n, 1)), func(s, e int) {
		for r := s; r < e; r++ {
			x, o := in[r*n:(r+1)*n], out[r*n:(r+1)*n]
			m := x[0]
			for _, v := range x[1:] {
				if v > m || v != v {
					m = v
				}
			}
			var sum float32
			for i, v := range x {
				ev := expF32(v - m)
				o[i] = ev
				sum += ev
			}
			inv := 1 / sum
			for i := range o {
				o[i] *= inv
			}
		}
	})
}

var debugFuse = false
