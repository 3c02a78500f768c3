package fastcpu

import (
	"testing"

	"github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/tensors"
)

// TestFinalizedOutputsAreReused: finalizing an executable's output returns its memory to the
// pool, so that the next run's output takes it instead of fresh zeroed memory, and the results
// stay right; a buffer made from user data is never pooled, since the user may still hold it.
func TestFinalizedOutputsAreReused(t *testing.T) {
	be, err := New("")
	if err != nil {
		t.Fatal(err)
	}
	const n = 12345 // a size no other buffer in this test has
	e := graph.MustNewExec(be, func(x *graph.Node) *graph.Node { return graph.AddScalar(x, 1) })
	in := make([]float32, n)
	for i := range in {
		in[i] = float32(i)
	}
	x := tensors.FromFlatDataAndDimensions(in, n)
	bufOf := func(tt *tensors.Tensor) *Buffer {
		b, err := tt.Buffer(be, 0)
		if err != nil {
			t.Fatal(err)
		}
		return b.(*Buffer)
	}
	check := func(out *tensors.Tensor, add float32) {
		got := tensors.MustCopyFlatData[float32](out)
		for i, v := range got {
			if v != in[i]+add {
				t.Fatalf("output[%d] = %g, want %g", i, v, in[i]+add)
			}
		}
	}
	out := e.MustExec(x)[0]
	check(out, 1)
	p := dataPtr(bufOf(out))
	out.MustFinalizeAll()
	out2 := e.MustExec(x)[0]
	if dataPtr(bufOf(out2)) != p {
		t.Fatal("the finalized output's memory was not reused by the next run's output")
	}
	check(out2, 1)

	// The input's buffer holds the user's copy: finalizing it must not pool it.
	xb := bufOf(x)
	xp := dataPtr(xb)
	x.MustFinalizeAll()
	y := tensors.FromFlatDataAndDimensions(in, n)
	out3 := e.MustExec(y)[0]
	if dataPtr(bufOf(out3)) == xp {
		t.Fatal("a finalized input buffer was handed out as an output")
	}
	check(out3, 1)
}
