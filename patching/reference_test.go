package patching

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/stretchr/testify/require"

	"github.com/interp-dev/interp/hooks"
	"github.com/interp-dev/interp/model"
)

// This file is the slow reference the batched engine is checked against: one full forward pass
// per patch, from the tokens, with a plain hooks.Set.Replace of a tensor built on the host, and
// the metrics computed on the host in float64. It shares no code with the engine beyond the
// model itself.

// refModel is a small random model whose weights are scaled up so that patches move the metric
// by clearly more than the test tolerance.
func refModel(t testing.TB, c model.Config, seed uint64, scale float32) *model.Model {
	t.Helper()
	w, err := model.NewRandomWeights(c, seed)
	require.NoError(t, err)
	for name, ts := range w.Tensors {
		if len(ts.Shape().Dimensions) == 1 && (hasSuffix(name, ".w")) {
			continue // LayerNorm scales stay 1
		}
		data := tensors.MustCopyFlatData[float32](ts)
		for i := range data {
			data[i] *= scale
		}
		w.Tensors[name] = tensors.FromFlatDataAndDimensions(data, ts.Shape().Dimensions...)
	}
	b, name := model.MustNewBackend("")
	m, err := model.New(w, b, name)
	require.NoError(t, err)
	return m
}

func hasSuffix(s, suf string) bool { return len(s) >= len(suf) && s[len(s)-len(suf):] == suf }

// refPrompts makes n random clean prompts of length P, corrupted copies with two tokens changed,
// random answers, and scored positions P-1 and P-2 alternating.
func refPrompts(n, P, vocab int, seed uint64) *Prompts {
	rng := rand.New(rand.NewPCG(seed, 1))
	p := &Prompts{}
	for i := range n {
		clean := make([]int, P)
		for j := range clean {
			clean[j] = rng.IntN(vocab)
		}
		corr := append([]int(nil), clean...)
		for _, j := range []int{rng.IntN(P - 1), rng.IntN(P - 1)} {
			corr[j] = (corr[j] + 1 + rng.IntN(vocab-1)) % vocab
		}
		p.Clean = append(p.Clean, clean)
		p.Corrupted = append(p.Corrupted, corr)
		a := rng.IntN(vocab)
		p.Answer = append(p.Answer, a)
		p.Wrong = append(p.Wrong, (a+1+rng.IntN(vocab-1))%vocab)
		p.Pos = append(p.Pos, P-1-i%2)
	}
	return p
}

// refMetric computes a built-in metric of one row's logits on the host.
func refMetric(name string, logits []float32, i int, p *Prompts, cleanLogits []float32) float64 {
	V := len(logits)
	lp := refLogSoftmax(logits)
	ans, wrong := []int{p.Answer[i]}, []int{p.Wrong[i]}
	if p.AnswerSets != nil {
		ans, wrong = p.AnswerSets[i], p.WrongSets[i]
	}
	meanLogit := func(set []int) float64 {
		var s float64
		for _, t := range set {
			s += float64(logits[t])
		}
		return s / float64(len(set))
	}
	prob := func(set []int) float64 {
		var s float64
		for _, t := range set {
			s += math.Exp(lp[t])
		}
		return s
	}
	switch name {
	case "logit_diff", "norm_logit_diff":
		return meanLogit(ans) - meanLogit(wrong)
	case "prob":
		return prob(ans)
	case "prob_diff":
		return prob(ans) - prob(wrong)
	case "loss":
		return -math.Log(prob(ans))
	case "kl":
		cl := refLogSoftmax(cleanLogits)
		var kl float64
		for v := range V {
			kl += math.Exp(cl[v]) * (cl[v] - lp[v])
		}
		return kl
	}
	panic("refMetric: unknown metric " + name)
}

func refLogSoftmax(x []float32) []float64 {
	top := math.Inf(-1)
	for _, v := range x {
		top = math.Max(top, float64(v))
	}
	var s float64
	for _, v := range x {
		s += math.Exp(float64(v) - top)
	}
	out := make([]float64, len(x))
	for i, v := range x {
		out[i] = float64(v) - top - math.Log(s)
	}
	return out
}

// refRun runs tokens with a hook set and returns the metric (mean over prompts).
func refRun(t testing.TB, m *model.Model, rows [][]int, set *hooks.Set, metric string, p *Prompts, cleanLogits []float32) float64 {
	t.Helper()
	tok, err := model.Tokens(rows)
	require.NoError(t, err)
	out, err := m.Run(tok, set)
	require.NoError(t, err)
	logits := tensors.MustCopyFlatData[float32](out.Logits)
	P, V := len(rows[0]), m.Config.DVocab
	var s float64
	for i := range rows {
		row := logits[(i*P+p.Pos[i])*V : (i*P+p.Pos[i]+1)*V]
		var cl []float32
		if cleanLogits != nil {
			cl = cleanLogits[(i*P+p.Pos[i])*V : (i*P+p.Pos[i]+1)*V]
		}
		s += refMetric(metric, row, i, p, cl)
	}
	return s / float64(len(rows))
}

// refCache runs rows and returns the named activation as flat data and its dims.
func refCache(t testing.TB, m *model.Model, rows [][]int, name string) ([]float32, []int) {
	t.Helper()
	tok, err := model.Tokens(rows)
	require.NoError(t, err)
	out, err := m.Run(tok, hooks.New().Cache(name))
	require.NoError(t, err)
	a := out.Cache.MustGet(name)
	return tensors.MustCopyFlatData[float32](a), a.Shape().Dimensions
}

// refSweep is the slow loop: for every layer and every variant of the setter, build the patched
// activation on the host (target values, source values where the variant's index matches) and
// run the whole model with Replace.
type refSetup struct {
	m           *model.Model
	p           *Prompts
	metric      string
	target      [][]int
	source      func(name string) []float32 // [N, S...] flat
	clean, corr float64
	cleanLogits []float32
}

func newRefSetup(t testing.TB, m *model.Model, p *Prompts, metric string, dir Direction) *refSetup {
	tok, err := model.Tokens(p.Clean)
	require.NoError(t, err)
	out, err := m.Run(tok, nil)
	require.NoError(t, err)
	r := &refSetup{m: m, p: p, metric: metric, cleanLogits: tensors.MustCopyFlatData[float32](out.Logits)}
	r.clean = refRun(t, m, p.Clean, nil, metric, p, r.cleanLogits)
	r.corr = refRun(t, m, p.Corrupted, nil, metric, p, r.cleanLogits)
	r.target, r.source = p.Corrupted, func(name string) []float32 { d, _ := refCache(t, m, p.Clean, name); return d }
	if dir == Noise {
		r.target, r.source = p.Clean, func(name string) []float32 { d, _ := refCache(t, m, p.Corrupted, name); return d }
	}
	return r
}

func (r *refSetup) norm(v float64, normalized bool) float64 {
	if !normalized {
		return v
	}
	return (v - r.corr) / (r.clean - r.corr)
}

// sweep returns the reference scores, layer-major over the setter's variants.
func (r *refSetup) sweep(t testing.TB, comp Component, s Setter, normalized bool) []float64 {
	var scores []float64
	for l := range r.m.Config.NLayers {
		name := comp.Hook(l)
		tgt, dims := refCache(t, r.m, r.target, name)
		src := r.source(name)
		act := dims[1:]
		size := len(tgt) / dims[0]
		for v := range s.variants(act) {
			coordWant := variantCoords(s, act, v)
			patched := append([]float32(nil), tgt...)
			for n := range dims[0] {
				for j := range size {
					if matches(s, act, j, coordWant) {
						patched[n*size+j] = src[n*size+j]
					}
				}
			}
			set := hooks.New().Replace(name, tensors.FromFlatDataAndDimensions(patched, dims...))
			scores = append(scores, r.norm(refRun(t, r.m, r.target, set, r.metric, r.p, r.cleanLogits), normalized))
		}
	}
	return scores
}

// variantCoords returns the index, per setter axis, of variant v (row-major over the axes).
func variantCoords(s Setter, act []int, v int) []int {
	c := make([]int, len(s.Index))
	for i := len(s.Index) - 1; i >= 0; i-- {
		d := act[s.Index[i].Dim]
		c[i] = v % d
		v /= d
	}
	return c
}

// matches reports whether flat element j of a per-prompt activation of shape act lies at the
// variant's indices.
func matches(s Setter, act []int, j int, want []int) bool {
	coord := make([]int, len(act))
	for i := len(act) - 1; i >= 0; i-- {
		coord[i] = j % act[i]
		j /= act[i]
	}
	for i, a := range s.Index {
		if coord[a.Dim] != want[i] {
			return false
		}
	}
	return true
}

func requireClose(t testing.TB, want, got []float64, tol float64, what string) {
	t.Helper()
	require.Equal(t, len(want), len(got), "%s: number of scores", what)
	for i := range want {
		if math.Abs(want[i]-got[i]) > tol*math.Max(1, math.Abs(want[i])) {
			t.Fatalf("%s: score %d: (-want +got) -%.6f +%.6f (tolerance %g)", what, i, want[i], got[i], tol)
		}
	}
}

// spread is max - min: equivalence tests also check that patches move the metric, so a test
// whose scores are all equal cannot pass by accident.
func spread(xs []float64) float64 {
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, x := range xs {
		lo, hi = math.Min(lo, x), math.Max(hi, x)
	}
	return hi - lo
}
