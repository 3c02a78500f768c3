package fastcpu

import (
	"fmt"

	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/pkg/core/dtypes"
)

// Broadcast elision. Gradients (of reductions, of implicitly broadcast operands) reach the backend
// as BroadcastInDim nodes that write a full-size copy of a smaller tensor, which an elementwise op
// then reads once: 14 of them per step of the 2-layer training graph, 7% of its op time. When a
// float32 binary op (add, sub, mul, div, max, min) reads a broadcast that nothing else reads, and
// its other operand has the output's shape, the op reads the broadcast's input directly with
// stride 0 along the broadcast axes (the size-1 broadcasting binary kernels already do), and the
// copy is never made. The arithmetic is the same, so results are bit for bit those of the
// unfused graph (TestBroadcastElidedIsExact).

func fuseBroadcast(bin *node, consumers map[*node]int) {
	if noBroadcastFusion || bin.shape.DType != dtypes.Float32 || len(bin.inputs) != 2 {
		return
	}
	switch bin.op {
	case backends.OpTypeAdd, backends.OpTypeSub, backends.OpTypeMul, backends.OpTypeDiv, backends.OpTypeMax, backends.OpTypeMin:
	default:
		return
	}
	for i, in := range bin.inputs {
		other := bin.inputs[1-i]
		if in.op != backends.OpTypeBroadcastInDim || consumers[in] != 1 || !in.shape.Equal(bin.shape) ||
			!other.shape.Equal(bin.shape) {
			continue
		}
		src := in.inputs[0]
		dims, ok := broadcastSourceDims(src.shape.Dimensions, in.axes, bin.shape.Rank())
		if !ok {
			continue
		}
		ad, bd := dimsOf(bin.shape), dims
		if i == 0 {
			ad, bd = dims, dimsOf(bin.shape)
		}
		bin.inputs = []*node{bin.inputs[0], bin.inputs[1]}
		bin.inputs[i] = src
		bin.fn = binaryKernel[float32](bin.op, ad, bd, bin.shape, false)
		elidedBroadcasts.Add(1)
		if debugFuse {
			fmt.Println("elided broadcast", in.id, "into", bin.id, bin.op, bin.shape)
		}
		return
	}
}

// broadcastSourceDims returns the broadcast's input dimensions laid out on the output's rank
// (1 on every axis the input does not map to), when its axes map in order, so that the input's
// row-major data is already in that layout.
func broadcastSourceDims(src, axes []int, rank int) ([]int, bool) {
	if len(axes) != len(src) {
		return nil, false
	}
	dims := make([]int, rank)
	for k := range dims {
		dims[k] = 1
	}
	for k, a := range axes {
		if a < 0 || a >= rank || (k > 0 && a <= axes[k-1]) {
			return nil, false
		}
		dims[a] = src[k]
	}
	return dims, true
}
