package model

import (
	"math"
	"path/filepath"
	"sort"
	"testing"

	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/stretchr/testify/require"

	"github.com/interp-dev/interp/hooks"
)

// TestGoldenActivations loads each checkpoint written by the independent PyTorch reference
// (testdata/ref/make_goldens.py; see testdata/golden/README.md) and checks the logits and every
// hook point against the reference's, within 1e-4 absolute. The golden files must name exactly
// this model's hook points, so a hook the reference has and we lack (or the reverse) fails.
func TestGoldenActivations(t *testing.T) {
	dirs, err := filepath.Glob("../testdata/golden/*/activations.safetensors")
	require.NoError(t, err)
	require.NotEmpty(t, dirs, "no goldens found; regenerate with /usr/bin/python3 testdata/ref/make_goldens.py")
	for _, path := range dirs {
		dir := filepath.Dir(path)
		t.Run(filepath.Base(dir), func(t *testing.T) {
			m, tok, want := loadGolden(t, path)
			backendName := m.BackendName

			out, err := m.Run(tok, hooks.New().CacheAll())
			require.NoError(t, err)
			var wantNames []string
			for n := range want {
				if n != "logits" {
					wantNames = append(wantNames, n)
				}
			}
			sort.Strings(wantNames)
			require.Equal(t, wantNames, out.Cache.Names(), "hook points: reference vs Go")

			check := func(name string, got *tensors.Tensor) {
				w := want[name]
				require.Equal(t, w.Shape().Dimensions, got.Shape().Dimensions, "%s shape", name)
				gf, wf := tensors.MustCopyFlatData[float32](got), tensors.MustCopyFlatData[float32](w)
				worst := 0.0
				for i := range gf {
					if math.IsInf(float64(wf[i]), 0) || math.IsInf(float64(gf[i]), 0) {
						require.Equal(t, wf[i], gf[i], "%s[%d]: infinities differ", name, i)
						continue
					}
					worst = max(worst, math.Abs(float64(gf[i]-wf[i])))
				}
				require.LessOrEqual(t, worst, 1e-4, "%s: max |diff| vs reference", name)
			}
			check("logits", out.Logits)
			for _, n := range wantNames {
				check(n, out.Cache.MustGet(n))
			}
			if testing.Verbose() {
				t.Logf("%s: logits and %d hooks match the PyTorch reference (backend %s)", filepath.Base(dir), len(wantNames), backendName)
			}
		})
	}
}

// loadGolden loads the checkpoint beside a goldens file (activations.safetensors or
// expected.safetensors) on the default backend, with its tokens.json and the goldens.
func loadGolden(t *testing.T, path string) (*Model, *tensors.Tensor, map[string]*tensors.Tensor) {
	t.Helper()
	dir := filepath.Dir(path)
	w, err := Load(dir)
	require.NoError(t, err)
	b, backendName := MustNewBackend("")
	m, err := New(w, b, backendName)
	require.NoError(t, err)
	rows, err := ReadTokensFile(filepath.Join(dir, "tokens.json"))
	require.NoError(t, err)
	tok, err := Tokens(rows)
	require.NoError(t, err)
	want, _, err := ReadSafetensors(path)
	require.NoError(t, err)
	return m, tok, want
}
