package train

import (
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/tensors"

	"github.com/interp-dev/interp/heads"
	"github.com/interp-dev/interp/hooks"
	"github.com/interp-dev/interp/model"
)

// evalRows is the size of the fixed evaluation batch.
const evalRows = 32

// evalSet is the fixed, seeded evaluation batch of repeated random tokens and the compiled
// forward pass that measures it: the clamped model (the model being trained), caching every
// layer's hook_pattern.
//
// A row is heads.RepeatedTokens's [BOS, t1..tL, t1..tL] with L = (P-1)/2 for the training
// sequence length P (plus one random token at the end when P is even, so the clamps' shapes fit).
// The first-half loss is the mean loss of predicting t2..tL (positions 2..L), the repeated-half
// loss that of predicting the repeat's t2..tL (positions L+2..2L): the first token of each half
// cannot be predicted from context and is left out of both.
type evalSet struct {
	exec   *graph.Exec
	rows   [][]int // [evalRows][P], without reference rows
	tokens *tensors.Tensor
	half   int
	plan   *clampPlan
	layers int
}

func newEvalSet(backend backends.Backend, c model.Config, seed uint64, pos int, plan *clampPlan) (*evalSet, error) {
	half := (pos - 1) / 2
	if half < 2 {
		return nil, fmt.Errorf("train: evaluation needs sequences of at least 5 tokens, got %d", pos)
	}
	rows := heads.RepeatedTokens(seed^0x6576616c, evalRows, half, c.DVocab) // "eval"
	if pos%2 == 0 {
		rng := rand.New(rand.NewPCG(seed, 0x6576616c))
		for i := range rows {
			rows[i] = append(rows[i], 1+rng.IntN(c.DVocab-1))
		}
	}
	tok, err := model.Tokens(plan.withRefRows(rows))
	if err != nil {
		return nil, err
	}
	e := &evalSet{rows: rows, tokens: tok, half: half, plan: plan, layers: c.NLayers}
	var names []string
	for l := range c.NLayers {
		names = append(names, hooks.Pattern(l))
	}
	exec, err := graph.NewExec(backend, func(in []*graph.Node) []*graph.Node {
		tokens := in[0]
		logits, outs := plan.forwardInputs(in, evalRows, names...)
		logp := tokenLogProbs(logits, tokens)                                                          // [N, P-1]
		loss := graph.Neg(graph.ReduceMean(graph.SliceAxis(logp, 0, graph.AxisRange(0, evalRows)), 0)) // [P-1]
		res := []*graph.Node{loss}
		for _, pat := range outs.Nodes {
			res = append(res, graph.SliceAxis(pat, 0, graph.AxisRange(0, evalRows))) // [E, H, P, P]
		}
		return res
	})
	if err != nil {
		return nil, fmt.Errorf("train: compile evaluation: %w", err)
	}
	e.exec = exec
	return e, nil
}

// evalResult holds the progress measures of one evaluation.
type evalResult struct {
	Loss, FirstHalf, Repeated float64
	Scores                    *heads.Scores
}

func (e *evalSet) run(params []*tensors.Tensor) (*evalResult, error) {
	outs, err := e.exec.Exec(e.plan.forwardArgs(e.tokens, params)...)
	if err != nil {
		return nil, fmt.Errorf("train: evaluation: %w", err)
	}
	defer func() {
		for _, o := range outs {
			o.FinalizeAll()
		}
	}()
	perPos := tensors.MustCopyFlatData[float32](outs[0]) // [P-1]: loss of predicting token p+1
	mean := func(from, to int) float64 {                 // tokens [from, to]
		s := 0.0
		for t := from; t <= to; t++ {
			s += float64(perPos[t-1])
		}
		return s / float64(to-from+1)
	}
	r := &evalResult{
		Loss:      mean(1, len(perPos)),
		FirstHalf: mean(2, e.half),
		Repeated:  mean(e.half+2, 2*e.half),
	}
	r.Scores, err = heads.FromPatterns(outs[1:], e.rows, heads.Options{})
	if err != nil {
		return nil, err
	}
	return r, nil
}

// PhaseChangeMinDrop is the least fall (in nats) of the smoothed repeated-half loss, from its
// highest point to its lowest point after it, that counts as a phase change. One nat: in the
// induction study a model with layer 0 zeroed (which cannot form induction heads) still lowers the
// repeated-half loss by 0.3-0.4 nats with one-layer "tokens seen in context recur" statistics,
// while induction heads' formation lowers it by 2-3 nats.
const PhaseChangeMinDrop = 1.0

// PhaseChange is the step where the repeated-half loss falls fastest.
//
// Definition: take the repeated-half loss at the evaluation steps, smooth it with a centred moving
// average over 5 evaluations (fewer at the ends), and compute the slope between consecutive
// smoothed points, (s[i+1]-s[i]) / (step[i+1]-step[i]). The phase change is at the midpoint of
// the interval with the most negative slope. Found is false with fewer than 3 evaluations, or
// when the smoothed loss never falls PhaseChangeMinDrop below an earlier (raw) value (a plateau's noise is no phase change);
// Drop is that fall either way.
type PhaseChange struct {
	Step  int     `json:"step"`
	Slope float64 `json:"slope_per_step"` // the smoothed loss's fastest fall (negative)
	Drop  float64 `json:"drop"`           // the smoothed loss's largest fall, in nats
	Found bool    `json:"found"`
}

// DetectPhaseChange applies PhaseChange's definition to a loss curve sampled at steps.
func DetectPhaseChange(steps []int, loss []float64) PhaseChange {
	n := len(steps)
	if n < 3 || len(loss) != n {
		return PhaseChange{}
	}
	const half = 2 // window 5
	smooth := make([]float64, n)
	for i := range n {
		lo, hi := max(i-half, 0), min(i+half, n-1)
		s := 0.0
		for j := lo; j <= hi; j++ {
			s += loss[j]
		}
		smooth[i] = s / float64(hi-lo+1)
	}
	best := PhaseChange{Slope: math.Inf(1)}
	peak := loss[0] // the raw curve: at the ends the smoothing window is short and shaves the peak
	for i := range n - 1 {
		slope := (smooth[i+1] - smooth[i]) / float64(steps[i+1]-steps[i])
		if slope < best.Slope {
			best.Step, best.Slope = (steps[i]+steps[i+1])/2, slope
		}
		peak = max(peak, loss[i])
		best.Drop = max(best.Drop, peak-smooth[i+1])
	}
	best.Found = best.Slope < 0 && best.Drop >= PhaseChangeMinDrop
	if !best.Found {
		best.Step, best.Slope = 0, 0
	}
	return best
}
