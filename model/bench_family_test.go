package model

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/interp-dev/interp/internal/memstat"
)

// Family benchmarks for docs/PERFORMANCE.md (issue 14); the PyTorch side is
// bench/torch_families.py, and bench/families.sh runs both, each Go benchmark in its own process
// so that its peak RSS is its own.

// Qwen25HalfBShaped is Qwen2.5-0.5B's shape: 24 layers, d_model 896, 14 query heads sharing 2
// key/value heads of 64, SwiGLU 4864, vocabulary 151936, tied embeddings, q/k/v biases.
func Qwen25HalfBShaped() Config {
	return Config{NLayers: 24, DModel: 896, NHeads: 14, NKVHeads: 2, DHead: 64, DMLP: 4864, NCtx: 32768, DVocab: 151936,
		Act: Silu, Normalization: RMS, LNEps: 1e-6, GatedMLP: true, RotaryDim: 64, RotaryBase: 1e6, TiedEmbeddings: true,
		Family: "qwen2"}
}

// Pythia160mShaped is Pythia-160m's shape: 12 layers, d_model 768, 12 heads, d_mlp 3072,
// vocabulary 50304, rotary on a quarter of each head, parallel residual, untied.
func Pythia160mShaped() Config {
	return Config{NLayers: 12, DModel: 768, NHeads: 12, DHead: 64, DMLP: 3072, NCtx: 2048, DVocab: 50304,
		Act: Gelu, Normalization: LayerNorm, LNEps: 1e-5, ParallelResidual: true, RotaryDim: 16, RotaryBase: 10000,
		Family: "gpt_neox"}
}

// BenchmarkForwardQwen25HalfB: Qwen2.5-0.5B-shaped random model, batch 4 x pos 128, resid cache.
func BenchmarkForwardQwen25HalfB(b *testing.B) {
	benchForward(b, testModel(b, Qwen25HalfBShaped(), 0), 4, 128)
	b.ReportMetric(memstat.PeakRSSGiB(), "peak-GiB")
}

// BenchmarkForwardPythia160m: Pythia-160m-shaped random model, batch 4 x pos 128, resid cache.
func BenchmarkForwardPythia160m(b *testing.B) {
	benchForward(b, testModel(b, Pythia160mShaped(), 0), 4, 128)
	b.ReportMetric(memstat.PeakRSSGiB(), "peak-GiB")
}

// BenchmarkLoadQwen25HalfBBF16 times Load of the Qwen2.5-0.5B-shaped BF16 checkpoint that
// bench/torch_families.py writes (in Hugging Face's qwen2 layout) to $INTERP_BENCH_QWEN_DIR;
// skipped when that is unset.
func BenchmarkLoadQwen25HalfBBF16(b *testing.B) {
	dir := os.Getenv("INTERP_BENCH_QWEN_DIR")
	if dir == "" {
		b.Skip("INTERP_BENCH_QWEN_DIR is unset (bench/families.sh sets it)")
	}
	if _, err := os.Stat(filepath.Join(dir, "config.json")); err != nil {
		b.Skip(err)
	}
	var worst time.Duration
	for b.Loop() {
		t0 := time.Now()
		w, err := Load(dir)
		if err != nil {
			b.Fatal(err)
		}
		worst = max(worst, time.Since(t0))
		_ = w
	}
	b.ReportMetric(b.Elapsed().Seconds()/float64(b.N), "s/load")
	b.ReportMetric(memstat.PeakRSSGiB(), "peak-GiB")
}
