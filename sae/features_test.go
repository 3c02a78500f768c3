package sae

import (
	"bytes"
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
		if r.Examples[0].Act != best {
			t.Errorf("latent %d: top example %g, want the maximum %g", j, r.Examples[0].Act, best)
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
