package sae

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/interp-dev/interp/model"
)

// saeLensArchitectures are the architecture names SAELens registers (sae_lens/__init__.py's
// register_sae_class calls, current release): a file this package writes under one of these is
// one SAELens loads; refusedBySAELens are the names this package writes for what SAELens has no
// class for, which SAELens refuses as unknown instead of misreading (sae/doc.go lists them).
var (
	saeLensArchitectures = []string{"standard", "gated", "jumprelu", "topk",
		"transcoder", "skip_transcoder", "jumprelu_transcoder", "jumprelu_skip_transcoder"}
	refusedBySAELens = []string{"topk_transcoder", "topk_skip_transcoder"}
)

// TestEveryArchitectureRoundTrips writes every architecture this package trains, as an SAE, a
// transcoder to another width and a skip transcoder, with and without a run-time normalisation,
// and reads each back: the configuration and every tensor exactly, and an architecture name
// SAELens either loads or refuses (never one it would read as something else).
func TestEveryArchitectureRoundTrips(t *testing.T) {
	b, _ := model.MustNewBackend("")
	for _, arch := range Archs() {
		for _, kind := range []string{"sae", "transcoder", "skip_transcoder"} {
			if arch == Gated && kind != "sae" {
				continue // refused by Validate: SAELens has no gated transcoder
			}
			for _, norm := range []string{"", NormConstant} {
				name := fmt.Sprintf("%s/%s/%s", arch, kind, norm)
				c := Config{Arch: arch, DIn: 8, DSAE: 16, Site: Site{Hook: "blocks.0.hook_resid_pre"}, RuntimeNorm: norm,
					Meta: Meta{ModelName: "toy-gpt2", DatasetPath: "task:ioi"}}
				if arch == TopK || arch == BatchTopK {
					c.K = 3
				}
				switch kind {
				case "sae":
					c.ApplyBDecToInput = true
				default:
					c.Site = Site{Hook: "blocks.0.ln2.hook_normalized"}
					c.Target, c.DOut, c.Skip = Site{Hook: "blocks.0.hook_mlp_out"}, 6, kind == "skip_transcoder"
				}
				s, err := NewRandom(c, b, InitOptions{Seed: 2})
				require.NoError(t, err, name)
				dir := t.TempDir()
				require.NoError(t, Save(s, dir), name)
				got, err := Load(dir, b)
				require.NoError(t, err, name)
				if diff := configDiff(c, got.Config); diff != "" {
					t.Errorf("%s: config (-want +got): %s", name, diff)
				}
				for _, spec := range ParamSpecs(c) {
					require.True(t, slices.Equal(s.Flat(spec.Name), got.Flat(spec.Name)), "%s: tensor %s differs", name, spec.Name)
				}
				var saved map[string]any
				raw, err := os.ReadFile(filepath.Join(dir, CfgFile))
				require.NoError(t, err)
				require.NoError(t, json.Unmarshal(raw, &saved))
				a, _ := saved["architecture"].(string)
				if !slices.Contains(saeLensArchitectures, a) && !slices.Contains(refusedBySAELens, a) {
					t.Errorf("%s: architecture %q is neither a SAELens name nor a documented refusal", name, a)
				}
				if kind != "sae" {
					meta := saved["metadata"].(map[string]any)
					require.Equal(t, "blocks.0.hook_mlp_out", meta["hook_name_out"], "%s: hook_name_out under metadata, where SAELens 6 keeps it", name)
					require.Equal(t, 6.0, saved["d_out"], name)
				}
			}
		}
	}
}

// TestSAELensResavedTranscoderKeepsItsHooks reads a transcoder folder as SAELens 6 writes it when
// it re-saves one of this package's files: only its own fields (hook_name_out under metadata, d_out
// at the top), none of this package's "interp" block. It must come back as the same transcoder: the
// output hook and width, the skip term.
func TestSAELensResavedTranscoderKeepsItsHooks(t *testing.T) {
	b, _ := model.MustNewBackend("")
	c := Config{Arch: JumpReLU, DIn: 8, DSAE: 16, DOut: 6, Skip: true, Site: Site{Hook: "blocks.0.ln2.hook_normalized"},
		Target: Site{Hook: "blocks.0.hook_mlp_out"}}
	s, err := NewRandom(c, b, InitOptions{Seed: 3})
	require.NoError(t, err)
	dir := t.TempDir()
	require.NoError(t, Save(s, dir))
	resaved := map[string]any{"architecture": "jumprelu_skip_transcoder", "d_in": 8, "d_sae": 16, "d_out": 6, "dtype": "float32",
		"device": "cpu", "apply_b_dec_to_input": false, "normalize_activations": "none", "reshape_activations": "none",
		"metadata": map[string]any{"sae_lens_version": "6.49.2", "hook_name": "blocks.0.ln2.hook_normalized",
			"hook_name_out": "blocks.0.hook_mlp_out", "model_name": "toy-gpt2"}}
	raw, err := json.Marshal(resaved)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(dir, CfgFile), raw, 0o644))
	got, err := Load(dir, b)
	require.NoError(t, err)
	require.Equal(t, "blocks.0.hook_mlp_out", got.Config.TargetSite().Hook)
	require.Equal(t, 6, got.Config.Out())
	require.True(t, got.Config.Skip)
	require.True(t, slices.Equal(s.Flat("W_skip"), got.Flat("W_skip")))
}
