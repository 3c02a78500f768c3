package main

import (
	"bytes"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/interp-dev/interp/attrgraph"
	"github.com/interp-dev/interp/model"
	"github.com/interp-dev/interp/sae"
	"github.com/interp-dev/interp/transcoder"
)

// TestTranscoderTrainEvalPaths trains skip transcoders for both MLPs of ioi-toy on a tiny token
// budget, evaluates them (CE loss recovered with every MLP replaced) and draws a path graph.
func TestTranscoderTrainEvalPaths(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "tc")
	code, stdout, stderr := runCLI(t, "transcoder", "train", "--tokens", "4096", "--batch", "1024", "--expansion", "2",
		"--skip", "--seq-batch", "16", "--buffer-rows", "2048", "--out", dir)
	require.Equal(t, 0, code, stderr)
	require.Contains(t, stdout, "trained relu transcoder blocks.0.ln2.hook_normalized -> blocks.0.hook_mlp_out (64 -> 128 -> 64): 4 steps")
	require.Contains(t, stdout, "blocks.1.ln2.hook_normalized -> blocks.1.hook_mlp_out")
	b, _ := model.MustNewBackend("")
	s, err := transcoder.Load(filepath.Join(dir, "L1"), b)
	require.NoError(t, err)
	require.True(t, s.Config.Skip)
	require.Equal(t, "blocks.1.hook_mlp_out", s.Config.TargetSite().Hook)
	var cfg map[string]any
	raw, err := os.ReadFile(filepath.Join(dir, "L1", sae.CfgFile))
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(raw, &cfg))
	require.Equal(t, "skip_transcoder", cfg["architecture"])
	require.Equal(t, "blocks.1.hook_mlp_out", cfg["hook_name_out"])

	code, stdout, stderr = runCLI(t, "transcoder", "eval", "--transcoders", dir, "--batches", "2", "--seq-batch", "16")
	require.Equal(t, 0, code, stderr)
	for _, want := range []string{"on model ioi-toy", "layer 0", "layer 1", "FVU", "all 2 MLPs replaced", "CE loss recovered", "KL score"} {
		require.Contains(t, stdout, want)
	}
	var got struct {
		Metrics transcoder.Metrics `json:"metrics"`
	}
	raw, err = os.ReadFile(filepath.Join(dir, "eval.json"))
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(raw, &got))
	all := got.Metrics.All
	require.Equal(t, []int{0, 1}, all.Layers)
	require.InDelta(t, got.Metrics.CEClean, all.CEWithError, 1e-4, "the error term restores the clean loss")
	require.Greater(t, all.CEZero, got.Metrics.CEClean, "zero-ablating the MLPs hurts")
	require.InDelta(t, (all.CEZero-all.CE)/(all.CEZero-got.Metrics.CEClean), all.CERecovered, 1e-9)

	out := filepath.Join(t.TempDir(), "graph")
	code, stdout, stderr = runCLI(t, "transcoder", "paths", "--transcoders", dir, "--depth", "2", "--out", out)
	require.Equal(t, 0, code, stderr)
	require.Contains(t, stdout, "target logit")
	require.Contains(t, stdout, " 1. ")
	for _, ext := range []string{".json", ".dot", ".svg"} {
		data, err := os.ReadFile(out + ext)
		require.NoError(t, err, ext)
		require.NotEmpty(t, data)
	}
	dot, _ := os.ReadFile(out + ".dot")
	require.True(t, strings.HasPrefix(string(dot), "digraph"))

	// The attribution graph of the task's first prompt, in circuit-tracer's graph-file format.
	gfile := filepath.Join(t.TempDir(), "g.json")
	code, stdout, stderr = runCLI(t, "graph", "--transcoders", dir, "--out", gfile, "--svg", filepath.Join(filepath.Dir(gfile), "g.svg"),
		"--html", filepath.Join(filepath.Dir(gfile), "g.html"))
	require.Equal(t, 0, code, stderr)
	require.Contains(t, stdout, "replacement score")
	require.Contains(t, stdout, "largest direct inputs")
	require.Regexp(t, `token "[^"]*" @\d+ +(\d\.\d|resid) [+-]\d`, stdout, "each input names the heads carrying it")
	require.Contains(t, stdout, "heads carrying the most into the top logit")
	require.Contains(t, stderr, "memory")
	var gf struct {
		Nodes []map[string]any `json:"nodes"`
		Links []map[string]any `json:"links"`
	}
	raw, err = os.ReadFile(gfile)
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(raw, &gf))
	require.NotEmpty(t, gf.Nodes)
	require.NotEmpty(t, gf.Links)
	svg, err := os.ReadFile(filepath.Join(filepath.Dir(gfile), "g.svg"))
	require.NoError(t, err)
	require.True(t, strings.HasPrefix(string(svg), "<svg"))
	page, err := os.ReadFile(filepath.Join(filepath.Dir(gfile), "g.html"))
	require.NoError(t, err)
	require.True(t, strings.HasPrefix(string(page), "<!DOCTYPE html>"))
	// Interventions on the feature with the largest direct effect on the top logit.
	m := regexp.MustCompile(`L(\d+) feature (\d+) @(\d+) \(act`).FindStringSubmatch(stdout[strings.Index(stdout, "largest feature inputs"):])
	require.NotNil(t, m, stdout)
	spec := m[1] + ":" + m[3] + ":" + m[2]
	rfile := filepath.Join(t.TempDir(), "iv.json")
	code, stdout, stderr = runCLI(t, "graph", "intervene", "--transcoders", dir, "--feature", spec+"*=3", "--out", rfile)
	require.Equal(t, 0, code, stderr)
	for _, want := range []string{"intervention: L" + m[1] + " feature " + m[2] + " @" + m[3], "graph:dir", "graph:path", "direct", "linear", "frozen", "recomputed", "top token"} {
		require.Contains(t, stdout, want)
	}
	var rep struct {
		Report attrgraph.Report `json:"report"`
	}
	raw, err = os.ReadFile(rfile)
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(raw, &rep))
	require.NotEmpty(t, rep.Report.Logits)
	for _, e := range rep.Report.Logits {
		require.NotNil(t, e.Direct, "an active feature is a node of the graph")
		// attrgraph's tests bound this by the arithmetic; here the report's plumbing is checked.
		require.InDelta(t, *e.Direct, e.Measured[attrgraph.Direct], 1e-3*(1+math.Abs(*e.Direct)), "direct mode measures the direct edges")
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--feature", m[1] + ":99:" + m[2] + "=0"}, "position 99 outside the prompt's"},
		{[]string{"--feature", m[1] + ":0:100000=0"}, "feature 100000 outside layer"},
		{[]string{"--feature", "7:0:0=0"}, "layer 7 outside the model's"},
		{[]string{"--feature", "0:0:0=x"}, `value "x" is not a finite number`},
		{[]string{"--feature", "0:0:0=1", "--mode", "frozen,sideways"}, `unknown intervention mode "sideways"`},
		{nil, "--feature is required"},
	} {
		code, _, stderr = runCLI(t, append([]string{"graph", "intervene", "--transcoders", dir}, tc.args...)...)
		require.Equal(t, 2, code, tc.args)
		lines := strings.Split(strings.TrimSpace(stderr), "\n")
		require.Contains(t, lines[len(lines)-1], tc.want, "the error is one line")
		require.NotContains(t, stderr, "goroutine")
	}

	code, _, stderr = runCLI(t, "graph", "--transcoders", dir, "--out", filepath.Join(t.TempDir(), "g.svg"))
	require.Equal(t, 2, code)
	require.Contains(t, stderr, ".json")
	code, _, stderr = runCLI(t, "graph", "--transcoders", dir, "--out", gfile, "--node-threshold", "1.5")
	require.Equal(t, 2, code)
	require.Contains(t, stderr, "--node-threshold")

	code, _, stderr = runCLI(t, "transcoder", "paths", "--transcoders", dir, "--out", out, "--feature", "7")
	require.Equal(t, 2, code)
	require.Contains(t, stderr, "LAYER:LATENT")
	code, _, stderr = runCLI(t, "transcoder", "train", "--model", "toy-attn-only", "--out", dir)
	require.Equal(t, 2, code)
	require.Contains(t, stderr, "no MLPs")
}

// TestCLTTrainGraph trains a small cross-layer transcoder on ioi-toy, writes it in
// circuit-tracer's layout, and builds and intervenes on an attribution graph over it.
func TestCLTTrainGraph(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "clt")
	code, stdout, stderr := runCLI(t, "transcoder", "train", "--clt", "--arch", "topk", "--k", "4", "--tokens", "4096", "--batch", "1024",
		"--expansion", "2", "--seq-batch", "16", "--buffer-rows", "2048", "--out", dir)
	require.Equal(t, 0, code, stderr)
	require.Contains(t, stdout, "trained topk cross-layer transcoder over 2 layers (64 -> 128 latents per layer): 4 steps")
	for _, f := range []string{"config.yaml", "W_enc_0.safetensors", "W_enc_1.safetensors", "W_dec_0.safetensors", "W_dec_1.safetensors"} {
		_, err := os.Stat(filepath.Join(dir, f))
		require.NoError(t, err, f)
	}
	code, stdout, stderr = runCLI(t, "transcoder", "eval", "--transcoders", dir, "--batches", "1", "--seq-batch", "4")
	require.Equal(t, 0, code, stderr)
	for _, want := range []string{"a cross-layer transcoder over 2 layers", "layer 0", "layer 1", "FVU", "all 2 MLPs replaced", "CE loss recovered"} {
		require.Contains(t, stdout, want)
	}
	_, err := os.Stat(filepath.Join(dir, "eval.json"))
	require.NoError(t, err)
	gfile := filepath.Join(t.TempDir(), "g.json")
	code, stdout, stderr = runCLI(t, "graph", "--transcoders", dir, "--out", gfile)
	require.Equal(t, 0, code, stderr)
	require.Contains(t, stdout, "replacement score")
	m := regexp.MustCompile(`L(\d+) feature (\d+) @(\d+) \(act`).FindStringSubmatch(stdout[strings.Index(stdout, "largest feature inputs"):])
	require.NotNil(t, m, stdout)
	code, stdout, stderr = runCLI(t, "graph", "intervene", "--transcoders", dir, "--feature", m[1]+":"+m[3]+":"+m[2]+"=0", "--mode", "direct,frozen")
	require.Equal(t, 0, code, stderr)
	require.Contains(t, stdout, "graph:dir")

	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--skip"}, "--skip does not apply to --clt"},
		{[]string{"--layers", "0"}, "--layers does not apply to --clt"},
		{[]string{"--arch", "batchtopk"}, "a cross-layer transcoder is relu, jumprelu or topk"},
		{[]string{"--arch", "jumprelu", "--tanh-scale", "0"}, "--tanh-scale 0"},
	} {
		code, _, stderr = runCLI(t, append([]string{"transcoder", "train", "--clt", "--tokens", "1024", "--out", filepath.Join(t.TempDir(), "x")}, tc.args...)...)
		require.Equal(t, 2, code, tc.args)
		require.Contains(t, stderr, tc.want)
	}
	// A CLT of another model's depth.
	code, _, stderr = runCLI(t, "graph", "--model", "planted-ioi", "--transcoders", dir, "--tokens", "0,1,2", "--out", gfile)
	require.NotEqual(t, 0, code)
	require.NotContains(t, stderr, "goroutine")
	require.Contains(t, stderr, "n_layers 2, the model has 3 (transcoders from another model?)")
}

// TestGraphEvolve trains a toy IOI model briefly with snapshots and follows the graph of one
// prompt across them, with per-layer transcoders and with a CLT; dictionaries are kept beside the
// snapshots and reused by a second run.
func TestGraphEvolve(t *testing.T) {
	run := filepath.Join(t.TempDir(), "run")
	code, _, stderr := runCLI(t, "train", "--task", "ioi", "--model-config", "../../docs/models/ioi-toy.json", "--steps", "20",
		"--batch", "16", "--eval-every", "10", "--snapshot-every", "10", "--out", run)
	require.Equal(t, 0, code, stderr)
	for _, clt := range []bool{false, true} {
		dir := t.TempDir()
		args := []string{"graph", "evolve", "--run", run, "--dict-tokens", "2048", "--dict-batch", "1024", "--expansion", "2",
			"--out", filepath.Join(dir, "e.json"), "--plot", filepath.Join(dir, "e.png")}
		if clt {
			args = append(args, "--clt", "--arch", "topk", "--k", "8")
		}
		code, stdout, stderr := runCLI(t, args...)
		require.Equal(t, 0, code, stderr)
		require.Contains(t, stdout, "over 3 snapshots")
		var doc struct {
			Target int               `json:"target"`
			Frames []attrgraph.Frame `json:"frames"`
		}
		raw, err := os.ReadFile(filepath.Join(dir, "e.json"))
		require.NoError(t, err)
		require.NoError(t, json.Unmarshal(raw, &doc))
		require.Len(t, doc.Frames, 3)
		for i, f := range doc.Frames {
			require.Equal(t, []int{0, 10, 20}[i], f.Step)
			require.Equal(t, doc.Target, f.Logit.Token, "every frame attributes the same logit")
			require.NotEmpty(t, f.Inputs)
			require.Len(t, f.Heads, 2)
		}
		png, err := os.ReadFile(filepath.Join(dir, "e.png"))
		require.NoError(t, err)
		require.True(t, bytes.HasPrefix(png, []byte("\x89PNG")))
	}
	_, err := os.Stat(filepath.Join(run, "snapshots", "step-000010", "transcoders", "L1", "cfg.json"))
	require.NoError(t, err, "per-layer transcoders kept beside the snapshot")
	_, err = os.Stat(filepath.Join(run, "snapshots", "step-000010", "clt", "config.yaml"))
	require.NoError(t, err, "the CLT kept beside the snapshot")

	code, _, stderr = runCLI(t, "graph", "evolve", "--run", t.TempDir(), "--out", filepath.Join(t.TempDir(), "e.json"))
	require.Equal(t, 2, code)
	require.Contains(t, stderr, "no snapshots")
}
