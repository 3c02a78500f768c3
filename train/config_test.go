package train

import (
	"math"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestLRSchedule(t *testing.T) {
	c := DefaultConfig()
	c.Steps, c.WarmupSteps, c.LR, c.MinLR = 110, 10, 1e-3, 0.1
	cases := []struct {
		step int
		want float64
	}{
		{0, 1e-4}, {4, 5e-4}, {9, 1e-3}, // warmup: LR*(s+1)/W
		{10, 1e-3}, // cosine starts at LR
		{59, 1e-3 * (0.1 + 0.9*0.5*(1+math.Cos(math.Pi*49/99)))}, // midway
		{109, 1e-4}, // ends at MinLR*LR
	}
	for _, tc := range cases {
		require.InDelta(t, tc.want, c.LRAt(tc.step), 1e-12, "step %d", tc.step)
	}
}

func TestConfigValidate(t *testing.T) {
	require.NoError(t, DefaultConfig().Validate())
	bad := DefaultConfig()
	bad.Beta2 = 1
	require.ErrorContains(t, bad.Validate(), "beta2")
	bad = DefaultConfig()
	bad.MinLR = 2
	require.ErrorContains(t, bad.Validate(), "min_lr")
}

func TestDetectPhaseChange(t *testing.T) {
	// A sigmoid drop of the loss from 4 to 0.5 centred at step 1000, sampled every 50 steps.
	var steps []int
	var loss []float64
	for s := 50; s <= 3000; s += 50 {
		steps = append(steps, s)
		loss = append(loss, 0.5+3.5/(1+math.Exp(float64(s-1000)/60)))
	}
	pc := DetectPhaseChange(steps, loss)
	require.True(t, pc.Found)
	require.InDelta(t, 1000, pc.Step, 50)
	require.Less(t, pc.Slope, -0.005)
	require.InDelta(t, 3.5, pc.Drop, 0.1)

	// A plateau with a small wobble (0.1 nats) is no phase change.
	wobble := make([]float64, len(steps))
	for i := range wobble {
		wobble[i] = 4.1 - 0.1*float64(i)/float64(len(steps))
	}
	require.False(t, DetectPhaseChange(steps, wobble).Found)

	require.False(t, DetectPhaseChange(steps[:2], loss[:2]).Found)
	flat := make([]float64, len(steps))
	for i := range flat {
		flat[i] = 4
	}
	require.False(t, DetectPhaseChange(steps, flat).Found)
}
