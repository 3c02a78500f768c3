package sae

import (
	"math"
	"testing"

	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/stretchr/testify/require"

	"github.com/interp-dev/interp/model"
)

// TestDecodeLatentsLeavesOutTheSkip: for a skip transcoder, Decode(f, x) - DecodeLatents(f) is
// x W_skip^T (computed here on the host); without a skip term the two are equal. The tolerance:
// each output is a float32 sum of at most 16 terms (relative rounding 16·2⁻²³ ≈ 2e-6 of its size),
// and the difference of two such outputs carries both roundings; 1e-5 relative leaves a factor 2.
func TestDecodeLatentsLeavesOutTheSkip(t *testing.T) {
	b, _ := model.MustNewBackend("")
	for _, skip := range []bool{true, false} {
		c := Config{Arch: ReLU, DIn: 6, DSAE: 10, DOut: 5, Skip: skip,
			Site: Site{Hook: "blocks.0.ln2.hook_normalized"}, Target: Site{Hook: "blocks.0.hook_mlp_out"}}
		s, err := NewRandom(c, b, InitOptions{Seed: 3, DecoderNorm: 1})
		require.NoError(t, err)
		if skip {
			ws := make([]float32, 5*6)
			for i := range ws {
				ws[i] = float32(math.Sin(float64(i)))
			}
			s.Params["W_skip"] = tensors.FromFlatDataAndDimensions(ws, 5, 6)
		}
		const N = 3
		xs := make([]float32, N*6)
		fs := make([]float32, N*10)
		for i := range xs {
			xs[i] = float32(math.Cos(float64(i)))
		}
		for i := range fs {
			fs[i] = float32(i % 4)
		}
		x, f := tensors.FromFlatDataAndDimensions(xs, N, 6), tensors.FromFlatDataAndDimensions(fs, N, 10)
		full, err := s.Decode(f, x)
		require.NoError(t, err)
		lat, err := s.DecodeLatents(f)
		require.NoError(t, err)
		fv, lv := tensors.MustCopyFlatData[float32](full), tensors.MustCopyFlatData[float32](lat)
		var ws []float32
		if skip {
			ws = tensors.MustCopyFlatData[float32](s.Params["W_skip"])
		}
		for n := range N {
			for o := range 5 {
				want := 0.0
				for i := range 6 {
					if skip {
						want += float64(xs[n*6+i]) * float64(ws[o*6+i])
					}
				}
				got := float64(fv[n*5+o] - lv[n*5+o])
				require.InDelta(t, want, got, 1e-5*(1+math.Abs(float64(fv[n*5+o]))), "skip %v, row %d, out %d", skip, n, o)
			}
		}
	}
}
