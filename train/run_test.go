package train

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestRunLossFalls(t *testing.T) {
	m := tinyModel(t, 1)
	res, err := Run(context.Background(), m, inductionTask(t, 16, 15), tinyConfig(30))
	require.NoError(t, err)
	require.Equal(t, 30, res.Steps)
	require.Len(t, res.Evals, 6)
	first, last := res.Evals[0], res.Evals[len(res.Evals)-1]
	t.Logf("loss %.4f -> %.4f, repeated half %.4f -> %.4f, %v", first.Loss, last.Loss, first.RepeatedHalfLoss, last.RepeatedHalfLoss, res.Elapsed)
	require.Less(t, last.EvalLoss, first.EvalLoss)
}

// TestMeanLoss checks metrics' mean_loss: evaluated every step it is that step's loss, and every
// 5 steps it is the mean of those 5 steps' losses (the same seeded run twice).
func TestMeanLoss(t *testing.T) {
	m := tinyModel(t, 1)
	cfg := tinyConfig(10)
	cfg.EvalEvery = 1
	each, err := Run(context.Background(), m, inductionTask(t, 16, 15), cfg)
	require.NoError(t, err)
	require.Len(t, each.Evals, 10)
	for _, e := range each.Evals {
		require.Equal(t, e.Loss, e.MeanLoss, "step %d", e.Step)
	}
	cfg.EvalEvery = 5
	five, err := Run(context.Background(), tinyModel(t, 1), inductionTask(t, 16, 15), cfg)
	require.NoError(t, err)
	require.Len(t, five.Evals, 2)
	for i, e := range five.Evals {
		want := 0.0
		for _, s := range each.Evals[5*i : 5*i+5] {
			want += s.Loss
		}
		want /= 5
		// The two runs are the same computation, so the losses agree to float64 summation order.
		require.InDelta(t, want, e.MeanLoss, 1e-12, "step %d", e.Step)
		require.Equal(t, each.Evals[5*i+4].Loss, e.Loss, "step %d", e.Step)
	}
}
