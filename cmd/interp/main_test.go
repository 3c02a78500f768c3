package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/stretchr/testify/require"

	"github.com/interp-dev/interp/model"
)

const goldenDir = "../../testdata/golden/gpt2-tiny"

func runCLI(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = Main(args, &out, &errb)
	return code, out.String(), errb.String()
}

// TestRunMatchesGolden runs `interp run` on the reference checkpoint and compares the written
// logits and hooks with the PyTorch reference's goldens (1e-4).
func TestRunMatchesGolden(t *testing.T) {
	out := filepath.Join(t.TempDir(), "acts.safetensors")
	hooks := "blocks.0.attn.hook_pattern,blocks.1.hook_resid_post,blocks.1.mlp.hook_post,ln_final.hook_scale"
	code, stdout, stderr := runCLI(t, "run", "--model", goldenDir, "--tokens-file", filepath.Join(goldenDir, "tokens.json"),
		"--cache", hooks, "--out", out, "--backend", "go")
	require.Equal(t, 0, code, stderr)
	require.Contains(t, stdout, "backend go")
	got, meta, err := model.ReadSafetensors(out)
	require.NoError(t, err)
	require.True(t, strings.HasPrefix(meta["backend"], "go"), meta["backend"])
	want, _, err := model.ReadSafetensors(filepath.Join(goldenDir, "activations.safetensors"))
	require.NoError(t, err)
	names := append(strings.Split(hooks, ","), "logits")
	require.Len(t, got, len(names))
	for _, n := range names {
		g, w := tensors.MustCopyFlatData[float32](got[n]), tensors.MustCopyFlatData[float32](want[n])
		require.Equal(t, want[n].Shape().Dimensions, got[n].Shape().Dimensions, n)
		for i := range g {
			require.InDelta(t, w[i], g[i], 1e-4, "%s[%d]", n, i)
		}
	}
}

func TestRunPromptAndTokenize(t *testing.T) {
	code, stdout, _ := runCLI(t, "tokenize", "--text", "Hello world")
	require.Equal(t, 0, code)
	require.Equal(t, "[15496,995]\n", stdout)

	out := filepath.Join(t.TempDir(), "new-dir", "p.safetensors") // --out may name a folder that does not exist yet
	code, _, stderr := runCLI(t, "run", "--model", "toy-gpt2", "--prompt", "Hello world", "--cache", "blocks.0.hook_resid_pre", "--out", out)
	require.Equal(t, 0, code, stderr)
	require.Contains(t, stderr, "on backend")
	got, _, err := model.ReadSafetensors(out)
	require.NoError(t, err)
	require.Equal(t, []int{1, 2, 50257}, got["logits"].Shape().Dimensions)

	// The default model (ioi-toy, embedded) tokenizes with its own word vocabulary.
	code, _, stderr = runCLI(t, "run", "--prompt", "When Mary and John went to the store, John gave a drink to", "--out", out)
	require.Equal(t, 0, code, stderr)
	got, _, err = model.ReadSafetensors(out)
	require.NoError(t, err)
	require.Equal(t, []int{1, 14, 89}, got["logits"].Shape().Dimensions)

	code, stdout, _ = runCLI(t, "info", "--model", goldenDir)
	require.Equal(t, 0, code)
	require.Contains(t, stdout, "blocks.1.attn.hook_result")
	require.Contains(t, stdout, "40 hook points")
}

// TestBadInput checks that every bad input gives a one-line error naming the problem and a
// non-zero exit code, without a Go stack trace.
func TestBadInput(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		require.NoError(t, os.WriteFile(p, []byte(content), 0o644))
		return p
	}
	good := write("good.json", "[[1,2,3],[4,5,6]]")
	ragged := write("ragged.json", "[[1,2,3],[4,5]]")
	bigID := write("big.json", "[[1,2,64]]")
	long := write("long.json", "[["+strings.Repeat("1,", 16)+"1]]")
	notJSON := write("bad.json", "[[1,2,")
	corrupt := filepath.Join(dir, "corrupt")
	require.NoError(t, os.MkdirAll(corrupt, 0o755))
	cfg, err := os.ReadFile(filepath.Join(goldenDir, "config.json"))
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(corrupt, "config.json"), cfg, 0o644))
	weights, err := os.ReadFile(filepath.Join(goldenDir, "model.safetensors"))
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(corrupt, "model.safetensors"), weights[:len(weights)/2], 0o644))
	out := filepath.Join(dir, "o.safetensors")

	cases := []struct {
		name string
		args []string
		want string
	}{
		{"missing tokens file", []string{"run", "--model", goldenDir, "--tokens-file", filepath.Join(dir, "nope.json"), "--out", out}, "nope.json"},
		{"tokens not JSON", []string{"run", "--model", goldenDir, "--tokens-file", notJSON, "--out", out}, "bad.json"},
		{"ragged rows", []string{"run", "--model", goldenDir, "--tokens-file", ragged, "--out", out}, "row 1 has 2 tokens"},
		{"id >= vocab", []string{"run", "--model", goldenDir, "--tokens-file", bigID, "--out", out}, "id 64 at row 0, position 2"},
		{"longer than n_ctx", []string{"run", "--model", goldenDir, "--tokens-file", long, "--out", out}, "sequence length 17 exceeds n_ctx 16"},
		{"unknown hook", []string{"run", "--model", goldenDir, "--tokens-file", good, "--cache", "blocks.0.hook_resid_mdi", "--out", out}, `unknown hook point "blocks.0.hook_resid_mdi"`},
		{"missing model", []string{"run", "--model", filepath.Join(dir, "nomodel"), "--tokens-file", good, "--out", out}, "nomodel"},
		{"corrupt safetensors", []string{"run", "--model", corrupt, "--tokens-file", good, "--out", out}, "model.safetensors"},
		{"no out", []string{"run", "--model", goldenDir, "--tokens-file", good}, "--out is required"},
		{"both inputs", []string{"run", "--tokens-file", good, "--prompt", "x", "--out", out}, "exactly one of"},
		{"unknown backend", []string{"run", "--model", goldenDir, "--tokens-file", good, "--out", out, "--backend", "tpu"}, `backend "tpu"`},
		{"no tokenizer", []string{"run", "--model", goldenDir, "--prompt", "hi", "--out", out}, "has no tokenizer"},
		{"info missing model", []string{"info", "--model", "no-such-model"}, `model "no-such-model"`},
		{"unknown flag", []string{"info", "--bogus"}, "bogus"},
		{"unknown command", []string{"frobnicate"}, "unknown command"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			code, _, stderr := runCLI(t, c.args...)
			require.NotEqual(t, 0, code)
			require.Contains(t, stderr, c.want)
			require.NotContains(t, stderr, "goroutine ")
			for _, line := range strings.Split(stderr, "\n") {
				if strings.Contains(line, c.want) {
					require.True(t, strings.HasPrefix(line, "interp"), "error line %q", line)
				}
			}
		})
	}
	_, err = os.Stat(out)
	require.True(t, os.IsNotExist(err), "no output written on error")
}
