package train

import (
	"fmt"
	"slices"

	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/pkg/core/graph"
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
	diffs := make([]float64, rows)
	for i := range rows {
		at := logits[(i*pos+p.Pos[i])*v:]
		diffs[i] = float64(at[p.Answer[i]] - at[p.Wrong[i]])
	}
	return scoreOf(diffs), nil
}

// scoreOf is the score of prompts whose logit differences (answer - wrong) are diffs.
func scoreOf(diffs []float64) PairScore {
	n := len(diffs)
	s := PairScore{Pairs: n}
	for _, d := range diffs {
		s.LogitDiff += d / float64(n)
		if d > 0 {
			s.Accuracy += 1 / float64(n)
		}
	}
	return s
}

// pairsSeed draws the held-out prompts a run scores: a seed of their own, next to the run's.
func pairsSeed(runSeed uint64) uint64 { return runSeed + 1 }

// pairsScored is the number of held-out prompts a run scores at each evaluation.
const pairsScored = 100

// pairScorer scores a task's held-out prompts as ScorePairs does, compiled once for a run, with
// the run's clamps in place (the model being trained, as its training loss and its other progress
// measures see it) or, with a plan of no clamps, the weights alone. The prompts are padded at the
// end to the training rows' length (a padded position cannot change an earlier one's logits:
// attention is causal, and so is every prescribed pattern), so that clamps laid out for those rows
// fit them.
type pairScorer struct {
	exec   *graph.Exec
	pairs  *tasks.Pairs
	tokens *tensors.Tensor
	plan   *clampPlan
}

func newPairScorer(backend backends.Backend, c model.Config, plan *clampPlan, pos int, task PairsTask, name string, seed uint64) (*pairScorer, error) {
	p, err := task.Pairs(pairsSeed(seed), pairsScored)
	if err != nil {
		return nil, fmt.Errorf("train: %s prompts: %w", name, err)
	}
	n, plen := len(p.Clean), len(p.Clean[0])
	if plen > pos && len(plan.clamps) == 0 {
		pos = plen // nothing is laid out for the training rows
	}
	if plen > pos {
		return nil, fmt.Errorf("train: %s: its prompts have %d tokens, more than the %d of a training row, so they cannot be scored with the clamps, which are laid out for training rows", name, plen, pos)
	}
	rows := make([][]int, n)
	for i, r := range p.Clean {
		rows[i] = slices.Clone(r)
		for len(rows[i]) < pos {
			rows[i] = append(rows[i], tasks.BOS)
		}
	}
	tokens, err := model.Tokens(plan.withRefRows(rows))
	if err != nil {
		return nil, err
	}
	// (row, answer) then (row, wrong) for each prompt, indexing the logits as [N*P, V].
	idx := make([]int32, 0, 4*n)
	for i := range n {
		idx = append(idx, int32(i*pos+p.Pos[i]), int32(p.Answer[i]))
	}
	for i := range n {
		idx = append(idx, int32(i*pos+p.Pos[i]), int32(p.Wrong[i]))
	}
	exec, err := graph.NewExec(backend, func(in []*graph.Node) *graph.Node {
		logits, _ := plan.forwardInputs(in, n)
		flat := graph.Reshape(graph.SliceAxis(logits, 0, graph.AxisRange(0, n)), n*pos, c.DVocab)
		return graph.Gather(flat, graph.ConstTensor(in[0].Graph(), tensors.FromFlatDataAndDimensions(idx, 2*n, 2))) // [2n]
	})
	if err != nil {
		return nil, fmt.Errorf("train: compile the scoring of %s: %w", name, err)
	}
	return &pairScorer{exec: exec, pairs: p, tokens: tokens, plan: plan}, nil
}

// score scores the weights params (in ParamSpecs order), with the scorer's clamps if it has any.
func (cp *pairScorer) score(params []*tensors.Tensor) (*PairScore, error) {
	out, err := cp.exec.Exec1(cp.plan.forwardArgs(cp.tokens, params)...)
	if err != nil {
		return nil, fmt.Errorf("train: scoring held-out prompts: %w", err)
	}
	defer out.FinalizeAll()
	picked := tensors.MustCopyFlatData[float32](out) // answers, then wrong answers
	n := len(cp.pairs.Clean)
	diffs := make([]float64, n)
	for i := range n {
		diffs[i] = float64(picked[i] - picked[n+i])
	}
	s := scoreOf(diffs)
	return &s, nil
}
