package hooks_test

import (
	"fmt"

	"github.com/gomlx/gomlx/pkg/core/tensors"

	"github.com/interp-dev/interp/hooks"
	"github.com/interp-dev/interp/model"
)

// Cache one attention pattern and zero-ablate the first block's attention on a tiny model
// with fixed random weights.
func Example() {
	w, _ := model.NewRandomWeights(model.AttnOnlyToy(2, 2, 8, 10, 16), 1)
	backend, name := model.MustNewBackend("go")
	m, _ := model.New(w, backend, name)
	tokens, _ := model.Tokens([][]int{{1, 2, 3, 1, 2, 3}})

	out := m.MustRun(tokens, hooks.New().
		Cache(hooks.Pattern(1), hooks.AttnOut(0)).
		Zero(hooks.AttnOut(0)))

	pattern := tensors.MustCopyFlatData[float32](out.Cache.MustGet(hooks.Pattern(1)))
	ablated := tensors.MustCopyFlatData[float32](out.Cache.MustGet(hooks.AttnOut(0)))
	fmt.Println("pattern shape:", out.Cache.MustGet(hooks.Pattern(1)).Shape().Dimensions)
	fmt.Printf("first query attends to itself: %.1f\n", pattern[0])
	fmt.Println("ablated attn_out is zero:", ablated[0] == 0 && ablated[len(ablated)-1] == 0)
	// Output:
	// pattern shape: [1 2 6 6]
	// first query attends to itself: 1.0
	// ablated attn_out is zero: true
}
