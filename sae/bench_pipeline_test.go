package sae

import (
	"math/rand/v2"
	"testing"

	"github.com/interp-dev/interp/model"
)

// BenchmarkPipeline measures `interp sae train`'s whole loop, end to end: random token batches
// run through the model as far as the hook (model.Forward, no unembedding), the rows pass the
// shuffling buffer (32768 rows, half served per shuffle), and a ReLU SAE (expansion 8, Adam)
// trains on batches of 4096 rows. bench/torch_sae_pipeline.py runs the same pipeline in PyTorch
// (SAELens's order: forward, buffer, step, one after the other):
//
//	go test ./sae -run '^$' -bench Pipeline -benchtime 8x
//	/usr/bin/python3 bench/torch_sae_pipeline.py --steps 8
//
// Two models: the 2-layer attention-only toy (d_model 64, 8 heads, vocab 512, 64 positions,
// hook blocks.1.hook_resid_post) and a GPT-2-small-shaped random model (128 positions, hook
// blocks.2.hook_resid_pre, so two of its twelve layers run). "prefetch" is the store as the
// training job uses it (the model runs in a goroutine of its own, ahead of the SAE steps);
// "serial" runs the model only when the buffer needs rows. Every 4 steps take one refill of the
// buffer, so use a multiple of 4 for -benchtime. Reported: rows/s, one row per token.
func BenchmarkPipeline(b *testing.B) {
	type setup struct {
		name string
		c    model.Config
		hook string
		pos  int
	}
	for _, s := range []setup{
		{"attn2l-d64", model.AttnOnlyToy(2, 8, 64, 512, 64), "blocks.1.hook_resid_post", 64},
		{"gpt2-L2-d768", model.GPT2Small(), "blocks.2.hook_resid_pre", 128},
	} {
		for _, prefetch := range []bool{true, false} {
			mode := map[bool]string{true: "prefetch", false: "serial"}[prefetch]
			b.Run(s.name+"/"+mode, func(b *testing.B) {
				if s.c.DModel > 64 && testing.Short() {
					b.Skip("the GPT-2-small pipeline is skipped under -short")
				}
				benchPipeline(b, s.c, s.hook, s.pos, prefetch)
			})
		}
	}
}

func benchPipeline(b *testing.B, c model.Config, hook string, pos int, prefetch bool) {
	w, err := model.NewRandomWeights(c, 0)
	if err != nil {
		b.Fatal(err)
	}
	backend, name := model.MustNewBackend("")
	m, err := model.New(w, backend, name)
	if err != nil {
		b.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	src := FuncSource{Label: "random tokens", Fn: func(batch int) [][]int {
		rows := make([][]int, batch)
		for i := range rows {
			rows[i] = make([]int, pos)
			for j := range rows[i] {
				rows[i][j] = rng.IntN(c.DVocab)
			}
		}
		return rows
	}}
	const batch = 4096
	site := Site{Hook: hook}
	store, err := NewActivationStore(m, src, 1, StoreOptions{Site: site, SeqBatch: 32, BufferRows: 1 << 15, Prefetch: prefetch})
	if err != nil {
		b.Fatal(err)
	}
	defer store.Close()
	d := store.DIn()
	tr, err := NewTrainer(Config{Arch: ReLU, DIn: d, DSAE: 8 * d, ApplyBDecToInput: true, Site: site}, backend,
		TrainOptions{Steps: 1 << 30, Batch: batch, LR: 1e-4, Sparsity: 1e-3})
	if err != nil {
		b.Fatal(err)
	}
	step := func() {
		x, _, err := store.Next(batch)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := tr.Step(x, nil); err != nil {
			b.Fatal(err)
		}
	}
	step() // compiles both graphs and fills the buffer
	b.ResetTimer()
	for range b.N {
		step()
	}
	b.StopTimer()
	b.ReportMetric(float64(batch*b.N)/b.Elapsed().Seconds(), "rows/s")
	b.ReportMetric(b.Elapsed().Seconds()*1e3/float64(b.N), "ms/step")
}
