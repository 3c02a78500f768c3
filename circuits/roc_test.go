package circuits

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestROCCurveAreaIsROCAUC checks that the trapezoid area under the curve is the midrank AUC, with
// and without ties, and the curve's ends and monotonicity.
func TestROCCurveAreaIsROCAUC(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for trial := range 50 {
		n := 3 + rng.IntN(30)
		scores, truth := make([]float64, n), make([]bool, n)
		for i := range n {
			scores[i] = float64(rng.IntN(1 + trial%7)) // few distinct values: many ties
			if trial%2 == 1 {
				scores[i] = rng.Float64()
			}
			truth[i] = rng.IntN(3) == 0
		}
		truth[0], truth[1] = true, false
		pts, err := ROCCurve(scores, truth)
		require.NoError(t, err)
		auc, err := ROCAUC(scores, truth)
		require.NoError(t, err)
		area := 0.0
		for i := 1; i < len(pts); i++ {
			require.GreaterOrEqual(t, pts[i].FPR, pts[i-1].FPR)
			require.GreaterOrEqual(t, pts[i].TPR, pts[i-1].TPR)
			require.Less(t, pts[i].Threshold, pts[i-1].Threshold)
			area += (pts[i].FPR - pts[i-1].FPR) * (pts[i].TPR + pts[i-1].TPR) / 2
		}
		require.Equal(t, ROCPoint{0, 0, pts[0].Threshold}, pts[0])
		last := pts[len(pts)-1]
		require.Equal(t, [2]float64{1, 1}, [2]float64{last.FPR, last.TPR})
		require.InDelta(t, auc, area, 1e-12*float64(n), "trial %d", trial)
	}
	_, err := ROCCurve([]float64{1, 2}, []bool{true, true})
	require.Error(t, err)
	_, err = ROCCurve([]float64{math.NaN(), 2}, []bool{true, false})
	require.Error(t, err)
}
