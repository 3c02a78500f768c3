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
