package sae_test

import (
	"fmt"

	"github.com/gomlx/gomlx/pkg/core/tensors"

	"github.com/interp-dev/interp/model"
	"github.com/interp-dev/interp/sae"
)

// Train a TopK SAE on rows made from 32 known directions in 16 dimensions (about 2 active per
// row) and check that its decoder found them.
func Example() {
	backend, _ := model.MustNewBackend("")
	data := sae.NewSynthetic(16, 32, 2, 1)
	c := sae.Config{Arch: sae.TopK, DIn: 16, DSAE: 64, K: 3, ApplyBDecToInput: true, Site: sae.Site{Hook: "synthetic"}}
	tr, _ := sae.NewTrainer(c, backend, sae.TrainOptions{Steps: 300, Batch: 256, LR: 3e-3, UnitNormDecoder: true,
		Init: sae.InitOptions{EncoderFromDecoder: true, Seed: 1}})
	if err := tr.Train(data); err != nil {
		fmt.Println(err)
		return
	}
	s := tr.SAE()
	recovery, _ := data.Recovery(s)

	x, _, _ := data.Next(4)
	f, _ := s.Encode(tensors.FromFlatDataAndDimensions(x, 4, 16))
	active := 0
	for _, v := range tensors.MustCopyFlatData[float32](f) {
		if v > 0 {
			active++
		}
	}
	fmt.Println("latents:", f.Shape().Dimensions)
	fmt.Println("at most k active per row:", active <= 4*3)
	fmt.Println("true features recovered (mean max cosine >= 0.9):", recovery >= 0.9)
	// Output:
	// latents: [4 64]
	// at most k active per row: true
	// true features recovered (mean max cosine >= 0.9): true
}
