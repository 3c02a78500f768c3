package fastcpu

import (
	"reflect"
	"sync"

	"github.com/gomlx/gomlx/pkg/core/dtypes"
	"github.com/gomlx/gomlx/pkg/core/shapes"
)

// A pool of intermediate buffers. An executable hands each intermediate's memory back after its
// last use, and kernels take their outputs from here: a forward pass reuses the same few hundred
// MB instead of asking the Go heap (which zeroes it) for fresh memory at every op. Pooled memory
// is not zeroed: kernels overwrite all of their output.

type poolKey struct {
	dt dtypes.DType
	n  int
}

const maxPooledBytes = 1 << 31 // beyond this, freed buffers go back to the garbage collector

var bufPool = struct {
	sync.Mutex
	free  map[poolKey][]any
	bytes int
}{free: map[poolKey][]any{}}

// newBuffer returns an output buffer for a kernel, from the pool when possible (not zeroed).
func newBuffer(shape shapes.Shape) *Buffer {
	n := shape.Size()
	k := poolKey{shape.DType, n}
	bufPool.Lock()
	if l := bufPool.free[k]; len(l) > 0 {
		flat := l[len(l)-1]
		bufPool.free[k] = l[:len(l)-1]
		bufPool.bytes -= n * shape.DType.Size()
		bufPool.Unlock()
		return &Buffer{shape: shape, flat: flat}
	}
	bufPool.Unlock()
	return newZeroBuffer(shape)
}

// newZeroBuffer allocates a zeroed buffer (for buffers handed to users to fill).
func newZeroBuffer(shape shapes.Shape) *Buffer {
	return &Buffer{shape: shape, flat: reflect.MakeSlice(reflect.SliceOf(shape.DType.GoType()), shape.Size(), shape.Size()).Interface()}
}

// release returns a buffer's memory to the pool; nothing may reference it any more.
func release(b *Buffer) {
	n := b.shape.Size()
	if n == 0 {
		return
	}
	bytes := n * b.shape.DType.Size()
	bufPool.Lock()
	defer bufPool.Unlock()
	if bufPool.bytes+bytes > maxPooledBytes {
		return
	}
	k := poolKey{b.shape.DType, n}
	bufPool.free[k] = append(bufPool.free[k], b.flat)
	bufPool.bytes += bytes
}
