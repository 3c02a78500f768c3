package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// requireOneLineError checks the CLI contract for bad input: the exit code, one line on stderr
// after the backend banner, naming what is wrong, and no Go stack trace.
func requireOneLineError(t *testing.T, code int, stderr string, wantCode int, want string, args []string) {
	t.Helper()
	require.Equal(t, wantCode, code, "%v: %s", args, stderr)
	require.Contains(t, stderr, want, "%v", args)
	require.NotContains(t, stderr, "goroutine", "%v: a stack trace", args)
	var errLines int
	for _, l := range strings.Split(strings.TrimSpace(stderr), "\n") {
		if strings.HasPrefix(l, "interp ") && !strings.HasPrefix(l, "interp: model ") {
			errLines++
		}
	}
	require.Equal(t, 1, errLines, "%v: want one error line, got %q", args, stderr)
}

// TestSizesCheckedBeforeAllocating: sizes that cannot fit in memory are refused at once, naming
// the flag and the estimate, instead of crashing or hanging.
func TestSizesCheckedBeforeAllocating(t *testing.T) {
	out := t.TempDir()
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"train", "--seq-len", "100000", "--out", filepath.Join(out, "t")}, "--batch 32 x --seq-len 100000 needs about"},
		{[]string{"patch", "--n", "10000000"}, "--n 10000000 (pairs of"},
		{[]string{"discover", "--examples", "100000000", "--method", "eap"}, "--examples 100000000 (pairs of"},
	} {
		code, _, stderr := runCLI(t, tc.args...)
		requireOneLineError(t, code, stderr, 2, tc.want, tc.args)
		require.Contains(t, stderr, "is available")
	}
}

// TestOutputsCheckedFirst: an unwritable output or an unknown plot format is refused before any
// work, naming the flag and the path (not a temporary file).
func TestOutputsCheckedFirst(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"patch", "--out", "/proc/p.json"}, "--out: cannot write /proc/p.json"},
		{[]string{"patch", "--plot", filepath.Join(dir, "p.jpg")}, "--plot " + filepath.Join(dir, "p.jpg") + ": want a .png or .svg file"},
		{[]string{"patch", "--html", filepath.Join(dir, "p.pdf")}, "--html"},
		{[]string{"heads", "--plot", filepath.Join(dir, "h.gif")}, "want a .png or .svg file"},
		{[]string{"discover", "--plot", filepath.Join(dir, "c.png"), "--method", "eap"}, "want a .svg or .dot file"},
		{[]string{"train", "--out", "/proc/run"}, "--out /proc/run: the folder cannot be written"},
		{[]string{"sae", "train", "--hook", "blocks.0.hook_resid_post", "--out", "/proc/sae"}, "interp sae train: --out /proc/sae"},
		{[]string{"run", "--prompt", "x", "--out", dir}, "is a folder, not a file"},
	} {
		code, _, stderr := runCLI(t, tc.args...)
		requireOneLineError(t, code, stderr, 2, tc.want, tc.args)
		require.NotContains(t, stderr, ".tmp", "%v names a temporary file", tc.args)
		require.NotContains(t, stderr, "interp: model", "%v: the model was loaded before the output was checked", tc.args)
	}
}

// TestTaskDefaultsFromTheModel: the embedded models record their task, so patch, discover and
// sae take it without --task; an SAE is evaluated on the data it was trained on; a JSON task is
// tokenized with the model's tokenizer in every command.
func TestTaskDefaultsFromTheModel(t *testing.T) {
	dir := t.TempDir()
	code, stdout, stderr := runCLI(t, "patch", "--n", "4", "--out", filepath.Join(dir, "p.json"), "--plot", filepath.Join(dir, "p.png"))
	require.Equal(t, 0, code, stderr)
	require.Contains(t, stdout, "ioi pairs")
	for _, f := range []string{"p.json", "p.png"} {
		st, err := os.Stat(filepath.Join(dir, f))
		require.NoError(t, err)
		require.Equal(t, os.FileMode(0o644), st.Mode().Perm(), f)
	}

	saeDir := filepath.Join(dir, "sae")
	code, _, stderr = runCLI(t, "sae", "train", "--hook", "blocks.1.hook_resid_post", "--arch", "topk", "--k", "4",
		"--expansion", "2", "--tokens", "512", "--batch", "256", "--seq-batch", "16", "--buffer-rows", "512", "--out", saeDir)
	require.Equal(t, 0, code, stderr)
	cfg, err := os.ReadFile(filepath.Join(saeDir, "cfg.json"))
	require.NoError(t, err)
	require.Contains(t, string(cfg), `"dataset_path": "task:ioi"`)
	code, stdout, stderr = runCLI(t, "sae", "eval", "--sae", saeDir, "--batches", "2")
	require.Equal(t, 0, code, stderr)
	require.Contains(t, stdout, "task:ioi")

	js := filepath.Join(dir, "task.json")
	require.NoError(t, os.WriteFile(js, []byte(`[
 {"prompt": "When Mary and John went to the store , John gave a drink to", "answer": "Mary", "wrong": "John",
  "corrupted": "When Mary and John went to the store , Mary gave a drink to"},
 {"prompt": "When John and Mary went to the store , Mary gave a drink to", "answer": "John", "wrong": "Mary",
  "corrupted": "When John and Mary went to the store , John gave a drink to"}]`), 0o644))
	code, stdout, stderr = runCLI(t, "discover", "--model", "ioi-toy", "--task", "json:"+js, "--method", "eap", "--examples", "2")
	require.Equal(t, 0, code, stderr)
	require.Contains(t, stdout, "task json:"+js)

	for _, args := range [][]string{
		{"train", "--task", "ioi", "--init", "ioi-toy", "--seq-len", "10", "--out", filepath.Join(dir, "t")},
		{"patch", "--task", "ioi", "--seq-len", "10"},
	} {
		code, _, stderr = runCLI(t, args...)
		requireOneLineError(t, code, stderr, 2, "applies only to the synthetic tasks", args)
	}
}

// TestFlagValuesChecked: values that were accepted silently are refused, each naming its flag.
func TestFlagValuesChecked(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"patch", "--max-rows", "-1"}, "--max-rows -1"},
		{[]string{"train", "--eval-every", "0", "--out", dir}, "--eval-every 0: must be positive"},
		{[]string{"discover", "--tau", "-1", "--method", "acdc"}, "--tau -1"},
		{[]string{"discover", "--sae-epochs", "0"}, "--sae-epochs 0: must be positive"},
		{[]string{"sae", "train", "--hook", "blocks.0.hook_resid_post", "--arch", "relu", "--k", "0", "--out", dir}, "--k applies only to --arch topk"},
		{[]string{"sae", "train", "--hook", "blocks.0.hook_resid_post", "--arch", "topk", "--k", "0", "--out", dir}, "--k 0: must be positive"},
		{[]string{"sae", "train", "--hook", "blocks.0.hook_resid_post", "--expansion", "0", "--out", dir}, "--expansion 0: must be positive"},
		{[]string{"sae", "eval", "--sae", dir, "--seq-batch", "0"}, "--seq-batch 0: must be positive"},
		{[]string{"transcoder", "train", "--model", "toy-gpt2", "--input", "blocks.0.ln2.hook_normalized", "--out", dir}, "give {L} for the layer"},
	} {
		code, _, stderr := runCLI(t, tc.args...)
		requireOneLineError(t, code, stderr, 2, tc.want, tc.args)
	}
}

// TestTrainResumeSteps: a finished run is extended with --resume --steps N; a plain rerun with
// more steps says how; an IOI run reports accuracy and logit difference, not induction measures.
func TestTrainResumeSteps(t *testing.T) {
	out := filepath.Join(t.TempDir(), "run")
	args := []string{"train", "--task", "ioi", "--model-config", "../../docs/models/ioi-toy.json", "--batch", "8", "--eval-every", "5", "--out", out}
	code, stdout, stderr := runCLI(t, append(args, "--steps", "10")...)
	require.Equal(t, 0, code, stderr)
	require.Contains(t, stdout, "on 100 ioi prompts: accuracy")
	require.NotContains(t, stdout, "induction")
	require.NotContains(t, stdout, "phase change")

	code, _, stderr = runCLI(t, append(args, "--steps", "15")...)
	requireOneLineError(t, code, stderr, 1, "interp train --resume --steps N", args)
	code, stdout, stderr = runCLI(t, "train", "--resume", "--steps", "15", "--out", out)
	require.Equal(t, 0, code, stderr)
	require.Contains(t, stdout, "trained 15 steps of ioi")
	require.Contains(t, stdout, "resumed from step 10")
	for _, bad := range [][]string{
		{"train", "--resume", "--out", out},
		{"train", "--resume", "--steps", "20", "--lr", "1", "--out", out},
		{"train", "--resume", "--steps", "5", "--out", out},
	} {
		code, _, stderr = runCLI(t, bad...)
		require.NotEqual(t, 0, code, "%v", bad)
		requireOneLineError(t, code, stderr, code, "", bad)
	}
	metrics, err := os.ReadFile(filepath.Join(out, "metrics.jsonl"))
	require.NoError(t, err)
	require.Equal(t, 3, strings.Count(string(metrics), `"pairs":{"pairs":100,"accuracy":`), "every evaluation scores the IOI prompts")
	cfg, err := os.ReadFile(filepath.Join(out, "checkpoint", "config.json"))
	require.NoError(t, err)
	require.Contains(t, string(cfg), `"interp_task": "ioi"`)
}
