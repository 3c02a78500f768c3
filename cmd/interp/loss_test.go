package main

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestLossCommand(t *testing.T) {
	dir := t.TempDir()
	text := filepath.Join(dir, "t.txt")
	require.NoError(t, os.WriteFile(text, []byte("The quick brown fox jumps over the lazy dog, again and again and again."), 0o644))
	out := filepath.Join(dir, "l.json")
	code, stdout, stderr := runCLI(t, "loss", "--model", "toy-gpt2", "--file", text, "--seq-len", "6", "--out", out)
	require.Equal(t, 0, code, stderr)
	require.Contains(t, stdout, "nats/token")
	var res struct {
		Loss, Perplexity float64
		Tokens, Windows  int
	}
	data, err := os.ReadFile(out)
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(data, &res))
	// Windows of BOS + 5 tokens, each predicting 5: random weights over GPT-2's vocabulary score
	// near ln 50257 = 10.8.
	require.Equal(t, 5*res.Windows, res.Tokens)
	require.InDelta(t, math.Exp(res.Loss), res.Perplexity, 1e-9*res.Perplexity)
	require.InDelta(t, math.Log(50257), res.Loss, 2)

	code, _, stderr = runCLI(t, "loss", "--model", "toy-gpt2")
	require.Equal(t, 2, code)
	require.Contains(t, stderr, "--file is required")
	code, _, stderr = runCLI(t, "loss", "--model", "toy-gpt2", "--file", filepath.Join(dir, "missing.txt"))
	require.Equal(t, 2, code)
	require.Contains(t, stderr, "missing.txt")
}
