package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/interp-dev/interp/model"
)

// tinyTrain are the flags of a small, fast training run (a 2-layer attention-only model with
// vocabulary 16 on 15-token sequences).
func tinyTrain(out string, extra ...string) []string {
	args := []string{"train", "--task", "induction", "--vocab", "16", "--seq-len", "15", "--batch", "4",
		"--steps", "6", "--eval-every", "3", "--checkpoint-every", "3", "--out", out}
	return append(args, extra...)
}

func TestTrainRunsAndResumes(t *testing.T) {
	out := t.TempDir()
	code, stdout, stderr := runCLI(t, tinyTrain(out, "--clamp", "blocks.0.attn.hook_pattern[head=2]=prev-token")...)
	require.Equal(t, 0, code, stderr)
	require.Contains(t, stderr, "on backend")
	require.Contains(t, stdout, "trained 6 steps of induction")
	for _, f := range []string{"checkpoint/config.json", "checkpoint/model.safetensors", "checkpoint/optimizer.safetensors",
		"checkpoint/state.json", "metrics.jsonl", "summary.json", "progress.png"} {
		_, err := os.Stat(filepath.Join(out, f))
		require.NoError(t, err, f)
	}
	w, err := model.Load(filepath.Join(out, "checkpoint"))
	require.NoError(t, err)
	require.Equal(t, 8, w.Config.NHeads)

	// Asking for more steps changes the schedule: refused, naming the field.
	code, _, stderr = runCLI(t, tinyTrain(out, "--steps", "9", "--clamp", "blocks.0.attn.hook_pattern[head=2]=prev-token")...)
	require.Equal(t, 1, code)
	require.Contains(t, stderr, "learning-rate schedule has 6 steps, now 9; to train a run longer, extend it: interp train --resume --steps N")
	require.Equal(t, 1, strings.Count(strings.TrimSpace(stderr), "\n")+0, "want the backend line and one error line:\n%s", stderr)

	// The same command again resumes from the final checkpoint and has nothing left to do.
	code, stdout, stderr = runCLI(t, tinyTrain(out, "--clamp", "blocks.0.attn.hook_pattern[head=2]=prev-token")...)
	require.Equal(t, 0, code, stderr)
	require.Contains(t, stdout, "resumed from step 6")
}

func TestTrainErrors(t *testing.T) {
	out := t.TempDir()
	cases := []struct {
		args []string
		code int
		want string
	}{
		{[]string{"train", "--steps", "2"}, 2, "--out is required"},
		{tinyTrain(out, "--clamp", "blocks.0.attn.hook_patern=zero"), 1, `"blocks.0.attn.hook_patern"`},
		{tinyTrain(out, "--clamp", "blocks.0.attn.hook_patern=zero"), 1, "blocks.0.attn.hook_pattern"}, // did you mean
		{tinyTrain(out, "--clamp", "blocks.0.attn.hook_pattern[head=8]=zero"), 1, "head 8 out of range (the model has 8 heads)"},
		{tinyTrain(out, "--clamp", "blocks.0.attn.hook_pattern[pos=20]=zero"), 1, "position 20 out of range"},
		{tinyTrain(out, "--clamp", "blocks.0.attn.hook_pattern=perfect"), 2, `unknown value "perfect"`},
		{tinyTrain(out, "--clamp", "blocks.0.hook_attn_out=prev-token"), 1, "prev-token is an attention pattern"},
		{tinyTrain(out, "--clamp", "blocks.0.attn.hook_z[head=1]=const:/nonexistent.safetensors"), 2, "/nonexistent.safetensors"},
		{tinyTrain(out, "--task", "induktion"), 2, `unknown task "induktion"`},
		{tinyTrain(out, "--lr", "-1"), 2, "lr must be positive"},
		{tinyTrain(out, "--model-config", "/nonexistent/config.json"), 1, "/nonexistent/config.json"},
	}
	for _, tc := range cases {
		code, _, stderr := runCLI(t, tc.args...)
		require.Equal(t, tc.code, code, "%v: %s", tc.args, stderr)
		require.Contains(t, stderr, tc.want, "%v", tc.args)
		require.NotContains(t, stderr, "goroutine", "no stack traces")
		require.Equal(t, 0, strings.Count(strings.TrimSpace(stderr), "\n"), "one line: %s", stderr)
	}
	_, err := os.Stat(filepath.Join(out, "checkpoint"))
	require.True(t, os.IsNotExist(err), "a failed run must not train")
}

// TestTrainLlamaToy: the induction study's training on the built-in Llama-style config (RoPE,
// RMSNorm, SwiGLU, grouped-query attention), with a clamp; the checkpoint (interp's own layout)
// loads back with that architecture.
func TestTrainLlamaToy(t *testing.T) {
	out := t.TempDir()
	code, stdout, stderr := runCLI(t, tinyTrain(out, "--model-config", "llama-2l", "--clamp", "blocks.0.attn.hook_pattern[head=2]=prev-token")...)
	require.Equal(t, 0, code, stderr)
	require.Contains(t, stdout, "trained 6 steps of induction")
	w, err := model.Load(filepath.Join(out, "checkpoint"))
	require.NoError(t, err)
	c := w.Config
	require.Equal(t, model.RMS, c.Normalization)
	require.True(t, c.GatedMLP)
	require.Equal(t, 8, c.RotaryDim)
	require.Equal(t, 4, c.KVHeads())
	require.Equal(t, 16, c.DVocab)
}

// TestTrainClampedPairs: a clamped run on a task with pairs reports its held-out scores with the
// clamps and with the weights alone, and logs both.
func TestTrainClampedPairs(t *testing.T) {
	out := t.TempDir()
	code, stdout, stderr := runCLI(t, "train", "--task", "icl-classify", "--model-config", "attn-only-2l",
		"--batch", "4", "--steps", "2", "--eval-every", "2", "--clamp", "blocks.0.attn.hook_pattern[head=0]=prev-token", "--out", out)
	require.Equal(t, 0, code, stderr)
	require.Contains(t, stdout, "on 100 icl-classify prompts: accuracy")
	require.Contains(t, stdout, "with the clamps; the weights alone (clamps removed): accuracy")
	metrics, err := os.ReadFile(filepath.Join(out, "metrics.jsonl"))
	require.NoError(t, err)
	require.Contains(t, string(metrics), `"pairs":{"pairs":100`)
	require.Contains(t, string(metrics), `"pairs_unclamped":{"pairs":100`)
}

// TestTrainMixture trains on a mixture of the two toy word tasks: each task is scored on its own
// pairs at every evaluation, the checkpoint carries the shared vocabulary, and patch --scale-heads
// scores one of the tasks with heads boosted.
func TestTrainMixture(t *testing.T) {
	out := t.TempDir()
	code, stdout, stderr := runCLI(t, "train", "--task", "mix:ioi,colored-objects", "--model-config", "attn-only-2l",
		"--vocab", "127", "--batch", "4", "--steps", "2", "--eval-every", "2", "--out", out)
	require.Equal(t, 0, code, stderr)
	require.Contains(t, stdout, "on 100 colored-objects prompts: accuracy")
	require.Contains(t, stdout, "on 100 ioi prompts: accuracy")
	metrics, err := os.ReadFile(filepath.Join(out, "metrics.jsonl"))
	require.NoError(t, err)
	require.Contains(t, string(metrics), `"pairs_by_task":{"colored-objects":{"pairs":100`)
	ckpt := filepath.Join(out, "checkpoint")
	want, err := os.ReadFile(filepath.Join(ckpt, "tokenizer.json"))
	require.NoError(t, err, "the mixture's vocabulary is saved with the model")
	text := "red pen blue cup green key"
	code, ids, stderr := runCLI(t, "tokenize", "--model", ckpt, "--text", text)
	require.Equal(t, 0, code, stderr)

	// The vocabulary stays with the model through --resume, and through --init from it: each
	// trained model and snapshot carries the same tokenizer and tokenizes a prompt as the first.
	code, _, stderr = runCLI(t, "train", "--resume", "--steps", "3", "--out", out)
	require.Equal(t, 0, code, stderr)
	init := t.TempDir()
	code, _, stderr = runCLI(t, "train", "--task", "colored-objects", "--init", ckpt, "--batch", "4", "--steps", "2",
		"--eval-every", "2", "--snapshot-every", "2", "--out", init)
	require.Equal(t, 0, code, stderr)
	for _, dir := range []string{ckpt, filepath.Join(init, "checkpoint"), filepath.Join(init, "snapshots", "step-000002")} {
		got, err := os.ReadFile(filepath.Join(dir, "tokenizer.json"))
		require.NoError(t, err, dir)
		require.Equal(t, string(want), string(got), dir)
		code, stdout, stderr := runCLI(t, "tokenize", "--model", dir, "--text", text)
		require.Equal(t, 0, code, "%s: %s", dir, stderr)
		require.Equal(t, ids, stdout, dir)
	}

	js := filepath.Join(t.TempDir(), "scale.json")
	code, stdout, stderr = runCLI(t, "patch", "--model", ckpt, "--task", "colored-objects", "-n", "8",
		"--scale-heads", "1.0,0.3", "--factors", "0,1,2", "--out", js)
	require.Equal(t, 0, code, stderr)
	require.Contains(t, stdout, "heads 1.0,0.3 scaled, on 8 colored-objects pairs")
	data, err := os.ReadFile(js)
	require.NoError(t, err)
	require.Contains(t, string(data), `"factor": 2`)

	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"--scale-heads", "2.0"}, 2, "head 2.0 out of range"},
		{[]string{"--scale-heads", "1.0", "--factors", "1,x"}, 2, `--factors: "x" is not a number`},
		{[]string{"--scale-heads", "1.0", "--method", "path", "--receivers", "logits"}, 2, "does not combine"},
		{[]string{"--task", "mix:ioi,colored-objects"}, 1, "a mixture has no pairs of its own; name one of its tasks (ioi, colored-objects)"},
	} {
		args := append([]string{"patch", "--model", ckpt, "--task", "colored-objects", "-n", "4"}, tc.args...)
		code, _, stderr := runCLI(t, args...)
		require.Equal(t, tc.code, code, "%v: %s", tc.args, stderr)
		require.Contains(t, stderr, tc.want, "%v", tc.args)
		require.NotContains(t, stderr, "goroutine")
	}
}
