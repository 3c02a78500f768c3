package train

import (
	"context"
	"errors"
	"math"
	"testing"

	"github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/stretchr/testify/require"

	"github.com/interp-dev/interp/hooks"
	"github.com/interp-dev/interp/model"
)

// expectedPattern is the prescribed pattern of one row, computed on the host from the docs.
func expectedPattern(kind string, row []int) [][]float32 {
	P := len(row)
	out := make([][]float32, P)
	for i := range P {
		out[i] = make([]float32, P)
		switch kind {
		case "prev-token":
			out[i][max(i-1, 0)] = 1
		case "uniform":
			for j := 0; j <= i; j++ {
				out[i][j] = 1 / float32(i+1)
			}
		case "induction":
			target := 0
			for j := i - 1; j >= 0; j-- {
				if row[j] == row[i] {
					target = j + 1
					break
				}
			}
			out[i][target] = 1
		}
	}
	return out
}

func TestPatternSources(t *testing.T) {
	m := tinyModel(t, 1)
	rows := testRows()
	H, P := m.Config.NHeads, len(rows[0])
	for _, src := range []Source{PrevToken(), Uniform(), Induction()} {
		got, _ := clampedRun(t, m, rows, []Clamp{{Hook: hooks.Pattern(0), Value: src}}, hooks.Pattern(0))
		pat := got[hooks.Pattern(0)] // [B, H, P, P]
		for b, row := range rows {
			want := expectedPattern(src.String(), row)
			for h := range H {
				for i := range P {
					for j := range P {
						require.InDelta(t, want[i][j], pat[((b*H+h)*P+i)*P+j], 1e-7, "%s row %d head %d q %d k %d", src, b, h, i, j)
					}
				}
			}
		}
	}
}

func TestClampSelectsHeadsAndPositions(t *testing.T) {
	m := tinyModel(t, 1)
	rows := testRows()
	name := hooks.Z(1) // [B, P, H, K]
	free, _ := clampedRun(t, m, rows, nil, name)
	c := Clamp{Hook: name, Heads: []int{1, 3}, Positions: []int{2, 4}, Value: Zero()}
	got, _ := clampedRun(t, m, rows, []Clamp{c}, name)
	B, P, H, K := len(rows), len(rows[0]), m.Config.NHeads, m.Config.DHead
	zeros := 0
	for b := range B {
		for p := range P {
			for h := range H {
				for k := range K {
					i := ((b*P+p)*H+h)*K + k
					if (h == 1 || h == 3) && (p == 2 || p == 4) {
						require.Zero(t, got[name][i])
						zeros++
					} else {
						require.Equal(t, free[name][i], got[name][i], "b %d p %d h %d k %d", b, p, h, k)
					}
				}
			}
		}
	}
	require.Equal(t, B*2*2*K, zeros)
}

func TestMeanSources(t *testing.T) {
	m := tinyModel(t, 1)
	rows := testRows()
	ref := [][]int{{0, 1, 1, 2, 3, 5, 8, 13, 5}, {0, 9, 8, 7, 6, 5, 4, 3, 2}}
	name := hooks.AttnOut(0) // [B, P, D]
	P, D := len(rows[0]), m.Config.DModel
	meanOf := func(act []float32, n int) []float64 { // mean over rows -> [P*D]
		out := make([]float64, P*D)
		for b := range n {
			for i := range P * D {
				out[i] += float64(act[b*P*D+i]) / float64(n)
			}
		}
		return out
	}
	free, _ := clampedRun(t, m, rows, nil, name)
	freeRef, _ := clampedRun(t, m, ref, nil, name)
	for _, tc := range []struct {
		src  Source
		want []float64
	}{
		{MeanBatch(), meanOf(free[name], len(rows))},
		{MeanRef(ref), meanOf(freeRef[name], len(ref))},
	} {
		got, _ := clampedRun(t, m, rows, []Clamp{{Hook: name, Value: tc.src}}, name)
		for b := range rows {
			for i := range P * D {
				require.InDelta(t, tc.want[i], got[name][b*P*D+i], 1e-6, "%s row %d entry %d", tc.src, b, i)
			}
		}
	}
}

func TestConstantAndGraft(t *testing.T) {
	m := tinyModel(t, 1)
	rows := testRows()
	H, P, K := m.Config.NHeads, len(rows[0]), m.Config.DHead

	// A constant pattern [H, P, P]: head h attends to key min(h, i).
	flat := make([]float32, H*P*P)
	for h := range H {
		for i := range P {
			flat[(h*P+i)*P+min(h, i)] = 1
		}
	}
	got, _ := clampedRun(t, m, rows, []Clamp{{Hook: hooks.Pattern(1), Value: Constant(tensors.FromFlatDataAndDimensions(flat, H, P, P))}}, hooks.Pattern(1))
	for b := range rows {
		require.Equal(t, flat, got[hooks.Pattern(1)][b*H*P*P:(b+1)*H*P*P])
	}

	// Grafting head 2's z from another model equals that model's own z there.
	ref := tinyModel(t, 7)
	tok, err := model.Tokens(rows)
	require.NoError(t, err)
	refZ := tensors.MustCopyFlatData[float32](ref.MustRun(tok, hooks.New().Cache(hooks.Z(1))).Cache.MustGet(hooks.Z(1)))
	free, _ := clampedRun(t, m, rows, nil, hooks.Z(1))
	got, _ = clampedRun(t, m, rows, []Clamp{{Hook: hooks.Z(1), Heads: []int{2}, Value: Graft(ref.Weights)}}, hooks.Z(1))
	for i, v := range got[hooks.Z(1)] {
		if h := i / K % H; h == 2 {
			require.InDelta(t, refZ[i], v, 1e-6, "entry %d", i)
		} else {
			require.Equal(t, free[hooks.Z(1)][i], v, "entry %d", i)
		}
	}

	// Grafting every activation of the model itself changes nothing.
	_, freeLogits := clampedRun(t, m, rows, nil)
	_, selfLogits := clampedRun(t, m, rows, []Clamp{{Hook: hooks.ResidPost(0), Value: Graft(m.Weights)}})
	require.InDeltaSlice(t, toF64(freeLogits), toF64(selfLogits), 1e-6)
}

func TestFuncSource(t *testing.T) {
	m := tinyModel(t, 1)
	rows := testRows()
	double := Func("double", func(x *graph.Node, _ []*graph.Node) *graph.Node { return graph.MulScalar(x, 2) })
	free, _ := clampedRun(t, m, rows, nil, hooks.AttnOut(1))
	got, _ := clampedRun(t, m, rows, []Clamp{{Hook: hooks.AttnOut(1), Value: double}}, hooks.AttnOut(1))
	for i, v := range free[hooks.AttnOut(1)] {
		require.InDelta(t, 2*v, got[hooks.AttnOut(1)][i], 1e-6)
	}
}

func toF64(xs []float32) []float64 {
	out := make([]float64, len(xs))
	for i, x := range xs {
		out[i] = float64(x)
	}
	return out
}

// TestClampStopsGradient trains with layer 0's pattern clamped (all heads, and then two heads):
// the query and key weights that only feed the clamped pattern get exactly zero gradient, so with
// no weight decay AdamW leaves them bit for bit unchanged, while the rest of the model trains.
func TestClampStopsGradient(t *testing.T) {
	cfg := tinyConfig(4)
	cfg.WeightDecay = 0
	task := inductionTask(t, 16, 15)
	changed := func(before, after *model.Weights, name string, head int) bool {
		a, b := before.Flat(name), after.Flat(name)
		n := len(a) / before.Config.NHeads
		if head >= 0 {
			a, b = a[head*n:(head+1)*n], b[head*n:(head+1)*n]
		}
		for i := range a {
			if a[i] != b[i] {
				return true
			}
		}
		return false
	}
	t.Run("all heads", func(t *testing.T) {
		m := tinyModel(t, 1)
		res, err := Run(context.Background(), m, task, cfg,
			Clamp{Hook: hooks.Pattern(0), Value: PrevToken()},
			Clamp{Hook: hooks.Z(1), Heads: []int{0}, Value: Zero()})
		require.NoError(t, err)
		for _, n := range []string{"W_Q", "W_K", "b_Q", "b_K"} {
			require.False(t, changed(m.Weights, res.Weights, "blocks.0.attn."+n, -1), "blocks.0.attn.%s changed", n)
		}
		for _, n := range []string{"blocks.0.attn.W_V", "blocks.0.attn.W_O", "blocks.1.attn.W_Q", "embed.W_E"} {
			require.True(t, changed(m.Weights, res.Weights, n, -1), "%s did not train", n)
		}
		// Head 0 of layer 1 writes nothing (its z is zero): its W_O gets no gradient.
		require.False(t, changed(m.Weights, res.Weights, "blocks.1.attn.W_O", 0))
		require.True(t, changed(m.Weights, res.Weights, "blocks.1.attn.W_O", 1))
	})
	t.Run("two heads", func(t *testing.T) {
		m := tinyModel(t, 1)
		res, err := Run(context.Background(), m, task, cfg, Clamp{Hook: hooks.Pattern(0), Heads: []int{0, 2}, Value: Uniform()})
		require.NoError(t, err)
		for h := range m.Config.NHeads {
			clamped := h == 0 || h == 2
			require.Equal(t, !clamped, changed(m.Weights, res.Weights, "blocks.0.attn.W_Q", h), "W_Q head %d", h)
			require.Equal(t, !clamped, changed(m.Weights, res.Weights, "blocks.0.attn.W_K", h), "W_K head %d", h)
		}
	})
}

func TestClampCheckErrors(t *testing.T) {
	c := model.AttnOnlyToy(2, 4, 32, 16, 16)
	cases := []struct {
		clamp Clamp
		want  string
	}{
		{Clamp{Hook: "blocks.0.attn.hook_patern", Value: Zero()}, "blocks.0.attn.hook_pattern"},
		{Clamp{Hook: hooks.Pattern(0), Heads: []int{4}, Value: Zero()}, "head 4 out of range (the model has 4 heads)"},
		{Clamp{Hook: hooks.Pattern(0), Positions: []int{15}, Value: Zero()}, "position 15 out of range (sequence length 15)"},
		{Clamp{Hook: hooks.AttnOut(0), Heads: []int{0}, Value: Zero()}, "has no head axis"},
		{Clamp{Hook: hooks.Z(0), Value: PrevToken()}, "prev-token is an attention pattern"},
		{Clamp{Hook: hooks.Pattern(0), Value: Constant(tensors.FromShape(tensors.FromScalar(float32(0)).Shape()))}, "const: value has shape []"},
		{Clamp{Hook: hooks.Pattern(0), Value: MeanRef([][]int{{1, 2}})}, "reference row 0 has 2 tokens"},
		{Clamp{Hook: hooks.Pattern(0)}, "no value source"},
	}
	for _, tc := range cases {
		err := tc.clamp.Check(c, 15)
		require.Error(t, err, "%s", tc.clamp)
		require.Contains(t, err.Error(), tc.want)
	}
	var unknown *hooks.UnknownHookError
	require.True(t, errors.As(cases[0].clamp.Check(c, 15), &unknown))
	require.Equal(t, "blocks.0.attn.hook_pattern", unknown.Close[0])
	_ = math.Abs
}
