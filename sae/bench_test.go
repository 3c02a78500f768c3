package sae

import (
	"fmt"
	"testing"

	"github.com/interp-dev/interp/model"
)

// BenchmarkTrainStep measures training throughput (rows per second, one Adam step per batch)
// for each architecture; bench/torch_sae_train.py runs the same loop in PyTorch:
//
//	go test ./sae -run '^$' -bench TrainStep -benchtime 10x
//	/usr/bin/python3 bench/torch_sae_train.py --steps 10
//
// Sizes: d_in 64 and 768, expansion 8 (d_sae 512 and 6144), batch 4096, TopK/BatchTopK k 32.
func BenchmarkTrainStep(b *testing.B) {
	backend, _ := model.MustNewBackend("")
	for _, din := range []int{64, 768} {
		for _, arch := range Archs() {
			b.Run(fmt.Sprintf("%s/d%d", arch, din), func(b *testing.B) {
				if din == 768 && testing.Short() {
					b.Skip("d_in 768 skipped under -short")
				}
				const batch = 4096
				c := Config{Arch: arch, DIn: din, DSAE: 8 * din, K: 32, ApplyBDecToInput: true, Site: Site{Hook: "x"}}
				tr, err := NewTrainer(c, backend, TrainOptions{Steps: 1 << 30, Batch: batch, LR: 1e-4, Sparsity: 1e-3,
					UnitNormDecoder: arch == TopK || arch == BatchTopK, Init: InitOptions{EncoderFromDecoder: true}})
				if err != nil {
					b.Fatal(err)
				}
				data := NewSynthetic(din, 4*din, 8, 1)
				x, _, _ := data.Next(batch)
				if _, err := tr.Step(x, nil); err != nil { // compile
					b.Fatal(err)
				}
				b.ResetTimer()
				for range b.N {
					if _, err := tr.Step(x, nil); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(float64(batch*b.N)/b.Elapsed().Seconds(), "rows/s")
			})
		}
	}
}
