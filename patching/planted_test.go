package patching_test

import (
	"slices"
	"sort"
	"testing"

	"github.com/stretchr/testify/require"

	_ "github.com/interp-dev/interp/circuits" // registers the planted-circuit models
	"github.com/interp-dev/interp/heads"
	"github.com/interp-dev/interp/model"
	"github.com/interp-dev/interp/patching"
	"github.com/interp-dev/interp/tasks"
)

// These tests run the engine on models whose circuits are known by construction (circuits/'s
// planted models, hand-set weights), so the heads patching must pick out are known:
// planted-induction has previous-token head 0.2 and induction head 1.1; planted-ioi has
// duplicate-token head 0.1, S-inhibition head 1.2 and name movers 2.0 and 2.3.

func plantedExperiment(t *testing.T, name, task string, opt patching.Options) (*model.Model, *patching.Experiment) {
	t.Helper()
	w, _, err := model.LoadAny(name)
	require.NoError(t, err)
	b, bn := model.MustNewBackend("")
	m, err := model.New(w, b, bn)
	require.NoError(t, err)
	tk, err := tasks.New(task, tasks.Options{Vocab: m.Config.DVocab, SeqLen: min(m.Config.NCtx, 32)})
	require.NoError(t, err)
	pr, err := tk.Pairs(0, 20)
	require.NoError(t, err)
	p := &patching.Prompts{Clean: pr.Clean, Corrupted: pr.Corrupted, Answer: pr.Answer, Wrong: pr.Wrong, Pos: pr.Pos}
	e, err := patching.NewExperiment(m, p, patching.NormLogitDiff(), opt)
	require.NoError(t, err)
	return m, e
}

// ranked returns the heads of a [layer, head] result ordered by score, ascending.
func ranked(r *patching.Result) []patching.Head {
	var hs []patching.Head
	for l := range r.Dims()[0] {
		for h := range r.Dims()[1] {
			hs = append(hs, patching.Head{Layer: l, Head: h})
		}
	}
	sort.SliceStable(hs, func(i, j int) bool { return r.At(hs[i].Layer, hs[i].Head) < r.At(hs[j].Layer, hs[j].Head) })
	return hs
}

func TestPlantedInductionHeads(t *testing.T) {
	prev, ind := patching.Head{Layer: 0, Head: 2}, patching.Head{Layer: 1, Head: 1}
	m, e := plantedExperiment(t, "planted-induction", "induction", patching.Options{})

	// The head detector (interp heads) finds the same two heads.
	s, err := heads.Compute(m, heads.RepeatedTokens(0, 8, 10, m.Config.DVocab), heads.Options{})
	require.NoError(t, err)
	require.Equal(t, []int{prev.Layer, prev.Head}, []int{s.Top(heads.PrevToken, 1)[0].Layer, s.Top(heads.PrevToken, 1)[0].Head})
	require.Equal(t, []int{ind.Layer, ind.Head}, []int{s.Top(heads.Induction, 1)[0].Layer, s.Top(heads.Induction, 1)[0].Head})

	// Denoising: the induction head's clean output alone restores the answer.
	r, err := e.HeadOutAllPos()
	require.NoError(t, err)
	top := ranked(r)
	require.Equal(t, ind, top[len(top)-1])
	require.Greater(t, r.At(1, 1), 0.9)
	require.Less(t, r.At(top[len(top)-2].Layer, top[len(top)-2].Head), 0.1)
	attr, err := e.Attribute(patching.Z, patching.LayerHeadSetter)
	require.NoError(t, err)
	require.Greater(t, patching.Correlation(r.Scores, attr.Scores), 0.99)

	// The corruption leaves the first half (where the previous-token head writes the keys the
	// induction head reads) unchanged, so only ablation shows the previous-token head: mean
	// ablation of either head destroys the behaviour, of any other head does not.
	_, e = plantedExperiment(t, "planted-induction", "induction", patching.Options{Ablation: patching.MeanAblation})
	r, err = e.HeadOutAllPos()
	require.NoError(t, err)
	low := ranked(r)
	require.ElementsMatch(t, []patching.Head{prev, ind}, low[:2])
	require.Less(t, r.At(0, 2), 0.1)
	require.Less(t, r.At(1, 1), 0.1)
	require.Greater(t, r.At(low[2].Layer, low[2].Head), 0.9)

	// Path patching to the logits (noising, as Wang et al.): only the induction head writes to them.
	_, e = plantedExperiment(t, "planted-induction", "induction", patching.Options{Direction: patching.Noise})
	r, err = e.PathPatch(patching.Receivers{Logits: true}, patching.PathOptions{})
	require.NoError(t, err)
	require.Equal(t, ind, ranked(r)[0])
	require.Less(t, r.At(1, 1), 0.1)
}

func TestPlantedIOIHeads(t *testing.T) {
	nm := []patching.Head{{Layer: 2, Head: 0}, {Layer: 2, Head: 3}}
	dup, sinh := patching.Head{Layer: 0, Head: 1}, patching.Head{Layer: 1, Head: 2}

	// Denoising head outputs: the name movers carry the answer.
	_, e := plantedExperiment(t, "planted-ioi", "ioi", patching.Options{})
	r, err := e.HeadOutAllPos()
	require.NoError(t, err)
	top := ranked(r)
	require.ElementsMatch(t, nm, top[len(top)-2:])
	require.InDelta(t, 1, r.At(2, 0)+r.At(2, 3), 0.05, "the two name movers share the logit difference")

	// Noising: every circuit head matters, the duplicate-token and S-inhibition heads most.
	_, e = plantedExperiment(t, "planted-ioi", "ioi", patching.Options{Direction: patching.Noise})
	r, err = e.HeadOutAllPos()
	require.NoError(t, err)
	low := ranked(r)
	require.ElementsMatch(t, []patching.Head{dup, sinh}, low[:2])
	require.ElementsMatch(t, nm, low[2:4])
	require.Greater(t, r.At(low[4].Layer, low[4].Head), 0.99)

	// Path patching into the name movers' queries (Wang et al.'s S-inhibition finding): the
	// S-inhibition head is the sender that matters, and the duplicate-token head acts through it.
	r, err = e.PathPatch(patching.Receivers{Heads: nm, Inputs: []patching.Component{patching.Q}}, patching.PathOptions{})
	require.NoError(t, err)
	low = ranked(r)
	require.True(t, slices.Contains(low[:2], sinh), "S-inhibition among the two strongest senders: %v", low[:3])
	require.Less(t, r.At(1, 2), 0.5)
}
