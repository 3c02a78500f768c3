package sae

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/stretchr/testify/require"

	"github.com/interp-dev/interp/model"
)

// TestPublishedDictionaries loads a tiny Gemma Scope params.npz and an EleutherAI sparsify folder
// (written by sae/testdata/make_published.py, numpy/torch in their authors' layouts) and checks
// Encode and Decode against the float64 outputs computed there from the published definitions.
// Tolerance: d_in 8 and 16 latents in float32, terms of size ~3: 8 * 6e-8 * 3 * 10 < 1e-4.
func TestPublishedDictionaries(t *testing.T) {
	raw, err := os.ReadFile("testdata/published/expected.json")
	require.NoError(t, err)
	type outputs struct {
		F    [][]float64 `json:"f"`
		XHat [][]float64 `json:"x_hat"`
	}
	var want struct {
		X          [][]float64 `json:"x"`
		GemmaScope outputs     `json:"gemma_scope"`
		Sparsify   outputs     `json:"sparsify"`
	}
	require.NoError(t, json.Unmarshal(raw, &want))
	var flat []float32
	for _, r := range want.X {
		for _, v := range r {
			flat = append(flat, float32(v))
		}
	}
	x := tensors.FromFlatDataAndDimensions(flat, len(want.X), len(want.X[0]))
	b, _ := model.MustNewBackend("")
	check := func(s *SAE, f, xHat [][]float64) {
		gotF, err := s.Encode(x)
		require.NoError(t, err)
		gotX, err := s.Decode(gotF, x)
		require.NoError(t, err)
		for name, pair := range map[string]struct {
			got  []float32
			want [][]float64
		}{"f": {tensors.MustCopyFlatData[float32](gotF), f}, "x_hat": {tensors.MustCopyFlatData[float32](gotX), xHat}} {
			cols := len(pair.want[0])
			for i, g := range pair.got {
				require.InDelta(t, pair.want[i/cols][i%cols], float64(g), 1e-4, "%s %s[%d]", s.Config.Site.Hook, name, i)
			}
		}
	}

	g, err := LoadAny("testdata/published/gemma-scope/params.npz", "blocks.1.hook_resid_post", b)
	require.NoError(t, err)
	require.Equal(t, JumpReLU, g.Config.Arch)
	require.False(t, g.Config.ApplyBDecToInput, "Gemma Scope encodes x itself")
	check(g, want.GemmaScope.F, want.GemmaScope.XHat)
	active := 0
	for _, r := range want.GemmaScope.F {
		for _, v := range r {
			if v != 0 {
				active++
			}
		}
	}
	require.Greater(t, active, 4, "the threshold leaves some latents on")
	require.Less(t, active, 4*16, "and turns some off")

	s, err := LoadAny("testdata/published/layers.3", "", b)
	require.NoError(t, err)
	require.Equal(t, "blocks.3.hook_resid_post", s.Config.Site.Hook, "layers.N is decoder layer N's output")
	require.Equal(t, TopK, s.Config.Arch)
	require.Equal(t, 3, s.Config.K)
	check(s, want.Sparsify.F, want.Sparsify.XHat)

	_, err = LoadAny("testdata/published/gemma-scope/params.npz", "", b)
	require.ErrorContains(t, err, "does not name its hook point")
	bad := t.TempDir()
	cfg, err := os.ReadFile("testdata/published/layers.3/cfg.json")
	require.NoError(t, err)
	var m map[string]any
	require.NoError(t, json.Unmarshal(cfg, &m))
	m["skip_connection"] = true
	data, _ := json.Marshal(m)
	require.NoError(t, os.WriteFile(filepath.Join(bad, "cfg.json"), data, 0o644))
	st, err := os.ReadFile("testdata/published/layers.3/sae.safetensors")
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(bad, "sae.safetensors"), st, 0o644))
	_, err = LoadAny(bad, "blocks.0.hook_resid_post", b)
	require.ErrorContains(t, err, "skip_connection is not supported")
}
