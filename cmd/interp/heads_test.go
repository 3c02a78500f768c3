package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestHeads(t *testing.T) {
	dir := t.TempDir()
	out, plot := filepath.Join(dir, "scores.json"), filepath.Join(dir, "heads.png")
	code, stdout, stderr := runCLI(t, "heads", "--model", "toy-attn-only", "--half", "6", "--batch", "2", "--out", out, "--plot", plot)
	require.Equal(t, 0, code, stderr)
	require.Contains(t, stdout, "induction")
	var got struct {
		Backend string `json:"backend"`
		Scores  map[string][][]float64
	}
	data, err := os.ReadFile(out)
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(data, &got))
	for _, k := range []string{"previous_token_head", "duplicate_token_head", "induction_head"} {
		require.Len(t, got.Scores[k], 2, k)
		require.Len(t, got.Scores[k][0], 8, k)
		for _, row := range got.Scores[k] {
			for _, v := range row {
				require.True(t, v >= 0 && v <= 1, "%s score %v outside [0, 1]", k, v)
			}
		}
	}
	require.NotEmpty(t, got.Backend)
	st, err := os.Stat(plot)
	require.NoError(t, err)
	require.Greater(t, st.Size(), int64(1000))

	code, _, stderr = runCLI(t, "heads", "--model", "toy-attn-only", "--half", "100")
	require.Equal(t, 2, code)
	require.Contains(t, stderr, "--half 100")
}
