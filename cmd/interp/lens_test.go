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
)

// TestLens runs interp lens on ioi-toy's IOI prompt: the JSON's last stream (final_post) must be
// the model's own prediction at every position, from a plain run of the same tokens.
func TestLens(t *testing.T) {
	out := filepath.Join(t.TempDir(), "lens.json")
	code, stdout, stderr := runCLI(t, "lens", "--prompt", "When Mary and John went to the store, John gave a drink to", "--k", "3", "--out", out)
	require.Equal(t, 0, code, stderr)
	require.Contains(t, stdout, "final_post")
	var doc struct {
		Tokens []int           `json:"tokens"`
		Strs   []string        `json:"strs"`
		Lens   model.LogitLens `json:"lens"`
	}
	data, err := os.ReadFile(out)
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(data, &doc))
	require.Equal(t, "<|endoftext|>", doc.Strs[0], "BOS first, as interp generate")
	require.Equal(t, []string{"0_pre", "1_pre", "final_post"}, doc.Lens.Labels)
	w, _, err := model.LoadAny("ioi-toy")
	require.NoError(t, err)
	b, name := model.MustNewBackend("")
	m, err := model.New(w, b, name)
	require.NoError(t, err)
	tok, err := model.Tokens([][]int{doc.Tokens})
	require.NoError(t, err)
	flat := tensors.MustCopyFlatData[float32](m.MustRun(tok, nil).Logits)
	V := m.Config.DVocab
	for p := range doc.Tokens {
		top := model.TopK(model.Probs(flat[p*V:(p+1)*V]), 1)[0]
		require.Equal(t, top.Token, doc.Lens.Top[2][p][0].Token, "position %d", p)
		require.Len(t, doc.Lens.Top[2][p], 3)
	}
	lines := strings.Split(strings.TrimSpace(stdout), "\n")
	require.Contains(t, lines[len(lines)-2], `"to"`, "the last position's line")
	require.Contains(t, lines[len(lines)-2], `"Mary"`, "ioi-toy answers Mary")

	code, _, stderr = runCLI(t, "lens", "--k", "3")
	require.Equal(t, 2, code)
	require.Contains(t, stderr, "--prompt is required")
	code, _, stderr = runCLI(t, "lens", "--prompt", "Mary", "--k", "0")
	require.Equal(t, 2, code)
	require.Contains(t, stderr, "--k 0: must be positive")
}
