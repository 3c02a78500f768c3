package heads

import (
	"testing"

	"github.com/gomlx/gomlx/pkg/core/tensors"

	"github.com/interp-dev/interp/hooks"
	"github.com/interp-dev/interp/model"
)

func mustTokens(t *testing.T, rows [][]int) *tensors.Tensor {
	t.Helper()
	x, err := model.Tokens(rows)
	if err != nil {
		t.Fatal(err)
	}
	return x
}

func patternName(l int) string { return hooks.Pattern(l) }

func cacheAllPatterns(layers int) *hooks.Set {
	s := hooks.New()
	for l := range layers {
		s.Cache(hooks.Pattern(l))
	}
	return s
}

// to5 turns a [B, H, P, P] tensor into nested slices for JSON.
func to5(x *tensors.Tensor) [][][][]float32 {
	d := x.Shape().Dimensions
	flat := tensors.MustCopyFlatData[float32](x)
	out := make([][][][]float32, d[0])
	i := 0
	for b := range out {
		out[b] = make([][][]float32, d[1])
		for h := range out[b] {
			out[b][h] = make([][]float32, d[2])
			for q := range out[b][h] {
				out[b][h][q] = flat[i : i+d[3]]
				i += d[3]
			}
		}
	}
	return out
}
