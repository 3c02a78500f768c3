package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/stretchr/testify/require"

	"github.com/interp-dev/interp/model"
)

// copyDir copies the files of a checkpoint folder into a fresh temporary folder.
func copyDir(t *testing.T, src string) string {
	t.Helper()
	dst := t.TempDir()
	entries, err := os.ReadDir(src)
	require.NoError(t, err)
	for _, e := range entries {
		data, err := os.ReadFile(filepath.Join(src, e.Name()))
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(filepath.Join(dst, e.Name()), data, 0o644))
	}
	return dst
}

// TestCommandsOnFamilies runs interp info, run, patch, discover, sae train and train --clamp on
// a Llama-style checkpoint (grouped-query attention, RMSNorm, rotary, SwiGLU; BF16, sharded) and a
// Pythia-style one (GPT-NeoX: parallel residual, partial rotary), both written by the PyTorch
// reference (testdata/golden-families).
func TestCommandsOnFamilies(t *testing.T) {
	for _, tc := range []struct {
		dir                   string
		heads, kvHeads, dHead int
		rotary                int
	}{
		{"llama-gqa-bf16-sharded", 4, 2, 8, 8},
		{"pythia-parallel", 2, 2, 16, 4},
	} {
		t.Run(tc.dir, func(t *testing.T) {
			dir := copyDir(t, filepath.Join("..", "..", "testdata", "golden-families", tc.dir))
			out := t.TempDir()

			code, stdout, stderr := runCLI(t, "info", "--model", dir)
			require.Equal(t, 0, code, stderr)
			require.Contains(t, stdout, "blocks.1.attn.hook_rot_q")
			if tc.dir == "pythia-parallel" {
				require.NotContains(t, stdout, "hook_resid_mid", "a parallel residual has no resid_mid")
			} else {
				require.Contains(t, stdout, "blocks.0.mlp.hook_pre_linear")
				require.Contains(t, stdout, "kv_head=2")
			}

			act := filepath.Join(out, "act.safetensors")
			code, _, stderr = runCLI(t, "run", "--model", dir, "--tokens-file", filepath.Join(dir, "tokens.json"),
				"--cache", "blocks.0.attn.hook_k,blocks.1.hook_resid_pre", "--out", act)
			require.Equal(t, 0, code, stderr)
			got, _, err := model.ReadSafetensors(act)
			require.NoError(t, err)
			require.Equal(t, []int{2, 10, tc.kvHeads, tc.dHead}, got["blocks.0.attn.hook_k"].Shape().Dimensions)
			want, _, err := model.ReadSafetensors(filepath.Join(dir, "expected.safetensors"))
			require.NoError(t, err)
			requireAllClose(t, want["blocks.1.hook_resid_pre"], got["blocks.1.hook_resid_pre"], 1e-4)

			// TransformerLens's weight processing leaves the logits as the reference computed them.
			proc := filepath.Join(out, "proc.safetensors")
			code, _, stderr = runCLI(t, "run", "--model", dir, "--tokens-file", filepath.Join(dir, "tokens.json"),
				"--process", "fold_ln,fold_value_biases", "--out", proc)
			require.Equal(t, 0, code, stderr)
			require.Contains(t, stderr, "weights processed: fold_ln, fold_value_biases")
			got, _, err = model.ReadSafetensors(proc)
			require.NoError(t, err)
			requireAllClose(t, want["logits"], got["logits"], 1e-4)

			// k patched per key/value head: the head axis has the key/value head count.
			pj := filepath.Join(out, "k.json")
			code, _, stderr = runCLI(t, "patch", "--model", dir, "--task", "induction", "--seq-len", "9", "--component", "k",
				"--n", "2", "--out", pj)
			require.Equal(t, 0, code, stderr)
			p := readPatchJSON(t, pj)
			require.Equal(t, []int{2, tc.kvHeads}, dimsOf(p.Scores))

			dj := filepath.Join(out, "d.json")
			code, stdout, stderr = runCLI(t, "discover", "--model", dir, "--task", "induction",
				"--method", "patching", "--examples", "3", "--out", dj)
			require.Equal(t, 0, code, stderr)
			var d struct {
				NodeScores map[string]float64 `json:"node_scores"`
			}
			data, err := os.ReadFile(dj)
			require.NoError(t, err)
			require.NoError(t, json.Unmarshal(data, &d))
			require.Len(t, d.NodeScores, 2*tc.heads+2, "2 layers of heads and MLPs")
			// The edge-level methods too: under grouped-query attention a group's k and v edges
			// go to its first head (L.0 and L.2 here).
			for _, method := range []string{"eap", "acdc"} {
				ej := filepath.Join(out, method+".json")
				code, _, stderr = runCLI(t, "discover", "--model", dir, "--task", "induction",
					"--method", method, "--examples", "3", "--out", ej)
				require.Equal(t, 0, code, stderr)
				var r struct {
					EdgeScores map[string]float64 `json:"edge_scores"`
				}
				data, err := os.ReadFile(ej)
				require.NoError(t, err)
				require.NoError(t, json.Unmarshal(data, &r))
				require.NotEmpty(t, r.EdgeScores, method)
				if tc.kvHeads < tc.heads {
					require.Contains(t, r.EdgeScores, "embed->1.2.k")
					require.NotContains(t, r.EdgeScores, "embed->1.1.k")
				}
				if tc.dir == "pythia-parallel" {
					require.NotContains(t, r.EdgeScores, "0.0->mlp0", "parallel residual: a layer's heads do not feed its MLP")
					require.Contains(t, r.EdgeScores, "0.0->mlp1")
				}
			}

			saeDir := filepath.Join(out, "sae")
			code, _, stderr = runCLI(t, "sae", "train", "--model", dir, "--task", "induction", "--hook", "blocks.1.hook_resid_pre",
				"--arch", "topk", "--k", "4", "--expansion", "2", "--tokens", "512", "--batch", "128", "--seq-batch", "16",
				"--buffer-rows", "256", "--out", saeDir)
			require.Equal(t, 0, code, stderr)
			_, err = os.Stat(filepath.Join(saeDir, "sae_weights.safetensors"))
			require.NoError(t, err)

			// A transcoder over the (gated, for Llama) MLP reads its normalised input.
			tcDir := filepath.Join(out, "tc")
			code, stdout, stderr = runCLI(t, "transcoder", "train", "--model", dir, "--task", "induction", "--layers", "1",
				"--tokens", "1024", "--batch", "256", "--expansion", "2", "--seq-batch", "16", "--buffer-rows", "512", "--out", tcDir)
			require.Equal(t, 0, code, stderr)
			require.Contains(t, stdout, "blocks.1.ln2.hook_normalized -> blocks.1.hook_mlp_out")
			// ... and attribution graphs through it: a logit's paths to heads, features and embeddings.
			pp := filepath.Join(out, "paths")
			code, stdout, stderr = runCLI(t, "transcoder", "paths", "--model", dir, "--transcoders", tcDir,
				"--tokens", "1,5,9,2,5,9,2,5", "--logit", "9,3", "--out", pp)
			require.Equal(t, 0, code, stderr)
			_, err = os.Stat(pp + ".json")
			require.NoError(t, err)

			code, stdout, stderr = runCLI(t, "heads", "--model", dir, "--half", "6", "--batch", "2", "--out", filepath.Join(out, "heads.json"))
			require.Equal(t, 0, code, stderr)
			require.Contains(t, stdout, "top previous_token_head")

			tr := filepath.Join(out, "train")
			code, stdout, stderr = runCLI(t, "train", "--model-config", filepath.Join(dir, "config.json"), "--task", "induction",
				"--seq-len", "15", "--batch", "4", "--steps", "4", "--eval-every", "2", "--out", tr,
				"--clamp", "blocks.0.attn.hook_pattern[head=1]=prev-token")
			require.Equal(t, 0, code, stderr)
			require.Contains(t, stdout, "trained 4 steps of induction")
			w, err := model.Load(filepath.Join(tr, "checkpoint"))
			require.NoError(t, err)
			require.Equal(t, tc.kvHeads, w.Config.KVHeads())
			require.Equal(t, tc.rotary, w.Config.RotaryDim)
		})
	}
}

// requireAllClose checks two float32 tensors elementwise within tol.
func requireAllClose(t *testing.T, want, got *tensors.Tensor, tol float64) {
	t.Helper()
	require.Equal(t, want.Shape().Dimensions, got.Shape().Dimensions)
	w, g := tensors.MustCopyFlatData[float32](want), tensors.MustCopyFlatData[float32](got)
	for i := range w {
		require.InDelta(t, w[i], g[i], tol, "element %d", i)
	}
}

// TestEdgeMethodsOnPostNorms: the edge-level methods run on the layouts with norms after
// attention and the MLP, OLMo 2 (norms after only) and Gemma 2 (norms before and after, soft-caps),
// where a head's edges carry its share of the normalised sum (circuits.headShare; the numbers are
// checked in circuits' EAP and edge-ablation tests), and so do transcoder attribution paths
// (checked in transcoder's TestAttributionComplete).
func TestEdgeMethodsOnPostNorms(t *testing.T) {
	for _, name := range []string{"olmo2-postnorm", "gemma2-softcap"} {
		dir := copyDir(t, filepath.Join("..", "..", "testdata", "golden-families", name))
		for _, method := range []string{"eap", "acdc"} {
			ej := filepath.Join(t.TempDir(), method+".json")
			code, _, stderr := runCLI(t, "discover", "--model", dir, "--task", "induction", "--method", method, "--examples", "2",
				"--out", ej)
			require.Equal(t, 0, code, "%s %s: %s", name, method, stderr)
			var r struct {
				EdgeScores map[string]float64 `json:"edge_scores"`
			}
			data, err := os.ReadFile(ej)
			require.NoError(t, err)
			require.NoError(t, json.Unmarshal(data, &r))
			require.Contains(t, r.EdgeScores, "0.0->1.1.q", "%s %s", name, method)
			require.Contains(t, r.EdgeScores, "mlp1->logits", "%s %s", name, method)
		}
		// Transcoder attribution paths too (the norm after attention frozen at the prompt's scale,
		// a logit taken before Gemma's soft-cap).
		tcDir := filepath.Join(t.TempDir(), "tc")
		code, _, stderr := runCLI(t, "transcoder", "train", "--model", dir, "--task", "induction", "--layers", "1",
			"--tokens", "1024", "--batch", "256", "--expansion", "2", "--seq-batch", "16", "--buffer-rows", "512", "--out", tcDir)
		require.Equal(t, 0, code, "%s: %s", name, stderr)
		pp := filepath.Join(t.TempDir(), "paths")
		code, _, stderr = runCLI(t, "transcoder", "paths", "--model", dir, "--transcoders", tcDir,
			"--tokens", "1,5,9,2,5,9,2,5", "--logit", "9,3", "--out", pp)
		require.Equal(t, 0, code, "%s: %s", name, stderr)
		_, err := os.Stat(pp + ".json")
		require.NoError(t, err)
	}
}

// TestPublishedSAEsOnAFamily: interp sae eval reads a Gemma Scope params.npz (with --sae-hook) and
// a sparsify layers.N folder, on a Llama-style checkpoint, and writes its metrics beside them.
func TestPublishedSAEsOnAFamily(t *testing.T) {
	dir := copyDir(t, filepath.Join("..", "..", "testdata", "golden-families", "llama-gqa-bf16-sharded"))
	gs := filepath.Join(t.TempDir(), "gemma-scope")
	require.NoError(t, os.MkdirAll(gs, 0o755))
	data, err := os.ReadFile(filepath.Join("..", "..", "sae", "testdata", "published", "d32", "gemma-scope", "params.npz"))
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(gs, "params.npz"), data, 0o644))
	code, stdout, stderr := runCLI(t, "sae", "eval", "--model", dir, "--task", "induction", "--sae", filepath.Join(gs, "params.npz"),
		"--sae-hook", "blocks.1.hook_resid_post", "--batches", "2", "--seq-batch", "4")
	require.Equal(t, 0, code, stderr)
	require.Contains(t, stdout, "jumprelu SAE 32 -> 64 at blocks.1.hook_resid_post")
	_, err = os.Stat(filepath.Join(gs, "eval.json"))
	require.NoError(t, err, "metrics beside the params.npz")

	code, _, stderr = runCLI(t, "sae", "eval", "--model", dir, "--task", "induction", "--sae", filepath.Join(gs, "params.npz"),
		"--batches", "2", "--seq-batch", "4")
	require.Equal(t, 1, code)
	require.Contains(t, stderr, "does not name its hook point")

	sp := copyDir(t, filepath.Join("..", "..", "sae", "testdata", "published", "d32", "layers.1"))
	named := filepath.Join(filepath.Dir(sp), "layers.1")
	require.NoError(t, os.Rename(sp, named))
	code, stdout, stderr = runCLI(t, "sae", "eval", "--model", dir, "--task", "induction", "--sae", named, "--batches", "2", "--seq-batch", "4")
	require.Equal(t, 0, code, stderr)
	require.Contains(t, stdout, "blocks.1.hook_resid_post")
}
