package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/stretchr/testify/require"

	"github.com/interp-dev/interp/model"
	"github.com/interp-dev/interp/sae"
)

// TestSAETrainEvalFeatures trains a small TopK SAE on the attention-only toy model's residual
// stream, resumes it, evaluates it (every metric, JSON and histogram) and writes a features page.
func TestSAETrainEvalFeatures(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "sae")
	train := []string{"sae", "train", "--model", "toy-attn-only", "--hook", "blocks.1.hook_resid_post", "--arch", "topk",
		"--k", "8", "--expansion", "2", "--batch", "512", "--task", "induction", "--seq-len", "17", "--seq-batch", "16", "--buffer-rows", "1024",
		"--lr", "1e-3", "--out", dir}
	code, stdout, stderr := runCLI(t, append(train, "--tokens", "2048")...)
	require.Equal(t, 0, code, stderr)
	require.Contains(t, stdout, "trained topk SAE 64 -> 128 on blocks.1.hook_resid_post: 4 steps")
	for _, f := range []string{sae.CfgFile, sae.WeightsFile, sae.LogFile, sae.CheckpointFile} {
		_, err := os.Stat(filepath.Join(dir, f))
		require.NoError(t, err, f)
	}
	code, stdout, stderr = runCLI(t, append(train, "--tokens", "4096", "--resume")...)
	require.Equal(t, 0, code, stderr)
	require.Contains(t, stdout, "at step 4 of 8")
	require.Contains(t, stdout, "step 8:")

	b, _ := model.MustNewBackend("")
	s, err := sae.Load(dir, b)
	require.NoError(t, err)
	require.Equal(t, sae.TopK, s.Config.Arch)
	require.Equal(t, "toy-attn-only", s.Config.Meta.ModelName)
	require.Equal(t, "task:induction", s.Config.Meta.DatasetPath)

	out := filepath.Join(t.TempDir(), "eval.json")
	code, stdout, stderr = runCLI(t, "sae", "eval", "--sae", dir, "--batches", "2", "--seq-len", "17", "--out", out)
	require.Equal(t, 0, code, stderr)
	for _, want := range []string{"on model toy-attn-only", "L0 ", "MSE", "FVU", "explained variance", "cosine",
		"CE loss: clean", "CE loss recovered", "KL from clean", "dead", "dense"} {
		require.Contains(t, stdout, want)
	}
	var got struct {
		Metrics map[string]any `json:"metrics"`
		Density []float64      `json:"feature_density"`
	}
	raw, err := os.ReadFile(out)
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(raw, &got))
	for _, k := range []string{"l0", "mse", "fvu", "explained_variance", "cossim", "ce_loss_clean", "ce_loss_with_sae",
		"ce_loss_with_sae_and_error", "ce_loss_zero_ablated", "ce_loss_score", "kl_div_with_sae", "kl_div_with_sae_and_error",
		"kl_div_score", "dead_fraction", "dense_fraction"} {
		require.Contains(t, got.Metrics, k)
	}
	require.InDelta(t, 8, got.Metrics["l0"], 1e-9, "TopK with k 8 keeps 8 latents on the toy model's rows")
	require.InDelta(t, 0, got.Metrics["kl_div_with_sae_and_error"], 1e-6)
	require.Len(t, got.Density, 128)
	st, err := os.Stat(filepath.Join(dir, "density.png"))
	require.NoError(t, err)
	require.Greater(t, st.Size(), int64(1000))

	page := filepath.Join(t.TempDir(), "features", "page.html")
	code, stdout, stderr = runCLI(t, "sae", "features", "--sae", dir, "--latents", "0,3", "--top", "3", "--batches", "2",
		"--seq-len", "17", "--out", page)
	require.Equal(t, 0, code, stderr)
	require.Contains(t, stdout, "latent 3:")
	html, err := os.ReadFile(page)
	require.NoError(t, err)
	require.Contains(t, string(html), "Latent 0")
	require.Contains(t, string(html), "Latent 3")
}

func TestSAEBadInput(t *testing.T) {
	dir := t.TempDir()
	base := []string{"sae", "train", "--model", "toy-attn-only", "--tokens", "512", "--batch", "256"}
	cases := []struct {
		args []string
		code int
		want string
	}{
		{[]string{"sae"}, 2, "give a subcommand"},
		{[]string{"sae", "fit"}, 2, `unknown subcommand "fit"`},
		{append(base, "--hook", "blocks.0.hook_resid_post"), 2, "--out is required"},
		{append(base, "--out", dir), 2, "--hook is required"},
		{append(base, "--hook", "blocks.7.hook_resid_post", "--out", dir), 2, `hook "blocks.7.hook_resid_post" does not exist`},
		{append(base, "--hook", "blocks.0.attn.hook_z", "--out", dir), 2, "choose a head mode"},
		{append(base, "--hook", "blocks.0.attn.hook_pattern", "--heads", "concat", "--out", dir), 2, "no feature axis"},
		{append(base, "--hook", "blocks.0.attn.hook_z", "--heads", "9", "--out", dir), 2, "head 9 out of range"},
		{append(base, "--hook", "blocks.0.hook_resid_post", "--arch", "matching_pursuit", "--out", dir), 2, `unknown architecture "matching_pursuit"`},
		{append(base, "--hook", "blocks.0.hook_resid_post", "--k", "1000", "--out", dir), 2, "--k 1000"},
		{append(base, "--hook", "blocks.0.hook_resid_post", "--unit-norm", "yes", "--out", dir), 2, "--unit-norm"},
		{append(base, "--hook", "blocks.0.hook_resid_post", "--task", "nope", "--out", dir), 2, `unknown task "nope"`},
		{append(base, "--hook", "blocks.0.hook_resid_post", "--tokens-file", filepath.Join(dir, "none.json"), "--out", dir), 1, "none.json"},
		{[]string{"sae", "eval"}, 2, "--sae is required"},
		{[]string{"sae", "eval", "--model", "toy-attn-only", "--sae", filepath.Join(dir, "missing")}, 1, "cfg.json"},
		{[]string{"sae", "features", "--sae", dir, "--out", filepath.Join(dir, "p.html")}, 2, "--latents is required"},
		{[]string{"sae", "features", "--sae", dir, "--latents", "x", "--out", filepath.Join(dir, "p.html")}, 2, `"x" is not a latent index`},
	}
	for _, tc := range cases {
		code, _, stderr := runCLI(t, tc.args...)
		require.Equal(t, tc.code, code, "%v: %s", tc.args, stderr)
		require.Contains(t, stderr, tc.want, "%v", tc.args)
		msg := strings.TrimSpace(stderr[strings.LastIndex(stderr, "interp sae"):])
		require.NotContains(t, msg, "\n", "one-line error: %q", stderr)
	}

	// An SAE whose weights do not match its config, and an SAE on a hook the model lacks.
	b, _ := model.MustNewBackend("")
	s, err := sae.NewRandom(sae.Config{Arch: sae.ReLU, DIn: 64, DSAE: 32, Site: sae.Site{Hook: "blocks.5.hook_resid_post"}}, b, sae.InitOptions{})
	require.NoError(t, err)
	good := filepath.Join(dir, "good")
	require.NoError(t, sae.Save(s, good))
	code, _, stderr := runCLI(t, "sae", "eval", "--model", "toy-attn-only", "--task", "induction", "--sae", good)
	require.Equal(t, 1, code)
	require.Contains(t, stderr, `hook "blocks.5.hook_resid_post" does not exist`)
	code, _, stderr = runCLI(t, "sae", "features", "--model", "toy-attn-only", "--task", "induction", "--sae", good, "--latents", "40", "--out", filepath.Join(dir, "p.html"))
	require.Equal(t, 2, code)
	require.Contains(t, stderr, "latent 40 out of range")
	bad := filepath.Join(dir, "bad")
	s.Params["W_dec"] = tensors.FromFlatDataAndDimensions(make([]float32, 64*32), 64, 32)
	require.NoError(t, os.MkdirAll(bad, 0o755))
	require.NoError(t, model.WriteSafetensors(filepath.Join(bad, sae.WeightsFile), s.Params, nil))
	cfg, _ := os.ReadFile(filepath.Join(good, sae.CfgFile))
	require.NoError(t, os.WriteFile(filepath.Join(bad, sae.CfgFile), cfg, 0o644))
	code, _, stderr = runCLI(t, "sae", "eval", "--model", "toy-attn-only", "--sae", bad)
	require.Equal(t, 1, code)
	require.Contains(t, stderr, `"W_dec" has shape [64 32], want [32 64]`)
}
