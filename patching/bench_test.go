package patching

import (
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/interp-dev/interp/model"
)

// The per-head x position sweep of docs/PERFORMANCE.md: hook_z of every head at every position
// of IOI-length prompts, denoising, logit difference, on a GPT-2-small-shaped model with random
// weights (12 layers, 12 heads, d_model 768, d_mlp 3072, vocab 50257). Its PyTorch counterpart,
// one forward pass per patch as TransformerLens's get_act_patch_attn_head_out_by_pos does, is
// bench/torch_patch_sweep.py. Run it alone, it takes minutes on two cores:
//
//	go test ./patching/ -run '^$' -bench HeadOutByPosGPT2Small -benchtime 1x -timeout 30m
//
// INTERP_BENCH_PROMPTS and INTERP_BENCH_POS change the 4 prompts of 16 tokens.
func BenchmarkHeadOutByPosGPT2Small(b *testing.B) {
	w, err := model.NewRandomWeights(model.GPT2Small(), 0)
	if err != nil {
		b.Fatal(err)
	}
	benchSweep(b, w, envInt("INTERP_BENCH_PROMPTS", 4), envInt("INTERP_BENCH_POS", 16))
}

// BenchmarkHeadOutByPosToy is the same sweep on the 2-layer built-in toy-gpt2 shape, for quick runs.
func BenchmarkHeadOutByPosToy(b *testing.B) {
	w, _, err := model.LoadAny("toy-gpt2")
	if err != nil {
		b.Fatal(err)
	}
	benchSweep(b, w, 4, 16)
}

func benchSweep(b *testing.B, w *model.Weights, n, P int) {
	backend, name := model.MustNewBackend("")
	m, err := model.New(w, backend, name)
	if err != nil {
		b.Fatal(err)
	}
	c := m.Config
	p := refPrompts(n, P, c.DVocab, 1)
	variants := c.NLayers * c.NHeads * P
	b.ResetTimer()
	for i := range b.N {
		start := time.Now()
		e, err := NewExperiment(m, p, LogitDiff(), Options{})
		if err != nil {
			b.Fatal(err)
		}
		setup := time.Since(start)
		r, err := e.HeadOutByPos()
		if err != nil {
			b.Fatal(err)
		}
		if len(r.Scores) != variants {
			b.Fatalf("got %d scores, want %d", len(r.Scores), variants)
		}
		if i == 0 {
			b.Logf("%s: %d layers x %d heads x %d positions = %d patches on %d prompts: setup (clean + corrupted runs) %.2fs, sweep %.2fs, backend %s",
				name, c.NLayers, c.NHeads, P, variants, n, setup.Seconds(), time.Since(start).Seconds()-setup.Seconds(), m.BackendName)
		}
	}
	b.ReportMetric(float64(variants)*float64(b.N)/b.Elapsed().Seconds(), "patches/s")
	b.ReportMetric(b.Elapsed().Seconds()/float64(b.N), "s/sweep")
}

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}
