package circuits

import "sort"

// ROCPoint is one point of a ROC curve: the false and true positive rates of the candidates
// scoring at least Threshold.
type ROCPoint struct {
	FPR       float64 `json:"fpr"`
	TPR       float64 `json:"tpr"`
	Threshold float64 `json:"threshold"`
}

// ROCCurve returns the ROC curve of scores against truth, from (0, 0) to (1, 1), one point per
// distinct score (highest first): tied candidates enter together, a diagonal step, so the area
// under the curve (trapezoids) is ROCAUC's ties-count-half value.
func ROCCurve(scores []float64, truth []bool) ([]ROCPoint, error) {
	if err := checkScored(scores, truth); err != nil {
		return nil, err
	}
	idx := make([]int, len(scores))
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(a, b int) bool { return scores[idx[a]] > scores[idx[b]] })
	var P, N float64
	for _, t := range truth {
		if t {
			P++
		} else {
			N++
		}
	}
	pts := []ROCPoint{{0, 0, scores[idx[0]] + 1}}
	var tp, fp float64
	for i := 0; i < len(idx); {
		j := i
		for j < len(idx) && scores[idx[j]] == scores[idx[i]] {
			if truth[idx[j]] {
				tp++
			} else {
				fp++
			}
			j++
		}
		pts = append(pts, ROCPoint{FPR: fp / N, TPR: tp / P, Threshold: scores[idx[i]]})
		i = j
	}
	return pts, nil
}
