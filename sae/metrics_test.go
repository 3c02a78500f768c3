package sae

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/gomlx/gomlx/pkg/core/tensors"

	"github.com/interp-dev/interp/hooks"
	"github.com/interp-dev/interp/model"
)

func near(t *testing.T, name string, got, want, tol float64) {
	t.Helper()
	if math.Abs(got-want) > tol {
		t.Errorf("%s = %.9g, want %.9g", name, got, want)
	}
}

// TestReconMetricsByHand: y = [[1, 0], [0, 2]], reconstruction [[1, 1], [0, 1]], three latents
// firing [2, 1, 0] times, L0 of the rows 2 and 1.
func TestReconMetricsByHand(t *testing.T) {
	a := newReconAccum(2, 3)
	a.add([]float32{1, 0, 0, 2}, []float32{1, 1, 0, 1}, []float32{2, 1}, []float32{2, 1, 0})
	var m Metrics
	a.result(&m, 0.6)
	near(t, "mse", m.MSE, 0.5, 1e-12) // (1 + 1) / 4
	near(t, "fvu", m.FVU, 0.8, 1e-12) // 2 / (5 - |(1, 2)|^2 / 2)
	near(t, "ev", m.ExplainedVariance, 0.2, 1e-12)
	near(t, "cossim", m.CosSim, (1/math.Sqrt2+1)/2, 1e-12)
	near(t, "l2 ratio", m.L2Ratio, (math.Sqrt2+0.5)/2, 1e-12)
	near(t, "l0", m.L0, 1.5, 1e-12)
	near(t, "dead", m.DeadFrac, 1.0/3, 1e-12)
	near(t, "dense", m.DenseFrac, 1.0/3, 1e-12) // density [1, 0.5, 0] > 0.6
	if m.Rows != 2 || len(m.Density) != 3 || m.Density[1] != 0.5 {
		t.Errorf("rows %d, density %v", m.Rows, m.Density)
	}
}

// TestCrossEntropyAndKLByHand: one sequence of two tokens [0, 1], vocabulary 2.
func TestCrossEntropyAndKLByHand(t *testing.T) {
	ln3 := float32(math.Log(3))
	clean := NewLogits(tensors.FromFlatDataAndDimensions([]float32{0, 0, ln3, 0}, 2, 2), 2)
	other := NewLogits(tensors.FromFlatDataAndDimensions([]float32{ln3, 0, 0, 0}, 2, 2), 2)
	rows := [][]int{{0, 1}}
	ce, n := clean.CrossEntropy(rows, nil)
	if n != 1 {
		t.Fatalf("%d CE positions, want 1", n)
	}
	near(t, "ce", ce, math.Ln2, 1e-7)
	kl, nk := other.KLFrom(clean, rows, nil)
	if nk != 2 {
		t.Fatalf("%d KL positions, want 2", nk)
	}
	at0 := 0.5*math.Log(0.5/0.75) + 0.5*math.Log(0.5/0.25) // KL(clean || other) at position 0
	want := at0 + 0.75*math.Log(1.5) + 0.25*math.Log(0.5)
	near(t, "kl", kl, want, 1e-7)

	// With a task's loss mask only the masked predictions count: position 0 (predicting token 1).
	ce, n = clean.CrossEntropy(rows, [][]bool{{true}})
	if n != 1 {
		t.Fatalf("%d masked CE positions, want 1", n)
	}
	near(t, "masked ce", ce, math.Ln2, 1e-7)
	if _, n = clean.CrossEntropy(rows, [][]bool{{false}}); n != 0 {
		t.Fatalf("%d CE positions with an empty mask, want 0", n)
	}
	kl, nk = other.KLFrom(clean, rows, [][]bool{{true}})
	if nk != 1 {
		t.Fatalf("%d masked KL positions, want 1", nk)
	}
	near(t, "masked kl", kl, at0, 1e-7)
}

func tinyModel(t *testing.T) *model.Model {
	t.Helper()
	w, err := model.NewRandomWeights(model.AttnOnlyToy(2, 4, 16, 32, 16), 3)
	if err != nil {
		t.Fatal(err)
	}
	b, name := model.MustNewBackend("")
	m, err := model.New(w, b, name)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func randomTokens(rng *rand.Rand, b, p, v int) [][]int {
	rows := make([][]int, b)
	for i := range rows {
		rows[i] = make([]int, p)
		for j := range rows[i] {
			rows[i][j] = rng.IntN(v)
		}
	}
	return rows
}

// TestSplice checks splicing against running the model with the reconstruction fed in, for a
// residual site and for head sites, and that the error term restores the clean run.
func TestSplice(t *testing.T) {
	m := tinyModel(t)
	rng := rand.New(rand.NewPCG(5, 5))
	rows := randomTokens(rng, 3, 8, 32)
	tokens, _ := model.Tokens(rows)
	sites := []Site{
		{Hook: hooks.ResidPost(0)},
		{Hook: hooks.Z(1), Heads: HeadsPerHead},
		{Hook: hooks.Z(1), Heads: HeadsConcat},
		{Hook: hooks.Result(0), Heads: HeadsSingle, Head: 2},
	}
	for _, site := range sites {
		for _, arch := range []Arch{TopK, JumpReLU} {
			t.Run(site.String()+"/"+string(arch), func(t *testing.T) {
				din, err := SiteWidth(m.Config, site)
				if err != nil {
					t.Fatal(err)
				}
				s, err := NewRandom(Config{Arch: arch, DIn: din, DSAE: 3 * din, K: 3, ApplyBDecToInput: true, Site: site},
					m.Backend, InitOptions{Seed: 2, DecoderNorm: 1, Threshold: 0.05})
				if err != nil {
					t.Fatal(err)
				}
				clean := m.MustRun(tokens, hooks.New().Cache(site.Hook))
				act := clean.Cache.MustGet(site.Hook)
				x := appendSite(nil, site, act, false)
				recon, err := s.Reconstruct(tensors.FromFlatDataAndDimensions(x, len(x)/din, din))
				if err != nil {
					t.Fatal(err)
				}
				// Write the reconstruction back into the activation on the host.
				full := tensors.MustCopyFlatData[float32](act)
				putSiteRows(full, site, act.Shape().Dimensions, tensors.MustCopyFlatData[float32](recon))
				want := m.MustRun(tokens, hooks.New().Replace(site.Hook, tensors.FromFlatDataAndDimensions(full, act.Shape().Dimensions...)))

				set := hooks.New()
				if err := Splice(set, s, false); err != nil {
					t.Fatal(err)
				}
				got := m.MustRun(tokens, set.Cache(site.Hook))
				if d, scale := maxAbsDiff(tensors.MustCopyFlatData[float32](got.Logits), tensors.MustCopyFlatData[float32](want.Logits)); d > 1e-5*max(1, scale) {
					t.Errorf("spliced logits differ from the replaced run by %g", d)
				}
				spliced := tensors.MustCopyFlatData[float32](got.Cache.MustGet(site.Hook))
				if d, scale := maxAbsDiff(spliced, full); d > 1e-5*max(1, scale) {
					t.Errorf("spliced activation differs from the host reconstruction by %g", d)
				}
				if d, scale := maxAbsDiff(spliced, tensors.MustCopyFlatData[float32](act)); d < 0.05*scale {
					t.Errorf("splicing changed the activation by only %g (scale %g): the SAE is not in the graph", d, scale)
				}
				withErr := hooks.New()
				if err := Splice(withErr, s, true); err != nil {
					t.Fatal(err)
				}
				e := m.MustRun(tokens, withErr)
				if d, scale := maxAbsDiff(tensors.MustCopyFlatData[float32](e.Logits), tensors.MustCopyFlatData[float32](clean.Logits)); d > 1e-4*max(1, scale) {
					t.Errorf("with the error term the logits differ from the clean run by %g", d)
				}
			})
		}
	}
}

// putSiteRows writes SAE rows back into a flat activation (the inverse of siteRows).
func putSiteRows(act []float32, s Site, dims []int, rows []float32) {
	inner := 1
	for _, d := range dims[2:] {
		inner *= d
	}
	i := 0
	for bp := range dims[0] * dims[1] {
		base := bp * inner
		if s.Heads == HeadsSingle {
			x := dims[3]
			copy(act[base+s.Head*x:base+(s.Head+1)*x], rows[i:i+x])
			i += x
		} else {
			copy(act[base:base+inner], rows[i:i+inner])
			i += inner
		}
	}
}

func TestZeroSiteSingleHead(t *testing.T) {
	m := tinyModel(t)
	tokens, _ := model.Tokens([][]int{{1, 2, 3, 4}})
	site := Site{Hook: hooks.Z(0), Heads: HeadsSingle, Head: 1}
	set := hooks.New()
	ZeroSite(set, site)
	set.Cache(site.Hook)
	out := m.MustRun(tokens, set)
	z := tensors.MustCopyFlatData[float32](out.Cache.MustGet(site.Hook)) // [1, 4, 4, 4]
	for p := range 4 {
		for h := range 4 {
			for k := range 4 {
				v := z[(p*4+h)*4+k]
				if (h == 1) != (v == 0) {
					t.Fatalf("pos %d head %d: z = %g (only head 1 should be zero)", p, h, v)
				}
			}
		}
	}
}

func TestEvaluate(t *testing.T) {
	m := tinyModel(t)
	rng := rand.New(rand.NewPCG(8, 8))
	src := FuncSource{Label: "random", Fn: func(n int) [][]int { return randomTokens(rng, n, 12, 32) }}
	site := Site{Hook: hooks.ResidPost(0)}
	s, err := NewRandom(Config{Arch: TopK, DIn: 16, DSAE: 64, K: 4, ApplyBDecToInput: true, Site: site}, m.Backend,
		InitOptions{Seed: 1, DecoderNorm: 1, EncoderFromDecoder: true})
	if err != nil {
		t.Fatal(err)
	}
	met, err := Evaluate(m, s, src, EvalOptions{Batches: 2, SeqBatch: 4, SkipBOS: true})
	if err != nil {
		t.Fatal(err)
	}
	if met.Rows != 2*4*11 || met.Tokens != 2*4*12 {
		t.Errorf("rows %d, tokens %d; want %d, %d", met.Rows, met.Tokens, 2*4*11, 2*4*12)
	}
	near(t, "l0", met.L0, 4, 0.5) // TopK: 4 unless fewer pre-activations are positive
	if met.L0 > 4 {
		t.Errorf("L0 %g above k = 4", met.L0)
	}
	near(t, "ce score with error", met.CELossScoreError, 1, 1e-4)
	near(t, "kl with error", met.KLSplicedWithError, 0, 1e-6)
	near(t, "ce with error", met.CESplicedWithError, met.CEClean, 1e-5)
	if met.KLSpliced <= 0 || met.KLZeroAblated <= 0 || math.IsNaN(met.CELossScore) {
		t.Errorf("spliced KL %g, zero-ablated KL %g, CE score %g", met.KLSpliced, met.KLZeroAblated, met.CELossScore)
	}
	near(t, "ev", met.ExplainedVariance, 1-met.FVU, 1e-12)
	if _, err := Evaluate(m, s, src, EvalOptions{}); err != nil {
		t.Fatal(err)
	}
	other := s.Clone()
	other.Config.Site = Site{Hook: hooks.Z(0), Heads: HeadsSingle, Head: 0}
	if _, err := Evaluate(m, other, src, EvalOptions{Batches: 1}); err == nil {
		t.Error("an SAE of width 16 was evaluated on a site of width 4")
	}
}
