package model

import (
	"testing"

	"github.com/interp-dev/interp/internal/memstat"
)

// Generation benchmarks for docs/PERFORMANCE.md (issue 20): greedy decoding of 128 tokens from a
// 32-token prompt, batch 1, with the key/value cache and without it (every step recomputes the
// whole sequence). The PyTorch side is bench/torch_generate.py; bench/generate.sh runs both.
// Each reports tokens/s. Cached, a first run compiles the two graphs (prefill and step) before the
// timing; uncached, every length is a new graph shape, compiled within the timed run.

func benchGenerate(b *testing.B, c Config, noCache bool) {
	m := testModel(b, c, 0)
	prompt := make([]int, 32)
	for i := range prompt {
		prompt[i] = (i*7919 + 13) % c.DVocab
	}
	opt := GenerateOptions{MaxNew: 128, NoCache: noCache}
	if !noCache { // compile; uncached, each length compiles its graph inside the timed run, as it must
		if _, err := m.Generate([][]int{prompt}, opt); err != nil {
			b.Fatal(err)
		}
	}
	b.ResetTimer()
	for b.Loop() {
		out, err := m.Generate([][]int{prompt}, opt)
		if err != nil {
			b.Fatal(err)
		}
		if len(out[0].Tokens) != 128 {
			b.Fatalf("generated %d tokens", len(out[0].Tokens))
		}
	}
	b.ReportMetric(128*float64(b.N)/b.Elapsed().Seconds(), "tokens/s")
	b.ReportMetric(memstat.PeakRSSGiB(), "peak-GiB")
}

func BenchmarkGenerateGPT2SmallCached(b *testing.B)   { benchGenerate(b, GPT2Small(), false) }
func BenchmarkGenerateGPT2SmallUncached(b *testing.B) { benchGenerate(b, GPT2Small(), true) }
func BenchmarkGenerateQwen25HalfBCached(b *testing.B) { benchGenerate(b, Qwen25HalfBShaped(), false) }
func BenchmarkGenerateQwen25HalfBUncached(b *testing.B) {
	benchGenerate(b, Qwen25HalfBShaped(), true)
}
