package transcoder

import (
	"math"
	"testing"

	"github.com/gomlx/gomlx/pkg/core/tensors"

	"github.com/interp-dev/interp/hooks"
	"github.com/interp-dev/interp/model"
	"github.com/interp-dev/interp/sae"
)

func maxAbsDiff(a, b *tensors.Tensor) float64 {
	x, y := tensors.MustCopyFlatData[float32](a), tensors.MustCopyFlatData[float32](b)
	var d float64
	for i := range x {
		d = max(d, math.Abs(float64(x[i]-y[i])))
	}
	return d
}

// Replacing the planted MLPs by their exact transcoders leaves the logits unchanged; replacing
// them by random transcoders changes them, unless the error term is added back.
func TestReplace(t *testing.T) {
	p := newPlanted(t)
	tokens, _ := model.Tokens([][]int{{5, 9, 200, 31, 7, 400, 1, 2}, {3, 3, 3, 100, 101, 102, 103, 104}})
	clean := p.m.MustRun(tokens, nil).Logits
	run := func(ts []*sae.SAE, withError bool) *tensors.Tensor {
		set := hooks.New()
		if err := Replace(set, p.m.Config, ts, withError); err != nil {
			t.Fatal(err)
		}
		return p.m.MustRun(tokens, set).Logits
	}
	exact := []*sae.SAE{p.exact(t, 0), p.exact(t, 1)}
	if d := maxAbsDiff(clean, run(exact, false)); d > 1e-4 {
		t.Errorf("exact transcoders: logits differ from clean by %g", d)
	}
	var random []*sae.SAE
	for l := range 2 {
		c, _ := NewConfig(p.m.Config, Spec{Layer: l, Arch: sae.ReLU, DSAE: 16, Skip: l == 1})
		s, err := sae.NewRandom(c, p.m.Backend, sae.InitOptions{Seed: uint64(l), DecoderNorm: 1})
		if err != nil {
			t.Fatal(err)
		}
		random = append(random, s)
	}
	if d := maxAbsDiff(clean, run(random, false)); d < 1e-2 {
		t.Errorf("random transcoders: logits differ from clean by only %g", d)
	}
	if d := maxAbsDiff(clean, run(random, true)); d > 1e-4 {
		t.Errorf("random transcoders with the error term: logits differ from clean by %g", d)
	}
	// Only layer 0 replaced, exactly: still clean.
	if d := maxAbsDiff(clean, run(exact[:1], false)); d > 1e-4 {
		t.Errorf("exact layer-0 transcoder: logits differ from clean by %g", d)
	}
	if err := Replace(hooks.New(), p.m.Config, []*sae.SAE{exact[0], exact[0]}, false); err == nil {
		t.Error("two transcoders on one layer: no error")
	}
}

// On ioi-toy (real attention), the attribution of a logit difference to every upstream
// component (heads per source position, transcoder features, errors, embeddings, biases) sums
// to the logit difference, with random transcoders (the error nodes absorb what they miss).
//
// The same on a Llama-style model (RMSNorm, rotary, grouped-query attention, a gated MLP the
// transcoder replaces) and a Pythia-style one (parallel residual: a layer's MLP reads its
// resid_pre), random weights scaled up so that the paths carry signal. And on the layouts with
// norms after attention and the MLP: Gemma-2-style (norms before and after, soft-capped scores and
// logits, scaled embeddings; a logit target is the logit before the cap) and OLMo-2-style (norms
// after only, q/k norms over the projection).

func TestAttributionComplete(t *testing.T) {
	w, _, err := model.LoadAny("ioi-toy")
	if err != nil {
		t.Fatal(err)
	}
	t.Run("ioi-toy", func(t *testing.T) { testAttributionComplete(t, w) })
	for name, c := range map[string]model.Config{
		"llama-like": {NLayers: 2, DModel: 32, NHeads: 4, NKVHeads: 2, DHead: 8, DMLP: 48, NCtx: 16, DVocab: 89,
			Act: model.Silu, Normalization: model.RMS, LNEps: 1e-6, GatedMLP: true, RotaryDim: 8, RotaryBase: 10000},
		"pythia-like": {NLayers: 2, DModel: 32, NHeads: 4, DHead: 8, DMLP: 64, NCtx: 16, DVocab: 89,
			Act: model.Gelu, Normalization: model.LayerNorm, LNEps: 1e-5, ParallelResidual: true, RotaryDim: 4, RotaryBase: 10000},
		"gemma-like": {NLayers: 2, DModel: 32, NHeads: 4, NKVHeads: 2, DHead: 8, DMLP: 48, NCtx: 16, DVocab: 89,
			Act: model.GeluNew, Normalization: model.RMS, LNEps: 1e-6, GatedMLP: true, RotaryDim: 8, RotaryBase: 10000,
			NormPlacement: model.PrePostNorm, AttnSoftcap: 50, OutputSoftcap: 0.5, EmbedScale: 5.5, TiedEmbeddings: true},
		"olmo-like": {NLayers: 2, DModel: 32, NHeads: 4, DHead: 8, DMLP: 48, NCtx: 16, DVocab: 89,
			Act: model.Silu, Normalization: model.RMS, LNEps: 1e-6, GatedMLP: true, RotaryDim: 8, RotaryBase: 10000,
			NormPlacement: model.PostNorm, QKNorm: model.QKNormProj},
	} {
		w, err := model.NewRandomWeights(c, 7)
		if err != nil {
			t.Fatal(err)
		}
		for n, ts := range w.Tensors {
			if len(ts.Shape().Dimensions) == 1 && n[len(n)-2:] == ".w" {
				continue
			}
			data := tensors.MustCopyFlatData[float32](ts)
			for i := range data {
				data[i] *= 10
			}
			w.Tensors[n] = tensors.FromFlatDataAndDimensions(data, ts.Shape().Dimensions...)
		}
		t.Run(name, func(t *testing.T) { testAttributionComplete(t, w) })
	}
}

func testAttributionComplete(t *testing.T, w *model.Weights) {
	b, name := model.MustNewBackend("")
	m, err := model.New(w, b, name)
	if err != nil {
		t.Fatal(err)
	}
	var ts []*sae.SAE
	for l := range 2 {
		c, _ := NewConfig(m.Config, Spec{Layer: l, Arch: sae.ReLU, DSAE: 128, Skip: l == 0})
		s, err := sae.NewRandom(c, m.Backend, sae.InitOptions{Seed: uint64(l + 3)})
		if err != nil {
			t.Fatal(err)
		}
		ts = append(ts, s)
	}
	prompt := []int{0, 5, 17, 23, 40, 8, 12, 30, 2, 11}
	a, err := NewAnalysis(m, ts, prompt)
	if err != nil {
		t.Fatal(err)
	}
	for _, tg := range []Target{LogitTarget(9, 17, 23), LogitTarget(4, 3, -1), FeatureTarget(1, firstActive(t, a, 1, 6), 6)} {
		att, err := a.Attribute(tg)
		if err != nil {
			t.Fatal(err)
		}
		sum := att.Constant
		heads := 0
		for _, n := range att.Nodes {
			sum += n.Contribution
			if n.Kind == KindHead {
				heads++
			}
		}
		if math.Abs(sum-att.Value) > 1e-4*(1+math.Abs(att.Value)) {
			t.Errorf("%s: contributions + constant = %.6g, value %.6g", att.Target.ID(), sum, att.Value)
		}
		if heads == 0 {
			t.Errorf("%s: no head contributions", att.Target.ID())
		}
		if cp := m.Config.OutputSoftcap; cp != 0 && tg.Logit && tg.Wrong < 0 {
			// The value is the logit before the cap: capping it gives the forward pass's logit.
			want := float64(a.logits[tg.Pos*m.Config.DVocab+tg.Token])
			if got := cp * math.Tanh(att.Value/cp); math.Abs(got-want) > 1e-4*(1+math.Abs(want)) {
				t.Errorf("%s: capped value %.6g, forward logit %.6g", att.Target.ID(), got, want)
			}
			if math.Abs(att.Value-want) < 1e-3 {
				t.Errorf("%s: the cap changes nothing here (%.6g)", att.Target.ID(), want)
			}
		}
	}
	// Expanding a node is exact too: the contributions to a feature's (or a head's) input,
	// propagated along the path, sum to the node's own contribution, up to the constants its
	// input reads (encoder bias, LayerNorm bias, b_V).
	att, _ := a.Attribute(LogitTarget(9, 17, 23))
	e, _, _, _, _ := a.targetVector(LogitTarget(9, 17, 23))
	checked := map[NodeKind]bool{}
	for _, n := range att.Nodes {
		if (n.Kind != KindFeature && n.Kind != KindHead) || checked[n.Kind] || n.Contribution == 0 {
			continue
		}
		checked[n.Kind] = true
		next, p, pos, ok := a.expand(n, e)
		if !ok {
			t.Fatalf("%s does not expand", n.ID())
		}
		sum := a.nodeConstant(n, e)
		for _, u := range a.contributions(next, p, pos) {
			sum += u.Contribution
		}
		if math.Abs(sum-n.Contribution) > 1e-4*(1+math.Abs(n.Contribution)) {
			t.Errorf("%s: expanded contributions + constant = %.6g, node contribution %.6g", n.ID(), sum, n.Contribution)
		}
	}
	if len(checked) != 2 {
		t.Errorf("checked the expansion of %v, want a feature and a head", checked)
	}
	// The path search's depth-1 paths are the largest direct contributions.
	g, err := a.Paths(LogitTarget(9, 17, 23), PathOptions{Depth: 2})
	if err != nil {
		t.Fatal(err)
	}
	if got := g.Paths[0].Attribution; math.Abs(got) < math.Abs(att.Nodes[0].Contribution)-1e-9 {
		t.Errorf("top path %.4g is smaller than the top direct contribution %.4g", got, att.Nodes[0].Contribution)
	}
}

func firstActive(t *testing.T, a *Analysis, l, pos int) int {
	for j, z := range a.Latents(l, pos) {
		if z > 0 {
			return j
		}
	}
	t.Fatalf("no active latent at layer %d position %d", l, pos)
	return -1
}
