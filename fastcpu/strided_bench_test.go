package fastcpu_test

import (
	"testing"

	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/tensors"

	"github.com/interp-dev/interp/fastcpu"
)

// BenchmarkStridedOps times the kernels that walk strided index boxes (strided.go) on the
// attention-sized tensors of the 2-layer model ([32, 8, 64, 64]) and on a small odd-shaped one.
func BenchmarkStridedOps(b *testing.B) {
	be, err := backends.NewWithConfig(fastcpu.BackendName)
	if err != nil {
		b.Fatal(err)
	}
	x := tensors.FromFlatDataAndDimensions(make([]float32, 32*8*64*64), 32, 8, 64, 64)
	y := tensors.FromFlatDataAndDimensions(make([]float32, 64*64), 1, 1, 64, 64)
	small := tensors.FromFlatDataAndDimensions(make([]float32, 4*6*5*7), 4, 6, 5, 7)
	cases := map[string]func(a, c *graph.Node) *graph.Node{
		"transpose": func(a, _ *graph.Node) *graph.Node { return graph.TransposeAllDims(a, 0, 2, 1, 3) },
		"bcast-add": func(a, c *graph.Node) *graph.Node { return graph.Add(a, c) },
		"sum-axis1": func(a, _ *graph.Node) *graph.Node { return graph.ReduceSum(a, 1) },
		"max-axis3": func(a, _ *graph.Node) *graph.Node { return graph.ReduceMax(a, 3) },
		"max-axis0": func(a, _ *graph.Node) *graph.Node { return graph.ReduceMax(a, 0) },
	}
	for name, fn := range cases {
		b.Run(name, func(b *testing.B) {
			exec := graph.MustNewExec(be, fn)
			exec.MustExec(x, y)
			for b.Loop() {
				exec.MustExec(x, y)
			}
		})
	}
	b.Run("small-transpose", func(b *testing.B) {
		exec := graph.MustNewExec(be, func(a *graph.Node) *graph.Node { return graph.TransposeAllDims(a, 3, 1, 0, 2) })
		for b.Loop() {
			exec.MustExec(small)
		}
	})
}
