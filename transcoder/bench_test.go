package transcoder

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/interp-dev/interp/model"
	"github.com/interp-dev/interp/sae"
)

// BenchmarkTrainStep measures transcoder training throughput (rows per second, one Adam step per
// batch of 4096 rows: encode the input, decode, MSE against a separate target, L1 for ReLU);
// bench/torch_transcoder_train.py runs the same loop in PyTorch:
//
//	go test ./transcoder -run '^$' -bench TrainStep -benchtime 3x -count 1
//	/usr/bin/python3 bench/torch_transcoder_train.py --steps 3
//
// Sizes: d 64 (ioi-toy) and 768 (GPT-2 small), expansion 8, ReLU and TopK (k 32), with and
// without a skip connection.
func BenchmarkTrainStep(b *testing.B) {
	backend, _ := model.MustNewBackend("")
	for _, d := range []int{64, 768} {
		for _, arch := range []sae.Arch{sae.ReLU, sae.TopK} {
			for _, skip := range []bool{false, true} {
				b.Run(fmt.Sprintf("%s/d%d/skip=%v", arch, d, skip), func(b *testing.B) {
					if d == 768 && testing.Short() {
						b.Skip("d 768 skipped under -short")
					}
					const batch = 4096
					c := sae.Config{Arch: arch, DIn: d, DOut: d, DSAE: 8 * d, K: 32, Skip: skip,
						Site: sae.Site{Hook: "in"}, Target: sae.Site{Hook: "out"}}
					tr, err := sae.NewTrainer(c, backend, sae.TrainOptions{Steps: 1 << 30, Batch: batch, LR: 1e-4,
						Sparsity: 1e-3, UnitNormDecoder: arch == sae.TopK, Init: sae.InitOptions{EncoderFromDecoder: true}})
					if err != nil {
						b.Fatal(err)
					}
					rng := rand.New(rand.NewPCG(1, 2))
					x, y := make([]float32, batch*d), make([]float32, batch*d)
					for i := range x {
						x[i], y[i] = float32(rng.NormFloat64()), float32(rng.NormFloat64())
					}
					if _, err := tr.Step(x, y); err != nil { // compile
						b.Fatal(err)
					}
					b.ResetTimer()
					for range b.N {
						if _, err := tr.Step(x, y); err != nil {
							b.Fatal(err)
						}
					}
					b.ReportMetric(float64(batch*b.N)/b.Elapsed().Seconds(), "rows/s")
				})
			}
		}
	}
}
