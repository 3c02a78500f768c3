package patching_test

import (
	"fmt"
	"log"
	"math"

	"github.com/interp-dev/interp/model"
	"github.com/interp-dev/interp/patching"
)

// Denoising the residual stream by (layer, position) on a tiny random model. The prompts differ
// only at position 2, so before block 0 the clean residual stream at position 2 restores the
// clean run exactly (normalised score 1) and every other position changes nothing (0). Before
// block 1, the scored position 4 has already read position 2 through attention, so patching
// either one moves the metric.
func Example() {
	w, _ := model.NewRandomWeights(model.AttnOnlyToy(2, 4, 32, 16, 8), 3)
	backend, name := model.MustNewBackend("")
	m, _ := model.New(w, backend, name)

	p := &patching.Prompts{
		Clean:     [][]int{{1, 2, 3, 4, 5}},
		Corrupted: [][]int{{1, 2, 9, 4, 5}},
		Answer:    []int{6}, Wrong: []int{8},
		Pos: []int{4},
	}
	e, err := patching.NewExperiment(m, p, patching.NormLogitDiff(), patching.Options{})
	if err != nil {
		log.Fatal(err)
	}
	r, err := e.ResidPreByPos()
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("axes:", r.Axes[0].Name, r.Axes[1].Name, r.Dims())
	for l := range 2 {
		fmt.Printf("layer %d:", l)
		for pos := range 5 {
			fmt.Printf(" %.2f", math.Round(r.At(l, pos)*100)/100+0) // +0: no "-0.00"
		}
		fmt.Println()
	}
	// Output:
	// axes: layer pos [2 5]
	// layer 0: 0.00 0.00 1.00 0.00 0.00
	// layer 1: 0.00 0.00 1.36 0.00 -0.36
}
