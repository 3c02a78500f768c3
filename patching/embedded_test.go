package patching_test

import (
	"testing"

	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/stretchr/testify/require"

	"github.com/interp-dev/interp/heads"
	"github.com/interp-dev/interp/hooks"
	"github.com/interp-dev/interp/model"
	"github.com/interp-dev/interp/patching"
	"github.com/interp-dev/interp/tasks"
)

// These tests run on the embedded trained models (induction-2l, induction-2l-qcomp, ioi-toy) and skip, saying so,
// where a build does not have them.

func embeddedExperiment(t *testing.T, name, task string, opt patching.Options) (*model.Model, *patching.Experiment, *tasks.Pairs) {
	t.Helper()
	w, _, err := model.LoadAny(name)
	if err != nil {
		t.Skipf("embedded model %s not available: %v", name, err)
	}
	b, bn := model.MustNewBackend("")
	m, err := model.New(w, b, bn)
	require.NoError(t, err)
	// Sequences as long as the model's context: a model trained on one length may rely on
	// positions (induction-2l-qcomp fails on shorter repeats).
	tk, err := tasks.New(task, tasks.Options{Vocab: m.Config.DVocab, SeqLen: m.Config.NCtx})
	require.NoError(t, err)
	pr, err := tk.Pairs(0, 20)
	require.NoError(t, err)
	p := &patching.Prompts{Clean: pr.Clean, Corrupted: pr.Corrupted, Answer: pr.Answer, Wrong: pr.Wrong, Pos: pr.Pos}
	e, err := patching.NewExperiment(m, p, patching.NormLogitDiff(), opt)
	require.NoError(t, err)
	return m, e, pr
}

// TestInduction2LQCompHeads: patching picks out the heads the detector (interp heads) finds in
// induction-2l-qcomp. The model's circuit is a layer-0 duplicate-token head feeding layer-1 induction
// heads: noising or mean-ablating the detector's top duplicate-token head destroys the behaviour
// most, and the four most important heads are detected duplicate-token heads or layer-1 heads the
// detector scores as induction heads (at least two of those).
func TestInduction2LQCompHeads(t *testing.T) {
	m, e, _ := embeddedExperiment(t, "induction-2l-qcomp", "induction", patching.Options{Direction: patching.Noise})
	s, err := heads.Compute(m, heads.RepeatedTokens(0, 16, (m.Config.NCtx-1)/2, m.Config.DVocab), heads.Options{})
	require.NoError(t, err)
	dupTop := s.Top(heads.DuplicateToken, 1)[0]
	dup := patching.Head{Layer: dupTop.Layer, Head: dupTop.Head}
	induction := s.Of(heads.Induction)

	r, err := e.HeadOutAllPos()
	require.NoError(t, err)
	low := ranked(r)
	t.Logf("noising: most important %v (%.3f), then %v %v %v; detector: duplicate-token %v, induction scores %v",
		low[0], r.At(low[0].Layer, low[0].Head), low[1], low[2], low[3], dupTop, induction)
	require.Equal(t, dup, low[0])
	require.Less(t, r.At(dup.Layer, dup.Head), 0.5)
	dups := map[patching.Head]bool{}
	for _, h := range s.Top(heads.DuplicateToken, 3) {
		dups[patching.Head{Layer: h.Layer, Head: h.Head}] = true
	}
	layer1 := 0
	for _, h := range low[:4] {
		isInduction := h.Layer == 1 && induction[h.Layer][h.Head] > 0.15
		require.True(t, dups[h] || isInduction, "head %v is neither a detected duplicate-token head nor a layer-1 induction head", h)
		if isInduction {
			layer1++
		}
	}
	require.GreaterOrEqual(t, layer1, 2, "induction heads among the four most important")

	_, e, _ = embeddedExperiment(t, "induction-2l-qcomp", "induction", patching.Options{Ablation: patching.MeanAblation})
	r, err = e.HeadOutAllPos()
	require.NoError(t, err)
	require.Equal(t, dup, ranked(r)[0], "mean ablation")
}

// TestIOIToyNameMovers: the two heads whose clean outputs restore the logit difference most move
// name information: at the scored position of the clean prompts they attend almost only to the
// names. (The trained ioi-toy attends to the subject and suppresses it rather than copying the
// indirect object; the test holds either way.)
func TestIOIToyNameMovers(t *testing.T) {
	m, e, pr := embeddedExperiment(t, "ioi-toy", "ioi", patching.Options{})
	r, err := e.HeadOutAllPos()
	require.NoError(t, err)
	top := ranked(r)
	top = []patching.Head{top[len(top)-1], top[len(top)-2]}
	require.Greater(t, r.At(top[0].Layer, top[0].Head), 0.1)

	for _, h := range top {
		tok, err := model.Tokens(pr.Clean)
		require.NoError(t, err)
		out, err := m.Run(tok, hooks.New().Cache(hooks.Pattern(h.Layer)))
		require.NoError(t, err)
		pat := tensors.MustCopyFlatData[float32](out.Cache.MustGet(hooks.Pattern(h.Layer))) // [N, H, P, P]
		H, P := m.Config.NHeads, len(pr.Clean[0])
		var toIO, toS float64
		for i, row := range pr.Clean {
			q := pr.Pos[i]
			for k := 0; k <= q; k++ {
				a := float64(pat[((i*H+h.Head)*P+q)*P+k])
				switch row[k] {
				case pr.Answer[i]:
					toIO += a
				case pr.Wrong[i]:
					toS += a
				}
			}
		}
		n := float64(len(pr.Clean))
		t.Logf("head %v: denoising score %.3f; attention from the scored position to IO %.3f, to S %.3f (mean over prompts)",
			h, r.At(h.Layer, h.Head), toIO/n, toS/n)
		require.Greater(t, (toIO+toS)/n, 0.8, "head %v should attend to the names", h)
	}
}

// TestInduction2LKComposition: the embedded induction-2l has the textbook circuit, a
// previous-token head in layer 0 read by the layer-1 induction heads' keys (K-composition).
// Noising the detector's top previous-token head along its path into every layer-1 head's keys
// must cost a large share of the clean logit difference, and more than the same path into their
// queries.
func TestInduction2LKComposition(t *testing.T) {
	m, e, _ := embeddedExperiment(t, "induction-2l", tasks.InductionFresh, patching.Options{Direction: patching.Noise})
	s, err := heads.Compute(m, heads.RepeatedTokens(0, 16, (m.Config.NCtx-1)/2, m.Config.DVocab), heads.Options{})
	require.NoError(t, err)
	prev := s.Top(heads.PrevToken, 1)[0]
	require.Equal(t, 0, prev.Layer, "top previous-token head %v", prev)
	var layer1 []patching.Head
	for h := range m.Config.NHeads {
		layer1 = append(layer1, patching.Head{Layer: 1, Head: h})
	}
	score := map[patching.Component]float64{}
	for _, in := range []patching.Component{patching.K, patching.Q} {
		r, err := e.PathPatch(patching.Receivers{Heads: layer1, Inputs: []patching.Component{in}}, patching.PathOptions{})
		require.NoError(t, err)
		score[in] = r.At(prev.Layer, prev.Head)
	}
	// Normalised logit difference: 1 is the clean run, 0 the corrupted one.
	t.Logf("previous-token head %v noised along its path into layer 1: via keys %.3f, via queries %.3f", prev, score[patching.K], score[patching.Q])
	require.Less(t, score[patching.K], 0.75, "the path into the keys should carry the behaviour")
	require.Less(t, score[patching.K], score[patching.Q]-0.1, "keys should matter more than queries (K-composition)")
}
