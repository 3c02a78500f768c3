package main

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strings"
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

// TestLossRepeat: --repeat scores windows [BOS, w, w] and reports each copy's loss without its first
// token, as the training log does; checked here against the per-position losses it writes.
func TestLossRepeat(t *testing.T) {
	require.Equal(t, [][]int{{0, 5, 6, 7, 5, 6, 7}, {0, 8, 9, 10, 8, 9, 10}}, repeatRows([][]int{{0, 5, 6, 7}, {0, 8, 9, 10}}, 1))
	require.Equal(t, [][]int{{5, 6, 5, 6}}, repeatRows([][]int{{5, 6}}, 0))

	dir := t.TempDir()
	text := filepath.Join(dir, "t.txt")
	require.NoError(t, os.WriteFile(text, []byte("The quick brown fox jumps over the lazy dog, again and again and again, and then once more."), 0o644))
	out := filepath.Join(dir, "r.json")
	// --seq-len 10: BOS + 4 tokens + the same 4 (a window of 9; the odd token is dropped).
	code, stdout, stderr := runCLI(t, "loss", "--model", "toy-gpt2", "--file", text, "--seq-len", "10", "--repeat", "--out", out)
	require.Equal(t, 0, code, stderr)
	require.Contains(t, stdout, "repeated windows of 4 tokens")
	var res struct {
		Tokens           int       `json:"tokens"`
		Windows          int       `json:"windows"`
		SeqLen           int       `json:"seq_len"`
		FirstHalfLoss    float64   `json:"first_half_loss"`
		RepeatedHalfLoss float64   `json:"repeated_half_loss"`
		InContextLoss    float64   `json:"in_context_loss"`
		LossByPosition   []float64 `json:"loss_by_position"`
	}
	data, err := os.ReadFile(out)
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(data, &res))
	require.Equal(t, 9, res.SeqLen)
	require.Len(t, res.LossByPosition, 8)
	require.Equal(t, 8*res.Windows, res.Tokens)
	mean := func(x []float64) float64 { return (x[0] + x[1] + x[2]) / 3 }
	// Tokens 2-4 (positions 1-3) and 6-8 (positions 5-7): each copy's first token is left out.
	require.InDelta(t, mean(res.LossByPosition[1:4]), res.FirstHalfLoss, 1e-12)
	require.InDelta(t, mean(res.LossByPosition[5:8]), res.RepeatedHalfLoss, 1e-12)
	require.InDelta(t, res.RepeatedHalfLoss-res.FirstHalfLoss, res.InContextLoss, 1e-12)

	code, _, stderr = runCLI(t, "loss", "--model", "toy-gpt2", "--file", text, "--seq-len", "4", "--repeat")
	require.Equal(t, 2, code)
	require.Contains(t, stderr, "too short for --repeat")
}

// TestLossAblate: --ablate scores the windows twice, plain and with the heads' hook_z zeroed (the
// hooked loss itself is checked against zeroed W_O rows in model's TestLossWithHooks), and refuses
// an unknown or repeated head before any work.
func TestLossAblate(t *testing.T) {
	dir := t.TempDir()
	text := filepath.Join(dir, "t.txt")
	require.NoError(t, os.WriteFile(text, []byte(strings.Repeat("The parser reads the file, and the parser writes the tree. ", 8)), 0o644))
	out := filepath.Join(dir, "a.json")
	code, stdout, stderr := runCLI(t, "loss", "--model", "text-4l", "--file", text, "--seq-len", "64", "--ablate", "1.2", "--ablate", "0.1", "--out", out)
	require.Equal(t, 0, code, stderr)
	require.Contains(t, stdout, "with heads 1.2, 0.1 zero-ablated")
	type score struct {
		Loss    float64 `json:"loss"`
		Tokens  int     `json:"tokens"`
		Windows int     `json:"windows"`
	}
	var res struct {
		score
		Ablated struct {
			score
			Heads      []string `json:"heads"`
			LossChange float64  `json:"loss_change"`
		} `json:"ablated"`
	}
	data, err := os.ReadFile(out)
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(data, &res))
	require.Equal(t, []string{"1.2", "0.1"}, res.Ablated.Heads)
	require.Equal(t, res.Tokens, res.Ablated.Tokens)
	require.Equal(t, res.Windows, res.Ablated.Windows)
	require.NotEqual(t, res.Loss, res.Ablated.Loss)
	require.Equal(t, res.Ablated.Loss-res.Loss, res.Ablated.LossChange)

	for _, c := range []struct{ head, want string }{
		{"9.1", "--ablate head 9.1: the model has layers [0, 4)"},
		{"x", `head "x": want LAYER.HEAD`},
	} {
		code, _, stderr = runCLI(t, "loss", "--model", "text-4l", "--file", text, "--ablate", c.head)
		require.Equal(t, 2, code)
		require.Contains(t, stderr, c.want)
	}
	code, _, stderr = runCLI(t, "loss", "--model", "text-4l", "--file", text, "--ablate", "1.1", "--ablate", "1.1")
	require.Equal(t, 2, code)
	require.Contains(t, stderr, "--ablate 1.1: given twice")
}
