package model

import (
	"math"
	"path/filepath"
	"testing"

	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/stretchr/testify/require"

	"github.com/interp-dev/interp/hooks"
)

// TestRunToFileInChunks writes 5 rows in chunks of 2 and checks every tensor of the file against
// one run of all 5 rows. The chunks run the same graph on fewer rows, so values agree to the
// rounding of the forward pass: each activation is at most L layers of sums of up to max(64, D)
// terms of its own size, 4 L max(64, D) eps32 (1 + max|x|) (generate_test.go's bound).
func TestRunToFileInChunks(t *testing.T) {
	for _, name := range []string{"gpt2-like", "llama-like"} {
		c := testConfigs[name]
		m := testModel(t, c, 3)
		rows := [][]int{{1, 2, 3, 4, 5, 6}, {6, 5, 4, 3, 2, 1}, {7, 7, 7, 1, 2, 3}, {0, 9, 8, 7, 6, 5}, {4, 4, 4, 4, 4, 4}}
		tok, err := Tokens(rows)
		require.NoError(t, err)
		names := []string{hooks.ResidPre(1), hooks.Pattern(0), hooks.MLPOut(1), hooks.LNFinalScale}
		path := filepath.Join(t.TempDir(), "run.safetensors")
		require.NoError(t, m.runToFile(tok, names, path, name, 2))
		got, meta, err := ReadSafetensors(path)
		require.NoError(t, err)
		require.Equal(t, name, meta["model"])
		whole := m.MustRun(tok, hooks.New().Cache(names...))
		want := map[string]*tensors.Tensor{"logits": whole.Logits}
		for _, n := range names {
			want[n] = whole.Cache.MustGet(n)
		}
		require.Len(t, got, len(want))
		for n, w := range want {
			g, ok := got[n]
			require.True(t, ok, "%s: no %s in the file", name, n)
			require.Equal(t, w.Shape().Dimensions, g.Shape().Dimensions, "%s %s", name, n)
			wv, gv := tensors.MustCopyFlatData[float32](w), tensors.MustCopyFlatData[float32](g)
			mx := 0.0
			for _, v := range wv {
				mx = math.Max(mx, math.Abs(float64(v)))
			}
			tol := 4 * float64(c.NLayers) * float64(max(64, c.DModel)) * 0x1p-23 * (1 + mx)
			for i := range wv {
				require.InDelta(t, wv[i], gv[i], tol, "%s %s[%d]", name, n, i)
			}
		}
	}
	m := testModel(t, testConfigs["gpt2-like"], 3)
	tok, _ := Tokens([][]int{{1, 2}})
	err := m.runToFile(tok, []string{"blocks.0.hook_resid_mdi"}, filepath.Join(t.TempDir(), "x.safetensors"), "m", 1)
	require.ErrorContains(t, err, `unknown hook point "blocks.0.hook_resid_mdi"`)
}

func TestCheckDisk(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, checkDisk(filepath.Join(dir, "small.safetensors"), 1<<10))
	err := checkDisk(filepath.Join(dir, "huge.safetensors"), 1<<62)
	require.ErrorContains(t, err, "huge.safetensors needs")
	require.ErrorContains(t, err, "is free in "+dir)
}
