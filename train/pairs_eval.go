package train

import (
	"github.com/gomlx/gomlx/pkg/core/tensors"

	"github.com/interp-dev/interp/model"
	"github.com/interp-dev/interp/tasks"
)

// PairScore is how a model does on a task's clean prompts: the progress measure of IOI-like
// tasks (a correct and a wrong answer per prompt), where the induction measures mean nothing.
type PairScore struct {
	// Pairs is the number of prompts scored.
	Pairs int `json:"pairs"`
	// Accuracy is the fraction of prompts whose answer logit beats the wrong one.
	Accuracy float64 `json:"accuracy"`
	// LogitDiff is the mean of logit[answer] - logit[wrong] at the scored position.
	LogitDiff float64 `json:"logit_diff"`
}

// InductionMeasured reports whether the induction measures (in-context loss, head scores, the
// phase change) are the progress measures of the task called name; the other tasks are scored
// with ScorePairs.
func InductionMeasured(name string) bool { return name == "induction" || name == tasks.InductionFresh }

// PairsTask is a task that makes clean/corrupted pairs (every tasks.Task does).
type PairsTask interface {
	Pairs(seed uint64, n int) (*tasks.Pairs, error)
}

// ScorePairs scores m on n clean prompts of t (drawn with seed).
func ScorePairs(m *model.Model, t PairsTask, n int, seed uint64) (PairScore, error) {
	p, err := t.Pairs(seed, n)
	if err != nil {
		return PairScore{}, err
	}
	tokens, err := model.Tokens(p.Clean)
	if err != nil {
		return PairScore{}, err
	}
	out, err := m.Run(tokens, nil)
	if err != nil {
		return PairScore{}, err
	}
	logits := tensors.MustCopyFlatData[float32](out.Logits) // [N, P, V]
	rows, pos, v := len(p.Clean), len(p.Clean[0]), m.Config.DVocab
	s := PairScore{Pairs: rows}
	for i := range rows {
		at := logits[(i*pos+p.Pos[i])*v:]
		d := float64(at[p.Answer[i]] - at[p.Wrong[i]])
		s.LogitDiff += d / float64(rows)
		if d > 0 {
			s.Accuracy += 1 / float64(rows)
		}
	}
	return s, nil
}
