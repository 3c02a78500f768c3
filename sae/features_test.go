package sae

import (
	"bytes"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/gomlx/gomlx/pkg/core/tensors"

	"github.com/interp-dev/interp/hooks"
	"github.com/interp-dev/interp/model"
)

func TestTopActivations(t *testing.T) {
	m := tinyModel(t)
	rng := rand.New(rand.NewPCG(4, 4))
	rows := randomTokens(rng, 6, 10, 32)
	src, err := RowsSource("fixed", rows, 1)
	if err != nil {
		t.Fatal(err)
	}
	site := Site{Hook: hooks.ResidPost(1)}
	s, err := NewRandom(Config{Arch: ReLU, DIn: 16, DSAE: 32, ApplyBDecToInput: true, Site: site}, m.Backend,
		InitOptions{Seed: 3, DecoderNorm: 1, EncoderFromDecoder: true})
	if err != nil {
		t.Fatal(err)
	}
	latents := []int{0, 7, 31}
	reps, err := TopActivations(m, s, src, FeatureOptions{Latents: latents, Top: 4, Batches: 1, SeqBatch: 6, Before: 3, After: 1})
	if err != nil {
		t.Fatal(err)
	}
	// The strongest activation of each latent over the same rows, computed directly.
	tokens, _ := model.Tokens(rows)
	act := m.MustRun(tokens, hooks.New().Cache(site.Hook)).Cache.MustGet(site.Hook)
	f, err := s.Encode(tensors.FromFlatDataAndDimensions(tensors.MustCopyFlatData[float32](act), 60, 16))
	if err != nil {
		t.Fatal(err)
	}
	fs := tensors.MustCopyFlatData[float32](f)
	xs := tensors.MustCopyFlatData[float32](act)
	tol := encodeTolerances(m.Config, s, xs)
	for i, r := range reps {
		j := latents[i]
		var best float32
		fired := 0
		for row := range 60 {
			best = max(best, fs[row*32+j])
			if fs[row*32+j] > 0 {
				fired++
			}
		}
		if r.Latent != j || r.Density != float64(fired)/60 {
			t.Errorf("latent %d: report for %d, density %g, want %g", j, r.Latent, r.Density, float64(fired)/60)
		}
		if fired == 0 {
			if len(r.Examples) != 0 {
				t.Errorf("latent %d never fires but has examples", j)
			}
			continue
		}
		// TopActivations runs the model and the encoder in graphs of its own shapes, so BLAS may
		// round differently from this direct run: equal within the rounding bound, not bit for bit.
		if d := math.Abs(float64(r.Examples[0].Act - best)); d > tol[j] {
			t.Errorf("latent %d: top example %g, want the maximum %g (|diff| %.3g > bound %.3g)", j, r.Examples[0].Act, best, d, tol[j])
		}
		for k, ex := range r.Examples {
			if ex.Acts[ex.Center] != ex.Act || len(ex.Tokens) != len(ex.Acts) || len(ex.Tokens) > 5 {
				t.Errorf("latent %d example %d: %+v", j, k, ex)
			}
			if k > 0 && ex.Act > r.Examples[k-1].Act {
				t.Errorf("latent %d: examples not sorted", j)
			}
		}
	}
	var buf bytes.Buffer
	if err := WriteFeaturesHTML(&buf, "t<1>", reps, func(id int) string { return "<b>&" }); err != nil {
		t.Fatal(err)
	}
	page := buf.String()
	if !strings.Contains(page, "Latent 7") || !strings.Contains(page, "&lt;b&gt;&amp;") || strings.Contains(page, "<b>&") ||
		!strings.Contains(page, "t&lt;1&gt;") {
		t.Errorf("page is missing latents or unescaped:\n%s", page[:min(len(page), 800)])
	}
	if _, err := TopActivations(m, s, src, FeatureOptions{Latents: []int{32}}); err == nil {
		t.Error("latent 32 of 32 accepted")
	}
}

// encodeTolerances bounds, per latent j, how far two float32 computations of the same
// pre-activation (x - b_dec) W_enc[:, j] + b_enc[j] over the rows xs [N, DIn] can differ when
// their kernels sum in different orders: the standard dot-product bound n*eps*sum|terms| for
// the encoder (n = DIn + 1), plus the rounding already in x, which came out of the model's own
// reductions (per layer: Q/K/V over d_model, scores over d_head, the pattern over positions, the
// output over heads*d_head) and reaches the latent through sum_i |W_enc[i, j]|.
func encodeTolerances(c model.Config, s *SAE, xs []float32) []float64 {
	const eps = 0x1p-23
	din, f := s.Config.DIn, s.Config.DSAE
	wenc := tensors.MustCopyFlatData[float32](s.Params["W_enc"])
	benc := tensors.MustCopyFlatData[float32](s.Params["b_enc"])
	bdec := tensors.MustCopyFlatData[float32](s.Params["b_dec"])
	chain := float64(c.NLayers * (3*c.DModel + c.DHead + c.NCtx + c.NHeads*c.DHead))
	xmax := 0.0
	for _, v := range xs {
		xmax = math.Max(xmax, math.Abs(float64(v)))
	}
	tol := make([]float64, f)
	for j := range f {
		wsum := 0.0
		for i := range din {
			wsum += math.Abs(float64(wenc[i*f+j]))
		}
		for r := range len(xs) / din {
			terms := math.Abs(float64(benc[j]))
			for i := range din {
				terms += math.Abs(float64(xs[r*din+i]-bdec[i])) * math.Abs(float64(wenc[i*f+j]))
			}
			tol[j] = math.Max(tol[j], eps*(float64(din+1)*terms+chain*2*xmax*wsum))
		}
	}
	return tol
}
