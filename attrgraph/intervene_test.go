package attrgraph

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/gomlx/gomlx/pkg/core/tensors"

	"github.com/interp-dev/interp/hooks"
	"github.com/interp-dev/interp/sae"
	"github.com/interp-dev/interp/transcoder"
)

// demeaned returns each logit node's value change: (logit_v - mean logit) after minus before.
func demeaned(g *Graph, before, after []float32) []float64 {
	mean := func(x []float32) float64 {
		var s float64
		for _, v := range x {
			s += float64(v)
		}
		return s / float64(len(x))
	}
	mb, ma := mean(before), mean(after)
	out := make([]float64, len(g.Logits))
	for i, l := range g.Logits {
		out[i] = (float64(after[l.Token]) - ma) - (float64(before[l.Token]) - mb)
	}
	return out
}

// capGain is the largest amplification of a logit's rounding by undoing the final soft-cap
// (1 / (1 - (y/c)^2)), 1 without one.
func capGain(c float64, capped []float32) float64 {
	if c == 0 {
		return 1
	}
	g := 1.0
	for _, v := range capped {
		y := float64(v) / c
		g = math.Max(g, 1/(1-y*y))
	}
	return g
}

// interventionSetup builds a model, random transcoders (layers 0 and 1; layer 1's with a skip
// term) and the graph of a prompt.
func interventionSetup(t *testing.T, name, kind string, seed uint64) (*Replacement, *Graph) {
	t.Helper()
	c := testConfigs()[name]
	m := newTestModel(t, c, seed)
	r := newTestReplacement(t, m, kind, seed+1, testPrompt(c, 6, seed+2))
	g, err := r.Graph(Options{MaxLogits: 3, LogitProb: 1, BatchSize: 16})
	if err != nil {
		t.Fatal(err)
	}
	return r, g
}

// pickInterventions changes up to three layer-0 features at the last position (whose direct
// edges to the logits and to layer 1's features there go through the residual stream), one per
// op, each by about size times its activation.
func pickInterventions(t *testing.T, r *Replacement, g *Graph, seed uint64, size float64) []Intervention {
	t.Helper()
	rng := rand.New(rand.NewPCG(seed, 3))
	var ivs []Intervention
	ops := []sae.SteerOp{sae.SteerScale, sae.SteerClamp, sae.SteerAdd}
	for _, i := range rng.Perm(len(g.Features)) {
		f := g.Features[i]
		if f.Layer != 0 || f.Pos != r.P-1 {
			continue
		}
		op := ops[len(ivs)%len(ops)]
		a := float64(f.Act)
		v := map[sae.SteerOp]float64{sae.SteerScale: 1 + size, sae.SteerClamp: a * (1 - size), sae.SteerAdd: a * size}[op]
		ivs = append(ivs, Intervention{Layer: 0, Pos: f.Pos, Feature: f.Index, Op: op, Value: v})
		if len(ivs) == 3 {
			break
		}
	}
	if len(ivs) == 0 {
		t.Fatal("no layer-0 feature at the last position to intervene on")
	}
	return ivs
}

// interventionTol bounds the rounding of a measured logit-node change: two forward passes (as
// TestEdgesAreDirectEffects bounds them), whose terms are the node's edges, the intervened
// sources' edges again times their relative changes, and the logits; then the mean over the
// vocabulary and the soft-cap's inversion.
func interventionTol(r *Replacement, g *Graph, node int, ivs []Intervention, before []float32) float64 {
	c := r.cfg
	var l1 float64
	for j := range g.N {
		l1 += math.Abs(float64(g.Edge(node, j)))
	}
	for _, iv := range ivs {
		for i, f := range g.Features {
			if f.Layer == iv.Layer && f.Pos == iv.Pos && f.Index == iv.Feature {
				a := float64(f.Act)
				l1 += math.Abs(float64(g.Edge(node, i))) * math.Abs(iv.apply(a)-a) / math.Abs(a)
			}
		}
	}
	var mx float64
	for _, v := range before {
		mx = math.Max(mx, math.Abs(float64(v)))
	}
	pass := 2 * float64(c.NLayers+2) * float64(c.DModel+r.P+c.NHeads*c.DHead) * eps32 * (l1 + mx)
	return (pass + 4*eps32*mx) * capGain(c.OutputSoftcap, r.Logits(r.P-1))
}

// In Direct mode the logits move by exactly the graph's direct prediction: the intervened
// features' direct edges times their relative changes. The run goes through the model's own
// forward pass with hooks; the prediction comes from the backward graph's edges.
func TestDirectInterventionIsTheDirectEdge(t *testing.T) {
	for name := range testConfigs() {
		for _, kind := range dictionaries {
			t.Run(name+"/"+kind, func(t *testing.T) {
				r, g := interventionSetup(t, name, kind, 21)
				ivs := pickInterventions(t, r, g, 21, 10)
				rep, err := r.Report(g, ivs, []Mode{Direct})
				if err != nil {
					t.Fatal(err)
				}
				if rep.NoPrediction != "" {
					t.Fatal(rep.NoPrediction)
				}
				before := uncap(r.cfg.OutputSoftcap, r.Logits(r.P-1))
				var largest, largestTol float64
				for i, e := range rep.Logits {
					got, want := e.Measured[Direct], *e.Direct
					tol := interventionTol(r, g, g.LogitNode(i), ivs, before)
					t.Logf("logit %d: measured %+.6g, direct %+.6g, |diff|/tol %.3g", i, got, want, math.Abs(got-want)/tol)
					if d := math.Abs(got - want); d > tol {
						t.Errorf("logit %d: measured %g, direct prediction %g (|diff| %g > %g)", i, got, want, d, tol)
					}
					if math.Abs(want) > largest {
						largest, largestTol = math.Abs(want), tol
					}
				}
				if largest < 100*largestTol {
					t.Fatalf("largest predicted change %g is within 100x rounding (%g): the test checks nothing", largest, largestTol)
				}
			})
		}
	}
}

// In Linear mode (the local replacement model) later features respond, and the logits move as
// the graph's paths predict while no feature crosses its threshold; the paths differ from the
// direct edges.
func TestLinearInterventionFollowsThePaths(t *testing.T) {
	for name := range testConfigs() {
		for _, kind := range dictionaries {
			t.Run(name+"/"+kind, func(t *testing.T) {
				r, g := interventionSetup(t, name, kind, 31)
				crosses := func(res *Intervened) bool {
					for l := range r.cfg.NLayers {
						for i, v := range res.Latents[l] {
							if (v != 0) != (r.lat[l][i] != 0) {
								return true
							}
						}
					}
					return false
				}
				// A layer-0 feature at the last position, scaled by the largest change under which no
				// latent crosses its threshold, and whose paths through layer 1 move the logits.
				var ivs []Intervention
				var res *Intervened
				var pred *Prediction
			search:
				for _, f := range g.Features {
					if f.Layer != 0 || f.Pos != r.P-1 {
						continue
					}
					for _, size := range []float64{0.5, 0.2, 0.1, 0.05} {
						cand := []Intervention{{Layer: 0, Pos: f.Pos, Feature: f.Index, Op: sae.SteerScale, Value: 1 + size}}
						out, err := r.Intervene(cand, Linear)
						if err != nil {
							t.Fatal(err)
						}
						if crosses(out) {
							continue
						}
						p, err := g.Predict(cand)
						if err != nil {
							t.Fatal(err)
						}
						before := uncap(r.cfg.OutputSoftcap, r.Logits(r.P-1))
						for i := range g.Logits {
							tol := float64(r.cfg.NLayers+1) * interventionTol(r, g, g.LogitNode(i), cand, before)
							if math.Abs(p.Paths[i]-p.Direct[i]) > 10*tol {
								ivs, res, pred = cand, out, p
								break search
							}
						}
						break
					}
				}
				if ivs == nil {
					t.Fatal("no layer-0 feature at the last position has paths through layer 1 that move a logit beyond 10x rounding without a latent crossing its threshold")
				}
				before := uncap(r.cfg.OutputSoftcap, r.Logits(r.P-1))
				got := demeaned(g, before, res.Logits)
				for i := range g.Logits {
					// The paths chain the rounding of every layer's rows.
					tol := float64(r.cfg.NLayers+1) * interventionTol(r, g, g.LogitNode(i), ivs, before)
					t.Logf("logit %d: measured %+.6g, paths %+.6g, direct %+.6g, |diff|/tol %.3g", i, got[i], pred.Paths[i], pred.Direct[i], math.Abs(got[i]-pred.Paths[i])/tol)
					if d := math.Abs(got[i] - pred.Paths[i]); d > tol {
						t.Errorf("logit %d: measured %g, path prediction %g, direct %g (|diff| %g > %g)", i, got[i], pred.Paths[i], pred.Direct[i], d, tol)
					}
				}
			})
		}
	}
}

// An intervention at every position in Recomputed mode is transcoder.Steer; with the patterns
// held it is Steer with the clean patterns replaced. An identity intervention changes nothing in
// any mode.
func TestInterventionModesAgainstSteer(t *testing.T) {
	r, _ := interventionSetup(t, "llama-gqa", "per-layer", 41)
	s := r.ts[0]
	F := s.Config.DSAE
	// The layer-0 latent active at the most positions.
	best, nBest := 0, -1
	for j := range F {
		n := 0
		for p := range r.P {
			if r.lat[0][p*F+j] != 0 {
				n++
			}
		}
		if n > nBest {
			best, nBest = j, n
		}
	}
	const scale = 2.5
	var ivs, same []Intervention
	for p := range r.P {
		ivs = append(ivs, Intervention{Layer: 0, Pos: p, Feature: best, Op: sae.SteerScale, Value: scale})
		same = append(same, Intervention{Layer: 0, Pos: p, Feature: best, Op: sae.SteerAdd, Value: 0})
	}
	var mx float64
	for _, v := range r.Logits(r.P - 1) {
		mx = math.Max(mx, math.Abs(float64(v)))
	}
	c := r.cfg
	tol := 8 * float64(c.NLayers+1) * float64(max(c.DModel, F, c.DMLP)) * eps32 * (1 + mx)
	compare := func(what string, want, got []float32) float64 {
		t.Helper()
		var worst, moved float64
		for i := range want {
			worst = math.Max(worst, math.Abs(float64(want[i]-got[i])))
			moved = math.Max(moved, math.Abs(float64(got[i]-r.Logits(r.P - 1)[i])))
		}
		if worst > tol {
			t.Errorf("%s: logits differ by %g (tolerance %g)", what, worst, tol)
		}
		return moved
	}
	for _, mode := range []Mode{Recomputed, FrozenAttention} {
		set := hooks.New()
		if mode == FrozenAttention {
			for l := range c.NLayers {
				set.Replace(hooks.Pattern(l), r.cache.MustGet(hooks.Pattern(l)))
			}
		}
		if err := transcoder.Steer(set, c, s, best, sae.SteerScale, scale); err != nil {
			t.Fatal(err)
		}
		out, err := r.Run(set)
		if err != nil {
			t.Fatal(err)
		}
		V := c.DVocab
		want := tensors.MustCopyFlatData[float32](out.Logits)[(r.P-1)*V:]
		res, err := r.Intervene(ivs, mode)
		if err != nil {
			t.Fatal(err)
		}
		if moved := compare(string(mode)+" vs Steer", want, res.Logits); moved < 100*tol {
			t.Errorf("%s: the intervention moved the logits by only %g", mode, moved)
		}
	}
	for _, mode := range Modes {
		res, err := r.Intervene(same, mode)
		if err != nil {
			t.Fatal(err)
		}
		compare(string(mode)+" identity", r.Logits(r.P-1), res.Logits)
	}
}

func TestInterventionErrors(t *testing.T) {
	r, g := interventionSetup(t, "gpt2", "per-layer", 51)
	F := r.ts[0].Config.DSAE
	cases := []struct {
		iv   Intervention
		want string
	}{
		{Intervention{Layer: 2, Pos: 0, Feature: 0, Op: sae.SteerClamp}, "layer 2 has no transcoder"},
		{Intervention{Layer: 3, Pos: 0, Feature: 0, Op: sae.SteerClamp}, "layer 3 outside the model's [0, 3)"},
		{Intervention{Layer: 0, Pos: r.P, Feature: 0, Op: sae.SteerClamp}, "position 6 outside the prompt's 6 tokens"},
		{Intervention{Layer: 0, Pos: 0, Feature: F, Op: sae.SteerClamp}, "feature 24 outside layer 0's dictionary [0, 24)"},
		{Intervention{Layer: 0, Pos: 0, Feature: 0, Op: "-="}, `unknown steering op "-="`},
	}
	for _, tc := range cases {
		_, err := r.Intervene([]Intervention{tc.iv}, FrozenAttention)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: error %v, want %q", tc.iv, err, tc.want)
		}
	}
	twice := Intervention{Layer: 0, Pos: 1, Feature: 2, Op: sae.SteerScale, Value: 2}
	if _, err := r.Intervene([]Intervention{twice, twice}, Direct); err == nil || !strings.Contains(err.Error(), "changed twice") {
		t.Errorf("a feature changed twice: error %v", err)
	}
	// A feature inactive on the prompt is not a node: the graph predicts nothing for it.
	for p := range r.P {
		for j := range F {
			if r.lat[0][p*F+j] == 0 {
				_, err := g.Predict([]Intervention{{Layer: 0, Pos: p, Feature: j, Op: sae.SteerClamp, Value: 1}})
				if err == nil || !strings.Contains(err.Error(), "not a node of the graph") {
					t.Errorf("inactive feature: error %v", err)
				}
				return
			}
		}
	}
	t.Fatal("every layer-0 latent is active")
}

func TestParseIntervention(t *testing.T) {
	cases := []struct {
		spec string
		want Intervention
		err  string
	}{
		{"1:4:42=0", Intervention{1, 4, 42, sae.SteerClamp, 0}, ""},
		{"0:-1:7*=2.5", Intervention{0, 5, 7, sae.SteerScale, 2.5}, ""},
		{"2:0:3+=-1e-1", Intervention{2, 0, 3, sae.SteerAdd, -0.1}, ""},
		{"1:4=0", Intervention{}, "want LAYER:POS:FEATURE"},
		{"1:x:4=0", Intervention{}, `position "x" is not an integer`},
		{"1:2:4=abc", Intervention{}, `value "abc" is not a finite number`},
		{"1:2:4=NaN", Intervention{}, "not a finite number"},
		{"1:2:4", Intervention{}, "want LAYER:POS:FEATURE=VALUE"},
	}
	for _, tc := range cases {
		got, err := ParseIntervention(tc.spec, 6)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%q: error %v, want %q", tc.spec, err, tc.err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("%q: got %+v, %v; want %+v", tc.spec, got, err, tc.want)
		}
	}
}
