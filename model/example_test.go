package model_test

import (
	"fmt"

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
