package model_test

import (
	"fmt"

	"github.com/gomlx/gomlx/pkg/core/tensors"

	"github.com/interp-dev/interp/hooks"
	"github.com/interp-dev/interp/model"
)

// Load the reference checkpoint, run it with a cache, and read a head's OV circuit.
func Example() {
	w, err := model.Load("../testdata/golden/gpt2-tiny")
	if err != nil {
		panic(err)
	}
	backend, name := model.MustNewBackend("go")
	m, _ := model.New(w, backend, name)
	tokens, _ := model.Tokens([][]int{{37, 51, 22, 56}})
	out := m.MustRun(tokens, hooks.New().Cache(hooks.Z(1), hooks.ResidPost(1)))
	ov, _ := m.OV(1, 3)
	fmt.Println("logits:", out.Logits.Shape().Dimensions)
	fmt.Println("hook_z:", out.Cache.MustGet(hooks.Z(1)).Shape().Dimensions)
	fmt.Println("OV circuit entries:", len(ov))
	// Output:
	// logits: [1 4 64]
	// hook_z: [1 4 4 8]
	// OV circuit entries: 1024
}

// Generate greedily with the key/value cache, then with a steering vector: a [D] direction added
// to the residual stream at every position, prompt and generated.
func ExampleModel_Generate() {
	w, err := model.Load("../testdata/golden/gpt2-tiny")
	if err != nil {
		panic(err)
	}
	backend, name := model.MustNewBackend("go")
	m, _ := model.New(w, backend, name)
	prompts := [][]int{{37, 51, 22, 56}, {5, 9}} // the second is left-padded
	plain, _ := m.Generate(prompts, model.GenerateOptions{MaxNew: 4})
	dir := make([]float32, m.Config.DModel)
	dir[0] = 6
	steer := hooks.New().Add(hooks.ResidPost(0), tensors.FromValue(dir))
	steered, _ := m.Generate(prompts, model.GenerateOptions{MaxNew: 4, Hooks: steer})
	for i := range plain {
		fmt.Println("plain", plain[i].Tokens, "steered", steered[i].Tokens)
	}
	// Output:
	// plain [61 61 61 61] steered [3 3 3 3]
	// plain [20 25 25 25] steered [52 52 52 52]
}
