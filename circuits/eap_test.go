package circuits

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/tensors"

	"github.com/interp-dev/interp/hooks"
	"github.com/interp-dev/interp/model"
	"github.com/interp-dev/interp/tasks"
)

// randomPairs makes n clean/corrupted pairs of random tokens for models without a task.
func randomPairs(seed uint64, n, plen, vocab int) *tasks.Pairs {
	rng := rand.New(rand.NewPCG(seed, 1))
	p := &tasks.Pairs{}
	for range n {
		c, r := make([]int, plen), make([]int, plen)
		for j := range c {
			c[j], r[j] = rng.IntN(vocab), rng.IntN(vocab)
		}
		p.Clean, p.Corrupted = append(p.Clean, c), append(p.Corrupted, r)
		p.Answer, p.Wrong = append(p.Answer, rng.IntN(vocab)), append(p.Wrong, rng.IntN(vocab))
		p.Pos = append(p.Pos, plen-1-rng.IntN(2))
	}
	return p
}

// familyConfigs are random models of the other layouts the edge-level methods cover: Llama-style
// (RMSNorm, rotary, grouped-query attention with 2 query heads per key/value head, SwiGLU) and
// Pythia-style (LayerNorm, partial rotary, parallel residual), and the layouts with norms after
// attention and the MLP: Gemma-2-style (norms before and after, GeGLU, attention and final-logit
// soft-caps, scaled embeddings) and OLMo-2-style (norms after only, q/k norms over the whole
// projection). Their weights are scaled up (x8,
// norm gains left at 1) so that edges move the metric well above float32 noise.
var familyConfigs = map[string]model.Config{
	"llama-like": {NLayers: 2, DModel: 16, NHeads: 4, NKVHeads: 2, DHead: 4, DMLP: 24, NCtx: 12, DVocab: 23,
		Act: model.Silu, Normalization: model.RMS, LNEps: 1e-6, GatedMLP: true, RotaryDim: 4, RotaryBase: 10000, Family: "llama"},
	"pythia-like": {NLayers: 2, DModel: 16, NHeads: 4, DHead: 4, DMLP: 32, NCtx: 12, DVocab: 23,
		Act: model.Gelu, Normalization: model.LayerNorm, LNEps: 1e-5, ParallelResidual: true, RotaryDim: 2, RotaryBase: 10000,
		Family: "gpt_neox"},
	"gemma-like": {NLayers: 2, DModel: 16, NHeads: 4, NKVHeads: 2, DHead: 4, DMLP: 24, NCtx: 12, DVocab: 23,
		Act: model.GeluNew, Normalization: model.RMS, LNEps: 1e-6, GatedMLP: true, RotaryDim: 4, RotaryBase: 10000,
		NormPlacement: model.PrePostNorm, AttnSoftcap: 50, OutputSoftcap: 30, EmbedScale: 4, TiedEmbeddings: true, Family: "gemma2"},
	"olmo-like": {NLayers: 2, DModel: 16, NHeads: 4, DHead: 4, DMLP: 24, NCtx: 12, DVocab: 23,
		Act: model.Silu, Normalization: model.RMS, LNEps: 1e-6, GatedMLP: true, RotaryDim: 4, RotaryBase: 10000,
		NormPlacement: model.PostNorm, QKNorm: model.QKNormProj, Family: "olmo2"},
}

// testModel is a built-in model by name, or one of familyConfigs with scaled random weights.
func testModel(t testing.TB, name string) *model.Model {
	t.Helper()
	c, ok := familyConfigs[name]
	if !ok {
		return builtinModel(t, name)
	}
	w, err := model.NewRandomWeights(c, 3)
	if err != nil {
		t.Fatal(err)
	}
	for n, ts := range w.Tensors {
		if len(ts.Shape().Dimensions) == 1 && len(n) > 2 && n[len(n)-2:] == ".w" {
			continue // norm gains stay 1
		}
		data := tensors.MustCopyFlatData[float32](ts)
		for i := range data {
			data[i] *= 8
		}
		w.Tensors[n] = tensors.FromFlatDataAndDimensions(data, ts.Shape().Dimensions...)
	}
	b, bn := model.MustNewBackend("")
	m, err := model.New(w, b, bn)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func builtinModel(t testing.TB, name string) *model.Model {
	t.Helper()
	w, _, err := model.LoadAny(name)
	if err != nil {
		t.Fatal(err)
	}
	b, bn := model.MustNewBackend("")
	m, err := model.New(w, b, bn)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// towards returns a + eps (b - a) for every sender output.
func towards(a, b *senderActs, eps float64) *senderActs {
	out := &senderActs{embed: interpolate(a.embed, b.embed, eps)}
	for l := range a.result {
		out.result = append(out.result, interpolate(a.result[l], b.result[l], eps))
	}
	for l := range a.written {
		out.written = append(out.written, interpolate(a.written[l], b.written[l], eps))
	}
	for l := range a.mlp {
		out.mlp = append(out.mlp, interpolate(a.mlp[l], b.mlp[l], eps))
	}
	return out
}

// EAP's score of an edge is the derivative of the metric along "move the sender's output, as
// the receiver sees it, towards its corrupted value": check it against central finite
// differences of the edge ablation, on a model with LayerNorm and MLPs and on an
// attention-only one.
func TestEAPMatchesFiniteDifferencesOfEdgeAblation(t *testing.T) {
	for _, name := range []string{"toy-gpt2", "planted-ioi", "llama-like", "pythia-like", "gemma-like", "olmo-like"} {
		t.Run(name, func(t *testing.T) {
			m := testModel(t, name)
			var pairs *tasks.Pairs
			if name == "planted-ioi" {
				task, err := tasks.New("ioi", tasks.Options{Vocab: m.Config.DVocab, SeqLen: m.Config.NCtx})
				if err != nil {
					t.Fatal(err)
				}
				if pairs, err = task.Pairs(3, 6); err != nil {
					t.Fatal(err)
				}
			} else {
				pairs = randomPairs(5, 4, 10, m.Config.DVocab)
			}
			e, err := newExperiment(m, pairs)
			if err != nil {
				t.Fatal(err)
			}
			for _, kind := range []string{InterventionPatching, InterventionZero, InterventionMean, InterventionMeanPositional} {
				target, err := e.interventionActs(kind)
				if err != nil {
					t.Fatal(err)
				}
				checkEAPAgainstFiniteDifferences(t, e, pairs, kind, target)
			}
		})
	}
}

// checkEAPAgainstFiniteDifferences compares EAP scores towards target with central finite
// differences of the edge ablation towards it.
func checkEAPAgainstFiniteDifferences(t *testing.T, e *experiment, pairs *tasks.Pairs, kind string, target *senderActs) {
	t.Helper()
	scores, err := e.eapEdgeScores(nil, target)
	if err != nil {
		t.Fatal(err)
	}
	if len(scores) != len(e.g.Edges) {
		t.Fatalf("%d edge scores for %d edges", len(scores), len(e.g.Edges))
	}
	// Check the 8 highest-scoring edges and a spread of others.
	var check []Edge
	for i, x := range e.g.Edges {
		if i%9 == 0 {
			check = append(check, x)
		}
	}
	top := topEdges(scores, e.g, 8)
	if s := math.Abs(scores[top[0].String()]); s < 0.05 {
		t.Fatalf("%s: largest |EAP score| %.4f: too small for the check to mean anything", kind, s)
	}
	check = append(check, top...)
	const eps = 1e-2
	for _, x := range check {
		masks := e.g.newEdgeMasks(func(y Edge) bool { return y == x })
		var md [2]float64
		for i, sign := range []float64{1, -1} {
			logits, err := e.runEdgeAblation(e.clean, masks, towards(e.cleanOut, target, sign*eps))
			if err != nil {
				t.Fatal(err)
			}
			md[i] = mean(logitDiffs(logits, pairs))
		}
		fd := (md[0] - md[1]) / (2 * eps)
		got := scores[x.String()]
		t.Logf("%s %-16s EAP %+.5f  finite difference %+.5f", kind, x, got, fd)
		if math.Abs(got-fd) > 2e-3+0.03*math.Abs(fd) {
			t.Errorf("%s, edge %s: EAP score %.5f, finite difference %.5f", kind, x, got, fd)
		}
	}
}

// topEdges returns the n edges with the largest |score|.
func topEdges(scores map[string]float64, g *Graph, n int) []Edge {
	ranked := append([]Edge(nil), g.Edges...)
	for i := range ranked { // selection of the top n
		for j := i + 1; j < len(ranked); j++ {
			if math.Abs(scores[ranked[j].String()]) > math.Abs(scores[ranked[i].String()]) {
				ranked[i], ranked[j] = ranked[j], ranked[i]
			}
		}
		if i+1 == n {
			break
		}
	}
	return ranked[:n]
}

// Ablating every outgoing edge of a node is ablating the node; ablating no edge is the clean
// run. Where a norm follows attention, ablating a head's outgoing edges moves hook_attn_out by
// the change in the head's share only (the norm's scale stays the clean run's), which a hook
// adding that change to hook_attn_out reproduces; ablating the head itself (hook_result) would
// also change the scale, and must differ.
func TestEdgeAblationAgreesWithNodeAblation(t *testing.T) {
	for _, name := range []string{"toy-gpt2", "llama-like", "pythia-like", "gemma-like", "olmo-like"} {
		t.Run(name, func(t *testing.T) { testEdgeAblationAgreesWithNodeAblation(t, testModel(t, name)) })
	}
}

func testEdgeAblationAgreesWithNodeAblation(t *testing.T, m *model.Model) {
	pairs := randomPairs(9, 3, 8, m.Config.DVocab)
	e, err := newExperiment(m, pairs)
	if err != nil {
		t.Fatal(err)
	}
	none, err := e.runEdgeAblation(e.clean, e.g.newEdgeMasks(func(Edge) bool { return false }), e.corrOut)
	if err != nil {
		t.Fatal(err)
	}
	if d := maxAbsDiff(none, e.cleanOut.logits); d > 1e-3 {
		t.Errorf("no edge ablated: logits differ from the clean run by %g", d)
	}
	for _, n := range []Node{HeadNode(0, 1), MLPNode(0), HeadNode(1, 3), MLPNode(1)} {
		masks := newNodeMasks(m.Config, e.n)
		masks.set(n, 0, e.n)
		want, err := e.runNodeAblation(e.clean, masks, e.corrOut)
		if err != nil {
			t.Fatal(err)
		}
		got, err := e.runEdgeAblation(e.clean, e.g.newEdgeMasks(func(x Edge) bool { return x.From == n }), e.corrOut)
		if err != nil {
			t.Fatal(err)
		}
		if n.Kind == Head && m.Config.PostNorms() {
			if d := maxAbsDiff(got, want); d < 1e-3 {
				t.Errorf("node %s: ablating the head's edges equals ablating the head (%g), but the norm's scale should differ", n, d)
			}
			want = shareAblation(t, e, n)
		}
		if d := maxAbsDiff(got, want); d > 1e-3 {
			t.Errorf("node %s: edge ablation and node ablation logits differ by %g", n, d)
		}
		if d := maxAbsDiff(want, e.cleanOut.logits); d < 1e-3 {
			t.Errorf("node %s: ablation changed nothing (%g)", n, d)
		}
	}
}

// shareAblation runs the clean prompts with head n's share of hook_attn_out replaced by its
// corrupted share, computed here from the cached hook_result, ln1_post.hook_scale and gain with
// float64 sums.
func shareAblation(t *testing.T, e *experiment, n Node) *tensors.Tensor {
	t.Helper()
	c := e.m.Config
	share := func(tokens *tensors.Tensor) []float64 {
		out, err := e.m.Run(tokens, hooks.New().Cache(hooks.Result(n.Layer), postScale(n.Layer)))
		if err != nil {
			t.Fatal(err)
		}
		r := tensors.MustCopyFlatData[float32](out.Cache.MustGet(hooks.Result(n.Layer))) // [N, P, H, D]
		s := tensors.MustCopyFlatData[float32](out.Cache.MustGet(postScale(n.Layer)))    // [N, P, 1]
		w := tensors.MustCopyFlatData[float32](e.m.Weights.Tensors[blockName(n.Layer, "ln1_post.w")])
		D, H := c.DModel, c.NHeads
		y := make([]float64, len(s)*D)
		for row := range s {
			x := r[(row*H+n.Head)*D : (row*H+n.Head+1)*D]
			var mean float64
			if c.Normalization == model.LayerNorm {
				for _, v := range x {
					mean += float64(v) / float64(D)
				}
			}
			for i, v := range x {
				y[row*D+i] = (float64(v) - mean) / float64(s[row]) * float64(w[i])
			}
		}
		return y
	}
	clean, corr := share(e.clean), share(e.corr)
	delta := make([]float32, len(clean))
	for i := range delta {
		delta[i] = float32(corr[i] - clean[i])
	}
	out, err := e.m.Run(e.clean, hooks.New().Func(hooks.AttnOut(n.Layer), "test.share", func(x *graph.Node, in []*graph.Node) *graph.Node {
		return graph.Add(x, in[0])
	}, tensors.FromFlatDataAndDimensions(delta, e.n, e.plen, c.DModel)))
	if err != nil {
		t.Fatal(err)
	}
	return out.Logits
}

func maxAbsDiff(a, b *tensors.Tensor) float64 {
	x, y := tensors.MustCopyFlatData[float32](a), tensors.MustCopyFlatData[float32](b)
	var d float64
	for i := range x {
		d = math.Max(d, math.Abs(float64(x[i]-y[i])))
	}
	return d
}

// TestIGAlphas pins the EAP-IG interpolation points: the reference's left Riemann sum from the
// corrupted end (alpha = k/steps, k = 0..steps-1) and the midpoint rule.
func TestIGAlphas(t *testing.T) {
	for _, tc := range []struct {
		steps int
		rule  string
		want  string
	}{
		{4, IGLeft, "[0 0.25 0.5 0.75]"},
		{4, IGMidpoint, "[0.125 0.375 0.625 0.875]"},
		{1, IGLeft, "[0]"},
	} {
		got, err := igAlphas(tc.steps, tc.rule)
		if err != nil || fmt.Sprint(got) != tc.want {
			t.Errorf("igAlphas(%d, %s) = %v, %v; want %s", tc.steps, tc.rule, got, err, tc.want)
		}
	}
	if _, err := igAlphas(0, IGLeft); err == nil {
		t.Error("0 steps accepted")
	}
	if _, err := igAlphas(3, "trapezoid"); err == nil {
		t.Error("unknown rule accepted")
	}
}

// TestInterventionTargets checks the intervention targets against direct averages of the
// corrupted run's outputs: zero, the mean over prompts and positions, the mean over prompts at
// each position.
func TestInterventionTargets(t *testing.T) {
	m := testModel(t, "toy-gpt2")
	pairs := randomPairs(5, 4, 6, m.Config.DVocab)
	e, err := newExperiment(m, pairs)
	if err != nil {
		t.Fatal(err)
	}
	N, P, D := e.n, e.plen, m.Config.DModel
	corr := e.corrOut.output(HeadNode(1, 2)) // [N, P, D]
	for _, kind := range []string{InterventionZero, InterventionMean, InterventionMeanPositional} {
		target, err := e.interventionActs(kind)
		if err != nil {
			t.Fatal(err)
		}
		got := target.output(HeadNode(1, 2))
		for n := range N {
			for p := range P {
				for i := range D {
					want := 0.0
					switch kind {
					case InterventionMean:
						for n2 := range N {
							for p2 := range P {
								want += float64(corr[(n2*P+p2)*D+i]) / float64(N*P)
							}
						}
					case InterventionMeanPositional:
						for n2 := range N {
							want += float64(corr[(n2*P+p)*D+i]) / float64(N)
						}
					}
					if g := float64(got[(n*P+p)*D+i]); math.Abs(g-want) > 1e-6*(1+math.Abs(want)) {
						t.Fatalf("%s: [%d %d %d] = %g, want %g", kind, n, p, i, g, want)
					}
				}
			}
		}
	}
	if _, err := e.interventionActs("resample"); err == nil {
		t.Error("unknown intervention accepted")
	}
}

// TestIGActivationsPlumbing: with one step, each pass of EAP-IG-activations replaces one layer's
// output by its own clean value. The values are the clean run's, but the replaced output is a
// constant, as in the reference (its hook returns a tensor built from detached activations), so
// gradient paths through that layer are cut for receivers upstream of it. The logits are
// downstream of every replaced output, so their incoming edges must score exactly as in EAP; a
// replacement of the wrong layout or layer would move them. Edges into upstream receivers must
// differ from EAP's (some path is cut in some pass).
func TestIGActivationsPlumbing(t *testing.T) {
	for _, name := range []string{"toy-gpt2", "planted-ioi"} {
		m := testModel(t, name)
		pairs := randomPairs(7, 4, 8, m.Config.DVocab)
		e, err := newExperiment(m, pairs)
		if err != nil {
			t.Fatal(err)
		}
		eap, err := e.eapEdgeScores(nil, e.corrOut)
		if err != nil {
			t.Fatal(err)
		}
		runs := e.activationRuns(1)
		if want := 1 + m.Config.NLayers*(1+btoi(m.Config.HasMLP())); len(runs) != want {
			t.Fatalf("%s: %d passes, want %d (embeddings, then each layer's heads and MLP)", name, len(runs), want)
		}
		ig, err := e.eapEdgeScores(runs, e.corrOut)
		if err != nil {
			t.Fatal(err)
		}
		changed := 0
		for _, x := range e.g.Edges {
			k := x.String()
			v := eap[k]
			if x.To.Kind == Logits {
				if math.Abs(ig[k]-v) > 1e-5*(1+math.Abs(v)) {
					t.Errorf("%s edge %s: one-step IG-activations %g, EAP %g", name, k, ig[k], v)
				}
			} else if math.Abs(ig[k]-v) > 1e-3*(1+math.Abs(v)) {
				changed++
			}
		}
		if changed == 0 {
			t.Errorf("%s: no upstream edge changed: the replacements cut no gradient path", name)
		}
	}
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}
